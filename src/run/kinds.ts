/** Each run kind's outcome as its member of the run's results (run/result.ts). */
import type { CaseParams } from '../config/resolve.js';
import { redactSecrets } from '../config/redact.js';
import type { FaultCaseOutcome } from '../faults/case.js';
import type { LatencyCaseResult } from '../latency/runner.js';
import type { LoadCaseOutcome } from '../load/case.js';
import type { CapacityCaseOutcome } from '../load/capacity-case.js';
import type { LoadRecord } from '../load/record.js';
import { OpHistogram } from '../measure/histogram.js';
import { unmeasured } from '../measure/outcome.js';
import type { FaultTarget, LatencyCase, LoadTarget, TimedCase } from './result.js';

export function latencyCase(c: LatencyCaseResult): LatencyCase {
  return { ...c, kind: 'latency', targets: c.targets.map((t) => ({ ...t, kind: 'latency' })) };
}

function timed<T extends FaultTarget | LoadTarget>(kind: T['kind'], params: CaseParams, outcome: { aborted: boolean; elapsedMs: number },
  targets: readonly T[]): TimedCase<T> {
  return { kind, params, stopReason: outcome.aborted ? 'aborted' : 'duration', elapsedMs: outcome.elapsedMs, targets };
}

function loadTarget(name: string, state: 'completed' | 'aborted', record: LoadRecord): LoadTarget {
  return {
    kind: 'load', name, state,
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

export function loadCase(params: CaseParams, outcome: LoadCaseOutcome): TimedCase<LoadTarget> {
  return timed('load', params, outcome, outcome.targets.map((t) => ('record' in t ? loadTarget(t.name, t.state, t.record)
    : { kind: 'load', ...unmeasured(t.name, t.state, redactSecrets(t.error)) })));
}

/** A capacity combination: each target's search, and the record of the step its row shows. */
export function capacityCase(params: CaseParams, outcome: CapacityCaseOutcome): TimedCase<LoadTarget> {
  return timed('load', params, outcome, outcome.targets.map((t) => ('record' in t ? { ...loadTarget(t.name, t.state, t.record), capacity: t.capacity, rate: t.rate }
    : { kind: 'load', ...unmeasured(t.name, t.state, redactSecrets(t.error)), ...(t.capacity !== undefined ? { capacity: t.capacity } : {}) })));
}

export function faultCase(params: CaseParams, outcome: FaultCaseOutcome): TimedCase<FaultTarget> {
  return timed('fault', params, outcome, outcome.targets.map((t) => ('measured' in t ? { kind: 'fault', name: t.name, state: t.state, ...t.measured }
    : { kind: 'fault', ...unmeasured(t.name, 'errored', redactSecrets(t.error)) })));
}
