import type { LoadPlan } from '../config/resolve.js';
import { mergeRecords } from '../load/record.js';
import { summarizeLoad, type LoadResult } from '../load/summary.js';
import { OpHistogram } from '../measure/histogram.js';
import { finishLoadEntries, type ResultEntry, type ResultsDocument } from './model.js';

/** A results.json given to `cachebench merge`, with the name it is reported under. */
export interface MergeInput {
  readonly file: string;
  readonly doc: ResultsDocument;
}

/** Why a set of results cannot be merged (the CLI maps it to exit 2, naming the file). */
export class MergeError extends Error {
  override readonly name = 'MergeError';
}

/** The LoadPlan a throughput result was measured with, from its recorded settings. */
function planOf(l: LoadResult): LoadPlan {
  const s = l.settings;
  const zipf = /^zipf:(.+)$/.exec(s.distribution);
  return {
    mode: 'throughput', clients: s.clients, connections: s.connections, pipeline: s.pipeline, rate: s.rate ?? 0,
    warmupMs: s.warmupSeconds * 1000, durationMs: s.durationSeconds * 1000, workers: s.workers, keyspace: s.keyspace,
    distribution: zipf !== null ? { kind: 'zipf', exponent: Number(zipf[1]) } : s.distribution === 'sequential' ? { kind: 'sequential' } : { kind: 'uniform' },
    startAtMs: s.startAt === null ? null : Date.parse(s.startAt),
  };
}

const keyOf = (e: ResultEntry): string => `${e.scenario.name} ${JSON.stringify(e.scenario.params)} ${e.target.name}`;
const worst = (states: readonly ResultEntry['state'][]): ResultEntry['state'] => (states.includes('errored') ? 'errored' : states.includes('aborted') ? 'aborted' : 'completed');

/**
 * Merges the throughput results of several processes (`--shard i/N` runs, or any runs of the same scenario) into one
 * document: per scenario × parameters × target one total row (records merged: counts summed, HDR histograms added,
 * seconds aligned by wall clock; statistics computed again from the merged data, never averaged) followed by each
 * input's own row. Latency and fault results are not mergeable and are refused. `notes` says what looks wrong
 * (shards missing or repeated, different START_AT).
 */
export function mergeDocuments(inputs: readonly MergeInput[], runId: string, explicitBaseline?: string): { doc: ResultsDocument; notes: string[]; totals: ResultEntry[] } {
  const first = inputs[0];
  if (first === undefined) throw new MergeError('nothing to merge');
  const groups = new Map<string, { entry: ResultEntry; file: string }[]>();
  for (const { file, doc } of inputs) {
    for (const e of doc.results) {
      if (e.load == null) {
        throw new MergeError(`${file}: ${e.scenario.name} ${e.target.name} is not a throughput result (MODE=latency or a fault run): only throughput runs merge, since their histograms and per-second counts add up`);
      }
      groups.set(keyOf(e), [...(groups.get(keyOf(e)) ?? []), { entry: e, file }]);
    }
  }
  if (groups.size === 0) throw new MergeError(`${first.file}: no results to merge`);
  const notes: string[] = [];
  const results: ResultEntry[] = [];
  const totalAt: number[] = [];
  for (const list of groups.values()) {
    const from = results.length;
    totalAt.push(from);
    const loads = list.map((x) => x.entry.load as LoadResult);
    const head = list[0]?.entry as ResultEntry;
    const shards = loads.map((l) => l.shard);
    const of = shards[0]?.of;
    if (shards.every((s) => s !== null && s.of === of) && of !== undefined) {
      const seen = new Set(shards.map((s) => s?.index));
      const missing = Array.from({ length: of }, (_, i) => i).filter((i) => !seen.has(i));
      if (missing.length > 0) notes.push(`${head.target.name} (${head.scenario.name}): shard${missing.length === 1 ? '' : 's'} ${missing.join(', ')} of ${of} missing: the total covers ${seen.size} of ${of} shards`);
      if (seen.size < shards.length) notes.push(`${head.target.name} (${head.scenario.name}): a shard is given more than once: its ops are counted twice`);
    }
    const starts = new Set(loads.map((l) => l.settings.startAt));
    if (starts.size > 1) notes.push(`${head.target.name} (${head.scenario.name}): the inputs started at different times (START_AT ${[...starts].map(String).join(', ')}): their seconds are aligned by wall clock, and the total's per-second figures cover only the overlap correctly`);
    const record = mergeRecords(loads.map((l) => l.record));
    const plan = planOf(loads[0] as LoadResult);
    const totalRate = loads[0]?.settings.rate ?? 0;
    const load = summarizeLoad(record, plan, { mergedFrom: list.length, rate: totalRate, startAt: loads[0]?.settings.startAt ?? null });
    const reads = record.verified + record.missing + record.mismatched;
    const errors: Record<string, number> = {};
    for (const x of list) for (const [m, n] of Object.entries(x.entry.errors)) errors[m] = (errors[m] ?? 0) + n;
    const states = list.map((x) => x.entry.state);
    results.push({
      ...head,
      state: worst(states),
      error: list.map((x) => x.entry.error).filter((x): x is string => x !== null).join('; ') || null,
      baseline: false,
      ops: {
        set: OpHistogram.decode(record.histograms.set).summarize(record.setErrors),
        get: OpHistogram.decode(record.histograms.get).summarize(record.getErrors),
      },
      verification: { reads, verified: record.verified, missing: record.missing, mismatched: record.mismatched },
      errors,
      undeletedKeys: list.reduce((n, x) => n + x.entry.undeletedKeys, 0),
      load,
    });
    // An input's own row is shown, not compared: its Percent was against its own run's baseline.
    for (const x of list) {
      const l = x.entry.load as LoadResult;
      results.push({ ...x.entry, baseline: false, load: { ...l, throughput: { ...l.throughput, percent: null, percentLower: null, percentUpper: null } } });
    }
    finishLoadEntries(results, from, explicitBaseline);
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
    results,
  };
  return { doc, notes, totals: totalAt.map((i) => results[i] as ResultEntry) };
}
