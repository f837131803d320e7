export type { UsageEventInput } from './usage-event.js';
export { UsageConsumer, usageOf } from './usage-consumer.js';
