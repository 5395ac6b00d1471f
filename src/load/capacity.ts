/**
 * The capacity search (MODE=capacity): per target, open-loop steps of rising offered rate, each judged against the
 * objective (latency percentiles from each op's intended send time, so coordinated omission cannot flatter a step, and
 * the share of failed ops). A staircase (×CAPACITY_GROWTH per step) finds a rate that meets the objective and one that
 * does not; bisection narrows them to within CAPACITY_PRECISION; CAPACITY_REPEATS steps at the highest rate that met
 * it check that it meets it again. The knee is the highest rate that met the objective every time it was tried; its
 * interval runs from there to the lowest rate that failed.
 *
 * A step whose load generator was saturated (client-bound) ends the search: what failed there may be cachebench, not
 * the servers, so the target gets a lower bound (the highest rate met before), never a knee.
 */
import type { CapacityPlan } from '../config/resolve.js';
import { CLIENT_BOUND_BUSY, type LoadRecord } from './record.js';
import { OpHistogram } from '../measure/histogram.js';

/** What one step measured. */
export interface StepMeasure {
  readonly offered: number;
  readonly achieved: number;
  readonly ops: number;
  readonly errors: number;
  /**
   * Latency from the intended send time at each objective's percentile (and p50), ms; key `p99`, `p99.9`, `p50`. A
   * failed op ranks as the slowest (Infinity when failures reach the percentile).
   */
  readonly latencyMs: Readonly<Record<string, number>>;
  /** The step could not be measured (its workers failed: the server died, a preload failed): why, bounded. */
  readonly error?: string;
  /** Ops/s completed (ok or failed) in the measured seconds before the last (the last also holds ops that completed after the step); absent: all. */
  readonly completed?: number;
  readonly clientBound: boolean;
}

export type StepPhase = 'staircase' | 'search' | 'repeat';

export interface CapacityStep extends StepMeasure {
  readonly phase: StepPhase;
  readonly met: boolean;
  /** Why the objective was not met (null when met). */
  readonly why: string | null;
}

export type CapacityStop = 'found' | 'client-bound' | 'max-steps' | 'never-met' | 'aborted';

export interface CapacityOutcome {
  readonly steps: readonly CapacityStep[];
  /** The highest rate that met the objective every time it was tried; null without one (or when client-bound). */
  readonly knee: number | null;
  /** [knee, lowest rate that failed]; null without a knee. */
  readonly interval: readonly [number, number] | null;
  /** Client-bound: the highest rate met before the generator saturated (the servers' knee is at least this); else null. */
  readonly lowerBound: number | null;
  readonly stop: CapacityStop;
}

/** `p99`, `p99.9`: the key of a percentile in StepMeasure.latencyMs. */
export const percentileKey = (p: number): string => `p${p}`;

/** Whether a step met the objective, and why not. */
export function judgeStep(plan: CapacityPlan, m: StepMeasure): { met: boolean; why: string | null } {
  if (m.error !== undefined) return { met: false, why: `errored: ${m.error.slice(0, 200)}` };
  if (m.ops === 0) return { met: false, why: 'no op completed' };
  const share = m.errors / m.ops;
  if (share > plan.maxErrorShare) return { met: false, why: `${m.errors} of ${m.ops} ops failed` };
  if (m.achieved < SUSTAINED * m.offered) return { met: false, why: `${Math.round(m.achieved)} of ${Math.round(m.offered)} ops/s sent` };
  // A rate above what the servers complete is not a capacity, however short the step that the backlog grew in.
  if (m.completed !== undefined && m.completed < SUSTAINED * m.offered) {
    return { met: false, why: `the servers completed ${Math.round(m.completed)} of ${Math.round(m.offered)} ops/s` };
  }
  for (const o of plan.objectives) {
    const got = m.latencyMs[percentileKey(o.percentile)];
    if (got === undefined || !(got <= o.maxMs)) {
      const value = got === undefined || Number.isNaN(got) ? 'unknown' : got === Infinity ? 'a failed op' : `${got.toFixed(2)} ms`;
      return { met: false, why: `p${o.percentile} ${value} > ${o.maxMs} ms` };
    }
  }
  return { met: true, why: null };
}

/** The share of the offered rate a step must send, and the servers complete, to count as carried. */
export const SUSTAINED = 0.98;

/** Runs one step at `rate` ops/s; null when the run was interrupted. */
export type StepRunner = (rate: number, phase: StepPhase) => Promise<StepMeasure | null>;

/** The search for one target (see the file's comment). */
export async function searchCapacity(plan: CapacityPlan, runStep: StepRunner): Promise<CapacityOutcome> {
  const steps: CapacityStep[] = [];
  /** The highest rate met (every time it was tried), and the lowest that failed. */
  let lo: number | null = null;
  let hi: number | null = null;
  /** Client-bound: the highest rate met, a client-bound step's own included. */
  let bound: number | null = null;
  const done = (stop: CapacityStop): CapacityOutcome => ({ steps, knee: null, interval: null, lowerBound: stop === 'client-bound' || stop === 'max-steps' ? bound ?? lo : null, stop });
  const kneeOf = (knee: number, failed: number, stop: CapacityStop): CapacityOutcome => ({ steps, knee, interval: [knee, failed], lowerBound: null, stop });
  /** Rates that met the objective every time they were tried. */
  const alwaysMet = (rate: number): boolean => steps.every((s) => s.offered !== rate || s.met);
  /** One step: met or not; a string when the search must stop (interrupted, client-bound past the first rate met, out of steps). */
  const step = async (rate: number, phase: StepPhase): Promise<boolean | CapacityStop> => {
    if (steps.length >= plan.maxSteps) return 'max-steps';
    const m = await runStep(rate, phase);
    if (m === null) return 'aborted';
    const verdict = judgeStep(plan, m);
    steps.push({ ...m, phase, ...verdict });
    if (m.clientBound) {
      if (verdict.met) bound = Math.max(bound ?? 0, rate, lo ?? 0);
      // Before any rate was met, a rate the generator cannot carry is stepped down from, like one that failed.
      if (lo !== null || verdict.met) return 'client-bound';
      return false;
    }
    return verdict.met;
  };

  // Staircase: up while met, down while not, until one rate met and one did not.
  let rate = plan.startRate;
  while (lo === null || hi === null) {
    const r = await step(rate, 'staircase');
    if (typeof r === 'string') return done(r);
    if (r) {
      lo = rate;
      if (hi === null) rate = Math.max(rate + 1, Math.round(rate * plan.growth));
    } else {
      hi = rate;
      if (lo === null) {
        rate = Math.min(rate - 1, Math.floor(rate / plan.growth));
        if (rate < 1) return done('never-met');
      }
    }
  }
  let low: number = lo;
  let high: number = hi;
  for (;;) {
    // Bisection (geometric: the rates span orders of magnitude).
    while (high / low - 1 > plan.precision) {
      const mid = Math.round(Math.sqrt(low * high));
      if (mid <= low || mid >= high) break;
      const r = await step(mid, 'search');
      if (typeof r === 'string') return r === 'max-steps' ? kneeOf(low, high, 'max-steps') : done(r);
      if (r) lo = low = mid;
      else high = mid;
    }
    // Repeats at the highest rate met: a knee must meet the objective every time.
    let failed = false;
    for (let i = 0; i < plan.repeats && !failed; i++) {
      const r = await step(low, 'repeat');
      if (typeof r === 'string') return r === 'max-steps' ? kneeOf(low, high, 'max-steps') : done(r);
      failed = !r;
    }
    if (!failed) return kneeOf(low, high, 'found');
    // Not reproducible: it becomes the lowest rate that failed, and the search goes on below it, from the highest
    // rate that never failed (or a step down the staircase), bisecting and repeating again.
    high = low;
    const top = high;
    const below = steps.filter((s) => s.offered < top && alwaysMet(s.offered)).map((s) => s.offered).sort((a, b) => b - a)[0];
    if (below !== undefined) {
      lo = low = below;
      continue;
    }
    let down = Math.min(high - 1, Math.floor(high / plan.growth));
    for (;;) {
      if (down < 1) return done('never-met');
      const r = await step(down, 'staircase');
      if (typeof r === 'string') return done(r);
      if (r) break;
      high = down;
      down = Math.min(down - 1, Math.floor(down / plan.growth));
    }
    lo = low = down;
  }
}

/** The intended-time (or service-time) histogram of every op of a record. */
function histogramOf(record: LoadRecord, view: 'intended' | 'service'): OpHistogram {
  const all = new OpHistogram();
  const h = record.histograms;
  for (const text of view === 'intended' ? [h.setIntended, h.getIntended] : [h.set, h.get]) {
    if (text !== null) all.add(OpHistogram.decode(text));
  }
  return all;
}

/** The p-th percentile (ms) of `ok` ops' latencies with `failed` more ranked slowest: Infinity when failures reach it. */
function withFailures(h: OpHistogram, p: number, failed: number): number {
  const total = h.count + failed;
  if (total === 0 || h.count === 0) return NaN;
  const rank = (p / 100) * total;
  return rank > h.count ? Infinity : h.valueAt(Math.min(100, (100 * rank) / h.count)) / 1e6;
}

/**
 * A step's measure from a throughput record: offered, sent and completed rates, ops, failures, latency percentiles
 * from the intended send time. Also client-bound when the generator could not send the rate although the servers
 * answered within the objective (service time): every virtual client was busy, so CLIENTS × WORKERS (or CONNECTIONS ×
 * PIPELINE) was the limit, not the servers.
 */
export function measureOf(record: LoadRecord, offered: number, plan: CapacityPlan): StepMeasure {
  const ops = record.sets + record.gets;
  const errors = record.setErrors + record.getErrors;
  const seconds = record.durationMs / 1000;
  const intended = histogramOf(record, 'intended');
  const latencyMs: Record<string, number> = {};
  for (const p of [50, ...plan.objectives.map((o) => o.percentile)]) latencyMs[percentileKey(p)] = withFailures(intended, p, errors);
  const achieved = seconds > 0 ? (record.sent ?? ops) / seconds : 0;
  const early = record.series.slice(0, -1);
  const completed = early.length > 0 ? early.reduce((n, s) => n + s.ops + s.errors, 0) / early.length : undefined;
  const service = histogramOf(record, 'service');
  const serversFast = plan.objectives.every((o) => withFailures(service, o.percentile, errors) <= o.maxMs);
  const starved = achieved < SUSTAINED * offered && serversFast;
  return { offered, achieved, ops, errors, latencyMs, ...(completed !== undefined ? { completed } : {}), clientBound: clientBound(record) || starved };
}

/** Whether any worker's event loop, or the workers' CPUs together, reached CLIENT_BOUND_BUSY (as the report judges a row). */
export function clientBound(record: LoadRecord): boolean {
  const meters = record.workers.flatMap((w) => (w.client != null ? [w.client] : []));
  if (meters.some((m) => m.busy >= CLIENT_BOUND_BUSY)) return true;
  const cores = Math.max(0, ...meters.map((m) => m.cores ?? 0));
  const cpu = meters.reduce((n, m) => n + (m.cpuPerSecond ?? 0), 0);
  return cores > 0 && cpu / cores >= CLIENT_BOUND_BUSY;
}
