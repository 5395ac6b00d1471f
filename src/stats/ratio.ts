import { mean } from 'simple-statistics';
import { studentTQuantile } from './describe.js';

/** A ratio of two means with its confidence interval. */
export interface RatioInterval {
  /** Paired rounds used (both iterations valid). */
  readonly n: number;
  /** mean(current) / mean(baseline) over those rounds. */
  readonly ratio: number;
  /** Bounds of the interval; null when the interval is unbounded (the baseline mean is not clearly above 0). */
  readonly lower: number | null;
  readonly upper: number | null;
  readonly confidence: number;
}

/**
 * Fieller's confidence interval for the ratio of two means measured in the same rounds
 * (paired: one iteration of each target per round, so round-to-round drift that hits both is
 * accounted for through their covariance). The interval is every R for which the paired t-test
 * of c_i − R·b_i against 0 does not reject at `confidence`:
 *   (c̄ − R b̄)² ≤ t² (s_cc − 2R s_bc + R² s_bb) / n.
 * Rounds where either value is null are skipped. Undefined with fewer than 3 pairs.
 */
export function pairedRatioInterval(baseline: readonly (number | null)[], current: readonly (number | null)[], confidence: number): RatioInterval | undefined {
  const b: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < Math.min(baseline.length, current.length); i++) {
    const x = baseline[i];
    const y = current[i];
    if (x != null && y != null && Number.isFinite(x) && Number.isFinite(y)) {
      b.push(x);
      c.push(y);
    }
  }
  const n = b.length;
  if (n < 3) return undefined;
  const mb = mean(b);
  const mc = mean(c);
  let sbb = 0;
  let scc = 0;
  let sbc = 0;
  for (let i = 0; i < n; i++) {
    const db = (b[i] as number) - mb;
    const dc = (c[i] as number) - mc;
    sbb += db * db;
    scc += dc * dc;
    sbc += db * dc;
  }
  sbb /= n - 1;
  scc /= n - 1;
  sbc /= n - 1;
  const t = studentTQuantile(1 - (1 - confidence) / 2, n - 1);
  const k = (t * t) / n;
  // (mb² − k sbb) R² − 2 (mb mc − k sbc) R + (mc² − k scc) ≤ 0
  const qa = mb * mb - k * sbb;
  const qb = -2 * (mb * mc - k * sbc);
  const qc = mc * mc - k * scc;
  const ratio = mc / mb;
  const disc = qb * qb - 4 * qa * qc;
  if (qa <= 0 || disc < 0) return { n, ratio, lower: null, upper: null, confidence };
  const root = Math.sqrt(disc);
  return { n, ratio, lower: (-qb - root) / (2 * qa), upper: (-qb + root) / (2 * qa), confidence };
}

/**
 * Fieller's confidence interval for the ratio of the means of two independent samples (targets measured one after the
 * other, e.g. the 1-second intervals of throughput runs): every R with (c̄ − R b̄)² ≤ t² (v_c + R² v_b), where v = s²/n
 * and t has the Welch–Satterthwaite degrees of freedom of c̄ − R b̄ at the point estimate. Undefined with fewer than
 * 2 values on either side; bounds null when the interval is unbounded (b̄ not clearly above 0).
 */
export function independentRatioInterval(baseline: readonly number[], current: readonly number[], confidence: number): RatioInterval | undefined {
  const nb = baseline.length;
  const nc = current.length;
  if (nb < 2 || nc < 2) return undefined;
  const mb = mean(baseline);
  const mc = mean(current);
  const variance = (xs: readonly number[], m: number): number => xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
  const vb = variance(baseline, mb) / nb;
  const vc = variance(current, mc) / nc;
  const ratio = mc / mb;
  const wb = ratio * ratio * vb;
  const denom = (vc * vc) / (nc - 1) + (wb * wb) / (nb - 1);
  const welch = (vc + wb) ** 2 / denom;
  const df = Number.isFinite(welch) && welch > 0 ? welch : nb + nc - 2;
  const t = studentTQuantile(1 - (1 - confidence) / 2, Math.max(1, df));
  const t2 = t * t;
  // (b̄² − t² v_b) R² − 2 b̄ c̄ R + (c̄² − t² v_c) ≤ 0
  const a = mb * mb - t2 * vb;
  const bq = -2 * mb * mc;
  const cq = mc * mc - t2 * vc;
  const disc = bq * bq - 4 * a * cq;
  if (!(a > 0) || !(disc >= 0)) return { n: Math.min(nb, nc), ratio, lower: null, upper: null, confidence };
  const root = Math.sqrt(disc);
  return { n: Math.min(nb, nc), ratio, lower: (-bq - root) / (2 * a), upper: (-bq + root) / (2 * a), confidence };
}

/** Largest Percent (or bound) results.json holds; an interval bound beyond it is written as unbounded (null). */
export const MAX_PERCENT = 1e17;

/** 100 × a ratio's bound, or null when there is none or it is beyond ±MAX_PERCENT (an interval that is not bounded in practice). */
export function percentBoundOf(ratio: number | null | undefined): number | null {
  if (ratio === null || ratio === undefined) return null;
  const percent = 100 * ratio;
  return Number.isFinite(percent) && Math.abs(percent) <= MAX_PERCENT ? percent : null;
}
