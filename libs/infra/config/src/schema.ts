import { isIP } from 'node:net';
import { z } from 'zod';
import { EXECUTION_PROVIDERS } from '#infra/execution-providers';

/** The built-in pepper: accepted only when NODE_ENV is explicitly development or test (see load.ts). */
export const DEV_PEPPER = 'stratum-dev-pepper-do-not-use-in-production-0000';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const csv = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s.length > 0));

/** An IP address or a CIDR ("10.0.0.0/8", "::1/128"). */
function isCidr(value: string): boolean {
  const [address, bits, extra] = value.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

/**
 * The whole environment Stratum reads, in one place. Each entry names its variable,
 * its default and what it is for (the README's table is generated from the same facts).
 */
export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'log', 'debug', 'verbose']).default('log'),

    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgresql://postgres@127.0.0.1:5432/stratum'),
    DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier').default('public'),
    DATABASE_POOL_SIZE: positiveInt.default(10),
    /** redis:// or rediss:// (TLS); may carry user:password (prefer REDIS_PASSWORD, kept out of URLs). */
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
    /** Redis ACL user (overrides a user in REDIS_URL). */
    REDIS_USERNAME: z.string().min(1).optional(),
    /** Redis password (requirepass or the ACL user's; overrides one in REDIS_URL). */
    REDIS_PASSWORD: z.string().min(1).optional(),
    /** PEM file of the CA that signed the Redis server's certificate (rediss:// only; default: the system CAs). */
    REDIS_TLS_CA_FILE: z.string().min(1).optional(),
    REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_:-]{1,64}$/, 'letters, digits, _ : -').default('stratum'),

    GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
    GATEWAY_PORT: port.default(3000),
    /** Address of every app's admin listener (/metrics, /readyz with details, /healthz): keep it private. */
    ADMIN_HOST: z.string().min(1).default('127.0.0.1'),
    GATEWAY_ADMIN_PORT: port.default(9464),
    WORKER_ADMIN_PORT: port.default(9465),
    AUTOSCALER_ADMIN_PORT: port.default(9466),
    PUBLIC_BASE_URL: z.url().optional(),
    /**
     * Which proxies in front of the gateway to believe about the client's address
     * (X-Forwarded-For): "false" (none), "true" (all), a hop count, or a comma-separated
     * list of proxy addresses / CIDRs. Per-IP throttles and the audit log use that address.
     */
    TRUST_PROXY: z
      .string()
      .default('false')
      .transform((v, ctx): boolean | number | string[] => {
        const t = v.trim();
        if (t === '' || t === 'false') return false;
        if (t === 'true') return true;
        if (/^\d+$/.test(t)) return Number(t);
        const list = t.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
        if (list.every((a) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(a))) return list;
        ctx.addIssue({ code: 'custom', message: 'false, true, a hop count, or comma-separated proxy addresses/CIDRs' });
        return z.NEVER;
      }),
    BODY_LIMIT_BYTES: positiveInt.default(12 * 1024 * 1024),
    /** Body limit of the management routes (organizations, members, invitations, keys, auth); prediction routes take BODY_LIMIT_BYTES. */
    MANAGEMENT_BODY_LIMIT_BYTES: positiveInt.default(64 * 1024),
    API_KEY_PEPPER: z.string().min(32, 'at least 32 characters').default(DEV_PEPPER),
    API_KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
    /** Shared Redis cache of verified keys, under the in-process one. */
    API_KEY_REDIS_CACHE_TTL_MS: z.coerce.number().int().min(0).max(3_600_000).default(300_000),
    /** How often the gateway writes the batched "last used" times of keys. */
    API_KEY_LAST_USED_FLUSH_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
    /** Dashboard session lifetime (sliding): a session unused this long ends. */
    SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(30 * 24 * 3600).default(7 * 24 * 3600),
    /** Absolute session lifetime: a session ends this long after log-in, however often it is used. */
    SESSION_ABSOLUTE_TTL_SECONDS: z.coerce.number().int().min(60).max(365 * 24 * 3600).default(30 * 24 * 3600),
    /** Failed logins / key verifications per IP per minute before 429. */
    AUTH_THROTTLE_PER_MINUTE: positiveInt.default(20),

    WORKER_HOST: z.string().min(1).default('127.0.0.1'),
    WORKER_PORT: port.default(3001),
    /** Model pools this worker consumes: "all" (every platform pool, never the tenant pool) or a comma-separated list; "tenant" only when named. */
    WORKER_POOLS: csv.default(['all']),
    /** "on" lets one worker consume the tenant pool together with platform pools (off: a tenant worker serves uploads only). */
    WORKER_MIXED_POOLS: z.enum(['on', 'off']).default('off'),
    /** Deadline of one uploaded-model run (ms): past it its process is killed and the prediction fails with model_timeout. */
    TENANT_RUN_DEADLINE_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
    /** Address-space limit (RLIMIT_AS) of each uploaded model's process, MiB; Node.js and onnxruntime take about 1.1 GiB of it themselves. */
    TENANT_MODEL_MEMORY_MB: z.coerce.number().int().min(1536).max(1 << 20).default(2048),
    WORKER_CONCURRENCY: positiveInt.max(256).default(4),
    /** Dynamic batching of concurrent jobs per model version ("off": every call runs alone, whatever the model config says). */
    WORKER_BATCHING: z.enum(['on', 'off']).default('on'),
    /** Execution providers in order of preference; cpu is always the last resort. */
    ORT_EXECUTION_PROVIDERS: csv.pipe(z.array(z.enum(EXECUTION_PROVIDERS))).default(['cpu']),
    ORT_INTRA_OP_THREADS: z.coerce.number().int().min(0).max(64).default(0),
    /** With ORT_SESSION_THREADS=on: at most this many model runs at once across a worker's session threads; 0 = as many as fit the cores at ORT_INTRA_OP_THREADS (1 with onnxruntime's default of one thread per core). */
    ORT_CONCURRENT_RUNS: z.coerce.number().int().min(0).max(64).default(0),
    /** Run each model version's onnxruntime session in its own worker thread ("off": on the worker's event loop). */
    ORT_SESSION_THREADS: z.enum(['on', 'off']).default('on'),
    /** Directory of platform models (<name>/<version>/model.onnx + config); empty = the shipped models only. */
    MODEL_REPOSITORY: z.string().default(''),
    /** Directory of the operator's feature documents (<name>@<version>.json|yaml), served with the built-in ones; empty = built-ins only. */
    FEATURES_DIR: z.string().default(''),
    /** Most tensor elements (over all inputs) in one v2 infer request; more → 413. */
    V2_MAX_ELEMENTS: positiveInt.max(1 << 28).default(1 << 20),
    /** Uploaded model versions a worker keeps loaded (least recently used are freed). */
    WORKER_MAX_UPLOADED_MODELS: positiveInt.max(1024).default(8),
    /** Where tenants' uploaded models are stored (a path every worker can read: a shared volume in production). */
    MODEL_STORAGE_DIR: z.string().default('.stratum/models'),
    /** Uploads a gateway validates at once (each in its own child process). */
    UPLOAD_VALIDATION_CONCURRENCY: positiveInt.max(64).default(2),
    /** Uploads that may wait for a validation slot; one more is refused with 503 validation_queue_full and Retry-After. */
    UPLOAD_VALIDATION_QUEUE: z.coerce.number().int().min(0).max(10_000).default(8),

    /** The gateway also runs the system jobs (outbox consumers, prediction recovery, retention); "off" on gateways that should only serve. */
    SYSTEM_JOBS: z.enum(['on', 'off']).default('on'),
    /** How often an idle outbox consumer looks for new lifecycle events. */
    OUTBOX_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(200),
    /** How often the recovery loop re-enqueues accepted predictions missing from the queue and fails those past their deadline. */
    RECOVERY_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
    /** How old an unfinished prediction must be before the recovery loop checks its job. */
    RECOVERY_GRACE_MS: z.coerce.number().int().min(0).max(3_600_000).default(5_000),
    /** A prediction not finished this long after its creation fails with deadline_exceeded. */
    PREDICTION_DEADLINE_SECONDS: positiveInt.max(7 * 24 * 3600).default(900),
    /** Request-path metering: `on` reserves a prediction's units of the monthly quota at admission (Redis) and enforces it; `off` skips that (no quota is enforced, no quota headers) for deployments that sell no quotas. Usage is recorded in the ledger from lifecycle events either way, so billing is unchanged. `npm run bench:metering` compares the two. */
    QUOTA_METERING: z.enum(['on', 'off']).default('on'),
    /** Units a test-mode key's organization may use per calendar month (test usage is free and never counts against the plan's live quota). */
    QUOTA_TEST_UNITS_PER_MONTH: z.coerce.number().int().min(0).max(1_000_000_000).default(1_000),
    /** Raw usage events (the ledger's rows) are deleted this many days after they occurred; the rollups that usage queries and invoices read are kept. */
    USAGE_EVENT_RETENTION_DAYS: positiveInt.max(3650).default(400),
    /** How long a gateway keeps an organization's plan quota in memory where no API key carries it (admissions use the key's plan, invalidated on a plan change). */
    QUOTA_PLAN_CACHE_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
    /** How long an Idempotency-Key is remembered (its first response replayed); after it the key may be used again. */
    IDEMPOTENCY_TTL_HOURS: positiveInt.max(24 * 30).default(24),
    /** A request holding an Idempotency-Key this long without finishing (its gateway died) releases the key to a retry of the same request; above the longest Prefer: wait (60 s). */
    IDEMPOTENCY_LOCK_SECONDS: z.coerce.number().int().min(65).max(3600).default(120),
    /** Inputs and outputs are deleted this many days after a prediction finished (the record stays); lifecycle events too. */
    PREDICTION_RETENTION_DAYS: positiveInt.max(3650).default(30),
    /** A job whose worker stopped renewing its lock for this long is given to another worker (within lock + 2 × stalled check). */
    WORKER_LOCK_MS: z.coerce.number().int().min(1_000).max(600_000).default(8_000),
    /** How often workers look for jobs whose lock expired (a worker that died mid-job). */
    WORKER_STALLED_CHECK_MS: z.coerce.number().int().min(500).max(600_000).default(3_000),
    /** On SIGTERM or POST /drain: how long a worker finishes the jobs it holds before handing the rest back to the queue and exiting. */
    WORKER_DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),

    /** Webhooks: the delay before each retry (durations: 500ms, 5s, 5m, 2h), its length is the number of retries; ±10 % jitter. */
    WEBHOOK_RETRY_SCHEDULE: z
      .string()
      .regex(/^\s*\d+(ms|s|m|h)\s*(,\s*\d+(ms|s|m|h)\s*)*$/, 'comma-separated durations such as 5s,5m,30m,2h')
      .default('5s,5m,30m,2h,5h,10h,10h'),
    /** Webhooks: CIDRs a target may resolve to although private, loopback, link-local or metadata (e.g. 127.0.0.0/8,::1/128); empty refuses them all. */
    WEBHOOK_ALLOWED_CIDRS: csv.refine((list) => list.every(isCidr), 'comma-separated IP addresses or CIDRs such as 127.0.0.0/8,::1/128').default([]),
    /** Webhooks: accept http:// targets (not only https://) at registration. */
    WEBHOOK_ALLOW_HTTP: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
    /** Webhooks: how long one delivery attempt may take (connect to last byte). */
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
    /** Webhooks: how often an idle delivery loop looks for due messages. */
    WEBHOOK_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(500),
    /** Webhooks: after a secret rotation, how long the previous secret still signs (a second signature). */
    WEBHOOK_SECRET_OVERLAP_SECONDS: z.coerce.number().int().min(0).max(30 * 86_400).default(86_400),

    /** Stripe mode: the secret key (sk_live_… / sk_test_…); unset = ledger-only billing (nothing is sent to Stripe). */
    STRIPE_SECRET_KEY: z.string().min(1).optional(),
    /** Stripe mode: the webhook endpoint's signing secret (whsec_…) that POST /webhooks/stripe checks signatures with. */
    STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
    /** Stripe mode: another API address (a local Stripe-compatible server, e.g. http://127.0.0.1:12111); default Stripe's. */
    STRIPE_API_BASE: z.url({ protocol: /^https?$/ }).optional(),
    /** Stripe mode: the Billing Meter's event name usage is sent under (the meter must aggregate by sum). */
    STRIPE_METER_EVENT_NAME: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'letters, digits, _ . : -').default('stratum_units'),
    /** Stripe mode: the recurring (metered) price each plan's Checkout subscribes to, as plan=price pairs ("pro=price_123,enterprise=price_456"). */
    STRIPE_PRICE_IDS: csv
      .refine((list) => list.every((p) => /^[a-z0-9_-]+=[A-Za-z0-9_]+$/.test(p)), 'comma-separated plan=price_id pairs')
      .transform((list) => Object.fromEntries(list.map((p) => p.split('=') as [string, string])) as Record<string, string>)
      .default({}),
    /** Stripe mode: where Checkout and the Customer Portal send the user back. */
    STRIPE_RETURN_URL: z.url().default('http://127.0.0.1:3000/'),
    /** Stripe mode: how often the meter outbox is flushed (usage is aggregated per organization over this window). */
    STRIPE_METER_FLUSH_MS: z.coerce.number().int().min(10).max(600_000).default(2_000),
    /** Stripe mode: the most usage events summed into one meter event. */
    STRIPE_METER_BATCH_MAX: z.coerce.number().int().min(1).max(100_000).default(1_000),
    /** Stripe mode: the longest wait between two retries of a meter event Stripe did not accept (exponential backoff from 1 s). */
    STRIPE_RETRY_MAX_MS: z.coerce.number().int().min(100).max(3_600_000).default(300_000),
    /** Stripe mode: webhook signatures older than this are refused (replays). */
    STRIPE_WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3_600).default(300),
    /** Stripe mode: how long an organization whose payment failed keeps service (past_due) before it is suspended. */
    BILLING_GRACE_PERIOD_HOURS: z.coerce.number().min(0).max(24 * 90).default(72),
    /** How often the billing sweep suspends organizations whose grace period ended. */
    BILLING_SWEEP_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
    /** How often reconciliation compares the ledger, the quota counters and what Stripe acknowledged (0 = never; run it on demand). */
    BILLING_RECONCILE_MS: z.coerce.number().int().min(0).max(86_400_000).default(300_000),

    AUTOSCALER_HOST: z.string().min(1).default('127.0.0.1'),
    AUTOSCALER_PORT: port.default(3002),
    AUTOSCALER_INTERVAL_MS: z.coerce.number().int().min(100).default(5_000),
    AUTOSCALER_MIN_WORKERS: z.coerce.number().int().min(0).default(1),
    AUTOSCALER_MAX_WORKERS: positiveInt.default(4),
    /** Waiting jobs one worker is expected to absorb; more than that asks for another worker. */
    AUTOSCALER_TARGET_BACKLOG_PER_WORKER: positiveInt.default(8),
    /** Queue-wait objective (p90 of recent waits): above it the pool grows in proportion. */
    AUTOSCALER_WAIT_SLO_MS: positiveInt.default(2_000),
    /** Busy share of a worker's slots the arrival-rate term aims at (arrival rate × service time). */
    AUTOSCALER_TARGET_UTILIZATION: z.coerce.number().gt(0).max(1).default(0.8),
    /** A change smaller than this share of the current count is not made (HPA's tolerance). */
    AUTOSCALER_TOLERANCE: z.coerce.number().min(0).lt(1).default(0.1),
    /** A scale-up takes the lowest recommendation of this window (0: at once). */
    AUTOSCALER_UP_WINDOW_MS: z.coerce.number().int().min(0).default(0),
    /** A scale-down takes the highest recommendation of this window. */
    AUTOSCALER_DOWN_WINDOW_MS: z.coerce.number().int().min(0).default(60_000),
    AUTOSCALER_MAX_STEP_UP: positiveInt.default(4),
    AUTOSCALER_MAX_STEP_DOWN: positiveInt.default(1),
    /** With AUTOSCALER_MIN_WORKERS=0: a pool idle this long goes to zero workers. */
    AUTOSCALER_IDLE_MS: z.coerce.number().int().min(0).default(120_000),
    /** What the decisions act on: none (export only), local (worker processes of this machine), kubernetes (each pool's Deployment scale). */
    AUTOSCALER_ACTUATOR: z.enum(['none', 'local', 'kubernetes']).default('none'),
    /** Pools the autoscaler manages: "all" (every platform pool) or a comma-separated list ("tenant" only when named). */
    AUTOSCALER_POOLS: csv.default(['all']),
    /** Signals from a Prometheus server's HTTP API (PromQL); unset: the autoscaler scrapes the apps' /metrics itself. */
    PROMETHEUS_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** Without PROMETHEUS_URL: further /metrics URLs to scrape (the gateway's admin listener for arrivals, remote workers); the local actuator's workers are scraped anyway. */
    AUTOSCALER_SCRAPE_TARGETS: csv.default([]),
    /** Kubernetes actuator: a kubeconfig file (unset: the default lookup; in a pod, its service account). */
    AUTOSCALER_KUBECONFIG: z.string().min(1).optional(),
    /** Kubernetes actuator: the namespace of the worker Deployments (default: the pod's own, or "default"). */
    AUTOSCALER_K8S_NAMESPACE: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).optional(),
    /** Kubernetes actuator: the Deployment of a pool; "{pool}" is replaced by the pool's name. */
    AUTOSCALER_K8S_DEPLOYMENT: z.string().min(1).default('stratum-worker-{pool}'),
  })
  .superRefine((env, ctx) => {
    if (env.REDIS_TLS_CA_FILE !== undefined && !env.REDIS_URL.startsWith('rediss://')) {
      ctx.addIssue({ code: 'custom', path: ['REDIS_TLS_CA_FILE'], message: 'needs a rediss:// REDIS_URL (TLS); with redis:// the connection would be in clear' });
    }
    if (env.NODE_ENV === 'production' && env.TRUST_PROXY === true) {
      ctx.addIssue({ code: 'custom', path: ['TRUST_PROXY'], message: 'must not be "true" (trust every proxy) in production: list the proxies\' addresses/CIDRs or give a hop count' });
    }
    if (env.STRIPE_SECRET_KEY !== undefined && env.STRIPE_WEBHOOK_SECRET === undefined) {
      ctx.addIssue({ code: 'custom', path: ['STRIPE_WEBHOOK_SECRET'], message: 'is required with STRIPE_SECRET_KEY (Stripe mode): without it no Stripe webhook could be verified' });
    }
    if (env.AUTOSCALER_MIN_WORKERS > env.AUTOSCALER_MAX_WORKERS) {
      ctx.addIssue({ code: 'custom', path: ['AUTOSCALER_MIN_WORKERS'], message: 'must not exceed AUTOSCALER_MAX_WORKERS' });
    }
  });

export type Env = z.output<typeof envSchema>;
export const ENV_VARIABLES = Object.keys(envSchema.shape) as readonly (keyof Env)[];
