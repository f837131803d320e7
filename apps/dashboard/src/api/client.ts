// The one typed client of the public API the dashboard uses: same origin, the session cookie
// (sent by the browser, HttpOnly, never readable here) and the CSRF token on every
// state-changing request. The token lives in memory only (never in local or session storage).
import type {
  ApiKey,
  ApiKeyWithSecret,
  AuditEntry,
  BillingAccount,
  Invitation,
  InvitationWithToken,
  Invoice,
  KeyMode,
  List,
  Me,
  Member,
  Problem,
  Role,
  Scope,
  Stats,
  UpcomingInvoice,
  Usage,
  UsageQuery,
  WebhookAttempt,
  WebhookEndpoint,
  WebhookMessage,
  WebhookSecretInfo,
} from './types.js';

/** A failed call: the problem+json body when the API sent one, or a synthesized problem for a network failure. */
export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title);
  }
  get status(): number {
    return this.problem.status;
  }
  get code(): string {
    return this.problem.code;
  }
}

type Query = Record<string, string | number | boolean | readonly string[] | undefined | null>;

export function queryString(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

const seg = (s: string): string => encodeURIComponent(s);

export class ApiClient {
  private csrf: string | null = null;
  /** Called on a 401 from any call but log-in (the session ended): the app shows the log-in page. */
  onUnauthenticated: (() => void) | null = null;

  constructor(private readonly base = '') {}

  setCsrf(token: string | null): void {
    this.csrf = token;
  }

  async request<T>(method: string, path: string, opts: { query?: Query; body?: unknown; quiet401?: boolean } = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.csrf) headers['x-csrf-token'] = this.csrf;
    let res: Response;
    try {
      res = await fetch(this.base + path + queryString(opts.query), {
        method,
        headers,
        credentials: 'same-origin',
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      });
    } catch (e) {
      throw new ApiError({ title: 'Network error', status: 0, code: 'network_error', detail: `The API could not be reached (${e instanceof Error ? e.message : String(e)}).` });
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!res.ok) {
      const p = (body && typeof body === 'object' ? body : {}) as Partial<Problem>;
      const problem: Problem = {
        title: p.title ?? res.statusText,
        status: res.status,
        code: p.code ?? `http_${res.status}`,
        detail: p.detail ?? `${method} ${path} answered ${res.status}.`,
        ...(p.requestId ? { requestId: p.requestId } : {}),
        ...(p.errors ? { errors: p.errors } : {}),
      };
      if (res.status === 401 && !opts.quiet401) this.onUnauthenticated?.();
      throw new ApiError(problem);
    }
    return body as T;
  }

  // ---- accounts ----
  signup(body: { email: string; password: string; name?: string; organization_name?: string }) {
    return this.request<{ object: 'signup'; email: string }>('POST', '/v1/auth/signup', { body });
  }
  async login(email: string, password: string): Promise<Me> {
    const me = await this.request<Me>('POST', '/v1/auth/login', { body: { email, password }, quiet401: true });
    this.csrf = me.csrf_token;
    return me;
  }
  async logout(): Promise<void> {
    await this.request<void>('POST', '/v1/auth/logout');
    this.csrf = null;
  }
  async me(): Promise<Me> {
    const me = await this.request<Me>('GET', '/v1/me', { quiet401: true });
    this.csrf = me.csrf_token;
    return me;
  }

  // ---- traffic figures (this branch) and the usage/billing contract ----
  stats(org: string, q: { mode?: KeyMode; window_hours?: number } = {}) {
    return this.request<Stats>('GET', `/v1/orgs/${seg(org)}/stats`, { query: q });
  }
  usage(org: string, q: UsageQuery) {
    return this.request<Usage>('GET', `/v1/orgs/${seg(org)}/usage`, { query: { ...q } });
  }
  upcomingInvoice(org: string) {
    return this.request<UpcomingInvoice>('GET', `/v1/orgs/${seg(org)}/billing/upcoming`);
  }
  billing(org: string) {
    return this.request<BillingAccount>('GET', `/v1/orgs/${seg(org)}/billing`);
  }
  invoices(org: string, startingAfter?: string) {
    return this.request<{ data: Invoice[]; next_cursor: string | null }>('GET', `/v1/orgs/${seg(org)}/billing/invoices`, { query: { starting_after: startingAfter } });
  }
  changePlan(org: string, plan: string) {
    return this.request<unknown>('PUT', `/v1/orgs/${seg(org)}/plan`, { body: { plan } });
  }
  checkout(org: string, plan: string) {
    return this.request<{ url: string }>('POST', `/v1/orgs/${seg(org)}/billing/checkout`, { body: { plan } });
  }
  portal(org: string) {
    return this.request<{ url: string }>('POST', `/v1/orgs/${seg(org)}/billing/portal`);
  }

  // ---- API keys ----
  keys(org: string, q: { mode?: KeyMode; include_revoked?: boolean; limit?: number; starting_after?: string } = {}) {
    return this.request<List<ApiKey>>('GET', `/v1/orgs/${seg(org)}/api-keys`, { query: { ...q, include_revoked: q.include_revoked ? 'true' : undefined } });
  }
  createKey(org: string, body: { name: string; mode: KeyMode; scopes: Scope[]; expires_at?: string }) {
    return this.request<ApiKeyWithSecret>('POST', `/v1/orgs/${seg(org)}/api-keys`, { body });
  }
  updateKey(org: string, id: string, body: { name?: string; scopes?: Scope[]; expires_at?: string | null }) {
    return this.request<ApiKey>('PATCH', `/v1/orgs/${seg(org)}/api-keys/${seg(id)}`, { body });
  }
  rollKey(org: string, id: string, graceSeconds: number) {
    return this.request<ApiKeyWithSecret>('POST', `/v1/orgs/${seg(org)}/api-keys/${seg(id)}/roll`, { body: { grace_period_seconds: graceSeconds } });
  }
  revokeKey(org: string, id: string) {
    return this.request<ApiKey>('POST', `/v1/orgs/${seg(org)}/api-keys/${seg(id)}/revoke`);
  }

  // ---- members and invitations ----
  members(org: string, startingAfter?: string) {
    return this.request<List<Member>>('GET', `/v1/orgs/${seg(org)}/members`, { query: { limit: 100, starting_after: startingAfter } });
  }
  updateMember(org: string, id: string, role: Role) {
    return this.request<Member>('PATCH', `/v1/orgs/${seg(org)}/members/${seg(id)}`, { body: { role } });
  }
  removeMember(org: string, id: string) {
    return this.request<void>('DELETE', `/v1/orgs/${seg(org)}/members/${seg(id)}`);
  }
  invitations(org: string) {
    return this.request<List<Invitation>>('GET', `/v1/orgs/${seg(org)}/invitations`, { query: { limit: 100 } });
  }
  invite(org: string, body: { email: string; role: Role }) {
    return this.request<InvitationWithToken>('POST', `/v1/orgs/${seg(org)}/invitations`, { body });
  }
  revokeInvitation(org: string, id: string) {
    return this.request<void>('DELETE', `/v1/orgs/${seg(org)}/invitations/${seg(id)}`);
  }

  // ---- audit log ----
  auditLog(org: string, q: { action?: string; actor_id?: string; target_id?: string; since?: string; until?: string; starting_after?: string; limit?: number }) {
    return this.request<List<AuditEntry>>('GET', `/v1/orgs/${seg(org)}/audit-log`, { query: q });
  }

  // ---- webhooks ----
  endpoints(org: string) {
    return this.request<List<WebhookEndpoint>>('GET', `/v1/orgs/${seg(org)}/webhook-endpoints`, { query: { limit: 100 } });
  }
  createEndpoint(org: string, body: { url: string; event_types: string[]; description?: string }) {
    return this.request<WebhookEndpoint & { secret?: string }>('POST', `/v1/orgs/${seg(org)}/webhook-endpoints`, { body });
  }
  updateEndpoint(org: string, id: string, body: { enabled?: boolean; event_types?: string[]; description?: string; url?: string }) {
    return this.request<WebhookEndpoint>('PATCH', `/v1/orgs/${seg(org)}/webhook-endpoints/${seg(id)}`, { body });
  }
  deleteEndpoint(org: string, id: string) {
    return this.request<void>('DELETE', `/v1/orgs/${seg(org)}/webhook-endpoints/${seg(id)}`);
  }
  webhookSecret(org: string) {
    return this.request<WebhookSecretInfo>('GET', `/v1/orgs/${seg(org)}/webhook-secret`);
  }
  rotateWebhookSecret(org: string) {
    return this.request<{ secret: string; rotated_at: string; previous_valid_until: string | null }>('POST', `/v1/orgs/${seg(org)}/webhook-secret/rotate`);
  }
  messages(org: string, q: { endpoint_id?: string; starting_after?: string } = {}) {
    return this.request<List<WebhookMessage>>('GET', `/v1/orgs/${seg(org)}/webhook-messages`, { query: { limit: 25, ...q } });
  }
  messageAttempts(org: string, id: string) {
    return this.request<List<WebhookAttempt>>('GET', `/v1/orgs/${seg(org)}/webhook-messages/${seg(id)}/attempts`, { query: { limit: 20 } });
  }
  replay(org: string, id: string) {
    return this.request<{ id: string; status: 'pending' }>('POST', `/v1/orgs/${seg(org)}/webhook-messages/${seg(id)}/replay`);
  }

  /** Webhook event types as the API's own document lists them (new types appear without a dashboard change). */
  async webhookEventTypes(): Promise<string[]> {
    const doc = await this.request<{ components?: { schemas?: Record<string, { properties?: { event_types?: { items?: { enum?: string[] } } } }> } }>('GET', '/openapi.json');
    return doc.components?.schemas?.['WebhookEndpoint']?.properties?.event_types?.items?.enum ?? [];
  }
}

export const api = new ApiClient();
