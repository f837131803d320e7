export { recordUsage, type UsageEventInput, type UsageLedgerTx } from './usage-event.js';
export { UsageConsumer } from './usage-consumer.js';
