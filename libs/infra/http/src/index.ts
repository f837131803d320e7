export { createHttpApp, listen, runApp, type HttpAppOptions } from './create-app.js';
export { ProblemFilter, type ProblemFilterOptions } from './problem.filter.js';
export { toProblem } from './problem-mapping.js';
export { requestIdFor } from './request-id.js';
export { HealthModule, Readiness, type ReadinessCheck } from './health.js';
export { listenAdmin, type AdminListener } from './admin.js';
export { findNul, findNulInRequest, nulRefusal, type NulFinding } from './nul-guard.js';
export { RouteTable, routeTableOf, type ServedRoute } from './route-table.js';
export { appendRouteHook, type RouteHookName } from './route-hooks.js';
