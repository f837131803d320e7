// Pure rules of the meter outbox: how usage rows are summed into meter events, the
// deterministic identifier of a batch, and the retry backoff.
import { createHash } from 'node:crypto';

export interface PendingUsage {
  id: string;
  orgId: string;
  eventName: string;
  units: number;
  occurredAt: Date;
}

export interface PlannedBatch {
  batchId: string;
  orgId: string;
  eventName: string;
  ids: string[];
}

const HOUR_MS = 3_600_000;

/**
 * The identifier of a batch: a digest of its usage event ids (sorted), so the same usage
 * always maps to the same meter event identifier; a batch of one keeps the usage event id.
 * Stripe allows 100 characters; this is 40.
 */
export function batchIdOf(ids: readonly string[]): string {
  if (ids.length === 1) return ids[0]!;
  const h = createHash('sha256');
  for (const id of [...ids].sort()) h.update(id).update('\n');
  return `b_${h.digest('hex').slice(0, 38)}`;
}

/**
 * Groups unbatched usage into meter events: one per (organization, meter, UTC hour of use),
 * at most `max` usage events each. Summing is allowed because the meter aggregates by sum;
 * the hour bound keeps each event's timestamp within an hour of the usage it carries, so a
 * batch never moves usage across a billing period boundary by more than that hour.
 */
export function planBatches(rows: readonly PendingUsage[], max: number): PlannedBatch[] {
  const groups = new Map<string, PendingUsage[]>();
  for (const r of rows) {
    const k = `${r.orgId}\u0000${r.eventName}\u0000${Math.floor(r.occurredAt.getTime() / HOUR_MS)}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(r);
  }
  const out: PlannedBatch[] = [];
  for (const g of groups.values()) {
    for (let i = 0; i < g.length; i += max) {
      const chunk = g.slice(i, i + max);
      const ids = chunk.map((r) => r.id);
      out.push({ batchId: batchIdOf(ids), orgId: chunk[0]!.orgId, eventName: chunk[0]!.eventName, ids });
    }
  }
  return out;
}

/** Delay before retry `attempts` (1, 2, …): 1 s doubling up to `maxMs`, ±20 % jitter. */
export function backoffMs(attempts: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, 1_000 * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
  return Math.round(base * (0.8 + 0.4 * random()));
}
