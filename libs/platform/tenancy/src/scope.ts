import type { Prisma, PrismaClient } from '#infra/db';

/**
 * The tenant an operation runs in. Every repository method over tenant-owned rows takes
 * one, so a query that forgets the organization does not compile.
 */
export interface OrgScope {
  readonly orgId: string;
}

/** A Prisma client or the client of a running transaction. */
export type Db = PrismaClient | Prisma.TransactionClient;

/** A page request: newest first, `after` is the id of the last item of the previous page. */
export interface PageRequest {
  limit: number;
  after?: string;
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

/** Turns `limit + 1` rows into a page (the extra row only says there is more). */
export function toPage<T extends { id: string }>(rows: T[], limit: number): { items: T[]; has_more: boolean; next_cursor: string | null } {
  const has_more = rows.length > limit;
  const items = has_more ? rows.slice(0, limit) : rows;
  return { items, has_more, next_cursor: has_more ? (items.at(-1)?.id ?? null) : null };
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
