// The onnxruntime session hosts: in-process (OnnxModelHost) and one worker thread per model
// version (ThreadedModelHost). Loads onnxruntime-node: workers and the upload validator only.
export { OnnxModelHost, providerAttempts, warmupFeeds, type HostObserver, type LoadOptions, type ModelHost, type ModelStatus } from './host.js';
export { sessionThreadScript, ThreadedModelHost, type ThreadedHostOptions } from './threaded-host.js';
