import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_FAULT, NO_LOAD, type RunControls, type TargetConfig } from '../../src/config/plan.js';
import { runCase } from '../../src/latency/runner.js';
import { seededRandom } from '../../src/measure/random.js';
import type { CacheClient, ConnectedTarget } from '../../src/targets/client.js';

/** An in-memory target whose ops take `waitMs` of real time on a timer (0: answered at once, no I/O wait). */
function target(name: string, waitMs: number): ConnectedTarget {
  const store = new Map<string, Buffer>();
  const wait = (): Promise<void> => (waitMs > 0 ? new Promise((resolve) => setTimeout(resolve, waitMs)) : Promise.resolve());
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
});
