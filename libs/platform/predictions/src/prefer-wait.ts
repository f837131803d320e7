/** Longest wait a client may ask for with `Prefer: wait=N`. */
export const MAX_WAIT_SECONDS = 60;

/**
 * Parses RFC 7240 `Prefer` for the `wait` preference. `wait` alone means the maximum;
 * `wait=N` (N a non-negative integer, RFC 7240's delta-seconds) is clamped to 1..MAX.
 * Returns the wait in seconds, or null when absent or not honourable: a preference the
 * server cannot honour (`wait=-5`, `wait=soon`) is ignored, as are unknown preferences, as
 * RFC 7240 asks; a Prefer header never causes an error.
 */
export function parsePreferWait(header: string | string[] | undefined): number | null {
  if (header === undefined) return null;
  const values = (Array.isArray(header) ? header.join(',') : header).split(/[,;]/);
  for (const raw of values) {
    const [name, value] = raw.trim().split('=', 2).map((s) => s.trim());
    if (name?.toLowerCase() !== 'wait') continue;
    if (value === undefined || value === '') return MAX_WAIT_SECONDS;
    const unquoted = value.replace(/^"(.*)"$/, '$1');
    if (!/^\d+$/.test(unquoted)) continue;
    return Math.min(MAX_WAIT_SECONDS, Math.max(1, Number(unquoted)));
  }
  return null;
}
