import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mean, sampleStandardDeviation } from 'simple-statistics';
import { pairedRatioInterval } from '../../src/stats/ratio.js';

/**
 * Fieller's interval checked independently: it must be exactly the set of ratios R that a paired
 * t-test of c_i − R·b_i against 0 does not reject. The reference scans R on a fine grid and runs
 * that t-test with a t critical value from a published table (t(0.9995, 9) = 4.781, t(0.975, 9) =
 * 2.262), not with the code under test.
 */
function accepted(b: number[], c: number[], r: number, tCritical: number): boolean {
  const d = c.map((x, i) => x - r * (b[i] as number));
  const t = Math.abs(mean(d)) / (sampleStandardDeviation(d) / Math.sqrt(d.length));
  return t <= tCritical;
}

function scan(b: number[], c: number[], tCritical: number): [number, number] {
  let lo = Number.NaN;
  let hi = Number.NaN;
  for (let r = 0.5; r <= 2; r += 1e-5) {
    if (accepted(b, c, r, tCritical)) {
      if (Number.isNaN(lo)) lo = r;
      hi = r;
    }
  }
  return [lo, hi];
}

// Ten paired rounds: the baseline drifts (60 → 75 ms), the candidate is ~12% slower and drifts with it.
const base = [60.1, 61.4, 63.0, 62.2, 65.8, 68.9, 70.3, 72.5, 74.1, 75.0];
const cand = [67.0, 69.5, 70.1, 70.4, 73.2, 77.9, 78.1, 81.6, 82.9, 84.4];

describe('paired ratio interval (Fieller)', () => {
  for (const [confidence, tTable] of [[0.999, 4.781], [0.95, 2.262]] as const) {
    it(`matches the inverted paired t-test at ${confidence * 100}% (table t = ${tTable})`, () => {
      const result = pairedRatioInterval(base, cand, confidence);
      assert.ok(result);
      const [lo, hi] = scan(base, cand, tTable);
      assert.ok(Math.abs((result.lower as number) - lo) < 2e-4, `lower ${result.lower} vs ${lo}`);
      assert.ok(Math.abs((result.upper as number) - hi) < 2e-4, `upper ${result.upper} vs ${hi}`);
      assert.ok(Math.abs(result.ratio - mean(cand) / mean(base)) < 1e-12);
      assert.equal(result.n, 10);
    });
  }
  it('is narrower than the unpaired view when both targets drift together (pairing removes shared drift)', () => {
    const r = pairedRatioInterval(base, cand, 0.999);
    assert.ok(r && r.lower !== null && r.upper !== null);
    // Unpaired: each mean's own 99.9% interval is ±~4.5 ms, so the ratio could lie anywhere from ~1.0 to ~1.27.
    assert.ok(r.upper - r.lower < 0.05, `width ${r.upper - r.lower}`);
    assert.ok(r.lower > 1.05, 'a 12% slowdown is shown');
  });
  it('skips rounds where either iteration failed, and needs 3 pairs', () => {
    const r = pairedRatioInterval([10, null, 11, 12, 10.5], [20, 21, null, 24, 21.2], 0.95);
    assert.equal(r?.n, 3);
    assert.equal(pairedRatioInterval([10, null, 11], [20, 21, null], 0.95), undefined);
  });
  it('is unbounded (nulls) when the baseline mean is not clearly above zero', () => {
    const r = pairedRatioInterval([0.1, -0.1, 0.2, -0.2], [1, 2, 1, 2], 0.999);
    assert.equal(r?.lower, null);
    assert.equal(r?.upper, null);
  });
});
