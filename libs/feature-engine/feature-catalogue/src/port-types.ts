/**
 * The types that flow along a feature graph's edges (pure): whether a value of one type may feed an
 * input of another, what a field of a value is, and whether the output node's value fits the
 * output schema. Used by the graph checker at load time; nothing here runs at call time.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { JsonSchema, PortType } from './types.js';

const ANY: PortType = { kind: 'any' };

function dimsText(dims: readonly (number | null)[] | undefined): string {
  return dims ? `[${dims.map((d) => (d === null ? '?' : String(d))).join(',')}]` : '';
}

/** "a float32 tensor [1,3,48,?]", "an image", "JSON string". */
export function describeType(t: PortType): string {
  switch (t.kind) {
    case 'any':
      return 'anything';
    case 'image':
      return 'an image';
    case 'tensor':
      return `a ${t.dtype ? `${t.dtype} ` : ''}tensor${t.dims ? ` ${dimsText(t.dims)}` : ''}`;
    case 'json': {
      const type = t.schema['type'];
      return Array.isArray(t.schema['enum']) ? `one of ${JSON.stringify(t.schema['enum'])}` : typeof type === 'string' ? `JSON ${type}` : 'JSON';
    }
  }
}

function jsonTypes(schema: JsonSchema): string[] | undefined {
  const t = schema['type'];
  if (typeof t === 'string') return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  return undefined;
}

/** Why a value of type `given` cannot feed an input of type `expected` (null when it can). */
export function checkPortTypes(given: PortType, expected: PortType): string | null {
  if (given.kind === 'any' || expected.kind === 'any') return null;
  if (given.kind !== expected.kind) return 'kind mismatch';
  if (given.kind === 'tensor' && expected.kind === 'tensor') {
    if (given.dtype && expected.dtype && given.dtype !== expected.dtype) return `dtype ${given.dtype} is not ${expected.dtype}`;
    if (given.dims && expected.dims) {
      if (given.dims.length !== expected.dims.length) return `rank ${given.dims.length} is not ${expected.dims.length}`;
      for (let i = 0; i < given.dims.length; i++) {
        const g = given.dims[i];
        const e = expected.dims[i];
        if (g !== null && g !== undefined && e !== null && e !== undefined && g !== e) return `dimension ${i} is ${g}, not ${e}`;
      }
    }
    return null;
  }
  if (given.kind === 'json' && expected.kind === 'json') {
    const g = jsonTypes(given.schema);
    const e = jsonTypes(expected.schema);
    if (g && e && !g.some((t) => e.includes(t) || (t === 'integer' && e.includes('number')))) return `JSON ${g.join('|')} is not ${e.join('|')}`;
  }
  return null;
}

/** The type of `$input.<field>`: its schema in the input schema (a string when the field is not there). */
export function inputFieldType(input: JsonSchema, field: string): PortType | string {
  const props = input['properties'] as Record<string, JsonSchema> | undefined;
  const schema = props?.[field];
  return schema ? { kind: 'json', schema } : `"${field}" is not a field of the input schema`;
}

/** The type of `<node>.<field>` given the node's output type (a string when it has no such field). */
export function fieldType(whole: PortType, field: string): PortType | string {
  if (whole.kind === 'any') return ANY;
  if (whole.kind !== 'json') return `${describeType(whole)} has no field "${field}"`;
  const props = whole.schema['properties'] as Record<string, JsonSchema> | undefined;
  const schema = props?.[field];
  if (schema) return { kind: 'json', schema };
  const types = jsonTypes(whole.schema);
  if (props || (types && !types.includes('object'))) return `the node's output has no field "${field}"`;
  return ANY;
}

const ajv = new Ajv2020({ allErrors: true, strict: false });

/**
 * Why the output node's value type does not fit the feature's output schema: a non-JSON value, a
 * required field the node never gives, a field the schema does not allow, a field of another JSON
 * type, an enum value the schema refuses. Empty when it fits (or cannot be known: `any`).
 */
export function outputSchemaProblems(produced: PortType, declared: JsonSchema, path = ''): string[] {
  if (produced.kind === 'any') return [];
  if (produced.kind !== 'json') return [`${path || 'value'} is ${describeType(produced)}, not the JSON the output schema describes`];
  return jsonProblems(produced.schema, declared, path);
}

function jsonProblems(produced: JsonSchema, declared: JsonSchema, path: string): string[] {
  const at = path || 'value';
  const enumValues = produced['enum'];
  if (Array.isArray(enumValues)) {
    let validate;
    try {
      validate = ajv.compile(declared);
    } catch {
      return [];
    }
    const refused = enumValues.filter((v) => !validate(v));
    return refused.length > 0 ? [`${at} can be ${refused.map((v) => JSON.stringify(v)).join(', ')}, which the output schema does not allow`] : [];
  }
  const mismatch = checkPortTypes({ kind: 'json', schema: produced }, { kind: 'json', schema: declared });
  if (mismatch) return [`${at}: ${mismatch}`];
  const gProps = produced['properties'] as Record<string, JsonSchema> | undefined;
  const dProps = declared['properties'] as Record<string, JsonSchema> | undefined;
  if (!gProps) return [];
  const problems: string[] = [];
  const given = new Set([...(Array.isArray(produced['required']) ? (produced['required'] as string[]) : []), ...Object.keys(gProps)]);
  for (const name of Array.isArray(declared['required']) ? (declared['required'] as string[]) : []) {
    if (!given.has(name)) problems.push(`${path}/${name} is required by the output schema but the node never gives it`);
  }
  for (const [name, schema] of Object.entries(gProps)) {
    const child = dProps?.[name];
    if (!child) {
      if (declared['additionalProperties'] === false) problems.push(`${path}/${name} is given by the node but the output schema does not allow it`);
      continue;
    }
    problems.push(...jsonProblems(schema, child, `${path}/${name}`));
  }
  return problems;
}
