import { clientLoadOf } from './client-load.js';
import { type ResultEntry } from './document.js';
import { formatPercent, measuredNothing, underMeasured } from './sentences.js';
import { minOf } from '../stats/extent.js';
import type { CommandSummary } from '../workload/command-stats.js';

export type ColumnKind = 'text' | 'time' | 'percent' | 'count' | 'us';

/**
 * One column of every output: console, markdown and CSV render rows from this list,
 * and read each value from the results.json entry, so the formats cannot drift.
 */
export interface Column {
  /** CSV header (with unit) and stable id. */
  readonly id: string;
  /** Console/markdown header. */
  readonly header: string;
  readonly kind: ColumnKind;
  /** Path of the value in a results.json entry (documentation for CI users). */
  readonly path: string;
  /** Shown in console and markdown tables (CSV has every column). */
  readonly inTable: boolean;
  readonly value: (e: ResultEntry) => string | number | null;
  /** Console/markdown text when it is more than the value (e.g. Percent with its interval). */
  readonly display?: (e: ResultEntry) => string | null;
  /** A table shows the column only when this holds for one of its rows (e.g. staleness only where it was measured). */
  readonly showIf?: (e: ResultEntry) => boolean;
}

/** `node-redis, tracking cache, replica reads`: the client set-up, when it is not the plain default. */
export function setupOf(e: ResultEntry): string {
  const parts = [e.target.client];
  if (e.target.cache !== 'off') parts.push(`${e.target.cache} cache`);
  // node-redis's useReplicas sends reads to the primary and its replicas in turn; the others to replicas only.
  if (e.target.readFrom === 'replica') parts.push(e.target.client === 'node-redis' ? 'primary+replica reads' : 'replica reads');
  if (e.target.wait > 0) parts.push(`WAIT ${e.target.wait}`);
  return parts.join(', ');
}
const plainSetup = (e: ResultEntry): boolean => e.target.client === 'ioredis' && e.target.cache === 'off' && e.target.readFrom === 'primary' && e.target.wait === 0;

/** Stale reads as a share of all reads. */
export function staleShare(e: ResultEntry): number | null {
  if (e.staleness === null) return null;
  const of = e.staleness.of ?? e.verification.reads;
  return of > 0 ? (100 * e.staleness.reads) / of : 0;
}

/** The client cache's hit rate in percent (null without a cache or a lookup). */
export function hitRate(e: ResultEntry): number | null {
  return e.cache !== null && e.cache.lookups > 0 ? (100 * e.cache.hits) / e.cache.lookups : null;
}

const ms = (us: number | undefined): number | null => (us === undefined ? null : us / 1000);
/** A share in percent: `0`, `0.012%`, `2.5%`, `37%`, `100%` (never exponent notation). */
export function formatShare(x: number): string {
  if (x === 0) return '0%';
  if (x >= 10) return `${x.toFixed(0)}%`;
  if (x >= 1) return `${x.toFixed(1)}%`;
  return `${x.toPrecision(2)}%`;
}
const staleAgeText = (e: ResultEntry): string | null => {
  if (e.staleness === null) return null;
  return e.staleness.reads === 0 ? 'none' : `${shortMs(ms(e.staleness.ages.p50Us))}/${shortMs(ms(e.staleness.ages.p99Us))}/${shortMs(ms(e.staleness.ages.maxUs))} ms`;
};
const shortMs = (x: number | null): string => (x === null ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** A latency in µs shown in ms with about three significant digits (`–` when missing). */
export const msText = (us: number | null | undefined): string =>
  (us === null || us === undefined ? '–' : us >= 100_000 ? (us / 1000).toFixed(0) : us >= 10_000 ? (us / 1000).toFixed(1) : (us / 1000).toFixed(2));
/** Bytes as whole MiB. */
export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** A column; `display` when its table text is more than its value. */
export const col = (id: string, header: string, kind: ColumnKind, path: string, inTable: boolean, value: Column['value'], display?: Column['display']): Column =>
  ({ id, header, kind, path, inTable, value, ...(display !== undefined ? { display } : {}) });

export const COLUMNS: readonly Column[] = [
  col('scenario', 'Scenario', 'text', 'scenario.name', false, (e) => e.scenario.name),
  col('read_ratio', 'READ_RATIO', 'count', 'scenario.params.READ_RATIO', false, (e) => e.scenario.params.READ_RATIO ?? null),
  col('write_count', 'WRITE_COUNT', 'count', 'scenario.params.WRITE_COUNT', false, (e) => e.scenario.params.WRITE_COUNT ?? null),
  col('payload_bytes', 'PAYLOAD_BYTES', 'count', 'scenario.params.PAYLOAD_BYTES', false, (e) => e.scenario.params.PAYLOAD_BYTES ?? null),
  col('target', 'Target', 'text', 'target.name', true, (e) => e.target.name),
  col('mode', 'Mode', 'text', 'target.mode', false, (e) => e.target.mode),
  { ...col('setup', 'Client', 'text', 'target.client, target.cache, target.readFrom', true, setupOf), showIf: (e) => !plainSetup(e) },
  col('client', 'Client driver', 'text', 'target.client', false, (e) => e.target.client),
  col('cache', 'Cache', 'text', 'target.cache', false, (e) => e.target.cache),
  col('read_from', 'Read from', 'text', 'target.readFrom', false, (e) => e.target.readFrom),
  col('wait', 'WAIT', 'count', 'target.wait', false, (e) => e.target.wait),
  col('state', 'State', 'text', 'state', false, (e) => e.state),
  col('mean_ms', 'Mean', 'time', 'stats.meanMs', true, (e) => e.stats.meanMs),
  col('error_ms', 'Error', 'time', 'stats.errorMs', true, (e) => e.stats.errorMs),
  col('stddev_ms', 'StdDev', 'time', 'stats.stdDevMs', true, (e) => e.stats.stdDevMs),
  col('median_ms', 'Median', 'time', 'stats.medianMs', true, (e) => e.stats.medianMs),
  col('min_ms', 'Min', 'time', 'stats.minMs', false, (e) => e.stats.minMs),
  col('max_ms', 'Max', 'time', 'stats.maxMs', false, (e) => e.stats.maxMs),
  { ...col('percent', 'Percent', 'percent', 'stats.percent', true, (e) => e.stats.percent), display: formatPercent },
  col('percent_lower', 'Percent lower', 'percent', 'stats.percentLower', false, (e) => e.stats.percentLower),
  col('percent_upper', 'Percent upper', 'percent', 'stats.percentUpper', false, (e) => e.stats.percentUpper),
  col('n', 'N', 'count', 'stats.n', true, (e) => e.stats.n),
  col('outliers', 'Outliers', 'count', 'stats.outliers', true, (e) => e.stats.outliers),
  col('get_p50_us', 'GET p50', 'us', 'ops.get.p50Us', true, (e) => e.ops.get.p50Us ?? null),
  col('get_p99_us', 'GET p99', 'us', 'ops.get.p99Us', true, (e) => e.ops.get.p99Us ?? null),
  col('get_p999_us', 'GET p99.9', 'us', 'ops.get.p999Us', true, (e) => e.ops.get.p999Us ?? null),
  col('set_p50_us', 'SET p50', 'us', 'ops.set.p50Us', true, (e) => e.ops.set.p50Us ?? null),
  col('set_p99_us', 'SET p99', 'us', 'ops.set.p99Us', true, (e) => e.ops.set.p99Us ?? null),
  col('set_p999_us', 'SET p99.9', 'us', 'ops.set.p999Us', false, (e) => e.ops.set.p999Us ?? null),
  col('get_count', 'GETs', 'count', 'ops.get.count', false, (e) => e.ops.get.count),
  col('set_count', 'SETs', 'count', 'ops.set.count', false, (e) => e.ops.set.count),
  col('reads_verified', 'Verified', 'count', 'verification.verified', true, (e) => e.verification.verified),
  col('missing', 'Missing', 'count', 'verification.missing', true, (e) => e.verification.missing),
  col('mismatched', 'Mismatched', 'count', 'verification.mismatched', true, (e) => e.verification.mismatched),
  {
    ...col('cache_hit_rate', 'Cache hits', 'percent', 'cache.hits / cache.lookups', true, hitRate),
    display: (e) => { const r = hitRate(e); return r === null ? (e.cache === null ? '–' : 'NA') : `${r.toFixed(1)}%`; },
    showIf: (e) => e.cache !== null,
  },
  col('cache_lookups', 'Cache lookups', 'count', 'cache.lookups', false, (e) => e.cache?.lookups ?? null),
  col('cache_hits', 'Cache hit count', 'count', 'cache.hits', false, (e) => e.cache?.hits ?? null),
  col('cache_misses', 'Cache misses', 'count', 'cache.misses', false, (e) => e.cache?.misses ?? null),
  col('cache_invalidations', 'Invalidations', 'count', 'cache.invalidations', false, (e) => e.cache?.invalidations ?? null),
  col('cache_evictions', 'Evictions', 'count', 'cache.evictions', false, (e) => e.cache?.evictions ?? null),
  {
    ...col('stale_reads', 'Stale', 'count', 'staleness.reads', true, (e) => e.staleness?.reads ?? null),
    display: (e) => (e.staleness === null ? '–' : `${e.staleness.reads} (${formatShare(staleShare(e) ?? 0)})`),
    showIf: (e) => e.staleness !== null,
  },
  {
    ...col('stale_age', 'Stale age p50/p99/max', 'text', 'staleness.ages (p50/p99/max, ms)', true, staleAgeText),
    display: (e) => staleAgeText(e) ?? '–',
    showIf: (e) => e.staleness !== null,
  },
  col('stale_age_p50_ms', 'Stale age p50 (ms)', 'count', 'staleness.ages.p50Us / 1000', false, (e) => ms(e.staleness?.ages.p50Us)),
  col('stale_age_p99_ms', 'Stale age p99 (ms)', 'count', 'staleness.ages.p99Us / 1000', false, (e) => ms(e.staleness?.ages.p99Us)),
  col('stale_age_max_ms', 'Stale age max (ms)', 'count', 'staleness.ages.maxUs / 1000', false, (e) => ms(e.staleness?.ages.maxUs)),
  col('overwrites_acked', 'Overwrites', 'count', 'staleness.overwrites.acked', false, (e) => e.staleness?.overwrites?.acked ?? null),
  col('failed_ops', 'Failed ops', 'count', 'ops.set.errors + ops.get.errors', true, (e) => e.ops.set.errors + e.ops.get.errors),
  col('failed_iterations', 'Failed iterations', 'count', 'iterations.failed', false, (e) => e.iterations.failed),
  {
    ...col('harness_cpu_us_per_op', 'Client CPU/op (µs)', 'us', 'harness.cpuUsPerOp', true, (e) => e.harness?.cpuUsPerOp ?? null),
    display: (e) => (e.harness?.cpuUsPerOp == null ? '–' : e.harness.cpuUsPerOp.toFixed(1)),
    showIf: (e) => e.harness != null,
  },
  {
    ...col('harness_busy', 'Client busy', 'percent', 'harness.busy', true, (e) => (e.harness == null ? null : 100 * e.harness.busy)),
    display: (e) => (e.harness == null ? '–' : `${(100 * e.harness.busy).toFixed(0)}%`),
    showIf: (e) => e.harness != null,
  },
  {
    ...col('harness_gc_share', 'Client GC', 'percent', 'harness.gcShare', true, (e) => (e.harness?.gcShare == null ? null : 100 * e.harness.gcShare)),
    display: (e) => (e.harness?.gcShare == null ? '–' : `${(100 * e.harness.gcShare).toFixed(1)}%`),
    showIf: (e) => e.harness?.gcShare != null,
  },
  col('workload', 'WORKLOAD', 'text', 'mix.workload (latency runs), fault.mix.workload (fault runs)', false, (e) => e.mix?.workload ?? e.fault?.mix?.workload ?? null),
  col('commands', 'Per command', 'text', 'mix.commands (latency runs, measured iterations), fault.commands (fault runs, the whole run): ' +
  'COMMAND:ops=,ops_per_sec=,p50_us=,p99_us=,p999_us=,failed=,verified=,missing=,mismatched=,unverified=,[stale= with replica reads,]bytes_out=,bytes_in= per answered op, ";" between', false,
  (e) => { const c = e.mix?.commands ?? e.fault?.commands; return c === undefined ? null : commandsText(c, false); }),
];

/** A WORKLOAD's per-command results in one CSV cell (latency from the intended send time where `open` and recorded). */
export function commandsText(commands: readonly CommandSummary[], open: boolean): string {
  const n = (x: number | null | undefined): string => (x == null ? '' : String(Math.round(x * 100) / 100));
  return commands.map((c) => {
    const lat = (open ? c.intended : null) ?? c.service;
    return `${c.command}:ops=${c.ops},ops_per_sec=${n(c.opsPerSec)},p50_us=${n(lat.p50Us)},p99_us=${n(lat.p99Us)},p999_us=${n(lat.p999Us)},failed=${c.service.errors},` +
      `verified=${c.verified},missing=${c.missing},mismatched=${c.mismatched},unverified=${c.unverified},${c.stale !== undefined ? `stale=${c.stale},` : ''}bytes_out=${n(c.sentBytesPerOp)},bytes_in=${n(c.readBytesPerOp)}`;
  }).join(';');
}

/** The time unit used for a table: chosen from its smallest mean, as BenchmarkDotNet does. */
export interface TimeUnit {
  readonly name: 's' | 'ms' | 'μs';
  readonly perMs: number;
}

export function chooseTimeUnit(entries: readonly ResultEntry[]): TimeUnit {
  const means = entries.map((e) => e.stats.meanMs).filter((m): m is number => m !== null);
  const smallest = means.length > 0 ? minOf(means) : 1;
  if (smallest < 1) return { name: 'μs', perMs: 1000 };
  if (smallest >= 10_000) return { name: 's', perMs: 0.001 };
  return { name: 'ms', perMs: 1 };
}

/** About four significant digits: 295.7, 46.82, 8.631, 0.1700. */
export function formatNumber(x: number): string {
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  if (a >= 10) return x.toFixed(2);
  if (a >= 1) return x.toFixed(3);
  return x.toFixed(4);
}

/** Shown for a missing value in tables (CSV leaves the cell empty). */
export const NA = 'NA';

/** Formats a cell for console and markdown. */
export function formatCell(column: Column, entry: ResultEntry, unit: TimeUnit): string {
  if (column.display !== undefined) return column.display(entry) ?? NA;
  const v = column.value(entry);
  if (v === null) return NA;
  if (typeof v === 'string') return v;
  switch (column.kind) {
    case 'time':
      return `${formatNumber(v * unit.perMs)} ${unit.name}`;
    case 'percent':
      return `${Math.round(v)}%`;
    case 'us':
      return `${formatNumber(v)} μs`;
    case 'count':
    case 'text':
      return String(v);
  }
}

/** What went wrong for an entry, in one cell: `ok`, or e.g. `2 missing, 1 failed ops` (every detail is in markdown, CSV, JSON). */
export function checksText(e: ResultEntry): string {
  const parts: string[] = [];
  if (e.verification.missing > 0) parts.push(`${e.verification.missing} missing`);
  if (e.verification.mismatched > 0) parts.push(`${e.verification.mismatched} mismatched`);
  // A WORKLOAD's replies its model could not judge: not failures of the servers, but not verified either.
  const unverified = e.load?.record.unverified ?? e.mix?.commands.reduce((n, c) => n + c.unverified, 0) ?? 0;
  if (unverified > 0) parts.push(`${unverified} unverified`);
  const failed = e.ops.set.errors + e.ops.get.errors;
  if (failed > 0) parts.push(`${failed} failed ops`);
  if (e.staleness !== null && e.staleness.reads > 0) parts.push(`${e.staleness.reads} stale`);
  if (measuredNothing(e)) parts.push('nothing measured');
  if (clientLoadOf(e)?.bound === true) parts.push('client-bound');
  const short = underMeasured(e);
  if (short !== undefined) parts.push(`only ${short.measured} of ${short.wanted} iterations`);
  return parts.length === 0 ? (e.state === 'completed' ? 'ok' : e.state) : parts.join(', ');
}

/** The console's one cell for verification and failures. */
export const CHECKS_COLUMN: Column = col('checks', 'Checks', 'text', 'verification, ops.*.errors, staleness.reads, load.record.unverified, mix.commands[].unverified', true, checksText);

/** Picks columns by id, in the order given (for the console's compact tables). */
export function pick(columns: readonly Column[], ids: readonly string[]): Column[] {
  return ids.map((id) => {
    const found = columns.find((c) => c.id === id);
    if (found === undefined) throw new Error(`no column ${id}`);
    return { ...found, inTable: true, showIf: undefined } as Column;
  });
}

/**
 * The console's default seed table (fits 120 columns with the default run's targets): Target, Mean, Error, StdDev,
 * Percent, GET p99 and Checks. `--wide` shows every table column; markdown, CSV and JSON always have them all.
 */
export const CONSOLE_COLUMNS: readonly Column[] = [...pick(COLUMNS, ['target', 'mean_ms', 'error_ms', 'stddev_ms', 'percent', 'get_p99_us']), CHECKS_COLUMN];
