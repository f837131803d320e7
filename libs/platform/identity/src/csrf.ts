import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Methods that never change state: no CSRF token needed. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase());
}

/** A fresh CSRF token: 256 random bits, base64url. */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Constant-time comparison of the session's token with the one the request sent. Both
 * sides are hashed first, so neither the content nor the length leaks through timing.
 */
export function csrfTokensMatch(expected: string, given: string | string[] | undefined): boolean {
  if (typeof given !== 'string' || given.length === 0 || expected.length === 0) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}
