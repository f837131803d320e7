// `npm run db:seed`: the demo tenant. Idempotent: plans are upserted to their canonical
// values; the demo organization, its owner and two demo API keys are created when missing.
// An API key's secret exists only at creation: it is printed then, and in development also
// kept in a credentials file (mode 0600, under the gitignored .stratum/) so the start banner
// can show it again. Keys in that file are reused while they still verify; otherwise fresh
// ones are made (older keys are never revoked by the seed).
// In development (`withAdminAccess`) the seed also gives the demo owner a password, generated
// at the first seed (never a fixed one) and kept in the same file, and a live key with the
// `admin` and `predict` scopes, so the README's management quick start works as pasted.
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readProcessEnv } from '#infra/config';
import { digestApiKey, generateApiKey, parseApiKey, type ApiKeyScope } from '#platform/api-keys';
import { createPrismaClient, repoRoot, uuidv7, type KeyMode, type PrismaClient } from '#infra/db';
import { hashPassword, verifyPassword } from '#platform/identity';

export const DEMO_ORG_SLUG = 'demo';
export const DEMO_OWNER_EMAIL = 'owner@demo.stratum.local';
export const DEMO_KEY_SCOPES = ['predict', 'usage:read'] as const satisfies readonly ApiKeyScope[];
export const DEMO_KEY_NAMES: Record<KeyMode, string> = { live: 'Demo live key', test: 'Demo test key' };
/** The quick start's key: live (test keys never administer), able to upload a model and call it. */
export const DEMO_ADMIN_KEY_NAME = 'Demo admin key';
export const DEMO_ADMIN_KEY_SCOPES = ['admin', 'predict'] as const satisfies readonly ApiKeyScope[];

type DemoKeyKind = KeyMode | 'admin';
const KEY_KINDS: Record<DemoKeyKind, { mode: KeyMode; name: string; scopes: readonly ApiKeyScope[] }> = {
  live: { mode: 'live', name: DEMO_KEY_NAMES.live, scopes: DEMO_KEY_SCOPES },
  test: { mode: 'test', name: DEMO_KEY_NAMES.test, scopes: DEMO_KEY_SCOPES },
  admin: { mode: 'live', name: DEMO_ADMIN_KEY_NAME, scopes: DEMO_ADMIN_KEY_SCOPES },
};

/**
 * The plans every installation has. Billing (#platform/pricing): `currency`, `unitPrice` (list
 * price of a unit, decimal string in minor units: "0.02" = 0.02 cent) and per-feature prices
 * (`featurePrices`, e.g. enterprise's negotiated ones; an organization can have its own in
 * OrgFeaturePrice). `monthlyQuotaUnits` are the units included per month (null: no quota, none
 * included); `quotaOverage: 'block'` makes them a hard limit. `unitPriceMicros` is the former
 * micro-USD price, kept equal for old readers. Uploaded-model quotas: bytes and versions kept.
 */
export const PLANS = [
  { key: 'free', name: 'Free', rateLimitPerMinute: 60, rateLimitBurst: 60, maxConcurrentPredictions: 10, monthlyQuotaUnits: 1_000, quotaOverage: 'block' as const, queuePriority: 10, unitPriceMicros: 0, currency: 'usd', unitPrice: '0', featurePrices: {}, maxModelStorageBytes: 256n * 1024n * 1024n, maxModelVersions: 20 },
  { key: 'pro', name: 'Pro', rateLimitPerMinute: 600, rateLimitBurst: 300, maxConcurrentPredictions: 100, monthlyQuotaUnits: 100_000, quotaOverage: 'allow' as const, queuePriority: 1, unitPriceMicros: 200, currency: 'usd', unitPrice: '0.02', featurePrices: {}, maxModelStorageBytes: 20n * 1024n * 1024n * 1024n, maxModelVersions: 1000 },
  {
    key: 'enterprise',
    name: 'Enterprise',
    rateLimitPerMinute: 6000,
    rateLimitBurst: 2000,
    maxConcurrentPredictions: 500,
    monthlyQuotaUnits: null,
    quotaOverage: 'allow' as const,
    queuePriority: 1,
    unitPriceMicros: 150,
    currency: 'usd',
    unitPrice: '0.015',
    featurePrices: { 'ocr-line': '0.0125', 'image-orientation': '0.005' } as Record<string, string>,
    maxModelStorageBytes: 100n * 1024n * 1024n * 1024n,
    maxModelVersions: 10000,
  },
] as const;

export interface DemoKey {
  id: string;
  mode: KeyMode;
  displayPrefix: string;
  /** The full secret when known (just created, or read back from the credentials file); null otherwise. */
  secret: string | null;
  /** Created by this run. */
  created: boolean;
}

export interface SeedDemoOptions {
  prisma: PrismaClient;
  /** API_KEY_PEPPER: the digest key. */
  pepper: string;
  /**
   * Where to keep the demo keys' secrets (development). Without it, existing active demo keys
   * are kept as they are (their secrets cannot be shown again) and new ones only made if none exist.
   */
  credentialsFile?: string;
  /** Progress lines; new keys are printed here, once. Default: silent. */
  log?: (line: string) => void;
  /**
   * Also a password for the demo owner (generated when the credentials file holds none that
   * verifies) and the admin key (live, `admin` + `predict`). Needs `credentialsFile`: a secret
   * nobody could read back is never made.
   */
  withAdminAccess?: boolean;
}

export interface SeedDemoResult {
  orgId: string;
  liveKey: DemoKey;
  testKey: DemoKey;
  /** With `withAdminAccess`: the live `admin` + `predict` key. */
  adminKey?: DemoKey;
  /** With `withAdminAccess`: the demo owner's log-in. */
  owner?: { email: string; password: string; created: boolean };
  /** True when this run created an API key (first run, or the stored keys no longer verified). */
  created: boolean;
}

interface CredentialsFile {
  orgId: string;
  /** The demo organization's slug (the quick start's ORG). */
  org?: string;
  keys: Partial<Record<DemoKeyKind, { id: string; secret: string }>>;
  owner?: { email: string; password: string };
  writtenAt: string;
}

async function readCredentials(path: string): Promise<CredentialsFile | null> {
  try {
    const data = JSON.parse(await readFile(path, 'utf8')) as Partial<CredentialsFile>;
    return data && typeof data === 'object' && data.keys && typeof data.keys === 'object' ? (data as CredentialsFile) : null;
  } catch {
    return null; // missing or unreadable: fresh keys will be made and the file rewritten
  }
}

async function writeCredentials(path: string, data: CredentialsFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

export async function seedDemo(options: SeedDemoOptions): Promise<SeedDemoResult> {
  const { prisma, pepper } = options;
  const log = options.log ?? (() => undefined);

  const plans = new Map<string, string>();
  for (const { key, featurePrices, ...values } of PLANS) {
    const plan = await prisma.plan.upsert({ where: { key }, create: { id: uuidv7(), key, ...values }, update: values });
    plans.set(key, plan.id);
    const prices: Record<string, string> = featurePrices;
    await prisma.planFeaturePrice.deleteMany({ where: { planId: plan.id, feature: { notIn: Object.keys(prices) } } });
    for (const [feature, unitPrice] of Object.entries(prices)) {
      await prisma.planFeaturePrice.upsert({ where: { planId_feature: { planId: plan.id, feature } }, create: { planId: plan.id, feature, unitPrice }, update: { unitPrice } });
    }
  }
  const org = await prisma.organization.upsert({
    where: { slug: DEMO_ORG_SLUG },
    create: { id: uuidv7(), slug: DEMO_ORG_SLUG, name: 'Demo', planId: plans.get('pro')! },
    update: {},
  });
  const owner = await prisma.user.upsert({
    where: { email: DEMO_OWNER_EMAIL },
    create: { id: uuidv7(), email: DEMO_OWNER_EMAIL, name: 'Demo Owner' },
    update: {},
  });
  await prisma.membership.upsert({
    where: { orgId_userId: { orgId: org.id, userId: owner.id } },
    create: { id: uuidv7(), orgId: org.id, userId: owner.id, role: 'owner' },
    update: { role: 'owner' },
  });

  const stored = options.credentialsFile ? await readCredentials(options.credentialsFile) : null;
  const now = new Date();
  const ensureKey = async (kind: DemoKeyKind): Promise<DemoKey> => {
    const { mode, name, scopes } = KEY_KINDS[kind];
    const known = stored?.keys[kind]?.secret;
    if (known && parseApiKey(known)?.mode === mode) {
      const row = await prisma.apiKey.findUnique({ where: { digest: digestApiKey(known, pepper) } });
      if (row && row.orgId === org.id && row.mode === mode && !row.revokedAt && (!row.expiresAt || row.expiresAt > now)) {
        return { id: row.id, mode, displayPrefix: row.displayPrefix, secret: known, created: false };
      }
    }
    if (!options.credentialsFile) {
      const existing = await prisma.apiKey.findFirst({
        where: { orgId: org.id, mode, name, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
        orderBy: { id: 'desc' },
      });
      if (existing) return { id: existing.id, mode, displayPrefix: existing.displayPrefix, secret: null, created: false };
    }
    const key = generateApiKey(mode);
    const row = await prisma.apiKey.create({
      data: {
        id: uuidv7(),
        orgId: org.id,
        name,
        mode,
        displayPrefix: key.displayPrefix,
        digest: digestApiKey(key.secret, pepper),
        scopes: [...scopes],
        createdById: owner.id,
      },
    });
    log(`created ${name}: ${key.secret}  (shown once${options.credentialsFile ? `; also kept in ${options.credentialsFile}` : ''})`);
    return { id: row.id, mode, displayPrefix: key.displayPrefix, secret: key.secret, created: true };
  };
  const liveKey = await ensureKey('live');
  const testKey = await ensureKey('test');
  const admin = options.withAdminAccess && options.credentialsFile;
  const adminKey = admin ? await ensureKey('admin') : undefined;
  const created = liveKey.created || testKey.created || adminKey?.created === true;

  let ownerLogin: SeedDemoResult['owner'];
  if (admin) {
    const kept = stored?.owner?.email === DEMO_OWNER_EMAIL ? stored.owner.password : undefined;
    if (kept && (await verifyPassword(owner.passwordHash, kept))) {
      ownerLogin = { email: DEMO_OWNER_EMAIL, password: kept, created: false };
    } else {
      const password = randomBytes(15).toString('base64url'); // 20 characters, 120 bits
      await prisma.user.update({ where: { id: owner.id }, data: { passwordHash: await hashPassword(password) } });
      log(`set the password of ${DEMO_OWNER_EMAIL}: ${password}  (also kept in ${options.credentialsFile})`);
      ownerLogin = { email: DEMO_OWNER_EMAIL, password, created: true };
    }
  }

  if (options.credentialsFile && (created || ownerLogin?.created || stored?.orgId !== org.id)) {
    const keys: CredentialsFile['keys'] = { live: { id: liveKey.id, secret: liveKey.secret! }, test: { id: testKey.id, secret: testKey.secret! } };
    if (adminKey) keys.admin = { id: adminKey.id, secret: adminKey.secret! };
    await writeCredentials(options.credentialsFile, {
      orgId: org.id,
      org: DEMO_ORG_SLUG,
      keys,
      ...(ownerLogin ? { owner: { email: ownerLogin.email, password: ownerLogin.password } } : {}),
      writtenAt: now.toISOString(),
    });
  }
  return { orgId: org.id, liveKey, testKey, ...(adminKey ? { adminKey } : {}), ...(ownerLogin ? { owner: ownerLogin } : {}), created };
}

/** Default location of the development credentials file. */
export function defaultCredentialsFile(): string {
  return join(repoRoot(), '.stratum', 'demo-keys.json');
}

async function main(): Promise<void> {
  const env = readProcessEnv();
  // --credentials <file>: where `npm start --root <dir>` keeps them (<dir>/.stratum/demo-keys.json).
  const { values } = parseArgs({ options: { credentials: { type: 'string' } } });
  const prisma = createPrismaClient({ url: env.DATABASE_URL, schema: env.DATABASE_SCHEMA, poolSize: 2 });
  try {
    const development = env.NODE_ENV === 'development';
    const credentialsFile = development ? resolve(values.credentials ?? defaultCredentialsFile()) : undefined;
    const result = await seedDemo({ prisma, pepper: env.API_KEY_PEPPER, credentialsFile, withAdminAccess: development, log: (line) => console.log(`db:seed: ${line}`) });
    console.log(`db:seed: demo organization "${DEMO_ORG_SLUG}" (${result.orgId}) on plan pro, owner ${DEMO_OWNER_EMAIL}`);
    const keys: [string, DemoKey | undefined][] = [[DEMO_KEY_NAMES.live, result.liveKey], [DEMO_KEY_NAMES.test, result.testKey], [DEMO_ADMIN_KEY_NAME, result.adminKey]];
    for (const [name, key] of keys) {
      if (key && !key.created) console.log(`db:seed: ${name}: ${key.secret ?? `${key.displayPrefix}… (secret shown only at creation)`}`);
    }
    if (result.owner && !result.owner.created) console.log(`db:seed: log in as ${result.owner.email} with the password in ${credentialsFile}`);
  } finally {
    await prisma.$disconnect();
  }
}

if (process.argv[1] && realpathSync(resolve(process.argv[1])) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(`db:seed failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
