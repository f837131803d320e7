import { useEffect, useState } from 'react';

/** The dashboard lives under /dashboard; its routes are /dashboard/login, /dashboard/signup and /dashboard/orgs/{org}/{page}. */
export const BASE = '/dashboard';

export const PAGES = ['overview', 'usage', 'keys', 'webhooks', 'billing', 'members', 'audit'] as const;
export type PageName = (typeof PAGES)[number];

export type Route = { kind: 'login' } | { kind: 'signup' } | { kind: 'home' } | { kind: 'org'; org: string; page: PageName };

/** Parses a pathname (pure). Unknown pages of an organization fall back to its overview. */
export function parseRoute(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = rest.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'login') return { kind: 'login' };
  if (parts[0] === 'signup') return { kind: 'signup' };
  if (parts[0] === 'orgs' && parts[1]) {
    const page = (PAGES as readonly string[]).includes(parts[2] ?? '') ? (parts[2] as PageName) : 'overview';
    return { kind: 'org', org: parts[1], page };
  }
  return { kind: 'home' };
}

export function hrefOf(route: Route): string {
  switch (route.kind) {
    case 'login':
      return `${BASE}/login`;
    case 'signup':
      return `${BASE}/signup`;
    case 'home':
      return `${BASE}/`;
    case 'org':
      return `${BASE}/orgs/${encodeURIComponent(route.org)}/${route.page}`;
  }
}

export function navigate(route: Route, replace = false): void {
  const href = hrefOf(route);
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.pathname));
    window.addEventListener('popstate', on);
    return () => window.removeEventListener('popstate', on);
  }, []);
  return route;
}
