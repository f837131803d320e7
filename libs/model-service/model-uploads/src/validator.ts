/**
 * Validates an uploaded model in an isolated child process with a time and memory
 * limit: the child starts with an empty environment (no database URL, no pepper) under an
 * address-space limit (prlimit --as), and the parent polls its resident memory (Linux
 * /proc) and kills it past the limit or the deadline. A hostile file never takes the
 * gateway (or a worker) down, and finds no secret in the process it runs in.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ModelSignature } from '#model-service/tensors';
import { modelRefused, type RefusalReason } from './refusal.js';

export interface ValidationLimits {
  timeoutMs: number;
  maxRssBytes: number;
  /**
   * RLIMIT_AS of the child (bytes), applied with prlimit when the machine has it. Node.js and
   * onnxruntime reserve about 1.1 GiB of address space before the model, so this is the RSS
   * limit plus 1.5 GiB by default.
   */
  addressSpaceBytes?: number;
}

const GiB = 1024 * 1024 * 1024;

/** An allocation that failed under the address-space limit, in onnxruntime's or V8's words. */
const OUT_OF_MEMORY = /failed to allocate|bad_alloc|out of memory|allocation failed|cannot allocate memory/i;

export const DEFAULT_VALIDATION_LIMITS: ValidationLimits = { timeoutMs: 30_000, maxRssBytes: GiB, addressSpaceBytes: 2.5 * GiB };

/** util-linux's prlimit where distributions put it; null when absent (then only the RSS poll limits memory). */
function findPrlimit(): string | null {
  return ['/usr/bin/prlimit', '/bin/prlimit', '/usr/sbin/prlimit'].find((p) => existsSync(p)) ?? null;
}

/**
 * How the validator child is started: `prlimit --as=<bytes> -- node --max-old-space-size=<MiB>
 * <script> <file>` with an EMPTY environment (absolute paths, so no PATH is needed). Pure, so
 * tests check it; `validateModelFile` spawns exactly this.
 */
export function validatorSpawn(
  path: string,
  limits: ValidationLimits,
  script: string,
  execPath: string,
  prlimit: string | null = findPrlimit(),
): { command: string; args: string[]; env: Record<string, string> } {
  const heapMb = Math.max(64, Math.floor(limits.maxRssBytes / (1024 * 1024)));
  const node = [execPath, `--max-old-space-size=${heapMb}`, script, path];
  const as = limits.addressSpaceBytes ?? limits.maxRssBytes + 1.5 * GiB;
  if (prlimit) return { command: prlimit, args: [`--as=${Math.floor(as)}`, '--', ...node], env: {} };
  return { command: node[0]!, args: node.slice(1), env: {} };
}

/** The compiled child script (dist/…/validator-child.js), next to this module at run time. */
export function validatorScript(): string {
  const here = fileURLToPath(import.meta.url);
  // Under Jest this module is the .ts source; the child always runs the compiled file.
  return here.replace(/\/libs\/model-service\/model-uploads\/src\/validator\.(ts|js)$/, '/dist/libs/model-service/model-uploads/src/validator-child.js').replace('/dist/dist/', '/dist/');
}

async function rssBytes(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Runs the validator; resolves with the signature or rejects with a `model_invalid` problem. */
export async function validateModelFile(path: string, limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS, script = validatorScript()): Promise<ModelSignature> {
  const how = validatorSpawn(path, limits, script, process.execPath);
  const child = spawn(how.command, how.args, { env: how.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-2000)));
  let killedFor: RefusalReason | null = null;
  const kill = (reason: RefusalReason) => {
    if (killedFor) return;
    killedFor = reason;
    child.kill('SIGKILL');
  };
  const deadline = setTimeout(() => kill('timeout'), limits.timeoutMs);
  const poll = setInterval(() => {
    if (child.pid === undefined) return;
    void rssBytes(child.pid).then((rss) => {
      if (rss !== null && rss > limits.maxRssBytes) kill('memory_limit');
    });
  }, 20);
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', () => resolve({ code: null, signal: null }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(deadline);
  clearInterval(poll);
  if (killedFor === 'timeout') throw modelRefused('timeout', `Validating the model took longer than ${limits.timeoutMs} ms.`);
  if (killedFor === 'memory_limit') throw modelRefused('memory_limit', `Loading the model needed more than ${Math.round(limits.maxRssBytes / (1024 * 1024))} MiB of memory.`);
  const line = stdout.trim().split('\n').pop() ?? '';
  let result: { ok: boolean; reason?: RefusalReason; message?: string; signature?: ModelSignature };
  try {
    result = JSON.parse(line) as typeof result;
  } catch {
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
    if (exit.signal === 'SIGABRT' || exit.signal === 'SIGTRAP' || OUT_OF_MEMORY.test(stderr)) {
      throw modelRefused('memory_limit', `Loading the model needed more memory than the validator may use (${how}).`);
    }
    throw modelRefused('validator_crashed', `The model crashed the validator (${how}).${stderr ? ` ${stderr.split('\n')[0]}` : ''}`);
  }
  if ((result.reason === 'load_failed' || result.reason === 'warmup_failed') && OUT_OF_MEMORY.test(result.message ?? '')) {
    throw modelRefused('memory_limit', 'Loading the model needed more memory than the validator may use (an allocation failed under its address-space limit).');
  }
  if (!result.ok || !result.signature) throw modelRefused(result.reason ?? 'validator_crashed', result.message ?? 'The model was refused.');
  return result.signature;
}
