import { Injectable } from '@nestjs/common';
import type { Actor } from '#platform/tenancy';
import { ApiKeyVerifier } from '#platform/api-keys';
import type { ApiKeyListFilter, CreateApiKeyInput, PageQuery, UpdateApiKeyInput } from './api-key-input.js';
import type { ApiKeyView, ApiKeyWithSecret } from './api-key-view.js';
import { ApiKeysRepository, type ApiKeyPage, type TenantScope } from './api-keys.repository.js';

/**
 * The management operations on API keys: the repository's writes, followed by dropping the
 * changed keys from every verification cache, so a revoked, rolled or narrowed key stops
 * working as it was on every gateway.
 */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly repo: ApiKeysRepository,
    private readonly verifier: ApiKeyVerifier,
  ) {}

  list(scope: TenantScope, filter: ApiKeyListFilter, page: PageQuery): Promise<ApiKeyPage> {
    return this.repo.list(scope, filter, page);
  }

  get(scope: TenantScope, id: string): Promise<ApiKeyView> {
    return this.repo.get(scope, id);
  }

  async create(actor: Actor, input: CreateApiKeyInput): Promise<ApiKeyWithSecret> {
    return (await this.repo.create(actor, input)).key;
  }

  async update(actor: Actor, id: string, patch: UpdateApiKeyInput): Promise<ApiKeyView> {
    const { key, invalidate } = await this.repo.update(actor, id, patch);
    await this.invalidate(invalidate);
    return key;
  }

  async revoke(actor: Actor, id: string): Promise<ApiKeyView> {
    const { key, invalidate } = await this.repo.revoke(actor, id);
    await this.invalidate(invalidate);
    return key;
  }

  async roll(actor: Actor, id: string, graceSeconds: number): Promise<ApiKeyWithSecret> {
    const { key, invalidate } = await this.repo.roll(actor, id, graceSeconds);
    await this.invalidate(invalidate);
    return key;
  }

  /** After the commit: every gateway forgets the keys within about a second (503 if Redis cannot be told; the change itself is saved). */
  private async invalidate(digests: string[]): Promise<void> {
    await this.verifier.invalidateEverywhere(digests);
  }
}
