/**
 * `cachebench merge` of capacity runs: the --shard processes of one planned staircase (START_AT) ran the same steps at
 * the same times, each offering its share of the rate; step k of the total is their step k added up (rates and counts
 * summed, histograms added), judged against the objective again, and the knee found from those merged steps.
 */
import type { CapacityPlan, LoadPlan } from '../config/resolve.js';
import { judgeStep, mergeStepMeasures, staircaseOutcome, type CapacityStep, type StepMeasure } from '../load/capacity.js';
import { mergeRecords } from '../load/record.js';
import { summarizeLoad, type CapacitySummary, type LoadResult } from '../load/summary.js';
import { OpHistogram } from '../measure/histogram.js';
import type { ResultEntry } from './document.js';
import { MergeError } from './merge-error.js';

/** A step without its record. */
function withoutRecord(step: CapacityStep): CapacityStep {
  const copy: { -readonly [K in keyof CapacityStep]: CapacityStep[K] } = { ...step };
  delete copy.record;
  return copy;
}

/** A capacity row of one input, and the file it came from. */
export interface CapacityInput {
  readonly entry: ResultEntry;
  readonly file: string;
}

/** The plan fields every shard must share, and the planned schedule (START_AT, step length) with them. */
function scheduleOf(l: LoadResult): string {
  const c = l.capacity as CapacitySummary;
  const s = l.settings;
  return JSON.stringify([c.objectives, c.maxErrorShare, c.startRate, c.growth, c.maxSteps, s.startAt, s.warmupSeconds, s.durationSeconds,
    s.workers, s.clients, s.connections, s.pipeline, s.keyspace, s.distribution]);
}

/** The capacity plan a summary followed. */
function planOf(c: CapacitySummary): CapacityPlan {
  return {
    objectives: c.objectives, maxErrorShare: c.maxErrorShare, startRate: c.startRate, growth: c.growth, precision: c.precision, repeats: c.repeats,
    maxSteps: c.maxSteps,
  };
}

/** Checks the inputs of one target can be added up step by step; returns their results. */
function checkInputs(name: string, measured: readonly CapacityInput[]): LoadResult[] {
  const loads = measured.map((x) => x.entry.load as LoadResult);
  for (const [i, l] of loads.entries()) {
    const file = (measured[i] as CapacityInput).file;
    if (l.mergedFrom > 1) {
      throw new MergeError(`${file}: ${name} is already a merge of ${l.mergedFrom} shards: its steps keep no records to add up again`, 'merge the shards\' own results files, each once');
    }
    if (l.settings.startAt === null) {
      throw new MergeError(`${file}: ${name} is an adaptive capacity search (no START_AT): it chose each rate from its own last step, so its steps do not line up with another process's`,
        'run every shard with the same START_AT and --shard i/N: they then follow one planned staircase, and merge adds their steps up');
    }
    if ((l.capacity as CapacitySummary).steps.some((s) => s.record === undefined && s.error === undefined)) {
      throw new MergeError(`${file}: ${name}'s capacity steps keep no records (written by a cachebench from before 2026-12-07): their histograms cannot be added up`,
        'run the shards again with this version of cachebench');
    }
    const first = measured[0] as CapacityInput;
    if (scheduleOf(l) !== scheduleOf(loads[0] as LoadResult)) {
      throw new MergeError(`${name} followed different staircases in ${first.file} and ${file} (objective, CAPACITY_START_RATE, CAPACITY_GROWTH, CAPACITY_MAX_STEPS, START_AT, the step's length or load shape differ): their steps are not the same steps`,
        'run every shard with the same scenario, flags and START_AT');
    }
  }
  return loads;
}

/** The merged steps, in order, up to the first that some shard did not run (`incomplete` then names the shortest input). */
function mergedSteps(loads: readonly LoadResult[], plan: CapacityPlan): { steps: CapacityStep[]; parts: StepMeasure[][]; shortest: number } {
  const lengths = loads.map((l) => (l.capacity as CapacitySummary).steps.length);
  const common = Math.min(...lengths);
  const steps: CapacityStep[] = [];
  const parts: StepMeasure[][] = [];
  for (let k = 0; k < common; k++) {
    const of = loads.map((l) => (l.capacity as CapacitySummary).steps[k] as CapacityStep);
    const m = mergeStepMeasures(of, plan);
    steps.push({ ...m, phase: 'staircase', ...judgeStep(plan, m) });
    parts.push(of);
  }
  return { steps, parts, shortest: lengths.indexOf(common) };
}

/**
 * The total row of one target of a capacity merge: the merged staircase's knee (or lower bound), and the step it
 * shows merged from the shards' records of that step. `notes` says where the merged staircase ends early.
 */
export function capacityTotalOf(list: readonly CapacityInput[], notes: string[], loadPlan: (l: LoadResult) => LoadPlan): ResultEntry | null {
  const head = (list[0] as CapacityInput).entry;
  const name = `${head.target.name} (${head.scenario.name})`;
  const measured = list.filter((x) => x.entry.load?.capacity != null);
  if (measured.length === 0) return null;
  const loads = checkInputs(name, measured);
  const first = loads[0] as LoadResult;
  const summary = first.capacity as CapacitySummary;
  const plan = planOf(summary);
  const { steps, parts, shortest } = mergedSteps(loads, plan);
  let outcome = staircaseOutcome(steps, false);
  const decided = outcome.stop === 'found' || outcome.stop === 'client-bound' || outcome.stop === 'never-met';
  const longest = Math.max(...loads.map((l) => (l.capacity as CapacitySummary).steps.length));
  if (!decided && longest > steps.length) {
    outcome = staircaseOutcome(steps, true);
    notes.push(`${name}: ${(measured[shortest] as CapacityInput).file} ran ${steps.length} step${steps.length === 1 ? '' : 's'} and another input ${longest}: the merged staircase ends where every shard measured, before the objective failed, so it gives a lower bound`);
  }
  const shown = outcome.knee ?? outcome.lowerBound;
  const at = shown === null ? steps.length - 1 : steps.findIndex((s) => s.offered === shown);
  const records = (parts[at] ?? []).flatMap((p, input) => (p.record !== undefined
    ? [{ ...p.record, workers: p.record.workers.map((w) => ({ ...w, input })) }] : []));
  if (records.length === 0) return { ...head, state: 'errored', error: 'no step was measured by every shard', baseline: false, load: null };
  const record = mergeRecords(records);
  // The merged steps keep no records of their own: the shards' files hold them.
  const capacity: CapacitySummary = { ...summary, ...outcome, steps: outcome.steps.map((s) => withoutRecord(s)) };
  const load = summarizeLoad(record, loadPlan(first),
    { mergedFrom: list.length, rate: (steps[at] as CapacityStep).offered, startAt: first.settings.startAt, capacity });
  return {
    ...head,
    baseline: false,
    ops: {
      set: OpHistogram.decode(record.histograms.set).summarize(record.setErrors),
      get: OpHistogram.decode(record.histograms.get).summarize(record.getErrors),
    },
    verification: {
      reads: record.verified + record.missing + record.mismatched, verified: record.verified, missing: record.missing, mismatched: record.mismatched,
    },
    undeletedKeys: list.reduce((n, x) => n + x.entry.undeletedKeys, 0),
    load,
  };
}
