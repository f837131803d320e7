import type { BlockList } from 'node:net';
import type { PrismaClient } from '#infra/db';
import type { Resolver } from './address.js';
import { postWebhook } from './post.js';
import { nextRetryDelay, parseRetryAfter, verdictOf } from './schedule.js';
import { ensureSecret, signingSecrets, type SecretRow } from './secrets.js';
import { signedHeaders } from './signature.js';
import { claimDue, recordAttempt, type ClaimedMessage, type MessageOutcome } from './store.js';

/** Messages claimed and sent at once per round by default. */
export const DELIVERY_BATCH = 32;

export interface EngineSettings {
  /** Delay before each retry (ms). */
  schedule: readonly number[];
  allowed: BlockList;
  timeoutMs: number;
  resolve: Resolver;
  /** Messages handled at once per round. */
  batch?: number;
  random?: () => number;
}

/**
 * The delivery engine: claims due messages, signs and POSTs each, records the attempt and
 * decides what comes next (delivered; retry on the schedule, never before Retry-After; 410
 * disables the endpoint; the schedule exhausted fails the message). Plain class, no Nest.
 */
export class DeliveryEngine {
  constructor(
    private readonly db: PrismaClient,
    private readonly settings: EngineSettings,
  ) {}

  /** One round: the number of messages handled (a full batch means more may be due). */
  async runOnce(): Promise<number> {
    const batch = this.settings.batch ?? DELIVERY_BATCH;
    const claimed = await claimDue(this.db, batch, this.settings.timeoutMs * 2 + 5_000);
    if (claimed.length === 0) return 0;
    // What the round needs, read once: the endpoints' current state and each organization's secrets.
    const endpointIds = [...new Set(claimed.flatMap((m) => (m.endpointId ? [m.endpointId] : [])))];
    const endpoints = new Map(
      endpointIds.length ? (await this.db.webhookEndpoint.findMany({ where: { id: { in: endpointIds } }, select: { id: true, url: true, enabled: true, deletedAt: true } })).map((e) => [e.id, e]) : [],
    );
    const orgIds = [...new Set(claimed.map((m) => m.orgId))];
    const secrets = new Map<string, SecretRow>((await this.db.webhookSecret.findMany({ where: { orgId: { in: orgIds } } })).map((r) => [r.orgId, r]));
    for (const orgId of orgIds) if (!secrets.has(orgId)) secrets.set(orgId, (await ensureSecret(this.db, orgId)).row);
    await Promise.all(claimed.map((m) => this.deliver(m, m.endpointId ? (endpoints.get(m.endpointId) ?? null) : undefined, secrets.get(m.orgId)!)));
    return claimed.length;
  }

  private async deliver(m: ClaimedMessage, ep: { url: string; enabled: boolean; deletedAt: Date | null } | null | undefined, secret: SecretRow): Promise<void> {
    let url = m.url;
    if (ep !== undefined) {
      if (!ep || !ep.enabled || ep.deletedAt) return recordAttempt(this.db, m, url, null, { kind: 'canceled' });
      url = ep.url; // a changed URL applies to messages still waiting
    }
    const row = secret;
    const now = new Date();
    const body = JSON.stringify(m.payload);
    const headers = signedHeaders(signingSecrets(row, now), m.id, Math.floor(now.getTime() / 1000), body);
    const res = await postWebhook(url, { ...headers }, body, { resolve: this.settings.resolve, allowed: this.settings.allowed, timeoutMs: this.settings.timeoutMs });
    const verdict = verdictOf(res.status);
    let outcome: MessageOutcome;
    if (verdict === 'delivered') outcome = { kind: 'delivered' };
    else if (verdict === 'gone') outcome = { kind: 'gone' };
    else {
      const delay = nextRetryDelay(this.settings.schedule, m.attempts + 1, parseRetryAfter(res.retryAfter, Date.now()), (this.settings.random ?? Math.random)());
      outcome = delay === null ? { kind: 'failed' } : { kind: 'retry', at: new Date(Date.now() + delay) };
    }
    await recordAttempt(this.db, m, url, { status: res.status, response: res.response, durationMs: res.durationMs }, outcome);
  }
}
