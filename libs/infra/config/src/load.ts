import { DEV_PEPPER, envSchema, type Env } from './schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Variables whose values are secrets: never echoed in a configuration error. */
const SECRET_NAME = /(PEPPER|PASSWORD|SECRET|TOKEN|_KEY)$/;

/**
 * How a variable's value may be shown in a configuration error: secrets not at all, URLs
 * without the password of their user-info (also when they do not parse as URLs).
 */
export function displayValue(name: string, value: string): string {
  if (SECRET_NAME.test(name)) return '(redacted)';
  const shown = value.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^@/?#]*)@/, (_all, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon >= 0 ? `${userinfo.slice(0, colon)}:***` : userinfo}@`;
  });
  return JSON.stringify(shown.length > 80 ? shown.slice(0, 80) + '…' : shown);
}

/**
 * The built-in pepper is public (it is in this repository): it is accepted only when NODE_ENV
 * is set explicitly to development (npm start) or test (Jest sets it), never by default.
 */
function pepperProblem(cleaned: Readonly<Record<string, string>>): string | undefined {
  const pepper = cleaned.API_KEY_PEPPER ?? DEV_PEPPER;
  if (pepper !== DEV_PEPPER) return undefined;
  if (cleaned.NODE_ENV === 'development' || cleaned.NODE_ENV === 'test') return undefined;
  return 'API_KEY_PEPPER: must be set to a secret of your own (32+ random characters) unless NODE_ENV is set to development or test';
}

/**
 * Validates an environment (a plain record, so tests pass their own) and returns the
 * typed configuration, or throws a ConfigError naming every bad variable at once.
 * Empty strings count as unset, so `FOO=` falls back to the default. Secret values never
 * appear in the error (see displayValue).
 */
export function parseEnv(source: Readonly<Record<string, string | undefined>>): Env {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && v !== '') cleaned[k] = v;
  const result = envSchema.safeParse(cleaned);
  const pepper = pepperProblem(cleaned);
  if (result.success && pepper === undefined) return result.data;
  const problems = (result.success ? [] : result.error.issues).map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const given = typeof issue.path[0] === 'string' ? cleaned[issue.path[0]] : undefined;
    return `${name}: ${issue.message}${given !== undefined ? ` (got ${displayValue(String(issue.path[0]), given)})` : ''}`;
  });
  if (pepper !== undefined && !problems.some((p) => p.startsWith('API_KEY_PEPPER:'))) problems.push(pepper);
  throw new ConfigError(problems);
}
