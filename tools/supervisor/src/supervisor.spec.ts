import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessSupervisor, type ChildExit } from './supervisor.js';

let dir: string;
const scripts = {
  // Handles SIGTERM (exit 0), then prints its env marker and a stderr line.
  server: `process.on('SIGTERM', () => { console.log('bye'); process.exit(0); }); console.log('up ' + process.env.MARKER); process.stderr.write('warn line\\n'); setInterval(() => {}, 1000);`,
  // Ignores SIGTERM: only SIGKILL ends it.
  stubborn: `process.on('SIGTERM', () => { console.log('ignoring SIGTERM'); }); console.log('ready'); setInterval(() => {}, 1000);`,
  // Crashes right away.
  crash: `console.log('crashing'); process.exit(3);`,
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stratum-supervisor-'));
  for (const [name, code] of Object.entries(scripts)) await writeFile(join(dir, `${name}.mjs`), code);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function collector(): { lines: string[]; output: (line: string) => void; waitFor(text: string): Promise<void> } {
  const lines: string[] = [];
  const waiters: { text: string; resolve: () => void }[] = [];
  return {
    lines,
    output(line: string) {
      lines.push(line);
      for (const w of [...waiters]) if (line.includes(w.text)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
    },
    waitFor(text: string) {
      if (lines.some((l) => l.includes(text))) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push({ text, resolve }));
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ProcessSupervisor (real child processes)', () => {
  let sup: ProcessSupervisor | undefined;
  afterEach(async () => {
    await sup?.stopAll(2_000);
    sup = undefined;
  });

  it('runs a child with exactly the given env, prefixes its stdout and stderr lines, and stops it with SIGTERM', async () => {
    const out = collector();
    const streams: string[] = [];
    sup = new ProcessSupervisor({ output: (line, stream) => { streams.push(stream); out.output(line); } });
    sup.add('gateway', { entry: join(dir, 'server.mjs'), env: { MARKER: 'm-42' } });
    await out.waitFor('[gateway] up m-42');
    await out.waitFor('[gateway] warn line');
    expect(streams).toContain('stderr');
    const [status] = sup.status();
    expect(status?.state).toBe('running');
    const pid = status!.pid!;
    await sup.stopAll(5_000);
    expect(out.lines).toContain('[gateway] bye');
    expect(isAlive(pid)).toBe(false);
    expect(sup.names()).toEqual([]);
  });

  it('restarts a crashing child with growing delays', async () => {
    const out = collector();
    const asked: number[] = [];
    sup = new ProcessSupervisor({ output: out.output, restartDelay: (a) => { asked.push(a); return 20 * a; } });
    const exits: ChildExit[] = [];
    sup.on('exit', (e: ChildExit) => exits.push(e));
    const third = new Promise<void>((resolve) => sup!.on('exit', () => { if (exits.length >= 3) resolve(); }));
    sup.add('worker-1', { entry: join(dir, 'crash.mjs'), env: {} });
    await third;
    expect(exits.slice(0, 3).map((e) => [e.code, e.restartInMs])).toEqual([[3, 20], [3, 40], [3, 60]]);
    expect(asked.slice(0, 3)).toEqual([1, 2, 3]);
    expect(out.lines.filter((l) => l === '[worker-1] crashing').length).toBeGreaterThanOrEqual(3);
    expect(out.lines.some((l) => l.startsWith('[worker-1] exited with code 3; restarting in 20 ms'))).toBe(true);
  });

  it('does not restart a child whose spec says restart: false', async () => {
    sup = new ProcessSupervisor({ output: () => {} });
    const exit = once(sup, 'exit');
    sup.add('once', { entry: join(dir, 'crash.mjs'), env: {}, restart: false });
    const [e] = (await exit) as [ChildExit];
    expect(e).toEqual({ name: 'once', code: 3, signal: null, restartInMs: undefined });
    expect(sup.status()[0]?.state).toBe('stopped');
  });

  it('adds and removes children at run time', async () => {
    const out = collector();
    sup = new ProcessSupervisor({ output: out.output });
    sup.add('worker-1', { entry: join(dir, 'server.mjs'), env: { MARKER: 'one' } });
    sup.add('worker-2', { entry: join(dir, 'server.mjs'), env: { MARKER: 'two' } });
    expect(() => sup!.add('worker-1', { entry: join(dir, 'server.mjs'), env: {} })).toThrow(/already exists/);
    await Promise.all([out.waitFor('[worker-1] up one'), out.waitFor('[worker-2] up two')]);
    const pid2 = sup.status().find((s) => s.name === 'worker-2')!.pid!;
    await sup.remove('worker-2');
    expect(isAlive(pid2)).toBe(false);
    expect(sup.names()).toEqual(['worker-1']);
    expect(sup.status()[0]?.state).toBe('running');
    await expect(sup.remove('nope')).rejects.toThrow(/no child named/);
  });

  it('SIGKILLs a child that ignores SIGTERM after the timeout', async () => {
    const out = collector();
    sup = new ProcessSupervisor({ output: out.output });
    sup.add('stubborn', { entry: join(dir, 'stubborn.mjs'), env: {} });
    await out.waitFor('[stubborn] ready');
    const pid = sup.status()[0]!.pid!;
    const exit = once(sup, 'exit');
    const started = Date.now();
    await sup.stopAll(300);
    const [e] = (await exit) as [ChildExit];
    expect(e.signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(out.lines).toContain('[stubborn] ignoring SIGTERM');
    expect(out.lines.some((l) => l.includes('sending SIGKILL'))).toBe(true);
    expect(isAlive(pid)).toBe(false);
    expect(() => sup!.add('late', { entry: join(dir, 'server.mjs'), env: {} })).toThrow(/stopping/);
  });

  it('stopAll cancels a pending restart', async () => {
    sup = new ProcessSupervisor({ output: () => {}, restartDelay: () => 60_000 });
    const exit = once(sup, 'exit');
    sup.add('crashy', { entry: join(dir, 'crash.mjs'), env: {} });
    await exit;
    expect(sup.status()[0]?.state).toBe('backoff');
    const started = Date.now();
    await sup.stopAll(1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(sup.names()).toEqual([]);
  });
});
