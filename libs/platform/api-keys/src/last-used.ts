// "Last used" times of API keys, collected in memory on the hot path and written in batches.
import { Prisma } from '#infra/db';

/** keyId → most recent use (epoch ms); swap() hands over everything noted since the last swap. */
export class LastUsedBuffer {
  private pending = new Map<string, number>();

  note(keyId: string, at: number): void {
    const prev = this.pending.get(keyId);
    if (prev === undefined || prev < at) this.pending.set(keyId, at);
  }

  swap(): Map<string, number> {
    const out = this.pending;
    this.pending = new Map();
    return out;
  }

  /** Puts back entries whose write failed (newer notes win). */
  restore(entries: Map<string, number>): void {
    for (const [id, at] of entries) this.note(id, at);
  }

  get size(): number {
    return this.pending.size;
  }
}

/**
 * ONE statement updating every key's lastUsedAt, never moving it backwards. Relies on the
 * connection's search_path (the Prisma client is bound to its schema). Times are passed as
 * ISO strings and stored as UTC, as Prisma stores DateTime.
 */
export function lastUsedUpdate(entries: ReadonlyMap<string, number>): Prisma.Sql {
  const rows = [...entries].map(([id, at]) => Prisma.sql`(${id}, ${new Date(at).toISOString()})`);
  return Prisma.sql`UPDATE "ApiKey" AS k SET "lastUsedAt" = v.t
    FROM (SELECT v.id::uuid AS id, (v.t::timestamptz AT TIME ZONE 'UTC')::timestamp(3) AS t FROM (VALUES ${Prisma.join(rows)}) AS v(id, t)) AS v
    WHERE k.id = v.id AND (k."lastUsedAt" IS NULL OR k."lastUsedAt" < v.t)`;
}
