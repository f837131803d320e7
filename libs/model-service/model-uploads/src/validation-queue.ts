/**
 * The gateway's bounded validation queue: at most `concurrency` validations run at once (each
 * is a child process with its own memory), at most `maxWaiting` wait for a slot, and one more
 * is refused at once with a hint of when to retry, instead of piling up without end.
 */

/** Thrown by `ValidationQueue.run` when the queue is full. */
export class ValidationQueueFull extends Error {
  constructor(
    /** Seconds after which a retry is likely to find room. */
    readonly retryAfterSeconds: number,
    readonly waiting: number,
  ) {
    super(`validation queue full (${waiting} waiting)`);
    this.name = 'ValidationQueueFull';
  }
}

export interface ValidationQueueOptions {
  concurrency: number;
  maxWaiting: number;
  /** Milliseconds clock (injected by tests). */
  now?: () => number;
}

/** Before any validation finished, one is assumed to take this long (seconds). */
const ASSUMED_SECONDS = 2;
const MAX_RETRY_AFTER_SECONDS = 60;

export class ValidationQueue {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  /** Moving average of how long one validation holds a slot (seconds). */
  private meanSeconds = ASSUMED_SECONDS;
  private readonly now: () => number;

  constructor(private readonly options: ValidationQueueOptions) {
    if (!(options.concurrency >= 1) || !(options.maxWaiting >= 0)) throw new RangeError('concurrency must be at least 1 and maxWaiting at least 0');
    this.now = options.now ?? (() => performance.now());
  }

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /**
   * When a retry should find room: the time for the validations ahead of it to drain through
   * the slots, from the recent mean duration, between 1 and 60 seconds.
   */
  retryAfterSeconds(): number {
    const ahead = this.active + this.queue.length;
    const estimate = Math.ceil((ahead / this.options.concurrency) * this.meanSeconds);
    return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, estimate));
  }

  /** Runs `work` in a slot, waiting in line if none is free; throws `ValidationQueueFull` when the line is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active < this.options.concurrency) this.active++;
    else if (this.queue.length < this.options.maxWaiting) await new Promise<void>((resolve) => this.queue.push(resolve));
    else throw new ValidationQueueFull(this.retryAfterSeconds(), this.queue.length);
    // Here this call holds a slot (handed over by the one that finished, or taken free).
    const started = this.now();
    try {
      return await work();
    } finally {
      this.meanSeconds = 0.7 * this.meanSeconds + 0.3 * Math.max(0, (this.now() - started) / 1000);
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}
