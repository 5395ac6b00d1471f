import { arch, cpus, release, totalmem, type } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Setting, TargetConfig } from '../config/resolve.js';
import type { TargetOption } from '../config/keys.js';
import { describeSource } from '../config/errors.js';
import { redactSecrets } from '../config/redact.js';
import type { RunResult } from '../measure/run.js';
import type { OpStats } from '../measure/histogram.js';
import type { CaseResult, StopReason, TargetCaseResult } from '../measure/runner.js';
import type { CacheCounters, Capabilities } from '../targets/client.js';
import type { FaultResult } from '../faults/loop.js';
import { summarizeLoad, withPercent, type LoadResult } from '../load/summary.js';
import { ERROR_CONFIDENCE, pairedRatioInterval } from '../stats/index.js';

/** Version of the results.json layout; bumped on any incompatible change. */
export const SCHEMA_VERSION = 1;

export const TOOL_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface EntryStats {
  /** Iterations kept after removing upper outliers. */
  readonly n: number;
  readonly outliers: number;
  readonly meanMs: number | null;
  /** Half-width of the 99.9% Student-t confidence interval of the mean. */
  readonly errorMs: number | null;
  readonly stdDevMs: number | null;
  readonly medianMs: number | null;
  readonly minMs: number | null;
  readonly maxMs: number | null;
  readonly ciLowerMs: number | null;
  readonly ciUpperMs: number | null;
  /**
   * 100 × Mean / Mean of the baseline target of the same parameter combination. With an interval,
   * the means are those of the paired rounds (both targets measured, upper outliers of either left
   * out), so Percent is the interval's point estimate; otherwise the two Means of the table.
   */
  readonly percent: number | null;
  /**
   * The 99.9% confidence interval of Percent from the paired rounds (Fieller's interval for the
   * ratio of means of the rounds where both this target and the baseline have an iteration);
   * null for the baseline itself, with fewer than 3 paired rounds, or when it is unbounded.
   */
  readonly percentLower: number | null;
  readonly percentUpper: number | null;
  /** Rounds paired for the interval (both measured, neither an outlier); null when no interval was attempted (baseline, errored). */
  readonly percentPairs: number | null;
  readonly confidence: number;
}

/** One scenario × parameter combination × target: the unit every output format shows a row for. */
export interface ResultEntry {
  readonly scenario: { readonly name: string; readonly file: string | null; readonly description: string; readonly params: Readonly<Record<string, number>> };
  readonly target: {
    readonly name: string; readonly mode: string; readonly servers: readonly string[]; readonly client: string;
    readonly cache: string; readonly readFrom: string;
    /** `<NAME>_WAIT`: replicas each SET waited for (0: none). */
    readonly wait: number;
    /** How the client retried and reconnected (TargetInfo.retries); it shapes a failure window. */
    readonly retries: string | null;
  };
  readonly state: TargetCaseResult['state'];
  readonly error: string | null;
  readonly baseline: boolean;
  readonly stats: EntryStats;
  readonly samplesMs: readonly number[];
  /** Iteration time per measured round (null: failed or not run); aligned across the targets of a combination. */
  readonly roundSamplesMs: readonly (number | null)[];
  readonly ops: { readonly set: OpStats; readonly get: OpStats };
  readonly verification: TargetCaseResult['verification'];
  /** `invocations`: seed loops per iteration (statistics are per invocation); `pilotMs`: the pilot stage's measure. */
  readonly iterations: TargetCaseResult['iterations'] & {
    readonly rounds: number; readonly stopReason: StopReason; readonly invocations: number; readonly pilotMs: number | null;
    /** The scenario's MIN_ITERATIONS (latency runs; absent in files written before it was recorded). */
    readonly minIterations?: number;
  };
  readonly errors: Readonly<Record<string, number>>;
  readonly undeletedKeys: number;
  /**
   * Stale reads (an older version than one already acknowledged, or nothing on a replica), with their ages in µs
   * and the overwriter's counts; null when the target could not serve one (cache off, primaries, OVERWRITE_RATE 0).
   */
  readonly staleness: NonNullable<TargetCaseResult['staleness']> | null;
  /** The client cache's own counters over this combination (warm-up included); null when its cache is off. */
  readonly cache: CacheCounters | null;
  /** A fault run's measurements: window, failed ops, recovery, phases, lost and applied-unacknowledged writes, timeline; null otherwise. */
  readonly fault: FaultResult | null;
  /** A throughput run's measurements: ops/s statistics over seconds, latency views, per-second series, per-node split, the mergeable record; null otherwise. */
  readonly load: LoadResult | null;
}

/** The CPU layout of a run with local topologies, as recorded in results.json and the report. */
export interface PlacementRecord {
  readonly layout: string;
  /** CPU lists (taskset syntax) or null when not pinned. */
  readonly clientCpus: string | null;
  readonly serverCpus: string | null;
  readonly description: string;
}

export interface SettingRecord {
  readonly value: unknown;
  readonly source: string;
}

export interface TargetEnvironment {
  readonly name: string;
  readonly servers: readonly string[];
  readonly mode: string;
  readonly modeDetected: boolean;
  readonly serverVersion: string;
  readonly primaries: number;
  readonly replicas: number;
  readonly client: string;
  readonly clientVersion: string;
  readonly tls: boolean;
  readonly cache: string;
  readonly cacheEntries: number | null;
  readonly readFrom: string;
  /** What the server said it supports (probed at connect); null when not probed. */
  readonly capabilities: Capabilities | null;
  /** What the driver noticed while connecting (e.g. a password the server does not need). */
  readonly warnings: readonly string[];
  /** Each `<NAME>_*` option set, with its value and source. A password's value is never recorded. */
  readonly options: Readonly<Record<string, SettingRecord>>;
}

export interface ResultsDocument {
  readonly schemaVersion: typeof SCHEMA_VERSION;
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly aborted: boolean;
  readonly environment: {
    readonly tool: string;
    readonly toolVersion: string;
    readonly node: string;
    readonly os: string;
    readonly cpu: string;
    readonly cpuCount: number;
    readonly memoryGiB: number;
    /** Where the client and the local servers ran (`--cpu-layout`); null when no local topology was started. */
    readonly placement: PlacementRecord | null;
    /** 1/5/15-minute load averages before the first and after the last iteration (a busy machine shows here). */
    readonly loadAverage: { readonly before: readonly number[]; readonly after: readonly number[] };
    readonly targets: readonly TargetEnvironment[];
  };
  /** Seed of the round shuffles: `cachebench run --seed <seed>` repeats the same target orders. */
  readonly seed: number;
  /** One per scenario × parameter combination: how it was scheduled, with the target order of every round. */
  readonly cases: readonly {
    readonly scenario: string;
    readonly params: Readonly<Record<string, number>>;
    readonly rounds: number;
    readonly invocations: number;
    readonly pilotMs: number | null;
    readonly stopReason: StopReason;
    readonly elapsedMs: number;
    readonly roundOrders: readonly (readonly string[])[];
  }[];
  readonly baseline: { readonly rule: 'explicit' | 'fastest'; readonly name: string | null };
  readonly scenarios: readonly {
    readonly name: string;
    readonly file: string | null;
    readonly description: string;
    readonly settings: Readonly<Record<string, SettingRecord>>;
  }[];
  readonly results: readonly ResultEntry[];
  /** `cachebench merge`: the results files this document was merged from. */
  readonly mergedFrom?: readonly { readonly file: string; readonly runId: string; readonly startedAt: string }[];
}

/** The effective value of a target option as shown in reports; passwords are hidden. */
function optionValue(config: TargetConfig, option: TargetOption): string {
  switch (option) {
    case 'SERVERS':
      return config.servers.map((s) => s.display).join(',');
    case 'MODE':
      return config.mode;
    case 'CLIENT':
      return config.client;
    case 'CACHE':
      return config.cache;
    case 'CACHE_ENTRIES':
      return config.cache === 'tracking' ? String(config.cacheEntries) : '';
    case 'READ_FROM':
      return config.readFrom;
    case 'WAIT':
      return String(config.waitReplicas);
    case 'USERNAME':
      return config.username ?? '';
    case 'PASSWORD':
      return '(hidden)';
    case 'PASSWORD_FILE':
      return config.passwordFile ?? '';
    case 'TLS':
      return String(config.tls);
    case 'TLS_CA':
      return config.tlsCa?.file ?? '';
    case 'TLS_SERVERNAME':
      return config.tlsServername ?? '';
    case 'PROTOCOL':
      return config.protocol;
    case 'ITEM_SIZE_MAX':
      return String(config.itemSizeMax);
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
/** Rounds where both series have a value. */
const pairCount = (a: readonly (number | null)[], b: readonly (number | null)[]): number => a.filter((x, i) => x !== null && b[i] != null).length;
/** Per-round samples with upper outliers (beyond the target's own fence) turned into gaps. */
const withoutOutliers = (rounds: readonly (number | null)[], fence: number): (number | null)[] => rounds.map((x) => (x !== null && x > fence ? null : x));
const finite = (x: number | undefined): number | null => (x === undefined || !Number.isFinite(x) ? null : x);

/** Settings of free text, which may quote a password (`FAULT_COMMAND: redis-cli -a …`): masked as they enter the results. */
const FREE_TEXT_SETTINGS: ReadonlySet<string> = new Set(['DESCRIPTION', 'FAULT_COMMAND']);

function settingsRecord(settings: ReadonlyMap<string, Setting>): Record<string, SettingRecord> {
  const out: Record<string, SettingRecord> = {};
  for (const [key, setting] of settings) {
    const value = FREE_TEXT_SETTINGS.has(key) && typeof setting.value === 'string' ? redactSecrets(setting.value) : setting.value;
    out[key] = { value, source: describeSource(setting.source) };
  }
  return out;
}

/**
 * The baseline of one parameter combination: the explicit one if it completed, else the fastest
 * *completed* target. A target dropped after failures (errored) or interrupted is never the
 * baseline: its few early samples say nothing about its speed. No baseline: Percent is NA.
 */
function baselineOf(c: CaseResult, explicit: string | undefined): TargetCaseResult | undefined {
  // Completed targets; in an interrupted case (every running target was cut at the same round,
  // so they stay comparable) the aborted ones. Never an errored target.
  const completed = c.targets.filter((t) => t.summary !== undefined && t.state === 'completed');
  const measured = completed.length > 0 ? completed : c.targets.filter((t) => t.summary !== undefined && t.state === 'aborted');
  if (explicit !== undefined) return measured.find((t) => t.name === explicit);
  return measured.reduce<TargetCaseResult | undefined>((best, t) => (best === undefined || (t.summary?.mean ?? Infinity) < (best.summary?.mean ?? Infinity) ? t : best), undefined);
}

/**
 * Fills in Percent (higher is better) and the baseline flag of the throughput entries of one parameter combination,
 * `entries[from...]`: against the explicit baseline, else the target with the highest mean ops/s. Entries that are
 * shards of a merged run are shown, not compared. Also used by `cachebench merge`.
 */
export function finishLoadEntries(entries: ResultEntry[], from: number, explicitBaseline: string | undefined): void {
  const group = entries.slice(from).map((e, i) => ({ index: from + i, e }));
  const loaded = group.filter((x) => x.e.load !== null);
  if (loaded.length === 0) return;
  const { results, baseline } = withPercent(loaded.map((x) => ({ name: x.e.target.name, load: x.e.load as LoadResult, eligible: x.e.state !== 'errored' && ((x.e.load as LoadResult).mergedFrom > 1 || (x.e.load as LoadResult).shard === null || loaded.every((y) => y.e.load?.shard !== null)), index: x.index, e: x.e })), explicitBaseline);
  for (const r of results) {
    entries[r.index] = { ...r.e, load: r.load, baseline: r.name === baseline && r.eligible };
  }
}

/** Turns a run's raw results into the results document that every format is rendered from. */
export function buildDocument(run: RunResult, explicitBaseline: string | undefined, context: { readonly placement?: PlacementRecord } = {}): ResultsDocument {
  const results: ResultEntry[] = [];
  for (const { scenario, cases } of run.scenarios) {
    for (const c of cases) {
      const base = baselineOf(c, explicitBaseline);
      for (const t of c.targets) {
        const connected = run.targets.find((x) => x.config.name === t.name);
        const s = t.summary;
        const interval = s !== undefined && base?.summary !== undefined && base.name !== t.name && t.state !== 'errored'
          ? pairedRatioInterval(withoutOutliers(base.roundSamplesMs, base.summary.upperFence), withoutOutliers(t.roundSamplesMs, s.upperFence), ERROR_CONFIDENCE)
          : undefined;
        // With an interval, Percent is its point estimate (same rounds, same data), so it always lies inside it.
        const percent = interval !== undefined ? 100 * interval.ratio
          : s !== undefined && base?.summary !== undefined ? 100 * (s.mean / base.summary.mean) : undefined;
        results.push({
          scenario: { name: scenario.name, file: scenario.file ?? null, description: redactSecrets(scenario.description), params: { ...c.params } },
          target: {
            name: t.name,
            mode: connected?.info.mode ?? 'unknown',
            servers: connected?.info.servers ?? [],
            client: connected?.info.client ?? 'unknown',
            cache: connected?.info.cache ?? 'off',
            readFrom: connected?.info.readFrom ?? 'primary',
            wait: connected?.info.waitReplicas ?? 0,
            retries: connected?.info.retries ?? null,
          },
          state: t.state,
          error: t.error ?? null,
          baseline: base?.name === t.name,
          stats: {
            n: s?.n ?? 0,
            outliers: s?.outliers ?? 0,
            meanMs: finite(s?.mean),
            errorMs: finite(s?.error),
            stdDevMs: finite(s?.stdDev),
            medianMs: finite(s?.median),
            minMs: finite(s?.min),
            maxMs: finite(s?.max),
            ciLowerMs: finite(s?.ciLower),
            ciUpperMs: finite(s?.ciUpper),
            percent: finite(percent),
            percentLower: interval?.lower != null ? finite(100 * interval.lower) : null,
            percentUpper: interval?.upper != null ? finite(100 * interval.upper) : null,
            percentPairs: s !== undefined && base?.summary !== undefined && base.name !== t.name && t.state !== 'errored'
              ? pairCount(withoutOutliers(base.roundSamplesMs, base.summary.upperFence), withoutOutliers(t.roundSamplesMs, s.upperFence))
              : null,
            confidence: ERROR_CONFIDENCE,
          },
          samplesMs: t.samplesMs,
          roundSamplesMs: t.roundSamplesMs,
          ops: t.ops,
          verification: t.verification,
          iterations: {
            ...t.iterations, rounds: c.rounds, stopReason: c.stopReason, invocations: t.invocations, pilotMs: t.pilotMs,
            ...(t.load === undefined && t.fault === undefined ? { minIterations: scenario.controls.minIterations } : {}),
          },
          errors: t.errors,
          undeletedKeys: t.undeletedKeys,
          staleness: t.staleness ?? null,
          cache: t.cache ?? null,
          fault: t.fault ?? null,
          load: t.load !== undefined ? summarizeLoad(t.load, scenario.controls.load, run.shard != null ? { shard: run.shard } : {}) : null,
        });
      }
      finishLoadEntries(results, results.length - c.targets.length, explicitBaseline);
    }
  }
  const cpuList = cpus();
  return {
    schemaVersion: SCHEMA_VERSION,
    runId: run.runId,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    aborted: run.aborted,
    environment: {
      tool: 'cachebench',
      toolVersion: TOOL_VERSION,
      node: process.version,
      os: `${type()} ${release()} ${arch()}`,
      cpu: cpuList[0]?.model.trim() ?? 'unknown',
      cpuCount: cpuList.length,
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      placement: context.placement ?? null,
      loadAverage: { before: run.loadAverage.before.map(round2), after: run.loadAverage.after.map(round2) },
      targets: run.targets.map((t) => ({
        name: t.config.name,
        servers: t.info.servers,
        mode: t.info.mode,
        modeDetected: t.info.modeDetected,
        serverVersion: t.info.serverVersion,
        primaries: t.info.primaries,
        replicas: t.info.replicas,
        client: t.info.client,
        clientVersion: t.info.clientVersion,
        tls: t.info.tls,
        cache: t.info.cache,
        cacheEntries: t.info.cacheEntries ?? null,
        readFrom: t.info.readFrom,
        capabilities: t.info.capabilities ?? null,
        warnings: t.info.warnings ?? [],
        options: Object.fromEntries(Object.entries(t.config.sources).map(([option, source]) => [
          `${t.config.name}_${option}`,
          { value: optionValue(t.config, option as TargetOption), source: describeSource(source) },
        ])),
      })),
    },
    seed: run.seed,
    cases: run.scenarios.flatMap(({ scenario, cases }) => cases.map((c) => ({
      scenario: scenario.name, params: { ...c.params }, rounds: c.rounds, invocations: c.invocations, pilotMs: c.pilotMs, stopReason: c.stopReason, elapsedMs: c.elapsedMs, roundOrders: c.roundOrders,
    }))),
    baseline: { rule: explicitBaseline !== undefined ? 'explicit' : 'fastest', name: explicitBaseline ?? null },
    scenarios: run.scenarios.map(({ scenario }) => ({
      name: scenario.name,
      file: scenario.file ?? null,
      description: redactSecrets(scenario.description),
      settings: settingsRecord(scenario.settings),
    })),
    results,
  };
}

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

/**
 * Lines under a table about what a row stands on and what it left behind: a row short of MIN_ITERATIONS (why, and
 * what to change), and keys of this run that could not be deleted (they stay until their TTL).
 */
export function measurementNotes(e: ResultEntry): string[] {
  const notes: string[] = [];
  if (e.undeletedKeys > 0) {
    notes.push(`${e.target.name}: ${e.undeletedKeys} ${e.undeletedKeys === 1 ? 'key' : 'keys'} this run wrote could not be deleted (the target failed the deletes); they stay on the servers until their KEY_TTL expires`);
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
