import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { differenceOrderStatistic, hodgesLehmannLocation, hodgesLehmannShift, walshOrderStatistic } from '../../src/compare/ranktests.js';
import { seededRandom } from '../../src/measure/random.js';

const close = (actual: number, expected: number, tolerance: number): void =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

const rng = seededRandom;

// ---- Independent brute force: every Walsh average / difference materialised and sorted, the null
// ---- distributions by enumerating every sign vector / every rank subset, R's quantile rule.

function allWalsh(d: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < d.length; i++) for (let j = i; j < d.length; j++) out.push(((d[i] as number) + (d[j] as number)) / 2);
  return out.sort((a, b) => a - b);
}

function allDiffs(x: readonly number[], y: readonly number[]): number[] {
  return x.flatMap((a) => y.map((b) => a - b)).sort((a, b) => a - b);
}

/** Counts of V (sum of ranks with + sign) over all 2^n sign vectors. */
function signedRankCounts(n: number): number[] {
  const counts = new Array<number>((n * (n + 1)) / 2 + 1).fill(0);
  for (let mask = 0; mask < 1 << n; mask++) {
    let v = 0;
    for (let r = 1; r <= n; r++) if (mask & (1 << (r - 1))) v += r;
    counts[v] = (counts[v] ?? 0) + 1;
  }
  return counts;
}

/** Counts of U = (sum of the first sample's ranks) − m(m+1)/2 over all C(m+n, m) rank subsets. */
function rankSumCounts(m: number, n: number): number[] {
  const counts = new Array<number>(m * n + 1).fill(0);
  for (let mask = 0; mask < 1 << (m + n); mask++) {
    let bits = 0;
    let sum = 0;
    for (let r = 1; r <= m + n; r++) if (mask & (1 << (r - 1))) { bits++; sum += r; }
    if (bits === m) counts[sum - (m * (m + 1)) / 2] = (counts[sum - (m * (m + 1)) / 2] ?? 0) + 1;
  }
  return counts;
}

/** R's qsignrank / qwilcox(alpha/2) from counts: smallest q with P(S ≤ q) ≥ alpha/2; 0 becomes 1. */
function rQuantileIndex(counts: readonly number[], alpha: number): number {
  const total = counts.reduce((a, b) => a + b, 0);
  let cumulative = 0;
  for (let q = 0; q < counts.length; q++) {
    cumulative += counts[q] as number;
    if (cumulative / total >= alpha / 2 - 1e-12) return Math.max(1, q);
  }
  return 1;
}

function median(sorted: readonly number[]): number {
  const h = sorted.length / 2;
  return sorted.length % 2 === 1 ? (sorted[Math.floor(h)] as number) : ((sorted[h - 1] as number) + (sorted[h] as number)) / 2;
}

describe('Hodges–Lehmann intervals match R wilcox.test(conf.int = TRUE) output', () => {
  it('one sample: diff = c(-3.1, -2.2, 1.3, 2.4, 3.5, 4.6, 5.7) → 95% CI [-2.2, 4.6], (pseudo)median 1.8 (R output published on Cross Validated)', () => {
    const r = hodgesLehmannLocation([-3.1, -2.2, 1.3, 2.4, 3.5, 4.6, 5.7], 0.95);
    assert.equal(r.exact, true);
    close(r.estimate, 1.8, 1e-12);
    close(r.lower, -2.2, 1e-12);
    close(r.upper, 4.6, 1e-12);
  });

  it('two samples: treated vs untreated → 95% CI [-807, 198], difference in location -83.5 (R output published on Cross Validated)', () => {
    const treated = [323, 421, 578, 300, 256, 640, 912, 370];
    const untreated = [2388, 210, 380, 345, 1130, 260, 665, 1157];
    const r = hodgesLehmannShift(treated, untreated, 0.95);
    assert.equal(r.exact, true);
    assert.equal(r.estimate, -83.5);
    assert.equal(r.lower, -807);
    assert.equal(r.upper, 198);
  });
});

describe('Hodges–Lehmann intervals equal a brute-force computation (all averages, exact null by enumeration)', () => {
  const x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
  const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
  const d = x.map((v, i) => v - (y[i] as number));

  for (const confidence of [0.9, 0.95, 0.98, 0.99]) {
    it(`?wilcox.test depression data, paired, conf.level ${confidence}`, () => {
      const walsh = allWalsh(d);
      const k = rQuantileIndex(signedRankCounts(d.length), 1 - confidence);
      const r = hodgesLehmannLocation(d, confidence);
      assert.equal(r.exact, true);
      assert.equal(r.estimate, median(walsh));
      assert.equal(r.lower, walsh[k - 1]);
      assert.equal(r.upper, walsh[walsh.length - k]);
    });

    it(`?wilcox.test depression data as two samples, conf.level ${confidence}`, () => {
      // y has a tie (1.06, 1.29 twice): drop the duplicates so the exact distribution applies, as in R.
      const y2 = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 3.14];
      const diffs = allDiffs(x, y2);
      const k = rQuantileIndex(rankSumCounts(x.length, y2.length), 1 - confidence);
      const r = hodgesLehmannShift(x, y2, confidence);
      assert.equal(r.exact, true);
      assert.equal(r.estimate, median(diffs));
      assert.equal(r.lower, diffs[k - 1]);
      assert.equal(r.upper, diffs[diffs.length - k]);
    });
  }

  it('n ≥ 50: the normal-approximation index k = ⌊N/2 − 1.959964·σ⌋ (z from a table) over all 45,150 Walsh averages', () => {
    const random = rng(7);
    const sample = Array.from({ length: 300 }, () => Math.log(60 + 20 * random()) - Math.log(70));
    const walsh = allWalsh(sample);
    const n = sample.length;
    const N = walsh.length;
    const k = Math.floor(N / 2 - 1.959964 * Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24));
    const r = hodgesLehmannLocation(sample, 0.95);
    assert.equal(r.exact, false);
    assert.equal(r.estimate, median(walsh));
    assert.equal(r.lower, walsh[k - 1]);
    assert.equal(r.upper, walsh[N - k]);
  });

  it('two samples with ties: normal-approximation index over all m·n differences', () => {
    const random = rng(11);
    const a = Array.from({ length: 60 }, () => Math.round(100 * random()) / 10);
    const b = Array.from({ length: 70 }, () => Math.round(100 * random()) / 10 + 0.5);
    const diffs = allDiffs(a, b);
    const N = diffs.length;
    const k = Math.floor(N / 2 - 2.326348 * Math.sqrt((60 * 70 * 131) / 12));
    const r = hodgesLehmannShift(a, b, 0.98);
    assert.equal(r.exact, false);
    assert.equal(r.estimate, median(diffs));
    assert.equal(r.lower, diffs[k - 1]);
    assert.equal(r.upper, diffs[N - k]);
  });

  it('every order statistic equals the sorted brute-force list (with ties, negatives and duplicates)', () => {
    const random = rng(3);
    const a = Array.from({ length: 41 }, () => Math.round(20 * random() - 10) / 4);
    const b = Array.from({ length: 23 }, () => Math.round(20 * random() - 8) / 4);
    const walsh = allWalsh(a);
    for (let k = 1; k <= walsh.length; k++) assert.ok(walshOrderStatistic(a, k) === walsh[k - 1], `Walsh k = ${k}`);
    const diffs = allDiffs(a, b);
    for (let k = 1; k <= diffs.length; k++) assert.ok(differenceOrderStatistic(a, b, k) === diffs[k - 1], `difference k = ${k}`);
    assert.equal(walshOrderStatistic([4.2], 1), 4.2);
    assert.throws(() => walshOrderStatistic([1, 2], 4), RangeError);
  });
});

describe('Hodges–Lehmann memory is bounded', () => {
  it('n = 100,000 (5·10^9 Walsh averages, 10^10 differences) in a 64 MB heap within 30 s', () => {
    const module = new URL('../../src/compare/ranktests.js', import.meta.url).href;
    // Symmetric samples: the Walsh averages are symmetric about 0.25 and the differences about 0.1,
    // so both estimates are known without computing them.
    const script = `
      const { hodgesLehmannLocation, hodgesLehmannShift } = await import(${JSON.stringify(module)});
      const n = 100000;
      const d = [];
      for (let i = 0; i < n / 2; i++) { const q = Math.sin(i * 12.9898) * 0.2; d.push(0.25 + q, 0.25 - q); }
      const y = Array.from({ length: n }, (_, i) => Math.cos(i * 78.233) * 0.3);
      const x = y.map((v) => v + 0.1);
      const t0 = performance.now();
      const loc = hodgesLehmannLocation(d, 0.98);
      const shift = hodgesLehmannShift(x, y, 0.98);
      console.log(JSON.stringify({ loc, shift, ms: performance.now() - t0, heapMB: process.memoryUsage().heapUsed / 2 ** 20 }));
    `;
    const child = spawnSync(process.execPath, ['--max-old-space-size=64', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.status, 0, child.stderr);
    type Interval = { estimate: number; lower: number; upper: number };
    const out = JSON.parse(child.stdout) as { loc: Interval; shift: Interval; ms: number; heapMB: number };
    close(out.loc.estimate, 0.25, 1e-12);
    assert.ok(out.loc.lower < 0.25 && out.loc.upper > 0.25 && out.loc.upper - out.loc.lower < 0.01, JSON.stringify(out.loc));
    close(out.loc.upper - 0.25, 0.25 - out.loc.lower, 1e-12);
    close(out.shift.estimate, 0.1, 1e-12);
    assert.ok(out.shift.lower < 0.1 && out.shift.upper > 0.1 && out.shift.upper - out.shift.lower < 0.02, JSON.stringify(out.shift));
    assert.ok(out.ms < 30_000, `${out.ms} ms`);
  });
});
