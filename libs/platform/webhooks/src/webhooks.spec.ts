import { describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { allowList, classifyAddress, decideAddress, embeddedIPv4, resolveTarget } from './address.js';
import { filtersOf, predictionWebhookWants, endpointWants } from './prediction-events.js';
import { MAX_RETRY_AFTER_MS, nextRetryDelay, parseRetryAfter, parseSchedule, verdictOf } from './schedule.js';
import { signingSecrets } from './secrets.js';
import { generateSecret, sign, signedHeaders } from './signature.js';
import { webhookUrlProblem } from './endpoint-input.js';

describe('signing (Standard Webhooks)', () => {
  it('produces headers the reference library verifies, and that fail with another secret or body', () => {
    const secret = generateSecret();
    const body = JSON.stringify({ type: 'prediction.succeeded', data: { id: 'p1' } });
    const ts = Math.floor(Date.now() / 1000);
    const headers = signedHeaders([secret], 'msg_1', ts, body);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateSecret()).verify(body, { ...headers })).toThrow();
    expect(() => new Webhook(secret).verify(body + ' ', { ...headers })).toThrow();
  });

  it('signs with both secrets during a rotation overlap: each secret alone verifies', () => {
    const [oldS, newS] = [generateSecret(), generateSecret()];
    const body = '{"a":1}';
    const headers = signedHeaders([newS, oldS], 'msg_2', Math.floor(Date.now() / 1000), body);
    expect(headers['webhook-signature'].split(' ')).toEqual([sign(newS, 'msg_2', Number(headers['webhook-timestamp']), body), sign(oldS, 'msg_2', Number(headers['webhook-timestamp']), body)]);
    for (const s of [oldS, newS]) expect(new Webhook(s).verify(body, { ...headers })).toEqual({ a: 1 });
  });

  it('keeps the previous secret only until the overlap ends', () => {
    const now = new Date('2026-12-01T00:00:00Z');
    const row = { secret: 'whsec_new', previous: 'whsec_old', previousUntil: new Date(now.getTime() + 1000) };
    expect(signingSecrets(row, now)).toEqual(['whsec_new', 'whsec_old']);
    expect(signingSecrets(row, new Date(now.getTime() + 1000))).toEqual(['whsec_new']);
    expect(signingSecrets({ ...row, previous: null, previousUntil: null }, now)).toEqual(['whsec_new']);
  });
});

describe('retry schedule', () => {
  it('parses durations', () => {
    expect(parseSchedule('5s,5m,30m,2h,5h,10h')).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000]);
    expect(parseSchedule('50ms, 1s')).toEqual([50, 1_000]);
    expect(() => parseSchedule('5x')).toThrow(/duration/);
  });

  it('waits the schedule ±10 % jitter, then gives up', () => {
    const s = [5_000, 300_000];
    expect(nextRetryDelay(s, 1, null, 0)).toBe(4_500);
    expect(nextRetryDelay(s, 1, null, 0.5)).toBe(5_000);
    expect(nextRetryDelay(s, 1, null, 0.999999)).toBe(5_500);
    expect(nextRetryDelay(s, 2, null, 0.5)).toBe(300_000);
    expect(nextRetryDelay(s, 3, null, 0.5)).toBeNull();
  });

  it("never retries before the receiver's Retry-After, capped at 24 h", () => {
    expect(nextRetryDelay([5_000], 1, 60_000, 0.5)).toBe(60_000);
    expect(nextRetryDelay([5_000], 1, 1_000, 0.5)).toBe(5_000);
    expect(nextRetryDelay([5_000], 1, 10 * MAX_RETRY_AFTER_MS, 0.5)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-12-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('calls 2xx delivered, 410 gone and everything else (or no answer) a retry', () => {
    expect([200, 204, 299, 410, 301, 400, 429, 500, null].map(verdictOf)).toEqual(['delivered', 'delivered', 'delivered', 'gone', 'retry', 'retry', 'retry', 'retry', 'retry']);
  });
});

describe('target addresses', () => {
  it('classifies IPv4 and IPv6 addresses, IPv6 carrying IPv4 by the IPv4', () => {
    const cases: [string, string][] = [
      ['8.8.8.8', 'public'],
      ['127.0.0.1', 'loopback'],
      ['127.255.0.9', 'loopback'],
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['172.32.0.1', 'public'],
      ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'],
      ['169.254.169.254', 'metadata'],
      ['169.254.1.1', 'link-local'],
      ['0.0.0.0', 'unspecified'],
      ['224.0.0.1', 'multicast'],
      ['255.255.255.255', 'reserved'],
      ['2606:4700::1111', 'public'],
      ['::1', 'loopback'],
      ['::', 'unspecified'],
      ['fe80::1', 'link-local'],
      ['fd00::1', 'private'],
      ['fc12::1', 'private'],
      ['fd00:ec2::254', 'metadata'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['::ffff:169.254.169.254', 'metadata'],
      ['::ffff:10.0.0.1', 'private'],
      ['::ffff:8.8.8.8', 'public'],
      ['64:ff9b::a9fe:a9fe', 'metadata'],
      ['::10.0.0.1', 'private'],
      ['2002:7f00:1::', 'reserved'],
      ['ff02::1', 'multicast'],
    ];
    expect(cases.map(([a]) => [a, classifyAddress(a)])).toEqual(cases);
    expect(embeddedIPv4('::ffff:c0a8:101')).toBe('192.168.1.1');
    expect(embeddedIPv4('2606:4700::1111')).toBeNull();
  });

  it('allows a non-public address only inside the allow list (mapped addresses by their IPv4)', () => {
    const loopback = allowList(['127.0.0.0/8', '::1/128']);
    expect(decideAddress('127.0.0.1', loopback).allowed).toBe(true);
    expect(decideAddress('::1', loopback).allowed).toBe(true);
    expect(decideAddress('::ffff:127.0.0.1', loopback).allowed).toBe(true);
    expect(decideAddress('10.0.0.1', loopback)).toEqual({ address: '10.0.0.1', cls: 'private', allowed: false });
    expect(decideAddress('169.254.169.254', loopback).allowed).toBe(false);
    expect(decideAddress('fd00::1', loopback).allowed).toBe(false);
    expect(decideAddress('8.8.8.8', allowList([])).allowed).toBe(true);
    expect(decideAddress('127.0.0.1', allowList([])).allowed).toBe(false);
    expect(() => allowList(['10.0.0.0/33'])).toThrow();
  });

  it('refuses a name when any address it resolves to is refused, and answers the checked address', async () => {
    const loopback = allowList(['127.0.0.0/8']);
    const dns: Record<string, string[]> = { 'hooks.example': ['127.0.0.1'], 'rebind.example': ['127.0.0.1', '169.254.169.254'], 'inside.example': ['10.0.0.7'] };
    const resolve = async (h: string) => (dns[h] ?? []).map((address) => ({ address, family: 4 as const }));
    expect(await resolveTarget('hooks.example', resolve, loopback)).toEqual({ ok: true, address: { address: '127.0.0.1', family: 4 } });
    expect(await resolveTarget('rebind.example', resolve, loopback)).toEqual({ ok: false, reason: 'refused: rebind.example resolves to 169.254.169.254 (metadata)' });
    expect(await resolveTarget('inside.example', resolve, loopback)).toEqual({ ok: false, reason: 'refused: inside.example resolves to 10.0.0.7 (private)' });
    expect(await resolveTarget('[::ffff:a9fe:a9fe]', resolve, loopback)).toMatchObject({ ok: false });
    expect(await resolveTarget('nowhere.example', resolve, loopback)).toMatchObject({ ok: false, reason: 'nowhere.example resolves to no address' });
  });

  it('checks the URL at registration: https unless http is allowed, no credentials', () => {
    expect(webhookUrlProblem('https://hooks.example/x', false)).toBeNull();
    expect(webhookUrlProblem('http://hooks.example/x', false)).toBe('must be an https:// URL');
    expect(webhookUrlProblem('http://hooks.example/x', true)).toBeNull();
    expect(webhookUrlProblem('ftp://hooks.example/x', true)).toBe('must be an http:// or https:// URL');
    expect(webhookUrlProblem('https://u:p@hooks.example/', false)).toBe('must not carry credentials');
    expect(webhookUrlProblem('not a url', false)).toBe('must be an absolute URL');
  });
});

describe('events → webhooks', () => {
  it("maps lifecycle events to Replicate's filter names", () => {
    expect(filtersOf('prediction.created')).toEqual([]);
    expect(filtersOf('prediction.started')).toEqual(['start']);
    expect(filtersOf('prediction.succeeded')).toEqual(['output', 'completed']);
    expect(filtersOf('prediction.failed')).toEqual(['completed']);
    expect(filtersOf('prediction.canceled')).toEqual(['completed']);
  });

  it("respects a prediction's events filter (empty: all)", () => {
    expect(predictionWebhookWants([], 'prediction.started')).toBe(true);
    expect(predictionWebhookWants([], 'prediction.created')).toBe(false);
    expect(predictionWebhookWants(['completed'], 'prediction.started')).toBe(false);
    expect(predictionWebhookWants(['completed'], 'prediction.succeeded')).toBe(true);
    expect(predictionWebhookWants(['output'], 'prediction.succeeded')).toBe(true);
    expect(predictionWebhookWants(['output'], 'prediction.failed')).toBe(false);
    expect(predictionWebhookWants(['start'], 'prediction.canceled')).toBe(false);
    expect(predictionWebhookWants(['logs'], 'prediction.succeeded')).toBe(false);
  });

  it("sends an endpoint the event types it subscribed to (empty: all)", () => {
    expect(endpointWants([], 'prediction.created')).toBe(true);
    expect(endpointWants(['prediction.failed'], 'prediction.succeeded')).toBe(false);
    expect(endpointWants(['prediction.failed'], 'prediction.failed')).toBe(true);
  });
});
