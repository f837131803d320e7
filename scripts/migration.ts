// `npm run db:migration -- <name>`: writes prisma/migrations/<timestamp>_<name>/migration.sql
// from the difference between the existing migrations and prisma/schema.prisma (offline:
// the migrations are replayed on an in-memory PGlite). Prints "no changes" when they match.
import { authorMigration, MIGRATION_NAME } from '#infra/db';

async function main(argv: string[]): Promise<number> {
  const name = argv[0];
  if (!name || argv.length > 1 || !MIGRATION_NAME.test(name)) {
    console.error('usage: npm run db:migration -- <name>\n  <name>: lower-case letters, digits and _ (e.g. add_usage_index), at most 80 characters');
    return 2;
  }
  const started = performance.now();
  const result = await authorMigration(name, { log: (line) => console.log(line) });
  if (result.directory) console.log(`created migration ${result.name} in ${Math.round(performance.now() - started)} ms; review it, then run npm run db:migrate`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
