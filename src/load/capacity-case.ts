import type { CaseParams, RunControls } from '../config/resolve.js';
import { redactedMessage } from '../config/redact.js';
import type { ConnectedTarget } from '../targets/client.js';
import { judgeStep, measureOf, plannedRates, runPlannedStaircase, searchCapacity, type CapacityOutcome } from './capacity.js';
import { caseSpacingMs, runLoadCase, timelineOf, type LoadCaseOptions } from './case.js';
import { timelineMs } from './timeline.js';
import type { LoadPlan } from '../config/resolve.js';
import type { LoadRecord } from './record.js';

/** One target's capacity search: every step, the knee, and the record of the step the table shows (see CapacityTargetOutcome.rate). */
export type CapacityTargetOutcome =
  | { readonly name: string; readonly state: 'completed' | 'aborted'; readonly capacity: CapacityOutcome; readonly record: LoadRecord; readonly rate: number }
  | { readonly name: string; readonly state: 'errored' | 'aborted'; readonly error: string; readonly capacity?: CapacityOutcome };

export interface CapacityCaseOutcome {
  readonly aborted: boolean;
  readonly elapsedMs: number;
  readonly targets: readonly CapacityTargetOutcome[];
}

/** Under START_AT, the time between the starts of two steps of a planned staircase (as between throughput combinations of one target). */
const stepSpacingMs = (load: LoadPlan, shards: number): number => caseSpacingMs(load, 1, shards);

/**
 * Under START_AT, the time a capacity combination's planned staircases take (every target's, in turn), the same on
 * every shard, and room after them to preload the next combination's keys (every target's, as a throughput
 * combination preloads them); 0 without START_AT.
 */
export function capacitySpanMs(load: LoadPlan, targets: number, shards: number): number {
  if (load.capacity === null || load.startAtMs === null) return 0;
  const next = caseSpacingMs(load, targets, shards) - timelineMs(timelineOf(load, targets));
  return targets * plannedRates(load.capacity).length * stepSpacingMs(load, shards) + next;
}

/**
 * A capacity run of one parameter combination: each target in turn searched step by step (load/capacity.ts), every
 * step an open-loop throughput run of that target alone at the step's rate (WARMUP_SECONDS + DURATION, its own
 * workers, keys deleted after it). The record kept for the table is the last step at the knee (or, client-bound, at
 * the lower bound; without either, the last step); a planned step keeps its own record too (`cachebench merge` adds the
 * shards' steps up). With START_AT the targets follow planned staircases, target after target, step k of target j
 * starting (j × steps + k) step spacings after the combination's start on every --shard process, each offering its
 * share of the rate.
 */
export async function runCapacityCase(targets: readonly ConnectedTarget[], params: CaseParams, controls: RunControls,
  options: LoadCaseOptions): Promise<CapacityCaseOutcome> {
  const started = performance.now();
  const plan = controls.load.capacity;
  if (plan === null) throw new Error('runCapacityCase without a capacity plan');
  const aborted = (): boolean => options.signal?.aborted === true;
  const planned = controls.load.startAtMs !== null;
  const slots = plannedRates(plan).length;
  const results: CapacityTargetOutcome[] = [];
  for (const [index, target] of targets.entries()) {
    const name = target.config.name;
    if (aborted()) {
      results.push({ name, state: 'aborted', error: 'interrupted before its search started' });
      continue;
    }
    const records = new Map<number, LoadRecord>();
    let last: { record: LoadRecord; rate: number } | undefined;
    let failure: string | undefined;
    let step = 0;
    const search = planned ? runPlannedStaircase : searchCapacity;
    const capacity = await search(plan, async (rate, phase) => {
      const startOffsetMs = planned ? options.startOffsetMs + (index * slots + step) * stepSpacingMs(controls.load, options.shard.of) : 0;
      const outcome = await runLoadCase([target], params, { ...controls, load: { ...controls.load, mode: 'throughput', rate, sliceMs: 0 } },
        { ...options, startOffsetMs });
      const t = outcome.targets[0];
      if (outcome.aborted || t === undefined) return null;
      // This process's share of the rate (the whole rate unless --shard): what it offered and is judged by.
      const offered = rate / options.shard.of;
      if (!('record' in t)) {
        // A step that could not be measured is a step that failed: the search goes on (down), and keeps its steps.
        const measure = { offered, achieved: 0, ops: 0, errors: 0, latencyMs: {}, clientBound: false, error: t.error };
        options.onProgress?.({ kind: 'capacity-step', target: name, step: ++step, phase, rate, met: false, why: judgeStep(plan, measure).why, clientBound: false });
        return measure;
      }
      records.set(offered, t.record);
      last = { record: t.record, rate: offered };
      // A planned step keeps its record: `cachebench merge` adds the shards' steps up from them.
      const measure = { ...measureOf(t.record, offered, plan), ...(planned ? { record: t.record } : {}) };
      const verdict = judgeStep(plan, measure);
      options.onProgress?.({ kind: 'capacity-step', target: name, step: ++step, phase, rate, met: verdict.met, why: verdict.why, clientBound: measure.clientBound });
      return measure;
    }).catch((error: unknown) => {
      failure = redactedMessage(error);
      return undefined;
    });
    if (capacity === undefined || failure !== undefined) {
      const error = failure ?? 'the capacity search failed';
      options.onProgress?.({ kind: 'target-errored', target: name, error });
      results.push({ name, state: aborted() ? 'aborted' : 'errored', error, ...(capacity !== undefined ? { capacity } : {}) });
      continue;
    }
    const shown = capacity.knee ?? capacity.lowerBound;
    const kept = shown !== null && records.has(shown) ? { record: records.get(shown) as LoadRecord, rate: shown } : last;
    if (kept === undefined) {
      results.push({ name, state: aborted() ? 'aborted' : 'errored', error: aborted() ? 'interrupted before its first step ended' : 'no step was measured', capacity });
      continue;
    }
    results.push({ name, state: aborted() ? 'aborted' : 'completed', capacity, ...kept });
  }
  return { aborted: aborted(), elapsedMs: performance.now() - started, targets: results };
}
