import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkInRunGate } from '../../src/cli/gate.js';
import { checkCompareDesign, checkGateDesign, holmAdjust, judgeRows, requiredIterations, requiredPairs, type RowTest } from '../../src/compare/gate.js';
import { compareInRun, compareRuns, gateExitCode } from '../../src/compare/compare.js';
import { renderComparison } from '../../src/compare/render.js';
import { ConfigError } from '../../src/config/errors.js';
import type { RunPlan } from '../../src/config/resolve.js';
import type { ResultEntry, ResultsDocument } from '../../src/report/document.js';
import { fakeEntry } from '../helpers/entries.js';

const OPTIONS = { threshold: 0.05, alpha: 0.01 };

const entry = (scenario: string, target: string, rounds: readonly (number | null)[], params = { READ_RATIO: 5, WRITE_COUNT: 10,
  PAYLOAD_BYTES: 200 }): ResultEntry => fakeEntry(scenario, target, params, rounds);

function doc(entries: readonly ResultEntry[], minIterations = 15): ResultsDocument {
  const names = [...new Set(entries.map((e) => e.scenario.name))];
  return {
    schemaVersion: 1, results: entries,
    scenarios: names.map((name) => ({ name, file: null, description: '', settings: { MIN_ITERATIONS: { value: minIterations, source: 'built-in default' } } })),
  } as unknown as ResultsDocument;
}

/** Deterministic noise: per-round values around 70 ms. */
const rounds = (n: number, factor: number, phase = 0): number[] => Array.from({ length: n }, (_, i) => 70 * factor * (1 + 0.01 * Math.sin(1.7 * i + phase)));

describe('required sample sizes (hand-computed from 2^−n and 1/C(m+n, m))', () => {
  it('requiredPairs: smallest n with 2^−n < α/rows, at least 5', () => {
    assert.equal(requiredPairs(0.01, 1), 7); // 2^−6 = 0.0156 ≥ 0.01 > 2^−7 = 0.0078
    assert.equal(requiredPairs(0.01, 3), 9); // α/3 = 0.00333: 2^−8 = 0.0039, 2^−9 = 0.00195
    assert.equal(requiredPairs(0.01, 4), 9); // α/4 = 0.0025
    assert.equal(requiredPairs(0.001, 1), 10); // 2^−10 = 0.000977
    assert.equal(requiredPairs(0.05, 1), 5); // 2^−5 = 0.03125; floor MIN_SAMPLES
    assert.equal(requiredPairs(0.0625, 1), 5); // 2^−4 = 0.0625 is not below α
  });
  it('requiredIterations (rank-sum, equal sizes): smallest n with 1/C(2n, n) < α/rows, at least 5', () => {
    assert.equal(requiredIterations(0.01, 1), 5); // 1/252
    assert.equal(requiredIterations(0.001, 10), 8); // α/10 = 0.0001: 1/C(14,7) = 1/3432 is not below, 1/C(16,8) = 1/12870 is
  });
});

describe('checkGateDesign refuses a gate that could never fail, before any traffic', () => {
  it('MIN_ITERATIONS=6 at α = 0.01 (best p 1/64) is a ConfigError naming the minimum 7', () => {
    assert.throws(() => checkGateDesign({ alpha: 0.01, threshold: 0.05, minIterations: 6, rows: 1, flag: '--fail-if-slower' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /^--fail-if-slower 5% with --alpha 0\.01 over 1 row needs at least 7 rounds per row, but MIN_ITERATIONS=6/);
      assert.match(error.message, /0\.0156/);
      assert.match(error.message, /Fix: set MIN_ITERATIONS=7 or more/);
      return true;
    });
    checkGateDesign({ alpha: 0.01, threshold: 0.05, minIterations: 7, rows: 1, flag: '--fail-if-slower' });
  });
  it('counts the Holm family: 8 rounds pass for one row and fail for three rows (needs 9)', () => {
    checkGateDesign({ alpha: 0.01, threshold: 0.05, minIterations: 8, rows: 1, flag: '--fail-if-slower' });
    assert.throws(() => checkGateDesign({ alpha: 0.01, threshold: 0.05, minIterations: 8, rows: 3, flag: '--fail-if-slower' }), /over 3 rows needs at least 9 rounds.*MIN_ITERATIONS=9/);
  });
  it('a gate with no other target has nothing to compare', () => {
    assert.throws(() => checkGateDesign({ alpha: 0.01, threshold: 0.05, minIterations: 15, rows: 0, flag: '--fail-if-slower' }), /nothing to compare.*Fix: /);
  });
  it('checkInRunGate counts rows as (targets − 1) × combinations over all scenarios', () => {
    const plan = (minIterations: number, cases: number, targets: number): RunPlan => ({
      scenarios: [{ cases: Array.from({ length: cases }, () => ({})), controls: { minIterations } }, { cases: [{}], controls: { minIterations: 50 } }],
      targets: Array.from({ length: targets }, (_, i) => ({ name: `T${i}` })),
    }) as unknown as RunPlan;
    checkInRunGate(plan(9, 1, 3), OPTIONS); // 2 × 1 + 2 × 1 = 4 rows: needs 9
    assert.throws(() => checkInRunGate(plan(9, 3, 3), OPTIONS), /over 8 rows needs at least 10 rounds/); // α/8 = 0.00125 → 2^−10
    assert.throws(() => checkInRunGate(plan(15, 1, 1), OPTIONS), /nothing to compare/);
  });
  it('compare: files run with MIN_ITERATIONS=4 cannot support a verdict (ConfigError at load time)', () => {
    assert.throws(() => checkCompareDesign({ alpha: 0.01, baselineIterations: 4, currentIterations: 4, rows: 1, what: 'a vs b' }), /MIN_ITERATIONS=4 .*needs at least 5 iterations in each run.*Fix: re-run both with MIN_ITERATIONS=5/);
    const a = doc([entry('s', 'T', rounds(4, 1))], 4);
    assert.throws(() => compareRuns(a, a, OPTIONS, ['a.json', 'b.json']), (error: unknown) => error instanceof ConfigError && /a\.json vs b\.json/.test(error.message));
  });
});

describe('judgement: Holm across rows, Undecided for rows without enough pairs', () => {
  it('holmAdjust equals the hand-computed step-down values', () => {
    // sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max
    const adjusted = holmAdjust([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((v, i) => assert.ok(Math.abs((adjusted[i] as number) - v) < 1e-15, `${adjusted[i]} vs ${v}`));
    assert.deepEqual(holmAdjust([0.5, 0.9]), [1, 1]);
  });

  it('a row significant on its own (p = 0.008 < α) is not Slower among four rows (Holm level α/4)', () => {
    const test = (pSlower: number): RowTest => ({ ratio: 1.1, ratioLower: 1.01, ratioUpper: 1.2, confidence: 0.98, pSlower, pFaster: 1, minP: 1e-9, n: [40, 40], method: 'signed-rank' });
    assert.equal(judgeRows([test(0.008)], OPTIONS)[0]?.verdict, 'Slower');
    const family = judgeRows([test(0.008), test(0.5), test(0.6), test(0.7)], OPTIONS);
    assert.deepEqual(family.map((g) => g.verdict), ['Inconclusive', 'Inconclusive', 'Inconclusive', 'Inconclusive']);
    assert.ok(Math.abs((family[0]?.p ?? 0) - 0.032) < 1e-12);
    // Step-down: the smallest p meets α/4, the next one α/3.
    assert.deepEqual(judgeRows([test(0.002), test(0.003), test(0.5)], OPTIONS).map((g) => g.verdict), ['Slower', 'Slower', 'Inconclusive']);
  });

  it('in-run: a row with 4 usable pairs is Undecided (exit 1) with the reason; the table shows the family α', () => {
    const base = rounds(20, 1);
    const ok = rounds(20, 1.001, 1);
    const broken: (number | null)[] = rounds(20, 1.001, 2).map((v, i) => (i < 4 ? v : null));
    const comparison = compareInRun(doc([entry('s', 'BASE', base), entry('s', 'A', ok), entry('s', 'B', broken), entry('s', 'C', ok)]), 'BASE', OPTIONS);
    assert.deepEqual(comparison.rows.map((r) => [r.target, r.gate.verdict]), [['A', 'Same'], ['B', 'Undecided'], ['C', 'Same']]);
    assert.equal(comparison.rows[1]?.gate.reason, 'only 4 pairs, needs 9 for α = 0.01 over 3 rows');
    assert.equal(gateExitCode(comparison), 1);
    const table = renderComparison(comparison);
    assert.match(table, /family-wise α = 0\.01, Holm over 3 rows/);
    assert.match(table, /\| B \|.*\| \*\*Undecided\*\* \(only 4 pairs, needs 9 for α = 0\.01 over 3 rows\) \|/);
  });

  it('in-run: a row with one usable pair says "only 1 pair"', () => {
    const broken: (number | null)[] = rounds(20, 1.001, 2).map((v, i) => (i < 1 ? v : null));
    const comparison = compareInRun(doc([entry('s', 'BASE', rounds(20, 1)), entry('s', 'B', broken)]), 'BASE', OPTIONS);
    assert.equal(comparison.rows[0]?.gate.reason, 'only 1 pair, needs 7 for α = 0.01 over 1 row');
  });

  it('in-run: 8 pairs suffice for one row but not among three', () => {
    const base = rounds(8, 1);
    const one = compareInRun(doc([entry('s', 'BASE', base), entry('s', 'A', rounds(8, 1.3, 1))]), 'BASE', OPTIONS);
    assert.equal(one.rows[0]?.gate.verdict, 'Slower');
    const same = compareInRun(doc([entry('s', 'BASE', base), entry('s', 'A', rounds(8, 1.001, 1))]), 'BASE', OPTIONS);
    assert.equal(same.rows[0]?.gate.verdict, 'Same');
    assert.equal(gateExitCode(same), 0);
    const three = compareInRun(doc([entry('s', 'BASE', base), entry('s', 'A', rounds(8, 1.001, 1)), entry('s', 'B', rounds(8, 1.001, 2)), entry('s', 'C', rounds(8, 1.001, 3))]), 'BASE', OPTIONS);
    assert.deepEqual(three.rows.map((r) => r.gate.verdict), ['Undecided', 'Undecided', 'Undecided']);
  });

  it('two runs: a current run cut short to 3 iterations is Undecided, not a pass', () => {
    const comparison = compareRuns(doc([entry('s', 'T', rounds(20, 1))]), doc([entry('s', 'T', rounds(3, 1.001))]), OPTIONS, ['a', 'b']);
    assert.equal(comparison.rows[0]?.gate.verdict, 'Undecided');
    assert.equal(comparison.rows[0]?.gate.reason, 'only 20 + 3 iterations, needs 5 in each run for α = 0.01 over 1 row');
    assert.equal(gateExitCode(comparison), 1);
  });
});
