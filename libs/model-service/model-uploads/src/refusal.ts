import { ProblemError } from '#infra/errors';

/** Why an uploaded model was refused (the `reason` member of the problem). */
export type RefusalReason =
  | 'wrong_magic'
  | 'empty'
  | 'malformed'
  | 'no_graph'
  | 'unsupported_type'
  | 'absurd_shape'
  | 'external_data'
  | 'load_failed'
  | 'warmup_failed'
  | 'timeout'
  | 'memory_limit'
  | 'validator_crashed';

export function modelRefused(reason: RefusalReason, detail: string): ProblemError {
  return new ProblemError('model_invalid', detail, { extensions: { reason } });
}
