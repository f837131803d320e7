/**
 * A session process: holds one onnxruntime session of an uploaded model for the isolated
 * host (ThreadedModelHost with `isolation`), in its own process, started with an empty
 * environment (no database URL, no secrets) and an address-space limit (prlimit). The host
 * kills it when a run passes its deadline; an allocation past the limit fails that run with
 * `model_memory_exceeded` (session-serve.ts). It exits when its parent goes away.
 */
import { sessionServer } from './session-serve.js';
import type { FromThread, ToThread } from './session-protocol.js';

const send = process.send?.bind(process);
if (!send) throw new Error('session-process.js runs as a child of the isolated model host (with an IPC channel), not on its own');

const handle = sessionServer({
  post: (msg: FromThread) => void send(msg),
  exit: () => process.exit(0),
});
process.on('message', (msg: ToThread) => handle(msg));
process.on('disconnect', () => process.exit(0));
