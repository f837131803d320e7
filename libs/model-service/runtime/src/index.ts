// The onnxruntime session hosts: in-process (OnnxModelHost) and one worker thread per model
// version (ThreadedModelHost). Loads onnxruntime-node: workers and the upload validator only.
export { OnnxModelHost, providerAttempts, warmupFeeds, type HostObserver, type LoadOptions, type ModelHost, type ModelStatus } from './host.js';
export { deathProblem, findPrlimit, sessionProcessScript, sessionProcessSpawn, sessionThreadScript, ThreadedModelHost, type ProcessIsolation, type ThreadedHostOptions } from './threaded-host.js';
export { ALLOCATION_FAILURE, outputBytes } from './session-serve.js';
export { defaultRunSlots, RunSlots } from './run-slots.js';
