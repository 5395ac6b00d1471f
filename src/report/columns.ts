import { formatPercent, type ResultEntry } from './model.js';

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
}

const col = (id: string, header: string, kind: ColumnKind, path: string, inTable: boolean, value: Column['value']): Column =>
  ({ id, header, kind, path, inTable, value });

export const COLUMNS: readonly Column[] = [
  col('scenario', 'Scenario', 'text', 'scenario.name', false, (e) => e.scenario.name),
  col('read_ratio', 'READ_RATIO', 'count', 'scenario.params.READ_RATIO', false, (e) => e.scenario.params.READ_RATIO ?? null),
  col('write_count', 'WRITE_COUNT', 'count', 'scenario.params.WRITE_COUNT', false, (e) => e.scenario.params.WRITE_COUNT ?? null),
  col('payload_bytes', 'PAYLOAD_BYTES', 'count', 'scenario.params.PAYLOAD_BYTES', false, (e) => e.scenario.params.PAYLOAD_BYTES ?? null),
  col('target', 'Target', 'text', 'target.name', true, (e) => e.target.name),
  col('mode', 'Mode', 'text', 'target.mode', false, (e) => e.target.mode),
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
  col('failed_ops', 'Failed ops', 'count', 'ops.set.errors + ops.get.errors', true, (e) => e.ops.set.errors + e.ops.get.errors),
  col('failed_iterations', 'Failed iterations', 'count', 'iterations.failed', false, (e) => e.iterations.failed),
];

/** The time unit used for a table: chosen from its smallest mean, as BenchmarkDotNet does. */
export interface TimeUnit {
  readonly name: 's' | 'ms' | 'μs';
  readonly perMs: number;
}

export function chooseTimeUnit(entries: readonly ResultEntry[]): TimeUnit {
  const means = entries.map((e) => e.stats.meanMs).filter((m): m is number => m !== null);
  const smallest = means.length > 0 ? Math.min(...means) : 1;
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
