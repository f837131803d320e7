import { createHash, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { ProblemError } from '#infra/errors';
import { RedisClient } from '#infra/redis';
import { parseCookies, serializeCookie } from './cookies.js';
import { csrfTokensMatch, isSafeMethod, newCsrfToken } from './csrf.js';

/** The session cookie's name in development and test (plain http). */
export const SESSION_COOKIE = 'stratum_session';
/** In production: the `__Host-` prefix makes browsers refuse it unless Secure, Path=/ and without Domain. */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;

/** The cookie's name and whether it is Secure, from the configuration (the one place that decides). */
export function sessionCookieSettings(env: { NODE_ENV: string }, publicBaseUrl: string): { name: string; secure: boolean } {
  if (env.NODE_ENV === 'production') return { name: SECURE_SESSION_COOKIE, secure: true };
  return { name: SESSION_COOKIE, secure: publicBaseUrl.startsWith('https://') };
}
export const CSRF_HEADER = 'x-csrf-token';

/** What a valid session says about the caller. `sessionId` is the session's digest (never the cookie's secret). */
export interface SessionUser {
  userId: string;
  email: string;
  sessionId: string;
}

export interface StoredSession {
  userId: string;
  email: string;
  csrf: string;
  /** Log-in time (ms since the epoch): the absolute lifetime counts from it. */
  createdAt: number;
}

function isStoredSession(v: unknown): v is StoredSession {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return typeof s.userId === 'string' && typeof s.email === 'string' && typeof s.csrf === 'string' && typeof s.createdAt === 'number' && Number.isFinite(s.createdAt);
}

/**
 * How much longer a session may live, in whole seconds: the sliding TTL, cut at the absolute
 * lifetime counted from log-in; 0 when it is over (also for a creation time in the future).
 */
export function sessionRemainingSeconds(createdAt: number, now: number, slidingSeconds: number, absoluteSeconds: number): number {
  if (createdAt > now) return 0;
  const left = Math.floor((createdAt + absoluteSeconds * 1000 - now) / 1000);
  return left <= 0 ? 0 : Math.min(slidingSeconds, left);
}

export interface StartedSession {
  /** The cookie's secret value (256 random bits, base64url). */
  secret: string;
  sessionId: string;
  csrfToken: string;
  /** The Set-Cookie header value to send. */
  cookie: string;
}

/** The request parts session authentication reads (works with any HTTP framework). */
export interface SessionRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}

export function sessionDigest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

const SESSION_SECRET = /^[A-Za-z0-9_-]{43}$/;

export function csrfFailed(): ProblemError {
  return new ProblemError('csrf_failed', `A state-changing request authenticated by the session cookie must send the session's CSRF token in the X-CSRF-Token header (see GET /v1/me).`);
}

export function sessionRequired(): ProblemError {
  return new ProblemError('unauthenticated', 'Log in (POST /v1/auth/login) or send a valid API key.', { headers: { 'www-authenticate': 'Bearer realm="stratum"' } });
}

/**
 * Dashboard sessions, kept server side in Redis under `<prefix>:session:<sha256(secret)>`
 * with a sliding TTL (SESSION_TTL_SECONDS) capped by an absolute lifetime from log-in
 * (SESSION_ABSOLUTE_TTL_SECONDS). The cookie carries only the random secret; the record is
 * signed with the server's Redis signing key over its key name, so a record written into
 * Redis by anyone else, or copied under another session's name, is refused.
 */
@Injectable()
export class SessionStore {
  /** The clock (ms since the epoch); replaceable in tests. */
  now: () => number = Date.now;

  constructor(
    private readonly config: AppConfig,
    private readonly redis: RedisClient,
  ) {}

  private get ttl(): number {
    return this.config.env.SESSION_TTL_SECONDS;
  }

  private key(sessionId: string): string {
    return this.redis.key('session', sessionId);
  }

  private get settings(): { name: string; secure: boolean } {
    return sessionCookieSettings(this.config.env, this.config.publicBaseUrl);
  }

  /** The session cookie's name under this configuration (`__Host-stratum_session` in production). */
  get cookieName(): string {
    return this.settings.name;
  }

  async start(user: { userId: string; email: string }): Promise<StartedSession> {
    const secret = randomBytes(32).toString('base64url');
    const sessionId = sessionDigest(secret);
    const csrfToken = newCsrfToken();
    const stored: StoredSession = { userId: user.userId, email: user.email, csrf: csrfToken, createdAt: this.now() };
    const ttl = sessionRemainingSeconds(stored.createdAt, stored.createdAt, this.ttl, this.config.env.SESSION_ABSOLUTE_TTL_SECONDS);
    await this.redis.redis.set(this.key(sessionId), this.redis.signer.sign(this.key(sessionId), JSON.stringify(stored)), 'EX', ttl);
    return { secret, sessionId, csrfToken, cookie: this.cookie(secret, ttl) };
  }

  /** The Set-Cookie value for a session secret. */
  cookie(secret: string, maxAge = this.ttl): string {
    const { name, secure } = this.settings;
    return serializeCookie(name, secret, { maxAge, path: '/', httpOnly: true, secure, sameSite: 'Lax' });
  }

  /** The Set-Cookie value that deletes the cookie. */
  clearCookie(): string {
    const { name, secure } = this.settings;
    return serializeCookie(name, '', { maxAge: 0, path: '/', httpOnly: true, secure, sameSite: 'Lax' });
  }

  /**
   * Looks a session up by its cookie secret and extends its TTL (sliding, never past the
   * absolute lifetime). A record that is not signed for its key, or is past its absolute
   * lifetime, is deleted and refused.
   */
  async lookup(secret: string | undefined): Promise<(SessionUser & { csrfToken: string }) | null> {
    if (!secret || !SESSION_SECRET.test(secret)) return null;
    const sessionId = sessionDigest(secret);
    const key = this.key(sessionId);
    const raw = await this.redis.redis.get(key);
    const opened = this.redis.signer.open(key, raw);
    let s: unknown;
    try {
      s = opened === undefined ? undefined : JSON.parse(opened);
    } catch {
      s = undefined;
    }
    const left = isStoredSession(s) ? sessionRemainingSeconds(s.createdAt, this.now(), this.ttl, this.config.env.SESSION_ABSOLUTE_TTL_SECONDS) : 0;
    if (!isStoredSession(s) || left <= 0) {
      if (raw !== null) await this.redis.redis.del(key);
      return null;
    }
    await this.redis.redis.expire(key, left);
    return { userId: s.userId, email: s.email, sessionId, csrfToken: s.csrf };
  }

  async destroy(sessionId: string): Promise<void> {
    await this.redis.redis.del(this.key(sessionId));
  }

  /** The cookie's secret in a request, if any. */
  secretOf(request: SessionRequest): string | undefined {
    const header = request.headers.cookie;
    return parseCookies(typeof header === 'string' ? header : undefined).get(this.settings.name);
  }

  /** True when the request carries a session cookie (valid or not). */
  hasCookie(request: SessionRequest): boolean {
    return this.secretOf(request) !== undefined;
  }

  /**
   * Authenticates a request by its session cookie: null without a valid session; throws
   * 403 csrf_failed when a state-changing request lacks the session's CSRF token.
   */
  async authenticate(request: SessionRequest): Promise<(SessionUser & { csrfToken: string }) | null> {
    const session = await this.lookup(this.secretOf(request));
    if (!session) return null;
    if (!isSafeMethod(request.method) && !csrfTokensMatch(session.csrfToken, request.headers[CSRF_HEADER])) throw csrfFailed();
    return session;
  }
}
