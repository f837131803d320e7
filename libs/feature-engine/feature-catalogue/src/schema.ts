import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { ProblemError } from '#infra/errors';
import type { FeatureDefinition, JsonSchema } from './types.js';

export interface FieldError {
  /** JSON Pointer into the input ('' is the whole input). */
  path: string;
  message: string;
}

const ajv = new Ajv2020({ allErrors: true, strict: true });
const inputValidators = new WeakMap<FeatureDefinition, ValidateFunction>();
const outputValidators = new WeakMap<FeatureDefinition, ValidateFunction>();

/** Compiles a schema (throws on an invalid one). */
export function compileSchema(schema: JsonSchema): ValidateFunction {
  return ajv.compile(schema);
}

function validatorFor(cache: WeakMap<FeatureDefinition, ValidateFunction>, def: FeatureDefinition, schema: JsonSchema): ValidateFunction {
  let v = cache.get(def);
  if (!v) {
    v = compileSchema(schema);
    cache.set(def, v);
  }
  return v;
}

const TYPE: Record<string, string> = { string: 'a string', number: 'a number', integer: 'an integer', boolean: 'true or false', object: 'an object', array: 'an array', null: 'null' };
const plural = (n: unknown, word: string): string => `${String(n)} ${word}${n === 1 ? '' : 's'}`;

/** One Ajv error in the voice of every validation message (see #infra/errors issueMessage). */
function ajvMessage(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type':
      return `must be ${String(p['type']).split(',').map((t) => TYPE[t] ?? t).join(' or ')}`;
    case 'minLength':
      return `must be at least ${plural(p['limit'], 'character')} long`;
    case 'maxLength':
      return `must be at most ${plural(p['limit'], 'character')} long`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${String(p['comparison']) === '>=' ? 'at least' : String(p['comparison']) === '<=' ? 'at most' : String(p['comparison']) === '>' ? 'more than' : 'less than'} ${String(p['limit'])}`;
    case 'minItems':
      return `must have at least ${plural(p['limit'], 'item')}`;
    case 'maxItems':
      return `must have at most ${plural(p['limit'], 'item')}`;
    case 'enum':
      return `must be one of ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(p['allowedValue'])}`;
    case 'format':
      return `must be a valid ${String(p['format'])}`;
    case 'pattern':
      return 'must be in the expected format';
    default:
      return e.message ?? 'is not valid';
  }
}

/** Ajv errors as `{ path, message }`, the path pointing at the offending member (under `prefix`, e.g. "/input"). */
export function toFieldErrors(errors: readonly ErrorObject[] | null | undefined, prefix = ''): FieldError[] {
  return (errors ?? []).map((e) => {
    const params = e.params as Record<string, unknown>;
    const at = (name: unknown) => `${prefix}${e.instancePath}/${String(name).replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (e.keyword === 'required') return { path: at(params['missingProperty']), message: 'is required' };
    if (e.keyword === 'additionalProperties') return { path: at(params['additionalProperty']), message: 'is not a known field' };
    return { path: prefix + e.instancePath, message: ajvMessage(e) };
  });
}

/** Validates a request input against the feature's schema (compiled once per feature). */
export function validateFeatureInput(def: FeatureDefinition, input: unknown): void {
  const validate = validatorFor(inputValidators, def, def.input);
  if (!validate(input)) {
    // Paths are JSON Pointers into the request body, whose `input` member this is.
    const errors = toFieldErrors(validate.errors, '/input');
    throw new ProblemError('validation_failed', `The request body failed validation: ${[...new Set(errors.map((e) => e.path))].join(', ')}.`, { extensions: { errors } });
  }
}

/** Checks a pipeline's result against the feature's output schema (a failure is our bug: 500). */
export function validateFeatureOutput(def: FeatureDefinition, output: unknown): void {
  const validate = validatorFor(outputValidators, def, def.output);
  if (!validate(output)) {
    const errors = toFieldErrors(validate.errors);
    throw new ProblemError('internal_error', `Feature ${def.name}@${def.version} produced output outside its schema`, { extensions: { errors } });
  }
}
