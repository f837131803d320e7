import { useState, type FormEvent } from 'react';
import { api } from '../api/client.js';
import { SCOPES, type ApiKey, type ApiKeyWithSecret, type KeyMode, type Scope } from '../api/types.js';
import { formatDate, formatDateTime, formatRelative } from '../lib/format.js';
import { Async, ErrorBox, ModeBadge, NotAllowed, SecretOnce, StatusBadge, TableBox } from '../ui/components.js';
import { useAction, useResource } from '../ui/hooks.js';
import { useSession } from '../ui/session.js';

const SCOPE_HELP: Record<Scope, string> = {
  predict: 'call the prediction routes',
  'usage:read': 'read usage and the organization',
  'keys:write': 'manage API keys',
  admin: 'everything an admin may do',
};

/** Loads nothing the role may not read: the page says so instead. */
export function KeysPage() {
  const { can } = useSession();
  return can('keys:read') ? <KeysPageBody /> : <NotAllowed what="API keys" />;
}

function KeysPageBody() {
  const { org, can } = useSession();
  const [showRevoked, setShowRevoked] = useState(false);
  const keys = useResource(() => api.keys(org.slug, { include_revoked: showRevoked, limit: 100 }), [org.slug, showRevoked]);
  const [secret, setSecret] = useState<{ label: string; key: ApiKeyWithSecret } | null>(null);
  const writable = can('keys:write');
  const shown = (k: ApiKeyWithSecret, label: string) => {
    setSecret({ label, key: k });
    keys.reload();
  };
  return (
    <>
      {secret && <SecretOnce label={`${secret.label}: ${secret.key.name} (${secret.key.mode})`} secret={secret.key.secret} onDone={() => setSecret(null)} />}
      {writable && <CreateKeyForm onCreated={(k) => shown(k, 'New API key')} />}
      <label className="inline">
        <input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.target.checked)} /> Show revoked keys
      </label>
      <Async res={keys} what="API keys" isEmpty={(l) => l.data.length === 0} empty="No API keys yet. Create one to call the API.">
        {(list) => (
          <>
            {(['live', 'test'] as const).map((mode) => (
              <KeyTable key={mode} mode={mode} keys={list.data.filter((k) => k.mode === mode)} writable={writable} onRolled={(k) => shown(k, 'Rolled API key')} onChanged={keys.reload} />
            ))}
          </>
        )}
      </Async>
    </>
  );
}

function CreateKeyForm({ onCreated }: { onCreated: (k: ApiKeyWithSecret) => void }) {
  const { org } = useSession();
  const [name, setName] = useState('');
  const [mode, setMode] = useState<KeyMode>('live');
  const [scopes, setScopes] = useState<Scope[]>(['predict']);
  const [expires, setExpires] = useState('');
  const create = useAction(async () => {
    const body = { name, mode, scopes, ...(expires ? { expires_at: new Date(`${expires}T23:59:59`).toISOString() } : {}) };
    return api.createKey(org.slug, body);
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const k = await create.run();
    if (k) {
      setName('');
      onCreated(k);
    }
  };
  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label="Create an API key">
      <h2>Create an API key</h2>
      <div className="row">
        <label>
          Name
          <input name="key-name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <fieldset className="mode-choice">
          <legend>Mode</legend>
          <label className="inline">
            <input type="radio" name="mode" value="live" checked={mode === 'live'} onChange={() => setMode('live')} /> Live <span className="muted small">(billed)</span>
          </label>
          <label className="inline">
            <input type="radio" name="mode" value="test" checked={mode === 'test'} onChange={() => setMode('test')} /> Test <span className="muted small">(never billed)</span>
          </label>
        </fieldset>
        <label>
          Expires <span className="muted small">(optional)</span>
          <input type="date" name="expires" value={expires} min={new Date().toISOString().slice(0, 10)} onChange={(e) => setExpires(e.target.value)} />
        </label>
      </div>
      <fieldset>
        <legend>Scopes</legend>
        {SCOPES.map((s) => (
          <label key={s} className="inline">
            <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes((cur) => (e.target.checked ? [...cur, s] : cur.filter((x) => x !== s)))} /> <code>{s}</code>{' '}
            <span className="muted small">{SCOPE_HELP[s]}</span>
          </label>
        ))}
      </fieldset>
      {create.error && <ErrorBox error={create.error} />}
      <button type="submit" disabled={create.pending}>
        {create.pending ? 'Creating…' : 'Create key'}
      </button>
    </form>
  );
}

function KeyTable({ mode, keys, writable, onRolled, onChanged }: { mode: KeyMode; keys: ApiKey[]; writable: boolean; onRolled: (k: ApiKeyWithSecret) => void; onChanged: () => void }) {
  return (
    <section className={`keys keys-${mode}`} aria-label={`${mode === 'live' ? 'Live' : 'Test'} keys`} data-testid={`keys-${mode}`}>
      <h2>
        <ModeBadge mode={mode} /> {mode === 'live' ? 'Live keys' : 'Test keys'}
      </h2>
      <p className="muted small">{mode === 'live' ? 'Calls with these keys are billed.' : 'Calls with these keys are never billed and count against the test quota only.'}</p>
      {keys.length === 0 ? (
        <p className="empty">No {mode} keys.</p>
      ) : (
        <TableBox label={`${mode} keys`}>
          <thead>
            <tr>
              <th>Name</th>
              <th>Key</th>
              <th>Scopes</th>
              <th>Status</th>
              <th>Last used</th>
              <th>Expires</th>
              <th>Created</th>
              {writable && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <KeyRow key={k.id} k={k} writable={writable} onRolled={onRolled} onChanged={onChanged} />
            ))}
          </tbody>
        </TableBox>
      )}
    </section>
  );
}

function KeyRow({ k, writable, onRolled, onChanged }: { k: ApiKey; writable: boolean; onRolled: (k: ApiKeyWithSecret) => void; onChanged: () => void }) {
  const { org } = useSession();
  const [grace, setGrace] = useState('86400');
  const roll = useAction(() => api.rollKey(org.slug, k.id, Number(grace)));
  const revoke = useAction(() => api.revokeKey(org.slug, k.id));
  const active = k.status === 'active';
  return (
    <tr data-key-id={k.id}>
      <td>{k.name}</td>
      <td>
        <code>{k.display_prefix}…</code>
      </td>
      <td>{k.scopes.join(', ')}</td>
      <td>
        <StatusBadge status={k.status} />
      </td>
      <td title={formatDateTime(k.last_used_at)}>{formatRelative(k.last_used_at)}</td>
      <td>{k.expires_at ? formatDate(k.expires_at) : 'never'}</td>
      <td>{formatDate(k.created_at)}</td>
      {writable && (
        <td className="actions">
          {active && (
            <>
              <label className="inline small">
                <span className="sr-only">Grace period for {k.name}</span>
                <select value={grace} onChange={(e) => setGrace(e.target.value)} aria-label={`Grace period for ${k.name}`}>
                  <option value="0">old key stops now</option>
                  <option value="3600">old key works 1 h</option>
                  <option value="86400">old key works 24 h</option>
                  <option value="604800">old key works 7 days</option>
                </select>
              </label>
              <button
                type="button"
                onClick={() =>
                  void roll.run().then((r) => {
                    if (r) onRolled(r);
                  })
                }
                disabled={roll.pending}
              >
                Roll
              </button>
            </>
          )}
          {k.status !== 'revoked' && (
            <button
              type="button"
              className="danger"
              disabled={revoke.pending}
              onClick={() => {
                if (window.confirm(`Revoke “${k.name}”? Calls with it fail within about a second.`)) void revoke.run().then((r) => r && onChanged());
              }}
            >
              Revoke
            </button>
          )}
          {(roll.error ?? revoke.error) && <ErrorBox error={(roll.error ?? revoke.error)!} />}
        </td>
      )}
    </tr>
  );
}
