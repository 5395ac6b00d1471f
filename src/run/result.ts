/**
 * What a run produces, over every run kind: the latency runner's result per target and parameter combination, with the
 * part a fault run or a throughput run adds. Each kind reports in its own terms (latency/, faults/, load/); this is
 * where they meet, above them, so no kind depends on another's types.
 */
import { redactSecrets } from '../config/redact.js';
import type { FaultProgressEvent } from '../faults/case.js';
import type { FaultResult } from '../faults/loop.js';
import type { LatencyCaseResult, LatencyProgressEvent, LatencyTargetResult } from '../latency/runner.js';
import type { LoadProgressEvent } from '../load/case.js';
import type { LoadRecord } from '../load/record.js';

export { STOP_REASONS, type StopReason } from '../latency/runner.js';

/** The outcome of one target in one parameter combination, of any run kind; a union keyed on state. */
export interface TargetCaseResult extends LatencyTargetResult {
  /** A fault run's measurements (window, lost writes, timeline); present exactly in a fault run. */
  readonly fault?: FaultResult;
  /** A throughput run's record (workers merged); present exactly in a throughput run. */
  readonly load?: LoadRecord;
}

export interface CaseResult extends Omit<LatencyCaseResult, 'targets'> {
  readonly targets: readonly TargetCaseResult[];
}

/** What any run kind tells while it goes. */
export type ProgressEvent = LatencyProgressEvent | FaultProgressEvent | LoadProgressEvent;

/** A target of a time-based run (fault or throughput) that could not be measured at all, with why (credentials masked). */
export function erroredTarget(name: string, error: string): TargetCaseResult {
  return {
    name, state: 'errored', error: redactSecrets(error), samplesMs: [], roundSamplesMs: [],
    ops: { set: { count: 0, errors: 0 }, get: { count: 0, errors: 0 } },
    verification: { reads: 0, verified: 0, missing: 0, mismatched: 0 }, iterations: { warmup: 0, measured: 0, failed: 0 },
    errors: {}, undeletedKeys: 0, invocations: 0, pilotMs: null,
  };
}
