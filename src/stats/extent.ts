/**
 * Math.max / Math.min over any number of values, without spreading them into arguments (a spread of a long list, such
 * as 200,000 values, throws RangeError: the engine's argument limit). Same results: −Infinity / Infinity when empty,
 * NaN when any value is NaN.
 */
export function maxOf(values: Iterable<number>): number {
  let m = -Infinity;
  for (const v of values) m = Math.max(m, v);
  return m;
}

/** Math.min over any number of values, without spreading them (see maxOf). */
export function minOf(values: Iterable<number>): number {
  let m = Infinity;
  for (const v of values) m = Math.min(m, v);
  return m;
}
