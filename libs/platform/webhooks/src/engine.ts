import type { BlockList } from 'node:net';
import type { PrismaClient } from '#infra/db';
import type { Resolver } from './address.js';
import { postWebhook } from './post.js';
import { nextRetryDelay, parseRetryAfter, verdictOf } from './schedule.js';
import { ensureSecret, signingSecrets } from './secrets.js';
import { signedHeaders } from './signature.js';
import { claimDue, recordAttempt, type ClaimedMessage, type MessageOutcome } from './store.js';

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
    const batch = this.settings.batch ?? 16;
    const claimed = await claimDue(this.db, batch, this.settings.timeoutMs * 2 + 5_000);
    await Promise.all(claimed.map((m) => this.deliver(m)));
    return claimed.length;
  }

  private async deliver(m: ClaimedMessage): Promise<void> {
    let url = m.url;
    if (m.endpointId) {
      const ep = await this.db.webhookEndpoint.findUnique({ where: { id: m.endpointId }, select: { url: true, enabled: true, deletedAt: true } });
      if (!ep || !ep.enabled || ep.deletedAt) return recordAttempt(this.db, m, url, null, { kind: 'canceled' });
      url = ep.url; // a changed URL applies to messages still waiting
    }
    const { row } = await ensureSecret(this.db, m.orgId);
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
