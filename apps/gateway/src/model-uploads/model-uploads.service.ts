import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { writeAudit } from '#platform/audit';
import { AppConfig } from '#infra/config';
import { PrismaService, type Organization } from '#infra/db';
import { isProblemError, ProblemError } from '#infra/errors';
import { artifactPath, discard, DEFAULT_VALIDATION_LIMITS, receiveUpload, redactPaths, storeArtifact, validateModelFile, ValidationQueue, ValidationQueueFull } from '#model-service/model-uploads';
import {
  deleteUploadedVersion,
  exceededQuota,
  isQuotaRefusal,
  ModelRegistry,
  PLATFORM_NAMESPACE,
  registerUploadedVersion,
  uploadedVersionConfig,
  uploadUsage,
  type QuotaRefusal,
  type RegisteredModel,
  type UploadedVersionRecord,
  type UploadQuota,
  type UploadUsage,
} from '#model-service/model-registry';
import { MODEL_NAME, MODEL_VERSION } from '#model-service/model-format';
import { actorId, type Actor } from '#platform/tenancy';
import { PredictionLifecycle } from '#platform/predictions';

/** The one route that takes a raw body. */
export const UPLOAD_ROUTE = '/v1/orgs/:org/models/:name/versions/:version';

export interface ModelVersionView {
  object: 'model_version';
  model: string;
  version: string;
  owner: 'organization';
  pool: string;
  sha256: string;
  size_bytes: number;
  inputs: unknown;
  outputs: unknown;
  created_at: string;
  urls: { metadata: string; infer: string };
}

/** The error Fastify raises for a content type it has no parser for (answered 415 like everywhere else). */
function unsupportedMediaType(): Error {
  return Object.assign(new Error('Unsupported Media Type'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 });
}

/**
 * Tenants' model uploads: streamed to the storage volume (never whole in memory), size-limited
 * by the plan while streaming, validated in an isolated process (time + memory limit), stored
 * content-addressed and registered as an immutable version of the organization's model.
 */
@Injectable()
export class ModelUploadsService implements OnModuleInit {
  /** Bounded: UPLOAD_VALIDATION_CONCURRENCY at once, UPLOAD_VALIDATION_QUEUE waiting, then 503. */
  readonly validations: ValidationQueue;
  readonly storageDir: string;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly prisma: PrismaService,
    private readonly registry: ModelRegistry,
    private readonly config: AppConfig,
    private readonly lifecycle: PredictionLifecycle,
  ) {
    this.storageDir = resolve(config.env.MODEL_STORAGE_DIR);
    this.validations = new ValidationQueue({ concurrency: config.env.UPLOAD_VALIDATION_CONCURRENCY, maxWaiting: config.env.UPLOAD_VALIDATION_QUEUE });
  }

  /**
   * application/octet-stream hands the upload route the raw request stream (no buffering, no
   * global body limit: the plan's limit is enforced while streaming). Every other route keeps
   * answering 415 for it.
   */
  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addContentTypeParser('application/octet-stream', (request: FastifyRequest, payload: unknown, done: (err: Error | null, body?: unknown) => void) => {
      if (request.routeOptions.url !== UPLOAD_ROUTE || request.method !== 'POST') return done(unsupportedMediaType());
      done(null, payload);
    });
  }

  async upload(actor: Actor, org: Organization, name: string, version: string, body: unknown, contentLength: string | undefined): Promise<ModelVersionView> {
    if (!isReadable(body)) throw new ProblemError('unsupported_media_type', 'Send the model file as the raw body with Content-Type: application/octet-stream.');
    const errors = [
      ...(MODEL_NAME.test(name) ? [] : [{ path: '/name', message: 'lower-case letters, digits, ".", "_" and "-", starting with a letter or digit, at most 64 characters' }]),
      ...(MODEL_VERSION.test(version) ? [] : [{ path: '/version', message: 'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 64 characters' }]),
    ];
    if (errors.length) throw new ProblemError('validation_failed', 'The model name or version is not valid.', { extensions: { errors } });
    const plan = await this.prisma.plan.findUniqueOrThrow({ where: { id: org.planId } });
    const quota: UploadQuota = { maxStorageBytes: plan.maxModelStorageBytes, maxVersions: plan.maxModelVersions };
    const maxBytes = plan.maxUploadBytes;
    const tooLarge = () => new ProblemError('payload_too_large', `The model is larger than your plan's upload limit of ${maxBytes} bytes.`, { extensions: { limit_bytes: maxBytes }, headers: { connection: 'close' } });
    const declared = contentLength !== undefined && /^\d+$/.test(contentLength) ? Number(contentLength) : null;
    if (declared !== null && declared > maxBytes) throw tooLarge();
    // Cheap refusals before reading a byte: a platform model's name, an existing version, a full quota.
    if (await this.prisma.model.findUnique({ where: { namespace_name: { namespace: PLATFORM_NAMESPACE, name } }, select: { id: true } })) {
      throw new ProblemError('conflict', `"${name}" is the name of a platform model; choose another name.`, { headers: { connection: 'close' } });
    }
    const existing = await this.findVersion(org.id, name, version);
    if (existing) throw this.exists(name, version, existing.deletedAt !== null);
    const usage = await uploadUsage(this.prisma, org.id);
    const early = exceededQuota(usage, quota, declared ?? 1);
    if (early) throw closing(quotaProblem({ refused: early, usage, quota }));
    // Never store more than the storage quota leaves room for (also when sent without Content-Length).
    const room = quota.maxStorageBytes - usage.storageBytes;
    const receiveLimit = room < BigInt(maxBytes) ? Number(room) : maxBytes;

    let file;
    try {
      file = await receiveUpload(body, { storageDir: this.storageDir, maxBytes: receiveLimit });
    } catch (e) {
      // Stop reading the rest of the body: close the connection after the answer.
      if (e instanceof ProblemError && e.code === 'payload_too_large' && receiveLimit < maxBytes) throw closing(quotaProblem({ refused: 'storage', usage, quota }));
      if (e instanceof ProblemError) throw closing(e);
      throw e;
    }
    let signature;
    try {
      signature = await this.validations.run(() => validateModelFile(file.tmpPath, DEFAULT_VALIDATION_LIMITS));
    } catch (e) {
      await discard(file);
      if (e instanceof ValidationQueueFull) {
        throw new ProblemError('validation_queue_full', `Too many uploads are waiting for validation on this server; retry after ${e.retryAfterSeconds} s.`, {
          extensions: { retry_after_seconds: e.retryAfterSeconds },
          headers: { 'retry-after': String(e.retryAfterSeconds) },
        });
      }
      // A refusal's detail quotes onnxruntime, which names the file it loaded: never show server paths.
      if (isProblemError(e)) throw new ProblemError(e.code, redactPaths(e.detail, [file.tmpPath]), { extensions: e.extensions, headers: e.headers });
      throw e;
    }
    const artifactUri = `storage:sha256/${file.sha256}.onnx`;
    let record;
    try {
      record = await registerUploadedVersion(
        this.prisma,
        { orgId: org.id, name, version, sha256: file.sha256, sizeBytes: file.sizeBytes, artifactUri, signature, config: uploadedVersionConfig(signature) },
        {
          quota,
          // Under the artifact's lock: a concurrent deletion of the same bytes cannot remove the file meanwhile.
          place: async () => {
            const stored = await storeArtifact(file, this.storageDir);
            if (stored !== artifactUri) throw new Error(`unexpected artifact URI ${stored}`);
          },
          alsoInTx: async (tx, r) => {
            await writeAudit(tx, {
              orgId: org.id,
              actorType: actor.kind,
              actorId: actorId(actor),
              action: 'model.upload',
              targetType: 'model_version',
              targetId: r.versionId,
              ip: actor.ip,
              changes: { after: { model: name, version, sha256: r.sha256, size_bytes: r.sizeBytes } },
            });
          },
        },
      );
    } finally {
      // Moved into place by a committed registration, or not needed any more.
      await discard(file);
    }
    // The stored bytes stay: they are content-addressed and may serve another version.
    if (record === 'conflict') throw this.exists(name, version, false);
    if (isQuotaRefusal(record)) throw quotaProblem(record);
    return this.view(record);
  }

  /**
   * Deletes a version that is not its model's default: no longer listed, resolved or counted,
   * its stored file removed when no other version uses it. Another organization's (or an
   * unknown, or already deleted) version is 404.
   */
  async deleteVersion(actor: Actor, org: Organization, name: string, version: string): Promise<void> {
    const notFound = () => new ProblemError('model_not_found', `Your organization has no model ${JSON.stringify(name)} with a version ${JSON.stringify(version)}.`);
    if (!MODEL_NAME.test(name) || !MODEL_VERSION.test(version)) throw notFound();
    const result = await deleteUploadedVersion(
      this.prisma,
      { orgId: org.id, name, version },
      {
        removeArtifact: async (uri) => rm(artifactPath(uri, this.storageDir), { force: true }),
        alsoInTx: async (tx, r) => {
          await writeAudit(tx, {
            orgId: org.id,
            actorType: actor.kind,
            actorId: actorId(actor),
            action: 'model.version.delete',
            targetType: 'model_version',
            targetId: r.versionId,
            ip: actor.ip,
            changes: { before: { model: name, version, sha256: r.sha256, size_bytes: r.sizeBytes } },
          });
        },
      },
    );
    if (result === 'not_found') throw notFound();
    if (result === 'default') {
      throw new ProblemError('version_is_default', `Version ${JSON.stringify(version)} is the default version of ${name}; upload a higher version first, then delete this one.`);
    }
    await this.failUnfinished(org.id, name, version);
  }

  /**
   * Calls of the deleted version accepted before the deletion fail now (`model_not_found`), so
   * no worker runs them: a queued job finds its prediction finished and skips it, a running one
   * cannot record a result (succeed is refused), nothing is billed.
   */
  private async failUnfinished(orgId: string, name: string, version: string): Promise<void> {
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      SELECT id FROM "Prediction"
      WHERE "orgId" = ${orgId}::uuid AND status IN ('starting', 'processing')
        AND feature = ${`model:${name}`} AND "featureVersion" = ${version} AND spec->'model'->>'namespace' = ${orgId}`;
    const error = { code: 'model_not_found', message: `Version ${JSON.stringify(version)} of model ${name} was deleted before this prediction ran.` };
    for (const { id } of rows) await this.lifecycle.fail({ orgId }, id, error, null, new Date());
  }

  /** The organization's own models. */
  async list(org: Organization): Promise<RegisteredModel[]> {
    return this.registry.listOwn(org.id);
  }

  private async findVersion(orgId: string, name: string, version: string): Promise<{ deletedAt: Date | null } | null> {
    return this.prisma.modelVersion.findFirst({ where: { version, model: { namespace: orgId, name } }, select: { deletedAt: true } });
  }

  private exists(name: string, version: string, deleted: boolean): ProblemError {
    const detail = deleted
      ? `Model ${name} had a version ${JSON.stringify(version)}, deleted since; version numbers are never reused, upload the file as a new version.`
      : `Model ${name} already has a version ${JSON.stringify(version)}; versions are immutable, upload the new file as a new version.`;
    return new ProblemError('conflict', detail, { headers: { connection: 'close' } });
  }

  private view(r: UploadedVersionRecord): ModelVersionView {
    const base = `${this.config.publicBaseUrl}/v2/models/${encodeURIComponent(r.name)}/versions/${encodeURIComponent(r.version)}`;
    return {
      object: 'model_version',
      model: r.name,
      version: r.version,
      owner: 'organization',
      pool: r.pool,
      sha256: r.sha256,
      size_bytes: r.sizeBytes,
      inputs: r.signature.inputs,
      outputs: r.signature.outputs,
      created_at: r.createdAt.toISOString(),
      urls: { metadata: base, infer: `${base}/infer` },
    };
  }
}

function isReadable(body: unknown): body is Readable {
  return typeof body === 'object' && body !== null && typeof (body as Readable).pipe === 'function' && typeof (body as Readable)[Symbol.asyncIterator] === 'function';
}

/** The same problem, closing the connection after the answer (the rest of the body is not read). */
function closing(e: ProblemError): ProblemError {
  return new ProblemError(e.code, e.detail, { extensions: e.extensions, headers: { ...e.headers, connection: 'close' } });
}

/** 409 version_quota_exceeded or 413 storage_quota_exceeded, with the plan's limit and what is used. */
function quotaProblem(r: QuotaRefusal): ProblemError {
  const usage = (u: UploadUsage) => ({ versions: u.versions, storage_bytes: Number(u.storageBytes) });
  const limits = { max_versions: r.quota.maxVersions, max_storage_bytes: Number(r.quota.maxStorageBytes) };
  if (r.refused === 'versions') {
    return new ProblemError('version_quota_exceeded', `Your plan keeps at most ${r.quota.maxVersions} model versions and your organization has ${r.usage.versions}; delete a version you no longer need.`, {
      extensions: { usage: usage(r.usage), limits },
    });
  }
  return new ProblemError('storage_quota_exceeded', `Your plan keeps at most ${r.quota.maxStorageBytes} bytes of models and your organization uses ${r.usage.storageBytes}; this upload does not fit. Delete a version you no longer need.`, {
    extensions: { usage: usage(r.usage), limits },
  });
}
