// Loads Prisma's schema engine (Wasm build) in Node. The package targets bundlers
// (`import * as wasm from "./schema_engine_bg.wasm"`), so we instantiate the .wasm ourselves
// with the glue module's exports as its import object, then start it.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DriverAdapterError, bindMigrationAwareSqlAdapterFactory, type SqlDriverAdapter, type SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type { MigrationList, SchemaEngine, SchemaFilter } from '@prisma/schema-engine-wasm';

type EngineModule = typeof import('@prisma/schema-engine-wasm/schema_engine_bg');

/** The slice of the WebAssembly API used here (the project's lib setting has no DOM types). */
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: Record<string, Record<string, unknown>>): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: WasmApi };

let loading: Promise<EngineModule> | undefined;

function loadEngineModule(): Promise<EngineModule> {
  loading ??= (async () => {
    const glue: EngineModule = await import('@prisma/schema-engine-wasm/schema_engine_bg');
    const gluePath = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bytes = await readFile(join(dirname(gluePath), 'schema_engine_bg.wasm'));
    const imports: Record<string, unknown> = { ...glue };
    // The engine arms timeouts it never clears (there is no clearTimeout import): unref them so
    // a finished CLI exits at once instead of ~10 s later. withSchemaEngine keeps the event loop
    // alive while an operation actually runs.
    for (const [name, fn] of Object.entries(imports)) {
      if (name.startsWith('__wbg_setTimeout_') && typeof fn === 'function') {
        imports[name] = (...args: unknown[]) => {
          const timer = (fn as (...a: unknown[]) => unknown)(...args);
          (timer as { unref?: () => void } | null)?.unref?.();
          return timer;
        };
      }
    }
    const { instance } = await wasmApi.instantiate(bytes, { './schema_engine_bg.js': imports });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports['__wbindgen_start'] as () => void)();
    return glue;
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

export const NO_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] };

export interface EngineLogger {
  (line: string): void;
}

/**
 * Runs `fn` with a schema engine on the given adapter factory and a datamodel, then frees it.
 * The engine's own log lines go to `log` (JSON strings from the Rust side).
 */
export async function withSchemaEngine<T>(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  datamodel: { path: string; content: string },
  fn: (engine: SchemaEngine) => Promise<T>,
  log?: EngineLogger,
): Promise<T> {
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    return await runEngine(adapterFactory, datamodel, fn, log);
  } finally {
    clearInterval(keepAlive);
  }
}

async function runEngine<T>(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  datamodel: { path: string; content: string },
  fn: (engine: SchemaEngine) => Promise<T>,
  log?: EngineLogger,
): Promise<T> {
  const glue = await loadEngineModule();
  const engine = await glue.SchemaEngine.new(
    { datamodels: [[datamodel.path, datamodel.content]] },
    (line: string) => log?.(line),
    bindMigrationAwareSqlAdapterFactory(adapterFactory),
  );
  try {
    return await fn(engine);
  } finally {
    engine.free();
  }
}

/**
 * Wraps an adapter factory so that `executeScript` sends the whole migration script as ONE
 * simple-protocol query. @prisma/adapter-pg splits scripts on every ";" (which breaks string
 * literals, function bodies and DO blocks) and runs the pieces on arbitrary pool connections;
 * one multi-statement query runs in a single implicit transaction, like `prisma migrate deploy`.
 */
export function wholeScriptFactory(
  inner: SqlMigrationAwareDriverAdapterFactory,
  run: (adapter: SqlDriverAdapter, script: string) => Promise<void>,
): SqlMigrationAwareDriverAdapterFactory {
  const wrap = (adapter: SqlDriverAdapter): SqlDriverAdapter => {
    const wrapped = Object.create(adapter) as SqlDriverAdapter;
    wrapped.executeScript = (script: string) => run(adapter, script);
    return wrapped;
  };
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => wrap(await inner.connect()),
    connectToShadowDb: async () => wrap(await inner.connectToShadowDb()),
  };
}

/** Turns a pg error into the shape the engine prints (message, code, detail, hint). */
export function toDriverAdapterError(error: unknown): Error {
  if (typeof error !== 'object' || error === null || !('message' in error)) return new Error(String(error));
  const e = error as { message: string; code?: string; severity?: string; detail?: string; column?: string; hint?: string };
  return new DriverAdapterError({
    kind: 'postgres',
    code: e.code ?? 'N/A',
    severity: e.severity ?? 'ERROR',
    message: e.message,
    detail: e.detail,
    column: e.column,
    hint: e.hint,
  });
}

export type { MigrationList, SchemaEngine };
