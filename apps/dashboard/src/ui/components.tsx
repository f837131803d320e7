import { useState, type ReactNode } from 'react';
import type { ApiError } from '../api/client.js';
import type { Resource } from './hooks.js';

/** An API error as the page shows it: the problem's detail, its code, and a retry when one is offered. */
export function ErrorBox({ error, onRetry, what }: { error: ApiError; onRetry?: () => void; what?: string }) {
  return (
    <div className="error" role="alert">
      <p>
        <strong>{what ? `Could not load ${what}.` : 'That did not work.'}</strong> {error.problem.detail}
      </p>
      {error.problem.errors && error.problem.errors.length > 0 && (
        <ul>
          {error.problem.errors.map((e, i) => (
            <li key={i}>
              <code>{e.path || '(body)'}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
      <p className="muted small">
        {error.status > 0 ? `HTTP ${error.status} · ` : ''}
        <code>{error.code}</code>
        {error.problem.requestId ? ` · request ${error.problem.requestId}` : ''}
      </p>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/**
 * The three states of a section: loading, error (detail + retry), ready; `isEmpty` adds the
 * fourth (an empty state with its own message).
 */
export function Async<T>({ res, what, isEmpty, empty, children }: { res: Resource<T> & { retry: () => void }; what: string; isEmpty?: (d: T) => boolean; empty?: ReactNode; children: (data: T) => ReactNode }) {
  if (res.status === 'error') return <ErrorBox error={res.error} onRetry={res.retry} what={what} />;
  if (res.status === 'loading' && res.data === undefined) return <Loading what={what} />;
  const data = res.data as T;
  if (isEmpty?.(data)) return <Empty>{empty ?? `No ${what} yet.`}</Empty>;
  return <>{children(data)}</>;
}

/** A one-time secret with a copy button; it lives in this component's state only and is gone when dismissed. */
export function SecretOnce({ label, secret, onDone }: { label: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <section className="secret" aria-label={label} data-testid="secret-once">
      <h3>{label}</h3>
      <p>Copy it now: it is shown this once and cannot be shown again.</p>
      <div className="secret-row">
        <code className="secret-value" data-testid="secret-value">
          {secret}
        </code>
        <button type="button" onClick={() => void copy()}>
          {copied === 'yes' ? 'Copied' : 'Copy'}
        </button>
      </div>
      {copied === 'failed' && <p className="muted small">The clipboard is not available here: select the text and copy it.</p>}
      <button type="button" className="secondary" onClick={onDone}>
        I have stored it
      </button>
    </section>
  );
}

/** Tables scroll inside their own box on narrow screens, never the page. */
export function TableBox({ children, label }: { children: ReactNode; label: string }) {
  return (
    <div className="table-box" role="region" aria-label={label} tabIndex={0}>
      <table>{children}</table>
    </div>
  );
}

export function ModeBadge({ mode }: { mode: 'live' | 'test' }) {
  return <span className={`badge ${mode === 'live' ? 'badge-live' : 'badge-test'}`}>{mode === 'live' ? 'LIVE' : 'TEST'}</span>;
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}

export function Card({ title, children, testId }: { title: string; children: ReactNode; testId?: string }) {
  return (
    <section className="card" aria-label={title} {...(testId ? { 'data-testid': testId } : {})}>
      <h3>{title}</h3>
      {children}
    </section>
  );
}

export function NotAllowed({ what }: { what: string }) {
  return (
    <Empty>
      Your role in this organization does not include {what}. Ask an owner or an admin.
    </Empty>
  );
}
