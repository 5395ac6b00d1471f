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
import { saturationOf, type LoadRecord } from './record.js';
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
  /** The step's own record (what `cachebench merge` adds up across shards); absent in results written before 2026-12-07. */
  readonly record?: LoadRecord;
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

/** Ops a step must have beyond an objective's percentile for that percentile to be more than one of its slowest few. */
export const MIN_OPS_BEYOND = 10;

/**
 * The objective percentiles a step had too few ops for (thin): fewer than MIN_OPS_BEYOND of its ops lie beyond them,
 * so each is one of the step's few slowest ops (p99 needs 1,000 ops, p99.9 10,000). The step is still judged by them.
 */
export function thinPercentiles(plan: Pick<CapacityPlan, 'objectives'>, step: Pick<StepMeasure, 'ops'>): number[] {
  return plan.objectives.filter((o) => step.ops * (1 - o.percentile / 100) < MIN_OPS_BEYOND - 1e-9).map((o) => o.percentile);
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

/** A step without its record (a merged document keeps the inputs' steps without theirs). */
export function withoutRecord<T extends StepMeasure>(step: T): T {
  const copy: { -readonly [K in keyof T]: T[K] } = { ...step };
  delete copy.record;
  return copy;
}

/** The share of the offered rate a step must send, and the servers complete, to count as carried. */
export const SUSTAINED = 0.98;

/** Runs one step at `rate` ops/s; null when the run was interrupted. */
export type StepRunner = (rate: number, phase: StepPhase) => Promise<StepMeasure | null>;

/** One judged step of a search: met or not; a CapacityStop when the search must stop. */
type Stepper = (rate: number, phase: StepPhase) => Promise<boolean | CapacityStop>;

/** The search's state: the steps so far, the highest rate met and the lowest that failed, the client-bound bound. */
class Search {
  readonly steps: CapacityStep[] = [];
  lo: number | null = null;
  hi: number | null = null;
  /** Client-bound: the highest rate met, a client-bound step's own included. */
  bound: number | null = null;

  constructor(private readonly plan: CapacityPlan, private readonly runStep: StepRunner) {}

  /** One step: met or not; a string when the search must stop (interrupted, client-bound past the first rate met, out of steps). */
  readonly step: Stepper = async (rate, phase) => {
    if (this.steps.length >= this.plan.maxSteps) return 'max-steps';
    const m = await this.runStep(rate, phase);
    if (m === null) return 'aborted';
    const verdict = judgeStep(this.plan, m);
    this.steps.push({ ...m, phase, ...verdict });
    if (m.clientBound) {
      if (verdict.met) this.bound = Math.max(this.bound ?? 0, rate, this.lo ?? 0);
      // Before any rate was met, a rate the generator cannot carry is stepped down from, like one that failed.
      if (this.lo !== null || verdict.met) return 'client-bound';
      return false;
    }
    return verdict.met;
  };

  done(stop: CapacityStop): CapacityOutcome {
    return { steps: this.steps, knee: null, interval: null, lowerBound: stop === 'client-bound' || stop === 'max-steps' ? this.bound ?? this.lo : null, stop };
  }

  knee(knee: number, failed: number, stop: CapacityStop): CapacityOutcome {
    return { steps: this.steps, knee, interval: [knee, failed], lowerBound: null, stop };
  }

  /** Down the staircase from `high` (which failed) to a rate that meets the objective and the lowest that failed above it; or why the search stops. */
  async stepDown(high: number): Promise<{ met: number; failed: number } | CapacityStop> {
    let failed = high;
    let down = Math.min(failed - 1, Math.floor(failed / this.plan.growth));
    for (;;) {
      if (down < 1) return 'never-met';
      const r = await this.step(down, 'staircase');
      if (typeof r === 'string') return r;
      if (r) return { met: down, failed };
      failed = down;
      down = Math.min(down - 1, Math.floor(down / this.plan.growth));
    }
  }
}

/** The search for one target (see the file's comment). */
export async function searchCapacity(plan: CapacityPlan, runStep: StepRunner): Promise<CapacityOutcome> {
  const s = new Search(plan, runStep);
  // Staircase: up while met, down while not, until one rate met and one did not.
  let rate = plan.startRate;
  while (s.lo === null || s.hi === null) {
    const r = await s.step(rate, 'staircase');
    if (typeof r === 'string') return s.done(r);
    if (r) {
      s.lo = rate;
      if (s.hi === null) rate = Math.max(rate + 1, Math.round(rate * plan.growth));
    } else {
      s.hi = rate;
      if (s.lo === null) {
        rate = Math.min(rate - 1, Math.floor(rate / plan.growth));
        if (rate < 1) return s.done('never-met');
      }
    }
  }
  let low: number = s.lo;
  let high: number = s.hi;
  for (;;) {
    // Bisection (geometric: the rates span orders of magnitude).
    while (high / low - 1 > plan.precision) {
      const mid = Math.round(Math.sqrt(low * high));
      if (mid <= low || mid >= high) break;
      const r = await s.step(mid, 'search');
      if (typeof r === 'string') return r === 'max-steps' ? s.knee(low, high, 'max-steps') : s.done(r);
      if (r) s.lo = low = mid;
      else high = mid;
    }
    // Repeats at the highest rate met: a knee must meet the objective every time.
    let failed = false;
    for (let i = 0; i < plan.repeats && !failed; i++) {
      const r = await s.step(low, 'repeat');
      if (typeof r === 'string') return r === 'max-steps' ? s.knee(low, high, 'max-steps') : s.done(r);
      failed = !r;
    }
    if (!failed) return s.knee(low, high, 'found');
    // Not reproducible: it becomes the lowest rate that failed, and the search goes on below it, from the highest
    // rate that never failed (or a step down the staircase), bisecting and repeating again.
    high = low;
    const top = high;
    const alwaysMet = (r: number): boolean => s.steps.every((x) => x.offered !== r || x.met);
    const below = s.steps.filter((x) => x.offered < top && alwaysMet(x.offered)).map((x) => x.offered).sort((a, b) => b - a)[0];
    const next = below !== undefined ? { met: below, failed: high } : await s.stepDown(high);
    if (typeof next === 'string') return s.done(next);
    s.lo = low = next.met;
    high = next.failed;
  }
}

/** The highest offered rate a planned staircase goes to (RATE's own limit). */
export const MAX_PLANNED_RATE = 10_000_000;

/**
 * The rates of a planned staircase (START_AT, --shard): CAPACITY_START_RATE × CAPACITY_GROWTH^k for k below
 * CAPACITY_MAX_STEPS, rounded, each above the last, none above MAX_PLANNED_RATE. Every shard computes the same list.
 */
export function plannedRates(plan: CapacityPlan): number[] {
  const rates: number[] = [];
  let exact = plan.startRate;
  while (rates.length < plan.maxSteps) {
    const rate = Math.max(Math.round(exact), (rates.at(-1) ?? 0) + 1);
    if (rate > MAX_PLANNED_RATE) break;
    rates.push(rate);
    exact *= plan.growth;
  }
  return rates;
}

/**
 * What a planned staircase found, from its judged steps in order of rate: the knee is the highest rate met below the
 * first step that failed, its interval runs to that step's rate (so its precision is CAPACITY_GROWTH). A client-bound
 * step ends it with a lower bound (the highest rate met), as in the search; so does the end of the steps (max-steps);
 * `incomplete`: the steps stop before any failed (interrupted, or a shard stopped early) — a lower bound too.
 */
export function staircaseOutcome(steps: readonly CapacityStep[], incomplete: boolean): CapacityOutcome {
  let met: number | null = null;
  for (const [i, step] of steps.entries()) {
    const seen = (): CapacityStep[] => steps.slice(0, i + 1);
    if (step.clientBound) return { steps: seen(), knee: null, interval: null, lowerBound: step.met ? step.offered : met, stop: 'client-bound' };
    if (!step.met) {
      if (met === null) return { steps: seen(), knee: null, interval: null, lowerBound: null, stop: 'never-met' };
      return { steps: seen(), knee: met, interval: [met, step.offered], lowerBound: null, stop: 'found' };
    }
    met = step.offered;
  }
  return { steps, knee: null, interval: null, lowerBound: met, stop: incomplete ? 'aborted' : 'max-steps' };
}

/**
 * A planned staircase for one process: every rate of plannedRates in turn, at the times START_AT gives every shard
 * alike. The process stops early only where the steps after cannot change the outcome it can see: a client-bound or
 * unmeasurable step, or two steps in a row that failed on its own share (the merged steps end there too: see the
 * README). Its outcome covers every step it ran (staircaseOutcome keeps only those up to the first failure).
 */
export async function runPlannedStaircase(plan: CapacityPlan, runStep: StepRunner): Promise<CapacityOutcome> {
  const steps: CapacityStep[] = [];
  let failedInARow = 0;
  for (const rate of plannedRates(plan)) {
    const m = await runStep(rate, 'staircase');
    if (m === null) return { ...staircaseOutcome(steps, true), steps };
    const verdict = judgeStep(plan, m);
    steps.push({ ...m, phase: 'staircase', ...verdict });
    failedInARow = verdict.met ? 0 : failedInARow + 1;
    if (m.clientBound || m.error !== undefined || failedInARow >= 2) break;
  }
  return { ...staircaseOutcome(steps, false), steps };
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

/** Latency at 50 and each objective's percentile (ms), failures ranked slowest. */
function latenciesOf(intended: OpHistogram, errors: number, plan: CapacityPlan): Record<string, number> {
  const latencyMs: Record<string, number> = {};
  for (const p of [50, ...plan.objectives.map((o) => o.percentile)]) latencyMs[percentileKey(p)] = withFailures(intended, p, errors);
  return latencyMs;
}

/**
 * Starved: the generator could not send the rate although the servers answered within the objective (service time):
 * every virtual client was busy, so CLIENTS × WORKERS (or CONNECTIONS × PIPELINE) was the limit, not the servers.
 */
function starved(achieved: number, offered: number, service: OpHistogram, errors: number, plan: CapacityPlan): boolean {
  return achieved < SUSTAINED * offered && plan.objectives.every((o) => withFailures(service, o.percentile, errors) <= o.maxMs);
}

/**
 * A step's measure from a throughput record: offered, sent and completed rates, ops, failures, latency percentiles
 * from the intended send time; client-bound when the generator saturated or starved.
 */
export function measureOf(record: LoadRecord, offered: number, plan: CapacityPlan): StepMeasure {
  return measured(record, offered, plan).measure;
}

/** measureOf, and the two histograms it decoded (a merge adds them up). */
function measured(record: LoadRecord, offered: number, plan: CapacityPlan): { measure: StepMeasure; intended: OpHistogram; service: OpHistogram } {
  const ops = record.sets + record.gets;
  const errors = record.setErrors + record.getErrors;
  const seconds = record.durationMs / 1000;
  const achieved = seconds > 0 ? (record.sent ?? ops) / seconds : 0;
  const early = record.series.slice(0, -1);
  const completed = early.length > 0 ? early.reduce((n, s) => n + s.ops + s.errors, 0) / early.length : undefined;
  const intended = histogramOf(record, 'intended');
  const service = histogramOf(record, 'service');
  const bound = clientBound(record) || starved(achieved, offered, service, errors, plan);
  const latencyMs = latenciesOf(intended, errors, plan);
  const measure = { offered, achieved, ops, errors, latencyMs, ...(completed !== undefined ? { completed } : {}), clientBound: bound };
  return { measure, intended, service };
}

/** One shard's part of a planned step, as its results file holds it: its share of the rate, its record, or why it has none. */
export interface StepPart {
  readonly offered: number;
  readonly record?: LoadRecord;
  readonly error?: string;
}

/**
 * One step of a planned staircase from the shards' parts of it (`cachebench merge`): each part measured again from its
 * own record (nothing else a file says is trusted), then rates and counts added and percentiles taken from the added
 * histograms (never averaged); client-bound when any shard's generator was (each judged on its own machine) or the
 * shards together starved. `offered`: the planned rate of the step (every shard's share together).
 */
export function mergeStepMeasures(parts: readonly StepPart[], offered: number, plan: CapacityPlan): StepMeasure {
  const intended = new OpHistogram();
  const service = new OpHistogram();
  let achieved = 0;
  let ops = 0;
  let errors = 0;
  let completed: number | undefined = 0;
  let bound = false;
  for (const p of parts) {
    if (p.record === undefined) {
      if (p.error !== undefined) continue; // a shard could not measure it: the step failed
      throw new Error('mergeStepMeasures: a step without its record');
    }
    const { measure: m, intended: i, service: s } = measured(p.record, p.offered, plan);
    intended.add(i);
    service.add(s);
    achieved += m.achieved;
    ops += m.ops;
    errors += m.errors;
    completed = completed === undefined || m.completed === undefined ? undefined : completed + m.completed;
    bound ||= m.clientBound;
  }
  const failed = parts.find((m) => m.error !== undefined)?.error;
  return {
    offered, achieved, ops, errors, latencyMs: latenciesOf(intended, errors, plan),
    ...(completed !== undefined ? { completed } : {}), ...(failed !== undefined ? { error: failed } : {}),
    // A shard that could not measure the step sent nothing: the step failed (as one process's would), not starved.
    clientBound: bound || (failed === undefined && starved(achieved, offered, service, errors, plan)),
  };
}

/** Whether the generator was saturated (record.ts's saturationOf: the one rule the report uses too). */
export function clientBound(record: LoadRecord): boolean {
  return saturationOf(record.workers)?.by != null;
}
