import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { RunControls, TargetConfig } from '../../src/config/resolve.js';
import { startLocal, type LocalDeployment } from '../../src/local/topologies.js';
import { localCall } from '../../src/targets/admin.js';
import {
  CommandReplyError, OpTimeoutError, type CacheClient, type CommandReply, type ConnectedTarget, type Driver,
} from '../../src/targets/client.js';
import { keySlot, parseClusterNodes, primaryOfSlot } from '../../src/targets/cluster-nodes.js';
import { glideDriver } from '../../src/targets/glide.js';
import { ioredisDriver } from '../../src/targets/ioredis.js';
import { nodeRedisDriver } from '../../src/targets/node-redis.js';
import { encodeCommand, RespReader, type RespReply } from '../../src/targets/resp.js';
import { respDriver } from '../../src/targets/resp-driver.js';
import { clusterSettled } from '../helpers/glide-cluster.js';
import { cluster, commandCount, scanKeys, standalone } from '../helpers/servers.js';
import { TEST_CONTROLS, targetConfig } from '../helpers/targets.js';

/**
 * CacheClient.command() of every RESP driver against real servers: a standalone redis-server, a 3+3 Redis Cluster and
 * twemproxy (ioredis, node-redis, resp; GLIDE cannot use twemproxy), each started once for the file. Every reply is
 * compared with what the server sent, as bytes: the expected score text is read from the server on a plain socket.
 */

type Standalone = Awaited<ReturnType<typeof standalone>>;
type TestCluster = Awaited<ReturnType<typeof cluster>>;
type ClientName = 'ioredis' | 'node-redis' | 'glide' | 'resp';

const DRIVERS: Readonly<Record<ClientName, Driver>> = { ioredis: ioredisDriver, 'node-redis': nodeRedisDriver, glide: glideDriver, resp: respDriver };
const CLIENTS = Object.keys(DRIVERS) as ClientName[];
const B = (text: string): Buffer => Buffer.from(text);
/** Every byte value, CR LF and RESP's own type bytes among them. */
const BINARY = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
/**
 * A hash field's value with CR LF, NUL and high bytes in it, short enough (48 bytes, hash-max-listpack-value 64) to
 * keep the hash a listpack, whose HGETALL order is the insertion order: a hashtable's order depends on the server's
 * random hash seed, so it differs between servers (twemproxy's backends).
 */
const FIELD_VALUE = Buffer.concat([BINARY.subarray(0, 16), BINARY.subarray(224)]);

let single: Standalone;
let multi: TestCluster;
let proxy: LocalDeployment;
let proxyAddress: string;
/** How the server writes the score 0.1 in RESP2 (`%.17g` before Redis 7.2: 0.10000000000000001). */
let tenth: Buffer;

/** One command on a plain socket, read by the capability probe's reader (no driver involved). */
async function rawCall(port: number, ...args: string[]): Promise<RespReply> {
  const socket = connectTcp({ host: '127.0.0.1', port });
  const reader = new RespReader();
  try {
    return await new Promise<RespReply>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        reader.push(chunk);
        const reply = reader.next();
        if (reply !== undefined) resolve(reply);
      });
      socket.write(encodeCommand(args));
    });
  } finally {
    socket.destroy();
  }
}

before(async () => {
  [single, multi, proxy] = await Promise.all([standalone(), cluster(), startLocal(['TWEMPROXY'])]);
  proxyAddress = proxy.topologies[0]?.settings.TWEMPROXY_SERVERS ?? '';
  await clusterSettled(multi.cluster.nodes.map((n) => n.port), 3);
  const ref = `cachebench:cmdtest:ref:${randomUUID()}`;
  await rawCall(single.server.port, 'ZADD', ref, '0.1', 'x');
  const reply = await rawCall(single.server.port, 'ZSCORE', ref, 'x');
  await rawCall(single.server.port, 'DEL', ref);
  assert.equal(reply.type, 'bulk');
  tenth = reply.type === 'bulk' ? reply.value : B('');
});
after(async () => {
  await Promise.all([single?.stop(), multi?.stop(), proxy?.stop()]);
});

/** The keys of one run: a unique prefix, one hash tag per data type (tags chosen to land on all three primaries). */
function keysFor(prefix: string) {
  return {
    str: `${prefix}{s}str`, none: `${prefix}{s}none`, counter: `${prefix}{n}counter`, hash: `${prefix}{h}hash`, list: `${prefix}{l}list`,
    zset: `${prefix}{z}zset`, m1: `${prefix}{m}1`, m2: `${prefix}{m}2`, m3: `${prefix}{m}3`,
  };
}

async function withClient<T>(client: ClientName, addresses: readonly string[], extra: Partial<TargetConfig>, controls: RunControls,
  body: (target: ConnectedTarget) => Promise<T>): Promise<T> {
  const target = await DRIVERS[client].connect(targetConfig(client.toUpperCase().replace('-', '_'), addresses, { client, ...extra }), controls);
  try {
    return await body(target);
  } finally {
    await target.client.close();
  }
}

/** command() of a client, with the route given as (key, readOnly) first. */
function commander(client: CacheClient) {
  const command = client.command?.bind(client);
  assert.ok(command !== undefined, 'the driver has command()');
  return (key: string, readOnly: boolean, ...args: (string | Buffer)[]): Promise<CommandReply> => command(args, { key, readOnly });
}

/**
 * Writes and reads every data type through command(), checking each reply as the server sent it; RESP3 (a client-side
 * cache) differs in scores (doubles) and WITHSCORES (pairs). Returns the keys it left (all but the popped list's).
 */
async function exercise(client: CacheClient, prefix: string, resp3 = false): Promise<string[]> {
  const c = commander(client);
  const k = keysFor(prefix);
  assert.deepEqual(await c(k.str, false, 'SET', k.str, BINARY), B('OK'));
  assert.deepEqual(await c(k.str, true, 'GET', k.str), BINARY);
  assert.equal(await c(k.none, true, 'GET', k.none), null);
  assert.equal(await c(k.counter, false, 'INCR', k.counter), 1);
  assert.equal(await c(k.counter, false, 'INCRBY', k.counter, '41'), 42);
  assert.equal(await c(k.hash, false, 'HSET', k.hash, 'f1', 'v1', 'f2', FIELD_VALUE), 2);
  assert.deepEqual(await c(k.hash, true, 'HGETALL', k.hash), [B('f1'), B('v1'), B('f2'), FIELD_VALUE], 'HGETALL: flat, in the server\'s order');
  // Lower case: ioredis would turn `hgetall`'s reply into an object by its reply transformer.
  assert.deepEqual(await c(k.hash, true, 'hgetall', k.hash), [B('f1'), B('v1'), B('f2'), FIELD_VALUE], 'hgetall: flat too');
  assert.equal(await c(k.hash, true, 'HEXISTS', k.hash, 'f1'), 1, 'HEXISTS: the integer 1');
  assert.equal(await c(k.list, false, 'LPUSH', k.list, 'a', 'b', BINARY), 3);
  assert.deepEqual(await c(k.list, false, 'RPOP', k.list), B('a'));
  assert.equal(await c(k.zset, false, 'ZADD', k.zset, '1', 'a', '2.5', 'b', '0.1', 'c'), 3);
  const score = (text: string, n: number): CommandReply => (resp3 ? n : text === '0.1' ? tenth : B(text));
  const withScores = (...pairs: [string, string, number][]): CommandReply => (resp3
    ? pairs.map(([m, text, n]) => [B(m), score(text, n)])
    : pairs.flatMap(([m, text, n]) => [B(m), score(text, n)]));
  assert.deepEqual(await c(k.zset, true, 'ZREVRANGE', k.zset, '0', '-1', 'WITHSCORES'), withScores(['b', '2.5', 2.5], ['a', '1', 1], ['c', '0.1', 0.1]));
  assert.deepEqual(await c(k.zset, true, 'ZRANGE', k.zset, '0', '-1', 'WITHSCORES'), withScores(['c', '0.1', 0.1], ['a', '1', 1], ['b', '2.5', 2.5]));
  assert.deepEqual(await c(k.zset, true, 'zrange', k.zset, '1', '2', 'withscores'), withScores(['a', '1', 1], ['b', '2.5', 2.5]));
  assert.deepEqual(await c(k.zset, true, 'ZSCORE', k.zset, 'b'), score('2.5', 2.5));
  assert.deepEqual(await c(k.zset, true, 'ZSCORE', k.zset, 'c'), score('0.1', 0.1));
  assert.equal(await c(k.zset, true, 'ZSCORE', k.zset, 'nobody'), null);
  assert.deepEqual(await c(k.m1, false, 'SET', k.m1, 'one'), B('OK'));
  assert.deepEqual(await c(k.m2, false, 'SET', k.m2, BINARY), B('OK'));
  assert.deepEqual(await c(k.m1, true, 'MGET', k.m1, k.m2, k.m3), [B('one'), BINARY, null]);
  await assert.rejects(c(k.hash, true, 'GET', k.hash), (e: unknown) => e instanceof CommandReplyError && /^WRONGTYPE /.test(e.message)
    && e.name === 'CommandReplyError', 'an error reply: CommandReplyError with the server\'s text');
  await assert.rejects(c(k.str, false, 'INCR', k.str), (e: unknown) => e instanceof CommandReplyError && /^ERR value is not an integer/.test(e.message));
  assert.deepEqual(await c(k.str, true, 'GET', k.str), BINARY, 'the client still in step after the errors');
  return [k.str, k.counter, k.hash, k.list, k.zset, k.m1, k.m2];
}

/** Deletes `keys` through command() (each in its own slot's node) and checks that none is left on `ports`. */
async function removeKeys(client: CacheClient, keys: readonly string[], prefix: string, ports: readonly number[]): Promise<void> {
  const c = commander(client);
  for (const key of keys) assert.equal(await c(key, false, 'DEL', key), 1, key);
  assert.deepEqual((await Promise.all(ports.map((p) => scanKeys(p, `${prefix}*`)))).flat(), []);
}

describe('command() against a standalone server', () => {
  for (const client of CLIENTS) {
    it(`${client}: binary-safe strings, nil, integers, hashes, lists, sorted sets (scores as the server's text), MGET, WRONGTYPE`, async () => {
      await withClient(client, [single.address], {}, TEST_CONTROLS, async ({ client: c, info }) => {
        assert.equal(info.mode, 'standalone');
        const prefix = `cachebench:cmdtest:${randomUUID()}:`;
        await removeKeys(c, await exercise(c, prefix), prefix, [single.server.port]);
      });
    });
  }
});

/** The port of the test cluster's primary serving each key's slot. */
async function ownersOf(keys: readonly string[]): Promise<number[]> {
  const nodes = parseClusterNodes(String(await localCall(multi.cluster.nodes[0]?.port as number, 'CLUSTER', 'NODES')));
  return keys.map((key) => primaryOfSlot(nodes, keySlot(key))?.port ?? 0);
}

describe('command() against a Redis Cluster', () => {
  for (const client of CLIENTS) {
    it(`${client}: each command on its key's primary (keys on at least 2 primaries), MGET within one hash tag, WRONGTYPE`, async () => {
      await withClient(client, multi.addresses.split(','), {}, TEST_CONTROLS, async ({ client: c, info }) => {
        assert.equal(info.mode, 'cluster');
        const prefix = `cachebench:cmdtest:${randomUUID()}:`;
        const keys = await exercise(c, prefix);
        const owners = await ownersOf(keys);
        assert.ok(new Set(owners).size >= 2, `keys on primaries ${owners.join(', ')}`);
        // Each key is where its slot's primary keeps it: the commands went to the owners (or followed MOVED there).
        for (const [i, key] of keys.entries()) assert.deepEqual(await scanKeys(owners[i] as number, key), [key], key);
        await removeKeys(c, keys, prefix, multi.cluster.nodes.map((n) => n.port));
      });
    });
  }

  it('every driver follows MOVED: a key\'s slot moved to another primary under connected clients is still read and written there', async () => {
    const key = `cachebench:cmdtest:${randomUUID()}:{mv}moving`;
    const slot = keySlot(key);
    const targets = await Promise.all(CLIENTS.map((client) => DRIVERS[client].connect(targetConfig('MV', multi.addresses.split(','), { client }), TEST_CONTROLS)));
    try {
      const first = commander(targets[0]?.client as CacheClient);
      assert.deepEqual(await first(key, false, 'SET', key, 'x'), B('OK'));
      for (const t of targets) assert.deepEqual(await commander(t.client)(key, true, 'GET', key), B('x'));
      // The slot (and the key in it) moves to another primary: every client's slot map is now stale.
      const nodes = parseClusterNodes(String(await localCall(multi.cluster.nodes[0]?.port as number, 'CLUSTER', 'NODES')));
      const source = primaryOfSlot(nodes, slot);
      const dest = nodes.find((n) => n.primary && n.id !== source?.id);
      assert.ok(source !== undefined && dest !== undefined);
      await localCall(dest.port, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', source.id);
      await localCall(source.port, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', dest.id);
      await localCall(source.port, 'MIGRATE', '127.0.0.1', String(dest.port), key, '0', '5000');
      for (const n of nodes.filter((x) => x.primary)) await localCall(n.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', dest.id);
      for (const [i, t] of targets.entries()) {
        const command = commander(t.client);
        assert.equal(await command(key, false, 'APPEND', key, '+'), 2 + i, CLIENTS[i]);
        assert.deepEqual(await command(key, true, 'GET', key), B(`x${'+'.repeat(i + 1)}`), CLIENTS[i]);
      }
      assert.deepEqual(await scanKeys(dest.port, key), [key], 'the key is on the node the slot moved to');
      assert.deepEqual(await scanKeys(source.port, key), []);
      assert.equal(await first(key, false, 'DEL', key), 1);
    } finally {
      await Promise.all(targets.map((t) => t.client.close()));
    }
  });
});

/**
 * transaction(): MULTI, the commands and EXEC as one unit on the connection. Checked: every reply as the server sent
 * it (bytes, nil, integers, a flat HGETALL); that no other command of the same client lands inside (were one queued,
 * it would be answered QUEUED, not OK, and the transaction's GET would read another write); an error inside fails it.
 */
async function exerciseTransaction(client: CacheClient, prefix: string): Promise<string[]> {
  const tx = client.transaction?.bind(client);
  assert.ok(tx !== undefined, 'the driver has transaction()');
  const c = commander(client);
  const [str, hash, none] = [`${prefix}{t}str`, `${prefix}{t}hash`, `${prefix}{t}none`];
  const replies = await tx([['SET', str, BINARY, 'EX', '60'], ['GET', str], ['HSET', hash, 'f1', FIELD_VALUE], ['HGETALL', hash], ['MGET', str, none], ['INCR', none],
    ['TTL', str]], { key: str });
  assert.deepEqual(replies, [B('OK'), BINARY, 1, [B('f1'), FIELD_VALUE], [BINARY, null], 1, 60]);
  // 100 transactions, each writing and reading its own value, among 100 plain SETs of the same key on the same client.
  const concurrent = await Promise.all(Array.from({ length: 100 }, (_, i) => Promise.all([
    tx([['SET', str, `tx${i}`], ['GET', str]], { key: str }),
    c(str, false, 'SET', str, `plain${i}`),
  ])));
  for (const [i, [inTx, plain]] of concurrent.entries()) {
    assert.deepEqual(inTx, [B('OK'), B(`tx${i}`)], `transaction ${i}`);
    assert.deepEqual(plain, B('OK'), `plain SET ${i}`);
  }
  await assert.rejects(tx([['SET', none, 'x'], ['HGETALL', none]], { key: none }), (e: unknown) => e instanceof CommandReplyError && /WRONGTYPE/.test(e.message));
  assert.deepEqual(await c(none, true, 'GET', none), B('x'), 'a transaction runs whole even when one of its commands fails; the client still in step');
  return [str, hash, none];
}

describe('transaction() of every RESP driver', () => {
  for (const client of CLIENTS) {
    for (const topology of ['standalone', 'cluster'] as const) {
      it(`${client}, ${topology}: MULTI … EXEC replies as the server sent them, nothing else inside, an error reply fails it`, async () => {
        const addresses = topology === 'standalone' ? [single.address] : multi.addresses.split(',');
        await withClient(client, addresses, {}, TEST_CONTROLS, async ({ client: c }) => {
          const prefix = `cachebench:cmdtest:${randomUUID()}:`;
          const keys = await exerciseTransaction(c, prefix);
          const ports = topology === 'standalone' ? [single.server.port] : multi.cluster.nodes.map((n) => n.port);
          if (topology === 'cluster') {
            const [owner] = await ownersOf(keys.slice(0, 1));
            for (const key of keys) assert.deepEqual(await scanKeys(owner as number, key), [key], `${key} on its slot's primary`);
          }
          await removeKeys(c, keys, prefix, ports);
        });
      });
    }
  }
});

describe('command() through twemproxy (proxy mode)', () => {
  for (const client of CLIENTS.filter((name) => name !== 'glide')) {
    it(`${client}: the same replies as from the servers behind it`, async () => {
      await withClient(client, [proxyAddress], { mode: 'proxy' }, TEST_CONTROLS, async ({ client: c, info }) => {
        assert.equal(info.mode, 'proxy');
        const prefix = `cachebench:cmdtest:${randomUUID()}:`;
        await removeKeys(c, await exercise(c, prefix), prefix, (proxy.topologies[0]?.servers ?? []).map((s) => s.port));
      });
    });
  }
});

describe('command() with the client-side cache on (<NAME>_CACHE=tracking, RESP3)', () => {
  for (const client of ['node-redis', 'glide'] as const) {
    for (const topology of ['standalone', 'cluster'] as const) {
      it(`${client}, ${topology}: RESP3 replies (doubles, pairs), every read served by the server, the cache neither asked nor filled`, async () => {
        const addresses = topology === 'standalone' ? [single.address] : multi.addresses.split(',');
        await withClient(client, addresses, { cache: 'tracking' }, TEST_CONTROLS, async ({ client: c }) => {
          const prefix = `cachebench:cmdtest:${randomUUID()}:`;
          const counters = c.cacheCounters?.bind(c);
          assert.ok(counters !== undefined);
          const ports = topology === 'standalone' ? [single.server.port] : multi.cluster.nodes.map((n) => n.port);
          const calls = async (name: string): Promise<number> => (await Promise.all(ports.map((p) => commandCount(p, name)))).reduce((a, b) => a + b, 0);
          const [lookups, gets, hgetalls] = [(await counters()).lookups, await calls('get'), await calls('hgetall')];
          const keys = await exercise(c, prefix, true);
          const command = commander(c);
          const k = keysFor(prefix);
          // Read again after another client's write: a reply the cache kept would be the old one.
          const [owner] = topology === 'standalone' ? [single.server.port] : await ownersOf([k.hash]);
          for (const v of ['v2', 'v3']) {
            await rawCall(owner as number, 'HSET', k.hash, 'f1', v);
            assert.deepEqual(await command(k.hash, true, 'HGETALL', k.hash), [B('f1'), B(v), B('f2'), FIELD_VALUE]);
          }
          assert.equal((await counters()).lookups, lookups, 'command() never looked in the cache');
          // exercise: 4 GETs (the WRONGTYPE one included) and 2 HGETALLs, then 2 more HGETALLs, all answered by the servers.
          assert.equal(await calls('get') - gets, 4);
          assert.equal(await calls('hgetall') - hgetalls, 4);
          await removeKeys(c, keys, prefix, ports);
        });
      });
    }
  }
});

describe('command() on a frozen server (SIGSTOP)', () => {
  it('every driver rejects with OpTimeoutError after OP_TIMEOUT_MS, and answers again once the server is back', async () => {
    const controls = { ...TEST_CONTROLS, opTimeoutMs: 300 };
    const targets = await Promise.all(CLIENTS.map((client) => DRIVERS[client].connect(targetConfig('FROZEN', [single.address], { client }), controls)));
    const pid = single.server.process.pid as number;
    const key = `cachebench:cmdtest:${randomUUID()}:frozen`;
    try {
      for (const t of targets) assert.equal(await commander(t.client)(key, false, 'INCR', key) as number > 0, true);
      process.kill(pid, 'SIGSTOP');
      let frozenMs = 0;
      try {
        await waitStopped(pid);
        const started = Date.now();
        const failures = await Promise.all(targets.map((t) => commander(t.client)(key, true, 'GET', key).then(() => undefined, (e: unknown) => e)));
        frozenMs = Date.now() - started;
        failures.forEach((e, i) => assert.ok(e instanceof OpTimeoutError, `${CLIENTS[i]}: ${String(e)}`));
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      assert.ok(frozenMs >= 250 && frozenMs < 2000, `the commands failed after ${frozenMs} ms`);
      for (const t of targets) assert.deepEqual(await commander(t.client)(key, true, 'GET', key), B(String(CLIENTS.length)));
    } finally {
      await localCall(single.server.port, 'DEL', key);
      await Promise.all(targets.map((t) => t.client.close()));
    }
  });
});

/** Waits until a SIGSTOPped process is stopped (state T in /proc/<pid>/stat). */
async function waitStopped(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}
