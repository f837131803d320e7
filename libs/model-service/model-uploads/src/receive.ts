/**
 * Receiving an uploaded model: streamed to a temporary file under the storage
 * directory while its sha256 and size are computed, never held whole in memory.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ProblemError } from '#infra/errors';
import { modelRefused } from './refusal.js';

export interface ReceivedFile {
  /** Temporary path of the bytes (move with `storeArtifact`, or delete with `discard`). */
  tmpPath: string;
  sha256: string;
  sizeBytes: number;
}

/**
 * An ONNX model is a protobuf ModelProto whose first field is ir_version (field 1,
 * varint), so its first byte is 0x08. Anything else is not an ONNX model.
 */
export const ONNX_FIRST_BYTE = 0x08;

export async function receiveUpload(body: Readable, options: { storageDir: string; maxBytes: number }): Promise<ReceivedFile> {
  const incoming = join(options.storageDir, 'incoming');
  await mkdir(incoming, { recursive: true });
  const tmpPath = join(incoming, `${randomUUID()}.onnx.part`);
  const out = createWriteStream(tmpPath, { flags: 'wx', mode: 0o600 });
  const hash = createHash('sha256');
  let sizeBytes = 0;
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      if (sizeBytes === 0 && buf.length > 0 && buf[0] !== ONNX_FIRST_BYTE) throw modelRefused('wrong_magic', 'The file is not an ONNX model (it does not start like an ONNX ModelProto).');
      sizeBytes += buf.length;
      if (sizeBytes > options.maxBytes) {
        throw new ProblemError('payload_too_large', `The model is larger than your plan's upload limit of ${options.maxBytes} bytes.`, { extensions: { limit_bytes: options.maxBytes } });
      }
      hash.update(buf);
      if (!out.write(buf)) await new Promise<void>((resolve) => out.once('drain', resolve));
    }
    if (sizeBytes === 0) throw modelRefused('empty', 'The upload is empty.');
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    return { tmpPath, sha256: hash.digest('hex'), sizeBytes };
  } catch (e) {
    // The file is opened asynchronously: wait until the stream closed, or an open still in
    // flight would create the file after the rm below and leave it behind.
    const closed = out.closed ? Promise.resolve() : new Promise<void>((resolve) => out.once('close', () => resolve()));
    out.destroy();
    body.destroy();
    await closed;
    await rm(tmpPath, { force: true });
    throw e;
  }
}

/**
 * Moves a validated upload to its permanent, content-addressed place:
 * `<storageDir>/sha256/<hash>.onnx`. Returns the artifact URI the registry records
 * (relative to the storage directory, so every worker resolves it against its own mount).
 */
export async function storeArtifact(file: ReceivedFile, storageDir: string): Promise<string> {
  const dir = join(storageDir, 'sha256');
  await mkdir(dir, { recursive: true });
  const relative = `sha256/${file.sha256}.onnx`;
  const target = join(storageDir, relative);
  const existing = await stat(target).catch(() => null);
  if (existing && existing.size === file.sizeBytes) await rm(file.tmpPath, { force: true });
  else await rename(file.tmpPath, target);
  return `storage:${relative}`;
}

export async function discard(file: Pick<ReceivedFile, 'tmpPath'>): Promise<void> {
  await rm(file.tmpPath, { force: true });
}

/** Resolves a `storage:` artifact URI against this machine's storage directory. */
export function artifactPath(uri: string, storageDir: string): string {
  const m = /^storage:(sha256\/[0-9a-f]{64}\.onnx)$/.exec(uri);
  if (!m) throw new Error(`not a storage artifact URI: ${uri}`);
  return join(storageDir, m[1]!);
}
