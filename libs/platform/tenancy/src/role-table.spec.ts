import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '#infra/db';
import { roleTableMarkdown } from './role-table.js';

describe('role table', () => {
  it('has one row per permission; owners and admins hold all, viewers read only', () => {
    const lines = roleTableMarkdown().split('\n');
    expect(lines[0]).toBe('| Permission | owner | admin | developer | billing | viewer | key `predict` | key `usage:read` | key `keys:write` | key `admin` | `sk_test_` key |');
    expect(lines).toHaveLength(2 + 14);
    expect(lines).toContain('| `members:write` | ✓ | ✓ |  |  |  |  |  |  | ✓ | never |');
    expect(lines).toContain('| `org:read` | ✓ | ✓ | ✓ | ✓ | ✓ |  | ✓ | ✓ | ✓ | as its scopes |');
    expect(lines).toContain('| `keys:write` | ✓ | ✓ | ✓ |  |  |  |  | ✓ | ✓ | test keys only |');
  });

  it('is the table the README shows', async () => {
    const readme = await readFile(join(repoRoot(), 'README.md'), 'utf8');
    expect(readme).toContain(roleTableMarkdown());
  });
});
