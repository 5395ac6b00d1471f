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

describe('client caches across faults (REDIS_CLUSTER_NEARCACHE: node-redis with its cache)', () => {
  it('partition-client cuts the cache\'s connections to a primary: node-redis keeps serving the values it holds though the primary replaced them, for as long as the cut lasts', async () => {
    // The behaviour relied on: node-redis answers a cache hit before it looks at the connection (client/index.js
    // handleCache), and empties its cache only when a socket fails or closes, when a cluster reads its slot map again,
    // or when Sentinel names another master (client/cache.js onError/onClose, cluster-slots.js #discover). A connection
    // whose packets are silently dropped is none of these, and its invalidations never arrive.
    const { tmp, cwd } = sandbox('partition-client');
    const result = await runCli(['run', '--local', 'REDIS_CLUSTER_NEARCACHE', '--network', 'namespaces', '--out', join(cwd, 'results')],
      { cwd, env: { TMPDIR: tmp, ...LOAD, FAULT: 'partition-client', FAULT_DURATION: '3' }, timeoutMs: 120_000 });
    assert.equal(result.code, 0, result.stderr);
    const f = faultOf(docOf(result.stdout, cwd).results[0]);
    const c = f.cache;
    assert.ok(c, 'no cache outcome');
    const cut = f.events.find((ev) => /^cut the client's \d+ connections? with CLIENT TRACKING on/.test(ev.what));
    const healed = f.events.find((ev) => /^connections given back after/.test(ev.what));
    assert.ok(cut?.ok === true && healed !== undefined, JSON.stringify(f.events));
    assert.ok(c.staleAfter > 0, `no stale read from the cache: ${JSON.stringify(c)}`);
    // Every watched key is rewritten within 0.6 s of the cut: the oldest stale read is well over a second old.
    assert.ok((c.staleAgeMs?.max ?? 0) >= 1000, JSON.stringify(c));
    assert.ok((c.lastStaleAtMs ?? 0) >= cut.atMs && (c.lastStaleAtMs ?? 0) <= healed.atMs + 1000, JSON.stringify({ c, cut, healed }));
    // The driver did not empty its cache while cut: it never learned the connection was gone.
    assert.deepEqual(c.flushesAtMs?.filter((t) => t >= cut.atMs && t < healed.atMs), []);
    assert.equal(c.serverStale, 0);
    assert.equal(f.lostAckedWrites, 0);
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
      assert.ok(c.flushesAtMs?.some((t) => t >= kill.atMs && t <= kill.atMs + 1000), `${e.target.name}: no flush within a second of the kill: ${JSON.stringify(c.flushesAtMs)}`);
      // The cache served (Sentinel's master client consults it only under its default type mapping, as a cluster's nodes).
      assert.ok((c.hits ?? 0) > 100, `${e.target.name}: the cache served no reads: ${JSON.stringify(c)}`);
      assert.ok(c.readsAfter > 100, `${e.target.name}: the watched keys were not read on after the fault: ${JSON.stringify(c)}`);
    }
    assert.match(result.stdout, /The driver emptied its cache \d+ times? \(a connection failed or closed, or the slot map was read again\)/);
    assertNothingLeft(tmp);
  });
});
