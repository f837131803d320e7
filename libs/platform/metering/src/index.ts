export type { UsageEventInput } from './usage-event.js';
export { UsageConsumer, usageOf } from './usage-consumer.js';
export { USAGE_OUTBOX, type UsageOutbox } from './usage-outbox.js';
