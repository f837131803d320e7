// Prisma CLI configuration (used by `prisma generate` and, where its native engine can be
// downloaded, `prisma migrate deploy`). The application itself reads the database URL
// through libs/infra/config; this file is only read by the Prisma CLI.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations', seed: 'node dist/scripts/seed.js' },
  datasource: { url: process.env['DATABASE_URL'] ?? 'postgresql://postgres@127.0.0.1:5432/stratum' },
});
