/** Each time-based run kind's outcome as the run's results (run/results.ts): the parts a latency run has are empty. */
import type { CaseParams } from '../config/resolve.js';
import type { FaultCaseOutcome } from '../faults/index.js';
import type { LoadCaseOutcome, LoadRecord } from '../load/index.js';
import { OpHistogram } from '../measure/histogram.js';
import { erroredTarget, type CaseResult, type TargetCaseResult } from './result.js';

/** A time-based combination: no rounds, no pilot, no invocations; it stops at DURATION or Ctrl-C. */
function timeBased(params: CaseParams, outcome: { aborted: boolean; elapsedMs: number }, targets: readonly TargetCaseResult[]): CaseResult {
  return {
    params, invocations: 0, pilotMs: null, rounds: 0, stopReason: outcome.aborted ? 'aborted' : 'duration',
    elapsedMs: outcome.elapsedMs, roundOrders: [], targets,
  };
}

/** Latency-only fields of a target measured by time, not rounds. */
const NO_ROUNDS = { samplesMs: [], roundSamplesMs: [], iterations: { warmup: 0, measured: 0, failed: 0 }, invocations: 0, pilotMs: null } as const;

function loadTarget(name: string, state: 'completed' | 'aborted', record: LoadRecord): TargetCaseResult {
  return {
    name, state, ...NO_ROUNDS,
    ops: {
      set: OpHistogram.decode(record.histograms.set).summarize(record.setErrors),
      get: OpHistogram.decode(record.histograms.get).summarize(record.getErrors),
    },
    verification: { reads: record.verified + record.missing + record.mismatched, verified: record.verified, missing: record.missing,
      mismatched: record.mismatched },
    errors: record.errorMessages,
    undeletedKeys: record.undeletedKeys,
    load: record,
  };
}

export function loadCaseResult(params: CaseParams, outcome: LoadCaseOutcome): CaseResult {
  return timeBased(params, outcome, outcome.targets.map((t) => ('record' in t ? loadTarget(t.name, t.state, t.record) : { ...erroredTarget(t.name, t.error), state: t.state })));
}

export function faultCaseResult(params: CaseParams, outcome: FaultCaseOutcome): CaseResult {
  return timeBased(params, outcome, outcome.targets.map((t) => ('measured' in t ? { name: t.name, state: t.state, ...NO_ROUNDS, ...t.measured } : erroredTarget(t.name, t.error))));
}
