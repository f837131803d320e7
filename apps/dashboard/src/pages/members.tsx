import { useState, type FormEvent } from 'react';
import { api } from '../api/client.js';
import { ROLES, type Invitation, type Member, type Role } from '../api/types.js';
import { formatDate, formatDateTime } from '../lib/format.js';
import { Async, ErrorBox, NotAllowed, SecretOnce, StatusBadge, TableBox } from '../ui/components.js';
import { useAction, useResource } from '../ui/hooks.js';
import { useSession } from '../ui/session.js';

/** Roles a viewer may hand out: only owners grant owner (the API refuses it anyway). */
const grantable = (mine: Role): readonly Role[] => (mine === 'owner' ? ROLES : ROLES.filter((r) => r !== 'owner'));

/** Loads nothing the role may not read: the page says so instead. */
export function MembersPage() {
  const { can } = useSession();
  return can('members:read') ? <MembersPageBody /> : <NotAllowed what="members" />;
}

function MembersPageBody() {
  const { org, can, me } = useSession();
  const members = useResource(() => api.members(org.slug), [org.slug]);
  const invitations = useResource(() => api.invitations(org.slug), [org.slug]);
  const [token, setToken] = useState<string | null>(null);
  const writable = can('members:write');
  return (
    <>
      {token && <SecretOnce label="Invitation token (send it to the invitee; they accept with POST /v1/invitations/accept)" secret={token} onDone={() => setToken(null)} />}
      <section className="panel" aria-label="Members">
        <h2>Members</h2>
        <Async res={members} what="members" isEmpty={(l) => l.data.length === 0}>
          {(l) => (
            <TableBox label="Members">
              <thead>
                <tr>
                  <th>Email</th>
                  <th>Name</th>
                  <th>Role</th>
                  <th>Since</th>
                  {writable && <th>Actions</th>}
                </tr>
              </thead>
              <tbody>
                {l.data.map((m) => (
                  <MemberRow key={m.id} m={m} writable={writable && m.user.id !== me.id && (m.role !== 'owner' || org.role === 'owner')} onChanged={members.reload} />
                ))}
              </tbody>
            </TableBox>
          )}
        </Async>
      </section>
      {writable && (
        <InviteForm
          onInvited={(t) => {
            setToken(t);
            invitations.reload();
          }}
        />
      )}
      <section className="panel" aria-label="Pending invitations">
        <h2>Pending invitations</h2>
        <Async res={invitations} what="invitations" isEmpty={(l) => l.data.length === 0} empty="No pending invitations.">
          {(l) => (
            <TableBox label="Invitations">
              <thead>
                <tr>
                  <th>Email</th>
                  <th>Role</th>
                  <th>Status</th>
                  <th>Expires</th>
                  {writable && <th>Actions</th>}
                </tr>
              </thead>
              <tbody>
                {l.data.map((i) => (
                  <InvitationRow key={i.id} i={i} writable={writable} onChanged={invitations.reload} />
                ))}
              </tbody>
            </TableBox>
          )}
        </Async>
      </section>
    </>
  );
}

function MemberRow({ m, writable, onChanged }: { m: Member; writable: boolean; onChanged: () => void }) {
  const { org } = useSession();
  const change = useAction((role: Role) => api.updateMember(org.slug, m.id, role));
  const remove = useAction(() => api.removeMember(org.slug, m.id));
  return (
    <tr>
      <td>{m.user.email}</td>
      <td>{m.user.name ?? '—'}</td>
      <td>
        {writable ? (
          <select aria-label={`Role of ${m.user.email}`} value={m.role} disabled={change.pending} onChange={(e) => void change.run(e.target.value as Role).then((r) => r && onChanged())}>
            {grantable(org.role).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        ) : (
          m.role
        )}
      </td>
      <td>{formatDate(m.created_at)}</td>
      {writable && (
        <td className="actions">
          <button
            type="button"
            className="danger"
            disabled={remove.pending}
            onClick={() => {
              if (window.confirm(`Remove ${m.user.email} from ${org.name}?`)) void remove.run().then(() => onChanged());
            }}
          >
            Remove
          </button>
          {(change.error ?? remove.error) && <ErrorBox error={(change.error ?? remove.error)!} />}
        </td>
      )}
    </tr>
  );
}

function InviteForm({ onInvited }: { onInvited: (token: string) => void }) {
  const { org } = useSession();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('developer');
  const invite = useAction(() => api.invite(org.slug, { email, role }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await invite.run();
    if (r) {
      setEmail('');
      onInvited(r.token);
    }
  };
  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label="Invite someone">
      <h2>Invite someone</h2>
      <div className="row">
        <label>
          Email
          <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {grantable(org.role).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
      </div>
      {invite.error && <ErrorBox error={invite.error} />}
      <button type="submit" disabled={invite.pending}>
        Invite
      </button>
    </form>
  );
}

function InvitationRow({ i, writable, onChanged }: { i: Invitation; writable: boolean; onChanged: () => void }) {
  const { org } = useSession();
  const revoke = useAction(() => api.revokeInvitation(org.slug, i.id));
  return (
    <tr>
      <td>{i.email}</td>
      <td>{i.role}</td>
      <td>
        <StatusBadge status={i.status} />
      </td>
      <td>{formatDateTime(i.expires_at)}</td>
      {writable && (
        <td className="actions">
          <button type="button" className="danger" disabled={revoke.pending} onClick={() => void revoke.run().then(() => onChanged())}>
            Revoke
          </button>
          {revoke.error && <ErrorBox error={revoke.error} />}
        </td>
      )}
    </tr>
  );
}
