import { ConfigError } from '../config/errors.js';
import { hodgesLehmannLocation, hodgesLehmannShift, mannWhitney, mannWhitneyMinP, signedRank, signedRankMinP } from './ranktests.js';

/**
 * Slower / Faster: the data show a change beyond the threshold (a test against the threshold,
 * not against zero), after Holm's correction over the rows of the comparison.
 * Same: the (1 − 2α) confidence interval of the ratio lies inside ±threshold.
 * Inconclusive (`~`): neither; never a failure.
 * Undecided: the row has too few samples for its test ever to reach its Holm level (a target
 * errored, MAX_TIME cut the run short): it could not have failed, so it fails the gate.
 */
export type Verdict = 'Slower' | 'Faster' | 'Same' | 'Inconclusive' | 'Undecided';

/** Verdicts that make the gate exit 1. */
export const FAILING_VERDICTS: ReadonlySet<Verdict> = new Set<Verdict>(['Slower', 'Undecided']);

/** Whether a verdict fails the gate under these options (Inconclusive too with failIfInconclusive). */
export function failsGate(verdict: Verdict, options: GateOptions): boolean {
  return FAILING_VERDICTS.has(verdict) || (options.failIfInconclusive === true && verdict === 'Inconclusive');
}

export interface GateOptions {
  /** Smallest change that matters, as a fraction (0.05 = 5%). */
  readonly threshold: number;
  /** Family-wise significance level of each direction (Slower, Faster) over the rows of one comparison. */
  readonly alpha: number;
  /** Inconclusive rows (`~`) fail the gate too (`--fail-if-inconclusive`): for CI, where "could not tell" must not pass. */
  readonly failIfInconclusive?: boolean;
}

/** The statistics of one row, before the family's verdicts are decided. */
export interface RowTest {
  /** Hodges–Lehmann estimate of current / baseline (1.10 = 10% slower). */
  readonly ratio: number;
  /** (1 − 2α) confidence interval of the ratio: the interval whose inclusion in ±threshold means Same. */
  readonly ratioLower: number;
  readonly ratioUpper: number;
  readonly confidence: number;
  /** Unadjusted p-values of the threshold-shifted one-sided tests. */
  readonly pSlower: number;
  readonly pFaster: number;
  /** Smallest p-value the test can reach with these sample sizes (1 below MIN_SAMPLES). */
  readonly minP: number;
  /** Sample sizes used: [baseline, current], or [pairs, pairs] for the paired gate. */
  readonly n: readonly [number, number];
  readonly method: 'mann-whitney' | 'signed-rank';
}

export interface GateResult extends RowTest {
  readonly verdict: Verdict;
  /** Holm-adjusted p-values over the rows of the comparison (equal to the raw ones for one row). */
  readonly pSlowerAdjusted: number;
  readonly pFasterAdjusted: number;
  /** Holm-adjusted p-value in the direction of the observed change. */
  readonly p: number;
  /** Number of rows in the Holm family. */
  readonly family: number;
  /** Why the verdict is Undecided, e.g. "only 4 pairs, needs 9 for α = 0.01 over 3 rows"; else null. */
  readonly reason: string | null;
  /**
   * The smallest slowdown this row could have shown as Slower, as a fraction (0.08 = 8%): the threshold plus
   * the half-width of the ratio's interval, both on the log scale. A true slowdown of this size gives an
   * estimate whose interval just clears the threshold: it is detected about half the time. NaN without a test.
   */
  readonly detectable: number;
  /**
   * Whether the threshold was within this row's reach: its interval is narrower than ±threshold, so Same
   * was possible and a slowdown of twice the threshold would be shown. False without a test.
   */
  readonly withinReach: boolean;
}

/** Fewer samples than this cannot support any verdict but Undecided. */
export const MIN_SAMPLES = 5;

/**
 * Pairs the in-run gate needs per row: the smallest n (at least MIN_SAMPLES) whose best possible
 * exact signed-rank p-value, 2^−n, is below α / rows, the Holm level of the family's first row.
 */
export function requiredPairs(alpha: number, rows: number): number {
  let n = MIN_SAMPLES;
  while (signedRankMinP(n) >= alpha / Math.max(1, rows)) n++;
  return n;
}

/**
 * Iterations per run `compare` needs per row (equal sizes m = n): the smallest n (at least
 * MIN_SAMPLES) whose best possible exact rank-sum p-value, 1 / C(2n, n), is below α / rows.
 */
export function requiredIterations(alpha: number, rows: number): number {
  let n = MIN_SAMPLES;
  while (mannWhitneyMinP(n, n) >= alpha / Math.max(1, rows)) n++;
  return n;
}

const percent = (x: number): string => `${Number((x * 100).toPrecision(6))}%`;

/**
 * Refuses, before any traffic, an in-run gate that could never fail: with MIN_ITERATIONS rounds the
 * exact signed-rank test's smallest p-value is 2^−MIN_ITERATIONS; if that is not below the Holm level
 * of the first row (α / rows), every row would end Inconclusive and CI would stay green.
 * `rows` is the size of the family: (targets − 1) × parameter combinations, over all scenarios of the run.
 * Throws ConfigError naming the minimum MIN_ITERATIONS.
 */
export function checkGateDesign(options: {
  readonly alpha: number; readonly threshold: number; readonly minIterations: number; readonly rows: number; readonly flag: string;
}): void {
  const { alpha, threshold, minIterations, rows, flag } = options;
  if (rows < 1) {
    throw new ConfigError(`${flag} ${percent(threshold)} has nothing to compare: the gate needs the --baseline target and at least one other target. Fix: configure a second target (e.g. CANDIDATE_SERVERS=host:port) or drop ${flag}`);
  }
  const needed = requiredPairs(alpha, rows);
  if (minIterations < needed) {
    throw new ConfigError(`${flag} ${percent(threshold)} with --alpha ${alpha} over ${rows} row${rows === 1 ? '' : 's'} needs at least ${needed} rounds per row, ` +
      `but MIN_ITERATIONS=${minIterations}: the signed-rank test's smallest p-value with ${minIterations} pairs is ${signedRankMinP(minIterations).toPrecision(3)}, ` +
      `never below α/${rows} = ${(alpha / rows).toPrecision(3)}, so the gate could never fail. Fix: set MIN_ITERATIONS=${needed} or more (or raise --alpha)`);
  }
}

/**
 * Refuses, when two results files are loaded, a comparison that could never fail: with the files'
 * MIN_ITERATIONS (m and n) the exact rank-sum test's smallest p-value is 1 / C(m + n, m).
 */
export function checkCompareDesign(options: {
  readonly alpha: number; readonly baselineIterations: number; readonly currentIterations: number; readonly rows: number; readonly what: string;
}): void {
  const { alpha, baselineIterations: m, currentIterations: n, rows, what } = options;
  const reachable = m >= MIN_SAMPLES && n >= MIN_SAMPLES && mannWhitneyMinP(m, n) < alpha / Math.max(1, rows);
  if (!reachable) {
    const needed = requiredIterations(alpha, rows);
    throw new ConfigError(`${what} was run with MIN_ITERATIONS=${m} (baseline) and ${n} (current): with --alpha ${alpha} over ${rows} row${rows === 1 ? '' : 's'} ` +
      `the rank-sum test needs at least ${needed} iterations in each run, so this comparison could never fail. Fix: re-run both with MIN_ITERATIONS=${needed} or more (or raise --alpha)`);
  }
}

function noTest(n: readonly [number, number], method: RowTest['method'], confidence: number): RowTest {
  return { ratio: Number.NaN, ratioLower: Number.NaN, ratioUpper: Number.NaN, confidence, pSlower: 1, pFaster: 1, minP: 1, n, method };
}

/**
 * Two independent sets of iteration times (two runs): Mann–Whitney tests on log times,
 * the current sample shifted by log(1 + threshold), as BenchmarkDotNet's threshold test.
 */
export function testIndependent(baseline: readonly number[], current: readonly number[], options: GateOptions): RowTest {
  const confidence = 1 - 2 * options.alpha;
  const n = [baseline.length, current.length] as const;
  if (baseline.length < MIN_SAMPLES || current.length < MIN_SAMPLES) return noTest(n, 'mann-whitney', confidence);
  const delta = Math.log1p(options.threshold);
  const b = baseline.map(Math.log);
  const c = current.map(Math.log);
  const shift = hodgesLehmannShift(c, b, confidence);
  return {
    ratio: Math.exp(shift.estimate),
    ratioLower: Math.exp(shift.lower),
    ratioUpper: Math.exp(shift.upper),
    confidence,
    pSlower: mannWhitney(c.map((x) => x - delta), b, 'greater').p,
    pFaster: mannWhitney(c.map((x) => x + delta), b, 'less').p,
    minP: mannWhitneyMinP(baseline.length, current.length),
    n,
    method: 'mann-whitney',
  };
}

/**
 * Targets measured in the same rounds: Wilcoxon signed-rank tests on per-round log ratios
 * current/baseline, shifted by log(1 + threshold). Rounds where either iteration failed are skipped.
 * Machine drift and hiccups that hit both targets of a round cancel out in the ratio.
 */
export function testPaired(baselineRounds: readonly (number | null)[], currentRounds: readonly (number | null)[], options: GateOptions): RowTest {
  const confidence = 1 - 2 * options.alpha;
  const d: number[] = [];
  for (let i = 0; i < Math.min(baselineRounds.length, currentRounds.length); i++) {
    const b = baselineRounds[i];
    const c = currentRounds[i];
    if (b != null && c != null && b > 0 && c > 0) d.push(Math.log(c) - Math.log(b));
  }
  const n = [d.length, d.length] as const;
  if (d.length < MIN_SAMPLES) return noTest(n, 'signed-rank', confidence);
  const delta = Math.log1p(options.threshold);
  const location = hodgesLehmannLocation(d, confidence);
  return {
    ratio: Math.exp(location.estimate),
    ratioLower: Math.exp(location.lower),
    ratioUpper: Math.exp(location.upper),
    confidence,
    pSlower: signedRank(d.map((x) => x - delta), 'greater').p,
    pFaster: signedRank(d.map((x) => x + delta), 'less').p,
    minP: signedRankMinP(d.length),
    n,
    method: 'signed-rank',
  };
}

/** Holm–Bonferroni adjusted p-values: p̃_(i) = max over j ≤ i of min(1, (m − j)·p_(j)), 0-based j. */
export function holmAdjust(p: readonly number[]): number[] {
  const m = p.length;
  const order = p.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(([v, i], j) => {
    running = Math.max(running, Math.min(1, (m - j) * v));
    adjusted[i] = running;
  });
  return adjusted;
}

function undecidedReason(t: RowTest, alpha: number, rows: number): string {
  const over = `α = ${alpha} over ${rows} row${rows === 1 ? '' : 's'}`;
  if (t.method === 'signed-rank') return `only ${t.n[0]} ${t.n[0] === 1 ? 'pair' : 'pairs'}, needs ${requiredPairs(alpha, rows)} for ${over}`;
  return `only ${t.n[0]} + ${t.n[1]} iterations, needs ${requiredIterations(alpha, rows)} in each run for ${over}`;
}

/**
 * What a row could have detected (see GateResult.detectable and withinReach), from its interval: the
 * one-sided α test against the threshold and the (1 − 2α) interval's bound decide alike, so a true
 * slowdown clears the threshold once it exceeds it by the interval's half-width (the mean of its two
 * sides on the log scale: rank intervals are asymmetric around their estimate).
 */
export function reach(t: RowTest, delta: number): { detectable: number; withinReach: boolean } {
  const width = Math.log(t.ratioUpper) - Math.log(t.ratioLower);
  if (!Number.isFinite(width)) return { detectable: Number.NaN, withinReach: false };
  return { detectable: Math.expm1(delta + width / 2), withinReach: width < 2 * delta };
}

/**
 * Verdicts for the rows of one comparison. Slower and Faster are each tested with Holm's step-down
 * correction over the rows, so the chance of any false Slower in the comparison stays ≤ α.
 * Same is a per-row statement (the (1 − 2α) interval inside ±threshold), not adjusted: it never
 * fails the gate, and adjusting it would only turn more rows `~`.
 * A row that is not Slower or Faster and whose test could not reach α / rows is Undecided.
 */
export function judgeRows(tests: readonly RowTest[], options: GateOptions): GateResult[] {
  const rows = tests.length;
  const slower = holmAdjust(tests.map((t) => t.pSlower));
  const faster = holmAdjust(tests.map((t) => t.pFaster));
  const delta = Math.log1p(options.threshold);
  return tests.map((t, i) => {
    const pSlowerAdjusted = slower[i] as number;
    const pFasterAdjusted = faster[i] as number;
    let verdict: Verdict = 'Inconclusive';
    let reason: string | null = null;
    if (pSlowerAdjusted < options.alpha) verdict = 'Slower';
    else if (pFasterAdjusted < options.alpha) verdict = 'Faster';
    else if (t.minP >= options.alpha / rows) {
      verdict = 'Undecided';
      reason = undecidedReason(t, options.alpha, rows);
    } else if (Math.log(t.ratioLower) > -delta && Math.log(t.ratioUpper) < delta) verdict = 'Same';
    const p = Number.isFinite(t.ratio) && t.ratio < 1 ? pFasterAdjusted : pSlowerAdjusted;
    return { ...t, verdict, pSlowerAdjusted, pFasterAdjusted, p, family: rows, reason, ...reach(t, delta) };
  });
}

/** One two-run row judged on its own (a family of one). */
export function compareIndependent(baseline: readonly number[], current: readonly number[], options: GateOptions): GateResult {
  return judgeRows([testIndependent(baseline, current, options)], options)[0] as GateResult;
}

/** One in-run row judged on its own (a family of one). */
export function comparePaired(baselineRounds: readonly (number | null)[], currentRounds: readonly (number | null)[], options: GateOptions): GateResult {
  return judgeRows([testPaired(baselineRounds, currentRounds, options)], options)[0] as GateResult;
}
