import type { ResultEntry, ResultsDocument } from './document.js';

/*
 * What the reports say about a results document in words: what makes an entry a failure, the notes under a table,
 * the Percent with its interval and the sentence that concludes a table.
 */

/**
 * What makes an entry a failure, in words (empty: none): verification failures, failed ops,
 * a target dropped after repeated failures, no measured iteration at all. Used by `run`'s exit code and by the gate.
 */
export function entryFailures(e: ResultEntry): string[] {
  const out: string[] = [];
  if (e.fault != null) {
    // A fault run that completes as designed passes with failed ops and missing reads (they are its result; gate
    // them with --max-lost-writes / --max-window). Wrong bytes are a routing or data bug, never part of the design.
    if (e.verification.mismatched > 0) out.push(`${e.target.name}: ${e.verification.mismatched} mismatched reads`);
    if (e.state === 'errored') out.push(`${e.target.name}: errored${e.error ? ` (${e.error})` : ''}`);
    if (e.state === 'completed' && e.ops.set.count === 0) out.push(`${e.target.name}: no write acknowledged in the whole fault run`);
    // A fault run whose fault was never made (or went wrong) measured nothing it was meant to: never green.
    if (e.state === 'completed' && e.fault.injectedAtMs === null) out.push(`${e.target.name}: the fault was never injected`);
    for (const ev of e.fault.events.filter((x) => !x.ok)) out.push(`${e.target.name}: the fault did not go as planned: ${ev.what}`);
    return out;
  }
  if (e.verification.missing > 0) out.push(`${e.target.name}: ${e.verification.missing} missing reads`);
  if (e.verification.mismatched > 0) out.push(`${e.target.name}: ${e.verification.mismatched} mismatched reads`);
  const failed = e.ops.get.errors + e.ops.set.errors;
  if (failed > 0) out.push(`${e.target.name}: ${failed} failed ops`);
  if (e.state === 'errored') out.push(`${e.target.name}: errored${e.error ? ` (${e.error})` : ''}`);
  if (e.load != null) {
    // A throughput run that measured nothing must never pass.
    if (e.state === 'completed' && e.load.throughput.mean === null) out.push(`${e.target.name}: no second measured`);
    else if (e.state === 'completed' && e.ops.set.count + e.ops.get.count === 0) out.push(`${e.target.name}: no op succeeded in the measured part`);
    return out;
  }
  // A run that measured nothing must never pass (e.g. MAX_TIME shorter than one iteration).
  if (e.state === 'completed' && e.stats.n + e.stats.outliers === 0) out.push(`${e.target.name}: no iteration measured (stopped: ${e.iterations.stopReason})`);
  return out;
}

/** Iterations a latency entry measured (kept and outliers). */
const measuredIterations = (e: ResultEntry): number => e.stats.n + e.stats.outliers;

/**
 * A completed entry with no measurement at all: no iteration (latency), no measured second or no successful op
 * (throughput). Such a row never shows `ok` (and entryFailures fails the run).
 */
export function measuredNothing(e: ResultEntry): boolean {
  if (e.state !== 'completed' || e.fault != null) return false;
  if (e.load != null) return e.load.throughput.mean === null || e.ops.set.count + e.ops.get.count === 0;
  return measuredIterations(e) === 0;
}

/**
 * A latency entry that stopped (at MAX_TIME or MAX_ITERATIONS) before the MIN_ITERATIONS rounds its scenario asked
 * for: its numbers stand on fewer rounds than the run was designed for. `{ measured, wanted }`, or undefined.
 */
export function underMeasured(e: ResultEntry): { readonly measured: number; readonly wanted: number } | undefined {
  const wanted = e.iterations.minIterations;
  if (wanted === undefined || e.state !== 'completed' || e.load != null || e.fault != null) return undefined;
  const measured = measuredIterations(e);
  return measured > 0 && measured < wanted ? { measured, wanted } : undefined;
}

/** The Client GC share (harness.gcShare) from which a latency row says its Mean holds the harness's own GC. */
export const GC_NOTE_SHARE = 0.1;

/**
 * Lines under a table about what a row stands on and what it left behind: a row short of MIN_ITERATIONS (why, and
 * what to change), a row whose timed iterations were GC_NOTE_SHARE or more the harness's own GC pauses, and keys of
 * this run that could not be deleted (they stay until their TTL).
 */
export function measurementNotes(e: ResultEntry): string[] {
  const notes: string[] = [];
  if (e.undeletedKeys > 0) {
    notes.push(`${e.target.name}: ${e.undeletedKeys} ${e.undeletedKeys === 1 ? 'key' : 'keys'} this run wrote could not be deleted (the target failed the deletes); they stay on the servers until their KEY_TTL expires`);
  }
  const gc = e.harness?.gcShare;
  if (gc != null && gc >= GC_NOTE_SHARE) {
    notes.push(`${e.target.name}: ${(100 * gc).toFixed(1)}% of its timed iterations were this process's own garbage-collection pauses (Client GC): its Mean measures cachebench's memory churn as well as the target, so repeat a comparison with it in fresh runs before trusting a small difference`);
  }
  const short = underMeasured(e);
  if (short === undefined) return notes;
  const why = e.iterations.stopReason === 'max-time' ? 'the run reached MAX_TIME' : e.iterations.stopReason === 'max-iterations' ? 'the run reached MAX_ITERATIONS' : `it stopped (${e.iterations.stopReason})`;
  const fix = e.iterations.stopReason === 'max-iterations' ? 'raise MAX_ITERATIONS' : 'raise MAX_TIME, lower ITERATION_TIME_MS, or measure fewer targets per run';
  return [...notes, `${e.target.name}: measured ${short.measured} iterations where MIN_ITERATIONS asks for ${short.wanted} (${why}): its Mean, Error and Percent stand on too few rounds. Fix: ${fix}`];
}

/**
 * Why a group of entries has no Percent column values (no entry is the baseline), or undefined
 * when it has a baseline. Said under the table instead of silently showing NA.
 */
export function missingBaselineNote(doc: ResultsDocument, entries: readonly ResultEntry[]): string | undefined {
  if (entries.some((e) => e.baseline) || entries.length === 0) return undefined;
  const explicit = doc.baseline.name;
  if (explicit !== null) {
    const e = entries.find((x) => x.target.name === explicit);
    return `Percent: NA: the baseline ${explicit} (--baseline) is ${e?.state ?? 'missing'}${e?.stats.meanMs === null ? ' with no valid iteration' : ''}, so nothing is compared with it`;
  }
  return 'Percent: NA: no target completed, so there is no baseline';
}

/** How Percent's interval relates to 100%: a real difference, or none shown. */
export function percentVerdict(e: ResultEntry): 'slower' | 'faster' | 'not-shown' | 'unknown' {
  const { percentLower: lo, percentUpper: hi } = e.stats;
  if (lo === null || hi === null) return 'unknown';
  if (lo > 100) return 'slower';
  if (hi < 100) return 'faster';
  return 'not-shown';
}

/** A percentage with one decimal near 100% (so 100.4% and 99.6% do not both read 100%), whole otherwise. */
const num = (x: number): string => (Math.abs(x - 100) < 1 ? x.toFixed(1) : String(Math.round(x)));
const pct = (x: number): string => `${num(x)}%`;
/** A Percent as every table writes it: whole percent, with one decimal within 1 of 100 (`99.6%`). */
export const percentNumber = pct;
const change = (x: number): string => {
  const d = x - 100;
  const text = Math.abs(d) < 1 ? Math.abs(d).toFixed(1) : String(Math.abs(Math.round(d)));
  return `${d >= 0 ? '+' : '−'}${text}%`;
};

/** Why a non-baseline entry has no interval, in words; undefined when it has one. */
function noIntervalReason(e: ResultEntry): string | undefined {
  if (e.stats.percentLower !== null && e.stats.percentUpper !== null) return undefined;
  if (e.state === 'errored') return 'errored, not compared';
  if (e.stats.percentPairs !== null && e.stats.percentPairs < 3) return `only ${e.stats.percentPairs} paired ${e.stats.percentPairs === 1 ? 'round' : 'rounds'}, too few for an interval`;
  return 'the interval is unbounded (the rounds vary too much for their number)';
}

/**
 * One plain sentence under a table: which targets differ from the baseline and by how much (with
 * the interval), and which cannot be told apart from it, at the interval's confidence.
 */
export function conclusion(entries: readonly ResultEntry[]): string | undefined {
  const base = entries.find((e) => e.baseline);
  if (base === undefined) return undefined;
  const parts: string[] = [];
  const same: string[] = [];
  const unknown: string[] = [];
  for (const e of entries) {
    if (e === base || e.stats.percent === null) continue;
    const lo = e.stats.percentLower;
    const hi = e.stats.percentUpper;
    switch (percentVerdict(e)) {
      case 'slower':
        parts.push(`${e.target.name} is ${change(e.stats.percent).slice(1)} slower than ${base.target.name} (${change(lo as number)} to ${change(hi as number)})`);
        break;
      case 'faster':
        parts.push(`${e.target.name} is ${change(e.stats.percent).slice(1)} faster than ${base.target.name} (${change(lo as number)} to ${change(hi as number)})`);
        break;
      case 'not-shown':
        same.push(`${e.target.name} (${change(lo as number)} to ${change(hi as number)})`);
        break;
      case 'unknown':
        unknown.push(`${e.target.name}: ${noIntervalReason(e) ?? 'no interval'}`);
        break;
    }
  }
  const sentences: string[] = [];
  if (parts.length > 0) sentences.push(`${parts.join('; ')}.`);
  if (same.length > 0) sentences.push(`${same.join(', ')} cannot be told apart from ${base.target.name}: the interval includes no difference.`);
  if (unknown.length > 0) sentences.push(`${unknown.join('; ')}.`);
  if (sentences.length === 0) return undefined;
  return `At ${100 * base.stats.confidence}% confidence (paired rounds): ${sentences.join(' ')}`;
}

/** Percent as shown in tables: `111% [104–118%]`; `~103% [97–110%]` when the interval covers 100%. */
export function formatPercent(e: ResultEntry): string | null {
  if (e.stats.percent === null) return null;
  const { percentLower: lo, percentUpper: hi } = e.stats;
  if (e.baseline) return `${Math.round(e.stats.percent)}%`;
  if (lo === null || hi === null) return `${pct(e.stats.percent)} [${e.state === 'errored' ? 'errored' : e.stats.percentPairs !== null && e.stats.percentPairs < 3 ? 'too few rounds' : 'unbounded'}]`;
  return `${percentVerdict(e) === 'not-shown' ? '~' : ''}${pct(e.stats.percent)} [${num(lo)}–${pct(hi)}]`;
}

/** Entries grouped by scenario and parameter combination, in run order. */
/** Which scenario × parameter combination an entry belongs to. */
export const caseKey = (e: ResultEntry): string => `${e.scenario.name} ${JSON.stringify(e.scenario.params)}`;

export function groupEntries(doc: ResultsDocument): { key: string; scenario: ResultEntry['scenario']; entries: ResultEntry[] }[] {
  const groups = new Map<string, { key: string; scenario: ResultEntry['scenario']; entries: ResultEntry[] }>();
  for (const e of doc.results) {
    const key = caseKey(e);
    const group = groups.get(key) ?? { key, scenario: e.scenario, entries: [] };
    group.entries.push(e);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/**
 * Lines under the table about a target's set-up not doing what it says: an overwriter that fell short of
 * OVERWRITE_RATE (it keeps one SET in flight and runs on the measured loop's event loop, so a slow server or a client
 * cache yielding every 1 ms can make it miss ticks), or a client cache with far fewer hits than the workload allows.
 */
export function setupNotes(e: ResultEntry): string[] {
  const notes: string[] = [];
  const o = e.staleness?.overwrites;
  if (o !== undefined && o.due > 0 && o.sent < 0.9 * o.due) {
    notes.push(`${e.target.name}: the overwriter sent ${o.sent} of the ${o.due} overwrites OVERWRITE_RATE asked for (one SET in flight at a time, on the measured loop's event loop): staleness was measured at the lower rate`);
  }
  // The client's cache is checked, not assumed: with R reads of each fresh key, at most 1 in R misses without overwrites.
  const r = e.scenario.params.READ_RATIO ?? 0;
  if (e.cache !== null && e.cache.lookups > 0 && r > 1 && o === undefined) {
    const rate = e.cache.hits / e.cache.lookups;
    const expected = (r - 1) / r;
    if (rate < 0.9 * expected) {
      notes.push(`${e.target.name}: its client cache answered ${(100 * rate).toFixed(1)}% of GETs, where ${(100 * expected).toFixed(1)}% was expected (each key is read ${r} times): the cache is not doing what its set-up says`);
    }
  }
  return notes;
}

/** ` (3 shards merged)`, ` (shard 0/3)` or nothing: what a throughput or capacity row adds to its target's name. */
export const shardLabel = (e: ResultEntry): string => {
  const l = e.load;
  if (l == null) return '';
  if (l.mergedFrom > 1) return ` (${l.mergedFrom} shards merged)`;
  return l.shard !== null ? ` (shard ${l.shard.index}/${l.shard.of})` : '';
};
