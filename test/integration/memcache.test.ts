import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ResultsDocument } from '../../src/report/document.js';
import { startMemcacheds } from '../../src/local/memcached.js';
import { findFreePorts } from '../../src/local/ports.js';
import type { RedisServer } from '../../src/local/redis.js';
import { OpTimeoutError } from '../../src/targets/client.js';
import { MemcacheConnection, MemcacheReplyError } from '../../src/targets/memcache-protocol.js';
import { runCli } from '../helpers/cli.js';
import { assertNothingLeft, docOf, sandbox } from '../helpers/local.js';
import { tempDir } from '../helpers/servers.js';
import { memcachedStats } from '../helpers/server-checks.js';

/** memcached's `stats`, on a connection of its own (which counts itself in total_connections). */
async function stats(port: number): Promise<Record<string, number>> {
  return Object.fromEntries(await memcachedStats(port));
}

/**
 * SIGSTOP takes effect when each thread is next scheduled: a memcached thread running on the other core can still
 * answer a request sent right after the kill. Waits until every thread of `pid` is stopped (state T).
 */
async function stopped(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const states = readdirSync(`/proc/${pid}/task`).map((t) => /\) (\S)/.exec(readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8'))?.[1]);
    if (states.every((st) => st === 'T' || st === 't')) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`process ${pid} did not stop within 1 s of SIGSTOP`);
}

const root = tempDir('cachebench-memcache-test-');
let servers: RedisServer[] = [];
const address = (s: RedisServer): string => `127.0.0.1:${s.port}`;
before(async () => {
  servers = await startMemcacheds(await findFreePorts(3), { dir: root.dir });
});
after(async () => {
  await Promise.all(servers.map((s) => s.process.stop()));
  root.remove();
});

const connection = (port: number, opTimeoutMs = 2000): MemcacheConnection =>
  new MemcacheConnection({ host: '127.0.0.1', port, display: `127.0.0.1:${port}`, connectTimeoutMs: 1000, opTimeoutMs });

describe('memcached text protocol client', () => {
  it('stores and reads back raw bytes exactly: empty, CRLF and protocol words inside a value, 1 MiB − 1 KiB, 200 pipelined ops on one connection', async () => {
    const c = connection(servers[0]?.port ?? 0);
    try {
      for (const size of [0, 1, 20_000, 1024 * 1024 - 1024]) {
        const v = randomBytes(size);
        await c.set(`k:${size}`, v, 60);
        assert.ok((await c.get(`k:${size}`))?.equals(v), `${size} bytes`);
      }
      const tricky = Array.from({ length: 200 }, (_, i) => Buffer.concat([Buffer.from('\r\nEND\r\nVALUE k 0 3\r\nSTORED\r\n'), randomBytes(i * 37)]));
      await Promise.all(tricky.map((v, i) => c.set(`p:${i}`, v, 60)));
      const back = await Promise.all(tricky.map((_, i) => c.get(`p:${i}`)));
      back.forEach((b, i) => assert.ok(b?.equals(tricky[i] as Buffer), `pipelined value ${i}`));
      assert.equal(await c.get('never-written'), null);
      await c.delete('p:1');
      assert.equal(await c.get('p:1'), null);
      await c.delete('p:1'); // NOT_FOUND is not an error: the key is gone either way
      // A value over the item size limit is the server's SERVER_ERROR, and the connection goes on serving.
      await assert.rejects(c.set('big', randomBytes(1024 * 1024), 60), (e: unknown) => e instanceof MemcacheReplyError && /too large/.test(e.reply));
      assert.ok((await c.get('k:20000'))?.length === 20_000);
      assert.match(await c.version(), /^1\.\d+\.\d+/);
    } finally {
      c.close();
    }
  });

  it('gives up ops at their deadline on a frozen server (SIGSTOP) and, once it is back, reads their late replies away: each later op gets its own reply', async () => {
    const server = servers[1] as RedisServer;
    const c = connection(server.port, 300);
    try {
      await c.set('frozen:a', Buffer.from('A'), 60);
      await c.set('frozen:b', Buffer.from('B'), 60);
      const before = await stats(server.port);
      process.kill(server.process.pid as number, 'SIGSTOP');
      try {
        await stopped(server.process.pid as number);
        const started = Date.now();
        await Promise.all([
          assert.rejects(c.get('frozen:a'), (e: unknown) => e instanceof OpTimeoutError),
          assert.rejects(c.get('frozen:a'), (e: unknown) => e instanceof OpTimeoutError),
        ]);
        assert.ok(Date.now() - started < 1500);
      } finally {
        process.kill(server.process.pid as number, 'SIGCONT');
      }
      // The two late replies (A, A) come first on the same connection: they must not be taken for this get's.
      assert.deepEqual(await c.get('frozen:b'), Buffer.from('B'));
      assert.deepEqual(await c.get('frozen:a'), Buffer.from('A'));
      // The same connection all along: the server accepted none since but the stats connection itself.
      assert.equal((await stats(server.port))['total_connections'], (before['total_connections'] ?? 0) + 1);
    } finally {
      c.close();
    }
  });
});

describe('memcached text protocol client against a misbehaving server', () => {
  /** A one-connection server that answers every request with `reply`. */
  async function fake(reply: string): Promise<{ port: number; close: () => Promise<void> }> {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', () => socket.write(reply));
      socket.on('error', () => socket.destroy()); // the client dropping the connection: expected here
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    return { port, close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }) };
  }

  it('a value longer than the item size limit, or not followed by CRLF, fails the op and drops the connection instead of crashing', async () => {
    for (const [reply, why] of [['VALUE k 0 99999999999\r\n', /more than the item size limit/], ['VALUE k 0 3\r\nabcXY', /not followed by CRLF/]] as const) {
      const server = await fake(reply);
      const c = new MemcacheConnection({ host: '127.0.0.1', port: server.port, display: 'fake', connectTimeoutMs: 1000, opTimeoutMs: 1000, maxValueBytes: 1024 * 1024 });
      try {
        await assert.rejects(c.get('k'), (e: unknown) => e instanceof MemcacheReplyError && why.test(e.reply));
      } finally {
        c.close();
        await server.close();
      }
    }
  });
});

describe('stats settings', () => {
  it('reads a real memcached\'s settings, and a reply of endless STAT lines is cut off (the connection dropped), not kept', async () => {
    const real = new MemcacheConnection({ host: '127.0.0.1', port: (servers[0] as RedisServer).port, display: 'real', connectTimeoutMs: 1000, opTimeoutMs: 1000 });
    try {
      assert.equal((await real.statsSettings()).get('item_size_max'), '1048576');
    } finally {
      real.close();
    }
    const sockets: Socket[] = [];
    const endless = createServer((socket) => {
      sockets.push(socket);
      socket.on('data', () => socket.write('STAT x 1\r\n'.repeat(600)));
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    const c = new MemcacheConnection({ host: '127.0.0.1', port: (endless.address() as AddressInfo).port, display: 'fake', connectTimeoutMs: 1000, opTimeoutMs: 1000 });
    try {
      await assert.rejects(c.statsSettings(), (e: unknown) => e instanceof MemcacheReplyError && /unexpected reply to stats: /.test(e.reply));
    } finally {
      c.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => endless.close(resolve));
    }
  });
});

describe('memcache targets through the CLI', () => {
  it('a pool of 3 memcached: every read verified, keys spread over all 3 servers, every key deleted', async () => {
    const before = await Promise.all(servers.map((s) => stats(s.port)));
    const out = join(root.dir, 'pool');
    const result = await runCli(['run', '--out', out, '--min-iterations', '5', '--max-iterations', '5', '--invocation-count', '1', '--warmup-iterations', '0'], {
      env: { MC_SERVERS: servers.map(address).join(','), MC_PROTOCOL: 'memcache', READ_RATIO: '3', WRITE_COUNT: '300', PAYLOAD_BYTES: '500' },
    });
    assert.equal(result.code, 0, result.stderr);
    const dir = /Report: (.*)report\.md/.exec(result.stdout)?.[1] ?? '';
    const doc = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;
    const e = doc.results[0];
    assert.equal(e?.state, 'completed');
    assert.equal(e?.verification.verified, e?.verification.reads);
    assert.equal(e?.verification.reads, 5 * 300 * 3);
    assert.deepEqual([doc.environment.targets[0]?.mode, doc.environment.targets[0]?.client, doc.environment.targets[0]?.primaries], ['pool', 'memcache', 3]);
    const afterStats = await Promise.all(servers.map((s) => stats(s.port)));
    const sets = afterStats.map((s, i) => (s['cmd_set'] ?? 0) - (before[i]?.['cmd_set'] ?? 0));
    assert.equal(sets.reduce((a, b) => a + b, 0), 5 * 300);
    // 1,500 fresh keys: each server holds about a third; a server with none would mean no sharding.
    for (const n of sets) assert.ok(n > 1500 * 0.2, `SETs per server ${sets.join(' / ')}`);
    // Every key is gone: deleted by exact name after its reads, on the server that holds it.
    assert.deepEqual(afterStats.map((s, i) => (s['curr_items'] ?? 0) - (before[i]?.['curr_items'] ?? 0)), [0, 0, 0]);
    assert.deepEqual(afterStats.map((s, i) => (s['delete_hits'] ?? 0) - (before[i]?.['delete_hits'] ?? 0)), sets);
  });

  it("a throughput run against a memcached pool reads the servers' CPU from stats (rusage), every window, all 3 servers", async () => {
    const out = join(root.dir, 'pool-cost');
    const result = await runCli(['run', '--out', out, '--mode', 'throughput', '--clients', '4', '--duration', '3', '--warmup-seconds', '0'], {
      env: { MC_SERVERS: servers.map(address).join(','), MC_PROTOCOL: 'memcache', READ_RATIO: '3', PAYLOAD_BYTES: '500', CI: 'true' }, timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const dir = /Report: (.*)report\.md/.exec(result.stdout)?.[1] ?? '';
    const doc = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;
    const cpu = doc.results[0]?.load?.record.serverCpu;
    assert.ok(cpu != null && cpu.source === 'stats' && cpu.nodes === 3 && cpu.windows === cpu.planned && cpu.ms > 0, JSON.stringify(cpu));
    assert.match(result.stdout, /MC servers \(3 servers, stats over its measured seconds\): [\d,.]+ ms of CPU/);
  });

  it('a RESP target pointed at memcached is exit 3 with the fix: set <NAME>_PROTOCOL=memcache', async () => {
    const result = await runCli(['run', '--out', join(root.dir, 'resp')], { env: { R_SERVERS: address(servers[0] as RedisServer) } });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /target R: cannot use 127\.0\.0\.1:\d+: .*not RESP \(memcached answers ERROR\)\. Fix: for memcached set R_PROTOCOL=memcache/);
  });

  it('a value above memcached\'s 1 MiB item size limit is exit 2 before any traffic, naming the limit and -I', async () => {
    const before = await Promise.all(servers.map((s) => stats(s.port)));
    const result = await runCli(['run', '--out', join(root.dir, 'big')], {
      env: { MC_SERVERS: servers.map(address).join(','), MC_PROTOCOL: 'memcache', PAYLOAD_BYTES: '2000000' },
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /PAYLOAD_BYTES=2000000 \(from process environment\).*memcached.*-I 1m.*Fix: .*MC_ITEM_SIZE_MAX=2m/);
    const afterStats = await Promise.all(servers.map((s) => stats(s.port)));
    // Only the stats connections themselves (one each time) reached the servers.
    afterStats.forEach((s, i) => assert.equal((s['total_connections'] ?? 0) - (before[i]?.['total_connections'] ?? 0), 1, `server ${i}`));
  });
});

describe('the item size limit the servers report (stats settings) is the one that counts', () => {
  it('MC_ITEM_SIZE_MAX=2m against servers started with -I 1m: exit 2 after the probe, naming both, and nothing written', async () => {
    const before = await Promise.all(servers.map((s) => stats(s.port)));
    const result = await runCli(['run', '--out', join(root.dir, 'claimed')], {
      env: { MC_SERVERS: servers.map(address).join(','), MC_PROTOCOL: 'memcache', MC_ITEM_SIZE_MAX: '2m', PAYLOAD_BYTES: '2000000' },
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /target MC: the memcached servers \(.*\) report item_size_max 1048576 \(stats settings\), not the 2097152 of MC_ITEM_SIZE_MAX: values up to 1047552 bytes fit, and scenario default writes 2000000\. Fix: .*memcached -I 2m/);
    const afterStats = await Promise.all(servers.map((s) => stats(s.port)));
    afterStats.forEach((s, i) => assert.equal(s['cmd_set'], before[i]?.['cmd_set'], `server ${i}: a SET was sent`));
  });

  it('MC_ITEM_SIZE_MAX=512k against -I 1m servers: the run goes on with a warning naming the servers\' value', async () => {
    const result = await runCli(['run', '--out', join(root.dir, 'smaller'), '--max-iterations', '2', '--min-iterations', '2', '--warmup-iterations', '1'], {
      env: { MC_SERVERS: servers.map(address).join(','), MC_PROTOCOL: 'memcache', MC_ITEM_SIZE_MAX: '512k', PAYLOAD_BYTES: '100', WRITE_COUNT: '2', ITERATION_TIME_MS: '10' },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /warning: target MC: MC_ITEM_SIZE_MAX is 524288 but the servers report item_size_max 1048576 \(stats settings\)/);
  });
});

describe('memcache in throughput runs', () => {
  it('closed loop, CLIENTS 8 on 2 connections per server with PIPELINE 4 over the pool: the servers saw exactly the SETs and GETs counted, every read verified, every key deleted', async () => {
    const before = await Promise.all(servers.map((s) => stats(s.port)));
    const cwd = join(root.dir, 'load');
    const result = await runCli(['run', '--out', cwd, '--mode', 'throughput', '--clients', '8', '--connections', '2', '--pipeline', '4',
      '--duration', '3', '--warmup-seconds', '0', '--read-ratio', '5', '--payload-bytes', '2000'],
    { env: { MC_SERVERS: servers.map(address).join(','), MC_PROTOCOL: 'memcache', CI: 'true' }, timeoutMs: 60_000 });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const dir = /Report: (.*)report\.md/.exec(result.stdout)?.[1] ?? '';
    const doc = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;
    const e = doc.results[0];
    const record = e?.load?.record;
    assert.ok(record, 'no throughput record');
    const afterStats = await Promise.all(servers.map((s) => stats(s.port)));
    const delta = (key: string): number => afterStats.reduce((n, s, i) => n + (s[key] ?? 0) - (before[i]?.[key] ?? 0), 0);
    assert.equal(record.sets, delta('cmd_set'));
    assert.equal(record.gets, delta('cmd_get'));
    assert.ok(record.sets > 100, `sets ${record.sets}`);
    assert.equal(record.setErrors + record.getErrors, 0);
    assert.equal(e?.verification.verified, record.gets);
    assert.equal((e?.verification.missing ?? 1) + (e?.verification.mismatched ?? 1), 0);
    assert.deepEqual(afterStats.map((s, i) => (s['curr_items'] ?? 0) - (before[i]?.['curr_items'] ?? 0)), [0, 0, 0]);
  });
});

describe('local memcached and large values', () => {
  it('--local MEMCACHED_POOL starts memcached with an item size that fits 1.5 MB values: every read verified, nothing left running', async () => {
    const { tmp, cwd } = sandbox(root.dir, 'large');
    const result = await runCli(['run', '--local', 'MEMCACHED_POOL', '--out', join(cwd, 'results'), '--min-iterations', '3', '--max-iterations', '3'], {
      cwd, env: { TMPDIR: tmp, READ_RATIO: '1', WRITE_COUNT: '2', PAYLOAD_BYTES: '1500000' }, timeoutMs: 90_000,
    });
    assert.equal(result.code, 0, result.stderr);
    const e = docOf(result.stdout, cwd).results[0];
    assert.ok((e?.verification.reads ?? 0) > 0);
    assert.equal(e?.verification.verified, e?.verification.reads);
    assert.equal((e?.ops.set.errors ?? 1) + (e?.ops.get.errors ?? 1), 0);
    assertNothingLeft(tmp);
  });
});

describe('memcached under failure', () => {
  it('kill-primary on the local MEMCACHED_POOL: that shard\'s SETs fail, the window never closes (the client does not move keys off a dead server), and the keys it held before the kill are lost acknowledged writes', async () => {
    const { tmp, cwd } = sandbox(root.dir, 'kill');
    const result = await runCli(['run', '--local', 'MEMCACHED_POOL', '--out', join(cwd, 'results')], {
      cwd, env: { TMPDIR: tmp, READ_RATIO: '5', PAYLOAD_BYTES: '100', FAULT: 'kill-primary', FAULT_AT: '1', DURATION: '4', OP_TIMEOUT_MS: '500' }, timeoutMs: 90_000,
    });
    assert.equal(result.code, 0, result.stderr);
    const e = docOf(result.stdout, cwd).results[0];
    const f = e?.fault;
    assert.ok(f, 'no fault result');
    assert.match(f.events[0]?.what ?? '', /^SIGKILL memcached 127\.0\.0\.1:\d+ \(pid \d+\), 1 of the pool's 3 servers/);
    assert.ok(f.failedOps.set > 0, JSON.stringify(f.failedOps));
    assert.equal(f.windowMs, null, 'the window closed, but no client moves the dead shard\'s keys');
    // Written before the kill to the killed server, acknowledged, gone after its restart: about a third of them.
    assert.ok(f.lostAckedWrites > 0 && f.lostAckedWrites < 0.6 * f.ackedWritesChecked, `${f.lostAckedWrites} lost of ${f.ackedWritesChecked}`);
    assert.equal(e?.verification.mismatched, 0);
    assert.match(f.healed ?? '', /started memcached 127\.0\.0\.1:\d+ .* again on its port/);
    assertNothingLeft(tmp);
  });
});
