import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ENV_VARIABLES, GATEWAY_SECRETS, parseEnv, withThrowawaySecrets } from '#infra/config';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

interface Service {
  image?: string;
  build?: { context?: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] | string };
  volumes?: string[];
  ports?: string[];
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const APPS = { gateway: 'GATEWAY', worker: 'WORKER', autoscaler: 'AUTOSCALER' } as const;
type AppName = keyof typeof APPS;
const APP_NAMES = Object.keys(APPS) as AppName[];

function environment(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  const entries: [string, string][] = Array.isArray(env)
    ? env.map((line): [string, string] => {
        const i = line.indexOf('=');
        return i === -1 ? [line, ''] : [line.slice(0, i), line.slice(i + 1)];
      })
    : Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]);
  return Object.fromEntries(entries);
}

/** Compose interpolation, with a dummy for every `${VAR…}` the operator must supply. */
function interpolate(value: string): string {
  return value.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?[-?+])[^}]*)?\}/g, 'x'.repeat(40));
}

function commandOf(service: Service): string[] {
  const c = service.command;
  if (c === undefined) return [];
  return Array.isArray(c) ? c : c.split(/\s+/);
}

/** A dist/ path exists after a build, or its TypeScript source does. */
function builtOrSource(distPath: string): boolean {
  if (existsSync(join(root, distPath))) return true;
  const source = distPath.replace(/^dist\//, '').replace(/\.js$/, '.ts');
  return existsSync(join(root, source));
}

function dependsOn(service: Service): Record<string, string> {
  const d = service.depends_on ?? {};
  return Array.isArray(d) ? Object.fromEntries(d.map((n) => [n, 'service_started'])) : Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v.condition]));
}

describe('docker-compose.yml', () => {
  it('has the platform services', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgres', 'redis', 'migrate', 'gateway', 'worker', 'autoscaler', 'prometheus']));
    expect(services.postgres?.image).toMatch(/^postgres:17/);
    expect(services.redis?.image).toMatch(/^redis:7/);
    expect(services.prometheus?.image).toMatch(/^prom\/prometheus/);
  });

  it('gives postgres, redis and every app a healthcheck', () => {
    for (const name of ['postgres', 'redis', ...APP_NAMES]) expect(services[name]?.healthcheck?.test).toBeDefined();
  });

  it('starts the apps after a successful migration and healthy stores', () => {
    expect(dependsOn(services.migrate!)).toMatchObject({ postgres: 'service_healthy' });
    for (const name of APP_NAMES) {
      expect(dependsOn(services[name]!)).toMatchObject({ migrate: 'service_completed_successfully', redis: 'service_healthy' });
    }
  });

  it.each(['migrate', ...APP_NAMES])('%s: names only variables of the config schema, which accepts them', (name) => {
    const env = environment(services[name]!);
    expect(Object.keys(env).length).toBeGreaterThan(0);
    const known = new Set<string>(ENV_VARIABLES);
    expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
    const parsed = parseEnv(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(v)])));
    expect(parsed.NODE_ENV).toBe('production');
    expect(parsed.API_KEY_PEPPER).toHaveLength(40);
  });

  // item 3: uploaded models run in a worker of their own, which holds no gateway secret.
  it('runs the tenant pool in a worker of its own, without the gateway secrets, the uploads mounted read-only', () => {
    const tenant = services['worker-tenant'];
    expect(tenant).toBeDefined();
    const env = environment(tenant!);
    expect(env.WORKER_POOLS).toBe('tenant');
    for (const secret of GATEWAY_SECRETS) expect(env[secret]).toBeUndefined();
    expect(Object.keys(env).filter((k) => !new Set<string>(ENV_VARIABLES).has(k))).toEqual([]);
    // It starts in production without the pepper (a throwaway one, never used) and on its own port.
    const parsed = parseEnv(withThrowawaySecrets(env));
    expect(parsed.NODE_ENV).toBe('production');
    expect(JSON.stringify(tenant!.healthcheck!.test)).toContain(`:${parsed.WORKER_PORT}/readyz`);
    expect(tenant!.volumes).toContain(`model-storage:${env.MODEL_STORAGE_DIR}:ro`);
    expect(services.gateway?.volumes).toContain(`model-storage:${env.MODEL_STORAGE_DIR}`);
    // The platform workers never take the tenant pool.
    expect((environment(services.worker!).WORKER_POOLS ?? '').split(',')).not.toContain('tenant');
  });

  it('requires API_KEY_PEPPER from the operator instead of a default', () => {
    for (const name of APP_NAMES) expect(environment(services[name]!).API_KEY_PEPPER).toMatch(/^\$\{API_KEY_PEPPER:\?.+\}$/);
  });

  it.each(APP_NAMES)('%s listens on all interfaces, on the port it publishes', (name) => {
    const env = parseEnv(Object.fromEntries(Object.entries(environment(services[name]!)).map(([k, v]) => [k, interpolate(v)])));
    const prefix = APPS[name];
    expect(env[`${prefix}_HOST`]).toBe('0.0.0.0');
    const healthcheck = JSON.stringify(services[name]!.healthcheck!.test);
    expect(healthcheck).toContain(`:${env[`${prefix}_PORT`]}/readyz`);
  });

  it.each(APP_NAMES)('%s: the admin listener (metrics, readiness details) listens on the network but is not published (item 8)', (name) => {
    const env = parseEnv(Object.fromEntries(Object.entries(environment(services[name]!)).map(([k, v]) => [k, interpolate(v)])));
    expect(env.ADMIN_HOST).toBe('0.0.0.0');
    const admin = String(env[`${APPS[name]}_ADMIN_PORT`]);
    const published = (services[name]!.ports ?? []).map((p) => String(p).split(':').at(-2) ?? String(p));
    expect(published).not.toContain(admin);
    expect(services[name]!.ports ?? []).not.toEqual(expect.arrayContaining([expect.stringContaining(`:${admin}`)]));
  });

  it.each(['migrate', ...APP_NAMES])('%s runs a file of the build from the shared image', (name) => {
    const service = services[name]!;
    expect(service.build?.dockerfile).toBe('deploy/Dockerfile');
    const [program, file] = commandOf(service);
    expect(program).toBe('node');
    expect(file).toMatch(/^dist\/.+\.js$/);
    expect(builtOrSource(file!)).toBe(true);
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = read('deploy/Dockerfile');
  const stages = [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]);

  it('has deps, build, prod-deps and runtime stages, in that order, the last one non-root', () => {
    expect(stages).toEqual(['deps', 'build', 'prod-deps', 'runtime']);
    const runtime = dockerfile.slice(dockerfile.search(/^FROM\s+\S+\s+AS\s+runtime/im));
    expect(runtime).toMatch(/^USER\s+(?!root\b)\S+/m);
    expect(runtime).not.toMatch(/node scripts\/build\.mjs/);
  });

  it('builds with all dependencies but ships only production ones', () => {
    expect(dockerfile).toMatch(/AS deps[\s\S]*npm ci(?![^\n]*--omit=dev)/);
    expect(dockerfile).toMatch(/AS build[\s\S]*node scripts\/build\.mjs[\s\S]*AS prod-deps/);
    expect(dockerfile).toMatch(/AS prod-deps[\s\S]*npm ci --omit=dev/);
    expect(dockerfile).toMatch(/ONNXRUNTIME_NODE_INSTALL=skip/);
  });

  it('copies from stages that exist, and only files that exist', () => {
    for (const m of dockerfile.matchAll(/^COPY\s+--from=(\S+)/gm)) expect(stages).toContain(m[1]);
    for (const m of dockerfile.matchAll(/^COPY\s+(?!--from)(?:--\S+\s+)*(.+)$/gm)) {
      const parts = m[1]!.trim().split(/\s+/);
      for (const src of parts.slice(0, -1)) expect([src, existsSync(join(root, src))]).toEqual([src, true]);
    }
  });

  it('runs a file of the build by default', () => {
    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(dockerfile);
    expect(cmd).not.toBeNull();
    const [program, file] = JSON.parse(cmd![1]!) as string[];
    expect(program).toBe('node');
    expect(builtOrSource(file!)).toBe(true);
    expect(dockerfile).not.toMatch(/^ENTRYPOINT/m);
  });

  it('has a CUDA 12 + cuDNN variant that installs the CUDA provider after npm ci', () => {
    const gpu = read('deploy/Dockerfile.gpu');
    expect(gpu).toMatch(/nvidia\/cuda:12\.[\d.]+-cudnn/);
    expect(gpu).toMatch(/npm ci --omit=dev[\s\S]*node node_modules\/onnxruntime-node\/script\/install/);
    expect(gpu).toMatch(/^USER\s+(?!root\b)\S+/m);
    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(gpu);
    expect(builtOrSource((JSON.parse(cmd![1]!) as string[])[1]!)).toBe(true);
  });
});

describe('deploy/prometheus/prometheus.yml', () => {
  const path = 'deploy/prometheus/prometheus.yml';
  const config = parse(read(path)) as { scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[] };

  it('is the file the prometheus service mounts', () => {
    expect(services.prometheus?.volumes?.some((v) => v.startsWith(`./${path}:`))).toBe(true);
  });

  it.each(APP_NAMES)('scrapes %s on the admin port the compose file gives it', (name) => {
    const env = parseEnv(Object.fromEntries(Object.entries(environment(services[name]!)).map(([k, v]) => [k, interpolate(v)])));
    const port = env[`${APPS[name]}_ADMIN_PORT`];
    const targets = config.scrape_configs.filter((j) => (j.metrics_path ?? '/metrics') === '/metrics').flatMap((j) => j.static_configs.flatMap((s) => s.targets));
    expect(targets).toContain(`${name}:${port}`);
  });

  it('scrapes the tenant worker too', () => {
    const targets = config.scrape_configs.flatMap((j) => j.static_configs.flatMap((s) => s.targets));
    // Metrics are on the admin listener (its default port: each container has its own network namespace).
    expect(targets).toContain(`worker-tenant:${environment(services['worker-tenant']!).WORKER_ADMIN_PORT ?? 9465}`);
  });

  it('passes promtool check config', () => {
    const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (probe.error) {
      // Visible in the test output; .ci/run installs promtool (Debian package `prometheus`).
      console.warn('SKIPPED promtool check config: promtool is not installed (apt-get install -y prometheus)');
      return;
    }
    const res = spawnSync('promtool', ['check', 'config', join(root, path)], { encoding: 'utf8' });
    expect({ status: res.status, output: res.stdout + res.stderr }).toMatchObject({ status: 0 });
  });
});

describe('docker-compose.yml: Grafana, shared model storage, writable app directory', () => {
  const grafana = services.grafana;
  const mountOf = (service: Service, source: string): string | undefined => (service.volumes ?? []).find((v) => v.startsWith(`${source}:`));
  const target = (mount: string | undefined): string | undefined => mount?.split(':')[1];

  it('runs Grafana on localhost only, provisioned with the Prometheus data source and the dashboard', () => {
    expect(grafana?.image).toMatch(/^grafana\/grafana:\d+/);
    expect(grafana!.ports).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+:3000$/)]);
    expect(dependsOn(grafana!)).toMatchObject({ prometheus: 'service_healthy' });
    const datasourcesDir = target(mountOf(grafana!, './deploy/grafana/provisioning/datasources'));
    expect(datasourcesDir).toBe('/etc/grafana/provisioning/datasources');
    expect(target(mountOf(grafana!, './deploy/grafana/provisioning/dashboards'))).toBe('/etc/grafana/provisioning/dashboards');
    const datasources = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { type: string; url: string; isDefault?: boolean }[] };
    const prom = datasources.datasources.find((d) => d.type === 'prometheus')!;
    expect(prom.isDefault).toBe(true);
    // The compose service and the port Prometheus listens on inside its container.
    const url = new URL(prom.url);
    expect(services[url.hostname]?.image).toMatch(/^prom\/prometheus/);
    expect(services[url.hostname]!.ports!.some((p) => p.endsWith(`:${url.port}`))).toBe(true);
    // The dashboards provider reads the folder the dashboard JSON is mounted at.
    const providers = parse(read('deploy/grafana/provisioning/dashboards/stratum.yml')) as { providers: { type: string; options: { path: string } }[] };
    const dashboardsDir = target(mountOf(grafana!, './deploy/grafana/dashboards'));
    expect(providers.providers.map((p) => p.options.path)).toContain(dashboardsDir);
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/stratum.json')) as { uid: string; panels: unknown[] };
    expect(dashboard.uid).toBeTruthy();
    expect(dashboard.panels.length).toBeGreaterThan(0);
  });

  it('shares one model storage volume: the gateway writes uploads, every worker of the tenant pool reads them', () => {
    const dirs = new Set(APP_NAMES.map((n) => parseEnv(Object.fromEntries(Object.entries(environment(services[n]!)).map(([k, v]) => [k, interpolate(v)]))).MODEL_STORAGE_DIR));
    expect(dirs.size).toBe(1);
    const dir = [...dirs][0]!;
    expect(mountOf(services.gateway!, 'model-storage')).toBe(`model-storage:${dir}`);
    const tenantWorkers = Object.entries(services).filter(([, s]) => (environment(s).WORKER_POOLS ?? '').split(',').includes('tenant'));
    expect(tenantWorkers.length).toBeGreaterThan(0);
    for (const [name, s] of tenantWorkers) expect([name, mountOf(s, 'model-storage')]).toEqual([name, `model-storage:${dir}:ro`]);
  });

  it('gives the non-root app a writable /app/.stratum (a volume the image prepares for its user), the code staying read-only', () => {
    for (const name of ['migrate', 'gateway']) expect([name, (services[name]!.volumes ?? []).some((v) => v.endsWith(':/app/.stratum'))]).toEqual([name, true]);
    const dockerfile = read('deploy/Dockerfile');
    // A fresh named volume takes the ownership of the image's directory.
    expect(dockerfile).toMatch(/mkdir -p [^\n]*\/app\/\.stratum[^\n]*&& chown -R node:node [^\n]*\/app\/\.stratum/);
    expect(dockerfile).not.toMatch(/chown -R \S+ \/app(\s|$)/);
  });
});
