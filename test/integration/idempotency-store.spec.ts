// The Idempotency-Key store on the real Postgres: one claim under a race, takeover of an
// abandoned claim by the same request only, replay of the stored response, expiry and its
// purge. The clock is the `now` argument: no sleeping.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { IdempotencyStore } from '#platform/idempotency';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const HOUR = 3_600_000;
let db: TestDatabase;
let store: IdempotencyStore;

beforeAll(async () => {
  db = await createTestDatabase('idempotency_store');
  const config = { env: { IDEMPOTENCY_TTL_HOURS: 24, IDEMPOTENCY_LOCK_SECONDS: 120, API_KEY_PEPPER: 'p'.repeat(40), SYSTEM_JOBS: 'off' } };
  store = new IdempotencyStore(db.prisma, config as never);
});

afterAll(async () => {
  await db?.drop();
});

describe('IdempotencyStore', () => {
  it('gives a key to exactly one of 30 concurrent identical requests; the others are told it is in flight', async () => {
    const key = randomUUID();
    const now = new Date();
    const results = await Promise.all(Array.from({ length: 30 }, () => store.begin('org:a:live', key, 'h1', now)));
    expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'in_flight')).toHaveLength(29);
  });

  it('replays what the claim completed with; another request under the key is a mismatch; another scope is free', async () => {
    const key = randomUUID();
    const now = new Date();
    const begun = await store.begin('org:a:live', key, 'h1', now);
    if (begun.kind !== 'claimed') throw new Error('not claimed');
    await store.complete(begun.claim, { status: 202, headers: { location: '/v1/predictions/x' }, body: { id: 'x', secret: 'sk_live_s3cret' } });
    expect(await store.begin('org:a:live', key, 'h1', now)).toEqual({ kind: 'replay', response: { status: 202, headers: { location: '/v1/predictions/x' }, body: { id: 'x', secret: 'sk_live_s3cret' } } });
    expect(await store.begin('org:a:live', key, 'h2', now)).toEqual({ kind: 'mismatch' });
    expect((await store.begin('org:a:test', key, 'h2', now)).kind).toBe('claimed');
    const row = await db.prisma.idempotentRequest.findUniqueOrThrow({ where: { scope_key: { scope: 'org:a:live', key } } });
    expect(Buffer.from(row.response!).includes(Buffer.from('sk_live_s3cret'))).toBe(false);
  });

  it('lets a released key be claimed again (an error stores nothing)', async () => {
    const key = randomUUID();
    const first = await store.begin('org:a:live', key, 'h1');
    if (first.kind !== 'claimed') throw new Error('not claimed');
    await store.release(first.claim);
    expect((await store.begin('org:a:live', key, 'h2')).kind).toBe('claimed');
  });

  it('hands an abandoned claim to the same request after the lock time, never to another one; the old holder cannot complete it', async () => {
    const key = randomUUID();
    const t0 = new Date();
    const first = await store.begin('org:a:live', key, 'h1', t0);
    if (first.kind !== 'claimed') throw new Error('not claimed');
    const later = new Date(t0.getTime() + 120_000);
    expect(await store.begin('org:a:live', key, 'h1', new Date(later.getTime() - 1))).toEqual({ kind: 'in_flight' });
    expect(await store.begin('org:a:live', key, 'h2', later)).toEqual({ kind: 'mismatch' });
    const second = await store.begin('org:a:live', key, 'h1', later);
    expect(second.kind).toBe('claimed');
    // The first holder wakes up late: its response is not the one kept.
    await store.complete(first.claim, { status: 201, headers: {}, body: { from: 'first' } });
    expect((await store.begin('org:a:live', key, 'h1', later)).kind).toBe('in_flight');
  });

  it('treats a record older than the TTL as absent, and purges it', async () => {
    const key = randomUUID();
    const t0 = new Date(Date.now() - 48 * HOUR);
    const first = await store.begin('org:b:live', key, 'h1', t0);
    if (first.kind !== 'claimed') throw new Error('not claimed');
    await store.complete(first.claim, { status: 201, headers: {}, body: {} });
    expect((await store.begin('org:b:live', key, 'h2', new Date(t0.getTime() + 24 * HOUR - 1))).kind).toBe('mismatch');
    const keep = randomUUID();
    await store.begin('org:b:live', keep, 'h1');
    expect(await store.purgeExpired()).toBe(1);
    expect(await db.prisma.idempotentRequest.count({ where: { scope: 'org:b:live' } })).toBe(1);
    expect((await store.begin('org:b:live', key, 'h2')).kind).toBe('claimed');
  });
});
