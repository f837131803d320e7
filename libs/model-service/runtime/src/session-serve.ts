/**
 * The request handler both session hosts' children share: a session thread
 * (session-thread.ts, ThreadedModelHost) and a session process (session-process.ts, the
 * isolated host of uploaded models). It holds one onnxruntime session and answers
 * load / run / exit messages one after another, in arrival order.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { isProblemError, ProblemError } from '#infra/errors';
import { errorMessage, openSession, runSession, warmUp } from './session-core.js';
import type { FromThread, ThreadError, ToThread } from './session-protocol.js';
import type { TensorData } from '#model-service/tensors';

export interface SessionChannel {
  /** Sends an answer; `transfer` lists buffers that may move instead of being copied (threads only). */
  post(msg: FromThread, transfer?: ArrayBuffer[]): void;
  /** Ends this thread or process (after the session was released). */
  exit(): never;
}

/** onnxruntime's words for an allocation it could not make (under an address-space limit, or out of memory). */
export const ALLOCATION_FAILURE = /failed to allocate memory|bad_alloc|out of memory|cannot allocate memory/i;

function asThreadError(e: unknown): ThreadError {
  if (isProblemError(e)) return { message: e.detail, name: 'ProblemError', problemCode: e.code };
  return { message: errorMessage(e), name: e instanceof Error ? e.name : 'Error' };
}

/** Buffers this side owns outright (a whole, non-shared ArrayBuffer per output) can move instead of being copied. */
function transferable(outputs: Record<string, TensorData>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of Object.values(outputs)) {
    const buf = t.data.buffer;
    if (buf instanceof ArrayBuffer && t.data.byteOffset === 0 && t.data.byteLength === buf.byteLength) seen.add(buf);
  }
  return [...seen];
}

/** Bytes of a run's outputs. */
export function outputBytes(outputs: Record<string, TensorData>): number {
  let total = 0;
  for (const t of Object.values(outputs)) total += t.data.byteLength;
  return total;
}

/** Returns the message handler of one session child. */
export function sessionServer(channel: SessionChannel): (msg: ToThread) => void {
  let session: InferenceSession | null = null;
  let maxOutputBytes: number | null = null;

  async function handle(msg: ToThread): Promise<void> {
    switch (msg.op) {
      case 'load': {
        const started = performance.now();
        maxOutputBytes = msg.maxOutputBytes ?? null;
        const opened = await openSession(msg.settings, (line) => channel.post({ op: 'log', msg: line }));
        session = opened.session;
        const sessionMs = performance.now() - started;
        const warmupMs = await warmUp(opened.session, msg.settings.warmup, opened.signature);
        channel.post({ op: 'loaded', id: msg.id, provider: opened.provider, providerFallbacks: opened.providerFallbacks, signature: opened.signature, sessionMs, warmupMs });
        return;
      }
      case 'run': {
        if (!session) throw new Error('the session child holds no session');
        let answer: Awaited<ReturnType<typeof runSession>>;
        try {
          answer = await runSession(session, msg.feeds);
        } catch (e) {
          if (maxOutputBytes !== null && !isProblemError(e) && ALLOCATION_FAILURE.test(errorMessage(e))) {
            throw new ProblemError('model_memory_exceeded', `The model needed more memory than an uploaded model may use (${errorMessage(e).replace(/\s+/g, ' ').slice(0, 300)}).`);
          }
          throw e;
        }
        const { outputs, ms } = answer;
        const bytes = outputBytes(outputs);
        if (maxOutputBytes !== null && bytes > maxOutputBytes) {
          throw new ProblemError('model_memory_exceeded', `The model's outputs take ${bytes} bytes, more than the ${maxOutputBytes} an uploaded model may return.`);
        }
        const result: FromThread = { op: 'result', id: msg.id, outputs, ms };
        try {
          channel.post(result, transferable(outputs));
        } catch {
          channel.post(result); // a buffer that cannot move (e.g. external memory) is copied instead
        }
        return;
      }
      case 'exit': {
        const s = session;
        session = null;
        if (s) await s.release().catch(() => undefined);
        channel.exit();
      }
    }
  }

  return (msg: ToThread) => {
    handle(msg).catch((e: unknown) => channel.post({ op: 'error', id: msg.id, error: asThreadError(e) }));
  };
}
