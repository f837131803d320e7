import { Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { ApiKeysModule } from '#platform/api-keys';
import { ApiKeyManagementModule } from '#platform/key-management';
import { AuditModule } from '#platform/audit';
import { ConfigModule } from '#infra/config';
import { DbModule, PrismaService } from '#infra/db';
import { HealthModule, Readiness } from '#infra/http';
import { IdempotencyModule } from '#platform/idempotency';
import { IdentityModule } from '#platform/identity';
import { MetricsModule, MetricsRegistry } from '#infra/metrics';
import { ModelRegistryModule } from '#model-service/model-registry';
import { FeatureCatalogue } from '#feature-engine/feature-catalogue';
import { FeatureRegistryModule } from '#feature-engine/feature-registry';
import { LIFECYCLE_CONSUMERS, OutboxDispatcher, PredictionRecovery, PredictionsModule } from '#platform/predictions';
import { UsageConsumer } from '#platform/metering';
import { PredictionWebhooksConsumer, WebhooksModule } from '#platform/webhooks';
import { QUOTA_ESTIMATOR, QuotaConsumer, QuotaService, QuotaSweeper } from '#platform/quotas';
import { featureUnitEstimate } from './quotas/quota-headers.js';
import { ConcurrencyConsumer, RateLimitsModule } from '#platform/rate-limits';
import { InferenceQueues, QueueModule, registerArrivalCounter, registerQueueDepthGauge } from '#infra/queue';
import { pingRedis, RedisClient, RedisModule } from '#infra/redis';
import { TenancyModule } from '#platform/tenancy';
import { Reconciliation, StripeBillingModule } from '#platform/stripe-billing';
import { BillingController } from './billing/billing.controller.js';
import { StripeWebhookController } from './billing/stripe-webhook.controller.js';
import { ApiKeysController } from './api-keys/api-keys.controller.js';
import { AuditLogController } from './audit/audit-log.controller.js';
import { AuthController } from './auth/auth.controller.js';
import { AuthService } from './auth/auth.service.js';
import { FeaturesController } from './features/features.controller.js';
import { ModelsController } from './models/models.controller.js';
import { OrgController, OrgsController } from './orgs/orgs.controller.js';
import { OrgsService } from './orgs/orgs.service.js';
import { PredictionsController } from './predictions/predictions.controller.js';
import { PredictionsService } from './predictions/predictions.service.js';
import { Admission } from './admission.js';
import { ModelUploadsController } from './model-uploads/model-uploads.controller.js';
import { ModelUploadsService } from './model-uploads/model-uploads.service.js';
import { ProblemsController } from './problems/problems.controller.js';
import { V2Controller, V2HealthController } from './v2/v2.controller.js';
import { V2Service } from './v2/v2.service.js';
import { StatsController, StatsService } from './stats/stats.controller.js';
import { WebhooksController } from './webhooks/webhooks.controller.js';
import { LedgerBillingController } from './billing/ledger.controller.js';
import { LedgerBillingService } from './billing/ledger.service.js';
import { UsageRetention, UsageService } from '#platform/usage';

@Module({
  imports: [ConfigModule.forRoot(), MetricsModule.forRoot('gateway'), HealthModule, DbModule, RedisModule, ApiKeysModule, PredictionsModule, IdentityModule, TenancyModule, ApiKeyManagementModule, AuditModule, ModelRegistryModule, FeatureRegistryModule, RateLimitsModule, IdempotencyModule, WebhooksModule, StripeBillingModule],
  controllers: [PredictionsController, FeaturesController, AuthController, OrgsController, OrgController, ApiKeysController, AuditLogController, ModelsController, V2HealthController, V2Controller, ModelUploadsController, ProblemsController, WebhooksController, LedgerBillingController, BillingController, StripeWebhookController, StatsController],
  providers: [
    Admission,
    StatsService,
    PredictionsService,
    AuthService,
    OrgsService,
    V2Service,
    ModelUploadsService,
    UsageService,
    LedgerBillingService,
    UsageRetention,
    // System jobs (SYSTEM_JOBS=on, the default): lifecycle consumers, recovery, retention.
    UsageConsumer,
    { provide: QUOTA_ESTIMATOR, useFactory: featureUnitEstimate, inject: [FeatureCatalogue] },
    QuotaService,
    QuotaConsumer,
    QuotaSweeper,
    { provide: LIFECYCLE_CONSUMERS, useFactory: (usage: UsageConsumer, quota: QuotaConsumer, concurrency: ConcurrencyConsumer, webhooks: PredictionWebhooksConsumer) => [usage, quota, concurrency, webhooks], inject: [UsageConsumer, QuotaConsumer, ConcurrencyConsumer, PredictionWebhooksConsumer] },
    OutboxDispatcher,
    PredictionRecovery,
    Reconciliation,
  ],
})
export class GatewayModule implements OnModuleInit {
  constructor(
    private readonly readiness: Readiness,
    private readonly db: PrismaService,
    private readonly redis: RedisClient,
    private readonly metrics: MetricsRegistry,
    private readonly queues: InferenceQueues,
  ) {}

  /** The gateway with a queue registered for each pool (see QueueModule.forPools). */
  static forPools(pools: readonly string[]): DynamicModule {
    return { module: GatewayModule, imports: [QueueModule.forPools(pools)] };
  }

  onModuleInit(): void {
    this.readiness.register('postgres', async () => {
      const r = await this.db.ping();
      if (!r.ok) throw new Error(r.error ?? 'unreachable');
    });
    this.readiness.register('redis', () => pingRedis(this.redis.redis));
    const pools = this.queues.pools();
    registerQueueDepthGauge(this.metrics, this.queues, () => pools);
    registerArrivalCounter(this.metrics, this.queues);
  }
}
