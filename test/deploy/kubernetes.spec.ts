// deploy/kubernetes: every overlay rendered offline with `kubectl kustomize`, and the objects
// checked against the apps' own facts (config schema, model pools, ports, probes).
import { describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';
import { ENV_VARIABLES, GATEWAY_SECRETS, parseEnv, withThrowawaySecrets, type Env } from '#infra/config';
import { servedPools, TENANT_POOL } from '#model-service/model-registry';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const K8S = join(root, 'deploy', 'kubernetes');
const OVERLAYS = ['dev', 'gpu', 'keda'] as const;
type Overlay = (typeof OVERLAYS)[number];

/** A rendered Kubernetes object (untyped YAML). */
type Obj = Record<string, any>;

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const HAVE_KUBECTL = !kubectl.error && kubectl.status === 0;
if (!HAVE_KUBECTL) console.warn('SKIPPED deploy/kubernetes render checks: kubectl is not installed (it renders the overlays offline)');

function render(dir: string): Obj[] {
  const res = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${res.stderr}`);
  return parseAllDocuments(res.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

const rendered = new Map<Overlay, Obj[]>();
function objects(overlay: Overlay): Obj[] {
  let list = rendered.get(overlay);
  if (!list) {
    list = render(join(K8S, 'overlays', overlay));
    rendered.set(overlay, list);
  }
  return list;
}
const ofKind = (list: Obj[], kind: string): Obj[] => list.filter((o) => o.kind === kind);
const named = (list: Obj[], kind: string, name: string): Obj | undefined => list.find((o) => o.kind === kind && o.metadata?.name === name);

const pools = await servedPools('');
const PLATFORM_POOLS = pools.filter((p) => p !== TENANT_POOL);
const workerName = (pool: string): string => `stratum-worker-${pool}`;
const WORKERS = pools.map(workerName);
const APP_OF: Record<string, { prefix: 'GATEWAY' | 'WORKER' | 'AUTOSCALER'; main: string }> = {
  'stratum-gateway': { prefix: 'GATEWAY', main: 'dist/apps/gateway/src/main.js' },
  'stratum-autoscaler': { prefix: 'AUTOSCALER', main: 'dist/apps/autoscaler/src/main.js' },
  ...Object.fromEntries(WORKERS.map((w) => [w, { prefix: 'WORKER' as const, main: 'dist/apps/worker/src/main.js' }])),
};
const stratumDeployments = (list: Obj[]): Obj[] => ofKind(list, 'Deployment').filter((d) => d.metadata.name in APP_OF);

/** A secretKeyRef's stand-in: a value of the right shape for the variable (never a real secret). */
function standIn(name: string): string {
  if (name === 'DATABASE_URL') return 'postgresql://stratum:dummy@postgres:5432/stratum';
  if (name === 'REDIS_URL') return 'redis://redis:6379';
  return 'x'.repeat(40);
}

interface ResolvedEnv {
  values: Record<string, string>;
  fromSecret: Set<string>;
}

/** A container's environment as the kubelet would build it (envFrom ConfigMaps, then env). */
function resolveEnv(list: Obj[], container: Obj): ResolvedEnv {
  const values: Record<string, string> = {};
  const fromSecret = new Set<string>();
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = named(list, 'ConfigMap', from.configMapRef.name);
      expect([from.configMapRef.name, cm !== undefined]).toEqual([from.configMapRef.name, true]);
      Object.assign(values, cm!.data ?? {});
    }
    expect(from.secretRef).toBeUndefined(); // each secret by name, with its key: easier to audit
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom?.secretKeyRef) {
      expect(e.valueFrom.secretKeyRef.name).toMatch(/^[a-z0-9-]+$/);
      expect(e.valueFrom.secretKeyRef.key).toBeTruthy();
      fromSecret.add(e.name);
      values[e.name] = standIn(e.name);
    } else {
      expect(e.valueFrom).toBeUndefined();
      values[e.name] = String(e.value ?? '');
    }
  }
  return { values, fromSecret };
}

function podOf(d: Obj): Obj {
  return d.spec.template.spec;
}
function mainContainer(d: Obj): Obj {
  return podOf(d).containers[0];
}
function portNamed(container: Obj, port: string | number): number {
  if (typeof port === 'number') return port;
  const p = (container.ports ?? []).find((x: Obj) => x.name === port);
  expect([port, p !== undefined]).toEqual([port, true]);
  return p.containerPort as number;
}
function parsedEnv(list: Obj[], container: Obj): Env {
  return parseEnv(withThrowawaySecrets(resolveEnv(list, container).values));
}
function matches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** The preStop drain script's bound on its wait (const WAIT_MS = …). */
function preStopWaitMs(container: Obj): number {
  const command = (container.lifecycle?.preStop?.exec?.command ?? []) as string[];
  const m = /const WAIT_MS = (\d+);/.exec(command.join(' '));
  expect(m).not.toBeNull();
  return Number(m![1]);
}

const SECRET_NAME = /(PEPPER|PASSWORD|SECRET|TOKEN|_KEY)$/;

const d = HAVE_KUBECTL ? describe : describe.skip;

d.each(OVERLAYS)('deploy/kubernetes overlay %s', (overlay) => {
  it('renders with kubectl kustomize into the expected kinds', () => {
    const list = objects(overlay);
    const kinds = new Set(list.map((o) => o.kind));
    for (const kind of ['Deployment', 'Service', 'Ingress', 'PodDisruptionBudget', 'NetworkPolicy', 'ConfigMap', 'PersistentVolumeClaim']) expect([kind, kinds.has(kind)]).toEqual([kind, true]);
    expect(kinds.has('Secret')).toBe(false); // secrets are referenced, never rendered
    expect(kinds.has('ClusterRole')).toBe(false);
    expect(kinds.has('ClusterRoleBinding')).toBe(false);
    const ns = new Set(list.map((o) => o.metadata?.namespace));
    expect(ns.size).toBe(1);
    expect([...ns][0]).toMatch(/^stratum/);
  });

  it('has a gateway Deployment, Service, TLS Ingress and PodDisruptionBudget', () => {
    const list = objects(overlay);
    const gw = named(list, 'Deployment', 'stratum-gateway')!;
    expect(gw).toBeDefined();
    const labels = gw.spec.template.metadata.labels as Record<string, string>;
    const svc = named(list, 'Service', 'stratum-gateway')!;
    expect(matches(svc.spec.selector, labels)).toBe(true);
    const http = portNamed(mainContainer(gw), 'http');
    expect(svc.spec.ports.some((p: Obj) => p.targetPort === 'http' || p.targetPort === http)).toBe(true);

    const ingresses = ofKind(list, 'Ingress');
    expect(ingresses).toHaveLength(1);
    const ing = ingresses[0]!;
    expect(ing.spec.tls?.length).toBeGreaterThan(0);
    const tlsHosts = new Set<string>(ing.spec.tls.flatMap((t: Obj) => t.hosts));
    for (const t of ing.spec.tls) expect(t.secretName).toBeTruthy();
    for (const rule of ing.spec.rules) {
      expect(tlsHosts.has(rule.host)).toBe(true);
      for (const p of rule.http.paths) {
        expect(p.backend.service.name).toBe('stratum-gateway');
        expect(svc.spec.ports.map((x: Obj) => x.name)).toContain(p.backend.service.port.name);
      }
    }
    // PUBLIC_BASE_URL is the Ingress's https host.
    expect(parsedEnv(list, mainContainer(gw)).PUBLIC_BASE_URL).toBe(`https://${ing.spec.rules[0].host}`);

    const pdb = named(list, 'PodDisruptionBudget', 'stratum-gateway')!;
    expect(matches(pdb.spec.selector.matchLabels, labels)).toBe(true);
    expect(pdb.spec.minAvailable ?? 0).toBeLessThan(gw.spec.replicas);
    if (gw.spec.replicas > 1) expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
  });

  it('has one worker Deployment per model pool (built-in pools and tenant), consuming that pool only, without a fixed replica count', () => {
    const list = objects(overlay);
    expect(PLATFORM_POOLS.length).toBeGreaterThan(0);
    for (const pool of pools) {
      const w = named(list, 'Deployment', workerName(pool));
      expect([pool, w !== undefined]).toEqual([pool, true]);
      expect(mainContainer(w!).command).toEqual(['node', 'dist/apps/worker/src/main.js']);
      expect(parsedEnv(list, mainContainer(w!)).WORKER_POOLS).toEqual([pool]);
      // The autoscaler or KEDA owns the scale: re-applying the manifests must not reset it.
      expect(w!.spec.replicas).toBeUndefined();
    }
  });

  it.each(['stratum-gateway', 'stratum-autoscaler', ...WORKERS])('%s: every variable is of the config schema, which accepts the environment in production', (name) => {
    const list = objects(overlay);
    const dep = named(list, 'Deployment', name);
    if (!dep) {
      expect([overlay, name]).toEqual(['keda', 'stratum-autoscaler']); // KEDA replaces the autoscaler
      return;
    }
    const known = new Set<string>(ENV_VARIABLES);
    for (const c of [...(podOf(dep).initContainers ?? []), ...podOf(dep).containers]) {
      const { values } = resolveEnv(list, c);
      expect([c.name, Object.keys(values).filter((k) => !known.has(k))]).toEqual([c.name, []]);
      const env = parseEnv(withThrowawaySecrets(values));
      expect(env.NODE_ENV).toBe('production');
      expect(c.command?.[0]).toBe('node');
    }
    const c = mainContainer(dep);
    expect(c.command[1]).toBe(APP_OF[name]!.main);
  });

  it('keeps secrets out of the manifests: secret variables come from secretKeyRef, ConfigMaps hold none', () => {
    const list = objects(overlay);
    for (const dep of stratumDeployments(list)) {
      for (const c of [...(podOf(dep).initContainers ?? []), ...podOf(dep).containers]) {
        const { values, fromSecret } = resolveEnv(list, c);
        for (const name of Object.keys(values)) {
          if (SECRET_NAME.test(name) || name === 'DATABASE_URL') expect([dep.metadata.name, name, fromSecret.has(name)]).toEqual([dep.metadata.name, name, true]);
        }
      }
    }
    for (const cm of ofKind(list, 'ConfigMap')) {
      for (const [k, v] of Object.entries((cm.data ?? {}) as Record<string, string>)) {
        expect([k, SECRET_NAME.test(k)]).toEqual([k, false]);
        expect([k, /:\/\/[^/@\s]*:[^/@\s]*@/.test(v)]).toEqual([k, false]); // no password in a URL
      }
    }
    const text = JSON.stringify(list);
    expect(text).not.toMatch(/sk_(live|test)_[A-Za-z0-9]/);
    expect(text).not.toMatch(/stratum-dev-pepper/);
  });

  it('keeps the tenant pool isolated: no gateway secret, no token, uploads read-only, egress only to Postgres, Redis and DNS', () => {
    const list = objects(overlay);
    const w = named(list, 'Deployment', workerName(TENANT_POOL))!;
    const c = mainContainer(w);
    const { values } = resolveEnv(list, c);
    for (const s of GATEWAY_SECRETS) expect(values[s]).toBeUndefined();
    // It starts in production all the same (a throwaway pepper, as in the worker's start-up).
    expect(parsedEnv(list, c).NODE_ENV).toBe('production');
    expect(podOf(w).automountServiceAccountToken).toBe(false);
    const storage = parsedEnv(list, c).MODEL_STORAGE_DIR;
    const mount = c.volumeMounts.find((m: Obj) => m.mountPath === storage);
    expect(mount?.readOnly).toBe(true);
    // The gateway writes the same volume.
    const gw = named(list, 'Deployment', 'stratum-gateway')!;
    const gwMount = mainContainer(gw).volumeMounts.find((m: Obj) => m.mountPath === parsedEnv(list, mainContainer(gw)).MODEL_STORAGE_DIR);
    expect(gwMount).toBeDefined();
    expect(gwMount.readOnly).not.toBe(true);
    const claim = (pod: Obj, mountName: string) => pod.volumes.find((v: Obj) => v.name === mountName)?.persistentVolumeClaim?.claimName;
    expect(claim(podOf(w), mount.name)).toBe(claim(podOf(gw), gwMount.name));
    const pvc = named(list, 'PersistentVolumeClaim', claim(podOf(gw), gwMount.name))!;
    expect(pvc.spec.accessModes).toContain('ReadWriteMany');
    // Egress: the union of ports the policies open to this pod.
    const labels = w.spec.template.metadata.labels as Record<string, string>;
    const egressPorts = new Set<number>();
    for (const np of ofKind(list, 'NetworkPolicy')) {
      if (!matches(np.spec.podSelector.matchLabels, labels)) continue;
      for (const rule of np.spec.egress ?? []) {
        expect(rule.ports?.length).toBeGreaterThan(0); // never "every port"
        for (const p of rule.ports) egressPorts.add(p.port);
      }
    }
    expect([...egressPorts].sort((a, b) => a - b)).toEqual([53, 5432, 6379]);
  });

  it('drains workers before they stop: preStop POST /drain on the admin port, and a grace period longer than the drain wait plus the longest job', () => {
    const list = objects(overlay);
    for (const pool of pools) {
      const w = named(list, 'Deployment', workerName(pool))!;
      const c = mainContainer(w);
      const env = parsedEnv(list, c);
      const command = (c.lifecycle?.preStop?.exec?.command ?? []) as string[];
      const script = command.join(' ');
      expect(script).toContain("'/drain', { method: 'POST' }");
      expect(script).toContain(`'${env.WORKER_ADMIN_PORT}'`);
      // The longest a job may run and still be finished: a tenant run's deadline, and the drain
      // deadline (WORKER_DRAIN_TIMEOUT_MS, the autoscale branch's) when the schema has it.
      const drainTimeout = (env as unknown as Record<string, unknown>).WORKER_DRAIN_TIMEOUT_MS;
      const longestJobMs = Math.max(env.TENANT_RUN_DEADLINE_MS, typeof drainTimeout === 'number' ? drainTimeout : 0, env.WORKER_LOCK_MS);
      const graceMs = podOf(w).terminationGracePeriodSeconds * 1000;
      expect({ pool, graceMs, enough: graceMs > preStopWaitMs(c) + longestJobMs }).toEqual({ pool, graceMs, enough: true });
    }
  });

  it('probes each app on its own port: /healthz for liveness, /readyz for readiness; admin ports named and annotated for Prometheus', () => {
    const list = objects(overlay);
    for (const dep of stratumDeployments(list)) {
      const c = mainContainer(dep);
      const env = parsedEnv(list, c) as unknown as Record<string, unknown>;
      const prefix = APP_OF[dep.metadata.name]!.prefix;
      expect(env[`${prefix}_HOST`]).toBe('0.0.0.0');
      expect(env.ADMIN_HOST).toBe('0.0.0.0');
      const port = env[`${prefix}_PORT`];
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(portNamed(c, c.livenessProbe.httpGet.port)).toBe(port);
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(portNamed(c, c.readinessProbe.httpGet.port)).toBe(port);
      if (c.startupProbe) expect(portNamed(c, c.startupProbe.httpGet.port)).toBe(port);
      const admin = env[`${prefix}_ADMIN_PORT`];
      expect(portNamed(c, 'admin')).toBe(admin);
      const annotations = dep.spec.template.metadata.annotations as Record<string, string>;
      expect(annotations['prometheus.io/port']).toBe(String(admin));
      expect(annotations['prometheus.io/path']).toBe('/metrics');
    }
  });

  it('requests nvidia.com/gpu only in the gpu overlay, for the platform pools, with the GPU image and CUDA first', () => {
    const list = objects(overlay);
    const gpuOf = (dep: Obj) => {
      const r = mainContainer(dep).resources ?? {};
      return { request: r.requests?.['nvidia.com/gpu'], limit: r.limits?.['nvidia.com/gpu'] };
    };
    const cpuImage = mainContainer(named(list, 'Deployment', 'stratum-gateway')!).image as string;
    for (const dep of ofKind(list, 'Deployment')) {
      const pool = PLATFORM_POOLS.find((p) => workerName(p) === dep.metadata.name);
      if (overlay === 'gpu' && pool) {
        expect(gpuOf(dep)).toEqual({ request: 1, limit: 1 });
        const c = mainContainer(dep);
        expect(c.image).toMatch(/stratum-gpu/);
        expect(c.image).not.toBe(cpuImage);
        expect(parsedEnv(list, c).ORT_EXECUTION_PROVIDERS[0]).toBe('cuda');
        expect(podOf(dep).tolerations?.some((t: Obj) => t.key === 'nvidia.com/gpu')).toBe(true);
      } else {
        expect([dep.metadata.name, gpuOf(dep)]).toEqual([dep.metadata.name, { request: undefined, limit: undefined }]);
        if (dep.metadata.name in APP_OF) expect(parsedEnv(list, mainContainer(dep)).ORT_EXECUTION_PROVIDERS).toEqual(['cpu']);
      }
    }
    expect(JSON.stringify(list).includes('nvidia.com/gpu')).toBe(overlay === 'gpu');
  });

  it('scales the workers with exactly one controller: the autoscaler (Role on deployments/scale of the workers only) or KEDA', () => {
    const list = objects(overlay);
    const scaled = ofKind(list, 'ScaledObject');
    const autoscaler = named(list, 'Deployment', 'stratum-autoscaler');
    if (overlay === 'keda') {
      expect(autoscaler).toBeUndefined();
      expect(ofKind(list, 'Role')).toEqual([]);
      expect(scaled.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual([...WORKERS].sort());
      for (const s of scaled) {
        const pool = pools.find((p) => workerName(p) === s.spec.scaleTargetRef.name)!;
        expect(s.apiVersion).toBe('keda.sh/v1alpha1');
        expect(s.spec.triggers).toHaveLength(1);
        const t = s.spec.triggers[0];
        expect(t.type).toBe('prometheus');
        expect(t.metadata.query).toMatch(new RegExp(`^sum\\(.*stratum_queue_jobs\\{pool="${pool}"\\}.*\\)$`));
        expect(Number(t.metadata.threshold)).toBeGreaterThan(0);
        expect(t.metadata.serverAddress).toMatch(/^http:\/\/prometheus[.:]/);
      }
      // Its Prometheus is there (the bundled one).
      expect(named(list, 'Service', 'prometheus')).toBeDefined();
      return;
    }
    expect(scaled).toEqual([]);
    expect(autoscaler).toBeDefined();
    const pod = podOf(autoscaler!);
    const sa = named(list, 'ServiceAccount', pod.serviceAccountName);
    expect(sa).toBeDefined();
    const roles = ofKind(list, 'Role');
    expect(roles).toHaveLength(1);
    const role = roles[0]!;
    expect(role.rules).toHaveLength(1);
    const rule = role.rules[0];
    expect(rule.apiGroups).toEqual(['apps']);
    expect(rule.resources).toEqual(['deployments/scale']);
    expect([...rule.resourceNames].sort()).toEqual([...WORKERS].sort());
    expect(rule.verbs.every((v: string) => ['get', 'patch', 'update'].includes(v))).toBe(true);
    const bindings = ofKind(list, 'RoleBinding');
    expect(bindings).toHaveLength(1);
    expect(bindings[0]!.roleRef).toMatchObject({ kind: 'Role', name: role.metadata.name });
    expect(bindings[0]!.subjects).toEqual([{ kind: 'ServiceAccount', name: sa!.metadata.name, namespace: autoscaler!.metadata.namespace }]);
    expect(autoscaler!.spec.replicas).toBe(1);
    // Nothing else gets a Kubernetes token.
    for (const dep of ofKind(list, 'Deployment')) {
      if (dep.metadata.name === 'stratum-autoscaler') continue;
      const token = podOf(dep).automountServiceAccountToken ?? named(list, 'ServiceAccount', podOf(dep).serviceAccountName ?? 'default')?.automountServiceAccountToken;
      expect([dep.metadata.name, token]).toEqual([dep.metadata.name, false]);
    }
  });

  it('denies by default and opens only gateway ingress, apps → Postgres/Redis and Prometheus → admin ports', () => {
    const list = objects(overlay);
    const policies = ofKind(list, 'NetworkPolicy');
    const deny = policies.find((p) => Object.keys(p.spec.podSelector ?? {}).length === 0 && !p.spec.ingress && !p.spec.egress);
    expect(deny?.spec.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    const ingressPortsFor = (labels: Record<string, string>) =>
      new Set<number>(policies.filter((p) => matches(p.spec.podSelector.matchLabels, labels)).flatMap((p) => (p.spec.ingress ?? []).flatMap((r: Obj) => (r.ports ?? []).map((x: Obj) => x.port as number))));
    const egressPortsFor = (labels: Record<string, string>) =>
      new Set<number>(policies.filter((p) => matches(p.spec.podSelector.matchLabels, labels)).flatMap((p) => (p.spec.egress ?? []).flatMap((r: Obj) => (r.ports ?? []).map((x: Obj) => x.port as number))));
    for (const dep of stratumDeployments(list)) {
      const labels = dep.spec.template.metadata.labels as Record<string, string>;
      const c = mainContainer(dep);
      const ingress = ingressPortsFor(labels);
      const egress = egressPortsFor(labels);
      expect([dep.metadata.name, ingress.has(portNamed(c, 'admin'))]).toEqual([dep.metadata.name, true]);
      for (const port of [53, 5432, 6379]) expect([dep.metadata.name, port, egress.has(port)]).toEqual([dep.metadata.name, port, true]);
      const isGateway = dep.metadata.name === 'stratum-gateway';
      expect([dep.metadata.name, ingress.has(portNamed(c, 'http'))]).toEqual([dep.metadata.name, isGateway]);
    }
    // The admin ports admit Prometheus only.
    const scrape = policies.find((p) => p.metadata.name === 'prometheus-scrape')!;
    for (const rule of scrape.spec.ingress) for (const from of rule.from) expect(from.podSelector.matchLabels['app.kubernetes.io/name']).toBe('prometheus');
    // The bundled Prometheus (when there) carries that label.
    const prom = named(list, 'Deployment', 'prometheus');
    if (prom) expect(prom.spec.template.metadata.labels['app.kubernetes.io/name']).toBe('prometheus');
  });

  it('names every admin listener in a headless Service that the bundled Prometheus scrapes', () => {
    const list = objects(overlay);
    const config = parse(readFileSync(join(K8S, 'components', 'prometheus', 'prometheus.yml'), 'utf8')) as { scrape_configs: { dns_sd_configs: { names: string[]; port: number }[] }[] };
    const targets = config.scrape_configs.flatMap((j) => j.dns_sd_configs.flatMap((s) => s.names.map((n) => ({ name: n, port: s.port }))));
    for (const dep of stratumDeployments(list)) {
      const labels = dep.spec.template.metadata.labels as Record<string, string>;
      const admin = portNamed(mainContainer(dep), 'admin');
      const svc = ofKind(list, 'Service').find((s) => s.spec.clusterIP === 'None' && matches(s.spec.selector, labels));
      expect([dep.metadata.name, svc !== undefined]).toEqual([dep.metadata.name, true]);
      expect(targets).toContainEqual({ name: svc!.metadata.name, port: admin });
    }
  });
});

/** Runs a preStop `exec` command with the container's WORKER_ADMIN_PORT pointed at `port`; resolves with its exit code. */
function runHook(command: string[], port: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, command.slice(1), { env: { PATH: '/usr/bin:/bin', WORKER_ADMIN_PORT: String(port) }, stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

d('the workers\' preStop drain hook, run against a fake admin listener', () => {
  const hooks = (): { name: string; command: string[] }[] =>
    WORKERS.map((name) => {
      const c = mainContainer(named(objects('dev'), 'Deployment', name)!);
      const command = c.lifecycle.preStop.exec.command as string[];
      expect(command[0]).toBe('node');
      return { name, command };
    });

  it('POSTs /drain first, then polls /metrics until no slot is busy, and exits 0', async () => {
    for (const { name, command } of hooks()) {
      const calls: string[] = [];
      let busyPolls = 2;
      const server = createServer((req, res) => {
        calls.push(`${req.method} ${req.url}`);
        if (req.method === 'POST' && req.url === '/drain') return void res.writeHead(202).end('{"status":"draining"}');
        if (req.method === 'GET' && req.url === '/metrics') {
          const ratio = busyPolls-- > 0 ? 0.5 : 0;
          return void res.writeHead(200, { 'content-type': 'text/plain' }).end(`# HELP stratum_worker_busy_ratio x\nstratum_worker_busy_ratio{pool="p",app="worker"} ${ratio}\nstratum_jobs_total{pool="p",outcome="succeeded"} 7\n`);
        }
        res.writeHead(404).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const code = await runHook(command, (server.address() as AddressInfo).port);
        expect({ name, code, calls }).toEqual({ name, code: 0, calls: ['POST /drain', 'GET /metrics', 'GET /metrics', 'GET /metrics'] });
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    }
  });

  it('ends at once when the admin listener is gone (the worker already exited)', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    for (const { name, command } of hooks()) {
      const started = Date.now();
      const code = await runHook(command, port);
      expect({ name, code, quick: Date.now() - started < 5_000 }).toEqual({ name, code: 0, quick: true });
    }
  });
});

describe('deploy/kubernetes/components/prometheus/prometheus.yml', () => {
  it('passes promtool check config', () => {
    const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (probe.error) {
      console.warn('SKIPPED promtool check config (kubernetes): promtool is not installed (apt-get install -y prometheus)');
      return;
    }
    const res = spawnSync('promtool', ['check', 'config', join(K8S, 'components', 'prometheus', 'prometheus.yml')], { encoding: 'utf8' });
    expect({ status: res.status, output: res.stdout + res.stderr }).toMatchObject({ status: 0 });
  });
});
