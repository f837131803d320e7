/**
 * At most `size` model runs at once across the host's sessions, first come first served.
 * Session threads keep the event loop free, but on a CPU each run already uses its intra-op
 * threads: letting three sessions (detection, orientation, recognition) compute at once on two
 * cores only makes them share the cores and the caches (measured: `npm run bench:ocr`).
 */
export class RunSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`run slots must be a positive integer, got ${size}`);
    this.free = size;
  }

  /** Runs `fn` in a slot, waiting for one first. */
  async with<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }

  /** Runs waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }
}

/**
 * The default number of concurrent runs on a CPU: as many as fit the cores at the sessions'
 * intra-op threads (0 = onnxruntime's default, one thread per core, so one run at a time).
 */
export function defaultRunSlots(cores: number, intraOpThreads: number): number {
  if (intraOpThreads <= 0) return 1;
  return Math.max(1, Math.floor(cores / intraOpThreads));
}
