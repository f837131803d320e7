export { toPredictionView, isTerminal, TERMINAL_STATUSES, type PredictionView, type PredictionRecord, type PredictionStatus, type PredictionMetrics } from './prediction-view.js';
export { parsePreferWait, MAX_WAIT_SECONDS } from './prefer-wait.js';
export { PredictionsRepository, type TenantScope, type KeyScope, type NewPrediction, type PredictionSuccess } from './predictions.repository.js';
export { PredictionEvents } from './prediction-events.js';
export { PredictionsModule } from './predictions.module.js';
