// `npm run db:migrate`: applies pending prisma/migrations into DATABASE_URL / DATABASE_SCHEMA
// (the schema is created if missing) and prints what was applied.
import { readProcessEnv } from '#infra/config';
import { applyMigrations } from '#infra/db';

async function main(): Promise<void> {
  const env = readProcessEnv();
  const target = new URL(env.DATABASE_URL);
  const result = await applyMigrations({ url: env.DATABASE_URL, schema: env.DATABASE_SCHEMA });
  const where = `${target.host}${target.pathname}, schema "${result.schema}"`;
  if (result.applied.length === 0) console.log(`db:migrate: ${where} is up to date (${result.durationMs} ms)`);
  else {
    console.log(`db:migrate: applied ${result.applied.length} migration(s) to ${where} in ${result.durationMs} ms:`);
    for (const name of result.applied) console.log(`  - ${name}`);
  }
}

main().catch((err: unknown) => {
  console.error(`db:migrate failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
