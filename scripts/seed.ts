// `npm run db:seed`: the demo tenant. Idempotent: plans are upserted to their canonical
// values; the demo organization, its owner and two demo API keys are created when missing.
// An API key's secret exists only at creation: it is printed then, and in development also
// kept in a credentials file (mode 0600, under the gitignored .stratum/) so the start banner
// can show it again. Keys in that file are reused while they still verify; otherwise fresh
// ones are made (older keys are never revoked by the seed).
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readProcessEnv } from '#infra/config';
import { digestApiKey, generateApiKey, parseApiKey, type ApiKeyScope } from '#platform/api-keys';
import { createPrismaClient, repoRoot, uuidv7, type KeyMode, type PrismaClient } from '#infra/db';

export const DEMO_ORG_SLUG = 'demo';
export const DEMO_OWNER_EMAIL = 'owner@demo.stratum.local';
export const DEMO_KEY_SCOPES = ['predict', 'usage:read'] as const satisfies readonly ApiKeyScope[];
export const DEMO_KEY_NAMES: Record<KeyMode, string> = { live: 'Demo live key', test: 'Demo test key' };

/**
 * The plans every installation has (unit prices in micro-USD per billing unit; uploaded-model
 * quotas: total bytes kept and versions kept, also set on existing rows by the upload_quotas migration).
 */
export const PLANS = [
  { key: 'free', name: 'Free', rateLimitPerMinute: 60, rateLimitBurst: 60, maxConcurrentPredictions: 10, monthlyQuotaUnits: 1_000, quotaOverage: 'block' as const, queuePriority: 10, unitPriceMicros: 0, maxModelStorageBytes: 256n * 1024n * 1024n, maxModelVersions: 20 },
  { key: 'pro', name: 'Pro', rateLimitPerMinute: 600, rateLimitBurst: 300, maxConcurrentPredictions: 100, monthlyQuotaUnits: 100_000, quotaOverage: 'allow' as const, queuePriority: 1, unitPriceMicros: 200, maxModelStorageBytes: 20n * 1024n * 1024n * 1024n, maxModelVersions: 1000 },
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
}

export interface SeedDemoResult {
  orgId: string;
  liveKey: DemoKey;
  testKey: DemoKey;
  /** True when this run created an API key (first run, or the stored keys no longer verified). */
  created: boolean;
}

interface CredentialsFile {
  orgId: string;
  keys: Partial<Record<KeyMode, { id: string; secret: string }>>;
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
  for (const { key, ...values } of PLANS) {
    const plan = await prisma.plan.upsert({ where: { key }, create: { id: uuidv7(), key, ...values }, update: values });
    plans.set(key, plan.id);
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
  const ensureKey = async (mode: KeyMode): Promise<DemoKey> => {
    const known = stored?.keys[mode]?.secret;
    if (known && parseApiKey(known)?.mode === mode) {
      const row = await prisma.apiKey.findUnique({ where: { digest: digestApiKey(known, pepper) } });
      if (row && row.orgId === org.id && row.mode === mode && !row.revokedAt && (!row.expiresAt || row.expiresAt > now)) {
        return { id: row.id, mode, displayPrefix: row.displayPrefix, secret: known, created: false };
      }
    }
    if (!options.credentialsFile) {
      const existing = await prisma.apiKey.findFirst({
        where: { orgId: org.id, mode, name: DEMO_KEY_NAMES[mode], revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
        orderBy: { id: 'desc' },
      });
      if (existing) return { id: existing.id, mode, displayPrefix: existing.displayPrefix, secret: null, created: false };
    }
    const key = generateApiKey(mode);
    const row = await prisma.apiKey.create({
      data: {
        id: uuidv7(),
        orgId: org.id,
        name: DEMO_KEY_NAMES[mode],
        mode,
        displayPrefix: key.displayPrefix,
        digest: digestApiKey(key.secret, pepper),
        scopes: [...DEMO_KEY_SCOPES],
        createdById: owner.id,
      },
    });
    log(`created ${DEMO_KEY_NAMES[mode]}: ${key.secret}  (shown once${options.credentialsFile ? `; also kept in ${options.credentialsFile}` : ''})`);
    return { id: row.id, mode, displayPrefix: key.displayPrefix, secret: key.secret, created: true };
  };
  const liveKey = await ensureKey('live');
  const testKey = await ensureKey('test');
  const created = liveKey.created || testKey.created;

  if (options.credentialsFile && (created || stored?.orgId !== org.id)) {
    await writeCredentials(options.credentialsFile, {
      orgId: org.id,
      keys: { live: { id: liveKey.id, secret: liveKey.secret! }, test: { id: testKey.id, secret: testKey.secret! } },
      writtenAt: now.toISOString(),
    });
  }
  return { orgId: org.id, liveKey, testKey, created };
}

/** Default location of the development credentials file. */
export function defaultCredentialsFile(): string {
  return join(repoRoot(), '.stratum', 'demo-keys.json');
}

async function main(): Promise<void> {
  const env = readProcessEnv();
  const prisma = createPrismaClient({ url: env.DATABASE_URL, schema: env.DATABASE_SCHEMA, poolSize: 2 });
  try {
    const credentialsFile = env.NODE_ENV === 'development' ? defaultCredentialsFile() : undefined;
    const result = await seedDemo({ prisma, pepper: env.API_KEY_PEPPER, credentialsFile, log: (line) => console.log(`db:seed: ${line}`) });
    console.log(`db:seed: demo organization "${DEMO_ORG_SLUG}" (${result.orgId}) on plan pro, owner ${DEMO_OWNER_EMAIL}`);
    for (const key of [result.liveKey, result.testKey]) {
      if (!key.created) console.log(`db:seed: ${DEMO_KEY_NAMES[key.mode]}: ${key.secret ?? `${key.displayPrefix}… (secret shown only at creation)`}`);
    }
  } finally {
    await prisma.$disconnect();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(`db:seed failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
