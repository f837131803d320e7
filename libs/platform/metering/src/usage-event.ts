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
  /** The `model` dimension: "name@version" of the serving models joined by "+" ("" when none). */
  model: string;
  occurredAt: Date;
}
