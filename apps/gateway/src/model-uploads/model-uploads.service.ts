import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { writeAudit } from '#platform/audit';
import { AppConfig } from '#infra/config';
import { PrismaService, type Organization } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { discard, DEFAULT_VALIDATION_LIMITS, receiveUpload, storeArtifact, validateModelFile } from '#model-service/model-uploads';
import { ModelRegistry, PLATFORM_NAMESPACE, registerUploadedVersion, uploadedVersionConfig, type RegisteredModel, type UploadedVersionRecord } from '#model-service/model-registry';
import { MODEL_NAME, MODEL_VERSION } from '#model-service/model-format';
import { actorId, type Actor } from '#platform/tenancy';

/** The one route that takes a raw body. */
export const UPLOAD_ROUTE = '/v1/orgs/:org/models/:name/versions/:version';
/** Validations running at once per gateway (each is a child process with its own memory). */
const MAX_CONCURRENT_VALIDATIONS = 2;

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

/** A small counting semaphore. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/**
 * Tenants' model uploads: streamed to the storage volume (never whole in memory), size-limited
 * by the plan while streaming, validated in an isolated process (time + memory limit), stored
 * content-addressed and registered as an immutable version of the organization's model.
 */
@Injectable()
export class ModelUploadsService implements OnModuleInit {
  private readonly slots = new Slots(MAX_CONCURRENT_VALIDATIONS);
  readonly storageDir: string;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly prisma: PrismaService,
    private readonly registry: ModelRegistry,
    private readonly config: AppConfig,
  ) {
    this.storageDir = resolve(config.env.MODEL_STORAGE_DIR);
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
    const maxBytes = plan.maxUploadBytes;
    const tooLarge = () => new ProblemError('payload_too_large', `The model is larger than your plan's upload limit of ${maxBytes} bytes.`, { extensions: { limit_bytes: maxBytes }, headers: { connection: 'close' } });
    if (contentLength !== undefined && Number(contentLength) > maxBytes) throw tooLarge();
    // Cheap refusals before reading a byte: a platform model's name, an existing version.
    if (await this.prisma.model.findUnique({ where: { namespace_name: { namespace: PLATFORM_NAMESPACE, name } }, select: { id: true } })) {
      throw new ProblemError('conflict', `"${name}" is the name of a platform model; choose another name.`, { headers: { connection: 'close' } });
    }
    if (await this.versionExists(org.id, name, version)) throw this.exists(name, version);

    let file;
    try {
      file = await receiveUpload(body, { storageDir: this.storageDir, maxBytes });
    } catch (e) {
      // Stop reading the rest of the body: close the connection after the answer.
      if (e instanceof ProblemError) throw new ProblemError(e.code, e.detail, { extensions: e.extensions, headers: { ...e.headers, connection: 'close' } });
      throw e;
    }
    let signature;
    try {
      signature = await this.slots.run(() => validateModelFile(file.tmpPath, DEFAULT_VALIDATION_LIMITS));
    } catch (e) {
      await discard(file);
      throw e;
    }
    const artifactUri = await storeArtifact(file, this.storageDir);
    const record = await registerUploadedVersion(
      this.prisma,
      { orgId: org.id, name, version, sha256: file.sha256, sizeBytes: file.sizeBytes, artifactUri, signature, config: uploadedVersionConfig(signature) },
      async (tx, r) => {
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
    );
    // The stored bytes stay: they are content-addressed and may serve another version.
    if (record === 'conflict') throw this.exists(name, version);
    return this.view(record);
  }

  /** The organization's own models. */
  async list(org: Organization): Promise<RegisteredModel[]> {
    return this.registry.listOwn(org.id);
  }

  private async versionExists(orgId: string, name: string, version: string): Promise<boolean> {
    const row = await this.prisma.modelVersion.findFirst({ where: { version, model: { namespace: orgId, name } }, select: { id: true } });
    return row !== null;
  }

  private exists(name: string, version: string): ProblemError {
    return new ProblemError('conflict', `Model ${name} already has a version ${JSON.stringify(version)}; versions are immutable, upload the new file as a new version.`, { headers: { connection: 'close' } });
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
