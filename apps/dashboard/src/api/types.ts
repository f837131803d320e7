// The shapes the dashboard reads, as the public API answers them (README, /openapi.json).
// The usage, billing and plan shapes follow the cross-branch contract (docs/DECISIONS.md,
// "Dashboard"): those routes may answer 404 until they ship, which the pages show as an error.

export type Role = 'owner' | 'admin' | 'developer' | 'billing' | 'viewer';
export const ROLES: readonly Role[] = ['owner', 'admin', 'developer', 'billing', 'viewer'];
export type Permission =
  | 'org:read'
  | 'org:write'
  | 'members:read'
  | 'members:write'
  | 'keys:read'
  | 'keys:write'
  | 'models:write'
  | 'webhooks:read'
  | 'webhooks:write'
  | 'billing:read'
  | 'billing:write'
  | 'usage:read'
  | 'audit:read';

export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId?: string;
  errors?: { path: string; message: string }[];
}

export interface Membership {
  org_id: string;
  slug: string;
  name: string;
  role: Role;
  permissions: Permission[];
}

export interface Me {
  object: 'user';
  id: string;
  email: string;
  name: string | null;
  created_at: string;
  memberships: Membership[];
  csrf_token: string;
}

export interface List<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

export type KeyMode = 'live' | 'test';
export const SCOPES = ['predict', 'usage:read', 'keys:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKey {
  id: string;
  object: 'api_key';
  name: string;
  mode: KeyMode;
  livemode: boolean;
  display_prefix: string;
  scopes: Scope[];
  rate_limit_per_minute: number | null;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  rolled_to: string | null;
  created_by: { type: string; id: string } | null;
  created_at: string;
  status: 'active' | 'rolled' | 'expired' | 'revoked';
}
export type ApiKeyWithSecret = ApiKey & { secret: string };

export interface Member {
  id: string;
  object: 'member';
  user: { id: string; email: string; name: string | null };
  role: Role;
  created_at: string;
}

export interface Invitation {
  id: string;
  object: 'invitation';
  email: string;
  role: Role;
  status: 'pending' | 'accepted' | 'revoked' | 'expired';
  invited_by: string | null;
  expires_at: string;
  created_at: string;
}
export type InvitationWithToken = Invitation & { token: string };

export interface AuditEntry {
  id: string;
  object: 'audit_entry';
  action: string;
  actor: { type: 'user' | 'api_key'; id: string };
  target: { type: string; id: string | null };
  ip: string | null;
  changes: unknown;
  created_at: string;
}

export interface WebhookEndpoint {
  id: string;
  object: 'webhook_endpoint';
  url: string;
  event_types: string[];
  description: string;
  enabled: boolean;
  disabled_reason: string | null;
  created_at: string;
  updated_at: string;
}
export interface WebhookMessage {
  id: string;
  object: 'webhook_message';
  endpoint_id: string | null;
  url: string;
  event_type: string;
  status: 'pending' | 'succeeded' | 'failed' | 'canceled';
  attempts: number;
  next_attempt_at: string | null;
  delivered_at: string | null;
  created_at: string;
}
export interface WebhookAttempt {
  id: string;
  message_id: string;
  endpoint_id: string | null;
  url: string;
  attempt: number;
  trigger: 'initial' | 'retry' | 'replay';
  status: number | null;
  response: string;
  duration_ms: number;
  created_at: string;
}
export interface WebhookSecretInfo {
  object: 'webhook_secret';
  exists: boolean;
  rotated_at: string | null;
  previous_valid_until: string | null;
}

/** GET /v1/orgs/{org}/stats (this branch). */
export interface Stats {
  object: 'stats';
  mode: KeyMode;
  window: { start: string; end: string };
  predictions: { total: number; succeeded: number; failed: number; canceled: number; pending: number; error_rate: number | null };
  latency_ms: { p50: number | null; p95: number | null };
  rate_limit: { per_minute: number; burst: number; peak_per_minute: number; headroom_per_minute: number; max_concurrent: number; in_flight: number };
  quota: { period: { start: string; end: string }; included_units: number | null; used_units: number; overage: string };
}

// ---- The billing contract (contracts.md): usage, upcoming invoice, plan, Stripe ----

export type Granularity = 'hour' | 'day' | 'month';
export type UsageGroup = 'feature' | 'key' | 'model' | 'mode';

export interface UsageQuery {
  from: string;
  to: string;
  granularity: Granularity;
  group_by?: UsageGroup[];
  time_zone: string;
  feature?: string;
  key?: string;
  model?: string;
  mode?: KeyMode;
}

export interface UsageRow {
  start: string;
  end: string;
  feature?: string;
  api_key_id?: string;
  model?: string;
  mode?: KeyMode;
  calls: number;
  units: number;
  /** Integer minor units of `currency`, at the list price before included units. */
  amount: number;
}

export interface Usage {
  object: 'usage';
  from: string;
  to: string;
  granularity: Granularity;
  time_zone: string;
  group_by: UsageGroup[];
  currency: string;
  data: UsageRow[];
  totals: { calls: number; units: number; amount: number };
}

export interface UpcomingInvoice {
  object: 'upcoming_invoice';
  plan: { key: string; name: string };
  currency: string;
  period: { start: string; end: string };
  lines: { feature: string; unit_type: string; units: number; included: number; billable: number; unit_price: string; amount: number }[];
  subtotal: number;
  total: number;
}

export interface BillingAccount {
  mode: 'ledger' | 'stripe';
  status: 'active' | 'past_due' | 'suspended';
  grace_until: string | null;
  plan: { key: string; name: string } | string;
}

export interface Invoice {
  id: string;
  number?: string | null;
  status?: string;
  currency?: string;
  total?: number;
  amount_due?: number;
  period_start?: string;
  period_end?: string;
  created_at?: string;
  hosted_invoice_url?: string | null;
  [k: string]: unknown;
}
