// Webhook fixtures written straight to the database, for the management suites.
import { uuidv7, type PrismaClient } from '#infra/db';

/** An enabled endpoint of `orgId` (a URL nothing resolves here). */
export async function addWebhookEndpoint(prisma: PrismaClient, orgId: string): Promise<string> {
  const id = uuidv7();
  await prisma.webhookEndpoint.create({ data: { id, orgId, url: 'https://hooks.example.test/in', eventTypes: [] } });
  return id;
}

/** A failed message of `orgId` to an ad hoc URL (a prediction's own webhook). */
export async function addWebhookMessage(prisma: PrismaClient, orgId: string): Promise<string> {
  const id = uuidv7();
  await prisma.webhookMessage.create({ data: { id, orgId, url: 'https://hooks.example.test/in', eventType: 'prediction.succeeded', dedupeKey: `fixture:${id}`, payload: { type: 'prediction.succeeded' }, status: 'failed' } });
  return id;
}
