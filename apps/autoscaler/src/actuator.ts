/** How the autoscaler acts on a decision: worker processes here, a Deployment's scale on Kubernetes, or nothing. */
export interface Actuator {
  readonly kind: 'none' | 'local' | 'kubernetes';
  /** The workers the pool has now, as this actuator counts them (its desired scale). */
  current(pool: string): Promise<number>;
  apply(pool: string, desired: number): Promise<void>;
  close(): Promise<void>;
}

/** Decide and export only: the current count is the ready workers the signals report. */
export class NoActuator implements Actuator {
  readonly kind = 'none';
  private readonly seen = new Map<string, number>();

  observe(pool: string, readyWorkers: number | null): void {
    if (readyWorkers !== null) this.seen.set(pool, Math.round(readyWorkers));
  }

  async current(pool: string): Promise<number> {
    return this.seen.get(pool) ?? 0;
  }

  async apply(): Promise<void> {
    // nothing to act on
  }

  async close(): Promise<void> {
    // nothing to stop
  }
}
