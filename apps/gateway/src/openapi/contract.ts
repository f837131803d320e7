import type { z } from 'zod';
import type { ProblemCode } from '#infra/errors';

export type JsonSchema = Record<string, unknown>;

/** A schema in a contract: a zod schema (converted to JSON Schema 2020-12), a component name, or JSON Schema. */
export type ContractSchema = z.ZodType | string | { json: JsonSchema };

/**
 * What a route takes and answers, declared next to its handler with the same zod schemas
 * that validate the request: the OpenAPI document is generated from these (see openapi.ts),
 * and the completeness test fails for a served route whose contract is missing.
 */
export interface RouteContract {
  /** The request body: `name` makes it a component; `null` says the route takes no body. */
  body?: { schema: ContractSchema; name?: string; contentType?: string; required?: boolean } | null;
  /** The query parameters (one per member of the zod object). */
  query?: z.ZodObject;
  /** Success answers by status (a `null` schema: no body). */
  responses: Record<number, { description: string; schema: ContractSchema | null; contentType?: string }>;
  /** Problem codes this route answers besides the ones its auth, body, query and path parameters imply. */
  problems?: ProblemCode[];
}

/** Contracts by Nest's operation id (`<Controller>_<method>`). */
const CONTRACTS = new Map<string, RouteContract>();

/** Declares a route's contract (see RouteContract). */
export function ApiContract(contract: RouteContract): MethodDecorator {
  return (target, key) => {
    CONTRACTS.set(`${(target as { constructor: { name: string } }).constructor.name}_${String(key)}`, contract);
  };
}

export function contractOf(operationId: string): RouteContract | undefined {
  return CONTRACTS.get(operationId);
}

/** Contracts of routes whose controllers live outside the gateway (health in #infra/http), by operation id. */
export function registerContract(operationId: string, contract: RouteContract): void {
  CONTRACTS.set(operationId, contract);
}
