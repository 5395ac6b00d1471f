import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig, type CapacityPlan } from '../../src/config/resolve.js';
import { input, rejects } from '../helpers/config.js';
import { judgeStep, searchCapacity, type StepMeasure } from '../../src/load/capacity.js';

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

describe('capacity configuration', () => {
  const env = { REDIS_SERVERS: '127.0.0.1:6379' };
  const capacity = (flags: Record<string, string>, extraEnv: Record<string, string> = {}) => ({
    env: { ...env, ...extraEnv }, flags: { MODE: 'capacity', ...flags },
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
    rejects(capacity({ SLO_P99_MS: '2', START_AT: String(Math.floor(Date.now() / 1000) + 60) }), 'START_AT', 'not supported yet');
    rejects({ env, flags: { MODE: 'throughput', SLO_P99_MS: '2' } }, 'SLO_P99_MS=2', 'applies to capacity runs only, and MODE is throughput');
    rejects({ env, flags: { CAPACITY_GROWTH: '1' } }, 'CAPACITY_GROWTH', 'below the minimum 1.1');
  });
});
