import { describe, expect, it } from '@jest/globals';
import { MAX_WAIT_SECONDS, parsePreferWait } from './prefer-wait.js';

describe('parsePreferWait', () => {
  it('is null without the preference', () => {
    expect(parsePreferWait(undefined)).toBeNull();
    expect(parsePreferWait('respond-async')).toBeNull();
    expect(parsePreferWait('')).toBeNull();
  });
  it('reads wait and wait=N, clamped to 1..60', () => {
    expect(parsePreferWait('wait')).toBe(MAX_WAIT_SECONDS);
    expect(parsePreferWait('wait=5')).toBe(5);
    expect(parsePreferWait('wait="7"')).toBe(7);
    expect(parsePreferWait('wait=0')).toBe(1);
    expect(parsePreferWait('wait=3600')).toBe(60);
    expect(parsePreferWait('wait=99999999999999')).toBe(60);
    expect(parsePreferWait('WAIT = 9')).toBe(9);
  });
  it('finds wait among other preferences and header lines', () => {
    expect(parsePreferWait('return=minimal, wait=10')).toBe(10);
    expect(parsePreferWait(['handling=lenient', 'wait=3'])).toBe(3);
  });
  it('ignores a wait it cannot honour (RFC 7240), never failing and never waiting the maximum for it', () => {
    for (const v of ['wait=-5', 'wait=soon', 'wait=1.5', 'wait=-0', 'wait="-5"', 'wait=5s']) expect(parsePreferWait(v)).toBeNull();
  });
  it('uses a later honourable wait after an unhonourable one', () => {
    expect(parsePreferWait('wait=-5, wait=4')).toBe(4);
  });
});
