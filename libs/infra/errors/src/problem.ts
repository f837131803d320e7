/**
 * RFC 9457 problem details. Every error Stratum answers with is a Problem with a
 * stable machine `code`; the `type` URI is derived from the code.
 */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId?: string;
  instance?: string;
  [extension: string]: unknown;
}

/** Problem `type` URIs are relative references to the page the gateway serves for each code (GET /problems/{code}). */
export const PROBLEM_TYPE_BASE = '/problems/';

/** The catalogue of stable codes: status and title for each. */
export const PROBLEM_CODES = {
  malformed_json: { status: 400, title: 'Malformed JSON body' },
  bad_request: { status: 400, title: 'Bad request' },
  invalid_header: { status: 400, title: 'Invalid header' },
  invalid_signature: { status: 400, title: 'Invalid webhook signature' },
  unauthenticated: { status: 401, title: 'Missing or invalid API key' },
  invalid_credentials: { status: 401, title: 'Invalid email or password' },
  org_suspended: { status: 402, title: 'The organization is suspended for an unpaid invoice' },
  forbidden: { status: 403, title: 'Not allowed' },
  csrf_failed: { status: 403, title: 'Missing or invalid CSRF token' },
  not_found: { status: 404, title: 'Not found' },
  route_not_found: { status: 404, title: 'No such route' },
  feature_not_found: { status: 404, title: 'Unknown feature' },
  prediction_not_found: { status: 404, title: 'Unknown prediction' },
  model_not_found: { status: 404, title: 'Unknown model' },
  api_key_not_found: { status: 404, title: 'Unknown API key' },
  invitation_invalid: { status: 404, title: 'Invalid invitation' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  idempotency_in_flight: { status: 409, title: 'A request with this Idempotency-Key is in progress' },
  last_owner: { status: 409, title: 'An organization needs an owner' },
  key_not_active: { status: 409, title: 'The API key is not active' },
  version_quota_exceeded: { status: 409, title: "The plan's model version quota is full" },
  stripe_not_configured: { status: 409, title: 'Billing runs without Stripe' },
  checkout_required: { status: 409, title: 'Plan changes go through Stripe Checkout' },
  version_is_default: { status: 409, title: "The model's default version cannot be deleted" },
  payload_too_large: { status: 413, title: 'Request body too large' },
  storage_quota_exceeded: { status: 413, title: "The plan's model storage quota is full" },
  unsupported_media_type: { status: 415, title: 'Unsupported content type' },
  validation_failed: { status: 422, title: 'Input failed validation' },
  idempotency_key_reused: { status: 422, title: 'Idempotency-Key reused for a different request' },
  invalid_input: { status: 422, title: 'Input could not be processed' },
  invalid_tensor: { status: 422, title: 'Tensor does not match the model' },
  model_invalid: { status: 422, title: 'Model refused' },
  model_error: { status: 422, title: 'The model failed on this input' },
  model_timeout: { status: 422, title: 'The model ran past its deadline' },
  model_memory_exceeded: { status: 422, title: 'The model needed more memory than it may use' },
  rate_limited: { status: 429, title: 'Too many requests' },
  quota_exceeded: { status: 429, title: "The plan's monthly quota is used up" },
  concurrency_limited: { status: 429, title: 'Too many predictions in flight' },
  internal_error: { status: 500, title: 'Internal error' },
  queue_unavailable: { status: 503, title: 'Queue unavailable' },
  model_unavailable: { status: 503, title: 'Model unavailable' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
  validation_queue_full: { status: 503, title: 'Too many uploads waiting for validation' },
  prediction_timeout: { status: 504, title: 'The prediction did not finish in time' },
  deadline_exceeded: { status: 504, title: 'The prediction passed its deadline' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEM_CODES;

export interface ProblemOptions {
  /** Extra members (e.g. `errors` for validation failures). */
  extensions?: Record<string, unknown>;
  /** Extra response headers (e.g. Retry-After). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** Throw this anywhere (services, guards, pipes): the filter renders it as problem+json. */
export class ProblemError extends Error {
  readonly status: number;
  readonly title: string;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    options: ProblemOptions = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProblemError';
    this.status = PROBLEM_CODES[code].status;
    this.title = PROBLEM_CODES[code].title;
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }

  toBody(requestId?: string, instance?: string): ProblemBody {
    const body: ProblemBody = {
      type: PROBLEM_TYPE_BASE + this.code,
      title: this.title,
      status: this.status,
      detail: this.detail,
      code: this.code,
      ...(instance === undefined ? {} : { instance }),
      ...(requestId === undefined ? {} : { requestId }),
    };
    // Extensions follow the standard members and can never overwrite them.
    for (const [k, v] of Object.entries(this.extensions)) if (!(k in body)) body[k] = v;
    return body;
  }
}

export function isProblemError(e: unknown): e is ProblemError {
  return e instanceof ProblemError;
}

const escapeHtml = (t: string): string => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The HTML page a problem `type` points to (one per code of the catalogue); undefined for an unknown code. Pure. */
export function problemPage(code: string): string | undefined {
  if (!Object.hasOwn(PROBLEM_CODES, code)) return undefined;
  const { status, title } = PROBLEM_CODES[code as ProblemCode];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(code)}</title></head><body><h1>${escapeHtml(title)}</h1><p>Code <code>${escapeHtml(code)}</code>, HTTP status ${status}.</p><p>Stratum answers this error as <code>application/problem+json</code> (RFC 9457) with <code>type</code> <code>${PROBLEM_TYPE_BASE}${escapeHtml(code)}</code>, this <code>title</code>, the <code>status</code>, a <code>detail</code> sentence about this request and this stable <code>code</code>.</p><p><a href="${PROBLEM_TYPE_BASE}">Every error code</a></p></body></html>`;
}

/** The index of every problem page. Pure. */
export function problemIndexPage(): string {
  const rows = Object.entries(PROBLEM_CODES)
    .map(([code, { status, title }]) => `<tr><td>${status}</td><td><a href="${PROBLEM_TYPE_BASE}${code}"><code>${code}</code></a></td><td>${escapeHtml(title)}</td></tr>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error codes</title></head><body><h1>Error codes</h1><table><tr><th>Status</th><th>Code</th><th>Title</th></tr>${rows}</table></body></html>`;
}
