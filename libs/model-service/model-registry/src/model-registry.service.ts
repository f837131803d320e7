import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PrismaService } from '#infra/db';
import { compareVersions } from '#model-service/model-format';
import type { TensorSpec } from '#model-service/tensors';
import { RedisClient } from '#infra/redis';
import { ModelCatalogue } from './catalogue.js';
import { countPoolWorkers, countWarm } from './warmth.js';
import { PLATFORM_NAMESPACE, syncModelRegistry, type SyncReport } from './sync.js';

export interface RegisteredVersion {
  version: string;
  sha256: string;
  sizeBytes: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  createdAt: Date;
  /** Where workers load it from (`builtin:`, `repository:`, `storage:` for uploads). */
  artifactUri: string;
  /** The version's registered config (batching policy…). */
  config: Record<string, unknown>;
  /** Live workers that hold this version warm (0 = not ready). */
  warmWorkers: number;
}

export interface RegisteredModel {
  /** "platform" or the owning organization's id. */
  namespace: string;
  name: string;
  owner: 'platform' | 'organization';
  description: string | null;
  pool: string;
  defaultVersion: string | null;
  createdAt: Date;
  versions: RegisteredVersion[];
}

const SYNC_RETRY_MS = 2_000;

/**
 * The Postgres model registry: synced from the catalogue at start-up (in the background,
 * retried until Postgres answers, so an outage never blocks the process from starting),
 * read per organization (the platform's models plus the org's own).
 */
@Injectable()
export class ModelRegistry implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ModelRegistry');
  private syncing: Promise<SyncReport> | null = null;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly prisma: PrismaService,
    readonly catalogue: ModelCatalogue,
    private readonly redis: RedisClient,
  ) {}

  onApplicationBootstrap(): void {
    this.synced().catch(() => undefined);
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Resolves once the catalogue is synced into Postgres (retrying until it succeeds or the app stops). */
  synced(): Promise<SyncReport> {
    this.syncing ??= new Promise<SyncReport>((resolve, reject) => {
      const attempt = (n: number) => {
        if (this.stopped) return reject(new Error('stopped before the model registry was synced'));
        syncModelRegistry(this.prisma, this.catalogue.models, { log: (level, msg) => this.logger[level](msg) }).then(
          (report) => {
            const counts = report.versions.reduce<Record<string, number>>((acc, v) => ({ ...acc, [v.outcome]: (acc[v.outcome] ?? 0) + 1 }), {});
            this.logger.log(`model registry synced: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`);
            resolve(report);
          },
          (e: unknown) => {
            if (n === 0 || n % 15 === 0) this.logger.warn(`model registry sync failed (retrying every ${SYNC_RETRY_MS} ms): ${e instanceof Error ? e.message : String(e)}`);
            this.timer = setTimeout(() => attempt(n + 1), SYNC_RETRY_MS);
          },
        );
      };
      attempt(0);
    });
    return this.syncing;
  }

  /** The models an organization may call: the platform's and its own, by name. */
  async list(orgId: string, name?: string): Promise<RegisteredModel[]> {
    const rows = await this.prisma.model.findMany({
      where: { namespace: { in: [PLATFORM_NAMESPACE, orgId] }, ...(name !== undefined ? { name } : {}) },
      // Deleted uploaded versions are gone for every reader (listing, metadata, calls).
      include: { versions: { where: { deletedAt: null } } },
      orderBy: [{ name: 'asc' }, { namespace: 'asc' }],
    });
    const refs = rows.flatMap((m) => m.versions.map((v) => ({ namespace: m.namespace, name: m.name, version: v.version })));
    const warm = await this.warmCounts(refs);
    let i = 0;
    const models = rows.map((m) => ({
      namespace: m.namespace,
      name: m.name,
      owner: m.namespace === PLATFORM_NAMESPACE ? ('platform' as const) : ('organization' as const),
      description: m.description,
      pool: m.pool,
      defaultVersion: m.defaultVersion,
      createdAt: m.createdAt,
      versions: m.versions.map((v) => ({
        version: v.version,
        sha256: v.sha256,
        sizeBytes: v.sizeBytes,
        inputs: v.inputs as unknown as TensorSpec[],
        outputs: v.outputs as unknown as TensorSpec[],
        createdAt: v.createdAt,
        artifactUri: v.artifactUri,
        config: (v.config ?? {}) as Record<string, unknown>,
        warmWorkers: warm[i++] ?? 0,
      })),
    }));
    for (const m of models) m.versions.sort((a, b) => compareVersions(a.version, b.version));
    return models;
  }

  /** One model by name (an org's own model shadows nothing: names are per namespace, platform first). */
  async get(orgId: string, name: string): Promise<RegisteredModel | undefined> {
    const found = await this.list(orgId, name);
    return found.find((m) => m.owner === 'organization') ?? found[0];
  }

  /** The organization's own (uploaded) models. */
  async listOwn(orgId: string): Promise<RegisteredModel[]> {
    return (await this.list(orgId)).filter((m) => m.owner === 'organization');
  }

  /** How many live workers consume `pool` (a worker reports each pool it consumes). */
  async poolWorkers(pool: string): Promise<number> {
    return countPoolWorkers(this.redis.redis, this.redis.prefix, pool);
  }

  private async warmCounts(refs: { namespace: string; name: string; version: string }[]): Promise<number[]> {
    const byNamespace = new Map<string, number[]>();
    refs.forEach((r, i) => byNamespace.set(r.namespace, [...(byNamespace.get(r.namespace) ?? []), i]));
    const out = refs.map(() => 0);
    for (const [namespace, idx] of byNamespace) {
      const counts = await countWarm(this.redis.redis, this.redis.prefix, idx.map((i) => refs[i]!), namespace);
      idx.forEach((ri, j) => (out[ri] = counts[j] ?? 0));
    }
    return out;
  }
}
