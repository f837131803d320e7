import { Module } from '@nestjs/common';
import { WebhookDelivery } from './delivery-loop.js';
import { PredictionWebhooksConsumer } from './prediction-consumer.js';
import { WebhooksService } from './webhooks.service.js';

/** Webhook management, the prediction webhooks consumer and the delivery loop (needs DbModule and ConfigModule). */
@Module({ providers: [WebhooksService, PredictionWebhooksConsumer, WebhookDelivery], exports: [WebhooksService, PredictionWebhooksConsumer, WebhookDelivery] })
export class WebhooksModule {}
