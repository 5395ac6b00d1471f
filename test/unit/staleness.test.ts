import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { describe, it } from 'node:test';
import type { CacheClient } from '../../src/targets/client.js';
import { Overwriter, VersionedKey, judgeRead, versionOf } from '../../src/workload/overwriter.js';
import { Tally } from '../../src/workload/tally.js';
import { runSeedIteration, prepareIteration } from '../../src/workload/seed-loop.js';

function keyWithVersions(): VersionedKey {
  const base = randomFillSync(Buffer.alloc(64));
  base.fill(0, 0, 8);
  return new VersionedKey('k', base, 1_000n);
}

describe('judging a read against the acknowledged versions', () => {
  it('a version at least as new as the newest acknowledged one at issue is fresh; one sent but not yet acknowledged too', () => {
    const key = keyWithVersions();
    key.sent = 3;
    key.acked = 2;
    key.ackedAtNs[1] = 2_000n;
    key.ackedAtNs[2] = 3_000n;
    assert.deepEqual(judgeRead(key, key.valueOf(2), 2, 5_000n, false), { kind: 'fresh' });
    assert.deepEqual(judgeRead(key, key.valueOf(3), 2, 5_000n, false), { kind: 'fresh' });
  });
  it('an older version is stale, aged from when the first newer version was acknowledged', () => {
    const key = keyWithVersions();
    key.sent = 2;
    key.acked = 2;
    key.ackedAtNs[1] = 2_000n;
    key.ackedAtNs[2] = 3_000n;
    // Version 0 read at 5000 ns: version 1 had been acknowledged since 2000 ns.
    assert.deepEqual(judgeRead(key, key.valueOf(0), 2, 5_000n, false), { kind: 'stale', ageNs: 3_000 });
    assert.deepEqual(judgeRead(key, key.valueOf(1), 2, 5_000n, false), { kind: 'stale', ageNs: 2_000 });
    // The read was sent before version 2 was acknowledged: version 1 was the newest then, so it is fresh.
    assert.deepEqual(judgeRead(key, key.valueOf(1), 1, 2_500n, false), { kind: 'fresh' });
  });
  it('a failed overwrite has no acknowledgement time: the age runs from the next acknowledged version', () => {
    const key = keyWithVersions();
    key.sent = 2;
    key.acked = 2;
    key.ackedAtNs[2] = 4_000n; // version 1's SET failed
    assert.deepEqual(judgeRead(key, key.valueOf(0), 2, 5_000n, false), { kind: 'stale', ageNs: 1_000 });
  });
  it('other bytes, another length or a version never written are mismatched', () => {
    const key = keyWithVersions();
    const corrupt = key.valueOf(0);
    corrupt[40] = (corrupt[40] ?? 0) ^ 1;
    assert.deepEqual(judgeRead(key, corrupt, 0, 5_000n, false), { kind: 'mismatched' });
    assert.deepEqual(judgeRead(key, key.valueOf(0).subarray(0, 63), 0, 5_000n, false), { kind: 'mismatched' });
    assert.deepEqual(judgeRead(key, key.valueOf(7), 0, 5_000n, false), { kind: 'mismatched' });
  });
  it('nothing at all is missing on a primary, stale (aged from the write) on a replica', () => {
    const key = keyWithVersions();
    assert.deepEqual(judgeRead(key, null, 0, 5_000n, false), { kind: 'missing' });
    assert.deepEqual(judgeRead(key, null, 0, 5_000n, true), { kind: 'stale', ageNs: 4_000 });
  });
});

/** An in-memory store standing in for a server in these unit tests of the loop's own logic (integration tests use real servers). */
function memoryClient(delayMs = 0): CacheClient & { store: Map<string, Buffer>; sets: number } {
  const store = new Map<string, Buffer>();
  const wait = (): Promise<void> => new Promise((resolve) => (delayMs > 0 ? setTimeout(resolve, delayMs) : setImmediate(resolve)));
  const client = {
    store,
    sets: 0,
    async set(key: string, value: Buffer) {
      await wait();
      client.sets++;
      store.set(key, Buffer.from(value));
    },
    async get(key: string) {
      await wait();
      return store.get(key) ?? null;
    },
    async del(key: string) {
      await wait();
      store.delete(key);
    },
    async close() {},
  };
  return client;
}

describe('the overwriter', () => {
  it('overwrites only the key being followed, at about the set rate, with increasing versions, and settles before cleanup', async () => {
    const client = memoryClient(1);
    const overwriter = new Overwriter(client, 200, 60);
    const key = keyWithVersions();
    client.store.set('k', key.valueOf(0));
    overwriter.start();
    await new Promise((resolve) => setTimeout(resolve, 50)); // nothing followed: nothing written
    assert.equal(client.sets, 0);
    overwriter.follow(key);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await overwriter.stop();
    const stats = overwriter.stats();
    // 200/s for 0.3 s: about 60 due; one SET in flight at a time, each taking ≥ 1 ms.
    assert.ok(stats.due >= 30 && stats.due <= 70, `due ${stats.due}`);
    assert.equal(stats.sent, stats.acked);
    assert.ok(stats.sent >= 10, `sent ${stats.sent}`);
    assert.equal(key.acked, stats.acked);
    assert.equal(versionOf(client.store.get('k') as Buffer), key.acked);
    assert.ok(key.sameKey(client.store.get('k') as Buffer));
    for (let v = 1; v <= key.acked; v++) assert.ok((key.ackedAtNs[v] as bigint) >= (key.ackedAtNs[v - 1] as bigint));
  });

  it('with the seed loop: every read of a value no older than the acknowledged one is verified, none stale on a store that is always fresh', async () => {
    const client = memoryClient();
    const writer = memoryClient();
    // The writer writes into the same store: a coherent "server".
    writer.store.clear();
    const shared = client.store;
    const sharedWriter: CacheClient = { ...writer, set: async (k, v) => { await new Promise(setImmediate); shared.set(k, Buffer.from(v)); },
      close: async () => undefined };
    const overwriter = new Overwriter(sharedWriter, 5000, 60);
    overwriter.start();
    const plan = prepareIteration('t:', { READ_RATIO: 200, WRITE_COUNT: 3, PAYLOAD_BYTES: 32 }, 1, true);
    const tally = new Tally();
    const outcome = await runSeedIteration(client, plan, 200, 60, tally, undefined, () => false, { yieldToEventLoop: false, nullIsStale: false, overwriter });
    await overwriter.stop();
    assert.equal(outcome.state, 'completed');
    assert.ok(overwriter.stats().acked > 0, 'the writer wrote during the loop');
    assert.equal(tally.gets, 600);
    assert.equal(tally.verified, 600);
    assert.equal(tally.stale + tally.missing + tally.mismatched, 0);
  });

  it('with a reader that keeps serving the first value it saw (a cache never invalidated), stale reads are counted with growing ages', async () => {
    const server = memoryClient();
    const frozen = new Map<string, Buffer>();
    const reader: CacheClient = {
      ...server,
      async get(key) {
        await new Promise(setImmediate);
        const cached = frozen.get(key);
        if (cached !== undefined) return cached;
        const value = server.store.get(key) ?? null;
        if (value !== null) frozen.set(key, value);
        return value;
      },
    };
    const writer: CacheClient = { ...server, close: async () => undefined };
    const overwriter = new Overwriter(writer, 1000, 60);
    overwriter.start();
    const plan = prepareIteration('t:', { READ_RATIO: 400, WRITE_COUNT: 1, PAYLOAD_BYTES: 32 }, 1, true);
    const tally = new Tally();
    const ages: number[] = [];
    tally.staleAge = (ns) => ages.push(ns);
    await runSeedIteration(reader, plan, 400, 60, tally, undefined, () => false, { yieldToEventLoop: true, nullIsStale: false, overwriter });
    await overwriter.stop();
    assert.ok(overwriter.stats().acked > 0);
    assert.ok(tally.stale > 0, 'stale reads are counted, not hidden');
    assert.equal(tally.stale + tally.verified, 400);
    assert.equal(tally.mismatched + tally.missing, 0);
    assert.equal(ages.length, tally.stale);
    assert.ok((ages.at(-1) ?? 0) > (ages[0] ?? 0), 'a value never refreshed gets older');
  });
});
