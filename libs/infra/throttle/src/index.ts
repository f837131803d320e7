// Brute-force protection: failures (bad API keys, bad logins) counted per subject in Redis
// fixed windows, refused with 429 + Retry-After past the limit.
export { FailureThrottle, subjectToken, type FailureThrottleOptions } from './failure-throttle.js';
export { clientSubject } from './client-subject.js';
