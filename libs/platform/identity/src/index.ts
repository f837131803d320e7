// Identity: users with argon2id passwords, dashboard sessions in Redis, CSRF tokens, cookies.
export { parseCookies, serializeCookie, type CookieOptions } from './cookies.js';
export { csrfTokensMatch, isSafeMethod, newCsrfToken } from './csrf.js';
export { hashPassword, verifyPassword, normalizeEmail, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH } from './passwords.js';
export {
  SessionStore,
  SESSION_COOKIE,
  SECURE_SESSION_COOKIE,
  sessionCookieSettings,
  sessionRemainingSeconds,
  type StoredSession,
  CSRF_HEADER,
  sessionDigest,
  csrfFailed,
  sessionRequired,
  type SessionUser,
  type StartedSession,
  type SessionRequest,
} from './sessions.js';
export { UsersRepository, type Db } from './users.js';
export { IdentityModule } from './identity.module.js';
