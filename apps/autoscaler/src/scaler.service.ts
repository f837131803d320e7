import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { AppConfig, inheritedEnv, type Env } from '#infra/config';
import { Readiness } from '#infra/http';
import { MetricsRegistry } from '#infra/metrics';
import { InferenceQueues, registerQueueDepthGauge } from '#infra/queue';
import { decide, initialScalingState, type ScalingPolicy, type ScalingState } from '#infra/scaling';
import { TENANT_POOL } from '#model-service/model-registry';
import { NoActuator, type Actuator } from './actuator.js';
import { KubernetesActuator } from './kubernetes-actuator.js';
import { LocalActuator } from './local-actuator.js';
import { PrometheusSignals, ScrapeSignals, type SignalSource } from './signals.js';

/** The policy's settings from the configuration (one policy for every managed pool). */
export function policyOf(env: Env): ScalingPolicy {
  return {
    minWorkers: env.AUTOSCALER_MIN_WORKERS,
    maxWorkers: env.AUTOSCALER_MAX_WORKERS,
    targetPerWorker: env.AUTOSCALER_TARGET_BACKLOG_PER_WORKER,
    slotsPerWorker: env.WORKER_CONCURRENCY,
    targetUtilization: env.AUTOSCALER_TARGET_UTILIZATION,
    waitSloSeconds: env.AUTOSCALER_WAIT_SLO_MS / 1000,
    tolerance: env.AUTOSCALER_TOLERANCE,
    upWindowMs: env.AUTOSCALER_UP_WINDOW_MS,
    downWindowMs: env.AUTOSCALER_DOWN_WINDOW_MS,
    maxStepUp: env.AUTOSCALER_MAX_STEP_UP,
    maxStepDown: env.AUTOSCALER_MAX_STEP_DOWN,
    idleMs: env.AUTOSCALER_IDLE_MS,
  };
}

/** The pools the autoscaler manages: AUTOSCALER_POOLS ("all": every pool but the tenant pool), each one a known queue. */
export function managedPools(requested: readonly string[], known: readonly string[], tenantPool: string): string[] {
  const unknown = requested.filter((p) => p !== 'all' && !known.includes(p));
  if (unknown.length) throw new Error(`AUTOSCALER_POOLS names unknown pool(s): ${unknown.join(', ')} (known: all, ${known.join(', ')})`);
  const out = new Set<string>();
  for (const p of requested) {
    if (p !== 'all') out.add(p);
    else for (const k of known.filter((k) => k !== tenantPool)) out.add(k);
  }
  return [...out];
}

/**
 * The control loop: every AUTOSCALER_INTERVAL_MS it reads each managed pool's signals
 * (Prometheus or its own scrape), asks the policy (`decide`, pure) for the desired workers and
 * applies it through the actuator (local processes, Kubernetes, or none); exports
 * `stratum_autoscaler_desired_workers`, `stratum_autoscaler_current_workers` and
 * `stratum_autoscaler_decisions_total{action,reason}`, and logs every change with its reason.
 */
@Injectable()
export class ScalerService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Autoscaler');
  private readonly desired: Gauge<'pool'>;
  private readonly current: Gauge<'pool'>;
  private readonly decisions: Counter<'pool' | 'action' | 'reason'>;
  /** The queues the depth gauge exports (every pool), and the ones scaled. */
  private allPools: string[] = [];
  private pools: string[] = [];
  readonly policy: ScalingPolicy;
  readonly actuator: Actuator;
  readonly signals: SignalSource;
  private readonly states = new Map<string, ScalingState>();
  /** The last decision logged per pool (current → desired, reason): a repeated one is not logged again. */
  private readonly lastLogged = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastTickOk: boolean | undefined;
  private lastError = '';

  constructor(
    private readonly config: AppConfig,
    private readonly queues: InferenceQueues,
    metrics: MetricsRegistry,
    readiness: Readiness,
  ) {
    const env = config.env;
    this.policy = policyOf(env);
    const registers = [metrics.registry];
    this.desired = new Gauge({ name: 'stratum_autoscaler_desired_workers', help: 'Workers the autoscaler wants per model pool', labelNames: ['pool'], registers });
    this.current = new Gauge({ name: 'stratum_autoscaler_current_workers', help: 'Workers a model pool has, as the actuator counts them', labelNames: ['pool'], registers });
    this.decisions = new Counter({ name: 'stratum_autoscaler_decisions_total', help: 'Scaling decisions by action (up, down, hold) and reason', labelNames: ['pool', 'action', 'reason'], registers });
    registerQueueDepthGauge(metrics, queues, () => this.allPools);
    if (env.AUTOSCALER_ACTUATOR === 'local') {
      this.actuator = new LocalActuator({
        env: inheritedEnv(),
        host: env.WORKER_HOST,
        adminHost: env.ADMIN_HOST,
        tenantPool: TENANT_POOL,
        stopTimeoutMs: env.WORKER_DRAIN_TIMEOUT_MS + 8_000,
      });
    } else if (env.AUTOSCALER_ACTUATOR === 'kubernetes') {
      this.actuator = new KubernetesActuator({ kubeconfig: env.AUTOSCALER_KUBECONFIG, namespace: env.AUTOSCALER_K8S_NAMESPACE, deploymentTemplate: env.AUTOSCALER_K8S_DEPLOYMENT });
    } else {
      this.actuator = new NoActuator();
    }
    const actuator = this.actuator;
    this.signals = env.PROMETHEUS_URL
      ? new PrometheusSignals(env.PROMETHEUS_URL, Math.max(30, (4 * env.AUTOSCALER_INTERVAL_MS) / 1000))
      : new ScrapeSignals(queues, () => [...env.AUTOSCALER_SCRAPE_TARGETS, ...(actuator instanceof LocalActuator ? actuator.metricsTargets() : [])]);
    readiness.register('control-loop', async () => {
      if (this.lastTickOk === false) throw new Error(this.lastError);
    });
    // Local actuator: ready once every pool has its minimum of warm workers (npm start's banner waits for it).
    if (actuator instanceof LocalActuator && this.policy.minWorkers > 0) {
      readiness.register('workers', async () => {
        const short = this.pools.filter((p) => actuator.ready(p) < this.policy.minWorkers);
        if (short.length) throw new Error(`pool(s) ${short.join(', ')} below ${this.policy.minWorkers} ready worker(s)`);
      });
    }
  }

  get healthy(): boolean {
    return this.lastTickOk !== false;
  }

  onModuleInit(): void {
    this.allPools = this.queues.pools();
    this.pools = managedPools(this.config.env.AUTOSCALER_POOLS, this.allPools, TENANT_POOL);
    this.logger.log(
      `managing pool(s) ${this.pools.join(', ')} every ${this.config.env.AUTOSCALER_INTERVAL_MS} ms: signals from ${this.signals.kind === 'prometheus' ? `Prometheus (${this.config.env.PROMETHEUS_URL})` : 'its own scrape'}, actuator ${this.actuator.kind}`,
    );
    const loop = async (): Promise<void> => {
      if (this.stopped) return;
      this.running = this.tick();
      await this.running;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.config.env.AUTOSCALER_INTERVAL_MS);
    };
    void loop();
  }

  async tick(now = Date.now()): Promise<void> {
    try {
      const readings = await this.signals.read(this.pools);
      for (const pool of this.pools) {
        const reading = readings.get(pool)!;
        if (this.actuator instanceof NoActuator) this.actuator.observe(pool, reading.readyWorkers);
        const current = await this.actuator.current(pool);
        const d = decide({ now, current, signals: reading.signals, state: this.states.get(pool) ?? initialScalingState() }, this.policy);
        this.states.set(pool, d.state);
        this.desired.set({ pool }, d.desired);
        this.current.set({ pool }, current);
        this.decisions.inc({ pool, action: d.action, reason: d.reason });
        const logKey = `${current}>${d.desired}:${d.reason}`;
        if (this.lastLogged.get(pool) !== logKey) {
          const s = reading.signals;
          const fmt = (v: number | null, digits = 2): string => (v === null ? '?' : v.toFixed(digits));
          this.logger.log(
            `pool ${pool}: ${d.action} ${current} → ${d.desired} (${d.reason}; backlog ${s.backlog}, active ${s.active}, arrivals ${fmt(s.arrivalRate)}/s, wait p90 ${fmt(s.waitSeconds, 3)} s, service ${fmt(s.serviceSeconds, 3)} s, ready ${fmt(reading.readyWorkers, 0)}, busy ${fmt(reading.busyWorkers, 0)})`,
          );
          this.lastLogged.set(pool, logKey);
        }
        if (d.desired !== current && !this.stopped) await this.actuator.apply(pool, d.desired);
      }
      this.lastTickOk = true;
    } catch (e) {
      this.lastTickOk = false;
      this.lastError = e instanceof Error ? e.message : String(e);
      this.logger.warn(`cannot read or act: ${this.lastError}`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.actuator.close();
  }
}
