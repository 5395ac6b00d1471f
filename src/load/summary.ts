import { mean, median, sampleStandardDeviation } from 'simple-statistics';
import type { CapacityPlan, LoadPlan } from '../config/resolve.js';
import type { CapacityOutcome } from './capacity.js';
import { OpHistogram, usOf, type OpStats } from '../measure/histogram.js';
import { ERROR_CONFIDENCE, confidenceHalfWidth } from '../stats/describe.js';
import { independentRatioInterval, pairedRatioInterval, percentBoundOf } from '../stats/ratio.js';
import type { LoadRecord, WorkerRecord } from './record.js';
import { maxOf, minOf } from '../stats/extent.js';
import { sizeText } from '../config/sizes.js';
import type { WorkloadPlan } from '../config/workload.js';
import { summarizeCommands, valueSizesOf, type CommandSummary, type ValueSizes } from '../workload/command-stats.js';

export type { ValueSizes };

export type { CommandSummary };

/** A rate counts as achieved at 99% of the target or more. */
export const RATE_ACHIEVED_SHARE = 0.99;

/** ops/s over the 1-second intervals of the measured part, BenchmarkDotNet's definitions (every second kept: a slow second is data, not an outlier). */
export interface ThroughputStats {
  /** Seconds. */
  readonly n: number;
  readonly mean: number | null;
  /** Half-width of the 99.9% Student-t confidence interval of the mean. */
  readonly error: number | null;
  readonly stdDev: number | null;
  readonly median: number | null;
  readonly min: number | null;
  readonly max: number | null;
  /** 100 × Mean / Mean of the baseline (higher is better); null without a baseline. */
  readonly percent: number | null;
  /**
   * Fieller's 99.9% interval of Percent: paired when the targets took turns in slices (measured second j of every
   * target falls in the same stretch of the run, so second j of each is a pair), else for independent samples (the
   * seconds of targets that ran one after the other).
   */
  readonly percentLower: number | null;
  readonly percentUpper: number | null;
  /** Seconds paired for the interval; null: independent seconds (targets in turn). */
  readonly percentPairs?: number | null;
  readonly confidence: number;
}

export interface SecondSummary {
  readonly t: number;
  readonly ops: number;
  readonly errors: number;
  readonly p50Us: number | null;
  readonly p99Us: number | null;
}

export interface NodeSummary {
  readonly node: string;
  readonly slots: string;
  readonly ops: number;
  /** Share of the target's successful ops (0–1). */
  readonly share: number;
  readonly errors: number;
  readonly p50Us: number | null;
  readonly p99Us: number | null;
}

/** What a throughput run measured for one target (results.json `load`), derived from its mergeable record. */
export interface LoadResult {
  readonly settings: {
    readonly clients: number; readonly connections: number; readonly pipeline: number; readonly workers: number;
    /** RATE for the whole run; null: closed loop. */
    readonly rate: number | null;
    readonly keyspace: number; readonly distribution: string;
    readonly warmupSeconds: number; readonly durationSeconds: number;
    /** SLICE_SECONDS when the targets took turns in slices; null: each ran its DURATION in turn. */
    readonly sliceSeconds?: number | null;
    readonly startAt: string | null;
    /** WORKLOAD: a built-in's name or the mix as written; absent: none (GET/SET). */
    readonly workload?: string;
    /** A WORKLOAD's VALUE_SIZES (canonical text); absent: none given (PAYLOAD_BYTES, or no WORKLOAD). */
    readonly valueSizes?: string;
    /** A WORKLOAD's TTLs in seconds: `300`, or a range `300-600` (KEY_TTL..KEY_TTL_MAX); absent without a WORKLOAD. */
    readonly ttl?: string;
  };
  /** `--shard i/N` of the process that measured it; null: the whole run (one process, or merged). */
  readonly shard: { readonly index: number; readonly of: number } | null;
  /** Merged results: the shards it was merged from. */
  readonly mergedFrom: number;
  readonly throughput: ThroughputStats;
  readonly rate: {
    /** ops/s asked for (this process's share for a shard); null: closed loop. */
    readonly targetOpsPerSec: number | null;
    /** Open loop: scheduled ops sent per second over the measured part (a backlog left at the end is not sent); closed loop: successful ops per second. */
    readonly achievedOpsPerSec: number;
    /** achieved ≥ 99% of the target; null: closed loop. */
    readonly achieved: boolean | null;
  };
  readonly latency: {
    /** Which view the series and table p99 use. */
    readonly view: LoadRecord['view'];
    /** From the actual send to the reply. */
    readonly service: { readonly set: OpStats; readonly get: OpStats };
    /** Open loop: from the intended send time to the reply (coordinated omission corrected); null in closed loop. */
    readonly intended: { readonly set: OpStats; readonly get: OpStats } | null;
  };
  readonly series: readonly SecondSummary[];
  readonly nodes: readonly NodeSummary[] | null;
  readonly keyspace: { readonly hits: number; readonly misses: number; readonly hitRate: number | null } | null;
  readonly workers: readonly WorkerRecord[];
  /** The raw record: encoded histograms, per-second and per-node histograms (what `cachebench merge` reads). */
  readonly record: LoadRecord;
  /** A capacity run: the objective, the search's steps and its knee; this row's other fields are the step at the knee. */
  readonly capacity?: CapacitySummary;
  /** A WORKLOAD run: each command's ops, latency and verdicts, the most sent first; absent otherwise. */
  readonly commands?: readonly CommandSummary[];
  /** A WORKLOAD run whose measured ops wrote values: their sizes in bytes; absent otherwise. */
  readonly values?: ValueSizes;
  /** A TRACE run: the trace replayed and how its ops kept their times; absent otherwise. */
  readonly trace?: TraceResult;
}

/** A trace replay as results.json reports it: the trace (config/trace.ts) and the replay's own figures. */
export interface TraceResult {
  readonly name: string;
  readonly digest: string;
  /** TRACE_SPEED; null: max. */
  readonly speed: number | null;
  /** TRACE_REFILL: misses refilled with a SET; absent in older results (on). */
  readonly refill?: boolean;
  readonly ops: number;
  readonly keys: number;
  readonly spanSeconds: number;
  readonly clients: number;
  readonly counts: Readonly<Record<string, number>>;
  readonly counterKeys: number;
  /** At a factor: how far from their intended times the measured ops were sent (late or early), ms; null at max. */
  readonly lagMs: { readonly p50: number; readonly p99: number; readonly p999: number; readonly max: number } | null;
  /** The most ms an op was sent early. */
  readonly earlyMs: number;
  readonly refills: number;
  /** Keys found gone that the replay had written (evicted by the server, or lost). */
  readonly lost: number;
  /** Keys the servers evicted over the run; null: they did not tell (a proxy). */
  readonly evictions: number | null;
  /** Keys found gone beyond those evictions: counted missing. */
  readonly unexplained: number;
  readonly skipped: Readonly<Record<string, number>>;
}

/** The replay's figures from its plan and record; undefined without a trace. */
function traceOf(record: LoadRecord, load: LoadPlan): TraceResult | undefined {
  const t = load.trace;
  if (t === null || record.trace === undefined) return undefined;
  const lag = record.trace.lag === null ? null : OpHistogram.decode(record.trace.lag);
  const ms = (ns: number): number => Math.round(ns / 1e3) / 1e3;
  return {
    name: t.name, digest: t.digest, speed: t.speed, refill: t.refill, ops: t.ops, keys: t.keys, spanSeconds: Math.round(t.spanMs) / 1000, clients: t.clients,
    counts: { ...t.counts }, counterKeys: t.counterKeys,
    lagMs: lag === null || lag.count === 0 ? null : { p50: ms(lag.valueAt(50)), p99: ms(lag.valueAt(99)), p999: ms(lag.valueAt(99.9)), max: ms(lag.max) },
    earlyMs: Math.round(record.trace.earlyMs * 1000) / 1000, refills: record.trace.refills, lost: record.trace.lost,
    evictions: record.trace.evictions ?? null, unexplained: record.trace.unexplained ?? 0,
    skipped: { ...record.trace.skipped },
  };
}

/** A record's value sizes; undefined when it holds none. */
const valueSizesOfRecord = (record: LoadRecord): ValueSizes | undefined => valueSizesOf(record.valueSizes);

type MixSettings = Pick<LoadResult['settings'], 'workload' | 'valueSizes' | 'ttl'>;

/** The WORKLOAD settings a result recorded (a merge's inputs: its total row says the same). */
export function recordedMix(s: LoadResult['settings']): MixSettings {
  return {
    ...(s.workload !== undefined ? { workload: s.workload } : {}), ...(s.valueSizes !== undefined ? { valueSizes: s.valueSizes } : {}),
    ...(s.ttl !== undefined ? { ttl: s.ttl } : {}),
  };
}

/** The settings of a WORKLOAD as results.json records them; {} without one. */
export function mixSettings(plan: WorkloadPlan | null): MixSettings {
  if (plan === null) return {};
  const ttl = plan.ttl === null ? {} : { ttl: plan.ttl.minSeconds === plan.ttl.maxSeconds ? String(plan.ttl.minSeconds) : `${plan.ttl.minSeconds}-${plan.ttl.maxSeconds}` };
  return { workload: plan.name === 'custom' || plan.name === 'trace' ? plan.text : plan.name, ...(plan.sizes !== null ? { valueSizes: sizeText(plan.sizes) } : {}), ...ttl };
}

/** The per-command summaries of a record, the most sent first. */
function commandsOf(record: LoadRecord, durationMs: number): CommandSummary[] | undefined {
  return record.commands === undefined ? undefined : summarizeCommands(record.commands, durationMs);
}

/** A capacity run's search as results.json keeps it: the plan it followed and what it found. */
export type CapacitySummary = CapacityPlan & CapacityOutcome;

const stats = (encoded: string | null, errors: number): OpStats => (encoded === null ? { count: 0, errors } : OpHistogram.decode(encoded).summarize(errors));

/** ops/s of each whole measured second. */
export function opsPerSecond(record: LoadRecord): number[] {
  return record.series.map((s) => s.ops);
}

function throughputOf(samples: readonly number[]): ThroughputStats {
  const n = samples.length;
  const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
  if (n === 0) return { n, mean: null, error: null, stdDev: null, median: null, min: null, max: null, percent: null, percentLower: null, percentUpper: null,
    percentPairs: null, confidence: ERROR_CONFIDENCE };
  const sd = n >= 2 ? sampleStandardDeviation([...samples]) : Number.NaN;
  return {
    n, mean: mean([...samples]), error: finite(confidenceHalfWidth(sd, n)), stdDev: finite(sd), median: median([...samples]),
    min: minOf(samples), max: maxOf(samples), percent: null, percentLower: null, percentUpper: null, percentPairs: null, confidence: ERROR_CONFIDENCE,
  };
}

/** Turns a (merged) record into the reported result. `rate`: RATE asked of this record's processes (ops/s). */
export function summarizeLoad(record: LoadRecord, load: LoadPlan,
  options: {
    readonly shard?: { index: number; of: number }; readonly mergedFrom?: number; readonly rate?: number; readonly startAt?: string | null;
    readonly capacity?: CapacitySummary;
    /** A merge's: the WORKLOAD settings of its inputs (its plan has none). */
    readonly mix?: MixSettings;
  } = {}): LoadResult {
  const okOps = record.series.reduce((n, s) => n + s.ops, 0);
  // Open loop: the scheduled ops the generator sent (failed or not), per second; closed loop: successful ops per second.
  // Over the planned DURATION: a worker or shard that started late still had DURATION seconds (a merged record spans more).
  const achievedOpsPerSec = load.durationMs > 0 ? (record.sent ?? okOps) / (load.durationMs / 1000) : 0;
  const rate = options.rate ?? (load.rate > 0 ? load.rate / (options.shard?.of ?? 1) : 0);
  const totalOps = okOps;
  const hist = record.histograms;
  return {
    settings: {
      clients: load.clients, connections: load.connections, pipeline: load.pipeline, workers: load.workers,
      rate: load.rate > 0 ? load.rate : null, keyspace: load.keyspace,
      distribution: load.keyspace === 0 ? 'fresh keys' : load.trace !== null ? 'trace' : load.distribution.kind === 'zipf' ? `zipf:${load.distribution.exponent}` : load.distribution.kind,
      warmupSeconds: load.warmupMs / 1000, durationSeconds: load.durationMs / 1000,
      sliceSeconds: record.sliceSeconds ?? null,
      startAt: options.startAt ?? (load.startAtMs === null ? null : new Date(load.startAtMs).toISOString()),
      ...(options.mix ?? mixSettings(load.workload)),
    },
    shard: options.shard ?? null,
    mergedFrom: options.mergedFrom ?? 1,
    throughput: throughputOf(opsPerSecond(record)),
    rate: {
      targetOpsPerSec: rate > 0 ? rate : null,
      achievedOpsPerSec,
      achieved: rate > 0 ? achievedOpsPerSec >= RATE_ACHIEVED_SHARE * rate : null,
    },
    latency: {
      view: record.view,
      service: { set: stats(hist.set, record.setErrors), get: stats(hist.get, record.getErrors) },
      intended: hist.setIntended === null && hist.getIntended === null ? null
        : { set: stats(hist.setIntended, record.setErrors), get: stats(hist.getIntended, record.getErrors) },
    },
    series: record.series.map((s) => {
      const h = OpHistogram.decode(s.latency);
      return { t: s.t, ops: s.ops, errors: s.errors, p50Us: h.count === 0 ? null : usOf(h.valueAt(50)), p99Us: h.count === 0 ? null : usOf(h.valueAt(99)) };
    }),
    nodes: record.nodes === null ? null : record.nodes.map((n) => {
      const h = OpHistogram.decode(n.latency);
      return {
        node: n.node, slots: n.slots, ops: n.ops, share: totalOps > 0 ? n.ops / totalOps : 0, errors: n.errors,
        p50Us: h.count === 0 ? null : usOf(h.valueAt(50)), p99Us: h.count === 0 ? null : usOf(h.valueAt(99)),
      };
    }),
    keyspace: record.hits === null || record.misses === null ? null
      : { hits: record.hits, misses: record.misses, hitRate: record.hits + record.misses > 0 ? record.hits / (record.hits + record.misses) : null },
    workers: record.workers,
    record,
    ...(options.capacity !== undefined ? { capacity: options.capacity } : {}),
    ...(record.commands !== undefined ? { commands: commandsOf(record, load.durationMs) as CommandSummary[] } : {}),
    ...withValues(valueSizesOfRecord(record)),
    ...withTrace(traceOf(record, load)),
  };
}

const withTrace = (trace: TraceResult | undefined): { trace?: TraceResult } => (trace === undefined ? {} : { trace });

/**
 * Percent of each result against the baseline (higher is better): the explicit baseline, else the highest mean
 * ops/s. `results` are the targets of one scenario × parameter combination; returns them with Percent filled in.
 */
export function withPercent<T extends { readonly name: string; readonly load: LoadResult; readonly eligible: boolean }>(results: readonly T[],
  explicit: string | undefined): { results: T[]; baseline: string | undefined } {
  const eligible = results.filter((r) => r.eligible && r.load.throughput.mean !== null);
  const base = explicit !== undefined ? eligible.find((r) => r.name === explicit)
    : eligible.reduce<T | undefined>((best, r) => (best === undefined || (r.load.throughput.mean ?? 0) > (best.load.throughput.mean ?? 0) ? r : best),
        undefined);
  if (base === undefined) return { results: [...results], baseline: undefined };
  const baseSamples = opsPerSecond(base.load.record);
  const sliced = (x: T): boolean => (x.load.record.sliceSeconds ?? null) !== null;
  const out = results.map((r) => {
    if (!r.eligible || r.load.throughput.mean === null || base.load.throughput.mean === null || base.load.throughput.mean === 0) return r;
    const isBase = r === base;
    const samples = opsPerSecond(r.load.record);
    // Targets that took turns in the same slices: measured second j of each lies in the same stretch of the run, so
    // seconds pair up (drift over the run hits both alike); targets in turn: the seconds as independent samples.
    const paired = !isBase && sliced(r) && sliced(base) && r.load.record.sliceSeconds === base.load.record.sliceSeconds && samples.length === baseSamples.length
      ? pairedRatioInterval(baseSamples, samples, ERROR_CONFIDENCE) : undefined;
    const interval = isBase ? undefined : paired ?? independentRatioInterval(baseSamples, samples, ERROR_CONFIDENCE);
    const throughput: ThroughputStats = {
      ...r.load.throughput,
      // Paired: the interval's own ratio (the same seconds), so Percent always lies inside its interval.
      percent: 100 * (paired !== undefined ? paired.ratio : r.load.throughput.mean / base.load.throughput.mean),
      percentLower: percentBoundOf(interval?.lower),
      percentUpper: percentBoundOf(interval?.upper),
      percentPairs: paired?.n ?? null,
    };
    return { ...r, load: { ...r.load, throughput } };
  });
  return { results: out, baseline: base.name };
}

const withValues = (values: ValueSizes | undefined): { values?: ValueSizes } => (values === undefined ? {} : { values });
