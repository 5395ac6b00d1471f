import { maxOf } from '../stats/extent.js';

/** The counts a sparkline draws: successes and failures per bucket (a fault run's timeline, a load run's seconds). */
export interface SparkSeries {
  readonly ok: readonly number[];
  readonly failed: readonly number[];
}

const BARS = '▁▂▃▄▅▆▇█';

/**
 * A sparkline of successful ops over the run, at most `width` characters (buckets summed into columns, or averaged
 * with `combine: 'mean'` for values that are not counts, e.g. a p99 per second): the bar's height is the column's share
 * of the highest column; `×` marks a column where any op failed, a space one whose value is 0.
 */
export function sparkline(t: SparkSeries, width = 60, combine: 'sum' | 'mean' = 'sum'): string {
  const n = t.ok.length;
  if (n === 0) return '';
  const columns = Math.min(width, n);
  const ok: number[] = new Array<number>(columns).fill(0);
  const failed: number[] = new Array<number>(columns).fill(0);
  const buckets: number[] = new Array<number>(columns).fill(0);
  for (let i = 0; i < n; i++) {
    const c = Math.min(columns - 1, Math.floor((i * columns) / n));
    ok[c] = (ok[c] ?? 0) + (t.ok[i] ?? 0);
    failed[c] = (failed[c] ?? 0) + (t.failed[i] ?? 0);
    buckets[c] = (buckets[c] ?? 0) + 1;
  }
  const value = combine === 'sum' ? ok : ok.map((v, c) => v / Math.max(1, buckets[c] ?? 1));
  const top = Math.max(maxOf(value), Number.MIN_VALUE);
  return value.map((v, c) => ((failed[c] ?? 0) > 0 ? '×' : v === 0 ? ' ' : BARS[Math.min(BARS.length - 1, Math.floor((v / top) * BARS.length))] as string)).join('');
}
