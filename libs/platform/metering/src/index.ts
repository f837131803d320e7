export { recordUsage, type UsageEventInput, type UsageLedgerTx } from './usage-event.js';
export { UsageConsumer, usageOf } from './usage-consumer.js';
