import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig, type CapacityPlan } from '../../src/config/resolve.js';
import { input, rejects } from '../helpers/config.js';
import {
  judgeStep, mergeStepMeasures, MAX_PLANNED_RATE, plannedRates, runPlannedStaircase, searchCapacity, staircaseOutcome, thinPercentiles,
  type CapacityStep, type StepMeasure, type StepPart,
} from '../../src/load/capacity.js';
import { readFileSync } from 'node:fs';
import { capacityLines } from '../../src/report/capacity.js';
import { renderStepSummary } from '../../src/report/step-summary.js';
import type { ResultEntry, ResultsDocument } from '../../src/report/document.js';
import type { LoadRecord } from '../../src/load/record.js';
import { OpHistogram } from '../../src/measure/histogram.js';

const PLAN: CapacityPlan = {
  objectives: [{ percentile: 99, maxMs: 12 }], maxErrorShare: 0, startRate: 100, growth: 2, precision: 0.05, repeats: 3, maxSteps: 40,
};

/**
 * A server of capacity 1000 / serviceMs ops/s whose p99 grows as a queue's does, serviceMs / (1 − load), and without
 * bound at or above capacity: the knee for an objective of X ms is capacity × (1 − serviceMs / X), worked out here,
 * independently of the search.
 */
function queueingServer(serviceMs: number, seconds = 3) {
  const capacity = 1000 / serviceMs;
  return (rate: number): StepMeasure => {
    const load = rate / capacity;
    const p99 = load < 1 ? serviceMs / (1 - load) : 1e9;
    return { offered: rate, achieved: rate, ops: rate * seconds, errors: 0, latencyMs: { p50: serviceMs, p99 }, clientBound: false };
  };
}
const kneeFor = (serviceMs: number, objectiveMs: number): number => (1000 / serviceMs) * (1 - serviceMs / objectiveMs);

describe('capacity search', () => {
  it('finds the knee of a server with a known capacity within the precision, and a lower objective gives a lower knee', async () => {
    const server = queueingServer(2); // 500 ops/s; p99 ≤ 12 ms up to 417 ops/s
    const tried: number[] = [];
    const outcome = await searchCapacity(PLAN, async (rate) => {
      tried.push(rate);
      return server(rate);
    });
    assert.equal(outcome.stop, 'found');
    const trueKnee = kneeFor(2, 12);
    assert.ok(outcome.knee !== null && Math.abs(outcome.knee / trueKnee - 1) <= 0.05, `knee ${outcome.knee}`);
    // The interval brackets the true knee: the last rate met and the first that failed, within 5% of each other.
    const [low, high] = outcome.interval ?? [NaN, NaN];
    assert.ok(low <= trueKnee && trueKnee < high && high / low - 1 <= 0.05, `${low}–${high} around ${trueKnee}`);
    // Staircase 100, 200, 400, 800; then bisection; then three repeats at the knee.
    assert.deepEqual(tried.slice(0, 4), [100, 200, 400, 800]);
    assert.deepEqual(outcome.steps.slice(-3).map((s) => [s.phase, s.offered]), [['repeat', low], ['repeat', low], ['repeat', low]]);
    for (const objective of [4, 300]) {
      const other = await searchCapacity({ ...PLAN, objectives: [{ percentile: 99, maxMs: objective }] }, async (rate) => server(rate));
      assert.ok(other.knee !== null && Math.abs(other.knee / kneeFor(2, objective) - 1) <= 0.05, `objective ${objective} ms: knee ${other.knee}`);
      assert.ok(objective < 12 ? other.knee < outcome.knee : other.knee > outcome.knee);
    }
  });

  it('a client-bound step ends the search with a lower bound, never a knee', async () => {
    const server = queueingServer(0.1); // 10,000 ops/s, but the generator saturates at 3,000
    const outcome = await searchCapacity(PLAN, async (rate) => ({ ...server(Math.min(rate, 3000)), offered: rate, clientBound: rate > 3000 }));
    assert.equal(outcome.stop, 'client-bound');
    assert.equal(outcome.knee, null);
    assert.equal(outcome.interval, null);
    assert.equal(outcome.lowerBound, 1600);
    assert.equal(outcome.steps.at(-1)?.clientBound, true);
  });

  it('steps down when the first rate fails; never met at any rate; bounded by CAPACITY_MAX_STEPS; stops when interrupted', async () => {
    const down = await searchCapacity({ ...PLAN, startRate: 4000 }, async (rate) => queueingServer(2)(rate));
    assert.deepEqual(down.steps.slice(0, 5).map((s) => s.offered), [4000, 2000, 1000, 500, 250]);
    assert.ok(down.knee !== null && Math.abs(down.knee / kneeFor(2, 12) - 1) <= 0.05);
    const never = await searchCapacity(PLAN, async (rate) => ({ ...queueingServer(2)(rate), errors: 1 }));
    assert.equal(never.stop, 'never-met');
    assert.equal(never.knee, null);
    assert.ok(never.steps.length <= 8 && never.steps.every((s) => s.why === `1 of ${s.ops} ops failed`));
    let calls = 0;
    const bounded = await searchCapacity({ ...PLAN, maxSteps: 6 }, async (rate) => {
      calls++;
      return queueingServer(2)(rate);
    });
    assert.equal(calls, 6);
    assert.equal(bounded.stop, 'max-steps');
    assert.ok(bounded.knee !== null && bounded.interval !== null, 'the bracket found so far is reported');
    const aborted = await searchCapacity(PLAN, async (rate) => (rate >= 400 ? null : queueingServer(2)(rate)));
    assert.equal(aborted.stop, 'aborted');
    assert.equal(aborted.steps.length, 2);
  });

  it('a knee that fails a repeat is not a knee: the search goes on below it, and the new knee is repeated in turn', async () => {
    let repeats = 0;
    const outcome = await searchCapacity(PLAN, async (rate, phase) => {
      const m = queueingServer(2)(rate);
      // The second repeat at the first knee is slow (noise): that rate becomes the lowest that failed.
      if (phase === 'repeat' && ++repeats === 2) return { ...m, latencyMs: { p50: 2, p99: 50 } };
      return m;
    });
    assert.equal(outcome.stop, 'found');
    const repeated = outcome.steps.filter((s) => s.phase === 'repeat');
    const first = repeated[0]?.offered ?? 0;
    assert.ok(outcome.knee !== null && outcome.knee < first);
    assert.ok(outcome.steps.filter((s) => s.offered === outcome.knee).every((s) => s.met));
    assert.equal(repeated.filter((s) => s.offered === outcome.knee).length, 3, 'the new knee repeated CAPACITY_REPEATS times');
    assert.deepEqual(outcome.interval, [outcome.knee, first]);
  });

  it('climbs from small rates whatever the rounding; a client-bound first rate is stepped down from; out of steps on the staircase is a lower bound', async () => {
    const climb = await searchCapacity({ ...PLAN, startRate: 3, growth: 1.1 }, async (rate) => queueingServer(2)(rate));
    assert.deepEqual(climb.steps.slice(0, 4).map((s) => s.offered), [3, 4, 5, 6]);
    const down = await searchCapacity({ ...PLAN, startRate: 800 },
      async (rate) => ({ ...queueingServer(2)(Math.min(rate, 399)), offered: rate, clientBound: rate >= 800 }));
    assert.deepEqual(down.steps.slice(0, 2).map((s) => [s.offered, s.clientBound]), [[800, true], [400, false]]);
    assert.ok(down.knee !== null && Math.abs(down.knee / kneeFor(2, 12) - 1) <= 0.05, `knee ${down.knee}`);
    // A step that could not be measured (its workers failed) fails like any other: the search goes on and keeps its steps.
    const broken = await searchCapacity(PLAN, async (rate) => (rate >= 800 ? { ...queueingServer(2)(rate), ops: 0, error: 'preload failed' } : queueingServer(2)(rate)));
    assert.equal(broken.stop, 'found');
    assert.ok(broken.steps.some((x) => x.why === 'errored: preload failed') && broken.knee !== null && broken.knee < 800);
    const short = await searchCapacity({ ...PLAN, maxSteps: 3 }, async (rate) => queueingServer(2)(rate));
    assert.deepEqual([short.stop, short.knee, short.lowerBound], ['max-steps', null, 400]);
  });

  it('judges a step by every objective, the failed share and the rate it reached', () => {
    const m: StepMeasure = { offered: 1000, achieved: 1000, ops: 3000, errors: 0, latencyMs: { p50: 1, p99: 4, 'p99.9': 12 }, clientBound: false };
    const plan = { ...PLAN, objectives: [{ percentile: 99, maxMs: 5 }, { percentile: 99.9, maxMs: 10 }] };
    assert.deepEqual(judgeStep(plan, m), { met: false, why: 'p99.9 12.00 ms > 10 ms' });
    assert.deepEqual(judgeStep({ ...plan, objectives: [{ percentile: 99, maxMs: 5 }] }, m), { met: true, why: null });
    assert.deepEqual(judgeStep({ ...PLAN, maxErrorShare: 0.001 }, { ...m, errors: 3 }), { met: true, why: null });
    assert.deepEqual(judgeStep({ ...PLAN, maxErrorShare: 0.001 }, { ...m, errors: 4 }), { met: false, why: '4 of 3000 ops failed' });
    assert.deepEqual(judgeStep(PLAN, { ...m, achieved: 950 }), { met: false, why: '950 of 1000 ops/s sent' });
    assert.deepEqual(judgeStep(PLAN, { ...m, ops: 0 }), { met: false, why: 'no op completed' });
    // Sent on time, but the servers fell behind: not a rate they carry, however short the step.
    assert.deepEqual(judgeStep(PLAN, { ...m, completed: 900 }), { met: false, why: 'the servers completed 900 of 1000 ops/s' });
    assert.deepEqual(judgeStep(PLAN, { ...m, completed: 985 }), { met: true, why: null });
    assert.deepEqual(judgeStep(PLAN, { ...m, latencyMs: { p50: 1, p99: Infinity } }), { met: false, why: 'p99 a failed op > 12 ms' });
    assert.deepEqual(judgeStep(PLAN, { ...m, error: 'connection to 127.0.0.1:7000 lost' }), { met: false, why: 'errored: connection to 127.0.0.1:7000 lost' });
  });
});

/** A step whose record holds `values` ms as intended-time (and service-time) latencies of GETs, `failed` of them failed. */
function recorded(offered: number, values: readonly number[], failed = 0, clientBound = false): StepPart {
  const h = new OpHistogram();
  for (const v of values) h.record(v * 1e6);
  const encoded = h.encode();
  const histograms = { set: null, get: encoded, setIntended: null, getIntended: encoded };
  const sent = values.length + failed;
  // Sent at the offered rate: over sent / offered seconds, one worker (busy 95% when client-bound).
  const workers = [{ worker: 'worker 0/1', ops: sent, peakRssBytes: 0, client: { busy: clientBound ? 0.95 : 0.3, cpuUsPerOp: 10, loopDelayP99Ms: 1, gcMsPerSecond: 0, seconds: 1 } }];
  const durationMs = (1000 * sent) / offered;
  const record = { sets: 0, gets: values.length, setErrors: 0, getErrors: failed, sent, durationMs, series: [], workers, histograms } as unknown as LoadRecord;
  // What the file claims besides its record is not trusted: these would double every count.
  return { offered, achieved: 2 * offered, ops: 2 * sent, errors: 0, record } as StepPart;
}

/** The nearest-rank p-th percentile of `values`, worked out without histograms. */
function nearestRank(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

describe('planned staircase (START_AT, --shard) and its merge', () => {
  const step = (offered: number, met: boolean, clientBound = false): CapacityStep => ({
    offered, achieved: offered, ops: 100, errors: 0, latencyMs: {}, clientBound, phase: 'staircase', met, why: met ? null : 'p99 20 ms > 12 ms',
  });

  it('rates: start × growth^k, rounded, each above the last, CAPACITY_MAX_STEPS of them, never above RATE\'s limit', () => {
    assert.deepEqual(plannedRates({ ...PLAN, startRate: 100, growth: 1.5, maxSteps: 5 }), [100, 150, 225, 338, 506]);
    assert.deepEqual(plannedRates({ ...PLAN, startRate: 1, growth: 1.1, maxSteps: 4 }), [1, 2, 3, 4]);
    const high = plannedRates({ ...PLAN, startRate: 1_000_000, growth: 10, maxSteps: 30 });
    assert.deepEqual(high, [1_000_000, MAX_PLANNED_RATE]);
  });

  it('the knee is the highest rate met below the first that failed; client-bound is a lower bound; the end of the steps too', () => {
    assert.deepEqual(staircaseOutcome([step(100, true), step(200, true), step(400, false), step(800, true)], false),
      { steps: [step(100, true), step(200, true), step(400, false)], knee: 200, interval: [200, 400], lowerBound: null, stop: 'found' });
    assert.deepEqual([staircaseOutcome([step(100, false)], false).stop, staircaseOutcome([step(100, false)], false).knee], ['never-met', null]);
    const bound = staircaseOutcome([step(100, true), step(200, true, true), step(400, false)], false);
    assert.deepEqual([bound.stop, bound.knee, bound.lowerBound], ['client-bound', null, 200]);
    const boundFailed = staircaseOutcome([step(100, true), step(200, false, true)], false);
    assert.deepEqual([boundFailed.stop, boundFailed.lowerBound], ['client-bound', 100]);
    assert.deepEqual(staircaseOutcome([step(100, true), step(200, true)], false), { steps: [step(100, true), step(200, true)], knee: null, interval: null, lowerBound: 200, stop: 'max-steps' });
    assert.equal(staircaseOutcome([step(100, true)], true).stop, 'aborted');
  });

  it('a process runs every planned rate in order and stops only after two failures in a row, a client-bound or unmeasurable step', async () => {
    const server = queueingServer(2); // knee for 12 ms: 417
    const plan = { ...PLAN, startRate: 50, growth: 2, maxSteps: 10 };
    const tried: number[] = [];
    const outcome = await runPlannedStaircase(plan, async (rate, phase) => {
      assert.equal(phase, 'staircase');
      tried.push(rate);
      return server(rate);
    });
    assert.deepEqual(tried, [50, 100, 200, 400, 800, 1600], 'past the knee (400 met, 800 failed), one more step, then it stops');
    assert.deepEqual([outcome.knee, outcome.interval, outcome.stop], [400, [400, 800], 'found']);
    assert.equal(outcome.steps.length, 6, 'every step run is kept (the merge needs them)');
    // One slow step that later steps contradict does not stop it; an unmeasurable one does.
    const noisy = await runPlannedStaircase(plan, async (rate) => (rate === 100 ? { ...server(rate), latencyMs: { p50: 2, p99: 50 } } : server(rate)));
    assert.deepEqual([noisy.steps.length, noisy.knee, noisy.interval], [6, 50, [50, 100]]);
    const broken = await runPlannedStaircase(plan, async (rate) => (rate === 200 ? { ...server(rate), ops: 0, error: 'connection lost' } : server(rate)));
    assert.deepEqual(broken.steps.map((s) => s.offered), [50, 100, 200]);
    const bound = await runPlannedStaircase(plan, async (rate) => ({ ...server(rate), clientBound: rate >= 200 }));
    assert.deepEqual([bound.steps.length, bound.stop, bound.lowerBound], [3, 'client-bound', 200]);
    const interrupted = await runPlannedStaircase(plan, async (rate) => (rate >= 200 ? null : server(rate)));
    assert.deepEqual([interrupted.stop, interrupted.lowerBound, interrupted.steps.length], ['aborted', 100, 2]);
  });

  it('merged steps: rates and counts added, percentiles from the added histograms (as from all values together), client-bound if any shard was', () => {
    const a = Array.from({ length: 900 }, (_, i) => 0.5 + (i % 30) * 0.1);
    const b = Array.from({ length: 300 }, (_, i) => 2 + (i % 50) * 0.4);
    const plan = { ...PLAN, objectives: [{ percentile: 99, maxMs: 12 }, { percentile: 90, maxMs: 5 }] };
    const merged = mergeStepMeasures([recorded(150, a), recorded(50, b)], 200, plan);
    assert.deepEqual([merged.offered, merged.achieved, merged.ops, merged.errors, merged.clientBound], [200, 200, 1200, 0, false]);
    for (const p of [50, 90, 99]) {
      const expected = nearestRank([...a, ...b], p);
      const got = merged.latencyMs[`p${p}`] as number;
      assert.ok(Math.abs(got / expected - 1) < 0.01, `p${p}: ${got} ms, all values together ${expected} ms`);
    }
    // A failed op ranks slowest: 2% failed reaches the p99.
    assert.equal(mergeStepMeasures([recorded(150, a, 20), recorded(50, b, 5)], 200, plan).latencyMs.p99, Infinity);
    assert.equal(mergeStepMeasures([recorded(150, a), recorded(50, b, 0, true)], 200, plan).clientBound, true);
    const unmeasured: StepMeasure = { offered: 50, achieved: 0, ops: 0, errors: 0, latencyMs: {}, clientBound: false, error: 'connection refused' };
    const partial = mergeStepMeasures([recorded(150, a), unmeasured], 200, plan);
    assert.deepEqual([partial.offered, partial.error, judgeStep(plan, partial).met, partial.clientBound], [200, 'connection refused', false, false],
      'a shard that could not measure fails the step; it does not make it client-bound');
  });
});

describe('thin steps: too few ops for the objective\'s percentile', () => {
  it('p99 needs 1,000 ops and p99.9 10,000 (10 beyond the percentile); the step table marks the cell, the knee table the knee', () => {
    const plan = { objectives: [{ percentile: 99, maxMs: 10 }, { percentile: 99.9, maxMs: 20 }] };
    assert.deepEqual(thinPercentiles(plan, { ops: 999 }), [99, 99.9]);
    assert.deepEqual(thinPercentiles(plan, { ops: 1000 }), [99.9]);
    assert.deepEqual(thinPercentiles(plan, { ops: 9999 }), [99.9]);
    assert.deepEqual(thinPercentiles(plan, { ops: 10_000 }), []);
    const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/results-throughput.json', import.meta.url), 'utf8')) as ResultsDocument;
    const base = fixture.results[0] as ResultEntry;
    const step = (offered: number, ops: number, met: boolean) => ({
      offered, achieved: offered, ops, errors: 0, latencyMs: { p50: 1, p99: met ? 4 : 40 }, clientBound: false, phase: 'staircase', met, why: met ? null : 'p99 over' });
    const capacity = {
      objectives: [{ percentile: 99, maxMs: 10 }], maxErrorShare: 0, startRate: 100, growth: 2, precision: 0.05, repeats: 3, maxSteps: 30,
      steps: [step(100, 500, true), step(200, 1000, false), step(150, 750, true)], knee: 150, interval: [150, 200], lowerBound: null, stop: 'found',
    };
    const lines = capacityLines([{ ...base, load: { ...base.load, capacity } } as unknown as ResultEntry], true).join('\n');
    assert.match(lines, /\| +150 \(thin\) \| +150–200 \|/, 'the knee at a thin step');
    assert.match(lines, /\| 1 \| staircase \| 100 \| 100 \| 500 \| 1\.00 \| 4\.00 thin \|/);
    assert.match(lines, /\| 2 \| staircase \| 200 \| 200 \| 1,000 \| 1\.00 \| 40\.0 \|/, '1,000 ops are enough for p99');
    assert.match(lines, /thin: fewer than 10 of the step's ops lie beyond that percentile/);
    // The CI step summary leads with the knee table (report.md has every step).
    const summary = renderStepSummary({ ...fixture, results: [{ ...base, load: { ...base.load, capacity } } as unknown as ResultEntry] },
      { charts: [], reportDir: 'results/r', artifactsUrl: null });
    assert.match(summary, /\| Target \| Knee \(ops\/s\) \|[^\n]*\n[^\n]*\n\| REDIS \| 150 \(thin\) \| 150–200 \|/);
    const firm = { ...capacity, steps: capacity.steps.map((s) => ({ ...s, ops: s.ops * 10 })) };
    const firmLines = capacityLines([{ ...base, load: { ...base.load, capacity: firm } } as unknown as ResultEntry], true).join('\n');
    assert.doesNotMatch(firmLines, /thin/);
  });
});

describe('capacity configuration', () => {
  const env = { REDIS_SERVERS: '127.0.0.1:6379' };
  const capacity = (flags: Record<string, string>, extraEnv: Record<string, string> = {}) => ({
    env: { ...env, ...extraEnv }, flags: { MODE: 'capacity', ...flags },
  });

  it('START_AT makes the search a planned staircase (the same on every --shard process)', () => {
    const at = Math.floor(Date.now() / 1000) + 60;
    const plan = resolveConfig(input(capacity({ SLO_P99_MS: '2', START_AT: String(at) })));
    assert.equal(plan.scenarios[0]?.controls.load.startAtMs, at * 1000);
  });

  it('resolves the objective and the search from keys, flags and env vars', () => {
    const plan = resolveConfig(input(capacity({ SLO_P99_MS: '2', SLO_P999_MS: '10', SLO_ERRORS: '0.1%', CAPACITY_START_RATE: '500' })));
    assert.deepEqual(plan.scenarios[0]?.controls.load.capacity, {
      objectives: [{ percentile: 99, maxMs: 2 }, { percentile: 99.9, maxMs: 10 }], maxErrorShare: 0.001,
      startRate: 500, growth: 2, precision: 0.05, repeats: 3, maxSteps: 30,
    });
    assert.equal(plan.scenarios[0]?.controls.load.mode, 'capacity');
    assert.equal(resolveConfig(input({ env })).scenarios[0]?.controls.load.capacity, null);
  });

  it('bad input is exit 2 before any traffic, naming key, value, source and fix', () => {
    rejects(capacity({}), 'SLO_P99_MS', 'none is set', 'set at least one of SLO_P50_MS, SLO_P90_MS, SLO_P99_MS, SLO_P999_MS');
    rejects(capacity({ SLO_P99_MS: '0' }), 'SLO_P99_MS=0', 'an objective of 0 ms can never be met');
    rejects(capacity({ SLO_P99_MS: '-1' }), 'SLO_P99_MS', 'negative');
    rejects(capacity({ SLO_P99_MS: '2ms' }), 'SLO_P99_MS', '"2ms"');
    rejects(capacity({ SLO_P99_MS: '2' }, { SLO_P95_MS: '3' }), 'unknown objective SLO_P95_MS', 'process environment', 'p50, p90, p99, p99.9', 'or unset SLO_P95_MS');
    rejects(capacity({ SLO_P99_MS: '2', MAX_ITERATIONS: '50' }), 'MAX_ITERATIONS=50', 'applies to latency runs only, and MODE is capacity');
    rejects(capacity({ SLO_P99_MS: '2', RATE: '1000' }), 'RATE=1000', 'chooses the offered rates itself');
    const at = String(Math.floor(Date.now() / 1000) + 60);
    rejects(capacity({ SLO_P99_MS: '2', START_AT: at, CAPACITY_PRECISION: '0.1' }), 'CAPACITY_PRECISION=0.1', 'planned staircase', 'no bisection', 'unset START_AT');
    rejects(capacity({ SLO_P99_MS: '2', START_AT: at, CAPACITY_REPEATS: '2' }), 'CAPACITY_REPEATS=2', 'precision is CAPACITY_GROWTH');
    rejects({ env, flags: { MODE: 'throughput', SLO_P99_MS: '2' } }, 'SLO_P99_MS=2', 'applies to capacity runs only, and MODE is throughput');
    rejects({ env, flags: { CAPACITY_GROWTH: '1' } }, 'CAPACITY_GROWTH', 'below the minimum 1.1');
  });
});
