import type { Metric, MetricValueWithName } from 'prom-client';

/** One label set of a SeriesHistogram: observing is a bucket search and three additions. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative; the last slot counts those above every bound). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly upper: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(upper.length + 1);
  }

  observe(value: number): void {
    const upper = this.upper;
    let i = 0;
    while (i < upper.length && value > upper[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export interface SeriesHistogramOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  /** Upper bounds, ascending (+Inf is implied). */
  buckets: readonly number[];
}

/**
 * A Prometheus histogram for hot paths: a caller takes the series of its label set once
 * (`series`) and observes on it without the per-call label hashing and validation of
 * prom-client's Histogram; the registry reads it like any other metric (`get`). The exposition
 * is the same (`_bucket` with `le`, `_sum`, `_count`).
 */
export class SeriesHistogram<L extends string> {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  private readonly upper: readonly number[];
  private readonly labelNames: readonly L[];
  private readonly bySet = new Map<string, HistogramSeries>();

  constructor(options: SeriesHistogramOptions<L>, registers: readonly { registerMetric(m: Metric): void }[] = []) {
    const upper = [...options.buckets];
    for (let i = 1; i < upper.length; i++) if (!(upper[i]! > upper[i - 1]!)) throw new Error(`${options.name}: buckets must ascend`);
    this.name = options.name;
    this.help = options.help;
    this.upper = upper;
    this.labelNames = options.labelNames;
    for (const r of registers) r.registerMetric(this as unknown as Metric);
  }

  /** The series of one label set (every label named in labelNames, no other), created on first use. */
  series(labels: Readonly<Record<L, string>>): HistogramSeries {
    const values = this.labelNames.map((n) => labels[n]);
    if (values.some((v) => typeof v !== 'string') || Object.keys(labels).length !== this.labelNames.length) throw new Error(`${this.name}: labels must be exactly ${this.labelNames.join(', ')}`);
    const key = JSON.stringify(values);
    let s = this.bySet.get(key);
    if (s === undefined) this.bySet.set(key, (s = new HistogramSeries(this.upper, Object.fromEntries(this.labelNames.map((n) => [n, labels[n]])))));
    return s;
  }

  /** One observation on a label set (looks the series up: hot paths keep the series instead). */
  observe(labels: Readonly<Record<L, string>>, value: number): void {
    this.series(labels).observe(value);
  }

  /** What prom-client's registry reads of a metric (exposition and JSON). */
  get(): Promise<{ name: string; help: string; type: 'histogram'; values: MetricValueWithName<string>[]; aggregator: 'sum' }> {
    const values: MetricValueWithName<string>[] = [];
    for (const s of this.bySet.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.upper.length; i++) {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: i < this.upper.length ? this.upper[i]! : '+Inf' }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  reset(): void {
    for (const s of this.bySet.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
