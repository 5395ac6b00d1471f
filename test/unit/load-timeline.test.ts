import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActiveClock, isSliced, stretchCount, targetWindows, timelineMs, type TimelineInput } from '../../src/load/timeline.js';
import { summarizeLoad, withPercent } from '../../src/load/summary.js';
import type { LoadRecord } from '../../src/load/record.js';
import { NO_LOAD, type LoadPlan } from '../../src/config/plan.js';
import { OpHistogram } from '../../src/measure/histogram.js';
import { ERROR_CONFIDENCE } from '../../src/stats/describe.js';
import { independentRatioInterval, pairedRatioInterval } from '../../src/stats/ratio.js';

const span = (w: { fromMs: number; toMs: number }): [number, number] => [w.fromMs, w.toMs];

describe('throughput timeline: targets take turns in slices', () => {
  const three: TimelineInput = { targets: 3, warmupMs: 2000, durationMs: 5000, sliceMs: 2000 };

  it('warm-ups in turn, then one slice of every target per stretch, the order rotated by one each stretch; the last slice is the rest of DURATION', () => {
    assert.equal(isSliced(three), true);
    assert.equal(stretchCount(three), 3);
    assert.equal(timelineMs(three), 21_000);
    // Measured part starts after the three warm-ups (6 s); stretches of 3 × 2 s, the last 3 × 1 s.
    // Stretch 0 in the order 0, 1, 2; stretch 1: 1, 2, 0; stretch 2: 2, 0, 1.
    assert.deepEqual(targetWindows(three, 0).map(span), [[0, 2000], [6000, 8000], [16_000, 18_000], [19_000, 20_000]]);
    assert.deepEqual(targetWindows(three, 1).map(span), [[2000, 4000], [8000, 10_000], [12_000, 14_000], [20_000, 21_000]]);
    assert.deepEqual(targetWindows(three, 2).map(span), [[4000, 6000], [10_000, 12_000], [14_000, 16_000], [18_000, 19_000]]);
    // Every target is measured for exactly DURATION, and no two targets' windows overlap.
    const all = [0, 1, 2].flatMap((i) => targetWindows(three, i));
    for (const i of [0, 1, 2]) assert.equal(targetWindows(three, i).filter((w) => w.measured).reduce((n, w) => n + w.toMs - w.fromMs, 0), 5000);
    const sorted = all.map(span).sort((a, b) => a[0] - b[0]);
    for (let k = 1; k < sorted.length; k++) assert.ok(sorted[k]![0] >= sorted[k - 1]![1], `overlap at ${String(sorted[k])}`);
    assert.deepEqual(targetWindows(three, 2).map((w) => w.stretch), [-1, 0, 1, 2]);
  });

  it('SLICE_SECONDS 0, one target, or a slice as long as DURATION: each target runs its warm-up and whole DURATION in turn', () => {
    for (const input of [{ ...three, sliceMs: 0 }, { ...three, sliceMs: 5000 }]) {
      assert.equal(isSliced(input), false);
      assert.deepEqual(targetWindows(input, 1).map(span), [[7000, 9000], [9000, 14_000]]);
    }
    assert.deepEqual(targetWindows({ ...three, targets: 1 }, 0).map(span), [[0, 2000], [2000, 7000]]);
    assert.deepEqual(targetWindows({ ...three, warmupMs: 0, sliceMs: 0 }, 2).map(span), [[10_000, 15_000]]);
  });

  it('the active clock maps a target\'s active time onto the wall clock and back, through the other targets\' turns', () => {
    const clock = new ActiveClock(targetWindows(three, 1));
    assert.equal(clock.activeMs, 7000);
    assert.equal(clock.measuredMs, 5000);
    // Active 0-2 s is the warm-up at 2-4 s; active 2.5 s is 0.5 s into the first slice (8-10 s); 6.5 s into the last (20-21 s).
    assert.equal(clock.wallOf(0), 2000);
    assert.equal(clock.wallOf(2500), 8500);
    assert.equal(clock.wallOf(4000), 12_000);
    assert.equal(clock.wallOf(6500), 20_500);
    assert.equal(clock.wallOf(1000), 3000); // asked again earlier: the cursor walks back
    assert.equal(clock.windowAt(5000), undefined); // another target's turn
    assert.equal(clock.windowAt(8000)?.measured, true);
    assert.equal(clock.windowAt(3999)?.measured, false);
    assert.deepEqual(span(clock.nextWindow(5000)!), [8000, 10_000]);
    assert.equal(clock.nextWindow(21_000), undefined);
    assert.deepEqual(span(clock.nextWindow(15_000)!), [20_000, 21_000]);
    // Measured offsets: 9.5 s wall is 1.5 s into the measured part; 11 s (idle after the first slice) is its end, less the inset.
    assert.equal(clock.measuredOffset(9500), 1500);
    assert.equal(clock.measuredOffset(11_000, 1), 1999);
    assert.equal(clock.measuredOffset(3000), -1);
    assert.equal(clock.measuredOffset(12_500), 2500);
    // Measured second s begins at: 0 → 8 s, 1 → 9 s, 2 → 12 s, 3 → 13 s, 4 → 20 s.
    assert.deepEqual([0, 1, 2, 3, 4].map((s) => clock.wallOfMeasured(s * 1000)), [8000, 9000, 12_000, 13_000, 20_000]);
    assert.equal(clock.activeEndOf(8500), 4000);
    assert.equal(clock.activeAt(11_000), 4000);
  });
});

describe('Percent of sliced throughput runs: measured second j of every target pairs up', () => {
  const empty = new OpHistogram().encode();
  const record = (target: string, perSecond: readonly number[], sliceSeconds: number | null): LoadRecord => ({
    target, startMs: 0, durationMs: perSecond.length * 1000, view: 'service', sets: 0, gets: 0, setErrors: 0, getErrors: 0, scheduled: null, sent: null, lateStartMs: 0,
    verified: 0, missing: 0, mismatched: 0, hits: null, misses: null, deletes: 0, undeletedKeys: 0, errorMessages: {},
    histograms: { set: empty, get: empty, setIntended: null, getIntended: null },
    series: perSecond.map((ops, i) => ({ t: i * 1000, ops, sets: 0, gets: ops, errors: 0, latency: empty })), nodes: null, workers: [], sliceSeconds,
  });
  const plan: LoadPlan = { ...NO_LOAD, mode: 'throughput', durationMs: 8000, sliceMs: 2000 };
  // Drift that hits both targets alike stretch by stretch: paired, it cancels; as independent seconds, it does not.
  const base = [1000, 1010, 2000, 1990, 3000, 3010, 4000, 3990];
  const other = [900, 910, 1800, 1790, 2700, 2710, 3600, 3590];
  const entries = (a: LoadRecord, b: LoadRecord): { name: string; load: ReturnType<typeof summarizeLoad>; eligible: boolean }[] =>
    [{ name: 'A', load: summarizeLoad(a, plan), eligible: true }, { name: 'B', load: summarizeLoad(b, plan), eligible: true }];

  it('the interval is Fieller\'s paired interval over the seconds, Percent its ratio, and far narrower than the independent one on the same seconds', () => {
    const { results, baseline } = withPercent(entries(record('A', base, 2), record('B', other, 2)), undefined);
    assert.equal(baseline, 'A');
    const b = results[1]!.load.throughput;
    const paired = pairedRatioInterval(base, other, ERROR_CONFIDENCE)!;
    assert.equal(b.percentPairs, 8);
    assert.ok(Math.abs(b.percentLower! - 100 * paired.lower!) < 1e-9 && Math.abs(b.percentUpper! - 100 * paired.upper!) < 1e-9);
    assert.ok(Math.abs(b.percent! - (100 * other.reduce((x, y) => x + y)) / base.reduce((x, y) => x + y)) < 1e-9);
    assert.ok(b.percentLower! <= b.percent! && b.percent! <= b.percentUpper!);
    const independent = independentRatioInterval(base, other, ERROR_CONFIDENCE)!;
    assert.ok(b.percentUpper! - b.percentLower! < (independent.upper! - independent.lower!) * 100 / 5, `${b.percentLower}–${b.percentUpper} vs ${independent.lower}–${independent.upper}`);
    assert.ok(b.percentUpper! < 100, 'a 10% slowdown under drift is shown');
    assert.equal(results[1]!.load.settings.sliceSeconds, 2);
  });

  it('targets in turn, or records of different slices or lengths (a merge of unlike runs): the seconds as independent samples, no pairs', () => {
    for (const [a, b] of [[record('A', base, null), record('B', other, null)], [record('A', base, 2), record('B', other, 1)], [record('A', base, 2), record('B', [...other, 3000], 2)]] as const) {
      const { results } = withPercent(entries(a, b), undefined);
      const independent = independentRatioInterval(opsOf(a), opsOf(b), ERROR_CONFIDENCE)!;
      assert.equal(results[1]!.load.throughput.percentPairs, null);
      assert.ok(Math.abs(results[1]!.load.throughput.percentLower! - 100 * independent.lower!) < 1e-9);
    }
  });
  const opsOf = (r: LoadRecord): number[] => r.series.map((x) => x.ops);
});
