export { monthPeriod, secondsToReset, periodSeconds, uuidv7Bounds, type QuotaPeriod } from './period.js';
export { decide, overLimit, remaining, RESERVE_SCRIPT, SETTLE_SCRIPT, INIT_SCRIPT, type Overage, type QuotaLimit, type QuotaState, type QuotaDecision } from './decision.js';
export { QuotaService, QUOTA_ESTIMATOR, SWEEP_GRACE_MS, quotaHeaders, type QuotaEstimator, type QuotaOutcome, type QuotaScope, type QuotaMode } from './quota.service.js';
export { QuotaConsumer, settlementOf } from './quota-consumer.js';
export { QuotaSweeper } from './quota-sweeper.js';
