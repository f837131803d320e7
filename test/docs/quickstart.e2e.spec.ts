// The README's quick start, run as a newcomer would: `npm start`'s own script (dist/scripts/start.js,
// with a root of its own so its credentials file is not the developer's) on free ports, its own
// Postgres schema and Redis prefix; the `export …` lines of its banner; then every shell block
// marked `<!-- quickstart: <name> -->` in the README, in order, with bash -euo pipefail and
// only those variables (plus PATH and HOME). Each block must exit 0 and show its key output.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { inheritedEnv } from '#infra/config';
import { repoRoot } from '#infra/db';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { freePort } from '../support/processes.js';
import { dropRedisPrefix } from '../support/redis.js';

/** A quick-start block of the README: its marker's name and its shell text. */
export interface QuickstartBlock {
  name: string;
  script: string;
}

/** The ```sh blocks preceded by `<!-- quickstart: <name> -->`, in the README's order. */
export function quickstartBlocks(readme: string): QuickstartBlock[] {
  const blocks: QuickstartBlock[] = [];
  for (const m of readme.matchAll(/<!-- quickstart: ([a-z0-9-]+) -->\n```(?:sh|bash)\n([\s\S]*?)\n```/g)) blocks.push({ name: m[1]!, script: m[2]! });
  return blocks;
}

/** `export NAME=value` lines of the start banner (indented), as an environment. */
export function bannerExports(output: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of output.matchAll(/^\s*export ([A-Z_]+)=(\S+)\s*$/gm)) env[m[1]!] = m[2]!;
  return env;
}

async function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port whose port + 2 is free as well (the tenant worker listens on WORKER_PORT + 2). */
async function freePortPair(taken: Set<number>): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (!taken.has(p) && !taken.has(p + 2) && p + 2 < 65536 && (await canListen(p + 2))) {
      taken.add(p).add(p + 2);
      return p;
    }
  }
}

const EXPECTED_BLOCKS = ['predict', 'models', 'keys', 'upload'];
const START_TIMEOUT_MS = 150_000;

let db: TestDatabase;
let root: string;
let prefix: string;
let start: ChildProcess;
let output = '';
let exited: Promise<void>;
let exports: Record<string, string>;
const results = new Map<string, { status: number | null; stdout: string; stderr: string }>();

beforeAll(async () => {
  db = await createTestDatabase('quickstart');
  prefix = `qs_${randomBytes(4).toString('hex')}`;
  mkdirSync(join(repoRoot(), '.stratum'), { recursive: true });
  // Inside the repository (under the gitignored .stratum/), so `npm run` finds package.json.
  root = mkdtempSync(join(repoRoot(), '.stratum', 'quickstart-'));
  symlinkSync(join(repoRoot(), 'dist'), join(root, 'dist'));
  symlinkSync(join(repoRoot(), 'examples'), join(root, 'examples'));

  const taken = new Set<number>();
  const port = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) return taken.add(p), p;
    }
  };
  const env: Record<string, string | undefined> = {
    ...inheritedEnv(),
    NO_COLOR: '1',
    NODE_ENV: 'development',
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    REDIS_PREFIX: prefix,
    MODEL_STORAGE_DIR: join(root, 'models'),
    GATEWAY_PORT: String(await port()),
    GATEWAY_ADMIN_PORT: String(await port()),
    WORKER_PORT: String(await freePortPair(taken)),
    WORKER_ADMIN_PORT: String(await freePortPair(taken)),
    AUTOSCALER_PORT: String(await port()),
    AUTOSCALER_ADMIN_PORT: String(await port()),
    PUBLIC_BASE_URL: undefined,
  };
  start = spawn(process.execPath, [join(root, 'dist', 'scripts', 'start.js'), '--root', root], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  exited = new Promise((resolve) => start.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not print its banner within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (output.includes('Ctrl-C stops everything.')) {
        clearTimeout(timer);
        resolve();
      }
    };
    start.stdout!.on('data', onData);
    start.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    start.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code}) before its banner:\n${output}`));
    });
  });
  await ready;
  exports = bannerExports(output);

  // The blocks, in order, as a newcomer pastes them (each in a fresh bash: they hold no state between them).
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const { PATH, HOME } = inheritedEnv();
  for (const block of quickstartBlocks(readme)) {
    const run = spawnSync('bash', ['-c', `set -euo pipefail\n${block.script}`], {
      cwd: root,
      env: { PATH, HOME, ...exports },
      encoding: 'utf8',
      timeout: 90_000,
    });
    results.set(block.name, { status: run.status, stdout: run.stdout, stderr: run.stderr });
  }
}, START_TIMEOUT_MS + 4 * 90_000);

afterAll(async () => {
  if (start && start.exitCode === null && start.signalCode === null) {
    start.kill('SIGTERM');
    await exited;
  }
  await db?.drop();
  if (prefix) await dropRedisPrefix(prefix);
  if (root) rmSync(root, { recursive: true, force: true });
}, 30_000);

/** A block's result, failing with its output when it did not exit 0. */
function ran(name: string): { stdout: string; stderr: string } {
  const r = results.get(name);
  if (!r) throw new Error(`no README block marked <!-- quickstart: ${name} -->`);
  if (r.status !== 0) throw new Error(`block "${name}" exited ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

/** The JSON documents a block printed, one per curl (each answer is one line of JSON). */
function documents(stdout: string): any[] {
  return stdout
    .split(/\n|(?<=\})(?=\{)/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

describe('README quick start against a started stack', () => {
  it('the start banner prints the export lines, the admin key and the owner log-in of the credentials file', () => {
    expect(Object.keys(exports).sort()).toEqual(['ADMIN_KEY', 'KEY', 'ORG', 'STRATUM']);
    expect(exports.STRATUM).toBe(`http://127.0.0.1:${new URL(exports.STRATUM!).port}`);
    expect(exports.KEY).toMatch(/^sk_test_/);
    expect(exports.ADMIN_KEY).toMatch(/^sk_live_/);
    expect(exports.ORG).toBe('demo');
    const credentials = JSON.parse(readFileSync(join(root, '.stratum', 'demo-keys.json'), 'utf8')) as { keys: { admin: { secret: string } }; owner: { email: string; password: string } };
    expect(credentials.keys.admin.secret).toBe(exports.ADMIN_KEY);
    expect(credentials.owner.password.length).toBeGreaterThanOrEqual(20);
    expect(output).toContain(`${credentials.owner.email}  ${credentials.owner.password}`);
  });

  it('5: the demo owner logs in with the banner\'s password and sees the demo organization', async () => {
    const line = /Demo owner log-in\s+(\S+)\s+(\S+)/.exec(output);
    expect(line).not.toBeNull();
    const login = await fetch(`${exports.STRATUM}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: line![1], password: line![2] }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const me = (await (await fetch(`${exports.STRATUM}/v1/me`, { headers: { cookie } })).json()) as { memberships: { slug: string; role: string }[] };
    expect(me.memberships).toEqual([expect.objectContaining({ slug: 'demo', role: 'owner' })]);
  });

  it('marks exactly the expected blocks, in order', () => {
    expect([...results.keys()]).toEqual(EXPECTED_BLOCKS);
  });

  it('1: a prediction with the test key succeeds', () => {
    const [prediction] = documents(ran('predict').stdout);
    expect(prediction).toMatchObject({ object: 'prediction', feature: 'ocr-line', status: 'succeeded', mode: 'test', output: { text: 'Hello Stratum' } });
  });

  it('2: the shipped models are listed and ppocr-det answers a v2 infer', () => {
    const [list, meta, infer] = documents(ran('models').stdout);
    expect((list.data as { name: string }[]).map((m) => m.name).sort()).toEqual(expect.arrayContaining(['ppocr-cls', 'ppocr-det', 'ppocr-rec']));
    expect(meta).toMatchObject({ name: 'ppocr-det', platform: 'onnxruntime_onnx' });
    expect(infer).toMatchObject({ model_name: 'ppocr-det', model_version: '1', id: 'det-1' });
    expect(infer.outputs[0]).toMatchObject({ datatype: 'FP32', shape: [1, 1, 32, 32] });
  });

  it('3: the admin key creates, lists, rolls and revokes a key', () => {
    const [created, list, rolled, revoked] = documents(ran('keys').stdout);
    expect(created).toMatchObject({ object: 'api_key', name: 'backend', mode: 'test', status: 'active' });
    expect(created.secret).toMatch(/^sk_test_/);
    expect((list.data as { id: string }[]).map((k) => k.id)).toContain(created.id);
    expect(rolled.secret).toMatch(/^sk_test_/);
    expect(revoked).toMatchObject({ id: created.id, status: 'revoked' });
  });

  it('4: the admin key uploads the example model and calls it through v2', () => {
    const [uploaded, infer] = documents(ran('upload').stdout);
    expect(uploaded).toMatchObject({ object: 'model_version', model: 'my-clf', version: '1', pool: 'tenant' });
    expect(infer).toMatchObject({ model_name: 'my-clf', model_version: '1', id: 'req-1' });
    expect(infer.outputs[0]).toMatchObject({ name: 'probs', datatype: 'FP32', shape: [1, 3] });
    const probs = infer.outputs[0].data as number[];
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });
});
