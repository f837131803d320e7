/**
 * A session thread (worker_threads): holds one onnxruntime session for ThreadedModelHost and
 * runs it off the owner's event loop. onnxruntime-node's `run` is a synchronous native call,
 * so here it blocks only this thread. Runs execute one after another, in arrival order.
 * Output buffers are transferred back, not copied.
 */
import { parentPort } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { isProblemError } from '#infra/errors';
import { errorMessage, openSession, runSession, warmUp } from './session-core.js';
import type { FromThread, ThreadError, ToThread } from './session-protocol.js';
import type { TensorData } from '#model-service/tensors';

const port = parentPort;
if (!port) throw new Error('session-thread.js runs as a worker thread of ThreadedModelHost, not on its own');

let session: InferenceSession | null = null;

function post(msg: FromThread, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

function asThreadError(e: unknown): ThreadError {
  if (isProblemError(e)) return { message: e.detail, name: 'ProblemError', problemCode: e.code };
  return { message: errorMessage(e), name: e instanceof Error ? e.name : 'Error' };
}

/** Buffers this thread owns outright (a whole, non-shared ArrayBuffer per output) can move instead of being copied. */
function transferable(outputs: Record<string, TensorData>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of Object.values(outputs)) {
    const buf = t.data.buffer;
    if (buf instanceof ArrayBuffer && t.data.byteOffset === 0 && t.data.byteLength === buf.byteLength) seen.add(buf);
  }
  return [...seen];
}

async function handle(msg: ToThread): Promise<void> {
  switch (msg.op) {
    case 'load': {
      const started = performance.now();
      const opened = await openSession(msg.settings, (line) => post({ op: 'log', msg: line }));
      session = opened.session;
      const sessionMs = performance.now() - started;
      const warmupMs = await warmUp(opened.session, msg.settings.warmup, opened.signature);
      post({ op: 'loaded', id: msg.id, provider: opened.provider, providerFallbacks: opened.providerFallbacks, signature: opened.signature, sessionMs, warmupMs });
      return;
    }
    case 'run': {
      if (!session) throw new Error('the session thread holds no session');
      const { outputs, ms } = await runSession(session, msg.feeds);
      const result: FromThread = { op: 'result', id: msg.id, outputs, ms };
      try {
        post(result, transferable(outputs));
      } catch {
        post(result); // a buffer that cannot move (e.g. external memory) is copied instead
      }
      return;
    }
    case 'exit': {
      const s = session;
      session = null;
      if (s) await s.release().catch(() => undefined);
      process.exit(0); // ends this thread only
    }
  }
}

port.on('message', (msg: ToThread) => {
  handle(msg).catch((e: unknown) => post({ op: 'error', id: msg.id, error: asThreadError(e) }));
});
