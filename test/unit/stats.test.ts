import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { confidenceHalfWidth, removeUpperOutliers, studentTQuantile, summarize } from '../../src/stats/describe.js';

const close = (actual: number, expected: number, tolerance: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);

describe('Student t quantiles match published tables', () => {
  // Values from standard t tables (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2) and BenchmarkDotNet's docs.
  it('t(0.9995, 14) = 4.1405 (the n = 15 case of BenchmarkDotNet)', () => close(studentTQuantile(0.9995, 14), 4.1405, 5e-4, 't'));
  it('t(0.9995, 99) = 3.3915', () => close(studentTQuantile(0.9995, 99), 3.3915, 5e-4, 't'));
  it('t(0.975, 10) = 2.228', () => close(studentTQuantile(0.975, 10), 2.228, 5e-4, 't'));
  it('t(0.995, 5) = 4.032', () => close(studentTQuantile(0.995, 5), 4.032, 5e-4, 't'));
  it('t(0.9995, 4) = 8.610', () => close(studentTQuantile(0.9995, 4), 8.610, 5e-4, 't'));
});

describe('summarize (BenchmarkDotNet definitions)', () => {
  it('computes mean, n-1 standard deviation and the 99.9% Error of a hand-worked sample', () => {
    // 10, 12, 11, 13, 14: mean 12; squared deviations 4+0+1+1+4 = 10; s = sqrt(10/4) = 1.58114;
    // Error = 8.6103 * 1.58114 / sqrt(5) = 6.0884.
    const s = summarize([10, 12, 11, 13, 14]);
    assert.ok(s);
    assert.equal(s.n, 5);
    assert.equal(s.outliers, 0);
    close(s.mean, 12, 1e-12, 'mean');
    close(s.stdDev, 1.58114, 1e-5, 'stdDev');
    close(s.error, 6.0884, 1e-3, 'error');
    close(s.ciLower, 12 - 6.0884, 1e-3, 'ciLower');
    assert.equal(s.median, 12);
    assert.equal(s.min, 10);
    assert.equal(s.max, 14);
  });

  it('removes upper outliers beyond Q3 + 1.5 IQR and counts them', () => {
    // 1..9 and 100: Q1 = 3.25, Q3 = 7.75 (type 7), IQR = 4.5, fence = 14.5.
    const split = removeUpperOutliers([1, 2, 3, 4, 5, 6, 7, 8, 9, 100]);
    close(split.upperFence, 14.5, 1e-12, 'fence');
    assert.deepEqual(split.outliers, [100]);
    const s = summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 100]);
    assert.ok(s);
    assert.equal(s.n, 9);
    assert.equal(s.outliers, 1);
    close(s.mean, 5, 1e-12, 'mean without the outlier');
    assert.equal(s.max, 9);
  });

  it('keeps lower tail values (only upper outliers are removed)', () => {
    const s = summarize([0.001, 10, 10, 10, 10, 10, 10, 10]);
    assert.ok(s);
    assert.equal(s.outliers, 0);
    assert.equal(s.min, 0.001);
  });

  it('reports NaN, not zero, when one sample cannot give a spread', () => {
    const s = summarize([42]);
    assert.ok(s);
    assert.equal(s.mean, 42);
    assert.ok(Number.isNaN(s.stdDev));
    assert.ok(Number.isNaN(s.error));
    assert.equal(summarize([]), undefined);
  });

  it('Error with n = 15 is t(0.9995,14)/sqrt(15) = 1.0691 times StdDev', () => {
    close(confidenceHalfWidth(1, 15), 4.1405 / Math.sqrt(15), 1e-3, 'ratio');
  });
});
