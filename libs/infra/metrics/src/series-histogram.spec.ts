import { describe, expect, it } from '@jest/globals';
import { Histogram, Registry } from 'prom-client';
import { SeriesHistogram } from './series-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const observations: [Record<'method' | 'route', string>, number][] = [
  [{ method: 'GET', route: '/a' }, 0.0005],
  [{ method: 'GET', route: '/a' }, 0.001], // on a bound: counted in that bucket (le)
  [{ method: 'GET', route: '/a' }, 0.05],
  [{ method: 'POST', route: '/b' }, 3], // above every bound: +Inf only
  [{ method: 'POST', route: '/b' }, 0.2],
];

const canonical = (exposition: string): string[] =>
  exposition
    .trim()
    .split('\n')
    .map((line) => line.replace(/\{([^}]*)\}/, (_, inner: string) => `{${inner.split(',').sort().join(',')}}`));

describe('SeriesHistogram', () => {
  it("exposes exactly what prom-client's Histogram exposes for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    for (const r of [ours, theirs]) r.setDefaultLabels({ app: 'test' });
    const fast = new SeriesHistogram({ name: 'x_seconds', help: 'x', labelNames: ['method', 'route'], buckets: BUCKETS }, [ours]);
    const reference = new Histogram({ name: 'x_seconds', help: 'x', labelNames: ['method', 'route'], buckets: BUCKETS, registers: [theirs] });
    const kept = fast.series({ method: 'GET', route: '/a' });
    for (const [labels, v] of observations) {
      if (labels.method === 'GET') kept.observe(v);
      else fast.observe(labels, v);
      reference.observe(labels, v);
    }
    // The same lines (the order of labels inside a line carries no meaning in the format).
    expect(canonical(await ours.metrics())).toEqual(canonical(await theirs.metrics()));
    fast.reset();
    reference.reset();
    expect((await fast.get()).values.every((v) => v.value === 0)).toBe(true);
  });

  it('refuses missing or extra labels and buckets out of order', () => {
    const h = new SeriesHistogram({ name: 'y', help: 'y', labelNames: ['route'], buckets: BUCKETS });
    expect(() => h.series({} as never)).toThrow(/labels must be exactly route/);
    expect(() => h.series({ route: '/a', extra: 'x' } as never)).toThrow(/labels must be exactly route/);
    expect(() => new SeriesHistogram({ name: 'z', help: 'z', labelNames: [], buckets: [1, 0.5] })).toThrow(/ascend/);
  });
});
