import type { Organization } from '#infra/db';
import type { InvitationRecord, MemberRecord, RoleName } from '#platform/tenancy';

export interface OrganizationView {
  id: string;
  object: 'organization';
  slug: string;
  name: string;
  created_at: string;
  updated_at: string;
  /** The caller's role, when the caller is a member (session). */
  role?: RoleName;
}

export function organizationView(org: Organization, role?: RoleName): OrganizationView {
  return {
    id: org.id,
    object: 'organization',
    slug: org.slug,
    name: org.name,
    created_at: org.createdAt.toISOString(),
    updated_at: org.updatedAt.toISOString(),
    ...(role ? { role } : {}),
  };
}

export function memberView(m: MemberRecord) {
  return {
    id: m.id,
    object: 'member' as const,
    user: { id: m.user.id, email: m.user.email, name: m.user.name },
    role: m.role,
    created_at: m.createdAt.toISOString(),
  };
}

export function invitationView(i: InvitationRecord, now = new Date()) {
  const status = i.acceptedAt ? 'accepted' : i.revokedAt ? 'revoked' : i.expiresAt <= now ? 'expired' : 'pending';
  return {
    id: i.id,
    object: 'invitation' as const,
    email: i.email,
    role: i.role,
    status,
    invited_by: i.invitedById,
    expires_at: i.expiresAt.toISOString(),
    created_at: i.createdAt.toISOString(),
  };
}
