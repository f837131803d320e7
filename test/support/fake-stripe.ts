// A fake Stripe API on 127.0.0.1 for the real `stripe` client (STRIPE_API_BASE): it records
// every request, replays Idempotency-Key retries as Stripe does, enforces the meter-event
// identifier dedupe, fails on demand (503/429, then recovers) and serves the objects the
// platform reads back (customers, subscriptions, invoices, checkout and portal sessions).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

export interface RecordedRequest {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  body: Record<string, unknown>;
}

export interface AcceptedMeterEvent {
  identifier: string;
  eventName: string;
  customerId: string;
  value: number;
  timestamp: number;
}

type Json = Record<string, unknown>;

/** Stripe's form encoding (a[b][c]=v, a[0]=v) back into objects. */
function parseForm(text: string): Json {
  const out: Json = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const parts = key.replace(/\]/g, '').split('[');
    let node: Json = out;
    parts.forEach((p, i) => {
      if (i === parts.length - 1) node[p] = value;
      else node = (node[p] ??= {}) as Json;
    });
  }
  return out;
}

const id = (prefix: string): string => `${prefix}_${randomBytes(8).toString('hex')}`;

export class FakeStripe {
  readonly requests: RecordedRequest[] = [];
  readonly meterEvents = new Map<string, AcceptedMeterEvent>();
  readonly customers = new Map<string, Json>();
  readonly subscriptions = new Map<string, Json>();
  readonly invoices = new Map<string, Json>();
  /** Meter-event requests refused as duplicates of an accepted identifier (without an idempotent replay). */
  duplicatesRefused = 0;
  private readonly idempotent = new Map<string, { status: number; body: unknown }>();
  private failures: { status: number; remaining: number; paths: RegExp } | null = null;
  private server!: Server;
  url = '';

  static async start(): Promise<FakeStripe> {
    const f = new FakeStripe();
    f.server = createServer((req, res) => void f.handle(req, res));
    await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', resolve));
    f.url = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`;
    return f;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next `count` matching requests (Infinity: until `recover()`) answer `status`. */
  fail(status: 503 | 429 | 500, count = Infinity, paths = /./): void {
    this.failures = { status, remaining: count, paths };
  }

  recover(): void {
    this.failures = null;
  }

  /** Units Stripe accepted (unique identifiers), optionally for one customer. */
  acknowledgedUnits(customerId?: string): number {
    let sum = 0;
    for (const e of this.meterEvents.values()) if (customerId === undefined || e.customerId === customerId) sum += e.value;
    return sum;
  }

  meterRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === '/v1/billing/meter_events');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const body = req.method === 'GET' ? Object.fromEntries(url.searchParams) : parseForm(Buffer.concat(chunks).toString('utf8'));
    const idem = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
    this.requests.push({ method: req.method ?? '', path: url.pathname, idempotencyKey: idem, body });
    const send = (status: number, payload: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req') });
      res.end(JSON.stringify(payload));
    };
    const f = this.failures;
    if (f && f.remaining > 0 && f.paths.test(url.pathname)) {
      f.remaining--;
      send(f.status, { error: { type: f.status === 429 ? 'invalid_request_error' : 'api_error', code: f.status === 429 ? 'rate_limit' : undefined, message: `fake Stripe is failing (${f.status})` } });
      return;
    }
    if (idem) {
      const replay = this.idempotent.get(`${req.method} ${url.pathname} ${idem}`);
      if (replay) return send(replay.status, replay.body);
    }
    const [status, payload] = this.route(req.method ?? 'GET', url.pathname, body);
    if (idem && status < 500) this.idempotent.set(`${req.method} ${url.pathname} ${idem}`, { status, body: payload });
    send(status, payload);
  }

  private route(method: string, path: string, body: Json): [number, unknown] {
    const notFound: [number, unknown] = [404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such object: ${path}` } }];
    if (method === 'POST' && path === '/v1/billing/meter_events') {
      const identifier = typeof body['identifier'] === 'string' ? body['identifier'] : id('mev');
      const payload = (body['payload'] ?? {}) as Json;
      if (this.meterEvents.has(identifier)) {
        this.duplicatesRefused++;
        return [400, { error: { type: 'invalid_request_error', code: 'resource_already_exists', message: `An event with identifier ${identifier} already exists.` } }];
      }
      const e: AcceptedMeterEvent = { identifier, eventName: String(body['event_name']), customerId: String(payload['stripe_customer_id']), value: Number(payload['value']), timestamp: Number(body['timestamp']) };
      this.meterEvents.set(identifier, e);
      return [200, { object: 'billing.meter_event', created: Math.floor(Date.now() / 1000), event_name: e.eventName, identifier, livemode: false, payload, timestamp: e.timestamp }];
    }
    if (method === 'POST' && path === '/v1/customers') {
      const c = { id: id('cus'), object: 'customer', name: body['name'] ?? null, metadata: body['metadata'] ?? {}, created: Math.floor(Date.now() / 1000) };
      this.customers.set(c.id, c);
      return [200, c];
    }
    let m = /^\/v1\/customers\/([^/]+)$/.exec(path);
    if (m && method === 'GET') return this.customers.has(m[1]!) ? [200, this.customers.get(m[1]!)] : notFound;
    m = /^\/v1\/subscriptions\/([^/]+)$/.exec(path);
    if (m && method === 'GET') return this.subscriptions.has(m[1]!) ? [200, this.subscriptions.get(m[1]!)] : notFound;
    m = /^\/v1\/invoices\/([^/]+)$/.exec(path);
    if (m && method === 'GET') return this.invoices.has(m[1]!) ? [200, this.invoices.get(m[1]!)] : notFound;
    if (method === 'GET' && path === '/v1/invoices') {
      const data = [...this.invoices.values()].filter((i) => i['customer'] === body['customer']).reverse();
      return [200, { object: 'list', url: '/v1/invoices', has_more: false, data }];
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      const s = id('cs');
      return [200, { id: s, object: 'checkout.session', mode: 'subscription', customer: body['customer'], client_reference_id: body['client_reference_id'] ?? null, metadata: body['metadata'] ?? {}, url: `https://checkout.stripe.test/c/${s}` }];
    }
    if (method === 'POST' && path === '/v1/billing_portal/sessions') {
      const s = id('bps');
      return [200, { id: s, object: 'billing_portal.session', customer: body['customer'], return_url: body['return_url'], url: `https://billing.stripe.test/p/${s}` }];
    }
    return notFound;
  }

  /** Stores a subscription as Stripe would return it (the state the platform re-reads). */
  putSubscription(s: { id: string; customer: string; status: string; plan?: string; orgId?: string }): Json {
    const obj: Json = { id: s.id, object: 'subscription', customer: s.customer, status: s.status, metadata: { ...(s.plan ? { plan: s.plan } : {}), ...(s.orgId ? { org_id: s.orgId } : {}) }, items: { object: 'list', data: [] }, created: Math.floor(Date.now() / 1000) };
    this.subscriptions.set(s.id, obj);
    return obj;
  }

  putInvoice(i: { id: string; customer: string; status: string; amountDue: number; subscription?: string }): Json {
    const obj: Json = { id: i.id, object: 'invoice', customer: i.customer, status: i.status, amount_due: i.amountDue, amount_paid: i.status === 'paid' ? i.amountDue : 0, currency: 'usd', number: `INV-${i.id.slice(-6)}`, hosted_invoice_url: `https://invoice.stripe.test/${i.id}`, created: Math.floor(Date.now() / 1000), parent: i.subscription ? { subscription_details: { subscription: i.subscription } } : null };
    this.invoices.set(i.id, obj);
    return obj;
  }
}

/** An event as Stripe would POST it, with a real `Stripe-Signature` (stripe.webhooks helpers). */
export function signedStripeEvent(secret: string, type: string, object: Json, opts: { id?: string; timestamp?: number; created?: number } = {}): { payload: string; signature: string; id: string } {
  const evId = opts.id ?? id('evt');
  const payload = JSON.stringify({ id: evId, object: 'event', api_version: '2026-10-28', created: opts.created ?? Math.floor(Date.now() / 1000), type, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, data: { object } });
  const stripe = new Stripe('sk_test_fake');
  const signature = stripe.webhooks.generateTestHeaderString({ payload, secret, ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}) });
  return { payload, signature, id: evId };
}
