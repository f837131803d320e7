/**
 * What a refusal tells the uploader must not reveal the server's file system: onnxruntime's
 * messages name the file it loaded ("Load model from /srv/…/incoming/<uuid>.onnx.part failed").
 */

/** An absolute POSIX path: a "/" not inside a word, a URL ("://") or a relative path, then no spaces or quotes. */
const ABSOLUTE_PATH = /(?<![\w.:/~-])\/[^\s'"`,;()[\]{}<>|]+/g;
/** The temporary name of a received upload, should it appear alone. */
const UPLOAD_FILE = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.onnx(?:\.part)?\b/gi;

/**
 * Replaces the given paths (longest first) with "<model file>", and any other absolute path or
 * upload file name with "<path>".
 */
export function redactPaths(text: string, known: readonly string[] = []): string {
  let out = text;
  for (const p of [...known].filter((k) => k.length > 1).sort((a, b) => b.length - a.length)) out = out.split(p).join('<model file>');
  return out.replace(ABSOLUTE_PATH, '<path>').replace(UPLOAD_FILE, '<path>');
}
