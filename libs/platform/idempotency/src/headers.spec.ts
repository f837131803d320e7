import { describe, expect, it } from '@jest/globals';
import { isProblemError } from '#infra/errors';
import { parseCancelAfter, parseIdempotencyKey } from './headers.js';

function refusal(f: () => unknown): { status: number; code: string; header: unknown } | 'accepted' {
  try {
    f();
    return 'accepted';
  } catch (e) {
    if (!isProblemError(e)) throw e;
    return { status: e.status, code: e.code, header: e.extensions['header'] };
  }
}

describe('parseIdempotencyKey', () => {
  it('is undefined when absent', () => expect(parseIdempotencyKey(undefined)).toBeUndefined());
  it('accepts a bare token and a structured-field string, the same key either way', () => {
    expect(parseIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324')).toBe('8e03978e-40d5-43e8-bc93-6894a57f9324');
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toBe('8e03978e-40d5-43e8-bc93-6894a57f9324');
    expect(parseIdempotencyKey('"with space \\"and\\" \\\\ escapes"')).toBe('with space "and" \\ escapes');
    expect(parseIdempotencyKey('k'.repeat(255))).toHaveLength(255);
  });
  it('refuses with 400 invalid_header naming Idempotency-Key what is empty, too long, not ASCII, badly quoted or repeated', () => {
    const bad = ['', '   ', '""', 'k'.repeat(256), `"${'k'.repeat(256)}"`, 'has space', 'clé', 'a"b', '"open', '"a"b"', '"bad \\n escape"', '"tab\there"'];
    for (const v of bad) expect([v, refusal(() => parseIdempotencyKey(v))]).toEqual([v, { status: 400, code: 'invalid_header', header: 'Idempotency-Key' }]);
    expect(refusal(() => parseIdempotencyKey(['a', 'b']))).toEqual({ status: 400, code: 'invalid_header', header: 'Idempotency-Key' });
  });
});

describe('parseCancelAfter', () => {
  const MAX = 900_000;
  it('is undefined when absent', () => expect(parseCancelAfter(undefined, MAX)).toBeUndefined());
  it('reads seconds and durations of number+unit parts', () => {
    expect(parseCancelAfter('90', MAX)).toBe(90_000);
    expect(parseCancelAfter('2.5', MAX)).toBe(2_500);
    expect(parseCancelAfter('30s', MAX)).toBe(30_000);
    expect(parseCancelAfter('5m', MAX)).toBe(300_000);
    expect(parseCancelAfter('1m30.5s', MAX)).toBe(90_500);
    expect(parseCancelAfter('1500ms', MAX)).toBe(1_500);
    expect(parseCancelAfter(' 10s ', MAX)).toBe(10_000);
    expect(parseCancelAfter('1h30m', 2 * 3_600_000)).toBe(5_400_000);
  });
  it('refuses with 400 invalid_header naming Cancel-After a malformed, zero, sub-second, negative or over-deadline value', () => {
    const bad = ['', 'soon', '-5', '-5s', '5x', '5 s', 's', '1h 30m', '0', '0s', '999ms', '1e3', 'Infinity', '16m', '1h', '5s5', ' '.repeat(3), '9'.repeat(40)];
    for (const v of bad) expect([v, refusal(() => parseCancelAfter(v, MAX))]).toEqual([v, { status: 400, code: 'invalid_header', header: 'Cancel-After' }]);
    expect(refusal(() => parseCancelAfter(['5s', '6s'], MAX))).toEqual({ status: 400, code: 'invalid_header', header: 'Cancel-After' });
  });
});
