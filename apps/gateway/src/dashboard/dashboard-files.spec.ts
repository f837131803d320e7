import { describe, expect, it } from '@jest/globals';
import { cacheControlOf, contentTypeOf, DASHBOARD_CSP, resolveDashboardPath, type StaticFile } from './dashboard-files.js';

const file = (path: string): StaticFile => ({ body: Buffer.from(path), type: contentTypeOf(path), cacheControl: cacheControlOf(path) });
const files = new Map([['index.html', file('index.html')], ['assets/index-abc123.js', file('assets/index-abc123.js')], ['favicon.svg', file('favicon.svg')]]);

describe('the dashboard files', () => {
  it('caches hashed assets for a year and revalidates everything else', () => {
    expect(cacheControlOf('assets/index-abc123.js')).toBe('public, max-age=31536000, immutable');
    expect(cacheControlOf('index.html')).toBe('no-cache');
    expect(contentTypeOf('assets/x.css')).toBe('text/css; charset=utf-8');
    expect(contentTypeOf('weird.bin')).toBe('application/octet-stream');
  });

  it('answers files by path, pages of the app with index.html, and missing assets with 404', () => {
    expect(resolveDashboardPath(files, 'assets/index-abc123.js')).toMatchObject({ status: 200, file: { type: 'text/javascript; charset=utf-8' } });
    expect(resolveDashboardPath(files, '')).toMatchObject({ status: 200, file: { type: 'text/html; charset=utf-8' } });
    expect(resolveDashboardPath(files, 'orgs/acme/keys')).toMatchObject({ status: 200, file: { body: Buffer.from('index.html') } });
    expect(resolveDashboardPath(files, 'assets/index-old.js')).toEqual({ status: 404 });
    expect(resolveDashboardPath(files, 'robots.txt')).toEqual({ status: 404 });
    expect(resolveDashboardPath(new Map(), 'orgs/acme')).toEqual({ status: 404 });
  });

  it('allows scripts from the origin only and no framing', () => {
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toMatch(/script-src[^;]*unsafe/);
    expect(DASHBOARD_CSP).toContain("frame-ancestors 'none'");
  });
});
