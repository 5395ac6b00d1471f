/**
 * One target's iterations in a latency run: its tinybench task, samples, histograms and failures (TargetRun), one timed
 * iteration (iterate), and a round with the targets interleaved key by key (interleavedRound).
 */
import { performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { Bench, type Task, type TimestampProvider } from 'tinybench';
import type { CaseParams, RunControls } from '../config/resolve.js';
import { redactSecrets } from '../config/redact.js';
import { OpHistogram } from '../measure/histogram.js';
import type { ConnectedTarget } from '../targets/client.js';
import { Tally } from '../workload/tally.js';
import type { LatencyMix } from './mix-turns.js';
import { deleteKeys, prepareIteration, runSeedIteration, type IterationOutcome, type IterationPlan, type OpRecorder, type ReadCheck, type StopCheck } from '../workload/seed-loop.js';

/** A target is dropped from a case after this many failed iterations in a row. */
export const MAX_CONSECUTIVE_FAILURES = 3;

/**
 * Measured windows a cost remembers at most for the GC pauses reported after them. Node reports a pause on an
 * immediate, so a client that never yields to the event loop (an in-memory one) may close many windows before its
 * pauses arrive; windows that end before a delivered pause are dropped (pauses arrive in order).
 */
const MAX_GC_WINDOWS = 100_000;

/**
 * One observer of V8's garbage collections for every HarnessCost that is measuring: each pause is added to the cost
 * whose measured window it overlaps (several targets interleave key by key: a pause belongs to the one that was timed).
 */
const gcCosts = new Set<HarnessCost>();
let gcObserver: PerformanceObserver | undefined;
const deliverGc = (entries: readonly PerformanceEntry[]): void => {
  for (const cost of gcCosts) for (const e of entries) cost.gc(e.startTime, e.startTime + e.duration);
};

/**
 * What the harness itself spent on a target's measured iterations: the process's CPU time, the event loop's busy and
 * idle time and the garbage collector's pauses while they ran, and the ops they made. Read around each measured
 * iteration (or key segment), outside the timed call.
 */
export class HarnessCost {
  cpuUs = 0;
  ops = 0;
  active = 0;
  idle = 0;
  gcMs = 0;
  #cpu: NodeJS.CpuUsage | undefined;
  #elu: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  #ops = 0;
  #from = 0;
  /** The measured windows a later pause may still fall in (performance.now() ms), oldest first, from #head on. */
  #starts: number[] = [];
  #ends: number[] = [];
  #head = 0;

  begin(opsSoFar: number): void {
    if (!gcCosts.has(this)) {
      gcCosts.add(this);
      if (gcObserver === undefined) {
        gcObserver = new PerformanceObserver((list) => deliverGc(list.getEntries()));
        gcObserver.observe({ entryTypes: ['gc'] });
      }
    }
    this.#cpu = process.cpuUsage();
    this.#elu = performance.eventLoopUtilization();
    this.#ops = opsSoFar;
    this.#from = performance.now();
  }

  end(opsSoFar: number): void {
    if (this.#cpu === undefined || this.#elu === undefined) return;
    const cpu = process.cpuUsage(this.#cpu);
    const elu = performance.eventLoopUtilization(this.#elu);
    this.cpuUs += cpu.user + cpu.system;
    this.active += elu.active;
    this.idle += elu.idle;
    this.ops += opsSoFar - this.#ops;
    this.#starts.push(this.#from);
    this.#ends.push(performance.now());
    if (this.#starts.length - this.#head > MAX_GC_WINDOWS) this.#head++;
    this.#cpu = undefined;
    this.#elu = undefined;
  }

  /** Stops this cost's GC accounting (the observer goes when no cost measures): after result(), or when its case failed. */
  release(): void {
    gcCosts.delete(this);
    if (gcCosts.size === 0) {
      gcObserver?.disconnect();
      gcObserver = undefined;
    }
  }

  /**
   * A GC pause from `from` to `to` (performance.now() ms): the part of it inside this cost's measured windows counts,
   * the window still open included (a pause is often reported before its iteration ends).
   */
  gc(from: number, to: number): void {
    // Windows that ended before this pause began cannot hold a later one either.
    while (this.#head < this.#ends.length && (this.#ends[this.#head] as number) <= from) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#ends.length) {
      this.#starts = this.#starts.slice(this.#head);
      this.#ends = this.#ends.slice(this.#head);
      this.#head = 0;
    }
    for (let i = this.#head; i < this.#ends.length; i++) {
      const start = this.#starts[i] as number;
      if (start >= to) break;
      const overlap = Math.min(to, this.#ends[i] as number) - Math.max(from, start);
      if (overlap > 0) this.gcMs += overlap;
    }
    if (this.#cpu !== undefined) this.gcMs += Math.max(0, to - Math.max(from, this.#from));
  }

  /**
   * busy: the event loop's share of the iterations' time; gcShare: the garbage collector's (pauses reported but not yet
   * delivered are taken first; Node reports a pause on an immediate after it, so let one run before this); null before
   * any measured iteration. Stops this cost's GC accounting.
   */
  result(): { busy: number; cpuUsPerOp: number | null; gcShare: number } | null {
    if (gcObserver !== undefined) deliverGc(gcObserver.takeRecords());
    this.release();
    const ms = this.active + this.idle;
    if (ms <= 0) return null;
    return {
      busy: Number((this.active / ms).toFixed(3)), cpuUsPerOp: this.ops > 0 ? Number((this.cpuUs / this.ops).toFixed(2)) : null,
      gcShare: Number(Math.min(1, this.gcMs / ms).toFixed(4)),
    };
  }
}

export class TargetRun {
  state: 'running' | 'errored' = 'running';
  error: string | undefined;
  readonly samplesMs: number[] = [];
  readonly roundSamplesMs: (number | null)[] = [];
  readonly tally = new Tally();
  readonly setHistogram = new OpHistogram();
  readonly getHistogram = new OpHistogram();
  readonly staleHistogram = new OpHistogram();
  /** The harness's own CPU and event-loop time over the measured iterations. */
  readonly cost = new HarnessCost();
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
  /** A WORKLOAD's client (an iteration is a turn of its ops instead of the seed loop); undefined: the seed loop. */
  mix: LatencyMix | undefined;

  constructor(readonly target: ConnectedTarget, params: CaseParams, controls: RunControls, shouldStop: StopCheck, timestampProvider: TimestampProvider,
    check: ReadCheck | undefined) {
    this.check = check;
    if (this.check !== undefined) this.tally.staleAge = (ns) => this.staleHistogram.record(ns);
    // One tinybench task per target; each round runs it for exactly one timed invocation.
    const bench = new Bench({ iterations: 1, time: 0, warmup: false, retainSamples: true, timestampProvider, throws: false });
    bench.add(target.config.name, async () => {
      const current = this.current as NonNullable<TargetRun['current']>;
      if (this.mix !== undefined) {
        this.outcome = await this.mix.turn(this.invocations, current.recorder, shouldStop);
        return;
      }
      this.outcome = await runSeedIteration(target.client, current.plan, params.READ_RATIO, controls.keyTtlSeconds, this.tally, current.recorder, shouldStop,
        this.check);
    });
    this.task = bench.tasks[0] as Task;
  }
}

/**
 * Runs one untimed-prepared, timed iteration of one target and cleans up its keys. Returns the time
 * of one invocation in ms (iteration time / invocations) if valid; undefined when it failed or was
 * cut short (Ctrl-C, time budget: not a sample).
 */
export async function iterate(run: TargetRun, prefix: string, params: CaseParams, recorder: OpRecorder | undefined): Promise<number | undefined> {
  // A WORKLOAD's ops work on its preloaded keys: an iteration writes no keys of its own.
  const plan = run.mix !== undefined ? NO_KEYS : prepareIteration(prefix, params, run.invocations, run.check?.overwriter !== undefined);
  run.current = { plan, recorder };
  run.outcome = undefined;
  run.task.reset(false);
  const ops = (): number => run.tally.sets + run.tally.gets;
  if (recorder !== undefined) run.cost.begin(ops());
  await run.task.run();
  if (recorder !== undefined) run.cost.end(ops());
  const result = run.task.result;
  const outcome = run.outcome as IterationOutcome | undefined;
  // A measured turn's ops are in the per-command table whether it completed or not: so is its time.
  if (recorder !== undefined && result.state === 'completed') run.mix?.measured(sampleMs(run, result.latency.samples?.[0]) ?? 0);
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
  const ms = sampleMs(run, result.latency.samples?.[0]);
  return ms === undefined ? undefined : ms / run.invocations;
}

const NO_KEYS: IterationPlan = { keys: [], payloads: [] };

/** An iteration's time in ms: with a WORKLOAD, less what its client spent besides the ops (LatencyMix.lastTurnAsideMs). */
function sampleMs(run: TargetRun, ms: number | undefined): number | undefined {
  return ms === undefined || run.mix === undefined ? ms : Math.max(0, ms - run.mix.lastTurnAsideMs);
}

/**
 * interleavedRound with a WORKLOAD: for each of the iteration's ops in turn, every target runs one op of its mix (the
 * order reversed on every other op, ABBA); each target's iteration time is the sum of its own ops' segments.
 */
async function interleavedMixRound(order: readonly TargetRun[], shouldStop: StopCheck, clock: () => number): Promise<Map<TargetRun, number>> {
  const totals = new Map(order.map((run) => [run, 0]));
  const failed = new Map<TargetRun, string>();
  const ops = order[0]?.invocations ?? 0;
  let aborted = false;
  for (let k = 0; k < ops && !aborted; k++) {
    for (const run of k % 2 === 0 ? order : [...order].reverse()) {
      if (failed.has(run)) continue;
      const mix = run.mix as LatencyMix;
      run.cost.begin(run.tally.sets + run.tally.gets);
      const t0 = clock();
      const outcome = await mix.turn(1, run.recorder, shouldStop);
      const ms = Math.max(0, clock() - t0 - mix.lastTurnAsideMs);
      totals.set(run, (totals.get(run) ?? 0) + ms);
      run.cost.end(run.tally.sets + run.tally.gets);
      mix.measured(ms);
      if (outcome.state === 'failed') failed.set(run, outcome.error);
      if (outcome.state === 'aborted') {
        aborted = true;
        break;
      }
    }
  }
  return roundTimes(order, failed, aborted, totals);
}

/** Each target's time per invocation in a round whose iterations completed; a failed one noted. */
function roundTimes(order: readonly TargetRun[], failed: ReadonlyMap<TargetRun, string>, aborted: boolean,
  totals: ReadonlyMap<TargetRun, number>): Map<TargetRun, number> {
  const times = new Map<TargetRun, number>();
  for (const run of order) {
    const error = failed.get(run);
    if (error !== undefined) noteFailure(run, error);
    else if (!aborted) {
      run.consecutiveFailures = 0;
      times.set(run, (totals.get(run) ?? 0) / run.invocations);
    }
  }
  return times;
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
export async function interleavedRound(order: readonly TargetRun[], prefix: string, params: CaseParams, ttlSeconds: number, shouldStop: StopCheck,
  clock: () => number): Promise<Map<TargetRun, number>> {
  if (order[0]?.mix !== undefined) return interleavedMixRound(order, shouldStop, clock);
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
      run.cost.begin(run.tally.sets + run.tally.gets);
      const t0 = clock();
      const outcome = await runSeedIteration(run.target.client, segment, params.READ_RATIO, ttlSeconds, run.tally, run.recorder, shouldStop, run.check);
      totals.set(run, (totals.get(run) ?? 0) + (clock() - t0));
      run.cost.end(run.tally.sets + run.tally.gets);
      attempted.set(run, k + outcome.attempted);
      if (outcome.state === 'failed') failed.set(run, outcome.error);
      if (outcome.state === 'aborted') {
        aborted = true;
        break;
      }
    }
  }
  for (const run of order) {
    const plan = plans.get(run) as IterationPlan;
    await run.check?.overwriter?.settle();
    run.undeletedKeys += await deleteKeys(run.target.client, plan.keys.slice(0, attempted.get(run)));
  }
  return roundTimes(order, failed, aborted, totals);
}
