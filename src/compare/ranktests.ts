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
  for (let i = 0; i < order.length;) {
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
  /** True when the interval's order statistics come from the exact null distribution (as R's wilcox.test). */
  readonly exact: boolean;
}

/**
 * An implicitly sorted set of N values (Walsh averages, pairwise differences) that is never
 * materialised: `countAtMost(v)` counts values ≤ v and `nextAbove(v)` returns the smallest value > v,
 * each in O(n) time and O(1) extra memory over the sorted samples.
 */
interface ImplicitSet {
  readonly size: number;
  readonly min: number;
  readonly max: number;
  countAtMost(v: number): number;
  nextAbove(v: number): number;
}

/** Walsh averages (a_i + a_j)/2, i ≤ j, of a sorted sample. */
function walshSet(a: readonly number[]): ImplicitSet {
  const n = a.length;
  const at = (i: number): number => a[i] as number;
  const w = (i: number, j: number): number => (at(i) + at(j)) / 2;
  return {
    size: (n * (n + 1)) / 2,
    min: w(0, 0),
    max: w(n - 1, n - 1),
    countAtMost(v) {
      // For each i, j runs over i..J(i) where J(i) = last j with w(i, j) ≤ v; J is non-increasing in i.
      let count = 0;
      let j = n - 1;
      for (let i = 0; i < n; i++) {
        while (j >= i && w(i, j) > v) j--;
        if (j < i) break;
        count += j - i + 1;
      }
      return count;
    },
    nextAbove(v) {
      // For each i, the first j ≥ i with w(i, j) > v; that index is non-increasing in i.
      let best = Number.POSITIVE_INFINITY;
      let j = n;
      for (let i = 0; i < n; i++) {
        while (j - 1 >= i && w(i, j - 1) > v) j--;
        const k = Math.max(i, j);
        if (k < n) best = Math.min(best, w(i, k));
      }
      return best;
    },
  };
}

/** Differences x_i − y_j of two sorted samples. */
function differenceSet(x: readonly number[], y: readonly number[]): ImplicitSet {
  const m = x.length;
  const n = y.length;
  const d = (i: number, j: number): number => (x[i] as number) - (y[j] as number);
  return {
    size: m * n,
    min: d(0, n - 1),
    max: d(m - 1, 0),
    countAtMost(v) {
      // d(i, j) falls as j grows: values ≤ v are j ≥ p(i), and p(i) is non-decreasing in i.
      let count = 0;
      let p = 0;
      for (let i = 0; i < m; i++) {
        while (p < n && d(i, p) > v) p++;
        count += n - p;
      }
      return count;
    },
    nextAbove(v) {
      // For each i, the last j with d(i, j) > v is p(i) − 1.
      let best = Number.POSITIVE_INFINITY;
      let p = 0;
      for (let i = 0; i < m; i++) {
        while (p < n && d(i, p) > v) p++;
        if (p > 0) best = Math.min(best, d(i, p - 1));
      }
      return best;
    },
  };
}

/**
 * The k-th smallest value (1-based) of an implicit set, exactly: bisection on the value keeps
 * count(lo) < k ≤ count(hi); after each halving, the smallest value above lo is tried as the answer.
 * Each step is O(n); a double has at most ~2100 halvings but real data need about 60.
 */
function select(set: ImplicitSet, k: number): number {
  if (k < 1 || k > set.size) throw new RangeError(`order statistic ${k} of ${set.size} values`);
  if (set.countAtMost(set.min) >= k) return set.min;
  let lo = set.min;
  let hi = set.max;
  for (;;) {
    const candidate = set.nextAbove(lo);
    if (set.countAtMost(candidate) >= k) return candidate;
    lo = candidate;
    const mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) return hi;
    if (set.countAtMost(mid) >= k) hi = mid;
    else lo = mid;
  }
}

/** Median of an implicit set: one order statistic, or the mean of the two middle ones. */
function medianOf(set: ImplicitSet): number {
  const N = set.size;
  if (N % 2 === 1) return select(set, (N + 1) / 2);
  return (select(set, N / 2) + select(set, N / 2 + 1)) / 2;
}

/** The k-th smallest Walsh average of d (1-based), in O(n) memory. Exported for tests. */
export function walshOrderStatistic(d: readonly number[], k: number): number {
  return select(walshSet([...d].sort((a, b) => a - b)), k);
}

/** The k-th smallest difference x_i − y_j (1-based), in O(m + n) memory. Exported for tests. */
export function differenceOrderStatistic(x: readonly number[], y: readonly number[], k: number): number {
  return select(differenceSet([...x].sort((a, b) => a - b), [...y].sort((a, b) => a - b)), k);
}

/**
 * Index k of the lower confidence bound (the upper one is N + 1 − k), as R's wilcox.test:
 * exact: k = the (1 − confidence)/2 quantile of the null distribution of the statistic (at least 1);
 * otherwise the normal approximation k = ⌊N/2 − z·σ⌋ (Hollander & Wolfe), at least 1.
 */
function lowerIndex(N: number, confidence: number, exactNull: readonly number[] | undefined, sigma: number): number {
  const tail = (1 - confidence) / 2;
  if (exactNull !== undefined) {
    // qsignrank / qwilcox: the smallest q with P(S ≤ q) ≥ tail (R allows 10 ε); R then takes the q-th order statistic.
    let cumulative = 0;
    for (let q = 0; q < exactNull.length; q++) {
      cumulative += exactNull[q] as number;
      if (cumulative >= tail - 10 * Number.EPSILON) return Math.max(1, q);
    }
    return 1;
  }
  return Math.min(Math.ceil(N / 2), Math.max(1, Math.floor(N / 2 - zQuantile(1 - tail) * sigma)));
}

const noEstimate = (confidence: number): ShiftEstimate => ({ estimate: Number.NaN, lower: Number.NaN, upper: Number.NaN, confidence, exact: false });

const hasTies = (values: readonly number[]): boolean => {
  const s = [...values].sort((a, b) => a - b);
  return s.some((v, i) => i > 0 && v === s[i - 1]);
};

/**
 * Two-sample Hodges–Lehmann shift of x over y (median of all x_i − y_j) with its distribution-free
 * interval from the rank-sum statistic: exact quantiles when both samples have < 50 values and no
 * ties (R's wilcox.test(x, y, conf.int = TRUE)), otherwise the normal approximation of the index.
 * Memory O(m + n): the m·n differences are never stored.
 */
export function hodgesLehmannShift(x: readonly number[], y: readonly number[], confidence: number): ShiftEstimate {
  const m = x.length;
  const n = y.length;
  if (m === 0 || n === 0) return noEstimate(confidence);
  const set = differenceSet([...x].sort((a, b) => a - b), [...y].sort((a, b) => a - b));
  const exact = m < EXACT_BELOW && n < EXACT_BELOW && !hasTies([...x, ...y]);
  const k = lowerIndex(set.size, confidence, exact ? cached(`u${m},${n}`, () => mannWhitneyNull(m, n)) : undefined, Math.sqrt((m * n * (m + n + 1)) / 12));
  return { estimate: medianOf(set), lower: select(set, k), upper: select(set, set.size + 1 - k), confidence, exact };
}

/**
 * One-sample Hodges–Lehmann location of d (median of the Walsh averages) with its signed-rank
 * interval: exact quantiles for n < 50 without ties or zeros (R's wilcox.test(d, conf.int = TRUE)),
 * otherwise the normal approximation of the index. Memory O(n): the n(n+1)/2 averages are never stored.
 */
export function hodgesLehmannLocation(d: readonly number[], confidence: number): ShiftEstimate {
  const n = d.length;
  if (n === 0) return noEstimate(confidence);
  const set = walshSet([...d].sort((a, b) => a - b));
  const exact = n < EXACT_BELOW && !d.includes(0) && !hasTies(d.map(Math.abs));
  const k = lowerIndex(set.size, confidence, exact ? cached(`v${n}`, () => signedRankNull(n)) : undefined, Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24));
  return { estimate: medianOf(set), lower: select(set, k), upper: select(set, set.size + 1 - k), confidence, exact };
}

/** Smallest one-sided p-value the exact signed-rank test can reach with n pairs: 2^−n. */
export const signedRankMinP = (n: number): number => 2 ** -n;

/** Smallest one-sided p-value the exact rank-sum test can reach with sizes m and n: 1 / C(m + n, m). */
export function mannWhitneyMinP(m: number, n: number): number {
  // 1/C(m+n, m) as a running product, so it stays finite (it underflows to 0 only for huge samples).
  let p = 1;
  const k = Math.min(m, n);
  for (let i = 1; i <= k; i++) p *= i / (Math.max(m, n) + i);
  return p;
}
