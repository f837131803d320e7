export { restartDelay, nextAttempt, createLinePrefixer, type BackoffOptions } from './policy.js';
export { ProcessSupervisor, type ChildSpec, type ChildState, type ChildStatus, type ChildExit, type SupervisorOptions } from './supervisor.js';
