import { describe, expect, it } from '@jest/globals';
import { deltaOf, histogramQuantile, increase, parseExposition, poolCounters, sumDeltas } from './exposition.js';

const scrape = (arrivals: number, finished: number, buckets: [string, number][], busy = 1) => `# HELP stratum_queue_arrivals_total Jobs added
# TYPE stratum_queue_arrivals_total counter
stratum_queue_arrivals_total{app="gateway",pool="ocr"} ${arrivals}
stratum_jobs_total{app="worker",pool="ocr",outcome="succeeded"} ${finished}
stratum_jobs_total{app="worker",pool="ocr",outcome="handed_back"} 7
stratum_job_service_seconds_sum{app="worker",pool="ocr"} ${finished * 0.05}
stratum_job_service_seconds_count{app="worker",pool="ocr"} ${finished}
${buckets.map(([le, v]) => `stratum_job_wait_seconds_bucket{app="worker",pool="ocr",le="${le}"} ${v}`).join('\n')}
stratum_workers_busy{app="worker",pool="ocr"} ${busy}
stratum_workers_ready{app="worker",pool="ocr"} 1
stratum_http_request_duration_seconds_count{method="GET",route="/x",status="200"} 3
`;

describe('exposition', () => {
  it('parses samples with labels (escapes, +Inf) and skips comments and junk', () => {
    const s = parseExposition('# c\nfoo{a="x\\"y",le="+Inf"} 3 1700000000\nbar 2.5\nnot a sample\nbaz{a="1"} NaN\n');
    expect(s).toEqual([
      { name: 'foo', labels: { a: 'x"y', le: '+Inf' }, value: 3 },
      { name: 'bar', labels: {}, value: 2.5 },
      { name: 'baz', labels: { a: '1' }, value: Number.NaN },
    ]);
  });

  it('folds a scrape into per-pool counters (handed-back jobs are not finished ones)', () => {
    const c = poolCounters(parseExposition(scrape(10, 4, [['0.1', 2], ['1', 3], ['+Inf', 4]])));
    expect(c.get('ocr')).toMatchObject({ arrivals: 10, finished: 4, serviceCount: 4, busyWorkers: 1, readyWorkers: 1 });
    expect([...c.get('ocr')!.waitBuckets]).toEqual([[0.1, 2], [1, 3], [Infinity, 4]]);
  });

  it('differences two scrapes; a counter that went down is a restart', () => {
    const a = poolCounters(parseExposition(scrape(10, 4, [['0.1', 2], ['1', 3], ['+Inf', 4]]))).get('ocr')!;
    const b = poolCounters(parseExposition(scrape(30, 14, [['0.1', 2], ['1', 3], ['+Inf', 14]]))).get('ocr')!;
    const d = deltaOf(a, b);
    expect(d).toMatchObject({ arrivals: 20, finished: 10, serviceCount: 10 });
    expect(d.serviceSum).toBeCloseTo(0.5);
    // All 10 new waits were above 1 s: p90 is in the +Inf bucket → its lower bound.
    expect(histogramQuantile(0.9, d.waitBuckets)).toBe(1);
    expect(increase(50, 5)).toBe(5);
    expect(increase(undefined, 5)).toBe(0);
    expect(sumDeltas([d, d])).toMatchObject({ arrivals: 40, finished: 20 });
  });

  it('histogramQuantile interpolates inside the bucket like PromQL and is null without observations', () => {
    const b = new Map([[0.1, 50], [0.5, 90], [1, 100], [Infinity, 100]]);
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.1);
    expect(histogramQuantile(0.7, b)).toBeCloseTo(0.3);
    expect(histogramQuantile(0.95, b)).toBeCloseTo(0.75);
    expect(histogramQuantile(0.9, new Map([[1, 0], [Infinity, 0]]))).toBeNull();
  });
});
