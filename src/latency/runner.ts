import { hrtimeNowTimestampProvider, type TimestampProvider } from 'tinybench';
import type { CaseParams, RunControls } from '../config/resolve.js';
import { ERROR_CONFIDENCE, summarize, type Summary } from '../stats/describe.js';
import { pairedRatioInterval } from '../stats/ratio.js';
import { seededRandom } from '../measure/random.js';
import type { CacheClient, CacheCounters, ConnectedTarget } from '../targets/client.js';
import type { StopCheck } from '../workload/seed-loop.js';
import { CaseSideEffects, type StalenessResult } from './side-effects.js';
import type { TargetErroredEvent } from '../measure/progress.js';
import type { TargetOutcome } from '../measure/outcome.js';
import { pilotStage } from './pilot.js';
import { TargetRun, interleavedRound, iterate } from './target-run.js';
import { latencyMixes, mixSeed, type LatencyMixResult } from './mix-turns.js';

/**
 * Why a case stopped; `duration`: a fault run, which runs each target for DURATION; `percent-converged`: every Percent
 * interval reached MAX_PERCENT_ERROR.
 */
export const STOP_REASONS = ['converged', 'max-iterations', 'max-time', 'aborted', 'all-errored', 'duration', 'percent-converged'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/** The outcome of one target in one parameter combination of a latency run: the shared part and its rounds. */
export interface LatencyTargetResult extends TargetOutcome {
  /** Every measured iteration time in ms, in round order, outliers included. */
  readonly samplesMs: readonly number[];
  /** Iteration time of each measured round (index = round − 1); null where the iteration failed or was not run. */
  readonly roundSamplesMs: readonly (number | null)[];
  readonly summary?: Summary;
  readonly iterations: { readonly warmup: number; readonly measured: number; readonly failed: number };
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
  /**
   * The harness's own cost over the measured iterations: the event loop's busy share of their time and the process's
   * CPU time per op (the client library's and cachebench's together); present once an iteration was measured.
   */
  readonly harness?: { readonly busy: number; readonly cpuUsPerOp: number | null; readonly gcShare?: number };
  /** A WORKLOAD's ops per command (an invocation is one op of the mix); absent for the seed loop. */
  readonly mix?: LatencyMixResult;
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
    /** With MAX_PERCENT_ERROR: each compared target's Percent interval half-width over its Percent, when it was last worked out. */
    readonly percentErrors?: Readonly<Record<string, number>>;
  }
  /** A WORKLOAD's preload (before the combination's MAX_TIME starts): keys written of KEYSPACE, by this target's one client. */
  | { readonly kind: 'preload'; readonly target: string; readonly written: number; readonly of: number; readonly workers: 1; readonly ofWorkers: 1 }
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
  /** --baseline: the target Percent is relative to (MAX_PERCENT_ERROR); default the fastest so far. */
  readonly baseline?: string;
}

/** A tinybench timestamp provider reading an injected clock in ms. */
function clockProvider(clock: () => number): TimestampProvider {
  return { name: 'injected', fn: clock, fromMs: (ms) => ms, toMs: (value) => Number(value) };
}

const staleness = (s: StalenessResult | undefined): { staleness?: StalenessResult } => (s !== undefined ? { staleness: s } : {});
const withReads = (s: StalenessResult | undefined, reads: number | undefined): StalenessResult | undefined =>
  (s === undefined || reads === undefined ? s : { ...s, of: reads });
const cache = (c: CacheCounters | undefined): { cache?: CacheCounters } => (c !== undefined ? { cache: c } : {});
const harness = (h: LatencyTargetResult['harness'] | null): Pick<LatencyTargetResult, 'harness'> => (h != null ? { harness: h } : {});

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
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
  let started = now();
  // MAX_TIME covers warm-up and rounds (not a WORKLOAD's preload), and is checked before every op: a long iteration is
  // cut short (and not counted) instead of running past the budget.
  let deadline = Infinity;
  const outOfTime = (): boolean => now() >= deadline;
  const shouldStop: StopCheck = () => signal?.aborted === true || outOfTime();
  const side = await CaseSideEffects.start(targets, controls, options.writers);
  const runs = targets.map((t) => new TargetRun(t, params, controls, shouldStop, provider, side.readCheckFor(t)));
  let lateUndeleted = new Map<string, number>();
  let result: LatencyCaseResult;
  try {
    await startMixes(runs, params, controls, options, shouldStop);
    started = now();
    deadline = started + controls.maxTimeMs;
    result = await measureCase(runs, params, controls, options, { started, now, provider, shouldStop, outOfTime, side });
  } finally {
    lateUndeleted = await side.stop();
    for (const run of runs) {
      const left = (await run.mix?.stop()) ?? 0;
      if (left > 0) lateUndeleted.set(run.target.config.name, (lateUndeleted.get(run.target.config.name) ?? 0) + left);
    }
    // A case that failed never read its costs: their GC accounting stops here all the same.
    for (const run of runs) run.cost.release();
  }
  return { ...result, targets: result.targets.map((t) => ({ ...t, undeletedKeys: t.undeletedKeys + (lateUndeleted.get(t.name) ?? 0) })) };
}

/**
 * With a WORKLOAD: each target's mix client, its keys preloaded (every target's clients draw the same entries and keys
 * from one seed). A target whose preload failed is errored from the start.
 */
async function startMixes(runs: readonly TargetRun[], params: CaseParams, controls: RunControls, options: RunCaseOptions,
  shouldStop: StopCheck): Promise<void> {
  const mixes = latencyMixes(runs.map((r) => r.target), runs.map((r) => r.tally), params, controls, options.keyPrefix, mixSeed(options.random ?? Math.random));
  if (mixes === undefined) return;
  for (const [i, run] of runs.entries()) {
    const mix = mixes[i] as NonNullable<typeof mixes>[number];
    run.mix = mix;
    const progress = (written: number): void => options.onProgress?.({
      kind: 'preload', target: run.target.config.name, written, of: controls.load.keyspace, workers: 1, ofWorkers: 1,
    });
    try {
      await mix.start(shouldStop, options.signal, progress);
    } catch (error: unknown) {
      run.state = 'errored';
      run.error = error instanceof Error ? error.message : String(error);
      options.onProgress?.({ kind: 'target-errored', target: run.target.config.name, error: run.error, at: 'setup' });
    }
  }
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
  const rounds = new CaseRounds(runs, params, controls, options, context);
  const { invocations, pilotMs } = await rounds.warmUp();
  const roundOrders = await rounds.measure();
  const stopReason = rounds.stopReason as StopReason;
  return {
    params, invocations, pilotMs, rounds: roundOrders.length, stopReason, elapsedMs: context.now() - context.started, roundOrders,
    targets: await rounds.results(),
  };
}

/** One combination's rounds as they go: who is still running, why it stopped, the shuffles. */
class CaseRounds {
  stopReason: StopReason | undefined;
  readonly #runs: readonly TargetRun[];
  readonly #params: CaseParams;
  readonly #controls: RunControls;
  readonly #options: RunCaseOptions;
  readonly #context: CaseContext;
  readonly #random: () => number;
  readonly #warmupRandom: () => number;

  constructor(runs: readonly TargetRun[], params: CaseParams, controls: RunControls, options: RunCaseOptions, context: CaseContext) {
    this.#runs = runs;
    this.#params = params;
    this.#controls = controls;
    this.#options = options;
    this.#context = context;
    this.#random = options.random ?? Math.random;
    // Warm-up and pilot rounds shuffle from a stream of their own: how many pilot rounds run depends on timing, and the
    // measured rounds' orders must be the same for the same --seed whatever the pilot did.
    this.#warmupRandom = seededRandom(Math.floor(this.#random() * 2 ** 32) >>> 0);
  }

  #active(): TargetRun[] {
    return this.#runs.filter((r) => r.state === 'running');
  }

  #noteErrored(run: TargetRun): void {
    if (run.state === 'errored') this.#options.onProgress?.({ kind: 'target-errored', target: run.target.config.name, error: run.error ?? 'unknown error' });
  }

  #interrupted(): StopReason | undefined {
    return this.#options.signal?.aborted ? 'aborted' : this.#context.outOfTime() ? 'max-time' : undefined;
  }

  /** One discarded round in shuffled order: each target's time per invocation where its iteration completed. */
  async #warmupRound(): Promise<Map<TargetRun, number>> {
    const times = new Map<TargetRun, number>();
    for (const run of shuffle(this.#active(), this.#warmupRandom)) {
      const ms = await iterate(run, this.#options.keyPrefix, this.#params, undefined);
      if (ms !== undefined) {
        times.set(run, ms);
        run.warmupIterations++;
      }
      this.#noteErrored(run);
      this.stopReason = this.#interrupted();
      if (this.stopReason !== undefined) break;
    }
    return times;
  }

  /**
   * WARMUP_ITERATIONS rounds, the pilot's among them (pilotStage, pilot.ts). With two or more warm-up rounds, the first
   * one (cold connections and caches) is not the pilot.
   */
  async warmUp(): Promise<{ invocations: number; pilotMs: number | null }> {
    const { params, onProgress } = { params: this.#params, onProgress: this.#options.onProgress };
    const controls = this.#controls;
    let sized = { invocations: Math.max(1, controls.invocationCount), pilotMs: null as number | null };
    // Interrupted already (Ctrl-C during a WORKLOAD's preload): no warm-up round to announce.
    this.stopReason = this.#interrupted();
    if (this.stopReason !== undefined) return sized;
    let warmed = 0;
    for (const run of this.#runs) run.invocations = sized.invocations;
    if (controls.invocationCount === 0) {
      if (controls.warmupIterations >= 2) {
        warmed++;
        onProgress?.({ kind: 'warmup', params, iteration: warmed, of: controls.warmupIterations });
        await this.#warmupRound();
      }
      const sharing = controls.interleave === 'key' ? Math.max(1, this.#active().length) : 1;
      // A WORKLOAD's iteration holds no keys or values of its own: only ITERATION_TIME_MS sizes it.
      const held = this.#runs.some((r) => r.mix !== undefined) ? { ...params, WRITE_COUNT: 0 } : params;
      sized = await pilotStage(this.#runs, held, controls, sharing, () => {
        warmed++;
        onProgress?.({ kind: 'warmup', params, iteration: warmed, of: controls.warmupIterations, pilot: true });
        return this.#warmupRound();
      }, () => this.stopReason !== undefined);
    }
    onProgress?.({
      kind: 'pilot', params, pilotMs: sized.pilotMs, invocations: sized.invocations,
      targets: Object.fromEntries(this.#runs.map((r) => [r.target.config.name, r.invocations])),
    });
    for (let w = warmed; w < controls.warmupIterations && this.stopReason === undefined; w++) {
      onProgress?.({ kind: 'warmup', params, iteration: w + 1, of: controls.warmupIterations });
      await this.#warmupRound();
    }
    return sized;
  }

  /** The measured rounds, each in a new shuffled order, until a stop rule holds; returns each round's order. */
  async measure(): Promise<string[][]> {
    const { params, controls } = { params: this.#params, controls: this.#controls };
    const { keyPrefix, onProgress } = this.#options;
    const { provider, shouldStop } = this.#context;
    // Key segments are timed with the same timer tinybench uses (hrtime), in ms.
    const segmentClock = (): number => provider.toMs(provider.fn());
    const roundOrders: string[][] = [];
    while (this.stopReason === undefined) {
      const order = shuffle(this.#active(), this.#random);
      if (order.length === 0) {
        this.stopReason = 'all-errored';
        break;
      }
      roundOrders.push(order.map((r) => r.target.config.name));
      for (const run of this.#runs) run.roundSamplesMs.push(null);
      const record = (run: TargetRun, ms: number | undefined): void => {
        if (ms !== undefined) {
          run.samplesMs.push(ms);
          run.roundSamplesMs[run.roundSamplesMs.length - 1] = ms;
        }
        this.#noteErrored(run);
      };
      if (controls.interleave === 'key') {
        const times = await interleavedRound(order, keyPrefix, params, controls.keyTtlSeconds, shouldStop, segmentClock);
        for (const run of order) record(run, times.get(run));
        this.stopReason = this.#interrupted();
      } else {
        for (const run of order) {
          // An iteration cut short by Ctrl-C or the budget returns no time: it is no sample.
          record(run, await iterate(run, keyPrefix, params, run.recorder));
          this.stopReason = this.#interrupted();
          if (this.stopReason !== undefined) break;
        }
      }
      const relativeErrors: Record<string, number> = {};
      for (const run of this.#active()) relativeErrors[run.target.config.name] = relativeError(run.samplesMs);
      const percentErrors = this.#percentErrors(roundOrders.length);
      onProgress?.({ kind: 'round', params, round: roundOrders.length, maxRounds: controls.maxIterations, elapsedMs: this.#context.now() - this.#context.started,
        maxTimeMs: controls.maxTimeMs, relativeErrors, ...(percentErrors != null ? { percentErrors } : {}) });
      this.stopReason ??= this.#stopRule(roundOrders.length, relativeErrors, percentErrors);
    }
    return roundOrders;
  }

  /**
   * With MAX_PERCENT_ERROR and two or more running targets: each compared target's Percent interval half-width over its
   * Percent (the report's paired 99.9% interval, upper outliers of either side left out), against --baseline or the
   * fastest so far. Worked out every round up to 200 rounds, then every rounds/100 (the work grows with the rounds).
   */
  #percentErrors(rounds: number): Record<string, number> | undefined | null {
    const limit = this.#controls.maxPercentError ?? 0;
    const active = this.#active();
    if (limit <= 0 || active.length < 2 || rounds < this.#controls.minIterations) return undefined;
    // A --baseline that is no longer running has no Percent in the report either: the Percent rule cannot judge (null).
    const explicit = active.find((r) => r.target.config.name === this.#options.baseline);
    if (this.#options.baseline !== undefined && explicit === undefined) return null;
    if (rounds > 200 && rounds % Math.ceil(rounds / 100) !== 0) return this.#lastPercentErrors;
    const summaries = new Map(active.map((r) => [r, summarize(r.samplesMs)]));
    const base = explicit ?? active.reduce((best, r) => ((summaries.get(r)?.mean ?? Infinity) < (summaries.get(best)?.mean ?? Infinity) ? r : best));
    const fenced = (r: TargetRun): (number | null)[] => {
      const fence = summaries.get(r)?.upperFence ?? Infinity;
      return r.roundSamplesMs.map((x) => (x !== null && x > fence ? null : x));
    };
    const errors: Record<string, number> = {};
    for (const r of active) {
      if (r === base) continue;
      const interval = pairedRatioInterval(fenced(base), fenced(r), ERROR_CONFIDENCE);
      errors[r.target.config.name] = interval === undefined || interval.upper === null || interval.lower === null ? Number.NaN
        : (interval.upper - interval.lower) / 2 / interval.ratio;
    }
    this.#lastPercentErrors = errors;
    return errors;
  }

  #lastPercentErrors: Record<string, number> | undefined | null;

  /**
   * After a full round: every target dropped, MAX_ITERATIONS, every Percent within MAX_PERCENT_ERROR (when set), or
   * every target's Error under MAX_RELATIVE_ERROR (after MIN_ITERATIONS).
   */
  #stopRule(rounds: number, relativeErrors: Record<string, number>, percentErrors: Record<string, number> | undefined | null): StopReason | undefined {
    const controls = this.#controls;
    const active = this.#active();
    if (active.length === 0) return 'all-errored';
    if (rounds >= controls.maxIterations) return 'max-iterations';
    // The Percent rule decides when it is on and there is a Percent to judge (its baseline running); the per-target
    // rule otherwise. Every target has MIN_ITERATIONS samples first (failed rounds leave gaps), as that rule asks.
    if ((controls.maxPercentError ?? 0) > 0 && active.length >= 2 && percentErrors !== null) {
      const limit = controls.maxPercentError as number;
      const enough = active.every((r) => r.samplesMs.length >= controls.minIterations);
      return enough && percentErrors !== undefined && Object.values(percentErrors).every((x) => x <= limit) ? 'percent-converged' : undefined;
    }
    const converged = active.every((r) => r.samplesMs.length >= controls.minIterations
      && (relativeErrors[r.target.config.name] ?? Number.NaN) < controls.maxRelativeError);
    return converged ? 'converged' : undefined;
  }

  async results(): Promise<LatencyTargetResult[]> {
    const side = this.#context.side;
    const cacheCounters = await side.cacheCounters();
    // Node reports a GC pause on an immediate after it: one turn lets the last ones reach the harness's cost.
    await new Promise((resolve) => setImmediate(resolve));
    return this.#runs.map((run): LatencyTargetResult => {
      const state = run.state === 'running' ? (this.stopReason === 'aborted' ? 'aborted' : 'completed') : run.state;
      const summary = summarize(run.samplesMs);
      const { tally } = run;
      // A WORKLOAD's writes are judged too: its reads are the replies judged (its unverified ones are per command).
      const reads = run.mix !== undefined ? tally.verified + tally.missing + tally.mismatched + tally.stale : tally.gets;
      return {
        name: run.target.config.name,
        state,
        ...(state === 'errored' && run.error !== undefined ? { error: run.error } : {}),
        samplesMs: run.samplesMs,
        roundSamplesMs: run.roundSamplesMs,
        ...(summary !== undefined ? { summary } : {}),
        ops: { set: run.setHistogram.summarize(tally.setErrors, true), get: run.getHistogram.summarize(tally.getErrors, true) },
        verification: { reads, verified: tally.verified, missing: tally.missing, mismatched: tally.mismatched },
        iterations: { warmup: run.warmupIterations, measured: run.samplesMs.length, failed: run.failedIterations },
        errors: Object.fromEntries(tally.errorMessages),
        undeletedKeys: run.undeletedKeys,
        invocations: run.invocations,
        pilotMs: run.pilotMs,
        ...staleness(withReads(side.staleness(run.target, tally.stale, run.staleHistogram), run.mix?.reads)),
        ...cache(cacheCounters.get(run.target.config.name)),
        ...harness(run.cost.result()),
        ...(run.mix !== undefined ? { mix: run.mix.result() } : {}),
      };
    });
  }
}
