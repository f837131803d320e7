// Gateway footprint: start time (spawn to the first 200 from /readyz), the CPU time the process
// spent until then (user + system: steadier than wall time on a busy machine) and resident memory
// (VmRSS right after that answer) of the built gateway, over several runs, and whether the
// process mapped onnxruntime's or sharp's (libvips) native libraries.
//
//   npm run build && node dist/bench/gateway-footprint.js [runs=7]
//
// Needs Postgres and Redis (DATABASE_URL, REDIS_URL); makes its own schema and Redis prefix.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inheritedEnv } from '#infra/config';
import { repoRoot } from '#infra/db';
import { createTestDatabase } from '../test/support/db.js';
import { freePort } from '../test/support/processes.js';
import { dropRedisPrefix } from '../test/support/redis.js';

interface Run {
  startMs: number;
  cpuMs: number;
  rssMiB: number;
  onnxruntime: boolean;
  vips: boolean;
}

async function statusKb(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

async function once(env: Record<string, string>): Promise<Run> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'apps', 'gateway', 'src', 'main.js')], {
    env: { ...inheritedEnv(), NO_COLOR: '1', ...env, GATEWAY_PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}: ${err}`);
      if (performance.now() - started > 30_000) throw new Error(`gateway not ready within 30 s: ${err}`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const startMs = performance.now() - started;
    const rssMiB = (await statusKb(child.pid!, 'VmRSS')) / 1024;
    // /proc/<pid>/stat fields 14 and 15 (after the parenthesised name): utime, stime in clock ticks (100 Hz).
    const stat = (await readFile(`/proc/${child.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    const cpuMs = (Number(stat[11]) + Number(stat[12])) * 10;
    const maps = await readFile(`/proc/${child.pid}/maps`, 'utf8');
    return { startMs, cpuMs, rssMiB, onnxruntime: maps.includes('onnxruntime'), vips: maps.includes('vips') };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const runs = Number(process.argv[2] ?? 7);
const db = await createTestDatabase('gateway_footprint');
const prefix = `footprint_${randomBytes(4).toString('hex')}`;
const env = { DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema, REDIS_PREFIX: prefix, LOG_LEVEL: 'warn' };
try {
  await once(env); // warm the page cache; not counted
  const results: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once(env);
    results.push(r);
    console.log(`run ${i + 1}: start ${r.startMs.toFixed(0)} ms, CPU ${r.cpuMs} ms, RSS ${r.rssMiB.toFixed(1)} MiB, onnxruntime mapped: ${r.onnxruntime}, libvips mapped: ${r.vips}`);
  }
  const starts = results.map((r) => r.startMs);
  const rss = results.map((r) => r.rssMiB);
  const cpu = results.map((r) => r.cpuMs);
  console.log(`median of ${runs}: start ${median(starts).toFixed(0)} ms (min ${Math.min(...starts).toFixed(0)}, max ${Math.max(...starts).toFixed(0)}), CPU ${median(cpu).toFixed(0)} ms (min ${Math.min(...cpu)}, max ${Math.max(...cpu)}), RSS ${median(rss).toFixed(1)} MiB (min ${Math.min(...rss).toFixed(1)}, max ${Math.max(...rss).toFixed(1)})`);
} finally {
  await db.drop();
  await dropRedisPrefix(prefix);
}
