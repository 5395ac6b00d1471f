import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareIndependent, comparePaired } from '../../src/compare/gate.js';
import { hodgesLehmannLocation, hodgesLehmannShift, mannWhitney, signedRank } from '../../src/compare/ranktests.js';
import { toBencherMetricFormat, toGithubActionBenchmark } from '../../src/report/export.js';
import type { ResultsDocument } from '../../src/report/document.js';

const close = (actual: number, expected: number, tolerance: number): void =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

describe('rank tests match published reference values', () => {
  it('Mann–Whitney: R ?wilcox.test permeability example, W = 35, p = 0.1272 (exact, greater)', () => {
    const x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
    const y = [1.15, 0.88, 0.90, 0.74, 1.21];
    const r = mannWhitney(x, y, 'greater');
    assert.equal(r.statistic, 35);
    assert.equal(r.exact, true);
    close(r.p, 0.1272, 5e-5);
  });

  it('signed rank: R ?wilcox.test depression example, V = 40, p = 0.01953 (exact, greater)', () => {
    const x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
    const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    const r = signedRank(x.map((v, i) => v - (y[i] as number)), 'greater');
    assert.equal(r.statistic, 40);
    close(r.p, 0.01953, 5e-6);
  });

  it('Mann–Whitney with ties uses the tie-corrected normal approximation (hand-computed: W = 2.5, z = −1.4979, p = 0.06708)', () => {
    // ranks: 1 | 2,2,2 → 3 | 3,3 → 5.5 | 4,4 → 7.5; W = 1+3+3+5.5 − 10 = 2.5;
    // σ² = 16/12·(9 − (24+6+6)/56) = 11.1429; z = (2.5 − 8 + 0.5)/3.33809.
    const r = mannWhitney([1, 2, 2, 3], [2, 3, 4, 4], 'less');
    assert.equal(r.statistic, 2.5);
    assert.equal(r.exact, false);
    close(r.p, 0.06708, 5e-5);
  });

  it('the exact null distribution equals brute-force enumeration of every rank assignment', () => {
    const m = 4;
    const n = 3;
    // Every way to give 4 of the ranks 1..7 to x: P(U >= u) by counting.
    const counts = new Map<number, number>();
    let total = 0;
    for (let mask = 0; mask < 1 << (m + n); mask++) {
      const ranks = [...Array(m + n).keys()].filter((i) => mask & (1 << i)).map((i) => i + 1);
      if (ranks.length !== m) continue;
      const u = ranks.reduce((a, b) => a + b, 0) - (m * (m + 1)) / 2;
      counts.set(u, (counts.get(u) ?? 0) + 1);
      total++;
    }
    for (let u = 0; u <= m * n; u++) {
      let tail = 0;
      for (const [k, c] of counts) if (k >= u) tail += c;
      const xs: number[] = [];
      const ys: number[] = [];
      // Build samples with exactly U = u: put y values at 10, 20, 30 and x values below/above them.
      let remaining = u;
      for (let i = 0; i < m; i++) {
        const above = Math.min(n, remaining);
        remaining -= above;
        xs.push(above * 10 + 5 + i * 0.01);
      }
      for (let j = 1; j <= n; j++) ys.push(j * 10);
      const r = mannWhitney(xs, ys, 'greater');
      assert.equal(r.statistic, u);
      close(r.p, tail / total, 1e-12);
    }
  });

  it('the normal approximations agree with the exact distributions for 30 + 30 samples', () => {
    const x = Array.from({ length: 30 }, (_, i) => i * 1.7 + 0.3119);
    const y = Array.from({ length: 30 }, (_, i) => i * 1.5 + 4.1037);
    const exact = mannWhitney(x, y, 'less');
    assert.equal(exact.exact, true);
    close(mannWhitney(x, y, 'less', 'normal').p, exact.p, 0.003);
    const d = x.map((v, i) => v - (y[i] as number) + 2.5);
    const exactV = signedRank(d, 'greater');
    assert.equal(exactV.exact, true);
    close(signedRank(d, 'greater', 'normal').p, exactV.p, 0.003);
  });

  it('Hodges–Lehmann estimates (hand-computed)', () => {
    // x − y over {1,2,3} × {0,5}: −4, −3, −2, 1, 2, 3 → median −0.5
    assert.equal(hodgesLehmannShift([1, 2, 3], [0, 5], 0.9).estimate, -0.5);
    // Walsh averages of {1, 2, 9}: 1, 1.5, 5, 2, 5.5, 9 → median (2 + 5)/2 = 3.5
    assert.equal(hodgesLehmannLocation([1, 2, 9], 0.9).estimate, 3.5);
  });
});

describe('gate verdicts', () => {
  const base = Array.from({ length: 40 }, (_, i) => 100 * (1 + 0.01 * Math.sin(i * 1.3)));
  const scaled = (k: number): number[] => base.map((x, i) => x * k * (1 + 0.005 * Math.cos(i * 2.1)));
  const options = { threshold: 0.05, alpha: 0.01 };
  it('two runs: 30% slower is Slower, equal is Same, 30% faster is Faster, 5% ± noise is not Slower', () => {
    const slower = compareIndependent(base, scaled(1.3), options);
    assert.equal(slower.verdict, 'Slower');
    close(slower.ratio, 1.3, 0.02);
    assert.ok(slower.ratioLower < 1.3 && slower.ratioUpper > 1.28);
    assert.equal(compareIndependent(base, scaled(1), options).verdict, 'Same');
    assert.equal(compareIndependent(base, scaled(0.7), options).verdict, 'Faster');
    assert.notEqual(compareIndependent(base, scaled(1.03), options).verdict, 'Slower');
  });
  it('paired rounds: drift shared by both targets cancels', () => {
    // A 2x machine drift across the run hits both targets of each round alike.
    const drift = base.map((x, i) => x * (1 + i / 40));
    const candidate = drift.map((x, i) => x * 1.1 * (1 + 0.005 * Math.cos(i)));
    const paired = comparePaired(drift, candidate, options);
    assert.equal(paired.verdict, 'Slower');
    close(paired.ratio, 1.1, 0.01);
    assert.equal(comparePaired(drift, drift.map((x, i) => x * (1 + 0.003 * Math.sin(i))), options).verdict, 'Same');
    // Two usable pairs can never reach α: Undecided (a failing verdict), not a silent pass.
    assert.equal(comparePaired([1, 2, null, 4], [1, 2, 3, null], options).verdict, 'Undecided');
  });
});

describe('exports', () => {
  const entry = {
    scenario: { name: 's', file: null, description: '', params: { READ_RATIO: 1, WRITE_COUNT: 2, PAYLOAD_BYTES: 3 } },
    target: { name: 'T', mode: 'standalone', servers: [], client: 'ioredis' },
    state: 'completed', error: null, baseline: true,
    stats: { n: 20, outliers: 0, meanMs: 1.5, errorMs: 0.1, stdDevMs: 0.2, medianMs: 1.4, minMs: 1, maxMs: 2, ciLowerMs: 1.4, ciUpperMs: 1.6, percent: 100,
      confidence: 0.999 },
    samplesMs: [], roundSamplesMs: [],
    ops: { set: { count: 1, errors: 0 }, get: { count: 1, errors: 0, p99Us: 70 } },
    verification: { reads: 1, verified: 1, missing: 0, mismatched: 0 },
    iterations: { warmup: 0, measured: 20, failed: 0, rounds: 20, stopReason: 'converged' },
    errors: {}, undeletedKeys: 0,
  };
  const doc = { results: [entry, { ...entry, target: { ...entry.target, name: 'U' }, stats: { ...entry.stats, meanMs: null } }] } as unknown as ResultsDocument;
  it('github-action-benchmark customSmallerIsBetter: name, unit, value, range, extra; unmeasured entries left out', () => {
    assert.deepEqual(toGithubActionBenchmark(doc).map(({ name, unit, value, range }) => ({ name, unit, value, range })), [
      { name: 's READ_RATIO=1 WRITE_COUNT=2 PAYLOAD_BYTES=3 T', unit: 'ms', value: 1.5, range: '± 0.1000 (99.9% CI)' },
    ]);
  });
  it('Bencher Metric Format: latency in ns with the confidence interval as bounds', () => {
    assert.deepEqual(toBencherMetricFormat(doc), {
      's READ_RATIO=1 WRITE_COUNT=2 PAYLOAD_BYTES=3 T': { latency: { value: 1_500_000, lower_value: 1_400_000, upper_value: 1_600_000 } },
    });
  });
});
