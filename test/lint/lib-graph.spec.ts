// No two libs import each other, directly or through others (type-only imports count: a cycle
// of types is still a design cycle). The layer rules allow imports within a layer; this keeps
// them one-way. Specs are left out (they are dev code and may use anything below them).
import { describe, expect, it } from '@jest/globals';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { repoRoot } from '#infra/db';

const LIB_IMPORT = /from\s+'#((?:infra|platform|model-service|feature-engine)\/[^/']+)'/g;

async function libGraph(): Promise<Map<string, Set<string>>> {
  const root = join(repoRoot(), 'libs');
  const graph = new Map<string, Set<string>>();
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts') || e.name.endsWith('.spec.ts')) continue;
    const file = join(e.parentPath, e.name);
    const [layer, lib, src] = relative(root, file).split('/');
    if (src !== 'src' || file.includes('/generated/')) continue;
    const from = `${layer}/${lib}`;
    const deps = graph.get(from) ?? new Set<string>();
    graph.set(from, deps);
    for (const m of (await readFile(file, 'utf8')).matchAll(LIB_IMPORT)) if (m[1] !== from) deps.add(m[1]!);
  }
  return graph;
}

/** Every cycle's path, found by depth-first search (empty when the graph is acyclic). */
function cycles(graph: Map<string, Set<string>>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (node: string, path: string[]): void => {
    state.set(node, 'open');
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next, [...path, next]);
    }
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node, [node]);
  return found;
}

describe('lib import graph', () => {
  it('has no cycles', async () => {
    const graph = await libGraph();
    expect(graph.size).toBeGreaterThan(20);
    expect(cycles(graph)).toEqual([]);
  });

  it('keeps key verification below tenancy and key management above both', async () => {
    const graph = await libGraph();
    expect(graph.get('platform/tenancy')?.has('platform/api-keys')).toBe(true);
    expect(graph.get('platform/api-keys')?.has('platform/tenancy')).toBe(false);
    expect(graph.get('platform/api-keys')?.has('platform/key-management')).toBe(false);
    expect([...(graph.get('platform/key-management') ?? [])]).toEqual(expect.arrayContaining(['platform/tenancy', 'platform/api-keys']));
  });

  it('finds a cycle when there is one', () => {
    const g = new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a'])]]);
    expect(cycles(g)).toEqual(['a -> b -> c -> a']);
  });
});
