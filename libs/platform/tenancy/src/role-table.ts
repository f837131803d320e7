import { API_KEY_SCOPES } from '#platform/api-keys';
import { PERMISSIONS, ROLES, roleAllows, scopesAllow } from './permissions.js';

/**
 * The permission matrix as a Markdown table (permissions × roles and API-key scopes), so the
 * README shows exactly what the code enforces (a test compares them).
 */
export function roleTableMarkdown(): string {
  const header = ['Permission', ...ROLES, ...API_KEY_SCOPES.map((s) => `key \`${s}\``)];
  const rows = PERMISSIONS.map((p) => [`\`${p}\``, ...ROLES.map((r) => (roleAllows(r, p) ? '✓' : '')), ...API_KEY_SCOPES.map((s) => (scopesAllow([s], p) ? '✓' : ''))]);
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
