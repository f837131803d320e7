import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { PrismaClient } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { decide, type StoredKey } from './decision.js';

/** The part of a response kept for a replay. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export type BeginResult =
  | { kind: 'claimed'; claim: Claim }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'mismatch' }
  | { kind: 'in_flight' };

export interface Claim {
  scope: string;
  key: string;
  token: string;
}

const PURGE_EVERY_MS = 10 * 60_000;
const PURGE_BATCH = 1_000;

/**
 * Idempotency-Key records in Postgres (durable: a replay survives a gateway restart and is
 * the same on every gateway). One row per (scope, key); the first request claims it, the
 * response it ends with is stored encrypted (it may carry a one-time secret), with a key
 * derived from the server pepper and the client's Idempotency-Key.
 */
@Injectable()
export class IdempotencyStore implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Idempotency');
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: PrismaClient,
    private readonly config: AppConfig,
  ) {}

  get ttlMs(): number {
    return this.config.env.IDEMPOTENCY_TTL_HOURS * 3_600_000;
  }

  get lockMs(): number {
    return this.config.env.IDEMPOTENCY_LOCK_SECONDS * 1_000;
  }

  onApplicationBootstrap(): void {
    if (this.config.env.SYSTEM_JOBS !== 'on') return;
    this.timer = setInterval(() => {
      this.purgeExpired().catch((e: unknown) => this.logger.warn(`purge: ${e instanceof Error ? e.message : String(e)}`));
    }, PURGE_EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Claims (scope, key) for this request, or says why not. */
  async begin(scope: string, key: string, requestHash: string, now = new Date()): Promise<BeginResult> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const token = randomUUID();
      // INSERT … ON CONFLICT DO NOTHING: a taken key costs no exception round.
      const inserted = await this.db.idempotentRequest.createMany({ data: [{ scope, key, requestHash, state: 'in_flight', token, createdAt: now, lockedAt: now }], skipDuplicates: true });
      if (inserted.count === 1) return { kind: 'claimed', claim: { scope, key, token } };
      const stored = await this.db.idempotentRequest.findUnique({ where: { scope_key: { scope, key } } });
      if (!stored) continue; // released meanwhile: try again
      const decision = decide(stored as StoredKey, requestHash, now, this.ttlMs, this.lockMs);
      if (decision === 'mismatch') return { kind: 'mismatch' };
      if (decision === 'in_flight') return { kind: 'in_flight' };
      if (decision === 'replay') {
        if (stored.status === null || stored.response === null) return { kind: 'in_flight' };
        let opened: { headers: Record<string, string>; body: unknown };
        try {
          opened = this.open(scope, key, stored.response);
        } catch {
          // Sealed under another pepper (rotated): the first response cannot be given back.
          throw new ProblemError('conflict', 'The first response of this Idempotency-Key can no longer be replayed; use a new key.', { extensions: { header: 'Idempotency-Key' } });
        }
        return { kind: 'replay', response: { status: stored.status, ...opened } };
      }
      // Expired, or abandoned by a gateway that died: take it over unless someone else just did.
      const taken = await this.db.idempotentRequest.updateMany({
        where: { scope, key, token: stored.token },
        data: { requestHash, state: 'in_flight', token, createdAt: now, lockedAt: now, status: null, response: null },
      });
      if (taken.count === 1) return { kind: 'claimed', claim: { scope, key, token } };
    }
    return { kind: 'in_flight' };
  }

  /** Stores the response the claimed request ended with. */
  async complete(claim: Claim, response: StoredResponse): Promise<void> {
    await this.db.idempotentRequest.updateMany({
      where: { scope: claim.scope, key: claim.key, token: claim.token },
      data: { state: 'done', status: response.status, response: this.seal(claim.scope, claim.key, { headers: response.headers, body: response.body }) },
    });
  }

  /** Forgets the claim (the request ended in an error: a retry runs it again). */
  async release(claim: Claim): Promise<void> {
    await this.db.idempotentRequest.deleteMany({ where: { scope: claim.scope, key: claim.key, token: claim.token } });
  }

  /** Deletes expired records (bounded batch); returns how many. */
  async purgeExpired(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.ttlMs);
    return this.db.$executeRaw`
      DELETE FROM "IdempotentRequest" WHERE ("scope", "key") IN (
        SELECT "scope", "key" FROM "IdempotentRequest" WHERE "createdAt" < ${cutoff} LIMIT ${PURGE_BATCH})`;
  }

  private cipherKey(scope: string, key: string): Buffer {
    return createHmac('sha256', this.config.env.API_KEY_PEPPER).update(`idempotency\0${scope}\0${key}`).digest();
  }

  private seal(scope: string, key: string, value: { headers: Record<string, string>; body: unknown }): Uint8Array<ArrayBuffer> {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.cipherKey(scope, key), iv);
    const data = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()]);
    const out = Buffer.concat([iv, c.getAuthTag(), data]);
    return new Uint8Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
  }

  private open(scope: string, key: string, sealed: Uint8Array): { headers: Record<string, string>; body: unknown } {
    const buf = Buffer.from(sealed);
    const d = createDecipheriv('aes-256-gcm', this.cipherKey(scope, key), buf.subarray(0, 12));
    d.setAuthTag(buf.subarray(12, 28));
    return JSON.parse(Buffer.concat([d.update(buf.subarray(28)), d.final()]).toString('utf8')) as { headers: Record<string, string>; body: unknown };
  }
}
