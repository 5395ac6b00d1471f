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
  /** Latency from the intended send time at each objective's percentile (and p50), ms; key `p99`, `p99.9`, `p50`. */
  readonly latencyMs: Readonly<Record<string, number>>;
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
  if (m.ops === 0) return { met: false, why: 'no op completed' };
  const share = m.errors / m.ops;
  if (share > plan.maxErrorShare) return { met: false, why: `${m.errors} of ${m.ops} ops failed` };
  if (m.achieved < 0.98 * m.offered) return { met: false, why: `${Math.round(m.achieved)} of ${Math.round(m.offered)} ops/s sent` };
  for (const o of plan.objectives) {
    const got = m.latencyMs[percentileKey(o.percentile)];
    if (got === undefined || !(got <= o.maxMs)) return { met: false, why: `p${o.percentile} ${got === undefined ? 'unknown' : got.toFixed(2)} ms > ${o.maxMs} ms` };
  }
  return { met: true, why: null };
}

/** Runs one step at `rate` ops/s; null when the run was interrupted. */
export type StepRunner = (rate: number, phase: StepPhase) => Promise<StepMeasure | null>;

/** The search for one target (see the file's comment). */
export async function searchCapacity(plan: CapacityPlan, runStep: StepRunner): Promise<CapacityOutcome> {
  const steps: CapacityStep[] = [];
  let lo: number | null = null;
  let hi: number | null = null;
  const done = (stop: CapacityStop, knee: number | null = null, interval: readonly [number, number] | null = null): CapacityOutcome =>
    ({ steps, knee, interval, lowerBound: stop === 'client-bound' ? lo : null, stop });
  /** One step; 'stop' when interrupted or client-bound. */
  const step = async (rate: number, phase: StepPhase): Promise<boolean | CapacityStop> => {
    if (steps.length >= plan.maxSteps) return 'max-steps';
    const m = await runStep(rate, phase);
    if (m === null) return 'aborted';
    const verdict = judgeStep(plan, m);
    steps.push({ ...m, phase, ...verdict });
    if (m.clientBound) return 'client-bound';
    return verdict.met;
  };

  // Staircase: up while met, down while not, until one rate met and one did not.
  let rate = plan.startRate;
  while (lo === null || hi === null) {
    const r = await step(rate, 'staircase');
    if (typeof r === 'string') return done(r);
    if (r) {
      lo = rate;
      if (hi === null) rate = Math.round(rate * plan.growth);
    } else {
      hi = rate;
      if (lo === null) {
        rate = Math.floor(rate / plan.growth);
        if (rate < 1) return done('never-met');
      }
    }
  }
  // Bisection (geometric: the rates span orders of magnitude).
  while (hi / lo - 1 > plan.precision) {
    const mid = Math.round(Math.sqrt(lo * hi));
    if (mid <= lo || mid >= hi) break;
    const r = await step(mid, 'search');
    if (typeof r === 'string') return r === 'max-steps' ? kneeOf(lo, hi, 'max-steps') : done(r);
    if (r) lo = mid;
    else hi = mid;
  }
  // Repeats at the highest rate met: a knee must meet the objective every time.
  for (let i = 0; i < plan.repeats; i++) {
    const r = await step(lo, 'repeat');
    if (typeof r === 'string') return r === 'max-steps' ? kneeOf(lo, hi, 'max-steps') : done(r);
    if (!r) {
      // Not reproducible: the knee is the highest rate below that met every time it was tried.
      const below = steps.filter((s) => s.offered < lo!).map((s) => s.offered)
        .filter((x) => steps.every((s) => s.offered !== x || s.met)).sort((a, b) => b - a)[0];
      return below === undefined ? done('never-met') : kneeOf(below, lo, 'found');
    }
  }
  return kneeOf(lo, hi, 'found');

  function kneeOf(knee: number, failed: number, stop: CapacityStop): CapacityOutcome {
    return { steps, knee, interval: [knee, failed], lowerBound: null, stop };
  }
}

/** A step's measure from a throughput record: achieved rate, ops, failures, latency percentiles from the intended send time. */
export function measureOf(record: LoadRecord, offered: number, percentiles: readonly number[]): StepMeasure {
  const all = new OpHistogram();
  for (const text of [record.histograms.setIntended, record.histograms.getIntended]) {
    if (text !== null) all.add(OpHistogram.decode(text));
  }
  const ops = record.sets + record.gets;
  const errors = record.setErrors + record.getErrors;
  const seconds = record.durationMs / 1000;
  const latencyMs: Record<string, number> = {};
  for (const p of [50, ...percentiles]) latencyMs[percentileKey(p)] = all.count === 0 ? NaN : all.valueAt(p) / 1e6;
  return { offered, achieved: seconds > 0 ? (record.sent ?? ops) / seconds : 0, ops, errors, latencyMs, clientBound: clientBound(record) };
}

/** Whether any worker's event loop, or the workers' CPUs together, reached CLIENT_BOUND_BUSY (as the report judges a row). */
export function clientBound(record: LoadRecord): boolean {
  const meters = record.workers.flatMap((w) => (w.client != null ? [w.client] : []));
  if (meters.some((m) => m.busy >= CLIENT_BOUND_BUSY)) return true;
  const cores = Math.max(0, ...meters.map((m) => m.cores ?? 0));
  const cpu = meters.reduce((n, m) => n + (m.cpuPerSecond ?? 0), 0);
  return cores > 0 && cpu / cores >= CLIENT_BOUND_BUSY;
}
