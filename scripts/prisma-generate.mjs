// Generates the Prisma client offline when prisma/schema.prisma is newer than it.
// The Prisma CLI tries to download its native schema engine even for `generate`,
// which never runs it: pointing the variable at /bin/false keeps it offline.
import { spawnSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function generatePrismaClient({ force = false } = {}) {
  const schema = join(root, 'prisma', 'schema.prisma');
  const marker = join(root, 'libs', 'infra', 'db', 'src', 'generated', 'client.ts');
  try {
    const [s, m] = await Promise.all([stat(schema), stat(marker)]);
    if (!force && m.mtimeMs >= s.mtimeMs) return false;
  } catch (err) {
    if (err.code === 'ENOENT' && err.path === schema) return false;
  }
  const res = spawnSync(process.execPath, [join(root, 'node_modules', 'prisma', 'build', 'index.js'), 'generate', '--schema', schema], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? '/bin/false', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
  });
  if (res.status !== 0) throw new Error('prisma generate failed');
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await generatePrismaClient({ force: process.argv.includes('--force') });
}
