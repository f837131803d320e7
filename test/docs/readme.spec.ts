// The README stays true to the code: every configuration variable is documented, and the
// two commands that matter (start, test) are at the top and exist as npm scripts.
import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ENV_VARIABLES } from '#infra/config';
import { PROBLEM_CODES } from '#infra/errors';
import { EXECUTION_PROVIDERS } from '#infra/execution-providers';
import { API_KEY_SCOPES } from '#platform/api-keys';
import { repoRoot } from '#infra/db';

describe('README', () => {
  it('documents every environment variable of the config schema', async () => {
    const readme = await readFile(join(repoRoot(), 'README.md'), 'utf8');
    const missing = ENV_VARIABLES.filter((v) => !readme.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });

  it('documents every problem code with its status in the errors table', async () => {
    const readme = await readFile(join(repoRoot(), 'README.md'), 'utf8');
    const rows = readme.split('\n').filter((l) => /^\| \d{3} \|/.test(l));
    const missing = Object.entries(PROBLEM_CODES)
      .filter(([code, { status }]) => !rows.some((row) => row.startsWith(`| ${status} |`) && row.includes(`\`${code}\``)))
      .map(([code, { status }]) => `${status} ${code}`);
    expect(missing).toEqual([]);
  });

  it('describes exactly the API-key scopes there are in the scopes table', async () => {
    const readme = await readFile(join(repoRoot(), 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('| Scope | Grants |'));
    const lines = table.split('\n').slice(2);
    const rows = lines.slice(0, lines.findIndex((l) => !l.startsWith('|')));
    expect(rows.map((l) => /^\| `([^`]+)`/.exec(l)?.[1])).toEqual([...API_KEY_SCOPES]);
  });

  it('names every execution provider in the ORT_EXECUTION_PROVIDERS row', async () => {
    const readme = await readFile(join(repoRoot(), 'README.md'), 'utf8');
    const row = readme.split('\n').find((l) => l.startsWith('| `ORT_EXECUTION_PROVIDERS` |')) ?? '';
    expect(EXECUTION_PROVIDERS.filter((p) => !row.includes(`\`${p}\``))).toEqual([]);
  });

  it('starts with the start and test commands, and both are npm scripts', async () => {
    const readme = await readFile(join(repoRoot(), 'README.md'), 'utf8');
    const head = readme.slice(0, 1500);
    expect(head).toContain('npm ci && npm start');
    expect(head).toContain('npm test');
    const pkg = JSON.parse(await readFile(join(repoRoot(), 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const script of ['start', 'test', 'lint', 'typecheck', 'bench', 'bench:keys', 'bench:batching', 'db:migrate', 'db:migration', 'db:seed']) expect(pkg.scripts).toHaveProperty(script);
  });
});
