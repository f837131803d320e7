import type { KeyMode } from '#infra/queue';

/**
 * The typed events of a prediction's life, appended to the outbox (table PredictionEvent)
 * in the same transaction as the status change they record. Consumers (usage, billing,
 * webhooks, the dashboard) read them through `LifecycleConsumer`, never the predictions table.
 */
export const LIFECYCLE_EVENT_TYPES = ['prediction.created', 'prediction.started', 'prediction.succeeded', 'prediction.failed', 'prediction.canceled'] as const;
export type LifecycleEventType = (typeof LIFECYCLE_EVENT_TYPES)[number];

/** What every event says about its prediction. */
interface EventSubject {
  apiKeyId: string;
  mode: KeyMode;
  feature: string;
  featureVersion: string;
}

/** A model that served a prediction (`sha256`: the artifact's digest, when known). */
export interface EventModel {
  name: string;
  version: string;
  sha256?: string;
}

export interface LifecycleEventData {
  'prediction.created': EventSubject & { pool: string };
  'prediction.started': EventSubject & { attempt: number };
  /** `models`: what served it (the usage `model` dimension; older events may lack it). */
  'prediction.succeeded': EventSubject & { units: number; unitType: string; models: EventModel[] };
  'prediction.failed': EventSubject & { error: { code: string; message: string } };
  'prediction.canceled': EventSubject;
}

interface EventOf<T extends LifecycleEventType> {
  /** Unique; consumers deduplicate by it. */
  id: string;
  type: T;
  orgId: string;
  predictionId: string;
  data: LifecycleEventData[T];
  occurredAt: Date;
}

/** A lifecycle event as consumers receive it (a discriminated union on `type`). */
export type LifecycleEvent = { [T in LifecycleEventType]: EventOf<T> }[LifecycleEventType];

/** Where an outbox reader stands: the seq of the last event it handled. */
export interface OutboxPosition {
  seq: bigint;
}

/**
 * A consumer of lifecycle events. Delivery is at least once, in commit order: `handle` may
 * see an event again (after a crash before the position was saved) and must be idempotent
 * by `event.id` (or by a key unique to what it derives, as usage does with the prediction id).
 */
export interface LifecycleConsumer {
  /** Stable name: the consumer's position is kept under it. */
  readonly name: string;
  /** Events read per round (default 200); a consumer that writes a round in one statement reads more. */
  readonly batchSize?: number;
  /** The event types it wants (all when absent); others are skipped, the position still moves. */
  readonly types?: readonly LifecycleEventType[];
  handle(event: LifecycleEvent): Promise<void>;
  /** Optional: the wanted events of a round at once (all or nothing: a throw delivers them all again). */
  handleBatch?(events: LifecycleEvent[]): Promise<void>;
}
