// Hostile suite, issue 9 item 10: the images run a supported Node.js line, and the app user
// cannot rewrite the code it runs (only the model storage is writable). Read from the
// Dockerfiles (no Docker daemon needed).
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '#infra/db';

const read = (file: string) => readFileSync(join(repoRoot(), file), 'utf8');

describe.each(['deploy/Dockerfile', 'deploy/Dockerfile.gpu'])('%s', (file) => {
  const dockerfile = read(file);
  const runtime = dockerfile.slice(dockerfile.search(/^FROM\s+\S+\s+AS\s+runtime/im));

  // item 10: Node 20 is out of support; the images use 22 or 24.
  it('builds on a supported Node.js line (22 or 24)', () => {
    const image = /^ARG NODE_IMAGE=(\S+)/m.exec(dockerfile)?.[1];
    expect(image).toMatch(/^node:(22|24)[.-]/);
  });

  // item 10: a compromised app process cannot rewrite the code its next start runs.
  it('copies the code owned by root (no --chown), then switches to a non-root user', () => {
    const copies = [...runtime.matchAll(/^COPY\s.+$/gm)].map((m) => m[0]);
    expect(copies.length).toBeGreaterThan(0);
    for (const line of copies.filter((l) => !l.includes('/usr/local/bin/node'))) expect(line).not.toMatch(/--chown/);
    expect(runtime).toMatch(/^USER\s+(?!root\b)\S+/m);
    // The user is switched after every COPY and RUN, so none of them runs as the app user.
    const user = runtime.search(/^USER\s/m);
    expect(runtime.slice(user)).not.toMatch(/^(COPY|RUN)\s/m);
  });

  // item 10: the one writable place is the model storage directory, which MODEL_STORAGE_DIR points at.
  it('makes only the model storage writable for the app user', () => {
    const dir = /MODEL_STORAGE_DIR=(\S+)/.exec(runtime)?.[1];
    expect(dir).toBe('/var/lib/stratum/models');
    const chowns = [...runtime.matchAll(/chown\s+(?:-R\s+)?\S+\s+(\S+)/g)].map((m) => m[1]);
    expect(chowns).toEqual(['/var/lib/stratum']);
  });
});
