/**
 * Messages between `ThreadedModelHost` and its session threads (session-thread.ts). Plain
 * data only (structured clone); tensor buffers travel in transfer lists where the sender owns them.
 */
import type { ExecutionProvider } from '#infra/execution-providers';
import type { SessionSettings } from './session-core.js';
import type { ModelSignature, TensorData } from '#model-service/tensors';

export type ToThread =
  /** `maxOutputBytes` (isolated children): a run returning more fails with model_memory_exceeded; allocation failures too. */
  | { op: 'load'; id: number; settings: SessionSettings; maxOutputBytes?: number }
  | { op: 'run'; id: number; feeds: Record<string, TensorData> }
  /** Release the session and end the thread (handled after the runs before it). */
  | { op: 'exit'; id: number };

/** A failure as it crosses the thread boundary (a ProblemError keeps its code). */
export interface ThreadError {
  message: string;
  name: string;
  problemCode?: string;
}

export type FromThread =
  | { op: 'log'; msg: string }
  | {
      op: 'loaded';
      id: number;
      provider: ExecutionProvider;
      providerFallbacks: { provider: ExecutionProvider; error: string }[];
      signature: ModelSignature;
      sessionMs: number;
      warmupMs: number;
    }
  | { op: 'result'; id: number; outputs: Record<string, TensorData>; ms: number }
  | { op: 'error'; id: number; error: ThreadError };
