// The list query of an API key is served by an index on what it filters on (orgId, mode):
// with nearly every prediction of the organization in test mode, a live key's page must not
// be found by reading the test ones. The SQL checked is the one Prisma sends for
// PredictionsRepository.list(), planned by Postgres on analyzed statistics (no planner switches).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Prisma, PrismaClient, prismaAdapter, uuidv7 } from '#infra/db';
import { PredictionsRepository } from '#platform/predictions';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertApiKey } from '../support/keys.js';
import { insertPredictions } from '../support/prediction-fixture.js';

const PEPPER = 'integration-test-pepper-0123456789abcdef';

interface PlanNode {
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function indexesOf(node: PlanNode, into: string[] = []): string[] {
  if (node['Index Name']) into.push(node['Index Name']);
  for (const c of node.Plans ?? []) indexesOf(c, into);
  return into;
}

describe('prediction indexes', () => {
  let db: TestDatabase;
  let traced: PrismaClient<'query'>;
  let orgId: string;
  const sent: Prisma.QueryEvent[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('prediction_indexes');
    traced = new PrismaClient({ adapter: prismaAdapter({ url: db.url, schema: db.schema, poolSize: 1 }), log: [{ emit: 'event', level: 'query' }] });
    traced.$on('query', (e) => {
      sent.push(e);
    });
    const plan = await db.prisma.plan.create({ data: { id: uuidv7(), key: 'free', name: 'Free', rateLimitPerMinute: 60 } });
    orgId = (await db.prisma.organization.create({ data: { id: uuidv7(), slug: 'acme', name: 'Acme', planId: plan.id } })).id;
    const [live, test] = [await insertApiKey(db.prisma, PEPPER, orgId, { mode: 'live' }), await insertApiKey(db.prisma, PEPPER, orgId, { mode: 'test' })];
    // 20,000 predictions, one in 1,000 live (20), spread over 90 days.
    await insertPredictions(db.prisma, { orgId, liveKeyId: live.id, testKeyId: test.id, rows: 20_000, liveEvery: 1_000, spanDays: 90, retentionDays: 30, unfinished: 10, now: new Date() });
    await db.prisma.$executeRawUnsafe('ANALYZE "Prediction"');
  });
  afterAll(async () => {
    await traced?.$disconnect();
    await db?.drop();
  });

  /** The indexes (name → columns) the plan of the live key's first page uses. */
  async function liveListIndexes(): Promise<{ name: string; columns: string[] }[]> {
    sent.length = 0;
    const page = await new PredictionsRepository(traced).list({ orgId, mode: 'live' }, { limit: 21 });
    expect(page).toHaveLength(20);
    expect(page.every((p) => p.mode === 'live')).toBe(true);
    expect(sent).toHaveLength(1);
    const [{ query, params }] = sent as [Prisma.QueryEvent];
    const [row] = await db.prisma.$queryRawUnsafe<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(`EXPLAIN (FORMAT JSON) ${query}`, ...(JSON.parse(params) as unknown[]));
    const names = indexesOf(row!['QUERY PLAN'][0]!.Plan);
    const cols = await db.prisma.$queryRawUnsafe<{ name: string; columns: string[] }[]>(
      `SELECT c.relname AS name, array_agg(a.attname::text ORDER BY k.n) AS columns
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_namespace s ON s.oid = c.relnamespace
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
       WHERE s.nspname = $1 AND c.relname = ANY($2::text[])
       GROUP BY c.relname`,
      db.schema,
      names,
    );
    return cols;
  }

  const leadsWithOrgAndMode = (ix: { columns: string[] }): boolean => ix.columns[0] === 'orgId' && ix.columns[1] === 'mode';

  it("plans a live key's list, among mostly test predictions, on an index that starts with (orgId, mode)", async () => {
    const used = await liveListIndexes();
    expect(used.filter(leadsWithOrgAndMode)).not.toEqual([]);
  });

  it('notices when that index is gone (the check above is not vacuous)', async () => {
    await db.prisma.$executeRawUnsafe('DROP INDEX "Prediction_orgId_mode_id_idx"');
    await db.prisma.$executeRawUnsafe('CREATE INDEX "Prediction_orgId_id_idx" ON "Prediction" ("orgId", "id")');
    await db.prisma.$executeRawUnsafe('ANALYZE "Prediction"');
    const used = await liveListIndexes();
    expect(used.filter(leadsWithOrgAndMode)).toEqual([]);
  });
});
