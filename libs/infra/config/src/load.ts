import { envSchema, type Env } from './schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Validates an environment (a plain record, so tests pass their own) and returns the
 * typed configuration, or throws a ConfigError naming every bad variable at once.
 * Empty strings count as unset, so `FOO=` falls back to the default.
 */
export function parseEnv(source: Readonly<Record<string, string | undefined>>): Env {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && v !== '') cleaned[k] = v;
  const result = envSchema.safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    const given = typeof issue.path[0] === 'string' ? cleaned[issue.path[0]] : undefined;
    return `${name}: ${issue.message}${given !== undefined ? ` (got ${JSON.stringify(given.length > 80 ? given.slice(0, 80) + '…' : given)})` : ''}`;
  });
  throw new ConfigError(problems);
}
