/**
 * Feature documents: one file per feature version (`<name>@<version>.json`, `.yaml` or `.yml`),
 * parsed into a FeatureDefinition, its shape checked (the graph is checked by the catalogue), and
 * its sha256 over canonical JSON (what makes a published version immutable).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { FeatureDefinitionError } from './graph.js';
import { toFieldErrors } from './schema.js';
import type { FeatureDefinition } from './types.js';

export type FeatureSource = 'builtin' | 'features_dir' | 'inline';

/** A feature version as loaded: the definition, the file it came from and its digest. */
export interface FeatureDocument {
  def: FeatureDefinition;
  /** Path of the document (or "<inline name@version>" for definitions made in code). */
  file: string;
  source: FeatureSource;
  /** sha256 (hex) of the canonical JSON of the definition, `default` left out. */
  sha256: string;
}

const EXTENSIONS = ['.json', '.yaml', '.yml'];

/** The document's own shape (the graph, ops and schemas are checked by validateFeatureDefinition). */
const DOCUMENT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'description', 'input', 'output', 'price', 'nodes', 'outputNode'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string' },
    version: { anyOf: [{ type: 'string' }, { type: 'integer', minimum: 1 }] },
    description: { type: 'string' },
    default: { type: 'boolean' },
    input: { type: 'object' },
    output: { type: 'object' },
    price: {
      type: 'object',
      additionalProperties: false,
      required: ['unitType', 'units'],
      properties: { unitType: { type: 'string' }, units: { anyOf: [{ type: 'number' }, { type: 'object' }] } },
    },
    nodes: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'op', 'inputs'],
        properties: {
          id: { type: 'string' },
          op: { type: 'string' },
          params: { type: 'object' },
          inputs: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
    outputNode: { type: 'string' },
  },
};

const ajv = new Ajv2020({ allErrors: true, strict: true });
const validateShape = ajv.compile(DOCUMENT_SCHEMA);

/** JSON with object keys sorted at every level, no whitespace: equal content, equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The digest that pins a published version: sha256 of the canonical JSON of everything but the
 * `default` marker (moving the default to a newer version changes no published version).
 */
export function featureDigest(def: FeatureDefinition): string {
  const { default: _default, ...content } = def;
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** Parses one document's text (JSON, or YAML for .yaml/.yml); throws FeatureDefinitionError naming the file. */
export function parseFeatureDocument(text: string, file: string): FeatureDefinition {
  const label = basename(file);
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new FeatureDefinitionError(label, [`not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${e instanceof Error ? e.message : String(e)}`], file);
  }
  if (!validateShape(raw)) {
    const problems = toFieldErrors(validateShape.errors).map((e) => `${e.path || '(document)'} ${e.message}`);
    throw new FeatureDefinitionError(label, problems, file);
  }
  const doc = raw as Omit<FeatureDefinition, 'version'> & { version: string | number; $schema?: string };
  const { $schema: _schema, ...rest } = doc;
  return { ...rest, version: String(doc.version) };
}

/** A document made from a definition in code (tests): no file. */
export function inlineDocument(def: FeatureDefinition): FeatureDocument {
  return { def, file: `<inline ${def.name}@${def.version}>`, source: 'inline', sha256: featureDigest(def) };
}

/**
 * Reads every feature document of a folder (not recursive; other files are ignored). Each file's
 * name must be `<name>@<version>.<ext>` matching its content. Throws FeatureDefinitionError naming
 * the file on the first unreadable or malformed document.
 */
export function readFeatureDocuments(dir: string, source: FeatureSource): FeatureDocument[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir).sort();
  } catch (e) {
    throw new FeatureDefinitionError(dir, [`the features folder cannot be read: ${e instanceof Error ? e.message : String(e)}`], dir);
  }
  const docs: FeatureDocument[] = [];
  for (const name of names) {
    const ext = EXTENSIONS.find((x) => name.toLowerCase().endsWith(x));
    if (!ext || name.startsWith('.')) continue;
    const file = join(dir, name);
    const def = parseFeatureDocument(readFileSync(file, 'utf8'), file);
    const expected = `${def.name}@${def.version}${ext}`;
    if (name !== expected) throw new FeatureDefinitionError(`${def.name}@${def.version}`, [`the file must be named ${expected} (it holds ${def.name} version ${def.version})`], file);
    docs.push({ def, file, source, sha256: featureDigest(def) });
  }
  return docs;
}
