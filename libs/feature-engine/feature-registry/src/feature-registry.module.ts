import { Global, Inject, Injectable, Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { PrismaService } from '#infra/db';
import { Readiness } from '#infra/http';
import { FeatureCatalogue, loadFeatureCatalogue } from '#feature-engine/feature-catalogue';
import { ModelCatalogue } from '#model-service/model-registry';
import { FeatureVersionChangedError, recordFeatureVersions } from './versions.js';

const RETRY_MS = 2_000;
/** How long start-up waits for the first check before going on (the check continues in the background). */
const START_WAIT_MS = 5_000;

/**
 * Publishes the catalogue's versions in Postgres at start-up (see recordFeatureVersions): a changed
 * document for a published version stops the process. When Postgres does not answer at start the
 * check is retried in the background and readiness ("feature-versions") waits for it.
 */
@Injectable()
export class FeatureVersions implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('FeatureVersions');
  private state: { ok: true } | { ok: false; reason: string } = { ok: false, reason: 'not checked yet' };
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    @Inject(FeatureCatalogue) private readonly catalogue: FeatureCatalogue,
    private readonly prisma: PrismaService,
    private readonly readiness: Readiness,
  ) {}

  async onModuleInit(): Promise<void> {
    this.readiness.register('feature-versions', () => (this.state.ok ? Promise.resolve() : Promise.reject(new Error(this.state.reason))));
    // A changed published version is a start-up error; an unreachable (or slow) Postgres is not:
    // the check goes on in the background and readiness waits for it.
    const first = this.attempt(0);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([first, new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), START_WAIT_MS)))]);
    clearTimeout(timer);
    if (outcome instanceof FeatureVersionChangedError) throw outcome;
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One check; schedules the next on failure. Resolves with the conflict when a published version changed. */
  private async attempt(n: number): Promise<FeatureVersionChangedError | 'ok' | 'retrying'> {
    try {
      const { inserted } = await recordFeatureVersions(this.prisma, this.catalogue.documents());
      this.state = { ok: true };
      this.logger.log(`feature versions checked: ${this.catalogue.documents().length} served, ${inserted} newly published`);
      return 'ok';
    } catch (e) {
      if (e instanceof FeatureVersionChangedError) {
        this.state = { ok: false, reason: e.message };
        this.logger.error(e.message);
        return e;
      }
      this.state = { ok: false, reason: `feature versions not checked yet: ${e instanceof Error ? e.message : String(e)}` };
      if (n === 0 || n % 15 === 0) this.logger.warn(`feature versions check failed (retrying every ${RETRY_MS} ms): ${e instanceof Error ? e.message : String(e)}`);
      if (!this.stopped) this.timer = setTimeout(() => void this.attempt(n + 1), RETRY_MS);
      return 'retrying';
    }
  }
}

/**
 * The FeatureCatalogue a gateway or worker serves: the built-in documents and FEATURES_DIR's,
 * validated as a whole against the models the deployment serves before anything is served (a bad
 * document stops the process with a message naming the file and the node), and their versions
 * published immutably. Needs ConfigModule, DbModule, HealthModule and ModelRegistryModule.
 */
@Global()
@Module({
  providers: [
    {
      provide: FeatureCatalogue,
      useFactory: (config: AppConfig, models: ModelCatalogue) => loadFeatureCatalogue({ featuresDir: config.env.FEATURES_DIR, models: models.entries() }),
      inject: [AppConfig, ModelCatalogue],
    },
    FeatureVersions,
  ],
  exports: [FeatureCatalogue],
})
export class FeatureRegistryModule {}
