export { recordUsage, type UsageEventInput, type UsageLedgerTx } from './usage-event.js';
