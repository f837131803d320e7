/**
 * Pure restart and output policies of the process supervisor (no I/O here).
 */

export interface BackoffOptions {
  /** Delay before the first restart. */
  readonly baseMs?: number;
  /** Upper bound of any delay. */
  readonly maxMs?: number;
  /** Growth per attempt. */
  readonly factor?: number;
}

/**
 * Delay before restart number `attempt` (1 = first restart after a crash):
 * base, base*factor, base*factor², … capped at maxMs.
 */
export function restartDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 250;
  const max = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  if (!Number.isFinite(attempt) || attempt < 1) return base <= max ? base : max;
  const delay = base * Math.pow(factor, Math.floor(attempt) - 1);
  return Math.min(max, Math.round(delay));
}

/**
 * The restart attempt number after a child exited: a child that ran for at least
 * `stableAfterMs` counts as healthy, so the backoff starts over.
 */
export function nextAttempt(previousAttempt: number, uptimeMs: number, stableAfterMs: number): number {
  return uptimeMs >= stableAfterMs ? 1 : previousAttempt + 1;
}

/**
 * Splits a byte stream into lines and hands each complete line, prefixed, to `emit`.
 * `flush()` emits a trailing partial line (call it when the stream ends).
 */
export function createLinePrefixer(prefix: string, emit: (line: string) => void): { push(chunk: string): void; flush(): void } {
  let pending = '';
  return {
    push(chunk: string): void {
      pending += chunk;
      let index: number;
      while ((index = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, index).replace(/\r$/, '');
        pending = pending.slice(index + 1);
        emit(`${prefix} ${line}`);
      }
    },
    flush(): void {
      if (pending.length > 0) emit(`${prefix} ${pending.replace(/\r$/, '')}`);
      pending = '';
    },
  };
}
