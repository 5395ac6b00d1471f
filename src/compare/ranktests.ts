import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';

/** Direction of a one-sided test: `greater` = the first sample is shifted up. */
export type Alternative = 'greater' | 'less';

/** Samples smaller than this (in each group) use the exact null distribution when there are no ties. */
const EXACT_BELOW = 50;

const phi = (z: number): number => normalCdf(z, 0, 1);
export const zQuantile = (p: number): number => normalQuantile(p, 0, 1);

/** Mid-ranks (1-based; ties share their average rank) and the sizes of tie groups. */
export function midRanks(values: readonly number[]): { ranks: number[]; tieSizes: number[] } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  const tieSizes: number[] = [];
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]?.[0] === order[i]?.[0]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[(order[k] as readonly [number, number])[1]] = rank;
    if (j > i) tieSizes.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, tieSizes };
}

const nullCache = new Map<string, number[]>();

/** Memoised: the null distributions depend only on the sample sizes. */
function cached(key: string, make: () => number[]): number[] {
  let dist = nullCache.get(key);
  if (dist === undefined) {
    dist = make();
    nullCache.set(key, dist);
  }
  return dist;
}

/** P(U = u) for u = 0..mn under H0, by the recursion p(m,n,u) = m/(m+n)·p(m−1,n,u−n) + n/(m+n)·p(m,n−1,u). */
function mannWhitneyNull(m: number, n: number): number[] {
  // table[j][u] holds the distribution for (i, j) while i runs from 0 to m.
  let table: number[][] = Array.from({ length: n + 1 }, () => [1]);
  for (let i = 1; i <= m; i++) {
    const next: number[][] = [[1]];
    for (let j = 1; j <= n; j++) {
      const size = i * j + 1;
      const row = new Array<number>(size).fill(0);
      const fromI = table[j] as number[]; // (i-1, j): u - j
      const fromJ = next[j - 1] as number[]; // (i, j-1): u
      for (let u = 0; u < size; u++) row[u] = (i / (i + j)) * (fromI[u - j] ?? 0) + (j / (i + j)) * (fromJ[u] ?? 0);
      next.push(row);
    }
    table = next;
  }
  return table[n] as number[];
}

/** P(V = v) for v = 0..n(n+1)/2 under H0: each rank's sign is a fair coin. */
function signedRankNull(n: number): number[] {
  let dist = [1];
  for (let k = 1; k <= n; k++) {
    const next = new Array<number>(dist.length + k).fill(0);
    for (let v = 0; v < dist.length; v++) {
      next[v] = (next[v] ?? 0) + (dist[v] ?? 0) / 2;
      next[v + k] = (next[v + k] ?? 0) + (dist[v] ?? 0) / 2;
    }
    dist = next;
  }
  return dist;
}

const upperTail = (dist: readonly number[], from: number): number => dist.slice(Math.max(0, Math.ceil(from - 1e-9))).reduce((a, b) => a + b, 0);
const lowerTail = (dist: readonly number[], to: number): number => dist.slice(0, Math.floor(to + 1e-9) + 1).reduce((a, b) => a + b, 0);

export interface TestResult {
  /** W for the rank-sum test (= U of the first sample, as R reports it), V for the signed-rank test. */
  readonly statistic: number;
  readonly p: number;
  readonly exact: boolean;
}

/**
 * Wilcoxon rank-sum / Mann–Whitney U test of x against y, one-sided.
 * Exact null distribution when both samples have < 50 values and there are no ties (as R's
 * wilcox.test), otherwise the normal approximation with tie and continuity corrections.
 */
export function mannWhitney(x: readonly number[], y: readonly number[], alternative: Alternative, method: 'auto' | 'normal' = 'auto'): TestResult {
  const m = x.length;
  const n = y.length;
  if (m === 0 || n === 0) return { statistic: Number.NaN, p: 1, exact: false };
  const { ranks, tieSizes } = midRanks([...x, ...y]);
  const w = ranks.slice(0, m).reduce((a, b) => a + b, 0) - (m * (m + 1)) / 2;
  if (method === 'auto' && m < EXACT_BELOW && n < EXACT_BELOW && tieSizes.length === 0) {
    const dist = cached(`u${m},${n}`, () => mannWhitneyNull(m, n));
    return { statistic: w, p: Math.min(1, alternative === 'greater' ? upperTail(dist, w) : lowerTail(dist, w)), exact: true };
  }
  const N = m + n;
  const tieTerm = tieSizes.reduce((a, t) => a + t ** 3 - t, 0) / (N * (N - 1));
  const sigma = Math.sqrt(((m * n) / 12) * (N + 1 - tieTerm));
  if (sigma === 0) return { statistic: w, p: 1, exact: false };
  const z = alternative === 'greater' ? (w - (m * n) / 2 - 0.5) / sigma : (w - (m * n) / 2 + 0.5) / sigma;
  return { statistic: w, p: alternative === 'greater' ? 1 - phi(z) : phi(z), exact: false };
}

/**
 * Wilcoxon signed-rank test of d against 0, one-sided (zeros dropped).
 * Exact for n < 50 without ties or zeros, otherwise normal approximation with corrections.
 */
export function signedRank(d: readonly number[], alternative: Alternative, method: 'auto' | 'normal' = 'auto'): TestResult {
  const nonzero = d.filter((x) => x !== 0);
  const n = nonzero.length;
  if (n === 0) return { statistic: Number.NaN, p: 1, exact: false };
  const { ranks, tieSizes } = midRanks(nonzero.map(Math.abs));
  const v = ranks.reduce((a, r, i) => a + ((nonzero[i] as number) > 0 ? r : 0), 0);
  if (method === 'auto' && n < EXACT_BELOW && tieSizes.length === 0 && n === d.length) {
    const dist = cached(`v${n}`, () => signedRankNull(n));
    return { statistic: v, p: Math.min(1, alternative === 'greater' ? upperTail(dist, v) : lowerTail(dist, v)), exact: true };
  }
  const sigma = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieSizes.reduce((a, t) => a + t ** 3 - t, 0) / 48);
  if (sigma === 0) return { statistic: v, p: 1, exact: false };
  const center = (n * (n + 1)) / 4;
  const z = alternative === 'greater' ? (v - center - 0.5) / sigma : (v - center + 0.5) / sigma;
  return { statistic: v, p: alternative === 'greater' ? 1 - phi(z) : phi(z), exact: false };
}

export interface ShiftEstimate {
  /** Hodges–Lehmann estimate. */
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
  readonly confidence: number;
}

const medianSorted = (s: readonly number[]): number =>
  s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;

/** Order-statistic interval [s_(k), s_(N+1−k)] with k = ⌊N/2 − z·σ⌋ (at least 1). */
function orderInterval(sorted: readonly number[], sigma: number, confidence: number): [number, number] {
  const N = sorted.length;
  const k = Math.max(1, Math.floor(N / 2 - zQuantile(1 - (1 - confidence) / 2) * sigma));
  return [sorted[k - 1] as number, sorted[N - k] as number];
}

/**
 * Two-sample Hodges–Lehmann shift of x over y (median of all x_i − y_j) with the
 * distribution-free interval from the rank-sum statistic (normal approximation of its quantiles).
 */
export function hodgesLehmannShift(x: readonly number[], y: readonly number[], confidence: number): ShiftEstimate {
  const diffs: number[] = [];
  for (const a of x) for (const b of y) diffs.push(a - b);
  diffs.sort((a, b) => a - b);
  if (diffs.length === 0) return { estimate: Number.NaN, lower: Number.NaN, upper: Number.NaN, confidence };
  const m = x.length;
  const n = y.length;
  const [lower, upper] = orderInterval(diffs, Math.sqrt((m * n * (m + n + 1)) / 12), confidence);
  return { estimate: medianSorted(diffs), lower, upper, confidence };
}

/** One-sample Hodges–Lehmann location of d (median of Walsh averages) with its signed-rank interval. */
export function hodgesLehmannLocation(d: readonly number[], confidence: number): ShiftEstimate {
  const walsh: number[] = [];
  for (let i = 0; i < d.length; i++) for (let j = i; j < d.length; j++) walsh.push(((d[i] as number) + (d[j] as number)) / 2);
  walsh.sort((a, b) => a - b);
  if (walsh.length === 0) return { estimate: Number.NaN, lower: Number.NaN, upper: Number.NaN, confidence };
  const n = d.length;
  const [lower, upper] = orderInterval(walsh, Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24), confidence);
  return { estimate: medianSorted(walsh), lower, upper, confidence };
}
