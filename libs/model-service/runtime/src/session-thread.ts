/**
 * A session thread (worker_threads): holds one onnxruntime session for ThreadedModelHost and
 * runs it off the owner's event loop. onnxruntime-node's `run` is a synchronous native call,
 * so here it blocks only this thread. Runs execute one after another, in arrival order.
 * Output buffers are transferred back, not copied. The handler is session-serve.ts.
 */
import { parentPort } from 'node:worker_threads';
import { sessionServer } from './session-serve.js';
import type { ToThread } from './session-protocol.js';

const port = parentPort;
if (!port) throw new Error('session-thread.js runs as a worker thread of ThreadedModelHost, not on its own');

const handle = sessionServer({
  post: (msg, transfer = []) => port.postMessage(msg, transfer),
  exit: () => process.exit(0), // ends this thread only
});
port.on('message', (msg: ToThread) => handle(msg));
