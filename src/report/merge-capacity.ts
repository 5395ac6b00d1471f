/**
 * `cachebench merge` of capacity runs: the --shard processes of one planned staircase (START_AT) ran the same steps at
 * the same times, each offering its share of the rate; step k of the total is their step k added up (each part
 * measured again from its record, histograms added), judged against the objective again, and the knee found from
 * those merged steps. Whatever a file claims is checked against the plan first: every shard once, the planned rates,
 * the same start times.
 */
import type { CapacityPlan, LoadPlan } from '../config/resolve.js';
import { judgeStep, mergeStepMeasures, plannedRates, staircaseOutcome, type CapacityStep, type StepPart } from '../load/capacity.js';
import { mergeRecords, type LoadRecord } from '../load/record.js';
import { recordedMix, summarizeLoad, type CapacitySummary, type LoadResult } from '../load/summary.js';
import type { ResultEntry } from './document.js';
import { MergeError } from './merge-error.js';

/** A capacity row of one input, and the file it came from. */
export interface CapacityInput {
  readonly entry: ResultEntry;
  readonly file: string;
}

/** How far apart the shards' parts of one step may be planned to start, and how late one may start, before the step is not one step. */
const ALIGN_MS = 1000;

/** The settings every shard must share: what each is called, and its value in a result. */
const SHARED: readonly (readonly [string, (l: LoadResult) => unknown])[] = [
  ['the objective (SLO_*_MS)', (l) => l.capacity?.objectives], ['SLO_ERRORS', (l) => l.capacity?.maxErrorShare],
  ['CAPACITY_START_RATE', (l) => l.capacity?.startRate], ['CAPACITY_GROWTH', (l) => l.capacity?.growth], ['CAPACITY_MAX_STEPS', (l) => l.capacity?.maxSteps],
  ['START_AT', (l) => l.settings.startAt], ['WARMUP_SECONDS', (l) => l.settings.warmupSeconds], ['DURATION', (l) => l.settings.durationSeconds],
  ['WORKERS', (l) => l.settings.workers], ['CLIENTS', (l) => l.settings.clients], ['CONNECTIONS', (l) => l.settings.connections],
  ['PIPELINE', (l) => l.settings.pipeline], ['KEYSPACE', (l) => l.settings.keyspace], ['KEY_DISTRIBUTION', (l) => l.settings.distribution],
];

/** The capacity plan a summary followed. */
function planOf(c: CapacitySummary): CapacityPlan {
  return {
    objectives: c.objectives, maxErrorShare: c.maxErrorShare, startRate: c.startRate, growth: c.growth, precision: c.precision, repeats: c.repeats,
    maxSteps: c.maxSteps,
  };
}

const short = (v: unknown): string => JSON.stringify(v)?.slice(0, 80) ?? 'nothing';

/** Every input a planned, unmerged staircase of the same plan and schedule, and every shard of it exactly once. */
function checkInputs(name: string, measured: readonly CapacityInput[]): LoadResult[] {
  const loads = measured.map((x) => x.entry.load as LoadResult);
  const first = measured[0] as CapacityInput;
  for (const [i, l] of loads.entries()) {
    const file = (measured[i] as CapacityInput).file;
    if (l.mergedFrom > 1) {
      throw new MergeError(`${file}: ${name} is already a merge of ${l.mergedFrom} shards: its steps keep no records to add up again`, 'merge the shards\' own results files, each once');
    }
    if (l.settings.startAt === null) {
      throw new MergeError(`${file}: ${name} is an adaptive capacity search (no START_AT): it chose each rate from its own last step, so its steps do not line up with another process's`,
        'run every shard with the same START_AT and --shard i/N: they then follow one planned staircase, and merge adds their steps up');
    }
    const differs = SHARED.find(([, get]) => JSON.stringify(get(l)) !== JSON.stringify(get(loads[0] as LoadResult)));
    if (differs !== undefined) {
      const [key, get] = differs;
      throw new MergeError(`${name} followed different staircases: ${key} is ${short(get(loads[0] as LoadResult))} in ${first.file} and ${short(get(l))} in ${file}: their steps are not the same steps`,
        'run every shard with the same scenario, flags and START_AT');
    }
  }
  const of = loads[0]?.shard?.of;
  const indices = loads.map((l) => (l.shard !== null && l.shard.of === of ? l.shard.index : null));
  const seen = new Set(indices);
  if (loads.length > 1 && (of === undefined || indices.includes(null) || seen.size !== loads.length || seen.size !== of)) {
    const missing = of === undefined ? [] : Array.from({ length: of }, (_, i) => i).filter((i) => !seen.has(i));
    throw new MergeError(`${name}: the inputs are not every shard of one run once (${loads.map((l, i) => `${(measured[i] as CapacityInput).file}: ${l.shard === null ? 'not a shard' : `shard ${l.shard.index}/${l.shard.of}`}`).join('; ').slice(0, 600)}` +
      `${missing.length > 0 ? `; missing: ${missing.slice(0, 20).join(', ')}` : ''}): the servers carried every shard's load, so a knee from only some of them (or one twice) is wrong`,
    'give each --shard i/N results file of the run exactly once');
  }
  if (loads.length === 1 && of !== undefined && of > 1) {
    throw new MergeError(`${first.file}: ${name} is shard ${loads[0]?.shard?.index}/${of} alone: the servers carried the other shards' load too`, 'give each --shard i/N results file of the run exactly once');
  }
  return loads;
}

/**
 * The merged steps in order, up to the first that some shard did not run or started late (`incomplete` then says
 * why); a step whose parts were not the planned share, or not planned to start together, is refused.
 */
function mergedSteps(name: string, measured: readonly CapacityInput[], loads: readonly LoadResult[], plan: CapacityPlan): {
  steps: CapacityStep[]; parts: StepPart[][]; incomplete: string | null;
} {
  const rates = plannedRates(plan);
  const of = loads[0]?.shard?.of ?? 1;
  const lists = loads.map((l) => (l.capacity as CapacitySummary).steps);
  const tooMany = lists.findIndex((s) => s.length > rates.length);
  if (tooMany >= 0) throw new MergeError(`${(measured[tooMany] as CapacityInput).file}: ${name} has ${(lists[tooMany] as unknown[]).length} steps, and its plan has ${rates.length}`, 'give the results files as the shards wrote them');
  const common = Math.min(...lists.map((s) => s.length));
  const steps: CapacityStep[] = [];
  const parts: StepPart[][] = [];
  for (let k = 0; k < common; k++) {
    const rate = rates[k] as number;
    const stepParts = lists.map((s) => s[k] as CapacityStep);
    const wrong = stepParts.findIndex((s) => !(Math.abs(s.offered - rate / of) <= 1e-9 * rate));
    if (wrong >= 0) {
      throw new MergeError(`${(measured[wrong] as CapacityInput).file}: ${name}'s step ${k + 1} offered ${short((stepParts[wrong] as CapacityStep).offered)} ops/s, and the plan's share is ${short(rate / of)} (${rate} ops/s over ${of} shard${of === 1 ? '' : 's'})`,
        'give the results files as the shards wrote them');
    }
    const starts = stepParts.flatMap((s) => (s.record !== undefined ? [s.record.startMs] : []));
    if (starts.length > 0 && Math.max(...starts) - Math.min(...starts) > ALIGN_MS) {
      throw new MergeError(`${name}'s step ${k + 1} was planned to start ${((Math.max(...starts) - Math.min(...starts)) / 1000).toFixed(1)} s apart on different shards: not one step (the shards ran different targets or scenarios before it?)`,
        'run every shard with the same scenarios, targets, flags and START_AT');
    }
    const bare = stepParts.findIndex((s) => s.record === undefined && s.error === undefined);
    if (bare >= 0) {
      throw new MergeError(`${(measured[bare] as CapacityInput).file}: ${name}'s step ${k + 1} has no record and no error: its ops cannot be added up`,
        'give the shards\' own results files as they wrote them (a merged file keeps no step records)');
    }
    const late = stepParts.findIndex((s) => (s.record?.lateStartMs ?? 0) > ALIGN_MS);
    if (late >= 0) return { steps, parts, incomplete: `${(measured[late] as CapacityInput).file} started step ${k + 1} ${(((stepParts[late] as CapacityStep).record?.lateStartMs ?? 0) / 1000).toFixed(1)} s late` };
    const m = mergeStepMeasures(stepParts, rate, plan);
    steps.push({ ...m, phase: 'staircase', ...judgeStep(plan, m) });
    parts.push(stepParts);
  }
  const shortest = lists.findIndex((s) => s.length === common);
  return { steps, parts, incomplete: common < rates.length ? `${(measured[shortest] as CapacityInput).file} ran ${common} of the ${rates.length} planned steps` : null };
}

/**
 * The total of one target of a capacity merge: the merged staircase's knee (or lower bound), and the step it shows,
 * merged from the shards' records of that step (merge.ts makes the row of them, as for throughput). `notes` says where
 * the merged staircase ends early. null: no input measured anything.
 */
export function capacityTotalOf(list: readonly CapacityInput[], notes: string[], loadPlan: (l: LoadResult) => LoadPlan):
  { readonly record: LoadRecord; readonly load: LoadResult } | { readonly error: string } | null {
  const head = (list[0] as CapacityInput).entry;
  const name = `${head.target.name} (${head.scenario.name})`;
  const measured = list.filter((x) => x.entry.load?.capacity != null);
  if (measured.length === 0) return null;
  const loads = checkInputs(name, measured);
  const first = loads[0] as LoadResult;
  const summary = first.capacity as CapacitySummary;
  const plan = planOf(summary);
  const { steps, parts, incomplete } = mergedSteps(name, measured, loads, plan);
  const decided = staircaseOutcome(steps, false);
  const ended = decided.stop === 'found' || decided.stop === 'client-bound' || decided.stop === 'never-met';
  // Every merged step is kept (as a shard keeps its own), whatever the outcome was decided by.
  const outcome = { ...(ended || incomplete === null ? decided : staircaseOutcome(steps, true)), steps };
  if (!ended && incomplete !== null) {
    notes.push(steps.length > 0 ? `${name}: ${incomplete}: the merged staircase ends there, before the objective failed, so it gives a lower bound`
      : `${name}: ${incomplete}: no step was measured by every shard in time, so there is nothing to merge`);
  }
  const shown = outcome.knee ?? outcome.lowerBound;
  const at = shown === null ? steps.length - 1 : steps.findIndex((s) => s.offered === shown);
  const records = (parts[at] ?? []).flatMap((p, input) => (p.record !== undefined
    ? [{ ...p.record, workers: p.record.workers.map((w) => ({ ...w, input })) }] : []));
  if (records.length === 0) return { error: 'no step was measured by every shard' };
  const record = mergeRecords(records);
  // The merged steps keep no records of their own: the shards' files hold them.
  const capacity: CapacitySummary = { ...summary, ...outcome };
  const rate = (steps[at] as CapacityStep).offered;
  return { record, load: summarizeLoad(record, loadPlan(first), {
    mergedFrom: list.length, rate, startAt: first.settings.startAt, capacity, mix: recordedMix(first.settings),
  }) };
}
