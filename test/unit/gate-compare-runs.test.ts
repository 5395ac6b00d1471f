import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareRuns, gateExitCode, matchEntries } from '../../src/compare/compare.js';
import { renderComparison } from '../../src/compare/render.js';
import type { ResultEntry, ResultsDocument } from '../../src/report/document.js';
import { fakeEntry } from '../helpers/entries.js';

const OPTIONS = { threshold: 0.05, alpha: 0.01 };
const HEAVY = { READ_RATIO: 100, WRITE_COUNT: 10, PAYLOAD_BYTES: 20000 };
const ONCE = { READ_RATIO: 1, WRITE_COUNT: 10, PAYLOAD_BYTES: 20000 };

/** Deterministic iteration times around `ms`. */
const samples = (ms: number, n = 40, phase = 0): number[] => Array.from({ length: n }, (_, i) => ms * (1 + 0.02 * Math.sin(2.3 * i + phase)));

const entry = (scenario: string, target: string, params: Readonly<Record<string, number>>, ms: readonly number[]): ResultEntry => fakeEntry(scenario, target,
  params, ms);

function doc(entries: readonly ResultEntry[]): ResultsDocument {
  const names = [...new Set(entries.map((e) => e.scenario.name))];
  return {
    schemaVersion: 1, results: entries,
    scenarios: names.map((name) => ({ name, file: null, description: '', settings: { MIN_ITERATIONS: { value: 15, source: 'built-in default' } } })),
  } as unknown as ResultsDocument;
}

describe('compare matches entries by parameters and target, not by scenario name', () => {
  it('a run without a scenario file (default) compares with seed-read-heavy when the parameters are equal', () => {
    const comparison = compareRuns(doc([entry('default', 'REDIS', HEAVY, samples(70))]), doc([entry('seed-read-heavy', 'REDIS', HEAVY, samples(70, 40, 1))]), OPTIONS, ['a', 'b']);
    assert.equal(comparison.rows.length, 1);
    assert.equal(comparison.rows[0]?.scenario, 'seed-read-heavy (baseline: default)');
    assert.equal(comparison.rows[0]?.gate.verdict, 'Same');
    assert.deepEqual([comparison.onlyInBaseline, comparison.onlyInCurrent], [[], []]);
  });

  it('different parameters or targets do not match', () => {
    const { pairs, onlyInBaseline, onlyInCurrent } = matchEntries(
      [entry('default', 'REDIS', HEAVY, []), entry('default', 'SOSS', HEAVY, [])],
      [entry('default', 'REDIS', ONCE, []), entry('default', 'SOSS', HEAVY, [])],
    );
    assert.deepEqual(pairs.map(([b, c]) => [b.target.name, c.target.name]), [['SOSS', 'SOSS']]);
    assert.deepEqual([onlyInBaseline.map((e) => e.scenario.params.READ_RATIO), onlyInCurrent.map((e) => e.scenario.params.READ_RATIO)], [[100], [1]]);
  });

  it('entries of different WORKLOADs (or one with and one without) do not match: a mix\'s Mean is per op of it', () => {
    const mixed = (workload: string): ResultEntry => ({ ...entry('default', 'REDIS', HEAVY, []), mix: { workload, keyType: 'hash', keys: 100, warmupOps: 0, commands: [], housekeeping: {}, record: {} } });
    const { pairs, onlyInBaseline, onlyInCurrent } = matchEntries([entry('default', 'REDIS', HEAVY, []), mixed('ycsb-a')], [mixed('ycsb-b'), mixed('ycsb-a')]);
    assert.deepEqual(pairs.map(([b, c]) => [b.mix?.workload, c.mix?.workload]), [['ycsb-a', 'ycsb-a']]);
    assert.deepEqual([onlyInBaseline.map((e) => e.mix?.workload ?? 'seed loop'), onlyInCurrent.map((e) => e.mix?.workload)], [['seed loop'], ['ycsb-b']]);
    assert.throws(() => compareRuns(doc([entry('default', 'REDIS', HEAVY, samples(70))]), doc([{ ...mixed('ycsb-a'), samplesMs: samples(70) }]), OPTIONS, ['a', 'b']),
      /no entry of b matches.*REDIS \(WORKLOAD ycsb-a\).*WORKLOAD/);
  });

  it('when several entries share parameters and target, the scenario name decides', () => {
    const base = [entry('a', 'T', HEAVY, []), entry('b', 'T', HEAVY, [])];
    const { pairs, onlyInCurrent } = matchEntries(base, [entry('b', 'T', HEAVY, []), entry('c', 'T', HEAVY, []), entry('a', 'T', HEAVY, [])]);
    assert.deepEqual(pairs.map(([b, c]) => `${b.scenario.name}=${c.scenario.name}`).sort(), ['a=a', 'b=b']);
    assert.deepEqual(onlyInCurrent.map((e) => e.scenario.name), ['c']);
  });
});

describe('compare warns when every row moved the same way (machine drift between the runs)', () => {
  const baseline = doc([entry('default', 'A', HEAVY, samples(70)), entry('default', 'A', ONCE, samples(30)), entry('default', 'B', HEAVY, samples(90))]);

  it('all rows 12% slower: drift field set, warning first in the table, pointing at the in-run gate; verdicts kept', () => {
    const current = doc([entry('default', 'A', HEAVY, samples(70 * 1.12, 40, 1)), entry('default', 'A', ONCE, samples(30 * 1.12, 40, 2)), entry('default', 'B', HEAVY, samples(90 * 1.12, 40, 3))]);
    const comparison = compareRuns(baseline, current, OPTIONS, ['a', 'b']);
    assert.ok(comparison.drift !== null);
    assert.equal(comparison.drift.sameDirection, true);
    assert.ok(Math.abs(comparison.drift.medianRatio - 1.12) < 0.01, String(comparison.drift.medianRatio));
    assert.deepEqual(comparison.rows.map((r) => r.gate.verdict), ['Slower', 'Slower', 'Slower']);
    assert.equal(gateExitCode(comparison), 1);
    const lines = renderComparison(comparison).split('\n');
    const warning = lines.findIndex((l) => /Machine drift\?/.test(l));
    assert.ok(warning > 0 && warning < lines.findIndex((l) => l.startsWith('| Scenario')), 'the warning comes before the table');
    assert.match(lines[warning] ?? '', /all 3 matched rows are slower .*cachebench run --baseline REF --fail-if-slower 5%/);
    assert.match(lines[0] ?? '', /family-wise α = 0\.01, Holm over 3 rows/);
  });

  it('all rows 4% faster (beyond half the threshold, same direction): warned', () => {
    const current = doc([entry('default', 'A', HEAVY, samples(70 * 0.96, 40, 1)), entry('default', 'A', ONCE, samples(30 * 0.96, 40, 2)), entry('default', 'B', HEAVY, samples(90 * 0.96, 40, 3))]);
    assert.match(compareRuns(baseline, current, OPTIONS, ['a', 'b']).drift?.message ?? '', /^all 3 matched rows are faster/);
  });

  it('one row slower and the others unchanged: no warning', () => {
    const current = doc([entry('default', 'A', HEAVY, samples(70 * 1.3, 40, 1)), entry('default', 'A', ONCE, samples(30 * 0.999, 40, 2)), entry('default', 'B', HEAVY, samples(90 * 1.001, 40, 3))]);
    const comparison = compareRuns(baseline, current, OPTIONS, ['a', 'b']);
    assert.equal(comparison.drift, null);
    assert.doesNotMatch(renderComparison(comparison), /drift/);
    assert.deepEqual(comparison.rows.map((r) => r.gate.verdict), ['Slower', 'Same', 'Same']);
  });

  it('one row of two regressed, the other unchanged: no warning (the median of two rows is half a regression)', () => {
    const two = doc([entry('default', 'A', HEAVY, samples(70)), entry('default', 'B', HEAVY, samples(90))]);
    const comparison = compareRuns(two, doc([entry('default', 'A', HEAVY, samples(70 * 1.2, 40, 1)), entry('default', 'B', HEAVY, samples(90 * 1.01, 40, 2))]), OPTIONS, ['a', 'b']);
    assert.deepEqual(comparison.rows.map((r) => r.gate.verdict), ['Slower', 'Same']);
    assert.equal(comparison.drift, null);
    assert.doesNotMatch(renderComparison(comparison), /drift/);
  });

  it('both of two rows 6% slower: warned', () => {
    const two = doc([entry('default', 'A', HEAVY, samples(70)), entry('default', 'B', HEAVY, samples(90))]);
    const comparison = compareRuns(two, doc([entry('default', 'A', HEAVY, samples(70 * 1.06, 40, 1)), entry('default', 'B', HEAVY, samples(90 * 1.06, 40, 2))]), OPTIONS, ['a', 'b']);
    assert.match(comparison.drift?.message ?? '', /^all 2 matched rows are slower/);
  });

  it('a single row that moved beyond the threshold is warned about too (two runs cannot tell drift from code)', () => {
    const comparison = compareRuns(doc([entry('default', 'A', HEAVY, samples(70))]), doc([entry('default', 'A', HEAVY, samples(80, 40, 1))]), OPTIONS, ['a', 'b']);
    assert.match(comparison.drift?.message ?? '', /^the only matched row is slower/);
  });
});
