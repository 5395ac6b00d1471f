import { createRequire } from 'node:module';
import { mean, median, quantileSorted, sampleStandardDeviation } from 'simple-statistics';
import { maxOf, minOf } from './extent.js';

/** Confidence level of the Error column, as in BenchmarkDotNet. */
export const ERROR_CONFIDENCE = 0.999;

/** Descriptive statistics of a set of iteration times, BenchmarkDotNet's definitions. */
export interface Summary {
  /** Samples kept after removing upper outliers. */
  readonly n: number;
  /** Upper outliers (beyond Q3 + 1.5·IQR) left out of the statistics. */
  readonly outliers: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1). */
  readonly stdDev: number;
  /** Half-width of the two-sided confidence interval of the mean: t(1−α/2, n−1)·s/√n. */
  readonly error: number;
  readonly ciLower: number;
  readonly ciUpper: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Upper fence Q3 + 1.5·IQR of all samples; samples above it are outliers. */
  readonly upperFence: number;
}

let tQuantile: ((p: number, df: number) => number) | undefined;

/** Student-t quantile: the value with probability p below it, with df degrees of freedom. */
export function studentTQuantile(p: number, df: number): number {
  // Loaded on first use: the package loads some 200 small modules (about 190 ms), which a refused run, `report`
  // or a load worker thread never needs.
  tQuantile ??= createRequire(import.meta.url)('@stdlib/stats-base-dists-t-quantile') as (p: number, df: number) => number;
  return tQuantile(p, df);
}

/** Half-width of the two-sided `confidence` interval of the mean. NaN when n < 2. */
export function confidenceHalfWidth(stdDev: number, n: number, confidence = ERROR_CONFIDENCE): number {
  if (n < 2) return Number.NaN;
  return studentTQuantile(1 - (1 - confidence) / 2, n - 1) * stdDev / Math.sqrt(n);
}

/** Splits samples into kept and upper outliers (Tukey's fence Q3 + 1.5·IQR, quartiles of type 7). */
export function removeUpperOutliers(samples: readonly number[]): { kept: number[]; outliers: number[]; upperFence: number } {
  if (samples.length < 4) return { kept: [...samples], outliers: [], upperFence: Number.POSITIVE_INFINITY };
  const sorted = [...samples].sort((a, b) => a - b);
  const q1 = quantileSorted(sorted, 0.25);
  const q3 = quantileSorted(sorted, 0.75);
  const upperFence = q3 + 1.5 * (q3 - q1);
  const kept: number[] = [];
  const outliers: number[] = [];
  for (const s of samples) (s > upperFence ? outliers : kept).push(s);
  return { kept, outliers, upperFence };
}

/**
 * Summarises iteration times. Returns undefined for an empty sample.
 * With one kept sample, StdDev and Error are NaN (not enough data), never 0.
 */
export function summarize(samples: readonly number[], confidence = ERROR_CONFIDENCE): Summary | undefined {
  if (samples.length === 0) return undefined;
  const { kept, outliers, upperFence } = removeUpperOutliers(samples);
  const n = kept.length;
  const m = mean(kept);
  const stdDev = n >= 2 ? sampleStandardDeviation(kept) : Number.NaN;
  const error = confidenceHalfWidth(stdDev, n, confidence);
  return {
    n,
    outliers: outliers.length,
    mean: m,
    stdDev,
    error,
    ciLower: m - error,
    ciUpper: m + error,
    median: median(kept),
    min: minOf(kept),
    max: maxOf(kept),
    upperFence,
  };
}
