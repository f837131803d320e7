import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';

/**
 * The dashboard's static files (Vite's build in dist/dashboard) and how they are answered:
 * pure functions plus a loader; the routes are in dashboard-static.ts.
 */
export interface StaticFile {
  body: Buffer;
  type: string;
  cacheControl: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentTypeOf(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Vite names every asset by its content hash (assets/index-3f9a….js): cached for a year and
 * never revalidated. index.html (the SPA shell naming those hashes) is revalidated every time,
 * so a new build is picked up on the next load.
 */
export function cacheControlOf(path: string): string {
  return path.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/**
 * The dashboard talks to this origin only: scripts and styles are its own files (React sets
 * style attributes through the DOM, which CSP does not restrict; Recharts' inline SVG styles
 * need style-src 'unsafe-inline'), no framing, no plugins, no foreign form targets.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Reads every file of the build into memory (a few hundred KiB): a map by path relative to `dir`, empty when not built. */
export function loadDashboardFiles(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.startsWith('.')) {
        const rel = relative(dir, p).split(sep).join('/');
        files.set(rel, { body: readFileSync(p), type: contentTypeOf(rel), cacheControl: cacheControlOf(rel) });
      }
    }
  };
  walk(dir);
  return files;
}

/**
 * What a GET under /dashboard answers: the file when one has that path; a missing asset (a
 * stale hashed name) is a 404; every other path is a page of the single-page app, answered
 * with index.html (the app's router reads the path).
 */
export function resolveDashboardPath(files: ReadonlyMap<string, StaticFile>, path: string): { file: StaticFile; status: 200 } | { status: 404 } {
  const clean = path.replace(/^\/+/, '');
  const file = files.get(clean);
  if (file) return { file, status: 200 };
  if (clean.startsWith('assets/') || /\.[a-z0-9]+$/i.test(clean)) return { status: 404 };
  const index = files.get('index.html');
  return index ? { file: index, status: 200 } : { status: 404 };
}
