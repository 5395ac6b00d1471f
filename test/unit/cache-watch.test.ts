import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CacheWatch, READ_EVERY_MS, WATCH_KEYS, WRITE_EVERY_MS, watchKeyNames } from '../../src/faults/cache-watch.js';
import type { FaultClock } from '../../src/faults/clock.js';
import { trackingPorts } from '../../src/faults/partition.js';
import type { CacheClient } from '../../src/targets/client.js';
import { keySlot } from '../../src/targets/cluster-nodes.js';

/** Virtual time: timers fire at their exact times as the test advances the clock (each step lets replies settle). */
class VirtualClock implements FaultClock {
  #ns = 0n;
  #timers: { at: bigint; fn: () => void; everyNs: bigint }[] = [];
  readonly now = (): bigint => this.#ns;
  readonly sleep = (): Promise<void> => Promise.resolve();
  readonly after = (): (() => void) => () => undefined;
  every(ms: number, fn: () => void): () => void {
    const timer = { at: this.#ns + BigInt(ms) * 1_000_000n, fn, everyNs: BigInt(ms) * 1_000_000n };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Advances 1 ms at a time, firing what is due, and lets the fake clients' replies settle after each. */
  async run(ms: number): Promise<void> {
    for (let i = 0; i < ms; i++) {
      this.#ns += 1_000_000n;
      for (const t of this.#timers.filter((x) => x.at <= this.#ns)) {
        t.at += t.everyNs;
        t.fn();
      }
      for (let k = 0; k < 10; k++) await Promise.resolve();
    }
  }
}

/**
 * A server (a Map) and a client that caches what it reads, dropped when the server tells it a key changed (tracking),
 * unless its invalidation channel is cut. `loseWrites`: the server acknowledges writes and keeps the old value.
 */
class FakeDeployment {
  readonly server = new Map<string, Buffer>();
  readonly cache = new Map<string, Buffer>();
  cut = false;
  loseWrites = false;
  flushes: bigint[] = [];

  readonly writer: CacheClient = {
    set: (key, value) => {
      if (!this.loseWrites) this.server.set(key, Buffer.from(value));
      if (!this.cut) this.cache.delete(key);
      return Promise.resolve();
    },
    get: (key) => Promise.resolve(this.server.get(key) ?? null),
    del: (key) => {
      this.server.delete(key);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };

  readonly cached: CacheClient = {
    set: () => Promise.reject(new Error('not used')),
    get: (key) => {
      const hit = this.cache.get(key);
      if (hit !== undefined) return Promise.resolve(hit);
      const value = this.server.get(key) ?? null;
      if (value !== null) this.cache.set(key, value);
      return Promise.resolve(value);
    },
    del: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

describe('cache watch (a client cache across a fault)', () => {
  it('spreads its keys over the slot range: key i hashes into the i-th of WATCH_KEYS equal stretches of 16384 slots', () => {
    const names = watchKeyNames('cb:run1:');
    assert.equal(names.length, WATCH_KEYS);
    names.forEach((name, i) => {
      const slot = keySlot(name);
      assert.ok(slot >= Math.floor((i * 16384) / WATCH_KEYS) && slot < Math.floor(((i + 1) * 16384) / WATCH_KEYS), `${name}: slot ${slot}`);
      assert.ok(name.startsWith('cb:run1:cache-watch-'), name);
    });
    assert.equal(new Set(names).size, WATCH_KEYS);
  });

  it('counts the cache\'s stale reads after the fault, aged from the newer version\'s acknowledgement, and none while invalidations arrive', async () => {
    const clock = new VirtualClock();
    const d = new FakeDeployment();
    const watch = new CacheWatch(d.cached, d.writer, watchKeyNames('k:'), 60, clock);
    await watch.prepare();
    watch.start(0n);
    await clock.run(1000);
    watch.markFault();
    d.cut = true; // the invalidation channel is cut: the cache keeps what it holds
    await clock.run(1000);
    await watch.stop();
    const r = watch.result([]);
    assert.equal(r.staleBefore, 0);
    assert.equal(r.serverStale, 0);
    assert.equal(r.mismatched, 0);
    // Reads every 5 ms: about 200 a second on each side of the fault (one skipped while its key's write is in flight).
    assert.ok(r.readsBefore >= 180 && r.readsBefore <= 200, String(r.readsBefore));
    assert.ok(r.readsAfter >= 180 && r.readsAfter <= 200, String(r.readsAfter));
    // Every key is rewritten within WATCH_KEYS × WRITE_EVERY_MS = 600 ms of the cut and read every 12 × 5 = 60 ms after
    // that, so most later reads are stale; the oldest is at most the cut's 1000 ms, and at least 1000 − 600 − 60 ms.
    assert.ok(r.staleAfter > 100 && r.staleAfter <= r.readsAfter, String(r.staleAfter));
    const max = r.staleAgeMs?.max ?? 0;
    assert.ok(max >= 1000 - WATCH_KEYS * WRITE_EVERY_MS - WATCH_KEYS * READ_EVERY_MS && max <= 1000, String(max));
    assert.ok((r.staleAgeMs?.p50 ?? 0) <= max);
    assert.ok(r.lastStaleAtMs !== null && r.lastStaleAtMs >= 1900 && r.lastStaleAtMs <= 2000, String(r.lastStaleAtMs));
    assert.deepEqual(r.flushesAtMs, []);
    assert.equal(await watch.cleanup(), 0);
    assert.equal(d.server.size, 0);
  });

  it('a stale read the servers themselves serve (an acknowledged overwrite lost) is not the cache\'s', async () => {
    const clock = new VirtualClock();
    const d = new FakeDeployment();
    const watch = new CacheWatch(d.cached, d.writer, watchKeyNames('k:'), 60, clock);
    await watch.prepare();
    watch.start(0n);
    await clock.run(200);
    watch.markFault();
    d.loseWrites = true; // acknowledged, not kept: the cache is told, refetches, and finds the old value
    await clock.run(800);
    await watch.stop();
    const r = watch.result(undefined);
    assert.equal(r.staleAfter, 0);
    assert.ok(r.serverStale > 50, String(r.serverStale));
    assert.equal(r.flushesAtMs, null);
    assert.equal(r.staleAgeMs, null);
  });

  it('finds the connections with CLIENT TRACKING on from the client\'s address in CLIENT LIST', () => {
    const list = [
      'id=3 addr=10.231.7.1:40112 laddr=10.231.7.2:6379 fd=8 name= age=9 idle=0 flags=t db=0 sub=0 psub=0 cmd=get user=default resp=3',
      'id=4 addr=10.231.7.1:40114 laddr=10.231.7.2:6379 fd=9 name= age=9 idle=0 flags=N db=0 sub=0 psub=0 cmd=set user=default resp=2',
      'id=5 addr=10.231.7.1:40116 laddr=10.231.7.2:6379 fd=10 name= age=9 idle=0 flags=tB db=0 sub=0 psub=0 cmd=hello user=default resp=3',
      'id=6 addr=10.231.7.3:51000 laddr=10.231.7.2:6379 fd=11 name= age=9 idle=0 flags=t db=0 sub=0 psub=0 cmd=get user=default resp=3',
      'id=7 addr=10.231.7.11:40118 laddr=10.231.7.2:6379 fd=12 name= age=9 idle=0 flags=t db=0',
      'id=8 addr=10.231.7.1:40120 laddr=10.231.7.2:6379 fd=13 name=flags=t age=9 idle=0 flags=S db=0',
    ].join('\n');
    assert.deepEqual(trackingPorts(list, '10.231.7.1'), [40112, 40116]);
    assert.deepEqual(trackingPorts('', '10.231.7.1'), []);
  });
});
