/** The per-route hook lists Fastify accepts on a route's options (as an `onRoute` hook sees them). */
export type RouteHookName = 'onRequest' | 'preParsing' | 'preValidation' | 'preHandler' | 'onSend' | 'onResponse';

type Hook = (...args: never[]) => unknown;

/**
 * Adds `hook` to one of a route's own hook lists from an `onRoute` hook (a route-level hook runs
 * only for that route, after the global ones: nothing is paid per request by the other routes).
 * `tag` marks it, so a route is never given the same kind of hook twice. The list is replaced,
 * never pushed into, since Fastify copies a GET route's options for its HEAD twin before `onRoute`.
 */
export function appendRouteHook<R extends Partial<Record<RouteHookName, unknown>>>(route: R, name: RouteHookName, tag: symbol, hook: Hook): void {
  const current = route[name] as Hook | Hook[] | undefined;
  const existing: Hook[] = current === undefined ? [] : Array.isArray(current) ? current : [current];
  if (existing.some((h) => tag in h)) return;
  (route as Record<RouteHookName, unknown>)[name] = [...existing, Object.assign(hook, { [tag]: true })];
}
