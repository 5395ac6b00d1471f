import type { ResultEntry } from '../../src/report/index.js';

/**
 * A results.json entry for statistics tests: only the scenario, target and samples matter; the
 * descriptive stats are placeholders (the gate reads samples, never these).
 */
export function fakeEntry(scenario: string, target: string, params: Readonly<Record<string, number>>, rounds: readonly (number | null)[]): ResultEntry {
  const samples = rounds.filter((x): x is number => x !== null);
  return {
    scenario: { name: scenario, file: null, description: '', params },
    target: { name: target, mode: 'standalone', servers: [], client: 'ioredis', cache: 'off', readFrom: 'primary', wait: 0 },
    state: 'completed', error: null, baseline: false,
    stats: { n: samples.length, outliers: 0, meanMs: 70, errorMs: 1, stdDevMs: 2, medianMs: 70, minMs: 60, maxMs: 80, ciLowerMs: 69, ciUpperMs: 71, percent: 100, percentLower: null, percentUpper: null, percentPairs: null, confidence: 0.999 },
    samplesMs: samples, roundSamplesMs: rounds,
    ops: { set: { count: 1, errors: 0 }, get: { count: 1, errors: 0 } },
    verification: { reads: 1, verified: 1, missing: 0, mismatched: 0 },
    iterations: { warmup: 0, measured: samples.length, failed: 0, rounds: rounds.length, stopReason: 'converged', invocations: 1, pilotMs: null },
    errors: {}, undeletedKeys: 0, staleness: null, cache: null,
  } as unknown as ResultEntry;
}
