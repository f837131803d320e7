import type { KeyMode } from '#infra/queue';

/** One billable success. `id` is the job/prediction id: unique, so retries never bill twice. */
export interface UsageEventInput {
  id: string;
  orgId: string;
  apiKeyId: string;
  feature: string;
  units: number;
  unitType: string;
  mode: KeyMode;
  occurredAt: Date;
}

/** Minimal view of a Prisma transaction client that metering needs. */
export interface UsageLedgerTx {
  usageEvent: {
    createMany(args: { data: UsageEventInput[]; skipDuplicates: boolean }): Promise<{ count: number }>;
  };
}

/** Writes the usage event (with the client or a transaction); false when it already existed (its id is the prediction id). */
export async function recordUsage(tx: UsageLedgerTx, event: UsageEventInput): Promise<boolean> {
  if (!Number.isInteger(event.units) || event.units < 0) throw new Error(`invalid units ${event.units}`);
  const { count } = await tx.usageEvent.createMany({ data: [event], skipDuplicates: true });
  return count === 1;
}
