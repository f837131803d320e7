// Builds the tenants' dashboard (apps/dashboard, React + TypeScript) with Vite 8 into
// dist/dashboard, which the gateway serves under /dashboard. Vite 8's built-in oxc transform
// compiles the TSX (automatic JSX runtime); no plugin is needed. Skipped when no source file is
// newer than the last build's stamp, so an unchanged dashboard costs `npm run build` a few ms.
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const appDir = join(root, 'apps', 'dashboard');
export const dashboardOut = join(root, 'dist', 'dashboard');
const stamp = join(dashboardOut, '.build-stamp');

async function newestMtime(dir) {
  let newest = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist') continue;
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? await newestMtime(p) : (await stat(p)).mtimeMs);
  }
  return newest;
}

/** Builds when a source (or this script) changed since the last build; returns whether it built. */
export async function buildDashboard({ force = false } = {}) {
  const sources = Math.max(await newestMtime(appDir), (await stat(fileURLToPath(import.meta.url))).mtimeMs);
  if (!force) {
    try {
      if ((await stat(stamp)).mtimeMs >= sources) return false;
    } catch {
      // no build yet
    }
  }
  const { build } = await import('vite');
  await build({
    configFile: false,
    root: appDir,
    base: '/dashboard/',
    logLevel: 'warn',
    oxc: { jsx: { runtime: 'automatic' } },
    build: { outDir: dashboardOut, emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1024, reportCompressedSize: false },
  });
  await mkdir(dashboardOut, { recursive: true });
  await writeFile(stamp, new Date().toISOString() + '\n');
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const t = Date.now();
  const built = await buildDashboard({ force: process.argv.includes('--force') });
  console.log(`dashboard: ${built ? `built in ${Math.round(Date.now() - t)} ms` : 'up to date'} (dist/dashboard)`);
}
