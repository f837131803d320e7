// `npm run bench:autoscale`: a bursty arrival trace replayed through three ways of sizing the
// ocr pool, with a model of worker start-up and service time MEASURED in this run on the shipped
// models (not assumed):
//   start-up  = loading and warming every model of the ocr pool (ppocr-det, -cls, -rec; what a
//               worker does before it takes a job), plus --boot-s of process and Nest boot;
//   service   = the mean wall time of one ocr-line prediction (runPipeline on examples/hello.png).
// Policies:
//   stratum   decide() of #infra/scaling every 5 s (the shipped defaults but minWorkers 0),
//             signals as the autoscaler computes them (backlog, active, arrival rate over the
//             last interval, p90 wait of the jobs started in it, mean service time);
//   keda      KEDA's defaults with its Redis list scaler: polled every 30 s, listLength 5,
//             counts the waiting jobs only (not running ones), HPA tolerance 0.1, 300 s
//             scale-down stabilisation, 300 s cooldown before zero (generous: on Stratum's
//             queues the literal `wait` list is empty, the jobs are in `prioritized`);
//   static    a fixed pool sized for the peak: ceil(peak rate × service / 0.8).
// Trace (rates relative to the steady rate, which keeps one worker 60 % busy): steady 120 s,
// a 10× spike for 60 s, steady 120 s, quiet (0.1×) 120 s, zero 300 s. Poisson arrivals, seeded.
// Prints SLO attainment (share of jobs whose queue wait is within the SLO), p99 wait and
// worker-seconds for each, and the ratios to the static pool. Workers serve one job at a time
// (batching ignored: conservative for every policy alike).
//
// Flags: --slo-s N (2) --boot-s N (1) --startup-s N (override the measured start-up)
//        --service-ms N (override the measured service time) --samples N (30) --seed N (7) --json
//        --warmup-s N (120: steady traffic before the trace, not scored, so every policy starts
//        the trace in its own steady state, as the static pool does) --target-utilization U
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { readDevelopmentEnv } from '#infra/config';
import { repoRoot } from '#infra/db';
import { OCR_LINE_V1 } from '#feature-engine/feature-catalogue';
import { runPipeline } from '#feature-engine/features';
import { SHIPPED_MODELS } from '#model-service/model-format';
import { OnnxModelHost } from '#model-service/runtime';
import { decide, DEFAULT_SCALING_POLICY, initialScalingState, type ScalingPolicy, type ScalingState } from '#infra/scaling';
import { rng } from './support/measure.js';

// ---- measurement --------------------------------------------------------------------

async function measure(samples: number): Promise<{ startupLoadS: number; serviceS: number; perModel: string[] }> {
  const env = readDevelopmentEnv();
  const host = new OnnxModelHost();
  const perModel: string[] = [];
  try {
    const t0 = performance.now();
    for (const m of SHIPPED_MODELS.filter((e) => e.pool === 'ocr')) {
      const s = await host.load(m, { executionProviders: env.ORT_EXECUTION_PROVIDERS, intraOpThreads: env.ORT_INTRA_OP_THREADS });
      if (!s.ready) throw new Error(`${m.name} did not load: ${s.error ?? '?'}`);
      perModel.push(`${m.name} load ${(s.loadMs ?? 0).toFixed(0)} ms + warm-up ${(s.warmupMs ?? 0).toFixed(0)} ms`);
    }
    const startupLoadS = (performance.now() - t0) / 1000;
    const image = (await readFile(join(repoRoot(), 'examples', 'hello.png'))).toString('base64');
    for (let i = 0; i < 3; i++) await runPipeline(OCR_LINE_V1, { image }, host);
    const t1 = performance.now();
    for (let i = 0; i < samples; i++) await runPipeline(OCR_LINE_V1, { image }, host);
    return { startupLoadS, serviceS: (performance.now() - t1) / 1000 / samples, perModel };
  } finally {
    await host.close();
  }
}

// ---- the trace ----------------------------------------------------------------------

interface Phase {
  name: string;
  seconds: number;
  /** Multiple of the steady rate. */
  factor: number;
}

export const TRACE: readonly Phase[] = [
  { name: 'steady', seconds: 120, factor: 1 },
  { name: 'spike', seconds: 60, factor: 10 },
  { name: 'steady', seconds: 120, factor: 1 },
  { name: 'quiet', seconds: 120, factor: 0.1 },
  { name: 'zero', seconds: 300, factor: 0 },
];

/** Rate multiple at time t; the spike rises linearly over `rampS` seconds (0: a step). */
export function factorAt(t: number, rampS: number): number {
  let start = 0;
  let previous = 0;
  for (const p of TRACE) {
    if (t < start + p.seconds) return rampS > 0 && p.factor > previous && t - start < rampS ? previous + ((p.factor - previous) * (t - start)) / rampS : p.factor;
    start += p.seconds;
    previous = p.factor;
  }
  return 0;
}

/** Poisson arrivals of rate steadyRate × factorAt(t), by thinning. */
export function arrivals(steadyRate: number, seed: number, rampS: number, warmupS = 0): number[] {
  const rand = rng(seed);
  const out: number[] = [];
  // The unscored warm-up: steady traffic before t = 0 (its own stream, so the trace is unchanged).
  const warm = rng(seed ^ 0x5eed);
  const before: number[] = [];
  for (let t = -Math.log(1 - warm()) / steadyRate; t < warmupS; t -= Math.log(1 - warm()) / steadyRate) before.push(t - warmupS);
  out.push(...before);
  const endS = TRACE.reduce((a, p) => a + p.seconds, 0);
  const top = steadyRate * Math.max(...TRACE.map((p) => p.factor));
  for (let t = -Math.log(1 - rand()) / top; t < endS; t -= Math.log(1 - rand()) / top) if (rand() * top < steadyRate * factorAt(t, rampS)) out.push(t);
  return out;
}

// ---- the simulator ------------------------------------------------------------------

interface SimWorker {
  readyAt: number;
  busyUntil: number;
  /** Leaves when idle (scale-in): it finishes its job first (drain). */
  leaving: boolean;
  startedAt: number;
}

/** What a controller sees each time it runs, and how many workers it wants. */
interface ControllerView {
  now: number;
  current: number;
  waiting: number;
  active: number;
  arrivalsSinceLast: number;
  waitsSinceLast: number[];
  serviceS: number;
  sinceLastS: number;
}

interface Controller {
  intervalS: number;
  decide(v: ControllerView): number;
}

export interface SimResult {
  jobs: number;
  attainment: number;
  p99WaitS: number;
  workerSeconds: number;
  peakWorkers: number;
}

export function simulate(arrivalTimes: readonly number[], ctl: Controller, o: { startupS: number; serviceS: number; sloS: number; initial: number; endS: number; warmupS?: number }): SimResult {
  // Jobs that arrive before t = 0 (the warm-up) and worker time before it are not scored.
  const fromS = -(o.warmupS ?? 0);
  const workers: SimWorker[] = Array.from({ length: o.initial }, () => ({ readyAt: fromS, busyUntil: fromS, leaving: false, startedAt: fromS }));
  // A worker takes at most one job per step: the step must be well under the service time.
  const dt = Math.min(0.01, o.serviceS / 4);
  const queue: number[] = [];
  const waits: number[] = [];
  let next = 0;
  let lastCtl = -Infinity;
  let arrivedSince = 0;
  let waitsSince: number[] = [];
  let workerSeconds = 0;
  let peak = workers.length;
  for (let now = fromS; now < o.endS; now += dt) {
    while (next < arrivalTimes.length && arrivalTimes[next]! <= now) {
      queue.push(arrivalTimes[next]!);
      next++;
      arrivedSince++;
    }
    // Leaving workers go once idle.
    for (let i = workers.length - 1; i >= 0; i--) if (workers[i]!.leaving && workers[i]!.busyUntil <= now) workers.splice(i, 1);
    for (const w of workers) {
      if (w.leaving || w.readyAt > now || w.busyUntil > now || queue.length === 0) continue;
      const arrived = queue.shift()!;
      const wait = now - arrived;
      if (arrived >= 0) waits.push(wait);
      waitsSince.push(wait);
      w.busyUntil = now + o.serviceS;
    }
    if (now - lastCtl >= ctl.intervalS - 1e-9) {
      const live = workers.filter((w) => !w.leaving);
      const want = ctl.decide({
        now: now - fromS, // controllers see time since the simulation began (never negative)
        current: live.length,
        waiting: queue.length,
        active: workers.filter((w) => w.busyUntil > now).length,
        arrivalsSinceLast: arrivedSince,
        waitsSinceLast: waitsSince,
        serviceS: o.serviceS,
        sinceLastS: Number.isFinite(lastCtl) ? now - lastCtl : ctl.intervalS,
      });
      if (want > live.length) for (let i = live.length; i < want; i++) workers.push({ readyAt: now + o.startupS, busyUntil: now, leaving: false, startedAt: now });
      if (want < live.length) {
        // Idle first: still starting, then idle ready ones, then busy ones (newest first).
        const order = [...live].sort((a, b) => rank(a, now) - rank(b, now) || b.startedAt - a.startedAt);
        for (const w of order.slice(0, live.length - want)) w.leaving = true;
      }
      arrivedSince = 0;
      waitsSince = [];
      lastCtl = now;
    }
    if (now >= 0) {
      workerSeconds += workers.length * dt;
      peak = Math.max(peak, workers.length);
    }
  }
  const scoredJobs = arrivalTimes.filter((t) => t >= 0).length;
  const sorted = [...waits].sort((a, b) => a - b);
  const unserved = scoredJobs - waits.length;
  return {
    jobs: scoredJobs,
    attainment: waits.filter((w) => w <= o.sloS).length / scoredJobs,
    p99WaitS: unserved > scoredJobs * 0.01 ? Infinity : (sorted[Math.floor(sorted.length * 0.99)] ?? 0),
    workerSeconds,
    peakWorkers: peak,
  };
}

function rank(w: SimWorker, now: number): number {
  return w.readyAt > now ? 0 : w.busyUntil <= now ? 1 : 2;
}

function quantile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

export function stratumController(policy: ScalingPolicy, intervalS = 5): Controller {
  let state: ScalingState = initialScalingState();
  return {
    intervalS,
    decide: (v) => {
      const d = decide(
        {
          now: v.now * 1000,
          current: v.current,
          signals: { backlog: v.waiting, active: v.active, arrivalRate: v.arrivalsSinceLast / v.sinceLastS, waitSeconds: quantile(v.waitsSinceLast, 0.9), serviceSeconds: v.serviceS },
          state,
        },
        policy,
      );
      state = d.state;
      return d.desired;
    },
  };
}

/** KEDA (Redis list scaler, defaults) driving the HPA: waiting jobs only, target 5 per replica. */
export function kedaController(maxReplicas: number): Controller {
  const history: Array<{ at: number; n: number }> = [];
  let lastActive = -Infinity;
  return {
    intervalS: 30,
    decide: (v) => {
      const listLength = v.waiting;
      if (listLength > 0) lastActive = v.now;
      // Activation: 0 ↔ 1 is KEDA's; past it the HPA scales on the metric.
      if (v.current === 0) return listLength > 0 ? 1 : 0;
      if (listLength === 0 && v.now - lastActive >= 300) return 0;
      let want = Math.ceil(listLength / 5);
      if (Math.abs(want / v.current - 1) <= 0.1) want = v.current;
      want = Math.min(maxReplicas, Math.max(1, want));
      history.push({ at: v.now, n: want });
      while (history.length && v.now - history[0]!.at > 300) history.shift();
      // HPA: scale-down takes the highest recommendation of the last 300 s; scale-up at most double (or +4).
      if (want < v.current) return Math.max(want, ...history.map((h) => h.n).filter((n) => n < v.current), want);
      return Math.min(want, Math.max(2 * v.current, v.current + 4));
    },
  };
}

export function staticController(n: number): Controller {
  return { intervalS: Infinity, decide: () => n };
}

// ---- main ---------------------------------------------------------------------------

/** AUTOSCALER_INTERVAL_MS's default. */
const DEFAULT_INTERVAL_S = 5;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'slo-s': { type: 'string' },
      'boot-s': { type: 'string' },
      'startup-s': { type: 'string' },
      'service-ms': { type: 'string' },
      samples: { type: 'string' },
      seed: { type: 'string' },
      'ramp-s': { type: 'string' },
      'interval-s': { type: 'string' },
      'max-step-up': { type: 'string' },
      'target-utilization': { type: 'string' },
      'warmup-s': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const sloS = Number(values['slo-s'] ?? 2);
  const bootS = Number(values['boot-s'] ?? 1);
  const seed = Number(values.seed ?? 7);
  const m = values['startup-s'] && values['service-ms'] ? null : await measure(Number(values.samples ?? 30));
  const startupS = values['startup-s'] ? Number(values['startup-s']) : m!.startupLoadS + bootS;
  const serviceS = values['service-ms'] ? Number(values['service-ms']) / 1000 : m!.serviceS;
  const steadyRate = 0.6 / serviceS;
  const peakWorkers = Math.ceil((10 * steadyRate * serviceS) / 0.8);
  const maxWorkers = peakWorkers + 2;
  const rampS = Number(values['ramp-s'] ?? 0);
  const intervalS = Number(values['interval-s'] ?? DEFAULT_INTERVAL_S);
  const warmupS = Number(values['warmup-s'] ?? 120);
  const times = arrivals(steadyRate, seed, rampS, warmupS);
  const endS = TRACE.reduce((a, p) => a + p.seconds, 0);
  const policy: ScalingPolicy = { ...DEFAULT_SCALING_POLICY, minWorkers: 0, maxWorkers, slotsPerWorker: 1, waitSloSeconds: sloS, ...(values['max-step-up'] ? { maxStepUp: Number(values['max-step-up']) } : {}), ...(values['target-utilization'] ? { targetUtilization: Number(values['target-utilization']) } : {}) };
  const common = { startupS, serviceS, sloS, endS, warmupS };
  const results = {
    stratum: simulate(times, stratumController(policy, intervalS), { ...common, initial: 0 }),
    keda: simulate(times, kedaController(maxWorkers), { ...common, initial: 0 }),
    static: simulate(times, staticController(peakWorkers), { ...common, initial: peakWorkers }),
  };
  const out = {
    measured: { startupS: +startupS.toFixed(2), serviceMs: +(serviceS * 1000).toFixed(1), models: m?.perModel ?? ['(given on the command line)'], bootS },
    trace: { rampS, intervalS, steadyRate: +steadyRate.toFixed(2), spikeRate: +(10 * steadyRate).toFixed(2), jobs: times.filter((t) => t >= 0).length, warmupS, phases: TRACE.map((p) => `${p.name} ${p.seconds} s × ${p.factor}`) },
    sloS,
    staticWorkers: peakWorkers,
    maxWorkers,
    results,
    ratios: {
      stratumAttainmentMinusStatic: +(results.stratum.attainment - results.static.attainment).toFixed(4),
      stratumWorkerSecondsOverStatic: +(results.stratum.workerSeconds / results.static.workerSeconds).toFixed(3),
      kedaWorkerSecondsOverStatic: +(results.keda.workerSeconds / results.static.workerSeconds).toFixed(3),
    },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const lines = [
    `measured: worker start-up ${startupS.toFixed(2)} s (${m ? m.perModel.join('; ') + `; + ${bootS} s boot` : 'given'}), ocr-line service ${(serviceS * 1000).toFixed(1)} ms`,
    `trace: steady ${steadyRate.toFixed(2)} jobs/s (one worker 60 % busy), spike ${(10 * steadyRate).toFixed(2)} jobs/s (${rampS > 0 ? `rising over ${rampS} s` : 'a step'}); stratum every ${intervalS} s, max step up ${policy.maxStepUp}, target utilization ${policy.targetUtilization}; after ${warmupS} s of unscored steady warm-up: ${TRACE.map((p) => `${p.name} ${p.seconds} s`).join(', ')}; ${times.filter((t) => t >= 0).length} jobs; SLO: queue wait ≤ ${sloS} s`,
    '',
    'policy    SLO attained   p99 wait s   worker-seconds   peak workers',
    ...(['stratum', 'keda', 'static'] as const).map((k) => {
      const r = results[k];
      return `${k.padEnd(10)}${(r.attainment * 100).toFixed(2).padStart(11)} %${(Number.isFinite(r.p99WaitS) ? r.p99WaitS.toFixed(2) : 'unserved').padStart(13)}${r.workerSeconds.toFixed(0).padStart(17)}${String(r.peakWorkers).padStart(15)}`;
    }),
    '',
    `stratum vs static: attainment ${(out.ratios.stratumAttainmentMinusStatic * 100).toFixed(2)} points, worker-seconds ratio ${out.ratios.stratumWorkerSecondsOverStatic} (target ≥ 0 points at ≤ 0.5)`,
    `stratum vs keda: attainment ${((results.stratum.attainment - results.keda.attainment) * 100).toFixed(2)} points (target > 0)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
