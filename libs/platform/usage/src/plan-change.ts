import { uuidv7, type Prisma } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { effectiveAtOf } from '#platform/pricing';
import { endpointWants, enqueueMessages } from '#platform/webhooks';

export const PLAN_CHANGED_EVENT = 'plan.changed';

export interface PlanSummary {
  id: string;
  key: string;
  name: string;
}

export interface PlanChange {
  id: string;
  from: PlanSummary;
  to: PlanSummary;
  changedAt: Date;
  /** When the new plan's prices and included units start (the next 15-minute boundary); its limits apply at once. */
  effectiveAt: Date;
}

/**
 * Moves an organization to the plan `planKey` inside the caller's transaction (the row is locked
 * first, so concurrent changes serialize) and records the change for proration; null when it
 * is on that plan already. Recorded usage is never touched: it stays in the rollups and is priced
 * by the plan in force when it happened. Unknown plan: 422.
 */
export async function changePlan(tx: Prisma.TransactionClient, orgId: string, planKey: string, at = new Date()): Promise<PlanChange | null> {
  const to = await tx.plan.findUnique({ where: { key: planKey }, select: { id: true, key: true, name: true } });
  if (!to) throw new ProblemError('validation_failed', `There is no plan "${planKey}".`, { extensions: { errors: [{ path: '/plan', message: 'is not a known plan' }] } });
  await tx.$queryRaw`SELECT 1 FROM "Organization" WHERE "id" = ${orgId}::uuid FOR UPDATE`;
  const org = await tx.organization.findUnique({ where: { id: orgId }, select: { plan: { select: { id: true, key: true, name: true } } } });
  if (!org) throw new ProblemError('not_found', 'No such organization.');
  if (org.plan.id === to.id) return null;
  const change: PlanChange = { id: uuidv7(), from: org.plan, to, changedAt: at, effectiveAt: effectiveAtOf(at) };
  await tx.organization.update({ where: { id: orgId }, data: { planId: to.id } });
  await tx.orgPlanChange.create({ data: { id: change.id, orgId, fromPlanId: org.plan.id, toPlanId: to.id, effectiveAt: change.effectiveAt, createdAt: at } });
  return change;
}

export interface PlanChangedPayload {
  type: typeof PLAN_CHANGED_EVENT;
  timestamp: string;
  data: { organization_id: string; from: { key: string; name: string }; to: { key: string; name: string }; changed_at: string; effective_at: string };
}

/** Enqueues `plan.changed` for the organization's endpoints that want it (same transaction as the change: sent if and only if it commits). */
export async function enqueuePlanChanged(tx: Prisma.TransactionClient, orgId: string, change: PlanChange): Promise<PlanChangedPayload> {
  const payload: PlanChangedPayload = {
    type: PLAN_CHANGED_EVENT,
    timestamp: change.changedAt.toISOString(),
    data: { organization_id: orgId, from: { key: change.from.key, name: change.from.name }, to: { key: change.to.key, name: change.to.name }, changed_at: change.changedAt.toISOString(), effective_at: change.effectiveAt.toISOString() },
  };
  const endpoints = (await tx.webhookEndpoint.findMany({ where: { orgId, enabled: true, deletedAt: null }, select: { id: true, url: true, eventTypes: true } })).filter((e) => endpointWants(e.eventTypes, PLAN_CHANGED_EVENT));
  await enqueueMessages(
    tx,
    endpoints.map((ep) => ({ orgId, endpointId: ep.id, url: ep.url, eventType: PLAN_CHANGED_EVENT, dedupeKey: `${PLAN_CHANGED_EVENT}:${change.id}:${ep.id}`, payload })),
    change.changedAt,
  );
  return payload;
}
