// The prediction queries at scale, measured in ONE run against their baseline:
//   fixture   one organization with --rows predictions (default 1,000,000), 99.96% test mode and
//             a few hundred live ones spread through time (one in 2,500), plus 4 other
//             organizations (rows/40 each, half live); statuses, purged payloads past the
//             30-day retention and a few unfinished predictions as the lifecycle leaves them.
//             Built by one INSERT ... SELECT ... FROM generate_series per organization, then
//             VACUUM ANALYZE.
//   queries   the real PredictionsRepository on the Prisma client, as the gateway runs them:
//             list (first page and a page deep in the history, for the live key and the test
//             key, limit 21 as the service asks for 20 + 1), unfinished() (the recovery loop)
//             and purgePayloads() with nothing to purge (retention).
//   baseline  the same queries with the index the list had before the lifecycle migration:
//             (orgId, mode, id) dropped, (orgId, id) created; then restored and measured again.
//             Prints median and p95 of each query under both, the ratio old/new of the medians,
//             and one line per query from EXPLAIN (ANALYZE, BUFFERS) of the SQL Prisma sent.
// Real Postgres (own schema, dropped at the end, also on failure).
//
// Flags: --rows N (1000000) --reps N (40 per query and phase) --json
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Prisma, PrismaClient, prismaAdapter } from '#infra/db';
import { PredictionsRepository } from '#platform/predictions';
import { seedDemo } from '../scripts/seed.js';
import { createTestDatabase, type TestDatabase } from '../test/support/db.js';
import { insertApiKey, insertOrg } from '../test/support/keys.js';
import { insertPredictions } from '../test/support/prediction-fixture.js';

const PEPPER = 'bench-pepper-' + 'x'.repeat(32);
const LIVE_EVERY = 2_500;
const OTHER_ORGS = 4;
const RETENTION_DAYS = 30;
const SPAN_DAYS = 90;
const PAGE = 21; // the service asks for limit + 1 to know has_more
const RECOVERY_BATCH = 500;
const RECOVERY_GRACE_MS = 5_000;
const NEW_INDEX = 'Prediction_orgId_mode_id_idx';
const OLD_INDEX = 'Prediction_orgId_id_idx';

interface QuerySpec {
  name: string;
  run: (repo: PredictionsRepository) => Promise<number>;
}

interface Stats {
  p50: number;
  p95: number;
}

interface Explained {
  plan: string;
  ms: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: round2(percentile(s, 50)), p95: round2(percentile(s, 95)) };
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Scan Direction'?: string;
  'Actual Rows'?: number;
  'Rows Removed by Filter'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

/** "Limit > Index Scan Backward using X (rows 21, removed by filter 52,480)"; buffers of the whole plan. */
function summarize(root: PlanNode): string {
  const parts: string[] = [];
  let filtered = 0;
  const walk = (n: PlanNode): void => {
    let label = n['Node Type'];
    if (n['Scan Direction'] === 'Backward') label += ' Backward';
    if (n['Index Name']) label += ` using ${n['Index Name']}`;
    else if (n['Relation Name']) label += ` on ${n['Relation Name']}`;
    if (n['Rows Removed by Filter']) {
      label += ` (filter removed ${n['Rows Removed by Filter']})`;
      filtered += n['Rows Removed by Filter'];
    }
    parts.push(label);
    for (const c of n.Plans ?? []) walk(c);
  };
  walk(root);
  const buffers = (root['Shared Hit Blocks'] ?? 0) + (root['Shared Read Blocks'] ?? 0);
  return `${parts.join(' > ')}; ${buffers} buffers${filtered ? `, ${filtered} rows read and thrown away` : ''}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { rows: { type: 'string' }, reps: { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true });
  const rows = Number(values.rows ?? 1_000_000);
  const reps = Number(values.reps ?? 40);
  if (!Number.isInteger(rows) || rows < LIVE_EVERY * 4) throw new Error(`--rows must be an integer >= ${LIVE_EVERY * 4}`);
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer');
  const log = (line: string): void => {
    if (!values.json) console.log(line);
  };

  const db: TestDatabase = await createTestDatabase('bench_list');
  // A second client on the same schema that reports the SQL it sends, for EXPLAIN of exactly that SQL.
  const traced = new PrismaClient({ adapter: prismaAdapter({ url: db.url, schema: db.schema, poolSize: 1 }), log: [{ emit: 'event', level: 'query' }] });
  let lastQuery: Prisma.QueryEvent | null = null;
  traced.$on('query', (e) => {
    lastQuery = e;
  });
  try {
    const now = new Date();
    const t0 = performance.now();
    const { orgId, liveKey, testKey } = await seedDemo({ prisma: db.prisma, pepper: PEPPER });
    const { live } = await insertPredictions(db.prisma, {
      orgId,
      liveKeyId: liveKey.id,
      testKeyId: testKey.id,
      rows,
      liveEvery: LIVE_EVERY,
      spanDays: SPAN_DAYS,
      retentionDays: RETENTION_DAYS,
      unfinished: 40,
      now,
    });
    const otherRows = Math.floor(rows / 40);
    for (let k = 0; k < OTHER_ORGS; k++) {
      const other = await insertOrg(db.prisma, `bench-other-${k}`);
      const [l, t] = [await insertApiKey(db.prisma, PEPPER, other.id, { mode: 'live' }), await insertApiKey(db.prisma, PEPPER, other.id, { mode: 'test' })];
      await insertPredictions(db.prisma, { orgId: other.id, liveKeyId: l.id, testKeyId: t.id, rows: otherRows, liveEvery: 2, spanDays: SPAN_DAYS, retentionDays: RETENTION_DAYS, unfinished: 10, now });
    }
    const tInsert = performance.now();
    await db.prisma.$executeRawUnsafe('VACUUM ANALYZE "Prediction"');
    await db.prisma.$executeRawUnsafe('VACUUM ANALYZE "PredictionInput"');
    const fixtureS = (performance.now() - t0) / 1000;
    const [{ total, size }] = (await db.prisma.$queryRawUnsafe<{ total: bigint; size: string }[]>(
      `SELECT count(*) AS total, pg_size_pretty(pg_total_relation_size('"Prediction"')) AS size FROM "Prediction"`,
    )) as [{ total: bigint; size: string }];
    log(`fixture: ${rows} predictions in one organization (${live} live, ${rows - live} test) + ${OTHER_ORGS} x ${otherRows} in others; ${total} rows, ${size} with indexes`);
    log(`  built in ${((tInsert - t0) / 1000).toFixed(1)} s + VACUUM ANALYZE = ${fixtureS.toFixed(1)} s`);

    // Cursors deep in the history: the middle of each key's predictions.
    const middle = async (mode: 'live' | 'test', count: number): Promise<string> => {
      const r = await db.prisma.$queryRawUnsafe<{ id: string }[]>(
        `SELECT "id"::text AS id FROM "Prediction" WHERE "orgId" = $1::uuid AND "mode" = $2::"KeyMode" ORDER BY "id" DESC OFFSET $3 LIMIT 1`,
        orgId,
        mode,
        Math.floor(count / 2),
      );
      return r[0]!.id;
    };
    const liveCursor = await middle('live', live);
    const testCursor = await middle('test', rows - live);
    const liveScope = { orgId, mode: 'live' as const };
    const testScope = { orgId, mode: 'test' as const };
    const recoveryBefore = new Date(now.getTime() - RECOVERY_GRACE_MS);
    const purgeBefore = new Date(now.getTime() - RETENTION_DAYS * 86_400_000);

    const queries: QuerySpec[] = [
      { name: 'list live, first page', run: async (r) => (await r.list(liveScope, { limit: PAGE })).length },
      { name: 'list live, deep page', run: async (r) => (await r.list(liveScope, { limit: PAGE, after: liveCursor })).length },
      { name: 'list test, first page', run: async (r) => (await r.list(testScope, { limit: PAGE })).length },
      { name: 'list test, deep page', run: async (r) => (await r.list(testScope, { limit: PAGE, after: testCursor })).length },
      { name: 'unfinished() (recovery)', run: async (r) => (await r.unfinished(recoveryBefore, RECOVERY_BATCH)).length },
      { name: 'purgePayloads(), none due', run: async (r) => r.purgePayloads(purgeBefore) },
    ];
    const repo = new PredictionsRepository(db.prisma);
    const tracedRepo = new PredictionsRepository(traced);

    // Each repetition runs every query once (round-robin), so machine noise hits all alike.
    const measure = async (): Promise<{ samples: number[][]; results: number[] }> => {
      const samples = queries.map(() => [] as number[]);
      const results = queries.map(() => 0);
      for (let w = 0; w < 3; w++) for (const [i, q] of queries.entries()) results[i] = await q.run(repo);
      for (let r = 0; r < reps; r++) {
        for (const [i, q] of queries.entries()) {
          const s = performance.now();
          await q.run(repo);
          samples[i]!.push(performance.now() - s);
        }
      }
      return { samples, results };
    };
    const explainAll = async (): Promise<Explained[]> => {
      const out: Explained[] = [];
      for (const q of queries) {
        lastQuery = null;
        await q.run(tracedRepo);
        const e = lastQuery as Prisma.QueryEvent | null;
        if (!e) throw new Error(`no query traced for ${q.name}`);
        const params = JSON.parse(e.params) as unknown[];
        const [row] = await db.prisma.$queryRawUnsafe<{ 'QUERY PLAN': { Plan: PlanNode; 'Execution Time': number }[] }[]>(
          `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${e.query}`,
          ...params,
        );
        const plan = row!['QUERY PLAN'][0]!;
        out.push({ plan: summarize(plan.Plan), ms: round2(plan['Execution Time']) });
      }
      return out;
    };
    const indexDef = async (name: string): Promise<string> => {
      const r = await db.prisma.$queryRawUnsafe<{ indexdef: string }[]>(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2`, db.schema, name);
      if (!r[0]) throw new Error(`index ${name} not found`);
      return r[0].indexdef;
    };

    // Phase 1: the schema as migrated.
    const newDef = await indexDef(NEW_INDEX);
    const first = await measure();
    const explainNew = await explainAll();
    if (first.results[5] !== 0) throw new Error(`purgePayloads() purged ${first.results[5]} rows: the fixture should leave nothing due`);

    // Phase 2: the old list index instead.
    await db.prisma.$executeRawUnsafe(`DROP INDEX "${NEW_INDEX}"`);
    await db.prisma.$executeRawUnsafe(`CREATE INDEX "${OLD_INDEX}" ON "Prediction" ("orgId", "id")`);
    await db.prisma.$executeRawUnsafe('ANALYZE "Prediction"');
    const old = await measure();
    const explainOld = await explainAll();

    // Phase 3: restored exactly as the migration made it, measured again.
    await db.prisma.$executeRawUnsafe(`DROP INDEX "${OLD_INDEX}"`);
    await db.prisma.$executeRawUnsafe(newDef);
    await db.prisma.$executeRawUnsafe('ANALYZE "Prediction"');
    const again = await measure();

    for (const [i, q] of queries.entries()) {
      if (old.results[i] !== first.results[i] || again.results[i] !== first.results[i]) throw new Error(`${q.name}: ${first.results[i]} / ${old.results[i]} / ${again.results[i]} rows across phases`);
    }

    const table = queries.map((q, i) => {
      const after = stats([...first.samples[i]!, ...again.samples[i]!]);
      const before = stats(old.samples[i]!);
      return {
        query: q.name,
        rows: first.results[i]!,
        before,
        after,
        ratioOldOverNew: round2(before.p50 / after.p50),
        explainBefore: explainOld[i]!,
        explainAfter: explainNew[i]!,
      };
    });
    const machine = { cpus: cpus().length, loadAverage1m: round2(loadavg()[0]!) };
    const result = { machine, rows, live, otherOrgs: OTHER_ORGS, otherRowsEach: otherRows, totalRows: Number(total), fixtureSeconds: Math.round(fixtureS * 10) / 10, reps, queries: table };

    if (values.json) console.log(JSON.stringify(result, null, 2));
    else {
      log(`\n${machine.cpus} CPUs, load average ${machine.loadAverage1m} at the end (the two indexes were measured in the same run, under the same load)`);
      log(`median / p95 in ms over ${reps} reps (index (orgId, mode, id): 2 x ${reps} reps, before and after the baseline), page = ${PAGE} rows`);
      log(`${'query'.padEnd(28)}${'rows'.padStart(5)}   ${'(orgId, id)  p50 / p95'.padStart(24)}   ${'(orgId, mode, id)  p50 / p95'.padStart(30)}   old/new`);
      for (const t of table) {
        log(`${t.query.padEnd(28)}${String(t.rows).padStart(5)}   ${`${t.before.p50} / ${t.before.p95}`.padStart(24)}   ${`${t.after.p50} / ${t.after.p95}`.padStart(30)}   ${t.ratioOldOverNew}`);
      }
      log('\nEXPLAIN (ANALYZE, BUFFERS) of the SQL Prisma sent:');
      for (const t of table) {
        log(`  ${t.query}`);
        log(`    (orgId, id):       ${t.explainBefore.plan}; ${t.explainBefore.ms} ms`);
        log(`    (orgId, mode, id): ${t.explainAfter.plan}; ${t.explainAfter.ms} ms`);
      }
    }
    return 0;
  } finally {
    await traced.$disconnect().catch(() => undefined);
    await db.drop();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
