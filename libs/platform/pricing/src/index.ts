export { PRICE_SCALE, isUnitPrice, scaledPrice, formatPrice, divideHalfEven, exactAmount, roundAmount, lineAmount, microsToUnitPrice } from './money.js';
export { billingPeriod, bucketStart, effectiveAtOf, BUCKET_MS, type BillingPeriod } from './period.js';
export { planAt, planSegments, proratedIncluded, unitPriceOf, segmentLines, invoiceTotal, type PlanPricing, type PlanChangeRecord, type PlanSegment, type FeatureUsage, type InvoiceLine } from './invoice.js';
export { thresholdsReached, USAGE_THRESHOLDS, type UsageThreshold } from './thresholds.js';
export { zonedPeriodStart, nextZonedPeriodStart, isTimeZone, type Granularity } from './time-zone.js';
