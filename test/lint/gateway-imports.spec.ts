// The gateway process never loads onnxruntime-node or sharp: it routes requests to worker pools
// and needs only the feature catalogue, the model format and schemas. A child process imports
// every module of the built gateway (all but main.js, which would start it) and reports the
// native libraries it mapped. The worker's runtime module is the control: the probe does see them.
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { repoRoot } from '#infra/db';

const PROBE = `
const urls = JSON.parse(process.argv[1]);
for (const url of urls) await import(url);
const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
process.stdout.write(JSON.stringify({ onnxruntime: /onnxruntime/.test(maps), sharp: /vips|sharp/.test(maps) }));
`;

async function modulesOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.js')) out.push(join(e.parentPath, e.name));
  }
  return out;
}

async function nativeLibsLoadedBy(files: string[]): Promise<{ onnxruntime: boolean; sharp: boolean }> {
  const urls = files.map((f) => pathToFileURL(f).href);
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', PROBE, JSON.stringify(urls)], { cwd: repoRoot() });
  return JSON.parse(stdout) as { onnxruntime: boolean; sharp: boolean };
}

describe('the gateway process', () => {
  it('loads neither onnxruntime-node nor sharp (built gateway modules, npm test builds first)', async () => {
    const dir = join(repoRoot(), 'dist', 'apps', 'gateway', 'src');
    const files = (await modulesOf(dir)).filter((f) => f !== join(dir, 'main.js'));
    expect(files.length).toBeGreaterThan(10);
    expect(await nativeLibsLoadedBy(files)).toEqual({ onnxruntime: false, sharp: false });
  });

  it('(control) the probe sees them in the worker', async () => {
    const worker = join(repoRoot(), 'dist', 'apps', 'worker', 'src');
    expect(await nativeLibsLoadedBy([join(worker, 'inference-runtime.service.js'), join(worker, 'process-job.js')])).toEqual({ onnxruntime: true, sharp: true });
  });
});
