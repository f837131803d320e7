// Tenancy: organizations, memberships, roles and the permission matrix of the management API.
export {
  ROLES,
  API_KEY_SCOPES,
  PERMISSIONS,
  ROLE_PERMISSIONS,
  SCOPE_PERMISSIONS,
  isRole,
  isScope,
  roleAllows,
  scopesAllow,
  type RoleName,
  type ApiKeyScope,
  type Permission,
} from './permissions.js';
export { actorAllows, actorId, type Actor } from './actor.js';
