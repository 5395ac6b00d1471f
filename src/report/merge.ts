import type { LoadPlan } from '../config/resolve.js';
import { MAX_RUN_RESULTS } from '../config/limits.js';
import { mergeRecords, type LoadRecord } from '../load/record.js';
import { recordedMix, summarizeLoad, type LoadResult } from '../load/summary.js';
import { OpHistogram } from '../measure/histogram.js';
import { finishLoadEntries } from './model.js';
import { MAX_MERGE_NOTES, MAX_NOTE_CHARS, type ResultEntry, type ResultsDocument } from './document.js';
import { caseKey } from './sentences.js';
import { capacityTotalOf } from './merge-capacity.js';
import { withoutRecord } from '../load/capacity.js';
import { MergeError } from './merge-error.js';
import { maxOf, minOf } from '../stats/extent.js';

/** A results.json given to `cachebench merge`, with the name it is reported under. */
export interface MergeInput {
  readonly file: string;
  readonly doc: ResultsDocument;
}

export { MergeError } from './merge-error.js';

/** The LoadPlan a throughput result was measured with, from its recorded settings. */
function planOf(l: LoadResult): LoadPlan {
  const s = l.settings;
  const zipf = /^zipf:(.+)$/.exec(s.distribution);
  return {
    mode: 'throughput', clients: s.clients, connections: s.connections, pipeline: s.pipeline, rate: s.rate ?? 0,
    warmupMs: s.warmupSeconds * 1000, durationMs: s.durationSeconds * 1000, sliceMs: (s.sliceSeconds ?? 0) * 1000, workers: s.workers, keyspace: s.keyspace,
    distribution: zipf !== null ? { kind: 'zipf', exponent: Number(zipf[1]) } : s.distribution === 'sequential' ? { kind: 'sequential' } : { kind: 'uniform' },
    startAtMs: s.startAt === null ? null : Date.parse(s.startAt), capacity: null,
    // The mix's per-command results are merged from the records; the plan itself is not needed to merge them.
    workload: null, trace: null,
  };
}

const worst = (states: readonly ResultEntry['state'][]): ResultEntry['state'] => (states.includes('errored') ? 'errored' : states.includes('aborted') ? 'aborted' : 'completed');
/**
 * An input's own row is shown, not compared: its Percent was against its own run's baseline. Its capacity steps' records
 * stay in its own file (the merge has added them up).
 */
const shown = (e: ResultEntry): ResultEntry => (e.load == null ? { ...e, baseline: false }
  : { ...e, baseline: false, load: { ...e.load, throughput: { ...e.load.throughput, percent: null, percentLower: null, percentUpper: null,
      percentPairs: null }, ...(e.load.capacity != null ? { capacity: { ...e.load.capacity, steps: e.load.capacity.steps.map(withoutRecord) } } : {}) } });

/** What every total row says of its inputs: shards missing or repeated, inputs that measured nothing. */
function shardNotes(name: string, list: readonly { entry: ResultEntry; file: string }[], notes: string[]): void {
  const loads = list.flatMap((x) => (x.entry.load != null ? [x.entry.load] : []));
  const errored = list.filter((x) => x.entry.load == null);
  if (errored.length > 0) notes.push(`${name}: ${errored.map((x) => x.file).join(', ')} measured nothing (${errored.map((x) => x.entry.error ?? x.entry.state).join('; ')}): the total leaves ${errored.length === 1 ? 'it' : 'them'} out`);
  const shards = loads.map((l) => l.shard);
  const of = shards[0]?.of;
  if (of !== undefined && shards.every((s) => s !== null && s.of === of)) {
    const seen = new Set(shards.map((s) => s?.index));
    const missing = Array.from({ length: of }, (_, i) => i).filter((i) => !seen.has(i));
    if (missing.length > 0) notes.push(`${name}: shard${missing.length === 1 ? '' : 's'} ${missing.join(', ')} of ${of} missing: the total covers ${seen.size} of ${of} shards`);
    if (seen.size < shards.length) notes.push(`${name}: a shard is given more than once: its ops are counted twice`);
  }
}

/** Error counts, state and error of a total row: every input's, added up. */
function outcomeOf(list: readonly { entry: ResultEntry; file: string }[]): Pick<ResultEntry, 'errors' | 'state' | 'error'> {
  // A Map, then own fields: a message `__proto__` (from a file) stays a message, never the object's prototype.
  const counts = new Map<string, number>();
  for (const x of list) for (const [m, n] of Object.entries(x.entry.errors)) counts.set(m, (counts.get(m) ?? 0) + n);
  const error = list.map((x) => x.entry.error).filter((x): x is string => x !== null).join('; ') || null;
  return { errors: Object.fromEntries(counts), state: worst(list.map((x) => x.entry.state)), error };
}

/** The total row of one target: its inputs' records merged, statistics computed again from the merged data. */
function totalOf(list: readonly { entry: ResultEntry; file: string }[], notes: string[]): ResultEntry {
  const head = list[0]?.entry as ResultEntry;
  const name = `${head.target.name} (${head.scenario.name})`;
  shardNotes(name, list, notes);
  const outcome = outcomeOf(list);
  if (head.load?.capacity != null || list.some((x) => x.entry.load?.capacity != null)) {
    const total = capacityTotalOf(list, notes, planOf);
    if (total === null) return { ...head, ...outcome, state: 'errored', baseline: false, load: null };
    if ('error' in total) return { ...head, ...outcome, state: 'errored', error: [total.error, outcome.error].filter((x) => x != null).join('; '), baseline: false, load: null };
    return totalRow(head, outcome, list, total.record, total.load);
  }
  const loads = list.flatMap((x) => (x.entry.load != null ? [x.entry.load] : []));
  const starts = [...new Set(loads.map((l) => l.record.startMs))];
  if (starts.length > 1) {
    const spread = maxOf(starts) - minOf(starts);
    notes.push(`${name}: the inputs' measured parts began up to ${(spread / 1000).toFixed(3)} s apart (${loads.some((l) => l.settings.startAt === null) ? 'not all had START_AT' : 'a shard started late'}): seconds are aligned to the nearest wall-clock second, so the total's per-second figures are exact only where they overlap`);
  }
  if (loads.length === 0) return { ...head, ...outcome, state: 'errored', baseline: false, load: null };
  // Each input ran on its own (a machine, a process): its workers are told apart, so their CPU use is not added up.
  const record = mergeRecords(loads.map((l, input) => ({ ...l.record, workers: l.record.workers.map((w) => ({ ...w, input })) })));
  const first = loads[0] as LoadResult;
  const load = summarizeLoad(record, planOf(first), {
    mergedFrom: list.length, rate: first.settings.rate ?? 0, startAt: first.settings.startAt, mix: recordedMix(first.settings),
  });
  return totalRow(head, outcome, list, record, load);
}

/** A total row: the first input's names, every input's outcome, and the merged record's ops, verification and load. */
function totalRow(head: ResultEntry, outcome: Pick<ResultEntry, 'errors' | 'state' | 'error'>, list: readonly { entry: ResultEntry }[], record: LoadRecord,
  load: LoadResult): ResultEntry {
  return {
    ...head,
    ...outcome,
    baseline: false,
    ops: {
      set: OpHistogram.decode(record.histograms.set).summarize(record.setErrors),
      get: OpHistogram.decode(record.histograms.get).summarize(record.getErrors),
    },
    verification: { reads: record.verified + record.missing + record.mismatched, verified: record.verified, missing: record.missing,
      mismatched: record.mismatched },
    undeletedKeys: list.reduce((n, x) => n + x.entry.undeletedKeys, 0),
    load,
  };
}

/**
 * Shards of one target must have measured it through one client set-up: ops/s of different drivers (ioredis, or
 * cachebench's own resp, the default of throughput runs since 2026-12-07) do not add up to one total.
 */
function checkSetups(cases: ReadonlyMap<string, ReadonlyMap<string, readonly { entry: ResultEntry; file: string }[]>>): void {
  for (const targets of cases.values()) {
    for (const [name, list] of targets) {
      const setup = (e: ResultEntry): string => JSON.stringify([e.target.client, e.target.cache, e.target.readFrom, e.target.wait]).slice(0, 200);
      const first = list[0];
      const other = list.find((x) => first !== undefined && setup(x.entry) !== setup(first.entry));
      if (first === undefined || other === undefined) continue;
      throw new MergeError(`${name} was measured through different client set-ups: ${setup(first.entry)} in ${first.file}, ${setup(other.entry)} in ${other.file} ` +
        '(client, cache, reads from, WAIT): their ops/s do not add up',
      `run every shard with the same set-up (name <NAME>_CLIENT, e.g. ${name}_CLIENT=resp, on each) and merge those`);
    }
  }
  for (const targets of cases.values()) {
    for (const [name, list] of targets) {
      const mix = (e: ResultEntry): string => JSON.stringify(e.load != null ? recordedMix(e.load.settings) : {});
      const measured = list.filter((x) => x.entry.load != null);
      const first = measured[0];
      const other = measured.find((x) => first !== undefined && mix(x.entry) !== mix(first.entry));
      if (first === undefined || other === undefined) continue;
      const said = (e: ResultEntry): string => mix(e).slice(0, 300);
      throw new MergeError(`${name} ran different WORKLOADs: ${said(first.entry)} in ${first.file}, ${said(other.entry)} in ${other.file} (WORKLOAD, VALUE_SIZES, TTLs): ` +
        'their ops per command do not add up to one mix', 'run every shard with the same WORKLOAD, VALUE_SIZES, KEY_TTL and KEY_TTL_MAX, and merge those');
    }
  }
}

/** The notes a document keeps: each at most MAX_NOTE_CHARS, at most MAX_MERGE_NOTES, the last saying how many more there were. */
function keptNotes(notes: readonly string[]): string[] {
  const cut = (n: string): string => (n.length > MAX_NOTE_CHARS ? `${n.slice(0, MAX_NOTE_CHARS - 1)}…` : n);
  if (notes.length <= MAX_MERGE_NOTES) return notes.map(cut);
  return [...notes.slice(0, MAX_MERGE_NOTES - 1).map(cut), `… and ${notes.length - MAX_MERGE_NOTES + 1} more notes (cachebench merge printed them all on stderr)`];
}

/**
 * Merges the throughput results of several processes (`--shard i/N` runs, or any runs of the same scenario) into one
 * document: per scenario × parameters, one total row per target (records merged: counts summed, HDR histograms added,
 * seconds aligned by wall clock; statistics and Percent computed again from the merged data, never averaged), then
 * each input's own row. Capacity runs of a planned staircase merge step by step (merge-capacity.ts). Latency and fault
 * results are refused. `notes` says what looks wrong (shards missing or
 * repeated, inputs that measured nothing, measured parts that did not begin together).
 */
export function mergeDocuments(inputs: readonly MergeInput[], runId: string,
  explicitBaseline?: string): { doc: ResultsDocument; notes: string[]; totals: ResultEntry[] } {
  const first = inputs[0];
  if (first === undefined) throw new MergeError('nothing to merge');
  const cases = new Map<string, Map<string, { entry: ResultEntry; file: string }[]>>();
  for (const { file, doc } of inputs) {
    for (const e of doc.results) {
      const modeOf = (name: string): unknown => doc.scenarios.find((sc) => sc.name === name)?.settings.MODE?.value;
      const capacityRun = e.load?.capacity != null || modeOf(e.scenario.name) === 'capacity';
      // A throughput target that errored has no load result, but is still a throughput row.
      const throughputRun = e.load != null || (e.state !== 'completed' && e.fault == null && e.stats.n === 0 && (modeOf(e.scenario.name) === 'throughput' || capacityRun));
      if (!throughputRun) {
        throw new MergeError(`${file}: ${e.scenario.name} ${e.target.name} is not a throughput or capacity result (MODE=latency or a fault run): only throughput and capacity runs merge, since their histograms and per-second counts add up`,
          'give only the shards\' results files: run each shard with --out results/shards (each run gets its own folder there) and merge results/shards/*/results.json');
      }
      if (e.load?.trace !== undefined) {
        throw new MergeError(`${file}: ${e.scenario.name} ${e.target.name} is a trace replay (TRACE ${e.load.trace.name}): one process replays a whole trace, so there are no shards to merge`,
          'report it on its own with cachebench report, or compare two replays with cachebench compare');
      }
      const kindDiffers = (x: { entry: ResultEntry }): boolean => x.entry.load != null && e.load != null
        && (x.entry.load.capacity != null) !== (e.load.capacity != null);
      const other = cases.get(caseKey(e))?.get(e.target.name)?.find(kindDiffers);
      if (other !== undefined) {
        throw new MergeError(`${e.scenario.name} ${e.target.name} is a capacity result in ${capacityRun ? file : other.file} and a throughput result in ${capacityRun ? other.file : file}: they do not add up`,
          'merge the shards of one run: the same scenario (and MODE) on every shard');
      }
      const targets = cases.get(caseKey(e)) ?? new Map<string, { entry: ResultEntry; file: string }[]>();
      targets.set(e.target.name, [...(targets.get(e.target.name) ?? []), { entry: e, file }]);
      cases.set(caseKey(e), targets);
    }
  }
  if (cases.size === 0) throw new MergeError(`${first.file}: no results to merge`);
  checkSetups(cases);
  const notes: string[] = [];
  const results: ResultEntry[] = [];
  const totals: ResultEntry[] = [];
  for (const targets of cases.values()) {
    const from = results.length;
    for (const list of targets.values()) results.push(totalOf(list, notes));
    // Percent among the totals of this parameter combination (higher is better), before the inputs' rows follow.
    finishLoadEntries(results, from, explicitBaseline);
    totals.push(...results.slice(from));
    for (const list of targets.values()) for (const x of list) results.push(shown(x.entry));
  }
  if (results.length > MAX_RUN_RESULTS) {
    throw new MergeError(`the merge would hold ${results.length} results (${totals.length} totals and each input's rows), more than the ${MAX_RUN_RESULTS} a results file may hold`, 'merge fewer files at once');
  }
  const docs = inputs.map((i) => i.doc);
  const targets = new Map(docs.flatMap((d) => d.environment.targets).map((t) => [t.name, t]));
  const doc: ResultsDocument = {
    ...first.doc,
    runId,
    startedAt: docs.map((d) => d.startedAt).sort()[0] ?? first.doc.startedAt,
    finishedAt: docs.map((d) => d.finishedAt).sort().at(-1) ?? first.doc.finishedAt,
    aborted: docs.some((d) => d.aborted),
    environment: { ...first.doc.environment, targets: [...targets.values()] },
    baseline: { rule: explicitBaseline !== undefined ? 'explicit' : 'fastest', name: explicitBaseline ?? null },
    mergedFrom: inputs.map((i) => ({ file: i.file, runId: i.doc.runId, startedAt: i.doc.startedAt })),
    ...(notes.length > 0 ? { mergeNotes: keptNotes(notes) } : {}),
    results,
  };
  return { doc, notes, totals };
}
