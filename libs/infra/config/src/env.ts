// The one place in Stratum that reads process.env (enforced by the lint config).
import { parseEnv } from './load.js';
import type { Env } from './schema.js';
import { secretsIn, withThrowawaySecrets } from './worker-env.js';

export function readProcessEnv(): Env {
  return parseEnv(withThrowawaySecrets(process.env));
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

/** The gateway's secrets (of GATEWAY_SECRETS) set in this process's environment. */
export function presentSecrets(): string[] {
  return secretsIn(process.env);
}
