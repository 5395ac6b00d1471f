import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CacheWatch, READ_EVERY_MS, WATCH_KEYS, WRITE_EVERY_MS, watchKeyNames } from '../../src/faults/cache-watch.js';
import type { FaultClock } from '../../src/faults/clock.js';
import { GLIDE_MANAGEMENT_NAME, trackingPorts } from '../../src/faults/partition.js';
import type { CacheClient, CacheFlushes } from '../../src/targets/client.js';
import { keySlot } from '../../src/targets/cluster-nodes.js';
import { versionOf } from '../../src/workload/overwriter.js';

/** Virtual time: timers fire at their exact times as the test advances the clock (each step lets replies settle). */
class VirtualClock implements FaultClock {
  #ns = 0n;
  #timers: { at: bigint; fn: () => void; everyNs: bigint }[] = [];
  #waits: { at: bigint; resolve: () => void }[] = [];
  /** Resolves `ms` of virtual time from now (a fake server's latency). */
  delay(ms: number): Promise<void> {
    return ms <= 0 ? Promise.resolve() : new Promise((resolve) => this.#waits.push({ at: this.#ns + BigInt(ms) * 1_000_000n, resolve }));
  }

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
      for (const w of this.#waits.filter((x) => x.at <= this.#ns)) w.resolve();
      this.#waits = this.#waits.filter((x) => x.at > this.#ns);
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
 * unless its invalidation channel is cut; every op takes `latencyMs` of virtual time, applied when it ends.
 * `lose(version)`: the server acknowledges that write and keeps the old value. `failWrites`: writes are refused.
 */
class FakeDeployment {
  readonly server = new Map<string, Buffer>();
  readonly cache = new Map<string, Buffer>();
  cut = false;
  lose: (version: number) => boolean = () => false;
  /** The server drops the key on a write instead of storing it (the key itself lost). */
  deleteOnWrite = false;
  failWrites = false;
  /** What the driver says it flushed (node-redis's record), when set. */
  flushes: CacheFlushes | undefined;

  /** `latencyMs` per op; `hitLatencyMs(now)`: a cache hit's own time when sent at `now` ms (0: answered at once). */
  constructor(private readonly clock: VirtualClock, private readonly latencyMs = 0, private readonly hitLatencyMs: (nowMs: number) => number = () => 0) {}

  readonly writer: CacheClient = {
    set: async (key, value) => {
      await this.clock.delay(this.latencyMs);
      if (this.failWrites) throw new Error('refused');
      if (this.deleteOnWrite) this.server.delete(key);
      else if (!this.lose(versionOf(value))) this.server.set(key, Buffer.from(value));
      if (!this.cut) this.cache.delete(key);
    },
    get: async (key) => {
      await this.clock.delay(this.latencyMs);
      return this.server.get(key) ?? null;
    },
    del: (key) => {
      this.server.delete(key);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };

  readonly cached: CacheClient = {
    set: () => Promise.reject(new Error('not used')),
    get: async (key) => {
      const hit = this.cache.get(key);
      if (hit !== undefined) {
        await this.clock.delay(this.hitLatencyMs(Number(this.clock.now() / 1_000_000n)));
        return hit;
      }
      await this.clock.delay(this.latencyMs);
      const value = this.server.get(key) ?? null;
      if (value !== null) this.cache.set(key, value);
      return value;
    },
    del: () => Promise.resolve(),
    close: () => Promise.resolve(),
    cacheFlushes: () => this.flushes ?? { total: 0, recent: [] },
  };
}

/** A watch on the deployment's keys, prepared (written and read once) while virtual time runs for the fakes' latency. */
async function prepared(clock: VirtualClock, d: FakeDeployment): Promise<CacheWatch> {
  const watch = new CacheWatch(d.cached, d.writer, watchKeyNames('k:'), 60, clock);
  const preparing = watch.prepare();
  await clock.run(100);
  await preparing;
  return watch;
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
    const d = new FakeDeployment(clock);
    const watch = await prepared(clock, d);
    watch.start(clock.now());
    await clock.run(1000);
    watch.markFault();
    d.cut = true; // the invalidation channel is cut: the cache keeps what it holds
    await clock.run(1000);
    await watch.stop();
    // The run started 100 ms into virtual time (the preparation's).
    const r = watch.result({ total: 2, recent: [{ ns: 600_000_000n, reason: 'connection' }, { ns: 1_600_000_000n, reason: 'slots' }, { ns: 1_700_000_000n, reason: 'server' }] });
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
    assert.deepEqual(r.flushes, { count: 2, onConnection: 1, onSlotMap: 1, onServer: 1, atMs: [500, 1500, 1600] });
    assert.equal(await watch.cleanup(), 0);
    assert.equal(d.server.size, 0);
  });

  it('a stale read the servers themselves serve (an acknowledged overwrite lost) is not the cache\'s', async () => {
    const clock = new VirtualClock();
    const d = new FakeDeployment(clock);
    const watch = await prepared(clock, d);
    watch.start(clock.now());
    await clock.run(200);
    watch.markFault();
    d.lose = () => true; // acknowledged, not kept: the cache is told, refetches, and finds the old value
    await clock.run(800);
    await watch.stop();
    const r = watch.result(undefined);
    assert.equal(r.staleAfter, 0);
    assert.ok(r.serverStale > 50, String(r.serverStale));
    assert.equal(r.flushes, null);
    assert.equal(r.staleAgeMs, null);
  });

  it('with latency: a stale read is judged against the servers before that key is written again, and stop() waits for what is in flight', async () => {
    // Every other overwrite is lost (acknowledged, not kept): a read after a lost one finds the version before it, at the
    // servers too. Were the key rewritten (and kept) between the stale read and its check, the check would find a newer
    // version and blame the cache: the watch writes no key it is reading or checking. With 2 ms per op, a read and its
    // check take 4 ms of every key's 60 ms, and writes come every 50 ms: without that rule some would meet.
    const clock = new VirtualClock();
    const d = new FakeDeployment(clock, 2);
    const watch = await prepared(clock, d);
    watch.start(clock.now());
    watch.markFault();
    d.lose = (version) => version % 2 === 1;
    await clock.run(20_000);
    // The write due at 20 000 ms is in flight (2 ms): stop() must wait for it.
    let stopped = false;
    const stopping = watch.stop().then(() => {
      stopped = true;
    });
    for (let k = 0; k < 10; k++) await Promise.resolve();
    assert.equal(stopped, false, 'stop() returned with a write in flight');
    await clock.run(10);
    await stopping;
    const r = watch.result(undefined);
    assert.equal(r.staleAfter, 0, JSON.stringify(r));
    assert.ok(r.serverStale > 100, JSON.stringify(r));
    assert.equal(r.unattributed + r.mismatched + r.missing, 0, JSON.stringify(r));
    assert.equal(r.writes, 400, 'one write every 50 ms for 20 s, each answered before stop() returned');
  });

  it('failed overwrites are counted and make no read stale', async () => {
    const clock = new VirtualClock();
    const d = new FakeDeployment(clock, 1);
    const watch = await prepared(clock, d);
    watch.start(clock.now());
    watch.markFault();
    d.failWrites = true;
    await clock.run(1000);
    const stopping = watch.stop();
    await clock.run(10);
    await stopping;
    const r = watch.result(undefined);
    assert.equal(r.failedWrites, 20);
    assert.equal(r.writes, 0);
    assert.equal(r.lastError, 'refused');
    assert.equal(r.staleAfter + r.serverStale, 0);
  });

  it('counts only the driver\'s flushes after the run started, and the last stale read by when it was sent', async () => {
    // A cache hit sent at x5 ms takes 9 ms, one sent at x0 ms 1 ms: the read sent last (at 1600 ms) comes back first.
    const clock = new VirtualClock();
    const d = new FakeDeployment(clock, 1, (nowMs) => (nowMs % 10 === 5 ? 9 : 1));
    const watch = new CacheWatch(d.cached, d.writer, watchKeyNames('k:'), 60, clock);
    d.flushes = { total: 4, recent: [{ ns: 1n, reason: 'connection' }] };
    const preparing = watch.prepare();
    await clock.run(100);
    await preparing;
    d.flushes = { total: 5, recent: [{ ns: 1n, reason: 'connection' }, { ns: 90_000_000n, reason: 'slots' }] }; // before the run started
    const sent: bigint[] = [];
    const get = d.cached.get.bind(d.cached);
    d.cached.get = (key) => {
      sent.push(clock.now());
      return get(key);
    };
    watch.start(100_000_000n);
    watch.markFault();
    d.cut = true; // every key rewritten within 600 ms, then every read is stale
    await clock.run(1500);
    d.flushes = { total: 6, recent: [...d.flushes.recent, { ns: 700_000_000n, reason: 'connection' }] };
    const stopping = watch.stop();
    await clock.run(20);
    await stopping;
    const r = watch.result(d.cached.cacheFlushes?.());
    assert.deepEqual(r.flushes, { count: 1, onConnection: 1, onSlotMap: 0, onServer: 0, atMs: [600] });
    // The last read sent (all are stale by then), whichever came back last; ms after the run started.
    assert.equal(r.lastStaleAtMs, Math.round(Number((sent.at(-1) as bigint) - 100_000_000n) / 1e6));
    assert.equal(r.serverStale + r.missing + r.mismatched + r.unattributed, 0);
  });

  it('reads that find nothing are missing; a stale value from the cache whose key the servers lost is theirs, not the cache\'s', async () => {
    const clock = new VirtualClock();
    const d = new FakeDeployment(clock);
    const watch = await prepared(clock, d);
    watch.start(clock.now());
    watch.markFault();
    d.cut = true;
    d.deleteOnWrite = true; // acknowledged, and the key gone: the cache still holds the old version
    await clock.run(1000);
    await watch.stop();
    const r = watch.result(undefined);
    assert.ok(r.serverStale > 50, JSON.stringify(r));
    assert.equal(r.staleAfter + r.missing, 0, JSON.stringify(r));
    const d2 = new FakeDeployment(clock);
    const w2 = new CacheWatch(d2.cached, d2.writer, watchKeyNames('k:'), 60, clock);
    await w2.prepare();
    w2.start(clock.now());
    w2.markFault();
    d2.deleteOnWrite = true; // the cache is told (not cut): the next read goes to the servers and finds nothing
    await clock.run(1000);
    await w2.stop();
    const r2 = w2.result(undefined);
    assert.ok(r2.missing > 50, JSON.stringify(r2));
    assert.equal(r2.staleAfter + r2.serverStale, 0, JSON.stringify(r2));
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
    assert.deepEqual(trackingPorts(list, '10.231.7.1', ['']), [40112, 40116]);
    assert.deepEqual(trackingPorts(list, '10.231.7.1', ['cachebench-A']), []);
    const named = list.replace(/ name= /g, ' name=cachebench-A ');
    assert.deepEqual(trackingPorts(named, '10.231.7.1', ['cachebench-A']), [40112, 40116]);
    assert.deepEqual(trackingPorts(named, '10.231.7.1', ['cachebench-AB']), []);
    assert.deepEqual(trackingPorts('', '10.231.7.1', ['cachebench-A']), []);
    // GLIDE's management connection (its own name) is its client's too.
    const glide = named.replace('id=5 addr=10.231.7.1:40116 laddr=10.231.7.2:6379 fd=10 name=cachebench-A', `id=5 addr=10.231.7.1:40116 laddr=10.231.7.2:6379 fd=10 name=${GLIDE_MANAGEMENT_NAME}`);
    assert.deepEqual(trackingPorts(glide, '10.231.7.1', ['cachebench-A']), [40112]);
    assert.deepEqual(trackingPorts(glide, '10.231.7.1', ['cachebench-A', GLIDE_MANAGEMENT_NAME]), [40112, 40116]);
  });
});
