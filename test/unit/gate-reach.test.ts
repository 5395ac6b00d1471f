import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareInRun, gateExitCode } from '../../src/compare/compare.js';
import { reach, type RowTest } from '../../src/compare/gate.js';
import { renderComparison } from '../../src/compare/render.js';
import type { ResultEntry, ResultsDocument } from '../../src/report/document.js';
import { fakeEntry } from '../helpers/entries.js';

const row = (ratio: number, ratioLower: number, ratioUpper: number): RowTest =>
  ({ ratio, ratioLower, ratioUpper, confidence: 0.98, pSlower: 0.5, pFaster: 0.5, minP: 1e-9, n: [40, 40], method: 'signed-rank' });

describe('what a gated row could have detected', () => {
  it('detectable = (1 + threshold) · √(upper / lower) − 1, by hand', () => {
    // 1.05 × √(1.06/0.98) = 1.05 × 1.0400160 = 1.0920168; interval width ln(1.06/0.98) = 0.0785 < 2 ln 1.05 = 0.0976.
    const narrow = reach(row(1.02, 0.98, 1.06), Math.log1p(0.05));
    assert.ok(Math.abs(narrow.detectable - 0.0920168) < 1e-6, String(narrow.detectable));
    assert.equal(narrow.withinReach, true);
    // 1.05 × √(1.12/0.90) = 1.05 × 1.1155467 = 1.1713240; width ln(1.12/0.90) = 0.2187 > 0.0976: neither Same nor a 5% slowdown could be shown.
    const wide = reach(row(1.0, 0.9, 1.12), Math.log1p(0.05));
    assert.ok(Math.abs(wide.detectable - 0.1713240) < 1e-6, String(wide.detectable));
    assert.equal(wide.withinReach, false);
    const none = reach(row(Number.NaN, Number.NaN, Number.NaN), Math.log1p(0.05));
    assert.ok(Number.isNaN(none.detectable));
    assert.equal(none.withinReach, false);
  });
});

/** One latency combination, two targets, per-round times with a given relative spread of the candidate. */
function runDoc(spread: number): ResultsDocument {
  const rounds = 30;
  const base = Array.from({ length: rounds }, (_, i) => 70 * (1 + 0.002 * Math.sin(i)));
  const cand = base.map((x, i) => x * (1 + spread * Math.sin(2.1 * i + 0.3)));
  const params = { READ_RATIO: 100, WRITE_COUNT: 10, PAYLOAD_BYTES: 20000 };
  const entries: ResultEntry[] = [
    { ...fakeEntry('default', 'A', params, base), roundSamplesMs: base },
    { ...fakeEntry('default', 'B', params, cand), roundSamplesMs: cand },
  ] as ResultEntry[];
  return { schemaVersion: 1, results: entries, scenarios: [{ name: 'default', file: null, description: '', settings: {} }] } as unknown as ResultsDocument;
}

describe('the gate says when its threshold was out of reach, and can fail on "could not tell"', () => {
  it('a noisy candidate: inconclusive, out of reach, said in a sentence; exit 0, or 1 with failIfInconclusive', () => {
    const options = { threshold: 0.05, alpha: 0.01 };
    const noisy = compareInRun(runDoc(0.4), 'A', options);
    const g = noisy.rows[0]?.gate;
    assert.equal(g?.verdict, 'Inconclusive');
    assert.equal(g?.withinReach, false);
    assert.ok((g?.detectable ?? 0) > 0.1, String(g?.detectable));
    const table = renderComparison(noisy);
    assert.match(table, /\| Detects \|/);
    assert.match(table, /The 5% threshold was out of reach of 1 of 1 row\*\*: B .*detects ≥ \d+%/);
    assert.match(table, /--fail-if-inconclusive/);
    assert.equal(gateExitCode(noisy), 0);
    const strict = compareInRun(runDoc(0.4), 'A', { ...options, failIfInconclusive: true });
    assert.equal(gateExitCode(strict), 1);
    assert.match(renderComparison(strict), /~: inconclusive \(fails the gate: --fail-if-inconclusive\)/);
  });

  it('a quiet candidate: Same, within reach, exit 0 even with failIfInconclusive', () => {
    const quiet = compareInRun(runDoc(0.005), 'A', { threshold: 0.05, alpha: 0.01, failIfInconclusive: true });
    assert.equal(quiet.rows[0]?.gate.verdict, 'Same');
    assert.equal(quiet.rows[0]?.gate.withinReach, true);
    assert.match(renderComparison(quiet), /The 5% threshold was within reach of every row/);
    assert.equal(gateExitCode(quiet), 0);
  });
});
