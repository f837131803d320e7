// The worked example of README's "Writing a feature": its file name and document, as the README shows them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '#infra/db';

export function readmeFeatureExample(): { file: string; text: string } {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const m = /<!-- feature-example: (\S+) [^>]*-->\n```json\n([\s\S]*?)\n```/.exec(readme);
  if (!m?.[1] || !m[2]) throw new Error('README.md has no feature example (<!-- feature-example: … --> and a json block)');
  return { file: m[1], text: m[2] };
}
