import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  ClientClosedError, ClientOfflineError, ErrorReply, MaxCommandRedirectionsError, SocketClosedUnexpectedlyError, TimeoutError,
} from '@redis/client';
import type { RunControls, TargetConfig } from '../../src/config/resolve.js';
import { startLocal, type LocalDeployment } from '../../src/local/topologies.js';
import { ClusterRedirectError, ConnectionLostError, OpTimeoutError, TargetUnreachableError, type CacheClient } from '../../src/targets/client.js';
import { keySlot } from '../../src/targets/cluster-nodes.js';
import { ioredisDriver } from '../../src/targets/ioredis.js';
import { nodeRedisDriver, translateNodeRedisError } from '../../src/targets/node-redis.js';
import { resultsOf, runCli } from '../helpers/cli.js';
import { closeTimingOf } from '../helpers/close-child.js';
import { cluster, commandCount, connect, scanKeys, standalone, tempDir } from '../helpers/servers.js';
import { makeTestCa } from '../helpers/tls-certs.js';
import { startTlsRedis } from '../helpers/tls-redis.js';
import { targetConfig } from '../helpers/targets.js';

type Standalone = Awaited<ReturnType<typeof standalone>>;
type Cluster = Awaited<ReturnType<typeof cluster>>;

const out = tempDir('cachebench-node-redis-');
let single: Standalone;
let multi: Cluster;
let proxy: LocalDeployment;
let proxyAddress: string;

const CONTROLS = { opTimeoutMs: 1000, connectTimeoutMs: 2000 } as RunControls;
const NODE_REDIS_VERSION = (JSON.parse(readFileSync(new URL('../../../node_modules/@redis/client/package.json', import.meta.url), 'utf8')) as { version: string }).version;

before(async () => {
  [single, multi, proxy] = await Promise.all([standalone(), cluster(), startLocal(['TWEMPROXY'])]);
  proxyAddress = proxy.topologies[0]?.settings.TWEMPROXY_SERVERS ?? '';
});
after(async () => {
  await Promise.all([single?.stop(), multi?.stop(), proxy?.stop()]);
  out.remove();
});

function config(name: string, addresses: string, extra: Partial<TargetConfig> = {}): TargetConfig {
  return targetConfig(name, addresses.split(','), { client: 'node-redis', ...extra });
}

const yieldOnce = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` (yielding to the event loop, so pushed invalidations are read) until it holds or `ms` pass. */
async function eventually(check: () => Promise<boolean>, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await yieldOnce();
    await sleep(5);
  }
  return check();
}

/** SET `keys` fresh keys, GET each `reads` times; returns how many GETs did not return the bytes written. */
async function setAndRead(client: CacheClient, keys: number, reads: number): Promise<{ mismatched: number; keys: string[] }> {
  let mismatched = 0;
  const written: string[] = [];
  for (let k = 0; k < keys; k++) {
    const key = `cachebench:node-redis:${randomUUID()}`;
    const value = randomBytes(512);
    await client.set(key, value, 60);
    written.push(key);
    for (let r = 0; r < reads; r++) {
      const got = await client.get(key);
      // Bytes as a Buffer (a cache hit comes from node-redis as a Uint8Array copy), equal to those written.
      if (got === null || !Buffer.isBuffer(got) || !value.equals(got)) mismatched++;
    }
  }
  return { mismatched, keys: written };
}

/** The cluster node (port) serving a key's slot, asked of the cluster itself. */
async function ownerPort(key: string): Promise<number> {
  const admin = connect(multi.cluster.nodes[0]?.port ?? 0);
  try {
    const slots = (await admin.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    const slot = keySlot(key);
    const range = slots.find(([from, to]) => slot >= from && slot <= to);
    assert.ok(range, `no node serves slot ${slot}`);
    return range[2][1];
  } finally {
    admin.disconnect();
  }
}

/**
 * Waits until CLUSTER SLOTS lists a replica for every slot range. A fresh cluster's replicas appear there only once
 * their first sync is done, and node-redis reads the slot map when it connects: connected earlier, it has no replica.
 */
async function replicasListed(timeoutMs = 20_000): Promise<void> {
  const admin = connect(multi.cluster.nodes[0]?.port ?? 0);
  try {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const ranges = (await admin.call('CLUSTER', 'SLOTS')) as unknown[][];
      if (ranges.length > 0 && ranges.every((r) => r.length >= 4)) return;
      if (Date.now() > end) throw new Error(`CLUSTER SLOTS lists no replicas after ${timeoutMs} ms`);
      await sleep(100);
    }
  } finally {
    admin.disconnect();
  }
}

/** Ports of the cluster's replicas (ROLE answers "slave"). */
async function replicaPorts(): Promise<number[]> {
  const roles = await Promise.all(multi.cluster.nodes.map(async (n) => {
    const redis = connect(n.port);
    try {
      return [n.port, ((await redis.call('ROLE')) as [string])[0]] as const;
    } finally {
      redis.disconnect();
    }
  }));
  return roles.filter(([, role]) => role === 'slave').map(([port]) => port);
}

describe('the seed loop through the CLI with <NAME>_CLIENT=node-redis', () => {
  it('standalone, cluster and twemproxy, cache off and tracking: exit 0, every read verified, keys deleted, the cache hit rate is 99%', async () => {
    const result = await runCli(['run', '--out', out.dir, '--min-iterations', '2', '--max-iterations', '2', '--warmup-iterations', '1'], {
      env: {
        SOLO_SERVERS: single.address, SOLO_CLIENT: 'node-redis',
        CLU_SERVERS: multi.addresses, CLU_CLIENT: 'node-redis',
        TWEM_SERVERS: proxyAddress, TWEM_MODE: 'proxy', TWEM_CLIENT: 'node-redis',
        SOLOC_SERVERS: single.address, SOLOC_CLIENT: 'node-redis', SOLOC_CACHE: 'tracking',
        CLUC_SERVERS: multi.addresses, CLUC_CLIENT: 'node-redis', CLUC_CACHE: 'tracking',
        READ_RATIO: '100', WRITE_COUNT: '10', PAYLOAD_BYTES: '1000',
      },
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, result.stderr);
    const doc = resultsOf(result.stdout);
    assert.deepEqual(doc.environment.targets.map((t) => [t.name, t.mode, t.client, t.clientVersion, t.cache]).sort(), [
      ['CLU', 'cluster', 'node-redis', NODE_REDIS_VERSION, 'off'],
      ['CLUC', 'cluster', 'node-redis', NODE_REDIS_VERSION, 'tracking'],
      ['SOLO', 'standalone', 'node-redis', NODE_REDIS_VERSION, 'off'],
      ['SOLOC', 'standalone', 'node-redis', NODE_REDIS_VERSION, 'tracking'],
      ['TWEM', 'proxy', 'node-redis', NODE_REDIS_VERSION, 'off'],
    ]);
    assert.equal(doc.results.length, 5);
    for (const e of doc.results) {
      const name = e.target.name;
      assert.equal(e.state, 'completed', `${name}: ${e.error ?? ''}`);
      assert.ok(e.verification.reads >= 3 * 10 * 100, `${name}: ${e.verification.reads} reads`);
      assert.equal(e.verification.verified, e.verification.reads, name);
      assert.equal(e.verification.missing + e.verification.mismatched, 0, name);
      assert.deepEqual(e.errors, {}, name);
      assert.equal(e.undeletedKeys, 0, name);
      if (name.endsWith('C')) {
        // Per key: one miss, then 99 hits; the harness reads the counters through cacheCounters().
        const cache = e.cache;
        assert.ok(cache !== null, `${name}: no cache counters`);
        assert.equal(cache.lookups, e.verification.reads, `${name}: every GET looked in the cache`);
        assert.ok(Math.abs(cache.hits / cache.lookups - 0.99) <= 0.01, `${name}: hit rate ${cache.hits}/${cache.lookups}`);
      } else {
        assert.equal(e.cache, null, name);
      }
    }
    const left = (await Promise.all([single.server.port, ...multi.cluster.nodes.map((n) => n.port)].map((p) => scanKeys(p, 'cachebench:*')))).flat();
    assert.deepEqual(left, [], 'keys left behind');
  });
});

describe('the client-side cache (<NAME>_CACHE=tracking)', () => {
  for (const topology of ['standalone', 'cluster'] as const) {
    it(`${topology}: hit rate 99% from cacheCounters(), bytes exact; a SET by another connection invalidates the entry`, async () => {
      const addresses = topology === 'standalone' ? single.address : multi.addresses;
      const target = await nodeRedisDriver.connect(config('CACHED', addresses, { cache: 'tracking', cacheEntries: 1000 }), CONTROLS);
      const other = await ioredisDriver.connect(targetConfig('OTHER', addresses.split(',')), CONTROLS);
      try {
        assert.equal(target.info.cache, 'tracking');
        assert.equal(target.info.cacheEntries, 1000);
        const { mismatched, keys } = await setAndRead(target.client, 8, 100);
        assert.equal(mismatched, 0);
        const counters = await target.client.cacheCounters?.();
        assert.ok(counters !== undefined, 'no cacheCounters with the cache on');
        assert.equal(counters.lookups, 800);
        assert.equal(counters.hits + counters.misses, counters.lookups);
        assert.ok(Math.abs(counters.hits / counters.lookups - 0.99) <= 0.01, `hit rate ${counters.hits}/${counters.lookups}`);
        assert.equal(counters.evictions, 0);

        const key = keys[0] ?? '';
        const fresh = randomBytes(512);
        await other.client.set(key, fresh, 60);
        assert.ok(await eventually(async () => ((await target.client.cacheCounters?.())?.invalidations ?? 0) > (counters.invalidations ?? 0)), 'no invalidation arrived');
        assert.ok(fresh.equals((await target.client.get(key)) ?? Buffer.alloc(0)), 'the GET after the invalidation returned the old value');
        for (const k of keys) await target.client.del(k);
      } finally {
        await Promise.all([target.client.close(), other.client.close()]);
      }
    });
  }

  it('CACHE_ENTRIES bounds the cache (evictions counted); a flush counts as one invalidation, not as evictions', async () => {
    const target = await nodeRedisDriver.connect(config('SMALL', single.address, { cache: 'tracking', cacheEntries: 3 }), CONTROLS);
    const admin = connect(single.server.port);
    try {
      const { mismatched } = await setAndRead(target.client, 5, 2);
      assert.equal(mismatched, 0);
      const counters = await target.client.cacheCounters?.();
      // 5 keys through a 3-entry cache: 2 evicted; each key's second GET was a hit.
      assert.deepEqual({ ...counters, invalidations: 0 }, { lookups: 10, hits: 5, misses: 5, evictions: 2, invalidations: 0 });
      await admin.call('FLUSHDB');
      assert.ok(await eventually(async () => (await target.client.cacheCounters?.())?.invalidations === (counters?.invalidations ?? 0) + 1), 'the flush was not counted once');
      assert.equal((await target.client.cacheCounters?.())?.evictions, 2, 'the entries dropped by the flush were counted as evictions');
    } finally {
      admin.disconnect();
      await target.client.close();
    }
  });

  it('the counters survive a lost connection (node-redis resets its own), and the client reconnects by itself', async () => {
    const target = await nodeRedisDriver.connect(config('KILLED', single.address, { cache: 'tracking' }), CONTROLS);
    const admin = connect(single.server.port);
    try {
      const { keys } = await setAndRead(target.client, 2, 10);
      const before = await target.client.cacheCounters?.();
      assert.equal(before?.hits, 18);
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      // A SET needs the server (a GET could be a cache hit): refused while reconnecting (the shared form, never a raw
      // node-redis error), then served once the client has reconnected by itself.
      const fresh = randomBytes(64);
      const reconnected = await eventually(async () => {
        try {
          await target.client.set(keys[0] ?? '', fresh, 60);
          return true;
        } catch (error: unknown) {
          assert.ok(error instanceof ConnectionLostError, String(error));
          return false;
        }
      }, 3000);
      assert.ok(reconnected, 'no reconnect');
      // The entries went with the connection (invalidations may have been missed): the GET asks the server.
      assert.ok(fresh.equals((await target.client.get(keys[0] ?? '')) ?? Buffer.alloc(0)));
      const after = await target.client.cacheCounters?.();
      assert.ok((after?.hits ?? 0) >= 18 && (after?.lookups ?? 0) > (before?.lookups ?? 0), `counters went back: ${inspect(before)} -> ${inspect(after)}`);
      for (const k of keys) await target.client.del(k);
    } finally {
      admin.disconnect();
      await target.client.close();
    }
  });

  it('with the cache off there is no cacheCounters, and RESP2 is spoken (no HELLO)', async () => {
    const before = await commandCount(single.server.port, 'hello');
    const target = await nodeRedisDriver.connect(config('PLAIN', single.address), CONTROLS);
    try {
      assert.equal(target.client.cacheCounters, undefined);
      assert.equal(target.info.cache, 'off');
      assert.equal('cacheEntries' in target.info, false);
      assert.equal('capabilities' in target.info, false);
      await setAndRead(target.client, 1, 1).then(async ({ keys }) => target.client.del(keys[0] ?? ''));
    } finally {
      await target.client.close();
    }
    assert.equal(await commandCount(single.server.port, 'hello'), before, 'HELLO was sent with the cache off');
  });
});

describe('replica reads (<NAME>_READ_FROM=replica, cluster)', () => {
  it('GETs reach the replicas (cmdstat_get on replica nodes grows) and return the bytes written', async () => {
    const replicas = await replicaPorts();
    assert.equal(replicas.length, 3);
    await replicasListed();
    const getsBefore = await Promise.all(replicas.map((p) => commandCount(p, 'get')));
    const target = await nodeRedisDriver.connect(config('REPLICA', multi.addresses, { readFrom: 'replica' }), CONTROLS);
    try {
      assert.equal(target.info.readFrom, 'replica');
      const keys = Array.from({ length: 30 }, () => `cachebench:node-redis:${randomUUID()}`);
      const values = keys.map(() => randomBytes(256));
      for (const [i, key] of keys.entries()) await target.client.set(key, values[i] ?? Buffer.alloc(0), 60);
      // Replication is asynchronous: give the replicas a moment before reading from them.
      await sleep(200);
      for (const [i, key] of keys.entries()) {
        for (let r = 0; r < 4; r++) assert.ok(values[i]?.equals((await target.client.get(key)) ?? Buffer.alloc(0)), `wrong bytes for ${key}`);
      }
      const getsAfter = await Promise.all(replicas.map((p) => commandCount(p, 'get')));
      const onReplicas = getsAfter.reduce((a, b) => a + b, 0) - getsBefore.reduce((a, b) => a + b, 0);
      // node-redis sends a read to the slot's primary and replicas in turn (one replica each here): about half.
      assert.ok(onReplicas >= 0.3 * keys.length * 4, `only ${onReplicas} of ${keys.length * 4} GETs reached a replica`);
      for (const key of keys) await target.client.del(key);
    } finally {
      await target.client.close();
    }
  });
});

describe('failures', () => {
  it('a wrong password: TargetUnreachableError (exit 3 class) with the fix, and the password nowhere in it or its cause', async () => {
    const locked = await standalone({ requirepass: 'right-secret-42' });
    try {
      for (const extra of [{ password: 'wrong-secret-42' }, { password: 'wrong-secret-42', cache: 'tracking' as const }]) {
        const error = await nodeRedisDriver.connect(config('AUTH', locked.address, extra), CONTROLS).then(() => undefined, (e: unknown) => e);
        assert.ok(error instanceof TargetUnreachableError, String(error));
        assert.match(error.message, /^target AUTH: cannot use 127\.0\.0\.1:\d+: WRONGPASS .*\. Fix: check AUTH_PASSWORD/);
        assert.ok(!inspect(error, { depth: 10 }).includes('wrong-secret-42'), 'password in the error or its cause');
      }
      const target = await nodeRedisDriver.connect(config('AUTH', locked.address, { password: 'right-secret-42', cache: 'tracking' }), CONTROLS);
      try {
        const { mismatched, keys } = await setAndRead(target.client, 1, 3);
        assert.equal(mismatched, 0);
        await target.client.del(keys[0] ?? '');
      } finally {
        await target.client.close();
      }
    } finally {
      await locked.stop();
    }
  });

  it('a connection node-redis cannot set up (CLIENT TRACKING refused by ACL, after the probe passed): TargetUnreachableError naming the node, with the fix', async () => {
    // The probe (INFO, CLUSTER NODES) passes; node-redis's own handshake (HELLO 3 AUTH, CLIENT TRACKING ON) fails.
    const ports = [single.server.port, ...multi.cluster.nodes.map((n) => n.port)];
    const acl = async (...args: string[]): Promise<void> => {
      await Promise.all(ports.map(async (port) => {
        const admin = connect(port);
        try {
          await admin.call('ACL', ...args);
        } finally {
          admin.disconnect();
        }
      }));
    };
    await acl('SETUSER', 'nocsc', 'on', '>nocsc-secret-42', '~*', '+@all', '-client');
    try {
      for (const addresses of [single.address, multi.addresses]) {
        const error = await nodeRedisDriver.connect(config('NOCSC', addresses, { username: 'nocsc', password: 'nocsc-secret-42', cache: 'tracking' }), CONTROLS)
          .then(() => undefined, (e: unknown) => e);
        assert.ok(error instanceof TargetUnreachableError, String(error));
        assert.match(error.message, /^target NOCSC: cannot use 127\.0\.0\.1:\d+: NOPERM .*\. Fix: give the ACL user the commands/);
        assert.ok(ports.includes(Number(/127\.0\.0\.1:(\d+)/.exec(error.message)?.[1])), error.message);
        assert.ok(!inspect(error, { depth: 10 }).includes('nocsc-secret-42'), 'password in the error or its cause');
      }
    } finally {
      await acl('DELUSER', 'nocsc');
    }
  });

  // A server SIGKILLed mid-run through the CLI: in driver-errors.test.ts, for every driver.

  // The timeouts turn a hang (an op with no deadline) into a failure.
  it('a server that stops answering (SIGSTOP): SET, GET (cache on and off) and DEL reject with OpTimeoutError within OP_TIMEOUT_MS', { timeout: 20_000 }, async () => {
    const frozen = await standalone();
    const plain = await nodeRedisDriver.connect(config('FROZEN', frozen.address), CONTROLS);
    const cached = await nodeRedisDriver.connect(config('FROZEN', frozen.address, { cache: 'tracking' }), CONTROLS);
    const key = `cachebench:node-redis:${randomUUID()}`;
    try {
      await plain.client.set(key, Buffer.from('before'), 60);
      process.kill(frozen.server.process.pid, 'SIGSTOP');
      const ops: [string, () => Promise<unknown>][] = [
        ['SET', () => plain.client.set(key, Buffer.from('x'), 60)],
        ['GET', () => plain.client.get(key)],
        ['GET (cache miss)', () => cached.client.get(key)],
        ['DEL', () => plain.client.del(key)],
      ];
      for (const [name, op] of ops) {
        const started = performance.now();
        const error = await op().then(() => undefined, (e: unknown) => e);
        const ms = performance.now() - started;
        assert.ok(error instanceof OpTimeoutError, `${name}: ${String(error)}`);
        assert.equal(error.message, `no reply from ${frozen.address} within OP_TIMEOUT_MS=1000 ms`);
        assert.ok(ms >= 990 && ms < 1000 + 250, `${name} rejected after ${ms.toFixed(0)} ms`);
      }
    } finally {
      process.kill(frozen.server.process.pid, 'SIGCONT');
    }
    try {
      // The late replies go to the ops given up on, not to the next ones.
      assert.equal(String(await plain.client.get(key)), 'null');
      await plain.client.set(key, Buffer.from('after'), 60);
      assert.equal(String(await plain.client.get(key)), 'after');
      assert.equal(String(await cached.client.get(key)), 'after');
    } finally {
      await Promise.all([plain.client.close(), cached.client.close()]);
      await frozen.stop();
    }
  });

  it('a cluster primary that stops answering: the op rejects with OpTimeoutError naming that primary, then recovers', { timeout: 20_000 }, async () => {
    const target = await nodeRedisDriver.connect(config('CFROZEN', multi.addresses), CONTROLS);
    const key = `cachebench:node-redis:${randomUUID()}`;
    const port = await ownerPort(key);
    const node = multi.cluster.nodes.find((n) => n.port === port);
    assert.ok(node, `no node on port ${port}`);
    try {
      await target.client.set(key, Buffer.from('v1'), 60);
      process.kill(node.process.pid, 'SIGSTOP');
      try {
        const started = performance.now();
        const error = await target.client.get(key).then(() => undefined, (e: unknown) => e);
        const ms = performance.now() - started;
        assert.ok(error instanceof OpTimeoutError, String(error));
        assert.equal(error.server, `127.0.0.1:${port}`);
        assert.ok(ms < 1000 + 250, `rejected after ${ms.toFixed(0)} ms`);
      } finally {
        process.kill(node.process.pid, 'SIGCONT');
      }
      assert.equal(String(await target.client.get(key)), 'v1');
      await target.client.del(key);
    } finally {
      await target.client.close();
    }
  });

  it('node-redis errors become the shared classes naming the server; server replies pass unchanged (unit)', () => {
    const server = '127.0.0.1:26103';
    const lost = [new ClientOfflineError(), new ClientClosedError(), new SocketClosedUnexpectedlyError(), Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), new Error('connect ECONNREFUSED 127.0.0.1:26103')];
    for (const error of lost) {
      const translated = translateNodeRedisError(error, server, 500);
      assert.ok(translated instanceof ConnectionLostError, error.message);
      assert.equal(translated.message, `connection to ${server} lost`);
      assert.equal(translated.cause, error);
    }
    const late = translateNodeRedisError(new TimeoutError(), server, 500);
    assert.ok(late instanceof OpTimeoutError);
    assert.equal(late.message, `no reply from ${server} within OP_TIMEOUT_MS=500 ms`);
    const moved = translateNodeRedisError(new MaxCommandRedirectionsError(new ErrorReply('MOVED 3999 127.0.0.1:7001')), server, 500);
    assert.ok(moved instanceof ClusterRedirectError);
    assert.match(moved.message, /^too many cluster redirections \(MOVED\/ASK\) for an op on 127\.0\.0\.1:26103/);
    const oom = new ErrorReply('OOM command not allowed when used memory > \'maxmemory\'.');
    assert.equal(translateNodeRedisError(oom, server, 500), oom);
  });
});

describe('TLS with a private CA', () => {
  it('connects over TLS with <NAME>_TLS_CA, cache on, bytes exact', async () => {
    const tls = tempDir('cachebench-node-redis-tls-');
    const ca = await makeTestCa(tls.dir, 'ca');
    const server = await startTlsRedis({ dir: tls.dir, cert: await ca.issue('server', ['IP:127.0.0.1']), caFile: ca.cert });
    try {
      const target = await nodeRedisDriver.connect(config('TLSR', `127.0.0.1:${server.port}`, { tls: true, tlsCa: { file: ca.cert, pem: readFileSync(ca.cert) }, cache: 'tracking' }), CONTROLS);
      try {
        assert.equal(target.info.tls, true);
        const { mismatched, keys } = await setAndRead(target.client, 2, 5);
        assert.equal(mismatched, 0);
        assert.equal((await target.client.cacheCounters?.())?.hits, 8);
        for (const k of keys) await target.client.del(k);
      } finally {
        await target.client.close();
      }
    } finally {
      await server.process.stop();
      tls.remove();
    }
  });
});

/**
 * A child process that connects a target with the driver, writes a key, prints "connected", waits for a line on stdin,
 * closes the client and prints "closed <ms>". The test measures how long the process outlives that line: a timer or
 * socket left behind would keep it alive.
 */
const CLOSE_CHILD = `
import { nodeRedisDriver } from ${JSON.stringify(new URL('../../src/targets/node-redis.js', import.meta.url).href)};
const { addresses, extra } = JSON.parse(process.env.TARGET);
const servers = addresses.split(',').map((a) => { const c = a.lastIndexOf(':'); return { host: a.slice(0, c), port: Number(a.slice(c + 1)), tls: false, display: a }; });
const target = await nodeRedisDriver.connect({ name: 'X', servers, mode: 'auto', client: 'node-redis', cache: 'off', cacheEntries: 100, readFrom: 'primary', waitReplicas: 0, tls: false, sources: {}, ...extra }, { opTimeoutMs: 2000, connectTimeoutMs: 2000 });
await target.client.set('cachebench:node-redis:close', Buffer.from('x'), 10);
await target.client.get('cachebench:node-redis:close');
process.stdout.write('connected\\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.destroy();
const started = Date.now();
await target.client.close();
process.stdout.write('closed ' + (Date.now() - started) + '\\n');
`;

function closeTiming(addresses: string, extra: Partial<TargetConfig>, beforeClose: () => void | Promise<void>): Promise<{ closeMs: number; lingerMs: number }> {
  return closeTimingOf(CLOSE_CHILD, { TARGET: JSON.stringify({ addresses, extra }) }, beforeClose);
}

describe('closing a client', () => {
  it('healthy standalone, cluster (cache on, replica reads) and twemproxy: close is quick and the process ends at once', async () => {
    for (const [addresses, extra] of [
      [single.address, { cache: 'tracking' }],
      [multi.addresses, { cache: 'tracking', readFrom: 'replica' }],
      [proxyAddress, { mode: 'proxy' }],
    ] as const) {
      const { closeMs, lingerMs } = await closeTiming(addresses, extra, () => undefined);
      assert.ok(closeMs < 300 && lingerMs < 1000, `${addresses}: close ${closeMs} ms, then alive ${lingerMs} ms`);
    }
  });

  it('a frozen (SIGSTOP) server: close returns within QUIT_WAIT_MS and nothing keeps the process alive', { timeout: 20_000 }, async () => {
    const server = await standalone();
    try {
      const { closeMs, lingerMs } = await closeTiming(server.address, { cache: 'tracking' }, () => {
        process.kill(server.server.process.pid, 'SIGSTOP');
      });
      assert.ok(closeMs < 1000 && lingerMs < 1000, `close ${closeMs} ms, then alive ${lingerMs} ms`);
    } finally {
      process.kill(server.server.process.pid, 'SIGCONT');
      await server.stop();
    }
  });

  it('a dead (SIGKILL) server, the client reconnecting: close returns at once and nothing keeps the process alive', async () => {
    const server = await standalone();
    try {
      const { closeMs, lingerMs } = await closeTiming(server.address, {}, async () => {
        process.kill(server.server.process.pid, 'SIGKILL');
        await server.server.process.exited;
        await sleep(300);
      });
      assert.ok(closeMs < 300 && lingerMs < 1000, `close ${closeMs} ms, then alive ${lingerMs} ms`);
    } finally {
      await server.stop();
    }
  });
});
