import { fileURLToPath } from 'node:url';
import { compareVersions, readOnnxSignature, type ModelEntry } from '#model-service/model-format';
import type { ModelRef, ModelSignature } from '#model-service/tensors';
import { inlineDocument, readFeatureDocuments, type FeatureDocument } from './documents.js';
import { FeatureDefinitionError, validateFeatureDefinition, type ValidationContext } from './graph.js';
import { OP_SPECS } from './op-specs.js';
import type { FeatureDefinition, OpSpecs } from './types.js';

/** Largest decoded image accepted by the image features. */
export const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
/** Base64 length of MAX_IMAGE_BYTES plus room for a data: URL prefix (the built-in documents' input schemas say the same). */
export const MAX_IMAGE_BASE64_LENGTH = Math.ceil(MAX_IMAGE_BYTES / 3) * 4 + 64;

/** The built-in feature documents (shipped in the repository; `npm run build` copies them next to the built code). */
export const BUILTIN_FEATURES_DIR = fileURLToPath(new URL('../features', import.meta.url));

/** Several documents failed validation: every one is listed (file and node). */
export class FeatureCatalogueError extends Error {
  constructor(readonly errors: FeatureDefinitionError[]) {
    super(`${errors.length} feature documents are invalid:\n${errors.map((e) => `  - ${e.message}`).join('\n')}`);
    this.name = 'FeatureCatalogueError';
  }
}

const keyOf = (name: string, version: string): string => `${name}@${version}`;

/** `"ocr-line@2"` → name and version; a bare name has no version. */
export function parseFeatureRef(ref: string): { name: string; version?: string } {
  const at = ref.lastIndexOf('@');
  return at > 0 ? { name: ref.slice(0, at), version: ref.slice(at + 1) } : { name: ref };
}

/**
 * The features a process serves, every version of each: validated as a whole when made (see
 * createCatalogueFromDocuments), immutable afterwards.
 */
export class FeatureCatalogue {
  private readonly sorted: FeatureDocument[];
  private readonly byDef = new WeakMap<FeatureDefinition, FeatureDocument>();

  constructor(docs: readonly FeatureDocument[]) {
    this.sorted = [...docs].sort((a, b) => (a.def.name === b.def.name ? compareVersions(a.def.version, b.def.version) : a.def.name < b.def.name ? -1 : 1));
    for (const d of this.sorted) this.byDef.set(d.def, d);
  }

  /** Every feature version, by name then version. */
  list(): FeatureDefinition[] {
    return this.sorted.map((d) => d.def);
  }

  /** Every document, by name then version. */
  documents(): FeatureDocument[] {
    return [...this.sorted];
  }

  /** The versions of one feature, oldest first. */
  versions(name: string): FeatureDefinition[] {
    return this.sorted.filter((d) => d.def.name === name).map((d) => d.def);
  }

  /** The version callers get when they name none: the one marked `default: true`, else the highest. */
  defaultVersion(name: string): FeatureDefinition | undefined {
    const all = this.versions(name);
    return all.find((d) => d.default === true) ?? all.at(-1);
  }

  /**
   * A feature by name at a version, or its default version. The name may carry the version
   * (`"ocr-line@1"`); a version given both ways must agree (undefined otherwise).
   */
  find(name: string, version?: string): FeatureDefinition | undefined {
    const ref = parseFeatureRef(name);
    if (ref.version !== undefined && version !== undefined && ref.version !== version) return undefined;
    const wanted = ref.version ?? version;
    if (wanted === undefined) return this.defaultVersion(ref.name);
    return this.sorted.find((d) => d.def.name === ref.name && d.def.version === wanted)?.def;
  }

  /** The document a definition of this catalogue came from. */
  documentOf(def: FeatureDefinition): FeatureDocument | undefined {
    return this.byDef.get(def);
  }
}

/**
 * Validates every document as a whole — each graph (ops, params, edges and their types, cycles,
 * the output against the output schema, the price), the models each calls against what the
 * deployment serves, one document per name@version, at most one default per feature — and
 * indexes them. Throws FeatureDefinitionError (one bad document) or FeatureCatalogueError
 * (several), each naming the file and the node.
 */
export function createCatalogueFromDocuments(docs: readonly FeatureDocument[], ops: OpSpecs = OP_SPECS, ctx: ValidationContext = {}): FeatureCatalogue {
  const errors: FeatureDefinitionError[] = [];
  const seen = new Map<string, FeatureDocument>();
  for (const doc of docs) {
    const key = keyOf(doc.def.name, doc.def.version);
    const first = seen.get(key);
    if (first) {
      errors.push(new FeatureDefinitionError(key, [`defined twice (also in ${first.file})`], doc.file));
      continue;
    }
    seen.set(key, doc);
    try {
      validateFeatureDefinition(doc.def, ops, ctx);
    } catch (e) {
      if (!(e instanceof FeatureDefinitionError)) throw e;
      errors.push(new FeatureDefinitionError(e.feature, e.problems, doc.file));
    }
  }
  const defaults = new Map<string, FeatureDocument[]>();
  for (const doc of seen.values()) if (doc.def.default === true) defaults.set(doc.def.name, [...(defaults.get(doc.def.name) ?? []), doc]);
  for (const [name, marked] of defaults) {
    if (marked.length > 1) errors.push(new FeatureDefinitionError(name, [`versions ${marked.map((d) => d.def.version).join(', ')} are all marked default: true (at most one may be)`], marked[1]?.file));
  }
  if (errors.length === 1 && errors[0]) throw errors[0];
  if (errors.length > 1) throw new FeatureCatalogueError(errors);
  return new FeatureCatalogue([...seen.values()]);
}

/** A catalogue of definitions made in code (tests); see createCatalogueFromDocuments. */
export function createFeatureCatalogue(defs: readonly FeatureDefinition[], ops: OpSpecs = OP_SPECS, ctx: ValidationContext = {}): FeatureCatalogue {
  return createCatalogueFromDocuments(defs.map(inlineDocument), ops, ctx);
}

export interface LoadOptions {
  /** FEATURES_DIR: the operator's documents, served next to the built-in ones ('' = none). */
  featuresDir: string;
  /** The model versions this deployment serves (the model catalogue's entries): features may call these only. */
  models: readonly ModelEntry[];
  ops?: OpSpecs;
  /** Where the built-in documents are (tests point it elsewhere). */
  builtinDir?: string;
}

/**
 * The catalogue a gateway or worker serves, made at start-up: the built-in documents and
 * FEATURES_DIR's, checked against the models the deployment serves (their signatures read from
 * the ONNX files, for the shape checks). Any problem is thrown (the process does not start).
 */
export async function loadFeatureCatalogue(opts: LoadOptions): Promise<FeatureCatalogue> {
  const ops = opts.ops ?? OP_SPECS;
  const docs = [...readFeatureDocuments(opts.builtinDir ?? BUILTIN_FEATURES_DIR, 'builtin'), ...(opts.featuresDir.trim() ? readFeatureDocuments(opts.featuresDir, 'features_dir') : [])];
  const used = new Map<string, ModelEntry>();
  for (const doc of docs) {
    for (const ref of featureModels(doc.def, ops)) {
      const entry = opts.models.find((m) => m.name === ref.name && m.version === ref.version);
      if (entry) used.set(keyOf(entry.name, entry.version), entry);
    }
  }
  const signatures = new Map<string, ModelSignature>();
  await Promise.all(
    [...used].map(async ([key, entry]) => {
      // An unreadable artifact is the model registry's to report; its features are then checked without shapes.
      const sig = await readOnnxSignature(entry.artifactPath).catch(() => undefined);
      if (sig) signatures.set(key, sig);
    }),
  );
  return createCatalogueFromDocuments(docs, ops, {
    models: opts.models.map((m) => ({ name: m.name, version: m.version })),
    signature: (ref) => signatures.get(keyOf(ref.name, ref.version)),
  });
}

/** The models a feature calls (for routing it to its worker pool). */
export function featureModels(def: FeatureDefinition, ops: OpSpecs = OP_SPECS): ModelRef[] {
  const refs: ModelRef[] = [];
  for (const node of def.nodes) {
    for (const ref of ops.get(node.op)?.models?.(node.params ?? {}, ops) ?? []) {
      if (!refs.some((r) => r.name === ref.name && r.version === ref.version)) refs.push(ref);
    }
  }
  return refs;
}

// ---- the built-in features (no model checks: tests, benches and tools that need no deployment) ----

const builtin = createCatalogueFromDocuments(readFeatureDocuments(BUILTIN_FEATURES_DIR, 'builtin'));

/** A built-in feature by name, at the given version or its default one. Apps use the FeatureCatalogue they loaded at start-up. */
export function findFeature(name: string, version?: string): FeatureDefinition | undefined {
  return builtin.find(name, version);
}

/** Every built-in feature version, by name then version. */
export function listFeatures(): FeatureDefinition[] {
  return builtin.list();
}

/** The built-in catalogue (every shipped document, validated against the op specs). */
export function builtinFeatureCatalogue(): FeatureCatalogue {
  return builtin;
}

function mustFind(name: string, version: string): FeatureDefinition {
  const def = builtin.find(name, version);
  if (!def) throw new Error(`built-in feature ${name}@${version} is missing from ${BUILTIN_FEATURES_DIR}`);
  return def;
}

/** ocr-line@1, as loaded from its document (features/ocr-line@1.json). */
export const OCR_LINE_V1: FeatureDefinition = mustFind('ocr-line', '1');
/** image-orientation@1, as loaded from its document (features/image-orientation@1.json). */
export const IMAGE_ORIENTATION_V1: FeatureDefinition = mustFind('image-orientation', '1');
/** ocr@1, the whole-page reader, as loaded from its document (features/ocr@1.json). */
export const OCR_V1: FeatureDefinition = mustFind('ocr', '1');
/** Most text regions one `ocr@1` page may have (its detect_boxes maxRegions); more is a 422 invalid_input. */
export const OCR_MAX_REGIONS = 300;
/** The built-in feature versions. */
export const FEATURES: readonly FeatureDefinition[] = Object.freeze(builtin.list());
