import type { ModelEntry } from '#model-service/model-format';
import type { LoadOptions, ModelHost, ModelStatus } from '#model-service/runtime';
import type { ModelRef, TensorData } from '#model-service/tensors';

/**
 * One host for the worker over two: uploaded versions (host name `<orgId>/<name>`, see
 * uploadedRef) go to the isolated host (a child process each), platform models to the
 * in-process or threaded one.
 */
export class RoutingHost implements ModelHost {
  constructor(
    private readonly platform: ModelHost,
    private readonly uploads: ModelHost,
  ) {}

  private of(ref: ModelRef): ModelHost {
    return ref.name.includes('/') ? this.uploads : this.platform;
  }

  load(model: ModelEntry, opts: LoadOptions): Promise<ModelStatus> {
    return this.of(model).load(model, opts);
  }

  run(ref: ModelRef, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    return this.of(ref).run(ref, feeds);
  }

  status(): ModelStatus[] {
    return [...this.platform.status(), ...this.uploads.status()];
  }

  refuse(model: ModelEntry, reason: string): ModelStatus {
    return this.of(model).refuse(model, reason);
  }

  unload(ref: ModelRef): Promise<boolean> {
    return this.of(ref).unload(ref);
  }

  isReady(): boolean {
    const all = this.status();
    return all.length > 0 && all.every((s) => s.ready);
  }

  async close(): Promise<void> {
    await Promise.all([this.platform.close(), this.uploads.close()]);
  }
}
