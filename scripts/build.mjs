// Build: generate the Prisma client when the schema changed, then transpile every
// TypeScript source to dist/ with swc (type-checking is `npm run typecheck`).
import { transformFile } from '@swc/core';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDashboard } from './build-dashboard.mjs';
import { generatePrismaClient } from './prisma-generate.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = ['apps', 'libs', 'tools', 'scripts', 'bench', 'test/support'];
const out = join(root, 'dist');
// Data the built code reads next to itself: the built-in feature documents (JSON/YAML).
const assetDirs = ['libs/feature-engine/feature-catalogue/features'];

async function* walk(dir) {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    // apps/dashboard is browser code, built by Vite (build-dashboard.mjs), not by swc.
    if (e.isDirectory()) {
      if (p !== join(root, 'apps', 'dashboard')) yield* walk(p);
    }
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.spec.ts')) yield p;
  }
}

async function newer(src, dst) {
  try {
    const [a, b] = await Promise.all([stat(src), stat(dst)]);
    return a.mtimeMs > b.mtimeMs;
  } catch {
    return true;
  }
}

await generatePrismaClient();
const swcrc = JSON.parse(await readFile(join(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;
let built = 0;
const jobs = [];
for (const dir of sources) {
  for await (const file of walk(join(root, dir))) {
    const rel = relative(root, file);
    const target = join(out, rel.replace(/\.ts$/, '.js'));
    if (!(await newer(file, target))) continue;
    jobs.push(
      (async () => {
        const res = await transformFile(file, { ...swcrc, swcrc: false, filename: file, sourceMaps: true, sourceFileName: relative(dirname(target), file) });
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, res.code + `\n//# sourceMappingURL=${target.split('/').pop()}.map\n`);
        if (res.map) await writeFile(target + '.map', res.map);
        built++;
      })(),
    );
  }
}
for (const dir of assetDirs) {
  for (const e of await readdir(join(root, dir), { withFileTypes: true }).catch(() => [])) {
    if (!e.isFile() || !/\.(json|ya?ml)$/.test(e.name)) continue;
    const src = join(root, dir, e.name);
    const target = join(out, dir, e.name);
    if (!(await newer(src, target))) continue;
    jobs.push(mkdir(dirname(target), { recursive: true }).then(() => copyFile(src, target)).then(() => void built++));
  }
}
await Promise.all(jobs);
// The dashboard (apps/dashboard, Vite): only when one of its sources changed since its last build.
const dashboardStart = Date.now();
const dashboard = await buildDashboard();
if (process.env.STRATUM_BUILD_QUIET !== '1') {
  console.log(`build: ${built} file(s) transpiled to dist/; dashboard ${dashboard ? `built in ${Math.round(Date.now() - dashboardStart)} ms` : 'up to date'}`);
}
