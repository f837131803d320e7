// The Kubernetes actuator against a fake API server on 127.0.0.1 (a kubeconfig pointing at it):
// the server checks every request (verb, path, query, content type, token, body) and answers
// like the apps/v1 scale subresource; anything else is recorded as unexpected.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deploymentName, KubernetesActuator } from '../../apps/autoscaler/src/kubernetes-actuator.js';

interface Seen {
  method: string;
  path: string;
  query: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: string;
}

const TOKEN = 'fake-token-for-the-test';
let server: Server;
let kubeconfig: string;
const seen: Seen[] = [];
const unexpected: Seen[] = [];
const replicas = new Map<string, number>([['stratum-worker-ocr', 1]]);

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const s: Seen = { method: req.method ?? '', path: url.pathname, query: url.search, contentType: req.headers['content-type'], authorization: req.headers.authorization, body };
      seen.push(s);
      const m = /^\/apis\/apps\/v1\/namespaces\/stratum\/deployments\/([a-z0-9-]+)\/scale$/.exec(url.pathname);
      const name = m?.[1];
      const answer = (n: number) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name, namespace: 'stratum' }, spec: { replicas: n }, status: { replicas: n } }));
      };
      if (s.authorization !== `Bearer ${TOKEN}` || !name || !replicas.has(name)) {
        unexpected.push(s);
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
        return;
      }
      if (s.method === 'GET' && body === '') return answer(replicas.get(name)!);
      if (s.method === 'PATCH' && s.contentType === 'application/merge-patch+json') {
        const patch = JSON.parse(body) as { spec?: { replicas?: unknown } };
        const keys = Object.keys(patch);
        const n = patch.spec?.replicas;
        if (keys.length === 1 && Object.keys(patch.spec ?? {}).length === 1 && typeof n === 'number' && Number.isInteger(n) && n >= 0) {
          replicas.set(name, n);
          return answer(n);
        }
      }
      unexpected.push(s);
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'BadRequest', code: 400 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const dir = mkdtempSync(join(tmpdir(), 'stratum-kube-'));
  kubeconfig = join(dir, 'config');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: http://127.0.0.1:${port}`,
      // The client refuses plain HTTP unless TLS verification is off (the fake server speaks HTTP).
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: autoscaler',
      '  user:',
      `    token: ${TOKEN}`,
      'contexts:',
      '- name: fake',
      '  context:',
      '    cluster: fake',
      '    user: autoscaler',
      '    namespace: stratum',
      'current-context: fake',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('KubernetesActuator', () => {
  it('names each pool\'s Deployment from the template', () => {
    expect(deploymentName('stratum-worker-{pool}', 'ocr')).toBe('stratum-worker-ocr');
    expect(deploymentName('{pool}-workers', 'vision')).toBe('vision-workers');
  });

  it('reads the scale subresource (GET) and sets it with a JSON merge patch of spec.replicas only (PATCH)', async () => {
    const k = new KubernetesActuator({ kubeconfig, deploymentTemplate: 'stratum-worker-{pool}' });
    // The namespace comes from the kubeconfig's context.
    expect(k.namespace).toBe('stratum');
    expect(await k.current('ocr')).toBe(1);
    await k.apply('ocr', 3);
    expect(replicas.get('stratum-worker-ocr')).toBe(3);
    expect(await k.current('ocr')).toBe(3);
    await k.apply('ocr', 0);
    expect(await k.current('ocr')).toBe(0);

    expect(unexpected).toEqual([]);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      'GET /apis/apps/v1/namespaces/stratum/deployments/stratum-worker-ocr/scale',
      'PATCH /apis/apps/v1/namespaces/stratum/deployments/stratum-worker-ocr/scale',
      'GET /apis/apps/v1/namespaces/stratum/deployments/stratum-worker-ocr/scale',
      'PATCH /apis/apps/v1/namespaces/stratum/deployments/stratum-worker-ocr/scale',
      'GET /apis/apps/v1/namespaces/stratum/deployments/stratum-worker-ocr/scale',
    ]);
    const patches = seen.filter((s) => s.method === 'PATCH');
    expect(patches.map((p) => JSON.parse(p.body) as unknown)).toEqual([{ spec: { replicas: 3 } }, { spec: { replicas: 0 } }]);
    expect(patches.every((p) => p.contentType === 'application/merge-patch+json' && p.query.includes('fieldManager=stratum-autoscaler'))).toBe(true);
    expect(seen.every((s) => s.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('surfaces an API error (a Deployment that does not exist) instead of guessing', async () => {
    const k = new KubernetesActuator({ kubeconfig, namespace: 'stratum', deploymentTemplate: 'stratum-worker-{pool}' });
    const before = unexpected.length;
    await expect(k.current('vision')).rejects.toThrow();
    await expect(k.apply('vision', 2)).rejects.toThrow();
    expect(unexpected.slice(before).map((s) => `${s.method} ${s.path}`)).toEqual([
      'GET /apis/apps/v1/namespaces/stratum/deployments/stratum-worker-vision/scale',
      'PATCH /apis/apps/v1/namespaces/stratum/deployments/stratum-worker-vision/scale',
    ]);
  });
});
