import type { KeyMode } from '#infra/queue';

export type PredictionStatus = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
export const TERMINAL_STATUSES: readonly PredictionStatus[] = ['succeeded', 'failed', 'canceled'];

/** The stored prediction, as the repository returns it. */
export interface PredictionRecord {
  id: string;
  orgId: string;
  apiKeyId: string;
  mode: KeyMode;
  feature: string;
  featureVersion: string;
  status: PredictionStatus;
  output: unknown;
  error: unknown;
  units: number | null;
  metrics: unknown;
  models: unknown;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

export interface PredictionMetrics {
  queue_time_ms: number;
  predict_time_ms: number;
  total_time_ms: number;
  batch_size: number;
  /**
   * A feature's time per pipeline step (node id -> ms; a list.map's sub-graph steps as
   * `<map>/<node>`, summed over its items). Model steps include their wait in the batcher.
   */
  steps_ms?: Record<string, number>;
}

/** The public prediction object (snake_case, as in Stripe's and Replicate's APIs). */
export interface PredictionView {
  id: string;
  object: 'prediction';
  feature: string;
  version: string;
  status: PredictionStatus;
  mode: KeyMode;
  output: unknown;
  error: { code: string; message: string } | null;
  units: number | null;
  metrics: PredictionMetrics | null;
  /** The model versions that served it, with the sha256 of the artifact that answered (the audit trail). */
  models: { name: string; version: string; sha256?: string }[];
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  urls: { get: string; cancel: string };
}

export function isTerminal(status: PredictionStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function toPredictionView(p: PredictionRecord, baseUrl: string): PredictionView {
  const self = `${baseUrl}/v1/predictions/${p.id}`;
  return {
    id: p.id,
    object: 'prediction',
    feature: p.feature,
    version: p.featureVersion,
    status: p.status,
    mode: p.mode,
    output: p.status === 'succeeded' ? (p.output ?? null) : null,
    error: (p.error as PredictionView['error']) ?? null,
    units: p.units,
    metrics: (p.metrics as PredictionMetrics | null) ?? null,
    models: Array.isArray(p.models) ? (p.models as PredictionView['models']) : [],
    created_at: p.createdAt.toISOString(),
    started_at: p.startedAt?.toISOString() ?? null,
    completed_at: p.completedAt?.toISOString() ?? null,
    urls: { get: self, cancel: `${self}/cancel` },
  };
}
