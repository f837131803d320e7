import { createHash, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { ProblemError } from '#infra/errors';
import { RedisClient } from '#infra/redis';
import { parseCookies, serializeCookie } from './cookies.js';
import { csrfTokensMatch, isSafeMethod, newCsrfToken } from './csrf.js';

export const SESSION_COOKIE = 'stratum_session';
export const CSRF_HEADER = 'x-csrf-token';

/** What a valid session says about the caller. `sessionId` is the session's digest (never the cookie's secret). */
export interface SessionUser {
  userId: string;
  email: string;
  sessionId: string;
}

interface StoredSession {
  userId: string;
  email: string;
  csrf: string;
  createdAt: number;
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
 * with a sliding TTL (SESSION_TTL_SECONDS). The cookie carries only the random secret.
 */
@Injectable()
export class SessionStore {
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

  private get secure(): boolean {
    return this.config.publicBaseUrl.startsWith('https://');
  }

  async start(user: { userId: string; email: string }): Promise<StartedSession> {
    const secret = randomBytes(32).toString('base64url');
    const sessionId = sessionDigest(secret);
    const csrfToken = newCsrfToken();
    const stored: StoredSession = { userId: user.userId, email: user.email, csrf: csrfToken, createdAt: Date.now() };
    await this.redis.redis.set(this.key(sessionId), JSON.stringify(stored), 'EX', this.ttl);
    return { secret, sessionId, csrfToken, cookie: this.cookie(secret) };
  }

  /** The Set-Cookie value for a session secret. */
  cookie(secret: string): string {
    return serializeCookie(SESSION_COOKIE, secret, { maxAge: this.ttl, path: '/', httpOnly: true, secure: this.secure, sameSite: 'Lax' });
  }

  /** The Set-Cookie value that deletes the cookie. */
  clearCookie(): string {
    return serializeCookie(SESSION_COOKIE, '', { maxAge: 0, path: '/', httpOnly: true, secure: this.secure, sameSite: 'Lax' });
  }

  /** Looks a session up by its cookie secret and extends its TTL (sliding). */
  async lookup(secret: string | undefined): Promise<(SessionUser & { csrfToken: string }) | null> {
    if (!secret || !SESSION_SECRET.test(secret)) return null;
    const sessionId = sessionDigest(secret);
    const raw = await this.redis.redis.getex(this.key(sessionId), 'EX', this.ttl);
    if (!raw) return null;
    const s = JSON.parse(raw) as StoredSession;
    return { userId: s.userId, email: s.email, sessionId, csrfToken: s.csrf };
  }

  async destroy(sessionId: string): Promise<void> {
    await this.redis.redis.del(this.key(sessionId));
  }

  /** The cookie's secret in a request, if any. */
  secretOf(request: SessionRequest): string | undefined {
    const header = request.headers.cookie;
    return parseCookies(typeof header === 'string' ? header : undefined).get(SESSION_COOKIE);
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
