// The isolated host (uploaded models): one child process per model version, empty
// environment, address-space limit, a deadline per run. Runs the compiled
// dist/…/session-process.js: `npm run build` first when running this file alone.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProblemError } from '#infra/errors';
import { BOMB_SHAPE_INPUT, buildLoopBomb, buildOutputBomb, LOOP_TRIPS_INPUT, TINY_MODEL } from '#tools/model-builders';
import type { ModelEntry } from '#model-service/model-format';
import { float32Tensor, type TensorData } from '#model-service/tensors';
import { deathProblem, findPrlimit, sessionProcessSpawn, ThreadedModelHost, type LoadOptions, type ProcessIsolation } from './index.js';

const GiB = 1024 ** 3;
const dir = mkdtempSync(join(tmpdir(), 'stratum-isolated-'));
const opts: LoadOptions = { executionProviders: ['cpu'], intraOpThreads: 1 };
const tiny = TINY_MODEL.entry(join(dir, 'tiny.onnx'), undefined, { name: 'org/tiny' });

function entry(name: string, bytes: Uint8Array): ModelEntry {
  const path = join(dir, `${name}.onnx`);
  writeFileSync(path, bytes);
  return { name: `org/${name}`, version: '1', pool: 'tenant', description: '', artifactPath: path, config: { maxBatchSize: 1, maxQueueDelayMs: 0, intraOpThreads: 1, graphOptimizationLevel: 'all', enableMemArena: true, warmup: 'auto' } };
}
const outputBomb = entry('output-bomb', buildOutputBomb());
const loopBomb = entry('loop-bomb', buildLoopBomb());
const int64 = (values: number[]): TensorData => ({ dtype: 'int64', dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
const X = float32Tensor([1, 4], [1, 0.5, -2, 0.25]);

const prlimit = findPrlimit();
const isolation: ProcessIsolation = { runDeadlineMs: 3_000, addressSpaceBytes: 2 * GiB, prlimit, maxOutputBytes: 64 * 1024 * 1024 };
const host = new ThreadedModelHost({}, { isolation });

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: isProblemError(e) ? e.code : undefined, message: e instanceof Error ? e.message : String(e) };
  }
  throw new Error('expected a rejection');
}

/** Polls the host's status until the model is ready again (after a restart). */
async function ready(name: string): Promise<void> {
  const deadline = performance.now() + 20_000;
  while (!host.status().find((s) => s.name === name)?.ready) {
    if (performance.now() > deadline) throw new Error(`${name} was not restarted`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  for (const e of [tiny, outputBomb, loopBomb]) await host.load(e, opts);
}, 60_000);

afterAll(async () => {
  await host.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sessionProcessSpawn', () => {
  it('starts the child with an empty environment, under prlimit --as when it is there', () => {
    expect(sessionProcessSpawn({ ...isolation, prlimit: '/usr/bin/prlimit', script: '/x/session-process.js' }, '/node')).toEqual({
      command: '/usr/bin/prlimit',
      args: [`--as=${2 * GiB}`, '--', '/node', '/x/session-process.js'],
      env: {},
    });
    expect(sessionProcessSpawn({ ...isolation, prlimit: null, script: '/x/s.js' }, '/node')).toEqual({ command: '/node', args: ['/x/s.js'], env: {} });
  });

  it('calls an abort or an allocation failure in a dead child memory, anything else a crash', () => {
    expect(deathProblem('m@1', 'SIGABRT', '')?.code).toBe('model_memory_exceeded');
    expect(deathProblem('m@1', null, 'FATAL ERROR: ... JavaScript heap out of memory')?.code).toBe('model_memory_exceeded');
    expect(deathProblem('m@1', 'SIGSEGV', '')).toBeNull();
  });
});

describe('the isolated host (a child process per uploaded model)', () => {
  it('finds prlimit on this machine (util-linux)', () => {
    expect(prlimit).not.toBeNull();
  });

  it('runs each model in a child process with no environment and the address-space limit', () => {
    const pids = host.threads();
    expect(Object.keys(pids).sort()).toEqual(['org/loop-bomb@1', 'org/output-bomb@1', 'org/tiny@1']);
    for (const pid of Object.values(pids)) {
      expect(pid).not.toBe(process.pid);
      // Only the IPC channel's own variables, which Node adds to every child with an IPC channel.
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
      expect(environ.map((kv) => kv.split('=')[0]).sort()).toEqual(['NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE']);
      expect(readFileSync(`/proc/${pid}/limits`, 'utf8')).toMatch(new RegExp(`^Max address space\\s+${2 * GiB}\\s+${2 * GiB}\\s+bytes`, 'm'));
    }
  });

  it('serves a normal model like the threaded host', async () => {
    const out = await host.run({ name: 'org/tiny', version: '1' }, { x: X });
    expect(out.probs?.dims).toEqual([1, 3]);
  });

  it('fails an output bomb with model_memory_exceeded, and the model serves the next run', async () => {
    const failed = await rejection(host.run({ name: 'org/output-bomb', version: '1' }, { [BOMB_SHAPE_INPUT]: int64([65536, 16384]) }));
    expect(failed).toEqual({ code: 'model_memory_exceeded', message: expect.stringContaining('more memory') });
    // Within the address space but more than an uploaded model may return (64 MiB): refused too.
    // 72 MiB of float32, just over the cap, so that filling it stays far inside the run deadline on a busy machine.
    await ready('org/output-bomb');
    expect((await rejection(host.run({ name: 'org/output-bomb', version: '1' }, { [BOMB_SHAPE_INPUT]: int64([4096, 4608]) }))).code).toBe('model_memory_exceeded');
    // The child may have died of it (then the host restarts it): either way the model serves again.
    await ready('org/output-bomb');
    const small = await host.run({ name: 'org/output-bomb', version: '1' }, { [BOMB_SHAPE_INPUT]: int64([2, 3]) });
    expect(small.y?.dims).toEqual([2, 3]);
  }, 30_000);

  it('kills a loop bomb at its deadline (model_timeout) while another model answers, then restarts it', async () => {
    const before = host.threads()['org/loop-bomb@1'];
    const started = performance.now();
    const bomb = rejection(host.run({ name: 'org/loop-bomb', version: '1' }, { [LOOP_TRIPS_INPUT]: int64([1e15]) }));
    // Another model's child is not held up by the bomb.
    expect((await host.run({ name: 'org/tiny', version: '1' }, { x: X })).probs?.dims).toEqual([1, 3]);
    const failed = await bomb;
    const ms = performance.now() - started;
    expect(failed.code).toBe('model_timeout');
    expect(ms).toBeGreaterThanOrEqual(2_900);
    expect(ms).toBeLessThan(10_000);
    // The host starts a fresh child (load + warm-up) and the model serves again.
    await ready('org/loop-bomb');
    expect(host.threads()['org/loop-bomb@1']).not.toBe(before);
    const out = await host.run({ name: 'org/loop-bomb', version: '1' }, { [LOOP_TRIPS_INPUT]: int64([3]) });
    expect(Array.from(out.y?.data as Float32Array)).toEqual([3]);
  }, 30_000);
});
