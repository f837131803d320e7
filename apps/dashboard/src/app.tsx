import { useEffect, useMemo, useState, type MouseEvent, type ReactNode } from 'react';
import { api } from './api/client.js';
import type { Me, Permission } from './api/types.js';
import { ErrorBox, Loading } from './ui/components.js';
import { toApiError } from './ui/hooks.js';
import { hrefOf, navigate, useRoute, type PageName, type Route } from './ui/router.js';
import { SessionContext, type Session } from './ui/session.js';
import { LoginPage, SignupPage } from './pages/auth.js';
import { OverviewPage } from './pages/overview.js';
import { UsagePage } from './pages/usage.js';
import { KeysPage } from './pages/keys.js';
import { WebhooksPage } from './pages/webhooks.js';
import { BillingPage } from './pages/billing.js';
import { MembersPage } from './pages/members.js';
import { AuditPage } from './pages/audit.js';
import type { ApiError } from './api/client.js';

/** Navigation: a page is listed only when the role may read what it shows. */
const NAV: { page: PageName; label: string; needs: Permission }[] = [
  { page: 'overview', label: 'Overview', needs: 'usage:read' },
  { page: 'usage', label: 'Usage', needs: 'usage:read' },
  { page: 'keys', label: 'API keys', needs: 'keys:read' },
  { page: 'webhooks', label: 'Webhooks', needs: 'webhooks:read' },
  { page: 'billing', label: 'Billing', needs: 'billing:read' },
  { page: 'members', label: 'Members', needs: 'members:read' },
  { page: 'audit', label: 'Audit log', needs: 'audit:read' },
];

/** A same-app link: keyboard and middle-click behave as links do; a plain click navigates without a reload. */
export function Link({ to, children, className, current }: { to: Route; children: ReactNode; className?: string; current?: boolean }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={hrefOf(to)} onClick={onClick} className={className} {...(current ? { 'aria-current': 'page' as const } : {})}>
      {children}
    </a>
  );
}

type MeState = { status: 'loading' } | { status: 'anonymous' } | { status: 'error'; error: ApiError } | { status: 'ready'; me: Me };

export function App() {
  const route = useRoute();
  const [me, setMe] = useState<MeState>({ status: 'loading' });
  const [tick, setTick] = useState(0);

  useEffect(() => {
    api.onUnauthenticated = () => {
      api.setCsrf(null);
      setMe({ status: 'anonymous' });
    };
    api.me().then(
      (m) => setMe({ status: 'ready', me: m }),
      (e: unknown) => {
        const err = toApiError(e);
        setMe(err.status === 401 ? { status: 'anonymous' } : { status: 'error', error: err });
      },
    );
  }, [tick]);

  // Where the viewer should be, given the session.
  useEffect(() => {
    if (me.status === 'anonymous' && route.kind !== 'login' && route.kind !== 'signup') navigate({ kind: 'login' }, true);
    if (me.status === 'ready') {
      const first = me.me.memberships[0];
      if ((route.kind === 'login' || route.kind === 'signup' || route.kind === 'home') && first) navigate({ kind: 'org', org: first.slug, page: 'overview' }, true);
    }
  }, [me, route]);

  useEffect(() => {
    const titles: Record<string, string> = { login: 'Log in', signup: 'Sign up', home: 'Stratum' };
    document.title = `${route.kind === 'org' ? (NAV.find((n) => n.page === route.page)?.label ?? '') : titles[route.kind]} · Stratum dashboard`;
  }, [route]);

  if (me.status === 'loading') return <Loading what="your session" />;
  if (me.status === 'error')
    return (
      <main className="narrow">
        <ErrorBox error={me.error} what="your session" onRetry={() => setTick((t) => t + 1)} />
      </main>
    );
  if (me.status === 'anonymous') {
    return route.kind === 'signup' ? <SignupPage onLoggedIn={(m) => setMe({ status: 'ready', me: m })} /> : <LoginPage onLoggedIn={(m) => setMe({ status: 'ready', me: m })} />;
  }
  if (route.kind !== 'org') return <Loading what="your organization" />;
  return <OrgShell me={me.me} route={route} onLoggedOut={() => setMe({ status: 'anonymous' })} />;
}

function OrgShell({ me, route, onLoggedOut }: { me: Me; route: Extract<Route, { kind: 'org' }>; onLoggedOut: () => void }) {
  const org = me.memberships.find((m) => m.slug === route.org || m.org_id === route.org);
  const session = useMemo<Session | null>(() => (org ? { me, org, can: (p) => org.permissions.includes(p) } : null), [me, org]);
  const [menuOpen, setMenuOpen] = useState(false);
  const [logoutError, setLogoutError] = useState<ApiError | null>(null);
  if (!session || !org) {
    return (
      <main className="narrow">
        <h1>Not found</h1>
        <p>You are not a member of “{route.org}”.</p>
        {me.memberships[0] && <Link to={{ kind: 'org', org: me.memberships[0].slug, page: 'overview' }}>Go to {me.memberships[0].name}</Link>}
      </main>
    );
  }
  const nav = NAV.filter((n) => session.can(n.needs));
  const logout = async () => {
    try {
      await api.logout();
      onLoggedOut();
    } catch (e) {
      setLogoutError(toApiError(e));
    }
  };
  const page = NAV.find((n) => n.page === route.page)!;
  return (
    <SessionContext.Provider value={session}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Stratum</span>
        <label className="org-switch">
          <span className="sr-only">Organization</span>
          <select aria-label="Organization" value={org.slug} onChange={(e) => navigate({ kind: 'org', org: e.target.value, page: route.page })}>
            {me.memberships.map((m) => (
              <option key={m.org_id} value={m.slug}>
                {m.name} ({m.role})
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="menu-toggle secondary" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen((o) => !o)}>
          Menu
        </button>
        <span className="who muted small">{me.email}</span>
        <button type="button" className="secondary" onClick={() => void logout()}>
          Log out
        </button>
      </header>
      {logoutError && <ErrorBox error={logoutError} />}
      <div className="layout">
        <nav id="nav" aria-label="Pages" className={menuOpen ? 'open' : ''}>
          <ul>
            {nav.map((n) => (
              <li key={n.page}>
                <Link to={{ kind: 'org', org: org.slug, page: n.page }} current={n.page === route.page}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          <h1>{page.label}</h1>
          <PageBody page={route.page} />
        </main>
      </div>
    </SessionContext.Provider>
  );
}

function PageBody({ page }: { page: PageName }) {
  switch (page) {
    case 'overview':
      return <OverviewPage />;
    case 'usage':
      return <UsagePage />;
    case 'keys':
      return <KeysPage />;
    case 'webhooks':
      return <WebhooksPage />;
    case 'billing':
      return <BillingPage />;
    case 'members':
      return <MembersPage />;
    case 'audit':
      return <AuditPage />;
  }
}
