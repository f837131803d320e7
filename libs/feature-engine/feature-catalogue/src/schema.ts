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

/** Ajv errors as `{ path, message }`, the path pointing at the offending member. */
export function toFieldErrors(errors: readonly ErrorObject[] | null | undefined): FieldError[] {
  return (errors ?? []).map((e) => {
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'required') return { path: `${e.instancePath}/${String(params['missingProperty'])}`, message: 'is required' };
    if (e.keyword === 'additionalProperties') {
      return { path: `${e.instancePath}/${String(params['additionalProperty'])}`, message: 'is not allowed' };
    }
    return { path: e.instancePath, message: e.message ?? 'is invalid' };
  });
}

/** Validates a request input against the feature's schema (compiled once per feature). */
export function validateFeatureInput(def: FeatureDefinition, input: unknown): void {
  const validate = validatorFor(inputValidators, def, def.input);
  if (!validate(input)) {
    throw new ProblemError('validation_failed', "Input failed the feature's schema", { extensions: { errors: toFieldErrors(validate.errors) } });
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
