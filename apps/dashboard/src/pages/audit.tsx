import { useState, type FormEvent } from 'react';
import { api } from '../api/client.js';
import type { AuditEntry } from '../api/types.js';
import { formatDateTime } from '../lib/format.js';
import { Async, ErrorBox, NotAllowed, TableBox } from '../ui/components.js';
import { toApiError, useResource } from '../ui/hooks.js';
import { useSession } from '../ui/session.js';
import type { ApiError } from '../api/client.js';

interface Filters {
  action: string;
  actor_id: string;
  target_id: string;
  since: string;
  until: string;
}
const EMPTY: Filters = { action: '', actor_id: '', target_id: '', since: '', until: '' };

/** Loads nothing the role may not read: the page says so instead. */
export function AuditPage() {
  const { can } = useSession();
  return can('audit:read') ? <AuditPageBody /> : <NotAllowed what="the audit log" />;
}

function AuditPageBody() {
  const { org } = useSession();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const [more, setMore] = useState<{ entries: AuditEntry[]; cursor: string | null } | null>(null);
  const [moreError, setMoreError] = useState<ApiError | null>(null);
  const query = (f: Filters, cursor?: string) => ({
    limit: 50,
    ...(f.action ? { action: f.action.trim() } : {}),
    ...(f.actor_id ? { actor_id: f.actor_id.trim() } : {}),
    ...(f.target_id ? { target_id: f.target_id.trim() } : {}),
    ...(f.since ? { since: new Date(f.since).toISOString() } : {}),
    ...(f.until ? { until: new Date(f.until).toISOString() } : {}),
    ...(cursor ? { starting_after: cursor } : {}),
  });
  const page = useResource(() => {
    setMore(null);
    return api.auditLog(org.slug, query(applied));
  }, [org.slug, JSON.stringify(applied)]);
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setApplied(draft);
  };
  const loadMore = async (cursor: string, prior: AuditEntry[]) => {
    setMoreError(null);
    try {
      const next = await api.auditLog(org.slug, query(applied, cursor));
      setMore({ entries: [...prior, ...next.data], cursor: next.next_cursor });
    } catch (e) {
      setMoreError(toApiError(e));
    }
  };
  return (
    <>
      <form className="panel filters" onSubmit={submit} aria-label="Audit-log filters">
        <div className="row">
          <label>
            Action
            <input value={draft.action} onChange={set('action')} placeholder="api_key.create or api_key" />
          </label>
          <label>
            Actor id
            <input value={draft.actor_id} onChange={set('actor_id')} placeholder="user or key id" />
          </label>
          <label>
            Target id
            <input value={draft.target_id} onChange={set('target_id')} />
          </label>
          <label>
            Since
            <input type="datetime-local" value={draft.since} onChange={set('since')} />
          </label>
          <label>
            Until
            <input type="datetime-local" value={draft.until} onChange={set('until')} />
          </label>
        </div>
        <button type="submit">Apply</button>{' '}
        <button
          type="button"
          className="secondary"
          onClick={() => {
            setDraft(EMPTY);
            setApplied(EMPTY);
          }}
        >
          Clear
        </button>
      </form>
      <Async res={page} what="the audit log" isEmpty={(l) => l.data.length === 0} empty="No entries match.">
        {(l) => {
          const entries = more ? more.entries : l.data;
          const cursor = more ? more.cursor : l.next_cursor;
          return (
            <>
              <TableBox label="Audit-log entries">
                <thead>
                  <tr>
                    <th>When</th>
                    <th>Action</th>
                    <th>Actor</th>
                    <th>Target</th>
                    <th>IP</th>
                    <th>Changes</th>
                  </tr>
                </thead>
                <tbody>
                  {entries.map((e) => (
                    <tr key={e.id}>
                      <td>{formatDateTime(e.created_at)}</td>
                      <td>
                        <code>{e.action}</code>
                      </td>
                      <td>
                        {e.actor.type} <code className="small">{e.actor.id.slice(0, 8)}</code>
                      </td>
                      <td>
                        {e.target.type} {e.target.id && <code className="small">{e.target.id.slice(0, 8)}</code>}
                      </td>
                      <td>{e.ip ?? '—'}</td>
                      <td>
                        {e.changes !== null && (
                          <details>
                            <summary>show</summary>
                            <pre className="response">{JSON.stringify(e.changes, null, 2)}</pre>
                          </details>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </TableBox>
              {moreError && <ErrorBox error={moreError} onRetry={() => cursor && void loadMore(cursor, entries)} />}
              {cursor && (
                <button type="button" className="secondary" onClick={() => void loadMore(cursor, entries)}>
                  Load more
                </button>
              )}
            </>
          );
        }}
      </Async>
    </>
  );
}
