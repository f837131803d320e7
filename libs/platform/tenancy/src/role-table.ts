import { API_KEY_SCOPES } from '#platform/api-keys';
import { PERMISSIONS, ROLES, roleAllows, scopesAllow, TEST_KEY_RULES, type TestModeRule } from './permissions.js';

const TEST_KEY_CELL: Record<TestModeRule, string> = { allowed: 'as its scopes', test_keys_only: 'test keys only', never: 'never' };

/**
 * The permission matrix as a Markdown table (permissions × roles, API-key scopes, and what a
 * test-mode key may do whatever its scopes), so the README shows exactly what the code
 * enforces (a test compares them).
 */
export function roleTableMarkdown(): string {
  const header = ['Permission', ...ROLES, ...API_KEY_SCOPES.map((s) => `key \`${s}\``), '`sk_test_` key'];
  const rows = PERMISSIONS.map((p) => [
    `\`${p}\``,
    ...ROLES.map((r) => (roleAllows(r, p) ? '✓' : '')),
    ...API_KEY_SCOPES.map((s) => (scopesAllow([s], p) ? '✓' : '')),
    TEST_KEY_CELL[TEST_KEY_RULES[p]],
  ]);
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
