// The one place in Stratum that reads process.env (enforced by the lint config).
import { parseEnv } from './load.js';
import type { Env } from './schema.js';

export function readProcessEnv(): Env {
  return parseEnv(process.env);
}

/**
 * For local developer tools (`npm start`, the benchmarks): NODE_ENV defaults to development,
 * set explicitly, so the built-in pepper is accepted there and nowhere by accident.
 */
export function readDevelopmentEnv(): Env {
  return parseEnv({ NODE_ENV: 'development', ...process.env });
}

/** A copy of this process's environment, for spawning child processes with extra variables. */
export function inheritedEnv(): Record<string, string | undefined> {
  return { ...process.env };
}
