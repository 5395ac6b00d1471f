/**
 * What a run produces, over every run kind: per parameter combination, each target's outcome as a union keyed on the
 * kind, each member carrying only its own fields (as tinybench's TaskResult union does). Each kind reports in its own
 * terms (latency/, faults/, load/); this is where they meet, above them, so no kind depends on another's types.
 * Adding a kind: its member here, its converter in kinds.ts, one line of dispatch in execute.ts.
 */
import type { CaseParams } from '../config/resolve.js';
import type { FaultProgressEvent } from '../faults/case.js';
import type { FaultResult } from '../faults/loop.js';
import type { LatencyCaseResult, LatencyProgressEvent, LatencyTargetResult } from '../latency/runner.js';
import type { LoadProgressEvent } from '../load/case.js';
import type { LoadRecord } from '../load/record.js';
import type { CapacityOutcome } from '../load/capacity.js';
import type { TargetOutcome } from '../measure/outcome.js';

export { STOP_REASONS, type StopReason } from '../latency/runner.js';

/** A latency run's target: rounds, their summary, the pilot, staleness and client-cache counters. */
export interface LatencyTarget extends LatencyTargetResult {
  readonly kind: 'latency';
}

/** A fault run's target: its measurements (window, lost writes, timeline); absent when it could not be measured. */
export interface FaultTarget extends TargetOutcome {
  readonly kind: 'fault';
  readonly fault?: FaultResult;
}

/** A throughput run's target: its workers' merged record; absent when it could not be measured. */
export interface LoadTarget extends TargetOutcome {
  readonly kind: 'load';
  readonly load?: LoadRecord;
  /** A capacity run: its search; `load` is then the record of the step at `rate` (the knee, or the lower bound). */
  readonly capacity?: CapacityOutcome;
  readonly rate?: number;
}

/** The outcome of one target in one parameter combination, of any run kind. */
export type TargetCaseResult = LatencyTarget | FaultTarget | LoadTarget;

/** A latency combination: rounds until a stop rule, the pilot's invocation count, each round's target order. */
export interface LatencyCase extends Omit<LatencyCaseResult, 'targets'> {
  readonly kind: 'latency';
  readonly targets: readonly LatencyTarget[];
}

/** A time-based combination (fault or throughput): no rounds, no pilot; it stops at DURATION or Ctrl-C. */
export interface TimedCase<T extends FaultTarget | LoadTarget> {
  readonly kind: T['kind'];
  readonly params: CaseParams;
  readonly stopReason: 'duration' | 'aborted';
  readonly elapsedMs: number;
  readonly targets: readonly T[];
}

export type CaseResult = LatencyCase | TimedCase<FaultTarget> | TimedCase<LoadTarget>;

/** What any run kind tells while it goes. */
export type ProgressEvent = LatencyProgressEvent | FaultProgressEvent | LoadProgressEvent;
