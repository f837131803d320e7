// The one place in Stratum that reads process.env (enforced by the lint config).
import { parseEnv } from './load.js';
import type { Env } from './schema.js';

export function readProcessEnv(): Env {
  return parseEnv(process.env);
}

/** A copy of this process's environment, for spawning child processes with extra variables. */
export function inheritedEnv(): Record<string, string | undefined> {
  return { ...process.env };
}
