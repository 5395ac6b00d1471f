import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_FAULT, NO_LOAD, type RunControls, type TargetConfig } from '../../src/config/resolve.js';
import { runCase, type LatencyCaseResult as CaseResult } from '../../src/latency/runner.js';
import type { CacheClient, ConnectedTarget } from '../../src/targets/client.js';
import { seededRandom } from '../../src/measure/random.js';
import { studentTQuantile } from '../../src/stats/describe.js';
import { createProgress } from '../../src/cli/progress.js';

/**
 * The scheduler with a fake clock and in-memory fake clients: every op advances the clock by the
 * target's latency, so iteration times, the time budget and the stopping rule are exact.
 */
class FakeClock {
  ms = 0;
  readonly now = (): number => this.ms;
}

function fakeTarget(name: string, clock: FakeClock, latencyMs: (op: number) => number): ConnectedTarget & { ops: () => number } {
  const store = new Map<string, Buffer>();
  let ops = 0;
  const tick = async (): Promise<void> => {
    clock.ms += latencyMs(ops++);
    await Promise.resolve();
  };
  const client: CacheClient = {
    set: async (key, value) => {
      await tick();
      store.set(key, value);
    },
    get: async (key) => {
      await tick();
      return store.get(key) ?? null;
    },
    del: async (key) => {
      store.delete(key);
    },
    close: async () => undefined,
  };
  const config: TargetConfig = { name, servers: [], protocol: 'resp', itemSizeMax: 1024 * 1024, mode: 'standalone', client: 'ioredis', cache: 'off', cacheEntries: 10_000, readFrom: 'primary', waitReplicas: 0, tls: false, sources: {} };
  return {
    config,
    client,
    info: { mode: 'standalone', modeDetected: false, serverVersion: 'fake', primaries: 1, replicas: 0, client: 'fake', clientVersion: '0', servers: [], tls: false, cache: 'off', readFrom: 'primary' },
    ops: () => ops,
  };
}

const seeded = seededRandom;

const CONTROLS: RunControls = {
  keyTtlSeconds: 60, warmupIterations: 0, invocationCount: 1, iterationTimeMs: 100, interleave: 'iteration', minIterations: 15, maxIterations: 100, maxRelativeError: 0.02,
  maxTimeMs: 3_600_000, opTimeoutMs: 1000, connectTimeoutMs: 1000, overwriteRate: 0, fault: NO_FAULT, load: NO_LOAD,
};
// 2 writes × (1 SET + 4 GETs) = 10 ops per iteration.
const PARAMS = { READ_RATIO: 4, WRITE_COUNT: 2, PAYLOAD_BYTES: 16 };

async function run(targets: ConnectedTarget[], clock: FakeClock, controls: Partial<RunControls>, seed = 1): Promise<CaseResult> {
  return runCase(targets, PARAMS, { ...CONTROLS, ...controls }, { keyPrefix: 'cachebench:test:', random: seeded(seed), clock: clock.now });
}

describe('round scheduler (fake clients, fake clock)', () => {
  it('times each iteration with the injected clock: constant 1 ms ops give 10 ms iterations, every read verified', async () => {
    const clock = new FakeClock();
    const result = await run([fakeTarget('A', clock, () => 1)], clock, { minIterations: 3, maxIterations: 3 });
    const a = result.targets[0];
    assert.deepEqual(a?.samplesMs, [10, 10, 10]);
    assert.equal(a?.verification.verified, 3 * 2 * 4);
    assert.equal(a?.verification.reads, 3 * 2 * 4);
  });

  it('shuffles the target order of every round (each target leads some rounds), reproducibly for a seed', async () => {
    const clock = new FakeClock();
    const targets = ['A', 'B', 'C'].map((n) => fakeTarget(n, clock, () => 1));
    const result = await run(targets, clock, { minIterations: 30, maxIterations: 30 });
    assert.equal(result.roundOrders.length, 30);
    for (const order of result.roundOrders) assert.deepEqual([...order].sort(), ['A', 'B', 'C']);
    const distinct = new Set(result.roundOrders.map((o) => o.join(',')));
    assert.ok(distinct.size >= 4, `only ${distinct.size} distinct orders in 30 rounds`);
    const leaders = new Set(result.roundOrders.map((o) => o[0]));
    assert.deepEqual([...leaders].sort(), ['A', 'B', 'C']);
    const again = await run(['A', 'B', 'C'].map((n) => fakeTarget(n, clock, () => 1)), clock, { minIterations: 30, maxIterations: 30 });
    assert.deepEqual(again.roundOrders, result.roundOrders, 'same seed, same orders');
  });

  it('stops on convergence, but not before MIN_ITERATIONS', async () => {
    const clock = new FakeClock();
    // Constant times: Error = 0 from the second round on; only MIN_ITERATIONS holds the run.
    const result = await run([fakeTarget('A', clock, () => 1), fakeTarget('B', clock, () => 2)], clock, { minIterations: 15, maxIterations: 100 });
    assert.equal(result.stopReason, 'converged');
    assert.equal(result.rounds, 15);
    assert.equal(result.targets[0]?.samplesMs.length, 15);
  });

  it('does not converge while one target is noisy, and stops at MAX_ITERATIONS', async () => {
    const clock = new FakeClock();
    // B alternates 5 ms and 15 ms iterations: CV 50%, never within 2%.
    const noisy = fakeTarget('B', clock, (op) => (Math.floor(op / 10) % 2 === 0 ? 0.5 : 1.5));
    const result = await run([fakeTarget('A', clock, () => 1), noisy], clock, { minIterations: 15, maxIterations: 40 });
    assert.equal(result.stopReason, 'max-iterations');
    assert.equal(result.rounds, 40);
  });

  it('stops at MAX_TIME inside an iteration, and the cut iteration is not a sample', async () => {
    const clock = new FakeClock();
    // 100 ms ops: one iteration = 1000 ms. Budget 2500 ms: two whole iterations, the third is cut at 2500 ms.
    const slow = fakeTarget('A', clock, () => 100);
    const result = await run([slow], clock, { minIterations: 15, maxIterations: 100, maxTimeMs: 2500 });
    assert.equal(result.stopReason, 'max-time');
    assert.deepEqual(result.targets[0]?.samplesMs, [1000, 1000]);
    assert.equal(result.targets[0]?.state, 'completed');
    assert.equal(result.targets[0]?.iterations.failed, 0);
    assert.ok(result.elapsedMs <= 2500 + 100, `ran until ${result.elapsedMs} ms`);
    assert.equal(slow.ops(), 25, 'ops after the budget ran out');
  });

  it('stops at MAX_TIME during warm-up, before any measured round', async () => {
    const clock = new FakeClock();
    const slow = fakeTarget('A', clock, () => 100);
    const result = await run([slow], clock, { warmupIterations: 10, maxTimeMs: 1500 });
    assert.equal(result.stopReason, 'max-time');
    assert.equal(result.rounds, 0);
    assert.equal(result.targets[0]?.iterations.warmup, 1);
    assert.ok(result.elapsedMs <= 1500 + 100, `ran until ${result.elapsedMs} ms`);
  });

  it('pilot stage: each target gets invocations so its iteration takes ~ITERATION_TIME_MS, and reports per invocation', async () => {
    const clock = new FakeClock();
    // 10 ops per invocation: A 0.1 ms per op (1 ms per invocation), B 0.3 ms per op (3 ms).
    const a = fakeTarget('A', clock, () => 0.1);
    const b = fakeTarget('B', clock, () => 0.3);
    const result = await run([a, b], clock, { invocationCount: 0, iterationTimeMs: 20, warmupIterations: 2, minIterations: 3, maxIterations: 3 });
    assert.ok(Math.abs((result.pilotMs ?? 0) - 1) < 1e-9, `pilot ${result.pilotMs}`);
    assert.equal(result.invocations, 20);
    for (const [t, perInvocation] of [[result.targets[0], 1], [result.targets[1], 3]] as const) {
      assert.equal(t?.samplesMs.length, 3);
      for (const ms of t?.samplesMs ?? []) assert.ok(Math.abs(ms - perInvocation) < 1e-9, `${t?.name}: ${ms} ms per invocation`);
      assert.equal(t?.iterations.warmup, 3);
    }
    // Each target its own count (as each benchmark in BenchmarkDotNet): A 20 ms / 1 ms = 20, B 20 ms / 3 ms = 7.
    assert.deepEqual(result.targets.map((t) => [t.name, t.invocations, Math.round((t.pilotMs ?? 0) * 1e6) / 1e6]), [['A', 20, 1], ['B', 7, 3]]);
    // A cold warm-up round and the pilot round at 1 invocation, the pilot round that confirms the count, then
    // 3 rounds at the target's count, 10 ops each.
    assert.equal(a.ops(), (2 + 20 + 3 * 20) * 10);
    assert.equal(b.ops(), (2 + 7 + 3 * 7) * 10);
    assert.equal(result.targets[0]?.verification.reads, (2 + 20 + 3 * 20) * 2 * 4);
  });

  it('pilot stage: one slow first invocation does not size the iteration; the count doubles until ITERATION_TIME_MS is reached', async () => {
    const clock = new FakeClock();
    // The first invocation (10 ops) takes 1 ms per op (cold), then 0.1 ms per op: 1 ms per invocation.
    const a = fakeTarget('A', clock, (op) => (op < 10 ? 1 : 0.1));
    const result = await run([a], clock, { invocationCount: 0, iterationTimeMs: 20, warmupIterations: 0, minIterations: 3, maxIterations: 3 });
    // Sized from the slow invocation alone, the count would be 20 / 10 = 2, iterations of 2 ms where 20 were asked.
    // The round at 2 took 2 ms (< 0.8 × 20), so the count grew to max(2 × 2, 20 / 1) = 20; the round at 20 took 20 ms.
    assert.equal(result.targets[0]?.invocations, 20);
    assert.equal(result.invocations, 20);
    assert.equal(result.targets[0]?.iterations.warmup, 3);
    assert.equal(a.ops(), (1 + 2 + 20 + 3 * 20) * 10);
  });

  it(`INTERLEAVE=key: every target takes the fastest target count (they run through the same keys)`, async () => {
    const clock = new FakeClock();
    const a = fakeTarget('A', clock, () => 0.1);
    const b = fakeTarget('B', clock, () => 0.3);
    const result = await run([a, b], clock, { invocationCount: 0, iterationTimeMs: 20, warmupIterations: 2, minIterations: 2, maxIterations: 2, interleave: 'key' });
    assert.deepEqual(result.targets.map((t) => t.invocations), [result.invocations, result.invocations]);
    assert.equal(b.ops(), a.ops());
  });

  it('warm-up progress: pilot rounds are flagged as such, and no round is ever numbered past its total', async () => {
    const clock = new FakeClock();
    const events: { iteration: number; of: number; pilot?: boolean }[] = [];
    await runCase([fakeTarget('A', clock, () => 0.1)], PARAMS, { ...CONTROLS, invocationCount: 0, iterationTimeMs: 20, warmupIterations: 3, minIterations: 2, maxIterations: 2 },
      { keyPrefix: 'cachebench:test:', random: seeded(1), clock: clock.now, onProgress: (e) => void (e.kind === 'warmup' && events.push(e)) });
    // One cold round, then pilot rounds until the count is right: 1 ms at 1 invocation -> 20 invocations -> 20 ms, kept.
    assert.deepEqual(events.map((e) => [e.iteration, e.of, e.pilot === true]), [[1, 3, false], [2, 3, true], [3, 3, true]]);
    const lines: string[] = [];
    const progress = createProgress({ isTTY: false, write: (text) => void lines.push(text) }, false);
    for (const e of events) progress.onProgress({ kind: 'warmup', params: PARAMS, ...e });
    assert.deepEqual(lines, ['cachebench: warm-up 1/3\n', 'cachebench: warm-up 2 (pilot: sizing iterations to ITERATION_TIME_MS)\n', 'cachebench: warm-up 3 (pilot: sizing iterations to ITERATION_TIME_MS)\n']);
  });

  it('INVOCATION_COUNT fixes the count and skips the pilot; without warm-up the pilot round still runs and is discarded', async () => {
    const clock = new FakeClock();
    const fixed = await run([fakeTarget('A', clock, () => 0.1)], clock, { invocationCount: 5, minIterations: 2, maxIterations: 2 });
    assert.equal(fixed.invocations, 5);
    assert.equal(fixed.pilotMs, null);
    const piloted = fakeTarget('A', clock, () => 0.1);
    const auto = await run([piloted], clock, { invocationCount: 0, iterationTimeMs: 10, warmupIterations: 0, minIterations: 2, maxIterations: 2 });
    assert.equal(auto.invocations, 10);
    assert.equal(auto.targets[0]?.iterations.warmup, 2);
    assert.deepEqual(auto.targets[0]?.samplesMs.map((x) => Math.round(x * 1e6) / 1e6), [1, 1]);
    assert.equal(piloted.ops(), (1 + 10 + 2 * 10) * 10);
  });

  it('INTERLEAVE key: targets take turns key by key (ABBA), and each iteration is the sum of its own segments', async () => {
    const clock = new FakeClock();
    const log: string[] = [];
    const logged = (name: string, ms: number): ConnectedTarget & { ops: () => number } => {
      const t = fakeTarget(name, clock, () => ms);
      const set = t.client.set.bind(t.client);
      return { ...t, client: { ...t.client, set: async (k, v, ttl) => { log.push(name); await set(k, v, ttl); } } };
    };
    const result = await run([logged('A', 1), logged('B', 2)], clock, { interleave: 'key', minIterations: 3, maxIterations: 3 }, 5);
    assert.deepEqual(result.targets.map((t) => t.samplesMs), [[10, 10, 10], [20, 20, 20]]);
    // 2 keys per iteration: order o, then o reversed, in every round.
    for (let round = 0; round < 3; round++) {
      const order = result.roundOrders[round] as string[];
      assert.deepEqual(log.slice(round * 4, round * 4 + 4), [...order, ...[...order].reverse()]);
    }
    assert.equal(result.targets[0]?.verification.verified, 3 * 2 * 4);
  });

  it('INTERLEAVE key with 4 invocations per iteration: each sample is the time of one invocation, per target, as with INTERLEAVE iteration', async () => {
    // Target A's ops take 1 ms at invocation 0, 2 ms at 1, 3 ms at 2, 4 ms at 3 (10 ops each): invocations of 10, 20,
    // 30 and 40 ms, a mean of 25 ms; B's take twice as long: 50 ms. An iteration (4 invocations) is 100 and 200 ms.
    const stepped = (name: string, scale: number, clock: FakeClock): ConnectedTarget => fakeTarget(name, clock,
      (op) => scale * (1 + (Math.floor(op / 10) % 4)));
    const clock = new FakeClock();
    const keyed = await run([stepped('A', 1, clock), stepped('B', 2, clock)], clock, { interleave: 'key', invocationCount: 4, minIterations: 3, maxIterations: 3 });
    assert.deepEqual(keyed.targets.map((t) => t.samplesMs), [[25, 25, 25], [50, 50, 50]]);
    assert.deepEqual(keyed.targets.map((t) => t.roundSamplesMs), [[25, 25, 25], [50, 50, 50]]);
    assert.deepEqual(keyed.targets.map((t) => t.summary?.mean), [25, 50]);
    const clock2 = new FakeClock();
    const plain = await run([stepped('A', 1, clock2), stepped('B', 2, clock2)], clock2, { interleave: 'iteration', invocationCount: 4, minIterations: 3, maxIterations: 3 });
    assert.deepEqual(plain.targets.map((t) => t.samplesMs), keyed.targets.map((t) => t.samplesMs));
  });

  it('INTERLEAVE key: a slow episode of the machine hits every target alike, so the per-round ratio stays exact', async () => {
    // 20 keys × 5 ops of 1 ms: 100 ms per iteration, 200 ms per round. Ops cost 3× more while the
    // clock is in [250, 300) ms: a machine-wide hiccup shorter than an iteration.
    const episode = (clock: FakeClock) => () => (clock.ms >= 250 && clock.ms < 300 ? 3 : 1);
    const ratios = async (interleave: 'iteration' | 'key'): Promise<number[]> => {
      const clock = new FakeClock();
      const result = await runCase([fakeTarget('A', clock, episode(clock)), fakeTarget('B', clock, episode(clock))], { ...PARAMS, WRITE_COUNT: 20 },
        { ...CONTROLS, interleave, minIterations: 5, maxIterations: 5 }, { keyPrefix: 'cachebench:test:', random: seeded(3), clock: clock.now });
      const [a, b] = result.targets.map((t) => t.roundSamplesMs as number[]);
      return (a as number[]).map((x, i) => ((b as number[])[i] as number) / x);
    };
    const byKey = await ratios('key');
    const byIteration = await ratios('iteration');
    assert.ok(byKey.every((r) => Math.abs(r - 1) < 0.1), `key: ${byKey.map((r) => r.toFixed(3)).join(' ')}`);
    assert.ok(byIteration.some((r) => Math.abs(r - 1) > 0.25), `iteration: ${byIteration.map((r) => r.toFixed(3)).join(' ')}`);
  });

  it('INTERLEAVE key: a target failing mid-round loses that iteration only; every key is deleted; a budget cut counts no sample', async () => {
    const clock = new FakeClock();
    const stores: Map<string, Buffer>[] = [];
    const withStore = (name: string, failAt: number | undefined): ConnectedTarget => {
      const store = new Map<string, Buffer>();
      stores.push(store);
      let sets = 0;
      const client: CacheClient = {
        set: async (key, value) => {
          clock.ms += 1;
          if (++sets === failAt) throw new Error('connection to 127.0.0.1:1 lost');
          store.set(key, value);
        },
        get: async (key) => {
          clock.ms += 1;
          return store.get(key) ?? null;
        },
        del: async (key) => {
          store.delete(key);
        },
        close: async () => undefined,
      };
      return { ...fakeTarget(name, clock, () => 1), client };
    };
    // B's 4th SET fails: the second key of round 2.
    const result = await run([withStore('A', undefined), withStore('B', 4)], clock, { interleave: 'key', minIterations: 4, maxIterations: 4 }, 9);
    const [a, b] = result.targets;
    assert.deepEqual(a?.samplesMs, [10, 10, 10, 10]);
    assert.deepEqual(b?.roundSamplesMs, [10, null, 10, 10]);
    assert.equal(b?.iterations.failed, 1);
    assert.equal(b?.ops.set.errors, 1);
    assert.equal(b?.state, 'completed');
    for (const store of stores) assert.equal(store.size, 0, 'a key was left on a server');
    // A budget that runs out inside a round: that round gives no sample to anyone, and its keys are deleted.
    const cut = new FakeClock();
    const x = fakeTarget('X', cut, () => 1);
    const y = fakeTarget('Y', cut, () => 1);
    const budget = await runCase([x, y], PARAMS, { ...CONTROLS, interleave: 'key', minIterations: 10, maxIterations: 10, maxTimeMs: 45 },
      { keyPrefix: 'cachebench:test:', random: seeded(1), clock: cut.now });
    assert.equal(budget.stopReason, 'max-time');
    assert.deepEqual(budget.targets.map((t) => t.samplesMs.length), [2, 2]);
  });

  it('an abort ends the run at the next op with state aborted', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    let ops = 0;
    const target = fakeTarget('A', clock, () => {
      if (++ops === 35) controller.abort();
      return 1;
    });
    const result = await runCase([target], PARAMS, { ...CONTROLS, minIterations: 100, maxIterations: 100 },
      { keyPrefix: 'cachebench:test:', signal: controller.signal, clock: clock.now, random: seeded(2) });
    assert.equal(result.stopReason, 'aborted');
    assert.equal(result.targets[0]?.state, 'aborted');
    assert.deepEqual(result.targets[0]?.samplesMs, [10, 10, 10]);
    assert.equal(target.ops(), 35);
  });
  it('MAX_PERCENT_ERROR stops once every Percent is known within it (paired rounds, against the fastest), never before MIN_ITERATIONS', async () => {
    // B costs about twice A per op, with ±15% noise per op (A ±1%; seeded): its Percent interval narrows round by round.
    const runWith = async (maxPercentError: number, maxIterations = 3000): Promise<CaseResult> => {
      const clock = new FakeClock();
      const noise = seeded(7);
      const noiseA = seeded(11);
      return run([fakeTarget('A', clock, () => 1 + 0.02 * (noiseA() - 0.5)), fakeTarget('B', clock, () => 2 * (1 + 0.3 * (noise() - 0.5)))], clock,
        { minIterations: 5, maxIterations, maxRelativeError: 0.0001, maxPercentError });
    };
    const loose = await runWith(0.01);
    const tight = await runWith(0.004);
    assert.equal(loose.stopReason, 'percent-converged');
    assert.equal(tight.stopReason, 'percent-converged');
    assert.ok(loose.rounds >= 5, `${loose.rounds} rounds`);
    assert.ok(tight.rounds > loose.rounds, `a tighter Percent needs more rounds: ${tight.rounds} vs ${loose.rounds}`);
    // Reference: the paired interval of B over A from the rounds, by Fieller's method written out here, is within 1%.
    const a = loose.targets[0]?.roundSamplesMs as number[];
    const b = loose.targets[1]?.roundSamplesMs as number[];
    const n = a.length;
    const mean = (x: number[]): number => x.reduce((s, v) => s + v, 0) / n;
    const [ma, mb] = [mean(a), mean(b)];
    const cov = (x: number[], y: number[], mx: number, my: number): number => x.reduce((s, v, k) => s + (v - mx) * ((y[k] as number) - my), 0) / (n - 1) / n;
    const [vaa, vbb, vab] = [cov(a, a, ma, ma), cov(b, b, mb, mb), cov(a, b, ma, mb)];
    const t = studentTQuantile(0.9995, n - 1);
    const g = (t * t * vaa) / (ma * ma);
    const r = mb / ma;
    const half = (t / ma) * Math.sqrt(vbb - 2 * r * vab + r * r * vaa - g * (vbb - (vab * vab) / vaa)) / (1 - g);
    const center = (r - (g * vab) / vaa) / (1 - g);
    assert.ok(half / center <= 0.0105, `half-width ${(100 * half / center).toFixed(2)}% of ${center.toFixed(3)}`);
    // Off (0): the per-target rule decides, and here it never converges.
    assert.equal((await runWith(0, 200)).stopReason, 'max-iterations');
  });
  it('MAX_PERCENT_ERROR never stops on a Percent the report cannot show: a --baseline that errored leaves the decision to the other rules', async () => {
    const clock = new FakeClock();
    const noise = seeded(3);
    const failing = fakeTarget('A', clock, () => 1);
    // A fails every op from its 40th on (round 5): three failed iterations in a row drop it (errored) before any Percent is judged.
    const broken: ConnectedTarget = { ...failing, client: { ...failing.client, set: async (key, value, ttl) => {
      if (failing.ops() >= 40) throw new Error('connection lost');
      await failing.client.set(key, value, ttl);
    } } };
    const others = ['B', 'C'].map((n, i) => fakeTarget(n, clock, () => (2 + i) * (1 + 0.3 * (noise() - 0.5))));
    const controls = { ...CONTROLS, minIterations: 5, maxIterations: 300, maxRelativeError: 0.0001, maxPercentError: 0.05 };
    const result = await runCase([broken, ...others], PARAMS, controls,
      { keyPrefix: 'cachebench:test:', random: seeded(1), clock: clock.now, baseline: 'A' });
    assert.equal(result.targets[0]?.state, 'errored');
    assert.equal(result.stopReason, 'max-iterations', 'C against B converges quickly, but B is not the baseline the report uses');
  });
});
