/**
 * A feature's units per call, computed from the actual call (pure): the document's price says how
 * (see UnitsRule); the worker hands the result to metering with `prediction.succeeded`.
 */
import type { FeaturePrice, JsonSchema, UnitsRule } from './types.js';

/** What a finished call is measured by. */
export interface CallFacts {
  /** The feature's output (valid against its output schema). */
  output: unknown;
  /** Wall time of the pipeline's run, in milliseconds. */
  computeMs: number;
}

function segments(pointer: string): string[] | null {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return null;
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The values at a pointer into a JSON value, `*` taking every item of an array. */
export function valuesAt(value: unknown, pointer: string): unknown[] {
  let current: unknown[] = [value];
  for (const seg of segments(pointer) ?? []) {
    const next: unknown[] = [];
    for (const v of current) {
      if (seg === '*') {
        if (Array.isArray(v)) next.push(...(v as unknown[]));
      } else if (Array.isArray(v) && /^(0|[1-9][0-9]*)$/.test(seg)) {
        if (Number(seg) < v.length) next.push(v[Number(seg)]);
      } else if (v !== null && typeof v === 'object' && Object.hasOwn(v, seg)) {
        next.push((v as Record<string, unknown>)[seg]);
      }
    }
    current = next;
  }
  return current;
}

/** The sub-schema at a pointer into values of `schema` (`*` = the array's items), or a reason it has none. */
export function schemaAt(schema: JsonSchema, pointer: string): JsonSchema | string {
  const segs = segments(pointer);
  if (!segs) return `"${pointer}" is not a JSON Pointer (it starts with /)`;
  let current = schema;
  for (const seg of segs) {
    const next = seg === '*' ? (current['items'] as JsonSchema | undefined) : (current['properties'] as Record<string, JsonSchema> | undefined)?.[seg];
    if (!next || typeof next !== 'object') return `"${pointer}" does not name a ${seg === '*' ? 'list' : 'field'} of the output schema (at "${seg}")`;
    current = next;
  }
  return current;
}

function minOf(rule: Exclude<UnitsRule, number>): number {
  return rule.min ?? 0;
}

/** Problems with a price's units rule against the output schema (empty when fine). */
export function checkUnitsRule(rule: UnitsRule, output: JsonSchema): string[] {
  if (typeof rule === 'number') return Number.isInteger(rule) && rule >= 0 ? [] : ['units must be a whole number >= 0'];
  if (rule === null || typeof rule !== 'object') return ['units must be a number or { count | characters | seconds }'];
  const kinds = ['count', 'characters', 'seconds'].filter((k) => k in rule);
  if (kinds.length !== 1) return ['units must say exactly one of count, characters, seconds'];
  const extra = Object.keys(rule).filter((k) => !['count', 'characters', 'seconds', 'per', 'min'].includes(k));
  if (extra.length > 0) return [`units has unknown member(s) ${extra.join(', ')}`];
  const min = (rule as { min?: unknown }).min;
  if (min !== undefined && !(typeof min === 'number' && Number.isInteger(min) && min >= 0)) return ['units.min must be a whole number >= 0'];
  if ('per' in rule && !('characters' in rule)) return ['units.per goes with characters only'];
  if ('count' in rule) {
    if (typeof rule.count !== 'string') return ['units.count must be a JSON Pointer into the output'];
    const at = schemaAt(output, rule.count);
    if (typeof at === 'string') return [`units.count: ${at}`];
    return at['type'] === 'array' ? [] : [`units.count: "${rule.count}" is not a list in the output schema`];
  }
  if ('characters' in rule) {
    if (typeof rule.characters !== 'string') return ['units.characters must be a JSON Pointer into the output'];
    if (rule.per !== undefined && !(typeof rule.per === 'number' && Number.isInteger(rule.per) && rule.per >= 1)) return ['units.per must be a whole number >= 1'];
    const at = schemaAt(output, rule.characters);
    if (typeof at === 'string') return [`units.characters: ${at}`];
    return at['type'] === 'string' ? [] : [`units.characters: "${rule.characters}" is not a string in the output schema`];
  }
  return rule.seconds === 'compute' ? [] : ['units.seconds must be "compute"'];
}

/** The units a call counts (a whole number: started `per` characters, started seconds). */
export function computeUnits(price: FeaturePrice, call: CallFacts): number {
  const rule = price.units;
  if (typeof rule === 'number') return rule;
  let n: number;
  if ('count' in rule) {
    n = valuesAt(call.output, rule.count).reduce<number>((sum, v) => sum + (Array.isArray(v) ? v.length : 0), 0);
  } else if ('characters' in rule) {
    // Characters as a reader counts them (code points), not UTF-16 units.
    const chars = valuesAt(call.output, rule.characters).reduce<number>((sum, v) => sum + (typeof v === 'string' ? [...v].length : 0), 0);
    n = Math.ceil(chars / (rule.per ?? 1));
  } else {
    n = Math.ceil(Math.max(0, call.computeMs) / 1000);
  }
  return Math.max(minOf(rule), n);
}

/** Units to reserve against the quota before the call (settled with the real count after): a fixed price, else its minimum or 1. */
export function estimateUnits(price: FeaturePrice): number {
  return typeof price.units === 'number' ? price.units : Math.max(1, minOf(price.units));
}

/** The price in the API's words: `{ unit_type, units }` with a fixed number, or the rule, e.g. `{ count: "/lines" }`. */
export function describeUnits(rule: UnitsRule): string {
  if (typeof rule === 'number') return `${rule} per call`;
  const min = rule.min ? ` (at least ${rule.min})` : '';
  if ('count' in rule) return `one per item of ${rule.count}${min}`;
  if ('characters' in rule) return `one per ${rule.per ?? 1} characters of ${rule.characters} (started)${min}`;
  return `one per second of compute (started)${min}`;
}
