import { useState, type FormEvent } from 'react';
import { api } from '../api/client.js';
import type { WebhookEndpoint, WebhookMessage } from '../api/types.js';
import { formatDateTime } from '../lib/format.js';
import { Async, ErrorBox, NotAllowed, SecretOnce, StatusBadge, TableBox } from '../ui/components.js';
import { useAction, useResource } from '../ui/hooks.js';
import { useSession } from '../ui/session.js';

/** Loads nothing the role may not read: the page says so instead. */
export function WebhooksPage() {
  const { can } = useSession();
  return can('webhooks:read') ? <WebhooksPageBody /> : <NotAllowed what="webhooks" />;
}

function WebhooksPageBody() {
  const { org, can } = useSession();
  const endpoints = useResource(() => api.endpoints(org.slug), [org.slug]);
  const [secret, setSecret] = useState<string | null>(null);
  const writable = can('webhooks:write');
  return (
    <>
      {secret && <SecretOnce label="Webhook signing secret" secret={secret} onDone={() => setSecret(null)} />}
      <SigningSecret writable={writable} onRotated={setSecret} />
      {writable && (
        <CreateEndpoint
          onCreated={(s) => {
            if (s) setSecret(s);
            endpoints.reload();
          }}
        />
      )}
      <section className="panel" aria-label="Endpoints">
        <h2>Endpoints</h2>
        <Async res={endpoints} what="webhook endpoints" isEmpty={(l) => l.data.length === 0} empty="No endpoints yet: add a URL to receive events.">
          {(l) => (
            <TableBox label="Webhook endpoints">
              <thead>
                <tr>
                  <th>URL</th>
                  <th>Events</th>
                  <th>Status</th>
                  <th>Created</th>
                  {writable && <th>Actions</th>}
                </tr>
              </thead>
              <tbody>
                {l.data.map((e) => (
                  <EndpointRow key={e.id} e={e} writable={writable} onChanged={endpoints.reload} />
                ))}
              </tbody>
            </TableBox>
          )}
        </Async>
      </section>
      <Deliveries writable={writable} />
    </>
  );
}

function SigningSecret({ writable, onRotated }: { writable: boolean; onRotated: (s: string) => void }) {
  const { org } = useSession();
  const info = useResource(() => api.webhookSecret(org.slug), [org.slug]);
  const rotate = useAction(() => api.rotateWebhookSecret(org.slug));
  return (
    <section className="panel" aria-label="Signing secret">
      <h2>Signing secret</h2>
      <Async res={info} what="the signing secret">
        {(s) => (
          <p>
            {s.exists ? `Last rotated ${formatDateTime(s.rotated_at)}.` : 'No secret yet: it is created with the first endpoint.'}
            {s.previous_valid_until && ` The previous secret also signs until ${formatDateTime(s.previous_valid_until)}.`}
          </p>
        )}
      </Async>
      {writable && (
        <button
          type="button"
          disabled={rotate.pending}
          onClick={() => {
            if (window.confirm('Rotate the signing secret? Webhooks carry signatures by both secrets for a while.'))
              void rotate.run().then((r) => {
                if (r) {
                  onRotated(r.secret);
                  info.reload();
                }
              });
          }}
        >
          Rotate secret
        </button>
      )}
      {rotate.error && <ErrorBox error={rotate.error} />}
    </section>
  );
}

function CreateEndpoint({ onCreated }: { onCreated: (secret: string | undefined) => void }) {
  const { org } = useSession();
  const types = useResource(() => api.webhookEventTypes(), []);
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const create = useAction(() => api.createEndpoint(org.slug, { url, event_types: chosen, ...(description ? { description } : {}) }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await create.run();
    if (r) {
      setUrl('');
      setDescription('');
      setChosen([]);
      onCreated(r.secret);
    }
  };
  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label="Add an endpoint">
      <h2>Add an endpoint</h2>
      <div className="row">
        <label>
          URL
          <input type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/webhooks" />
        </label>
        <label>
          Description
          <input value={description} maxLength={200} onChange={(e) => setDescription(e.target.value)} />
        </label>
      </div>
      <fieldset>
        <legend>Event types (none chosen: every event)</legend>
        <Async res={types} what="event types">
          {(list) =>
            list.map((t) => (
              <label key={t} className="inline">
                <input type="checkbox" checked={chosen.includes(t)} onChange={(e) => setChosen((c) => (e.target.checked ? [...c, t] : c.filter((x) => x !== t)))} /> <code>{t}</code>
              </label>
            ))
          }
        </Async>
      </fieldset>
      {create.error && <ErrorBox error={create.error} />}
      <button type="submit" disabled={create.pending}>
        Add endpoint
      </button>
    </form>
  );
}

function EndpointRow({ e, writable, onChanged }: { e: WebhookEndpoint; writable: boolean; onChanged: () => void }) {
  const { org } = useSession();
  const toggle = useAction(() => api.updateEndpoint(org.slug, e.id, { enabled: !e.enabled }));
  const remove = useAction(() => api.deleteEndpoint(org.slug, e.id));
  return (
    <tr>
      <td className="wrap">
        <code>{e.url}</code>
        {e.description && <div className="muted small">{e.description}</div>}
      </td>
      <td>{e.event_types.length === 0 ? 'all' : e.event_types.join(', ')}</td>
      <td>
        <StatusBadge status={e.enabled ? 'enabled' : 'disabled'} />
        {e.disabled_reason && <span className="muted small"> ({e.disabled_reason})</span>}
      </td>
      <td>{formatDateTime(e.created_at)}</td>
      {writable && (
        <td className="actions">
          <button type="button" className="secondary" disabled={toggle.pending} onClick={() => void toggle.run().then((r) => r && onChanged())}>
            {e.enabled ? 'Disable' : 'Enable'}
          </button>
          <button
            type="button"
            className="danger"
            disabled={remove.pending}
            onClick={() => {
              if (window.confirm(`Delete the endpoint ${e.url}?`)) void remove.run().then(() => onChanged());
            }}
          >
            Delete
          </button>
          {(toggle.error ?? remove.error) && <ErrorBox error={(toggle.error ?? remove.error)!} />}
        </td>
      )}
    </tr>
  );
}

function Deliveries({ writable }: { writable: boolean }) {
  const { org } = useSession();
  const messages = useResource(() => api.messages(org.slug), [org.slug]);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section className="panel" aria-label="Recent deliveries">
      <h2>Recent deliveries</h2>
      <Async res={messages} what="deliveries" isEmpty={(l) => l.data.length === 0} empty="No webhook has been sent yet.">
        {(l) => (
          <TableBox label="Webhook messages">
            <thead>
              <tr>
                <th>Event</th>
                <th>URL</th>
                <th>Status</th>
                <th>Attempts</th>
                <th>Created</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {l.data.map((m) => (
                <MessageRows key={m.id} m={m} open={open === m.id} onToggle={() => setOpen(open === m.id ? null : m.id)} writable={writable} onReplayed={messages.reload} />
              ))}
            </tbody>
          </TableBox>
        )}
      </Async>
    </section>
  );
}

function MessageRows({ m, open, onToggle, writable, onReplayed }: { m: WebhookMessage; open: boolean; onToggle: () => void; writable: boolean; onReplayed: () => void }) {
  const { org } = useSession();
  const replay = useAction(() => api.replay(org.slug, m.id));
  return (
    <>
      <tr>
        <td>
          <code>{m.event_type}</code>
        </td>
        <td className="wrap">{m.url}</td>
        <td>
          <StatusBadge status={m.status} />
        </td>
        <td>{m.attempts}</td>
        <td>{formatDateTime(m.created_at)}</td>
        <td className="actions">
          <button type="button" className="secondary" aria-expanded={open} onClick={onToggle}>
            {open ? 'Hide attempts' : 'Attempts'}
          </button>
          {writable && (
            <button type="button" disabled={replay.pending} onClick={() => void replay.run().then((r) => r && onReplayed())}>
              Replay
            </button>
          )}
          {replay.error && <ErrorBox error={replay.error} />}
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={6}>
            <Attempts id={m.id} />
          </td>
        </tr>
      )}
    </>
  );
}

function Attempts({ id }: { id: string }) {
  const { org } = useSession();
  const attempts = useResource(() => api.messageAttempts(org.slug, id), [org.slug, id]);
  return (
    <Async res={attempts} what="attempts" isEmpty={(l) => l.data.length === 0} empty="No attempt yet.">
      {(l) => (
        <ul className="attempts">
          {l.data.map((a) => (
            <li key={a.id}>
              #{a.attempt} ({a.trigger}) · {a.status === null ? 'no answer' : `HTTP ${a.status}`} · {a.duration_ms} ms · {formatDateTime(a.created_at)}
              <pre className="response">{a.response || '(empty body)'}</pre>
            </li>
          ))}
        </ul>
      )}
    </Async>
  );
}
