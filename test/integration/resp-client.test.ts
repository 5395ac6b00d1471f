import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CacheClient } from '../../src/targets/client.js';
import { ClusterRedirectError, OpTimeoutError } from '../../src/targets/client.js';
import { localCall } from '../../src/targets/admin.js';
import { keySlot, parseClusterNodes, primaryOfSlot } from '../../src/targets/cluster-nodes.js';
import { respDriver, RespReplyError } from '../../src/targets/resp-driver.js';
import { RespConnection } from '../../src/targets/resp-connection.js';
import { RespRouter, redirectOf } from '../../src/targets/resp-router.js';
import { WireError } from '../../src/targets/resp-wire.js';
import { ConnectionLostError } from '../../src/targets/client.js';
import type { ResultsDocument } from '../../src/report/document.js';
import { runCli } from '../helpers/cli.js';
import { TEST_CONTROLS, targetConfig } from '../helpers/targets.js';
import { attackHarnessKeys, cluster, commandCount, connect, connectionsReceived, scanKeys, standalone, tempDir } from '../helpers/servers.js';

/** Calls and rejected calls (MOVED/ASK answers) of a command in INFO commandstats. */
async function commandStats(port: number, command: string): Promise<{ calls: number; rejected: number }> {
  const redis = connect(port);
  try {
    const line = new RegExp(`cmdstat_${command}:calls=(\\d+).*?rejected_calls=(\\d+)`).exec(await redis.info('commandstats'));
    return { calls: Number(line?.[1] ?? 0), rejected: Number(line?.[2] ?? 0) };
  } finally {
    redis.disconnect();
  }
}

/** Waits until a SIGSTOPped process is stopped (state T). */
async function stopped(pid: number): Promise<void> {
  for (let i = 0; i < 100 && !/^\S+ \S+ T/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^\d+ \(.*\) /s, '0 x ')); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the own RESP client (<NAME>_CLIENT=resp) against a standalone server', () => {
  let server: Awaited<ReturnType<typeof standalone>>;
  let client: CacheClient;
  before(async () => {
    server = await standalone();
    client = (await respDriver.connect(targetConfig('R', [server.address], { client: 'resp' }), { ...TEST_CONTROLS, opTimeoutMs: 300 })).client;
  });
  after(async () => {
    await client.close();
    await server.stop();
  });

  it('stores and reads back raw bytes exactly (empty, CRLF and RESP words inside, 20 KB, 4 MiB), 300 ops in flight at once, each counted once by the server', async () => {
    const setsBefore = await commandCount(server.server.port, 'set');
    for (const size of [0, 1, 20_000, 4 * 1024 * 1024]) {
      const v = randomBytes(size);
      await client.set(`cachebench:size:${size}`, v, 60);
      assert.ok((await client.get(`cachebench:size:${size}`))?.equals(v), `${size} bytes`);
    }
    const tricky = Array.from({ length: 300 }, (_, i) => Buffer.concat([Buffer.from('\r\n$5\r\n+OK\r\n-ERR x\r\n*3\r\n:1\r\n'), randomBytes(i * 67)]));
    await Promise.all(tricky.map((v, i) => client.set(`cachebench:p:${i}`, v, 60)));
    const back = await Promise.all(tricky.map((_, i) => client.get(`cachebench:p:${i}`)));
    back.forEach((b, i) => assert.ok(b?.equals(tricky[i] as Buffer), `pipelined value ${i}`));
    assert.equal(await commandCount(server.server.port, 'set') - setsBefore, 4 + 300, 'every SET sent exactly once');
    assert.equal(await client.get('cachebench:never-written'), null);
    await Promise.all(tricky.map((_, i) => client.del(`cachebench:p:${i}`)));
    assert.deepEqual(await scanKeys(server.server.port, 'cachebench:p:*'), []);
    // A server's error reply fails that op with the server's words; the connection goes on serving.
    await localCall(server.server.port, 'LPUSH', 'cachebench:list', 'x');
    await assert.rejects(client.get('cachebench:list'), (e: unknown) => e instanceof RespReplyError && /^WRONGTYPE/.test(e.message));
    assert.equal((await client.get('cachebench:size:1'))?.length, 1);
  });

  it('get() hands out values of its own (later reads into the reused read buffer leave them as they were); read() looks at a value where it lies, and a look that throws fails its op only', async () => {
    const a = randomBytes(20_000);
    const b = randomBytes(20_000);
    await client.set('cachebench:own:a', a, 60);
    await client.set('cachebench:own:b', b, 60);
    const got = await client.get('cachebench:own:a');
    await Promise.all(Array.from({ length: 50 }, () => client.get('cachebench:own:b')));
    assert.ok(got?.equals(a), 'a value from get() changed under its holder');
    const read = client.read?.bind(client);
    assert.ok(read !== undefined, 'the resp client reads in place');
    assert.equal(await read('cachebench:own:a', (v) => v?.equals(a)), true);
    assert.equal(await read('cachebench:own:b', (v) => v?.equals(a)), false);
    assert.equal(await read('cachebench:own:none', (v) => v), null);
    // A look that returns the value itself gets a copy of its own: later reads leave it as it was.
    const kept = await read('cachebench:own:a', (v) => v);
    await Promise.all(Array.from({ length: 20 }, () => client.get('cachebench:own:b')));
    assert.ok(kept?.equals(a), 'a value returned by a look changed under its holder');
    await assert.rejects(read('cachebench:own:a', () => {
      throw new Error('look failed');
    }), /look failed/);
    await assert.rejects(read('cachebench:list', (v) => v), (e: unknown) => e instanceof RespReplyError && /^WRONGTYPE/.test(e.message));
    assert.ok((await client.get('cachebench:own:a'))?.equals(a), 'the connection is still in step');
  });

  it('gives up ops at OP_TIMEOUT_MS on a frozen server (SIGSTOP) and, once it is back, reads their late replies away on the same connection', async () => {
    const pid = server.server.process.pid as number;
    await client.set('cachebench:frozen:a', Buffer.from('A'), 60);
    await client.set('cachebench:frozen:b', Buffer.from('B'), 60);
    const connections = await connectionsReceived(server.server.port);
    process.kill(pid, 'SIGSTOP');
    try {
      await stopped(pid);
      const started = Date.now();
      await Promise.all(Array.from({ length: 50 }, () => assert.rejects(client.get('cachebench:frozen:a'), (e: unknown) => e instanceof OpTimeoutError)));
      // OP_TIMEOUT_MS is 300: one sweep fails them all, on time (a timer per op is not needed for that).
      assert.ok(Date.now() - started >= 290 && Date.now() - started < 900, `took ${Date.now() - started} ms`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The 50 late replies (A) come first on the same connection: they must not be taken for these gets'.
    assert.deepEqual(await client.get('cachebench:frozen:b'), Buffer.from('B'));
    assert.deepEqual(await client.get('cachebench:frozen:a'), Buffer.from('A'));
    assert.equal(await connectionsReceived(server.server.port), connections + 1, 'no new connection but this check\'s own');
  });
});

describe('the own RESP client on a Redis Cluster', () => {
  let c: Awaited<ReturnType<typeof cluster>>;
  before(async () => {
    c = await cluster();
  });
  after(async () => {
    await c.stop();
  });

  it('routes by slot to the three primaries, follows ASK during a slot migration (ASKING first) and MOVED after it, and learns the slot\'s new node', async () => {
    const client = (await respDriver.connect(targetConfig('C', c.addresses.split(','), { client: 'resp' }), TEST_CONTROLS)).client;
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `cachebench:spread:${i}`);
      await Promise.all(keys.map((k) => client.set(k, Buffer.from(k), 60)));
      const primaries = c.cluster.nodes.slice(0, 3);
      const perNode = await Promise.all(primaries.map(async (n) => (await scanKeys(n.port, 'cachebench:spread:*')).length));
      assert.equal(perNode.reduce((a, b) => a + b, 0), 60);
      assert.ok(perNode.every((n) => n > 5), `keys per primary ${perNode.join(', ')}`);

      const key = 'cachebench:moving';
      const slot = keySlot(key);
      const nodes = parseClusterNodes(await localCall(primaries[0]?.port as number, 'CLUSTER', 'NODES') as string);
      const source = primaryOfSlot(nodes, slot);
      const dest = nodes.find((n) => n.primary && n.id !== source?.id);
      assert.ok(source !== undefined && dest !== undefined);
      await client.set(key, Buffer.from('moved value'), 60);
      // Migration under way: the key already on the importing node, the slot still the source's.
      await localCall(dest.port, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', source.id);
      await localCall(source.port, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', dest.id);
      await localCall(source.port, 'MIGRATE', '127.0.0.1', String(dest.port), key, '0', '5000');
      const asking = (await commandStats(dest.port, 'asking')).calls;
      assert.deepEqual(await client.get(key), Buffer.from('moved value'));
      assert.equal((await commandStats(dest.port, 'asking')).calls, asking + 1, 'ASKING went to the importing node');
      // Migration done: every node says the slot is the destination's. The source answers MOVED once; then the map knows.
      for (const n of nodes.filter((x) => x.primary)) await localCall(n.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', dest.id);
      const rejected = (await commandStats(source.port, 'get')).rejected;
      assert.deepEqual(await client.get(key), Buffer.from('moved value'));
      assert.equal((await commandStats(source.port, 'get')).rejected, rejected + 1, 'one MOVED');
      const gets = (await commandStats(dest.port, 'get')).calls;
      assert.deepEqual(await client.get(key), Buffer.from('moved value'));
      assert.equal((await commandStats(source.port, 'get')).rejected, rejected + 1, 'no second MOVED: the slot map learned');
      assert.equal((await commandStats(dest.port, 'get')).calls, gets + 1);
      await Promise.all([...keys, key].map((k) => client.del(k)));
    } finally {
      await client.close();
    }
  });

  it('two nodes that point at each other for a slot: the op fails with too many redirections after 16 hops, not forever', async () => {
    const client = (await respDriver.connect(targetConfig('C', c.addresses.split(','), { client: 'resp' }), TEST_CONTROLS)).client;
    const key = 'cachebench:loop';
    const slot = keySlot(key);
    const nodes = parseClusterNodes(await localCall(c.cluster.nodes[0]?.port as number, 'CLUSTER', 'NODES') as string);
    const source = primaryOfSlot(nodes, slot);
    const dest = nodes.find((n) => n.primary && n.id !== source?.id);
    assert.ok(source !== undefined && dest !== undefined);
    try {
      // The destination thinks the source has the slot; the source thinks the destination has it.
      await localCall(source.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', dest.id);
      const moved = (await commandStats(dest.port, 'get')).rejected + (await commandStats(source.port, 'get')).rejected;
      await assert.rejects(client.get(key), (e: unknown) => e instanceof ClusterRedirectError);
      const after = (await commandStats(dest.port, 'get')).rejected + (await commandStats(source.port, 'get')).rejected;
      assert.equal(after - moved, 17, 'the first try and 16 redirections');
    } finally {
      await localCall(source.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', source.id);
      await client.close();
    }
  });
});

describe('the own RESP client through the CLI', () => {
  const root = tempDir('cachebench-resp-');
  after(() => root.remove());

  it('a throughput run on the local TWEMPROXY_RESP (proxy mode) and REDIS_CLUSTER_RESP: every read verified, no op failed', async () => {
    const out = join(root.dir, 'results');
    const result = await runCli(['run', '--local', 'TWEMPROXY_RESP', 'REDIS_CLUSTER_RESP', '--mode', 'throughput', '--duration', '3', '--warmup-seconds', '0', '--clients', '16',
      '--read-ratio', '3', '--payload-bytes', '1000', '--out', out], { env: { TMPDIR: root.dir, CI: 'true' }, timeoutMs: 120_000 });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const run = readdirSync(out).find((d) => !d.startsWith('.')) as string;
    const doc = JSON.parse(readFileSync(join(out, run, 'results.json'), 'utf8')) as ResultsDocument;
    for (const e of doc.results) {
      assert.equal(e.target.client, 'resp', e.target.name);
      assert.ok(e.load !== undefined && e.load !== null && e.load.record.gets > 100, e.target.name);
      assert.equal(e.verification.verified, e.load.record.gets, e.target.name);
      assert.equal(e.verification.missing + e.verification.mismatched, 0, e.target.name);
      assert.equal(e.load.record.setErrors + e.load.record.getErrors, 0, e.target.name);
    }
    assert.deepEqual(doc.results.map((e) => e.target.mode).sort(), ['cluster', 'proxy']);
  });
  it('a KEYSPACE run with no client named uses resp and reports its bytes on the wire per op and the server\'s memory per key (two targets on one server share it out), from 1,000-byte values up', async () => {
    const server = await standalone();
    try {
      const out = join(root.dir, 'cost');
      const result = await runCli(['run', '--mode', 'throughput', '--duration', '3', '--warmup-seconds', '0', '--clients', '8', '--read-ratio', '4',
        '--payload-bytes', '1000', '--keyspace', '2000', '--key-ttl', '600', '--out', out],
      { env: { REDIS_SERVERS: server.address, SAME_SERVERS: server.address, CI: 'true' }, timeoutMs: 60_000 });
      assert.equal(result.code, 0, result.stderr + result.stdout);
      const run = readdirSync(out).find((d) => !d.startsWith('.')) as string;
      const doc = JSON.parse(readFileSync(join(out, run, 'results.json'), 'utf8')) as ResultsDocument;
      assert.equal(doc.results.length, 2);
      for (const e of doc.results) {
        assert.equal(e.target.client, 'resp');
        // An op moves its 1,000-byte value once (a GET's reply or a SET's request) plus the command, key and headers
        // (~100 bytes here: the key is a 40-odd-byte name); a SET's value is not read back, a GET's not sent.
        const wire = e.load?.workers[0]?.client?.wireBytesPerOp;
        assert.ok(wire !== undefined && wire > 1000 && wire < 1200, `${e.target.name}: wire bytes per op ${wire}`);
        // Both targets preload side by side on one server: it gained both KEYSPACEs, and each key costs it its value
        // and at least its name and bookkeeping, not several times over.
        const memory = e.load?.record.serverMemory;
        assert.ok(memory != null && memory.source === 'INFO memory' && memory.keys === 4000 && memory.bytesPerKey > 1000 && memory.bytesPerKey < 1600,
          `${e.target.name}: ${JSON.stringify(memory)}`);
      }
      const report = readFileSync(join(out, run, 'report.md'), 'utf8');
      assert.match(report, /bytes per key over the 4,000 keys they gained \(1,000-byte values\)/);
      assert.match(report, /KB on the wire per op/);
    } finally {
      await server.stop();
    }
  });

  it('throughput runs verify each value where it lies: values another client corrupts or deletes mid-run are mismatched and missing reads (fresh keys), mismatched (KEYSPACE), exit 1', async () => {
    const server = await standalone();
    const attack = await attackHarnessKeys(server.server.port);
    try {
      for (const extra of [[], ['--keyspace', '300']]) {
        const out = join(root.dir, `attacked-${extra.length}`);
        const result = await runCli(['run', '--mode', 'throughput', '--duration', '3', '--warmup-seconds', '0', '--clients', '8', '--read-ratio', '3',
          '--payload-bytes', '20000', '--out', out, ...extra], { env: { REDIS_SERVERS: server.address, REDIS_CLIENT: 'resp', CI: 'true' }, timeoutMs: 60_000 });
        assert.equal(result.code, 1, result.stderr + result.stdout);
        const run = readdirSync(out).find((d) => !d.startsWith('.')) as string;
        const e = (JSON.parse(readFileSync(join(out, run, 'results.json'), 'utf8')) as ResultsDocument).results[0];
        assert.ok(e?.load !== undefined && e.load !== null);
        const v = e.verification;
        assert.ok(v.mismatched > 0 && v.verified > 0, `${extra.join(' ')}: ${JSON.stringify(v)}`);
        if (extra.length === 0) {
          assert.ok(v.missing > 0, JSON.stringify(v));
          assert.equal(v.verified + v.missing + v.mismatched, e.load.record.gets);
        }
      }
    } finally {
      await attack.stop();
      await server.stop();
    }
  });
});

/** A server on loopback that answers each chunk it receives with `reply(chunk)` (nothing when it returns undefined). */
async function fakeServer(reply: (chunk: Buffer) => string | undefined): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      const r = reply(chunk);
      if (r !== undefined) socket.write(r);
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => {
      for (const x of sockets) x.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('the own RESP client with a password, and against servers that misbehave', () => {
  it('a connection killed by the server is opened again with AUTH, and every reply after it answers its own op', async () => {
    const server = await standalone({ requirepass: 'pw-resp' });
    const client = (await respDriver.connect(targetConfig('P', [server.address], { client: 'resp', password: 'pw-resp' }), TEST_CONTROLS)).client;
    try {
      await client.set('cachebench:auth:a', Buffer.from('A'), 60);
      // CLIENT KILL TYPE normal from a connection of its own (logged in): the client's connection is closed under it.
      const admin = new Redis({ host: '127.0.0.1', port: server.server.port, password: 'pw-resp', lazyConnect: true, maxRetriesPerRequest: 0 });
      let killed: unknown;
      try {
        await admin.connect();
        killed = await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      } finally {
        admin.disconnect();
      }
      assert.ok(Number(killed) >= 1, `killed ${String(killed)}`);
      // The first op after the kill may fail (the loss is seen then); the ones after it connect again and log in.
      await client.get('cachebench:auth:a').catch((e: unknown) => assert.ok(e instanceof ConnectionLostError, String(e)));
      const values = await Promise.all(Array.from({ length: 20 }, (_, i) => client.set(`cachebench:auth:${i}`, Buffer.from(`v${i}`), 60)
        .then(() => client.get(`cachebench:auth:${i}`))));
      values.forEach((v, i) => assert.deepEqual(v, Buffer.from(`v${i}`)));
      assert.deepEqual(await client.get('cachebench:auth:a'), Buffer.from('A'));
    } finally {
      await client.close();
      await server.stop();
    }
  });

  it('after a slow login (CONNECT_TIMEOUT_MS 3000), an op on a frozen server still fails at OP_TIMEOUT_MS (300)', async () => {
    const server = await standalone({ requirepass: 'pw-resp' });
    const pid = server.server.process.pid as number;
    const c = new RespConnection({ host: '127.0.0.1', port: server.server.port, display: server.address, connectTimeoutMs: 3000, opTimeoutMs: 300,
      password: 'pw-resp', maxReplyBytes: 1 << 20 });
    try {
      await c.open();
      process.kill(pid, 'SIGSTOP');
      await stopped(pid);
      const started = Date.now();
      await assert.rejects(c.send(['GET', 'k']), (e: unknown) => e instanceof OpTimeoutError);
      assert.ok(Date.now() - started < 900, `took ${Date.now() - started} ms`);
    } finally {
      process.kill(pid, 'SIGCONT');
      c.close();
      await server.stop();
    }
  });

  it('a reply that arrives in pieces is put together intact (the read buffer is reused between them)', async () => {
    // Each command is answered with an array whose last element comes 30 ms later, in a read of its own.
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.on('data', () => {
        socket.write('*2\r\n$3\r\nfoo\r\n$5\r\nba');
        setTimeout(() => socket.write('r\r\n\r\n'), 30);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const c = new RespConnection({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, display: 'pieces', connectTimeoutMs: 2000, opTimeoutMs: 2000,
      maxReplyBytes: 1 << 20 });
    try {
      await c.open();
      for (let i = 0; i < 3; i++) assert.deepEqual(await c.send(['PING']), [Buffer.from('foo'), Buffer.from('bar\r\n')]);
    } finally {
      c.close();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a login that gets no answer: close() ends the connect at once, and a new open() is not answered by the old AUTH', async () => {
    const server = await fakeServer(() => undefined);
    const c = new RespConnection({ host: '127.0.0.1', port: server.port, display: 'fake', connectTimeoutMs: 5000, opTimeoutMs: 300, password: 'x', maxReplyBytes: 1 << 20 });
    try {
      const opening = c.open();
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      c.close();
      await assert.rejects(opening, (e: unknown) => e instanceof ConnectionLostError);
      assert.ok(Date.now() - started < 500);
    } finally {
      await server.close();
    }
  });

  it('an ASK to a node that is down fails that op (no unhandled rejection), and redirections name only addresses', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    const closed = await fakeServer(() => undefined);
    const deadPort = closed.port;
    await closed.close();
    const node = await fakeServer(() => `-ASK 5 127.0.0.1:${deadPort}\r\n`);
    const router = new RespRouter({
      cluster: true, servers: [{ host: '127.0.0.1', port: node.port, tls: false, display: `127.0.0.1:${node.port}` }],
      connection: { connectTimeoutMs: 500, opTimeoutMs: 500, maxReplyBytes: 1 << 20 }, tlsFor: () => undefined,
    });
    try {
      await assert.rejects(router.send('k', ['GET', 'k']), (e: unknown) => e instanceof ConnectionLostError);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      router.close();
      await node.close();
    }
    assert.deepEqual(redirectOf(new WireError('MOVED 3999 [::1]:6381'), 'h'), { ask: false, slot: 3999, host: '::1', port: 6381 });
    assert.deepEqual(redirectOf(new WireError('ASK 1 :7000'), '10.0.0.5'), { ask: true, slot: 1, host: '10.0.0.5', port: 7000 }, 'no host: the replying node\'s');
    for (const bad of ['MOVED 1 ?:7000', `MOVED 1 ${'a'.repeat(300)}:7000`, 'MOVED 1 evil/host:7000', 'MOVED 16384 h:7000', 'MOVED 1 h:70000', 'MOVEDX 1 h:1']) {
      assert.equal(redirectOf(new WireError(bad), 'h'), undefined, bad);
    }
  });
});
