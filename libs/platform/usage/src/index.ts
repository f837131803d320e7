export { recordUsage, pruneUsageEvents, modelDimension, type LedgerEntry, type RecordedUsage } from './ledger.js';
export { loadPlans, loadOrgBilling, pricingAt, type OrgBilling } from './billing-context.js';
export { reachThresholds, periodIncluded, periodOfId, USAGE_THRESHOLD_EVENT, type ThresholdPayload } from './thresholds.js';
export { usageQuery, parseUsageQuery, USAGE_DIMENSIONS, MAX_RANGE_DAYS, type UsageDimension, type UsageRequest } from './usage-query.js';
export { UsageService, type UsageReport, type UsageRow, type UpcomingInvoice } from './usage.service.js';
export { changePlan, enqueuePlanChanged, PLAN_CHANGED_EVENT, type PlanChange, type PlanChangedPayload, type PlanSummary } from './plan-change.js';
export { UsageRetention } from './retention.js';
export { PlanChanges } from './plan-changes.js';
