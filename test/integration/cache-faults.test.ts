import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { assertNothingLeft, docOf, FAULT_LOAD, faultOf, sandbox as sandboxIn } from '../helpers/local.js';
import { tempDir } from '../helpers/servers.js';

/*
 * A client-side cache (node-redis, RESP3 CLIENT TRACKING) across faults on a real local cluster: the cache watch's keys
 * read through the cache while another connection rewrites them. Judged on counts and on times in whole seconds.
 */

const root = tempDir('cachebench-cachefaulttest-');
after(() => root.remove());
const sandbox = (name: string): { tmp: string; cwd: string } => sandboxIn(root.dir, name);
const LOAD = { ...FAULT_LOAD, READ_RATIO: '1', FAULT_AT: '2', DURATION: '7', OP_TIMEOUT_MS: '1000' };

describe('client caches across faults (node-redis and GLIDE with their caches)', () => {
  it('partition-client cuts the cache\'s connections to a primary: node-redis keeps serving the values it holds though the primary replaced them, for as long as the cut lasts; GLIDE does not', async () => {
    // The behaviour relied on. node-redis: it answers a cache hit before it looks at the connection (client/index.js
    // handleCache), tracks keys on the connection that read them (CLIENT TRACKING ON, default mode), and empties its
    // cache only when a socket fails or closes, when a cluster reads its slot map again, or when Sentinel names another
    // master (client/cache.js onError/onClose, cluster-slots.js #discover): a connection whose packets are silently
    // dropped is none of these, and its invalidations never arrive. GLIDE: CLIENT TRACKING ON BCAST on two connections
    // to every node, replicas included (redis-rs aio/mod.rs setup_connection), so a replica that applies the write tells
    // it; its next read of the key misses the cache and waits on the cut primary.
    const { tmp, cwd } = sandbox('partition-client');
    const result = await runCli(['run', '--local', 'REDIS_CLUSTER_NEARCACHE,REDIS_CLUSTER_GLIDE_NEARCACHE', '--network', 'namespaces', '--out', join(cwd, 'results')],
      { cwd, env: { TMPDIR: tmp, ...LOAD, FAULT: 'partition-client', FAULT_DURATION: '3' }, timeoutMs: 150_000 });
    assert.equal(result.code, 0, result.stderr);
    const doc = docOf(result.stdout, cwd);
    const outcome = (name: string): { f: ReturnType<typeof faultOf>; c: NonNullable<ReturnType<typeof faultOf>['cache']>; cut: string; cutAt: number; healedAt: number } => {
      const f = faultOf(doc.results.find((e) => e.target.name === name));
      assert.ok(f.cache, `${name}: no cache outcome`);
      // Only this target's connections, by their CLIENT SETNAME: the other target's client on the same servers is not cut.
      const cut = f.events.find((ev) => /^cut the client's \d+ connections? with CLIENT TRACKING on/.test(ev.what));
      const healed = f.events.find((ev) => /^connections given back after/.test(ev.what));
      assert.ok(cut?.ok === true && healed !== undefined, `${name}: ${JSON.stringify(f.events)}`);
      return { f, c: f.cache, cut: cut.what, cutAt: cut.atMs, healedAt: healed.atMs };
    };
    const node = outcome('REDIS_CLUSTER_NEARCACHE');
    assert.match(node.cut, /^cut the client's 1 connection with CLIENT TRACKING on/);
    assert.ok(node.c.staleAfter > 0, `no stale read from the cache: ${JSON.stringify(node.c)}`);
    // Every watched key is rewritten within 0.6 s of the cut: the oldest stale read is well over a second old.
    assert.ok((node.c.staleAgeMs?.max ?? 0) >= 1000, JSON.stringify(node.c));
    assert.ok((node.c.lastStaleAtMs ?? 0) >= node.cutAt && (node.c.lastStaleAtMs ?? 0) <= node.healedAt + 1000, JSON.stringify(node));
    // The driver did not empty its cache while cut: it never learned the connection was gone.
    assert.deepEqual(node.c.flushes?.atMs.filter((t) => t >= node.cutAt && t < node.healedAt), []);
    assert.equal(node.c.serverStale, 0);
    assert.equal(node.f.lostAckedWrites, 0);
    const glide = outcome('REDIS_CLUSTER_GLIDE_NEARCACHE');
    // No value served long after it was replaced (a read racing an invalidation may be a few ms old), and the reads of
    // the cut primary's keys failed instead (misses sent to it); GLIDE does not say when it empties its cache.
    assert.ok((glide.c.staleAgeMs?.max ?? 0) < 1000, JSON.stringify(glide.c));
    assert.ok(glide.c.failedReads > 0, JSON.stringify(glide.c));
    assert.equal(glide.c.flushes, null);
    assert.match(result.stdout, /REDIS_CLUSTER_NEARCACHE cache \(node-redis\): .* After the fault, \d+ of \d+ reads returned a value the servers had replaced/);
    assertNothingLeft(tmp);
  });

  it('kill-primary on the cluster and on Sentinel: node-redis empties its cache when the connection fails, so it has nothing stale left to serve', async () => {
    const { tmp, cwd } = sandbox('kill-primary');
    const result = await runCli(['run', '--local', 'REDIS_CLUSTER_NEARCACHE,REDIS_SENTINEL_NEARCACHE', '--cluster-node-timeout', '2000', '--out', join(cwd, 'results')],
      { cwd, env: { TMPDIR: tmp, ...LOAD, DURATION: '10', FAULT: 'kill-primary' }, timeoutMs: 150_000 });
    assert.equal(result.code, 0, result.stderr);
    const doc = docOf(result.stdout, cwd);
    assert.deepEqual(doc.results.map((e) => e.target.name).sort(), ['REDIS_CLUSTER_NEARCACHE', 'REDIS_SENTINEL_NEARCACHE']);
    for (const e of doc.results) {
      const f = faultOf(e);
      const c = f.cache;
      assert.ok(c, `${e.target.name}: no cache outcome`);
      const kill = f.events.find((ev) => /^SIGKILL redis-server/.test(ev.what));
      assert.ok(kill, JSON.stringify(f.events));
      assert.ok((c.flushes?.onConnection ?? 0) > 0 && c.flushes?.atMs.some((t) => t >= kill.atMs && t <= kill.atMs + 1000),
        `${e.target.name}: no flush on the lost connection within a second of the kill: ${JSON.stringify(c.flushes)}`);
      // The cache served (Sentinel's master client consults it only under its default type mapping, as a cluster's nodes).
      assert.ok((c.hits ?? 0) > 100, `${e.target.name}: the cache served no reads: ${JSON.stringify(c)}`);
      assert.ok(c.readsAfter > 100, `${e.target.name}: the watched keys were not read on after the fault: ${JSON.stringify(c)}`);
    }
    assert.match(result.stdout, /The driver emptied its cache \d+ times? \(\d+ on a connection that failed or closed/);
    assertNothingLeft(tmp);
  });
});
