import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_FAULT, NO_LOAD, type RunControls, type TargetConfig } from '../../src/config/plan.js';
import { runCase } from '../../src/latency/runner.js';
import { HarnessCost } from '../../src/latency/target-run.js';
import { seededRandom } from '../../src/measure/random.js';
import type { CacheClient, ConnectedTarget } from '../../src/targets/client.js';

/** Garbage: arrays of pointers in V8's young generation, dropped at once (what a churning client allocates per op). */
let sink = 0;
function churn(arrays: number): void {
  for (let i = 0; i < arrays; i++) sink += new Array(50_000).fill(i).length;
}

/** An in-memory target whose ops take `waitMs` of real time on a timer (0: answered at once, no I/O wait), allocating `garbage` arrays each. */
function target(name: string, waitMs: number, garbage = 0): ConnectedTarget {
  const store = new Map<string, Buffer>();
  const wait = (): Promise<void> => {
    churn(garbage);
    return waitMs > 0 ? new Promise((resolve) => setTimeout(resolve, waitMs)) : Promise.resolve();
  };
  const client: CacheClient = {
    set: async (key, value) => {
      await wait();
      store.set(key, value);
    },
    get: async (key) => {
      await wait();
      return store.get(key) ?? null;
    },
    del: async (key) => {
      store.delete(key);
    },
    close: async () => undefined,
  };
  const config: TargetConfig = { name, servers: [], protocol: 'resp', itemSizeMax: 1 << 20, mode: 'standalone', client: 'ioredis', cache: 'off',
    cacheEntries: 10_000, readFrom: 'primary', waitReplicas: 0, tls: false, sources: {} };
  return { config, client, info: { mode: 'standalone', modeDetected: false, serverVersion: 'fake', primaries: 1, replicas: 0, client: 'fake',
    clientVersion: '0', servers: [], tls: false, cache: 'off', readFrom: 'primary' } };
}

const CONTROLS: RunControls = {
  keyTtlSeconds: 60, warmupIterations: 0, invocationCount: 1, iterationTimeMs: 100, interleave: 'iteration', minIterations: 4, maxIterations: 4,
  maxRelativeError: 0.02, maxTimeMs: 60_000, opTimeoutMs: 1000, connectTimeoutMs: 1000, overwriteRate: 0, fault: NO_FAULT, load: NO_LOAD,
};

describe("the harness's own cost in a latency run", () => {
  for (const interleave of ['iteration', 'key'] as const) {
    it(`tells a target whose time is the client's own from one that waits on its server (INTERLEAVE=${interleave})`, async () => {
      const result = await runCase([target('LOCAL', 0), target('WAITS', 2)], { READ_RATIO: 4, WRITE_COUNT: 5, PAYLOAD_BYTES: 64 },
        { ...CONTROLS, interleave }, { keyPrefix: 'cachebench:test:', random: seededRandom(1) });
      const [local, waits] = result.targets;
      // Answered without I/O: the event loop never waits, the whole iteration is the harness's own work.
      assert.ok(local?.harness !== undefined && local.harness.busy > 0.9, JSON.stringify(local?.harness));
      // 2 ms on a timer per op: the event loop idles nearly all of it.
      assert.ok(waits?.harness !== undefined && waits.harness.busy < 0.5, JSON.stringify(waits?.harness));
      for (const t of [local, waits]) assert.ok((t?.harness?.cpuUsPerOp ?? 0) > 0);
      // Per op over the measured iterations only: 4 rounds × 5 keys × (1 SET + 4 GETs) = 100 ops each.
      assert.equal((local?.ops.set.count ?? 0) + (local?.ops.get.count ?? 0), 100);
    });
  }

  it('counts the garbage collector\'s pauses inside a target\'s timed windows only: a churning client shows them, a quiet one beside it hardly', async () => {
    const result = await runCase([target('CHURNS', 0, 10), target('QUIET', 0)], { READ_RATIO: 4, WRITE_COUNT: 5, PAYLOAD_BYTES: 64 },
      { ...CONTROLS, interleave: 'key' }, { keyPrefix: 'cachebench:test:', random: seededRandom(1) });
    const [churns, quiet] = result.targets;
    // 100 ops × 10 arrays of 400 KB: 400 MB through a young generation of a few MB, scavenged many times, each inside an op.
    assert.ok((churns?.harness?.gcShare ?? 0) > 0.01, JSON.stringify(churns?.harness));
    assert.ok((quiet?.harness?.gcShare ?? 1) < (churns?.harness?.gcShare ?? 0), `${JSON.stringify(quiet?.harness)} vs ${JSON.stringify(churns?.harness)}`);
    assert.ok(sink > 0);
  });

  it('a pause counts for the part of it inside a measured window, and not at all outside every window', async () => {
    // The pauses here are made up; real ones may be delivered during the awaits, so each check is of what one call added.
    const added = (cost: HarnessCost, from: number, to: number): number => {
      const before = cost.gcMs;
      cost.gc(from, to);
      return cost.gcMs - before;
    };
    const cost = new HarnessCost();
    // The window opens between `outer` and `t0`: the first begin() also starts the GC observer, which may take a while
    // on a cold machine (a pause 10 ms after `outer` could then fall before the window).
    const outer = performance.now();
    cost.begin(0);
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 40));
    cost.end(10);
    const t1 = performance.now();
    // In time order, as Node reports them.
    assert.equal(added(cost, outer - 20, outer - 10), 0, 'a pause before the window');
    assert.ok(Math.abs(added(cost, t0 + 10, t0 + 15) - 5) < 1e-9, 'a pause inside it, whole');
    const window = added(cost, outer - 100, t1 + 100);
    // A 40-ms timer may fire a fraction of a millisecond early by performance.now() (timers run on the loop's ms clock).
    assert.ok(window >= 35 && window <= t1 - outer, `a pause over the whole window counts for the window only: ${window} ms`);
    assert.equal(added(cost, t1 + 10, t1 + 20), 0, 'a pause after it');
    // A pause reported while a window is still open counts too (Node reports pauses on an immediate, mid-iteration).
    const open = new HarnessCost();
    const before = performance.now();
    open.begin(0);
    await new Promise((resolve) => setTimeout(resolve, 15));
    const now = performance.now();
    assert.ok(Math.abs(added(open, now - 5, now - 2) - 3) < 1e-9, 'inside the open window');
    assert.equal(added(open, before - 50, before - 40), 0, 'before it');
    open.end(1);
    assert.ok(Math.abs(added(open, now - 5, now - 2) - 3) < 1e-9, 'and once it is closed, from the ring');
    open.result();
    const result = cost.result();
    assert.ok(result !== null && result.gcShare > 0.8 && result.gcShare <= 1, JSON.stringify(result));
  });

  it('a pause reported after a thousand more windows closed (a client that never yields) still counts for its own window', async () => {
    const cost = new HarnessCost();
    const t0 = performance.now();
    cost.begin(0);
    await new Promise((resolve) => setTimeout(resolve, 10));
    cost.end(1);
    for (let i = 0; i < 1000; i++) {
      cost.begin(i);
      cost.end(i + 1);
    }
    const before = cost.gcMs;
    cost.gc(t0 + 2, t0 + 5);
    assert.ok(Math.abs(cost.gcMs - before - 3) < 1e-9, `${cost.gcMs - before}`);
    cost.result();
  });
});
