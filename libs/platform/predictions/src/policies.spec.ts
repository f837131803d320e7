import { describe, expect, it } from '@jest/globals';
import { ProblemError } from '#infra/errors';
import { decideFailure } from './failure-decision.js';
import { recoveryAction } from './recovery-policy.js';

describe('decideFailure (the one retry decision)', () => {
  const first = { attemptsMade: 0, maxAttempts: 3 };
  const last = { attemptsMade: 2, maxAttempts: 3 };

  it('fails bad input at once, never retried, with its own code', () => {
    expect(decideFailure(new ProblemError('invalid_input', 'not an image'), first)).toEqual({ action: 'fail', error: { code: 'invalid_input', message: 'not an image' }, exhausted: false });
  });

  it('retries an unavailable model, then fails it with model_unavailable', () => {
    const e = new ProblemError('model_unavailable', 'cold');
    expect(decideFailure(e, first).action).toBe('retry');
    expect(decideFailure(e, last)).toMatchObject({ action: 'fail', error: { code: 'model_unavailable' }, exhausted: true });
  });

  it('retries an unexpected error, then records the fallback without leaking the message', () => {
    const e = new Error('device lost at 0xdeadbeef');
    expect(decideFailure(e, first).action).toBe('retry');
    const final = decideFailure(e, last);
    expect(final).toMatchObject({ action: 'fail', error: { code: 'prediction_failed' }, exhausted: true });
    expect(JSON.stringify(final)).not.toContain('deadbeef');
  });

  it('a non-retryable fallback fails at once', () => {
    expect(decideFailure(new Error('Add node'), first, { code: 'model_error', message: 'The model failed', retryable: false })).toEqual({ action: 'fail', error: { code: 'model_error', message: 'The model failed' }, exhausted: false });
  });
});

describe('recoveryAction', () => {
  const now = new Date('2026-12-01T00:00:00Z');
  const alive = { deadlineAt: new Date(now.getTime() + 60_000) };
  it('re-enqueues an accepted prediction whose job the queue lost', () => expect(recoveryAction(alive, 'unknown', now)).toBe('requeue'));
  it('leaves waiting, delayed, prioritized and running jobs alone', () => {
    for (const s of ['waiting', 'prioritized', 'delayed', 'active', 'waiting-children']) expect(recoveryAction(alive, s, now)).toBe('none');
  });
  it('fails a prediction whose job failed for good, and replaces a job that completed without finishing it', () => {
    expect(recoveryAction(alive, 'failed', now)).toBe('fail_lost');
    expect(recoveryAction(alive, 'completed', now)).toBe('replace');
  });
  it('fails a prediction past its deadline whatever its job does', () => {
    for (const s of ['unknown', 'waiting', 'active']) expect(recoveryAction({ deadlineAt: now }, s, now)).toBe('fail_deadline');
  });
  it("cancels a prediction past the client's Cancel-After, and not before", () => {
    for (const s of ['unknown', 'waiting', 'active']) expect(recoveryAction({ deadlineAt: now, cancelAt: now }, s, now)).toBe('cancel_deadline');
    expect(recoveryAction({ ...alive, cancelAt: new Date(now.getTime() + 1) }, 'active', now)).toBe('none');
    expect(recoveryAction({ deadlineAt: now, cancelAt: null }, 'active', now)).toBe('fail_deadline');
  });
});
