/** One route an app serves: its method and Fastify pattern (e.g. "/v1/orgs/:org/api-keys/:id"). */
export interface ServedRoute {
  method: string;
  url: string;
}

/** A route pattern as a matcher of concrete paths (a parameter is one non-empty segment; `*` the rest). */
function matcher(pattern: string): RegExp {
  const body = pattern
    .split('/')
    .map((seg) => (seg === '*' ? '.*' : seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}$`);
}

/**
 * The routes an app serves, recorded as Fastify registers them. Pure apart from `add`; answers
 * which methods a concrete path has (for 405 with `Allow`) and lists itself (admin `/routes`).
 */
export class RouteTable {
  private readonly routes: (ServedRoute & { re: RegExp })[] = [];

  add(method: string, url: string): void {
    this.routes.push({ method: method.toUpperCase(), url, re: matcher(url) });
  }

  list(): ServedRoute[] {
    return this.routes.map(({ method, url }) => ({ method, url }));
  }

  /** The methods some route serves `path` with (sorted, OPTIONS excluded); [] when no route has the path. */
  methodsFor(path: string): string[] {
    const methods = new Set<string>();
    for (const r of this.routes) if (r.re.test(path)) methods.add(r.method);
    return [...methods].sort();
  }
}

const tables = new WeakMap<object, RouteTable>();

/** The route table of an app made by createHttpApp. */
export function routeTableOf(app: object): RouteTable {
  let t = tables.get(app);
  if (!t) tables.set(app, (t = new RouteTable()));
  return t;
}
