// Tenancy: organizations, memberships, roles and the permission matrix of the management API.
export {
  ROLES,
  PERMISSIONS,
  ROLE_PERMISSIONS,
  SCOPE_PERMISSIONS,
  isRole,
  roleAllows,
  scopesAllow,
  TEST_KEY_RULES,
  ADMINISTRATIVE_PERMISSIONS,
  testKeyMay,
  type TestModeRule,
  type RoleName,
  type Permission,
} from './permissions.js';
export { actorAllows, actorRefusal, actorId, type Actor } from './actor.js';
export { UUID, toPage, type OrgScope, type Db, type PageRequest, type Page } from './scope.js';
export { OrganizationsRepository } from './organizations.repository.js';
export { MembershipsRepository, type MemberRecord } from './memberships.repository.js';
export { InvitationsRepository, type InvitationRecord } from './invitations.repository.js';
export {
  SessionGuard,
  OrgGuard,
  RequirePermission,
  CurrentUser,
  CurrentActor,
  CurrentOrg,
  PERMISSION_KEY,
  orgNotFound,
  type TenancyRequest,
} from './guards.js';
export { TenancyModule, routesMissingPermission, writeRoutesOpenToTestKeys } from './tenancy.module.js';
export { generateInvitationToken, isInvitationToken, digestInvitationToken } from './invitation-token.js';
export { roleTableMarkdown } from './role-table.js';
