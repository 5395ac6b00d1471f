import { hodgesLehmannLocation, hodgesLehmannShift, mannWhitney, signedRank } from './ranktests.js';

/**
 * Slower / Faster: the data show a change beyond the threshold (a test against the threshold,
 * not against zero). Same: the confidence interval of the ratio lies inside ±threshold.
 * Inconclusive (`~`): neither; never a failure.
 */
export type Verdict = 'Slower' | 'Faster' | 'Same' | 'Inconclusive';

export interface GateOptions {
  /** Smallest change that matters, as a fraction (0.05 = 5%). */
  readonly threshold: number;
  /** Significance level of each one-sided test. */
  readonly alpha: number;
}

export interface GateResult {
  readonly verdict: Verdict;
  /** Hodges–Lehmann estimate of current / baseline (1.10 = 10% slower). */
  readonly ratio: number;
  /** (1 − 2α) confidence interval of the ratio: the interval whose inclusion in ±threshold means Same. */
  readonly ratioLower: number;
  readonly ratioUpper: number;
  readonly confidence: number;
  /** p-value of the threshold-shifted test in the direction of the observed change. */
  readonly p: number;
  readonly pSlower: number;
  readonly pFaster: number;
  /** Sample sizes used: [baseline, current], or [pairs, pairs] for the paired gate. */
  readonly n: readonly [number, number];
  readonly method: 'mann-whitney' | 'signed-rank';
}

/** Fewer samples than this cannot support any verdict but Inconclusive. */
export const MIN_SAMPLES = 5;

function decide(pSlower: number, pFaster: number, logLower: number, logUpper: number, delta: number, alpha: number): Verdict {
  if (pSlower < alpha) return 'Slower';
  if (pFaster < alpha) return 'Faster';
  if (logLower > -delta && logUpper < delta) return 'Same';
  return 'Inconclusive';
}

function inconclusive(n: readonly [number, number], method: GateResult['method'], confidence: number): GateResult {
  return { verdict: 'Inconclusive', ratio: Number.NaN, ratioLower: Number.NaN, ratioUpper: Number.NaN, confidence, p: 1, pSlower: 1, pFaster: 1, n, method };
}

/**
 * Two independent sets of iteration times (two runs): Mann–Whitney tests on log times,
 * the current sample shifted by log(1 + threshold), as BenchmarkDotNet's threshold test.
 */
export function compareIndependent(baseline: readonly number[], current: readonly number[], options: GateOptions): GateResult {
  const confidence = 1 - 2 * options.alpha;
  const n = [baseline.length, current.length] as const;
  if (baseline.length < MIN_SAMPLES || current.length < MIN_SAMPLES) return inconclusive(n, 'mann-whitney', confidence);
  const delta = Math.log1p(options.threshold);
  const b = baseline.map(Math.log);
  const c = current.map(Math.log);
  const pSlower = mannWhitney(c.map((x) => x - delta), b, 'greater').p;
  const pFaster = mannWhitney(c.map((x) => x + delta), b, 'less').p;
  const shift = hodgesLehmannShift(c, b, confidence);
  return {
    verdict: decide(pSlower, pFaster, shift.lower, shift.upper, delta, options.alpha),
    ratio: Math.exp(shift.estimate),
    ratioLower: Math.exp(shift.lower),
    ratioUpper: Math.exp(shift.upper),
    confidence,
    p: shift.estimate >= 0 ? pSlower : pFaster,
    pSlower,
    pFaster,
    n,
    method: 'mann-whitney',
  };
}

/**
 * Targets measured in the same rounds: Wilcoxon signed-rank tests on per-round log ratios
 * current/baseline, shifted by log(1 + threshold). Rounds where either iteration failed are skipped.
 * Machine drift and hiccups that hit both targets of a round cancel out in the ratio.
 */
export function comparePaired(baselineRounds: readonly (number | null)[], currentRounds: readonly (number | null)[], options: GateOptions): GateResult {
  const confidence = 1 - 2 * options.alpha;
  const d: number[] = [];
  for (let i = 0; i < Math.min(baselineRounds.length, currentRounds.length); i++) {
    const b = baselineRounds[i];
    const c = currentRounds[i];
    if (b != null && c != null && b > 0 && c > 0) d.push(Math.log(c) - Math.log(b));
  }
  const n = [d.length, d.length] as const;
  if (d.length < MIN_SAMPLES) return inconclusive(n, 'signed-rank', confidence);
  const delta = Math.log1p(options.threshold);
  const pSlower = signedRank(d.map((x) => x - delta), 'greater').p;
  const pFaster = signedRank(d.map((x) => x + delta), 'less').p;
  const location = hodgesLehmannLocation(d, confidence);
  return {
    verdict: decide(pSlower, pFaster, location.lower, location.upper, delta, options.alpha),
    ratio: Math.exp(location.estimate),
    ratioLower: Math.exp(location.lower),
    ratioUpper: Math.exp(location.upper),
    confidence,
    p: location.estimate >= 0 ? pSlower : pFaster,
    pSlower,
    pFaster,
    n,
    method: 'signed-rank',
  };
}
