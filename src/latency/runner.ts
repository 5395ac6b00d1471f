import { Bench, hrtimeNowTimestampProvider, type Task, type TimestampProvider } from 'tinybench';
import type { CaseParams, RunControls } from '../config/resolve.js';
import { PILOT_MAX_BYTES, PILOT_MAX_KEYS } from '../config/limits.js';
import { redactSecrets } from '../config/redact.js';
import { summarize, type Summary } from '../stats/index.js';
import { seededRandom } from '../measure/random.js';
import type { CacheClient, CacheCounters, ConnectedTarget } from '../targets/client.js';
import {
  Tally, deleteKeys, prepareIteration, runSeedIteration,
  type IterationOutcome, type IterationPlan, type OpRecorder, type ReadCheck, type StopCheck,
} from '../workload/index.js';
import { CaseSideEffects, type StalenessResult } from './side-effects.js';
import { OpHistogram, type OpStats } from '../measure/histogram.js';
import type { TargetErroredEvent } from '../measure/progress.js';
import { minOf } from '../stats/extent.js';

/** A target is dropped from a case after this many failed iterations in a row. */
export const MAX_CONSECUTIVE_FAILURES = 3;

/** Why a case stopped; `duration`: a fault run, which runs each target for DURATION. */
export const STOP_REASONS = ['converged', 'max-iterations', 'max-time', 'aborted', 'all-errored', 'duration'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/** The outcome of one target in one parameter combination of a latency run (run/results.ts adds the other kinds' parts). */
export interface LatencyTargetResult {
  readonly name: string;
  /** completed: measured until the case stopped; errored: dropped after repeated failures; aborted: Ctrl-C. */
  readonly state: 'completed' | 'errored' | 'aborted';
  readonly error?: string;
  /** Every measured iteration time in ms, in round order, outliers included. */
  readonly samplesMs: readonly number[];
  /** Iteration time of each measured round (index = round − 1); null where the iteration failed or was not run. */
  readonly roundSamplesMs: readonly (number | null)[];
  readonly summary?: Summary;
  readonly ops: { readonly set: OpStats; readonly get: OpStats };
  readonly verification: { readonly reads: number; readonly verified: number; readonly missing: number; readonly mismatched: number };
  readonly iterations: { readonly warmup: number; readonly measured: number; readonly failed: number };
  /** Distinct failure messages with counts. */
  readonly errors: Readonly<Record<string, number>>;
  /** Keys whose deletion failed (they expire by TTL). */
  readonly undeletedKeys: number;
  /** Invocations of the seed loop per iteration of this target, and its own pilot time (see CaseResult). */
  readonly invocations: number;
  readonly pilotMs: number | null;
  /**
   * Stale reads (see overwriter.ts), present when a stale read could be seen: OVERWRITE_RATE > 0 or READ_FROM=replica.
   * Counted over the whole combination, warm-up included, like `verification`; ages in µs.
   */
  readonly staleness?: StalenessResult;
  /** The client cache's counters over this combination (warm-up included); present with CACHE=tracking. */
  readonly cache?: CacheCounters;
}

export interface LatencyCaseResult {
  readonly params: CaseParams;
  /**
   * Invocations of the seed loop per iteration chosen from the fastest target (every target's with INVOCATION_COUNT
   * or INTERLEAVE=key; otherwise each target has its own, in LatencyTargetResult). Samples are per invocation.
   */
  readonly invocations: number;
  /** The pilot stage's measure: the fastest target's single-invocation time in ms (null: INVOCATION_COUNT was given, or no pilot iteration succeeded). */
  readonly pilotMs: number | null;
  readonly rounds: number;
  readonly stopReason: StopReason;
  readonly elapsedMs: number;
  /** Target order of each measured round (shuffled). */
  readonly roundOrders: readonly (readonly string[])[];
  readonly targets: readonly LatencyTargetResult[];
}

/** What a latency run tells while it goes. */
export type LatencyProgressEvent =
  /** A discarded round: `iteration` of WARMUP_ITERATIONS `of`; `pilot`: a round that sizes the invocation count (as many as it takes). */
  | { readonly kind: 'warmup'; readonly params: CaseParams; readonly iteration: number; readonly of: number; readonly pilot?: boolean }
  | {
      readonly kind: 'pilot'; readonly params: CaseParams; readonly pilotMs: number | null; readonly invocations: number;
      /** Invocations per iteration of each target. */
      readonly targets: Readonly<Record<string, number>>;
    }
  | {
      readonly kind: 'round';
      readonly params: CaseParams;
      readonly round: number;
      readonly maxRounds: number;
      readonly elapsedMs: number;
      readonly maxTimeMs: number;
      /** Error / Mean of each running target, NaN while unknown. */
      readonly relativeErrors: Readonly<Record<string, number>>;
    }
  | TargetErroredEvent;

export interface RunCaseOptions {
  /** `cachebench:<runId>:`: every key written starts with it. */
  readonly keyPrefix: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: LatencyProgressEvent) => void;
  /** Uniform [0,1) source for round shuffles; injectable for tests. */
  readonly random?: () => number;
  /**
   * Monotonic clock in ms: times the iterations (through tinybench) and the MAX_TIME budget.
   * Injectable for tests; default: hrtime for iterations, performance.now for the budget.
   */
  readonly clock?: () => number;
  /**
   * Writer connections by target name (cache off, primaries), for OVERWRITE_RATE > 0: each target's overwriter
   * writes through its own. Required then for every target.
   */
  readonly writers?: ReadonlyMap<string, CacheClient>;
}

/** A tinybench timestamp provider reading an injected clock in ms. */
function clockProvider(clock: () => number): TimestampProvider {
  return { name: 'injected', fn: clock, fromMs: (ms) => ms, toMs: (value) => Number(value) };
}

class TargetRun {
  state: 'running' | 'errored' = 'running';
  error: string | undefined;
  readonly samplesMs: number[] = [];
  readonly roundSamplesMs: (number | null)[] = [];
  readonly tally = new Tally();
  readonly setHistogram = new OpHistogram();
  readonly getHistogram = new OpHistogram();
  readonly staleHistogram = new OpHistogram();
  readonly recorder: OpRecorder = {
    set: (ns) => this.setHistogram.record(ns),
    get: (ns) => this.getHistogram.record(ns),
  };
  warmupIterations = 0;
  /** Invocations of the seed loop per iteration (1 until the pilot stage has chosen). */
  invocations = 1;
  /** This target's single-invocation time in the pilot stage (null: INVOCATION_COUNT given, or no pilot time). */
  pilotMs: number | null = null;
  failedIterations = 0;
  consecutiveFailures = 0;
  undeletedKeys = 0;
  /** Set before each timed call: what the task function runs. */
  current: { plan: IterationPlan; recorder: OpRecorder | undefined } | undefined;
  outcome: IterationOutcome | undefined;
  readonly task: Task;
  /** How reads are judged beyond byte equality; undefined: the plain seed loop. */
  readonly check: ReadCheck | undefined;

  constructor(readonly target: ConnectedTarget, params: CaseParams, controls: RunControls, shouldStop: StopCheck, timestampProvider: TimestampProvider,
    check: ReadCheck | undefined) {
    this.check = check;
    if (this.check !== undefined) this.tally.staleAge = (ns) => this.staleHistogram.record(ns);
    // One tinybench task per target; each round runs it for exactly one timed invocation.
    const bench = new Bench({ iterations: 1, time: 0, warmup: false, retainSamples: true, timestampProvider, throws: false });
    bench.add(target.config.name, async () => {
      const current = this.current as NonNullable<TargetRun['current']>;
      this.outcome = await runSeedIteration(target.client, current.plan, params.READ_RATIO, controls.keyTtlSeconds, this.tally, current.recorder, shouldStop,
        this.check);
    });
    this.task = bench.tasks[0] as Task;
  }
}

const staleness = (s: StalenessResult | undefined): { staleness?: StalenessResult } => (s !== undefined ? { staleness: s } : {});
const cache = (c: CacheCounters | undefined): { cache?: CacheCounters } => (c !== undefined ? { cache: c } : {});

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Runs one untimed-prepared, timed iteration of one target and cleans up its keys. Returns the time
 * of one invocation in ms (iteration time / invocations) if valid; undefined when it failed or was
 * cut short (Ctrl-C, time budget: not a sample).
 */
async function iterate(run: TargetRun, prefix: string, params: CaseParams, recorder: OpRecorder | undefined): Promise<number | undefined> {
  const plan = prepareIteration(prefix, params, run.invocations, run.check?.overwriter !== undefined);
  run.current = { plan, recorder };
  run.outcome = undefined;
  run.task.reset(false);
  await run.task.run();
  const result = run.task.result;
  const outcome = run.outcome as IterationOutcome | undefined;
  // No overwrite may be in flight when the keys are deleted: it would write one of them again.
  await run.check?.overwriter?.settle();
  run.undeletedKeys += await deleteKeys(run.target.client, plan.keys.slice(0, outcome?.attempted ?? plan.keys.length));
  run.current = undefined;
  if (result.state !== 'completed' || outcome === undefined || outcome.state === 'failed') {
    noteFailure(run, outcome?.state === 'failed' ? outcome.error : result.state === 'errored' ? result.error.message : `iteration ${result.state}`);
    return undefined;
  }
  if (outcome.state === 'aborted') return undefined;
  run.consecutiveFailures = 0;
  const ms = result.latency.samples?.[0];
  return ms === undefined ? undefined : ms / run.invocations;
}

/** Records a failed iteration of a target (its error with credentials masked); drops it after MAX_CONSECUTIVE_FAILURES in a row. */
function noteFailure(run: TargetRun, error: string): void {
  run.failedIterations++;
  run.consecutiveFailures++;
  run.error = redactSecrets(error);
  if (run.consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) run.state = 'errored';
}

/**
 * One round with the targets interleaved key by key (INTERLEAVE: key): every target's iteration
 * is prepared, then for each key in turn every target runs that key's SET and GETs, the order
 * reversed on every other key (ABBA). Each target's iteration time is the sum of its own key
 * segments, so all targets are measured across the same stretch of time: a slow episode of the
 * machine (GC, a scheduler hiccup, lasting ~10–200 ms) hits all of them instead of one.
 * Returns the time per invocation of each target whose iteration completed.
 */
async function interleavedRound(order: readonly TargetRun[], prefix: string, params: CaseParams, ttlSeconds: number, shouldStop: StopCheck,
  clock: () => number): Promise<Map<TargetRun, number>> {
  const plans = new Map(order.map((run) => [run, prepareIteration(prefix, params, run.invocations, run.check?.overwriter !== undefined)]));
  const totals = new Map(order.map((run) => [run, 0]));
  const attempted = new Map(order.map((run) => [run, 0]));
  const failed = new Map<TargetRun, string>();
  let aborted = false;
  const keys = (plans.get(order[0] as TargetRun)?.keys.length) ?? 0;
  for (let k = 0; k < keys && !aborted; k++) {
    const turn = k % 2 === 0 ? order : [...order].reverse();
    for (const run of turn) {
      if (failed.has(run)) continue;
      const plan = plans.get(run) as IterationPlan;
      const segment = { keys: [plan.keys[k] as string], payloads: [plan.payloads[k] as Buffer] };
      const t0 = clock();
      const outcome = await runSeedIteration(run.target.client, segment, params.READ_RATIO, ttlSeconds, run.tally, run.recorder, shouldStop, run.check);
      totals.set(run, (totals.get(run) ?? 0) + (clock() - t0));
      attempted.set(run, k + outcome.attempted);
      if (outcome.state === 'failed') failed.set(run, outcome.error);
      if (outcome.state === 'aborted') {
        aborted = true;
        break;
      }
    }
  }
  const times = new Map<TargetRun, number>();
  for (const run of order) {
    const plan = plans.get(run) as IterationPlan;
    await run.check?.overwriter?.settle();
    run.undeletedKeys += await deleteKeys(run.target.client, plan.keys.slice(0, attempted.get(run)));
    const error = failed.get(run);
    if (error !== undefined) noteFailure(run, error);
    else if (!aborted) {
      run.consecutiveFailures = 0;
      times.set(run, (totals.get(run) ?? 0) / run.invocations);
    }
  }
  return times;
}


/**
 * BenchmarkDotNet's pilot stage: how many invocations make an iteration of about
 * ITERATION_TIME_MS, from the fastest target's single-invocation time (every target runs the same
 * count, so a round compares equal work). Bounded by memory for the payloads and the keys (of all targets at
 * once with INTERLEAVE=key): PILOT_MAX_BYTES, PILOT_MAX_KEYS.
 */
export function pilotInvocations(pilotMs: number, params: CaseParams, iterationTimeMs: number, targetsInMemory = 1): number {
  const byTime = Math.max(1, Math.round(iterationTimeMs / Math.max(pilotMs, 1e-6)));
  return Math.min(byTime, pilotMemoryBound(params, targetsInMemory));
}

/** The most invocations an iteration may hold for its payloads (INTERLEAVE=key holds every target's iteration at once: the bound is shared). */
function pilotMemoryBound(params: CaseParams, targetsInMemory: number): number {
  const byBytes = Math.max(1, Math.floor(PILOT_MAX_BYTES / targetsInMemory / Math.max(1, params.WRITE_COUNT * params.PAYLOAD_BYTES)));
  // Each key's name and Buffer object live on the JS heap until the iteration's keys are deleted (see config/memory.ts).
  const byKeys = Math.max(1, Math.floor(PILOT_MAX_KEYS / targetsInMemory / Math.max(1, params.WRITE_COUNT)));
  return Math.min(byBytes, byKeys);
}

/** A pilot round counts as having reached ITERATION_TIME_MS from this fraction of it on. */
export const PILOT_REACHED = 0.8;
/** Pilot rounds at most (the count at least doubles in each after the first, so 8 rounds reach 128× the first estimate). */
export const PILOT_MAX_ROUNDS = 8;

/**
 * The pilot's next count for one target after a round at `count` invocations that took `perInvocationMs`
 * each: after the round at one invocation, the estimate for ITERATION_TIME_MS; after a later round, the
 * same count if the iteration reached PILOT_REACHED of that time (or the memory bound), else at least
 * double. Never lower than `count` after the first round: a noisy fast round must not shrink it again.
 */
export function nextPilotCount(count: number, perInvocationMs: number, first: boolean, params: CaseParams, iterationTimeMs: number,
  targetsInMemory = 1): number {
  const estimate = pilotInvocations(perInvocationMs, params, iterationTimeMs, targetsInMemory);
  if (first) return estimate;
  if (count * perInvocationMs >= PILOT_REACHED * iterationTimeMs) return count;
  return Math.min(pilotMemoryBound(params, targetsInMemory), Math.max(2 * count, estimate));
}

function relativeError(samples: readonly number[]): number {
  const s = summarize(samples);
  return s === undefined ? Number.NaN : s.error / s.mean;
}

/**
 * Runs one parameter combination against all targets: warm-up, then rounds of one
 * iteration per target in shuffled order, until every target's Error < MAX_RELATIVE_ERROR
 * of its Mean (after MIN_ITERATIONS), MAX_ITERATIONS, MAX_TIME, or abort.
 * Never throws for a target's failure: the target is reported as errored.
 */
export async function runCase(
  targets: readonly ConnectedTarget[],
  params: CaseParams,
  controls: RunControls,
  options: RunCaseOptions,
): Promise<LatencyCaseResult> {
  const now = options.clock ?? (() => performance.now());
  const provider = options.clock !== undefined ? clockProvider(options.clock) : hrtimeNowTimestampProvider;
  const { signal } = options;
  const started = now();
  // MAX_TIME covers warm-up and rounds, and is checked before every op: a long iteration is cut
  // short (and not counted) instead of running past the budget.
  const deadline = started + controls.maxTimeMs;
  const outOfTime = (): boolean => now() >= deadline;
  const shouldStop: StopCheck = () => signal?.aborted === true || outOfTime();
  const side = await CaseSideEffects.start(targets, controls, options.writers);
  const runs = targets.map((t) => new TargetRun(t, params, controls, shouldStop, provider, side.readCheckFor(t)));
  let lateUndeleted = new Map<string, number>();
  let result: LatencyCaseResult;
  try {
    result = await measureCase(runs, params, controls, options, { started, now, provider, shouldStop, outOfTime, side });
  } finally {
    lateUndeleted = await side.stop();
  }
  return { ...result, targets: result.targets.map((t) => ({ ...t, undeletedKeys: t.undeletedKeys + (lateUndeleted.get(t.name) ?? 0) })) };
}

/** What measureCase needs from runCase: the clock and budget, and the side effects running beside the loops. */
interface CaseContext {
  readonly started: number;
  readonly now: () => number;
  readonly provider: TimestampProvider;
  readonly shouldStop: StopCheck;
  readonly outOfTime: () => boolean;
  readonly side: CaseSideEffects;
}

/** The warm-up, pilot and measured rounds of runCase, and the per-target results. */
async function measureCase(runs: readonly TargetRun[], params: CaseParams, controls: RunControls, options: RunCaseOptions,
  context: CaseContext): Promise<LatencyCaseResult> {
  const random = options.random ?? Math.random;
  // Warm-up and pilot rounds shuffle from a stream of their own: how many pilot rounds run depends on timing, and the
  // measured rounds' orders must be the same for the same --seed whatever the pilot did.
  const warmupRandom = seededRandom(Math.floor(random() * 2 ** 32) >>> 0);
  const { started, now, provider, shouldStop, outOfTime } = context;
  // Key segments are timed with the same timer tinybench uses (hrtime), in ms.
  const segmentClock = (): number => provider.toMs(provider.fn());
  const { signal, onProgress, keyPrefix } = options;
  const active = (): TargetRun[] => runs.filter((r) => r.state === 'running');
  const noteErrored = (run: TargetRun): void => {
    if (run.state === 'errored') onProgress?.({ kind: 'target-errored', target: run.target.config.name, error: run.error ?? 'unknown error' });
  };
  const interrupted = (): StopReason | undefined => (signal?.aborted ? 'aborted' : outOfTime() ? 'max-time' : undefined);

  let stopReason: StopReason | undefined;
  const warmupRound = async (): Promise<Map<TargetRun, number>> => {
    const times = new Map<TargetRun, number>();
    for (const run of shuffle(active(), warmupRandom)) {
      const ms = await iterate(run, keyPrefix, params, undefined);
      if (ms !== undefined) {
        times.set(run, ms);
        run.warmupIterations++;
      }
      noteErrored(run);
      stopReason = interrupted();
      if (stopReason !== undefined) break;
    }
    return times;
  };
  // Pilot stage, as BenchmarkDotNet's: a round at one invocation estimates how many make an iteration of
  // ITERATION_TIME_MS; then, while a target's iteration stays short of PILOT_REACHED of that time (the first
  // estimate came from one noisy invocation), its count at least doubles and the round runs again. Pilot rounds
  // are warm-up rounds (discarded). With two or more warm-up rounds, the first one (cold connections and caches)
  // is not the pilot. Each target gets its own count, as each benchmark does in BenchmarkDotNet: a client cache
  // that is 10x faster than the network would otherwise make every other target's iteration 10x longer than
  // ITERATION_TIME_MS. INTERLEAVE=key runs every target through the same keys, so there all take the fastest
  // target's count.
  let invocations = Math.max(1, controls.invocationCount);
  let pilotMs: number | null = null;
  let warmed = 0;
  for (const run of runs) run.invocations = invocations;
  if (controls.invocationCount === 0) {
    if (controls.warmupIterations >= 2) {
      warmed++;
      onProgress?.({ kind: 'warmup', params, iteration: warmed, of: controls.warmupIterations });
      await warmupRound();
    }
    const sharing = controls.interleave === 'key' ? Math.max(1, active().length) : 1;
    for (let round = 0; round < PILOT_MAX_ROUNDS && stopReason === undefined; round++) {
      warmed++;
      onProgress?.({ kind: 'warmup', params, iteration: warmed, of: controls.warmupIterations, pilot: true });
      const times = await warmupRound();
      if (times.size === 0) break;
      pilotMs = minOf(times.values());
      let short = false;
      for (const run of runs) {
        const own = controls.interleave === 'key' ? pilotMs : times.get(run);
        if (own === undefined) continue;
        const next = nextPilotCount(run.invocations, own, round === 0, params, controls.iterationTimeMs, sharing);
        short ||= next !== run.invocations;
        run.pilotMs = own;
        run.invocations = next;
      }
      if (!short) break;
    }
    // The case's count is the fastest target's; a target without a pilot time (its pilot iterations failed) takes it.
    const fastest = runs.filter((r) => r.pilotMs !== null).sort((a, b) => (a.pilotMs as number) - (b.pilotMs as number))[0];
    if (fastest !== undefined) invocations = fastest.invocations;
    for (const run of runs) if (run.pilotMs === null) run.invocations = invocations;
  }
  onProgress?.({ kind: 'pilot', params, pilotMs, invocations, targets: Object.fromEntries(runs.map((r) => [r.target.config.name, r.invocations])) });
  for (let w = warmed; w < controls.warmupIterations && stopReason === undefined; w++) {
    onProgress?.({ kind: 'warmup', params, iteration: w + 1, of: controls.warmupIterations });
    await warmupRound();
  }

  const roundOrders: string[][] = [];
  while (stopReason === undefined) {
    const order = shuffle(active(), random);
    if (order.length === 0) {
      stopReason = 'all-errored';
      break;
    }
    roundOrders.push(order.map((r) => r.target.config.name));
    for (const run of runs) run.roundSamplesMs.push(null);
    const record = (run: TargetRun, ms: number | undefined): void => {
      if (ms !== undefined) {
        run.samplesMs.push(ms);
        run.roundSamplesMs[run.roundSamplesMs.length - 1] = ms;
      }
      noteErrored(run);
    };
    if (controls.interleave === 'key') {
      const times = await interleavedRound(order, keyPrefix, params, controls.keyTtlSeconds, shouldStop, segmentClock);
      for (const run of order) record(run, times.get(run));
      stopReason = interrupted();
    } else {
      for (const run of order) {
        // An iteration cut short by Ctrl-C or the budget returns no time: it is no sample.
        record(run, await iterate(run, keyPrefix, params, run.recorder));
        stopReason = interrupted();
        if (stopReason !== undefined) break;
      }
    }
    const rounds = roundOrders.length;
    const elapsedMs = now() - started;
    const relativeErrors: Record<string, number> = {};
    for (const run of active()) relativeErrors[run.target.config.name] = relativeError(run.samplesMs);
    onProgress?.({ kind: 'round', params, round: rounds, maxRounds: controls.maxIterations, elapsedMs, maxTimeMs: controls.maxTimeMs, relativeErrors });

    if (stopReason !== undefined) break;
    if (active().length === 0) stopReason = 'all-errored';
    else if (rounds >= controls.maxIterations) stopReason = 'max-iterations';
    else if (
      active().every((r) => r.samplesMs.length >= controls.minIterations && (relativeErrors[r.target.config.name] ?? Number.NaN) < controls.maxRelativeError)
    ) stopReason = 'converged';
  }

  const cacheCounters = await context.side.cacheCounters();
  const results = runs.map((run): LatencyTargetResult => {
    const state = run.state === 'running' ? (stopReason === 'aborted' ? 'aborted' : 'completed') : run.state;
    const summary = summarize(run.samplesMs);
    const { tally } = run;
    return {
      name: run.target.config.name,
      state,
      ...(state === 'errored' && run.error !== undefined ? { error: run.error } : {}),
      samplesMs: run.samplesMs,
      roundSamplesMs: run.roundSamplesMs,
      ...(summary !== undefined ? { summary } : {}),
      ops: { set: run.setHistogram.summarize(tally.setErrors, true), get: run.getHistogram.summarize(tally.getErrors, true) },
      verification: { reads: tally.gets, verified: tally.verified, missing: tally.missing, mismatched: tally.mismatched },
      iterations: { warmup: run.warmupIterations, measured: run.samplesMs.length, failed: run.failedIterations },
      errors: Object.fromEntries(tally.errorMessages),
      undeletedKeys: run.undeletedKeys,
      invocations: run.invocations,
      pilotMs: run.pilotMs,
      ...staleness(context.side.staleness(run.target, tally.stale, run.staleHistogram)),
      ...cache(cacheCounters.get(run.target.config.name)),
    };
  });
  return { params, invocations, pilotMs, rounds: roundOrders.length, stopReason, elapsedMs: now() - started, roundOrders, targets: results };
}
