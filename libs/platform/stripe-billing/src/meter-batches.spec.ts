import { describe, expect, it } from '@jest/globals';
import { backoffMs, batchIdOf, planBatches, type PendingUsage } from './meter-batches.js';

const at = (iso: string) => new Date(iso);
const row = (id: string, orgId: string, iso: string, units = 1): PendingUsage => ({ id, orgId, eventName: 'units', units, occurredAt: at(iso) });

describe('meter batches', () => {
  it('a batch of one keeps the usage event id as its identifier; larger batches a digest independent of order', () => {
    expect(batchIdOf(['a'])).toBe('a');
    expect(batchIdOf(['a', 'b'])).toBe(batchIdOf(['b', 'a']));
    expect(batchIdOf(['a', 'b'])).not.toBe(batchIdOf(['a', 'c']));
    expect(batchIdOf(['a', 'b']).length).toBeLessThanOrEqual(100);
  });

  it('groups by organization, meter and UTC hour, at most `max` events each', () => {
    const rows = [row('1', 'o1', '2026-12-01T10:05:00Z'), row('2', 'o1', '2026-12-01T10:55:00Z'), row('3', 'o1', '2026-12-01T11:00:00Z'), row('4', 'o2', '2026-12-01T10:10:00Z'), row('5', 'o1', '2026-12-01T10:30:00Z')];
    const batches = planBatches(rows, 2);
    expect(batches.map((b) => [b.orgId, b.ids])).toEqual([
      ['o1', ['1', '2']],
      ['o1', ['5']],
      ['o1', ['3']],
      ['o2', ['4']],
    ]);
    expect(batches.flatMap((b) => b.ids).sort()).toEqual(['1', '2', '3', '4', '5']);
  });

  it('backs off exponentially from 1 s up to the cap, with jitter', () => {
    expect(backoffMs(1, 60_000, () => 0.5)).toBe(1_000);
    expect(backoffMs(4, 60_000, () => 0.5)).toBe(8_000);
    expect(backoffMs(40, 60_000, () => 0.5)).toBe(60_000);
    expect(backoffMs(1, 60_000, () => 0)).toBe(800);
  });
});
