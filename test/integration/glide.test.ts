import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import type { RunControls, TargetConfig } from '../../src/config/resolve.js';
import { glideCacheKb, glideDriver, slotMap, translateGlideError } from '../../src/targets/glide.js';
import { ClusterRedirectError, ConnectionLostError, OpTimeoutError, TargetMismatchError, TargetUnreachableError, type CacheClient, type ConnectedTarget } from '../../src/targets/client.js';
import { resultsOf, runCli } from '../helpers/cli.js';
import { clusterRoles, clusterSettled, type ClusterNode } from '../helpers/glide-cluster.js';
import { issueCnOnly } from '../helpers/glide-tls.js';
import { cluster, commandCount, connect, scanKeys, standalone, tempDir } from '../helpers/servers.js';
import { TEST_CONTROLS, targetConfig } from '../helpers/targets.js';
import { makeTestCa } from '../helpers/tls-certs.js';
import { startTlsRedis, type TlsRedis } from '../helpers/tls-redis.js';

type Standalone = Awaited<ReturnType<typeof standalone>>;
type TestCluster = Awaited<ReturnType<typeof cluster>>;

/** The installed GLIDE's version, read here independently of the driver. */
const GLIDE_VERSION = (JSON.parse(readFileSync(join(dirname(createRequire(import.meta.url).resolve('@valkey/valkey-glide')), '..', 'package.json'), 'utf8')) as { version: string }).version;

const out = tempDir('cachebench-glide-');
let single: Standalone;
let multi: TestCluster;
let nodes: ClusterNode[];

before(async () => {
  [single, multi] = await Promise.all([standalone(), cluster()]);
  await clusterSettled(multi.cluster.nodes.map((n) => n.port), 3);
  nodes = await clusterRoles(multi.cluster.nodes[0]?.port ?? 0);
});
after(async () => {
  await Promise.all([single?.stop(), multi?.stop()]);
  out.remove();
});

const glide = (name: string, addresses: readonly string[], extra: Partial<TargetConfig> = {}): TargetConfig => targetConfig(name, addresses, { client: 'glide', ...extra });
const clusterAddresses = (): string[] => multi.addresses.split(',');
const key = (): string => `cachebench:glide-test:${randomUUID()}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function withTarget<T>(config: TargetConfig, controls: RunControls, body: (target: ConnectedTarget) => Promise<T>): Promise<T> {
  const target = await glideDriver.connect(config, controls);
  try {
    return await body(target);
  } finally {
    await target.client.close();
  }
}

/** The error an op rejected with, and how long it took; fails the test if the op succeeded. */
async function failure(op: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  const error = await op.then(() => assert.fail('the op succeeded'), (e: unknown) => e);
  return { error, ms: Date.now() - started };
}

describe('the seed loop through the CLI with <NAME>_CLIENT=glide', () => {
  it('standalone and cluster: exit 0, every read verified, nothing missing or mismatched, no key left, no GLIDE log line', async () => {
    const result = await runCli(['run', '--out', out.dir, '--min-iterations', '2', '--max-iterations', '2', '--warmup-iterations', '1'], {
      env: {
        SOLO_SERVERS: single.address, SOLO_CLIENT: 'glide', CLU_SERVERS: multi.addresses, CLU_CLIENT: 'glide',
        READ_RATIO: '20', WRITE_COUNT: '5', PAYLOAD_BYTES: '20000',
      },
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, result.stderr);
    const doc = resultsOf(result.stdout);
    assert.deepEqual(doc.environment.targets.map((t) => [t.name, t.mode, t.client, t.clientVersion]),
      [['CLU', 'cluster', 'glide', GLIDE_VERSION], ['SOLO', 'standalone', 'glide', GLIDE_VERSION]]);
    assert.equal(doc.results.length, 2);
    for (const e of doc.results) {
      assert.equal(e.state, 'completed', e.target.name);
      assert.ok(e.verification.reads >= 3 * 5 * 20, `${e.target.name}: ${e.verification.reads} reads`);
      assert.equal(e.verification.verified, e.verification.reads, e.target.name);
      assert.equal(e.verification.missing + e.verification.mismatched, 0, e.target.name);
      assert.equal(e.ops.set.errors + e.ops.get.errors, 0, e.target.name);
    }
    // GLIDE's core logs to stdout unless told not to; the driver turns it off.
    assert.doesNotMatch(result.stdout + result.stderr, /logger_core/);
    const ports = [single.server.port, ...multi.cluster.nodes.map((n) => n.port)];
    assert.deepEqual((await Promise.all(ports.map((p) => scanKeys(p, 'cachebench:*')))).flat(), []);
  });
});

describe('client-side cache (<NAME>_CACHE=tracking)', () => {
  /** A second writer on a connection of its own (ioredis), for the target's servers. */
  function otherWriter(mode: 'standalone' | 'cluster'): { set: (k: string, v: Buffer) => Promise<unknown>; close: () => void } {
    if (mode === 'standalone') {
      const redis = connect(single.server.port);
      return { set: (k, v) => redis.set(k, v), close: () => redis.disconnect() };
    }
    const redis = new Cluster(clusterAddresses().map((a) => ({ host: '127.0.0.1', port: Number(a.split(':')[1]) })), { redisOptions: { protocol: 2 } });
    redis.on('error', () => undefined);
    return { set: (k, v) => redis.set(k, v), close: () => redis.disconnect() };
  }

  for (const mode of ['standalone', 'cluster'] as const) {
    it(`${mode}: READ_RATIO 100 hits 99% ± 1% by cacheCounters(), every byte right; another client's SET reaches the next GET`, async () => {
      const addresses = mode === 'standalone' ? [single.address] : clusterAddresses();
      await withTarget(glide('CACHED', addresses, { cache: 'tracking' }), TEST_CONTROLS, async ({ client, info }) => {
        assert.equal(info.cache, 'tracking');
        assert.equal(info.cacheEntries, 10_000);
        const counters = client.cacheCounters;
        assert.ok(counters !== undefined, 'no cacheCounters with the cache on');
        const before = await counters();
        const keys: string[] = [];
        let mismatched = 0;
        for (let k = 0; k < 5; k++) {
          const name = key();
          keys.push(name);
          const value = randomBytes(20_000);
          await client.set(name, value, 60);
          for (let i = 0; i < 100; i++) if (!(await client.get(name))?.equals(value)) mismatched++;
        }
        const after = await counters();
        const lookups = after.lookups - before.lookups;
        const hits = after.hits - before.hits;
        assert.equal(mismatched, 0);
        assert.equal(lookups, 500);
        assert.equal(hits + (after.misses - before.misses), lookups);
        assert.ok(Math.abs(hits / lookups - 0.99) <= 0.01, `hit rate ${hits / lookups}`);
        assert.equal(after.invalidations, null);
        assert.equal(typeof after.evictions, 'number');

        const writer = otherWriter(mode);
        try {
          const first = keys[0] ?? '';
          const changed = randomBytes(20_000);
          await writer.set(first, changed);
          await sleep(100); // the invalidation is a push message on GLIDE's connection
          assert.ok((await client.get(first))?.equals(changed), 'stale value from the cache after another client\'s SET');
        } finally {
          writer.close();
        }
        for (const k of keys) await client.del(k);
        assert.equal(await client.get(keys[1] ?? ''), null, 'a deleted key still served from the cache');
      });
    });
  }

  it('with the cache off there is no cacheCounters, GLIDE speaks RESP2 (no HELLO), and SET sets the TTL', async () => {
    const hellos = await commandCount(single.server.port, 'hello');
    await withTarget(glide('PLAIN', [single.address]), TEST_CONTROLS, async ({ client, info }) => {
      assert.equal(client.cacheCounters, undefined);
      const name = key();
      await client.set(name, Buffer.from('v'), 60);
      const redis = connect(single.server.port);
      const ttl = await redis.ttl(name);
      redis.disconnect();
      assert.ok(ttl > 0 && ttl <= 60, `TTL ${ttl}`);
      await client.del(name);
      assert.equal(info.cacheEntries, undefined);
      assert.equal(info.client, 'glide');
      assert.equal(info.clientVersion, GLIDE_VERSION);
      assert.equal(info.capabilities, undefined);
    });
    assert.equal(await commandCount(single.server.port, 'hello'), hellos);
  });

  it('glideCacheKb: entries × (payload + overhead) in KB, at least 1 MiB, at most 4 GiB; 64 KiB values by default', () => {
    assert.equal(glideCacheKb(10_000, 20_000), Math.ceil((10_000 * (20_000 + 256)) / 1024));
    assert.equal(glideCacheKb(10_000), Math.ceil((10_000 * (65_536 + 256)) / 1024));
    assert.equal(glideCacheKb(1, 100), 1024);
    assert.equal(glideCacheKb(10_000_000), 4 * 1024 * 1024);
  });
});

describe('READ_FROM=replica', () => {
  /** GETs each node served while `body` ran. */
  async function getsDuring(body: () => Promise<void>): Promise<Map<number, number>> {
    const before = await Promise.all(nodes.map((n) => commandCount(n.port, 'get')));
    await body();
    const after = await Promise.all(nodes.map((n) => commandCount(n.port, 'get')));
    return new Map(nodes.map((n, i) => [n.port, (after[i] ?? 0) - (before[i] ?? 0)]));
  }
  const sum = (gets: Map<number, number>, role: ClusterNode['role']): number => nodes.filter((n) => n.role === role).reduce((s, n) => s + (gets.get(n.port) ?? 0), 0);

  async function readLoop(client: CacheClient): Promise<void> {
    for (let k = 0; k < 20; k++) {
      const name = key();
      const value = randomBytes(100);
      await client.set(name, value, 60);
      for (let i = 0; i < 10; i++) assert.ok((await client.get(name))?.equals(value));
      await client.del(name);
    }
  }

  it('GETs reach the replicas (INFO commandstats), and with READ_FROM=primary none do', async () => {
    const replicated = await getsDuring(() => withTarget(glide('REPLICA', clusterAddresses(), { readFrom: 'replica' }), TEST_CONTROLS, async ({ client, info }) => {
      assert.equal(info.readFrom, 'replica');
      await readLoop(client);
    }));
    const onReplicas = sum(replicated, 'replica');
    assert.ok(onReplicas > 0, `no GET reached a replica: ${inspect(replicated)}`);
    assert.ok(onReplicas >= 0.9 * 200, `only ${onReplicas} of 200 GETs on replicas: ${inspect(replicated)}`);
    const primary = await getsDuring(() => withTarget(glide('PRIMARY', clusterAddresses()), TEST_CONTROLS, async ({ client }) => readLoop(client)));
    assert.equal(sum(primary, 'replica'), 0, inspect(primary));
    assert.equal(sum(primary, 'primary'), 200, inspect(primary));
  });
});

describe('failures', () => {
  it('a wrong password: TargetUnreachableError (the probe\'s WRONGPASS and its fix), never the password', async () => {
    const locked = await standalone({ requirepass: 'right-secret-42' });
    try {
      const error = await glideDriver.connect(glide('AUTH', [locked.address], { password: 'wrong-secret-42' }), TEST_CONTROLS).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof TargetUnreachableError, String(error));
      assert.match(error.message, /^target AUTH: cannot use 127\.0\.0\.1:\d+: WRONGPASS .*\. Fix: check AUTH_PASSWORD/);
      assert.ok(!inspect(error, { depth: 10 }).includes('wrong-secret-42'), 'password in the error or its cause');
      // The right one: GLIDE logs in (RESP2: AUTH) and works.
      await withTarget(glide('AUTH', [locked.address], { password: 'right-secret-42' }), TEST_CONTROLS, async ({ client }) => {
        await client.set('cachebench:glide-test:auth', Buffer.from('x'), 10);
        assert.equal(String(await client.get('cachebench:glide-test:auth')), 'x');
        await client.del('cachebench:glide-test:auth');
      });
    } finally {
      await locked.stop();
    }
  });

  it('set-ups GLIDE cannot do are refused before any traffic: a proxy, <NAME>_TLS_SERVERNAME', async () => {
    const pings = await commandCount(single.server.port, 'ping');
    for (const extra of [{ mode: 'proxy' as const }, { tls: true, tlsServername: 'cache.example' }]) {
      const error = await glideDriver.connect(glide('NO', [single.address], extra), TEST_CONTROLS).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof TargetMismatchError, String(error));
      assert.match(error.message, /NO_CLIENT=glide cannot .*\. Fix: .*NO_CLIENT=ioredis/);
    }
    assert.equal(await commandCount(single.server.port, 'ping'), pings);
  });

  it('a server\'s error reply (OOM) passes unchanged, in GLIDE\'s wording', async () => {
    const admin = connect(single.server.port);
    try {
      await withTarget(glide('FULL', [single.address]), TEST_CONTROLS, async ({ client }) => {
        await admin.call('CONFIG', 'SET', 'maxmemory', '1');
        const { error } = await failure(client.set(key(), Buffer.alloc(1000), 10));
        assert.ok(error instanceof Error && !(error instanceof ConnectionLostError) && !(error instanceof OpTimeoutError), inspect(error));
        assert.match(error.message, /^OOM: command not allowed when used memory > 'maxmemory'/);
      });
    } finally {
      await admin.call('CONFIG', 'SET', 'maxmemory', '0');
      admin.disconnect();
    }
  });

  it('a server killed mid-run: only "connection to <server> lost" / "no reply from <server> within OP_TIMEOUT_MS"', async () => {
    const doomed = await standalone();
    const controls = { ...TEST_CONTROLS, opTimeoutMs: 300 };
    try {
      const seen = new Map<string, number>();
      await withTarget(glide('DOOMED', [doomed.address]), controls, async ({ client }) => {
        const name = key();
        await client.set(name, Buffer.from('v'), 60);
        process.kill(doomed.server.process.pid, 'SIGKILL');
        const until = Date.now() + 1500;
        while (Date.now() < until) {
          const { error, ms } = await failure(client.get(name));
          assert.ok(ms < controls.opTimeoutMs + 700, `op took ${ms} ms`);
          assert.ok(error instanceof ConnectionLostError || error instanceof OpTimeoutError, `untranslated: ${inspect(error)}`);
          seen.set(error.message, (seen.get(error.message) ?? 0) + 1);
        }
      });
      const server = doomed.address.replace(/\./g, '\\.');
      for (const message of seen.keys()) {
        assert.match(message, new RegExp(`^(connection to ${server} lost|no reply from ${server} within OP_TIMEOUT_MS=300 ms)$`));
      }
      assert.ok(seen.size > 0);
    } finally {
      await doomed.stop();
    }
  });

  it('a frozen server (SIGSTOP): the op rejects with OpTimeoutError within OP_TIMEOUT_MS + slack; the client recovers after SIGCONT', async () => {
    const controls = { ...TEST_CONTROLS, opTimeoutMs: 500 };
    await withTarget(glide('FROZEN', [single.address]), controls, async ({ client }) => {
      const name = key();
      await client.set(name, Buffer.from('v'), 60);
      process.kill(single.server.process.pid, 'SIGSTOP');
      try {
        const { error, ms } = await failure(client.get(name));
        assert.ok(error instanceof OpTimeoutError, inspect(error));
        assert.equal(error.message, `no reply from ${single.address} within OP_TIMEOUT_MS=500 ms`);
        assert.ok(ms >= 450 && ms < 500 + 700, `rejected after ${ms} ms`);
      } finally {
        process.kill(single.server.process.pid, 'SIGCONT');
      }
      await sleep(100);
      assert.equal(String(await client.get(name)), 'v');
      await client.del(name);
    });
  });

  it('cluster: a frozen primary times the op out, and the error names the node serving the key\'s slot', async () => {
    const admin = connect(multi.cluster.nodes[0]?.port ?? 0);
    const name = key();
    const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', name));
    const ranges = (await admin.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    admin.disconnect();
    const owner = ranges.find(([from, to]) => from <= slot && slot <= to)?.[2][1];
    const node = multi.cluster.nodes.find((n) => n.port === owner);
    assert.ok(node, `no owner for slot ${slot}`);
    const controls = { ...TEST_CONTROLS, opTimeoutMs: 400 };
    await withTarget(glide('CFROZEN', clusterAddresses()), controls, async ({ client }) => {
      await client.set(name, Buffer.from('v'), 60);
      // Well under cluster-node-timeout (5 s): no failover.
      process.kill(node.process.pid, 'SIGSTOP');
      try {
        const { error, ms } = await failure(client.get(name));
        assert.ok(error instanceof OpTimeoutError, inspect(error));
        assert.equal(error.message, `no reply from 127.0.0.1:${node.port} within OP_TIMEOUT_MS=400 ms`);
        assert.ok(ms < 400 + 700, `rejected after ${ms} ms`);
      } finally {
        process.kill(node.process.pid, 'SIGCONT');
      }
      await sleep(100);
      assert.equal(String(await client.get(name)), 'v');
      await client.del(name);
    });
  });

  it('GLIDE errors: TimeoutError -> OpTimeoutError, ConnectionError/ClosingError/recovery -> ConnectionLostError, MOVED -> ClusterRedirectError, server replies unchanged', () => {
    const named = (name: string, message: string): Error => Object.assign(new Error(message), { name });
    const slow = translateGlideError(named('TimeoutError', 'timed out'), '127.0.0.1:7000', 2000);
    assert.ok(slow instanceof OpTimeoutError);
    assert.equal(slow.message, 'no reply from 127.0.0.1:7000 within OP_TIMEOUT_MS=2000 ms');
    const waited = translateGlideError(named('TimeoutError', 'timed out'), '127.0.0.1:7000', 2000, true);
    assert.ok(waited instanceof ConnectionLostError);
    for (const e of [named('ConnectionError', 'Received connection error `FatalReceiveError: channel closed`. Will attempt to reconnect'), named('ClosingError', 'Unable to execute requests; the client is closed.')]) {
      const lost = translateGlideError(e, '127.0.0.1:7000', 2000);
      assert.ok(lost instanceof ConnectionLostError);
      assert.equal(lost.message, 'connection to 127.0.0.1:7000 lost');
      assert.equal(lost.cause, e);
    }
    const recovering = translateGlideError(named('RequestError', 'Connection in recovery'), '127.0.0.1:7000', 2000);
    assert.ok(recovering instanceof ConnectionLostError);
    for (const message of ['MOVED 3999 127.0.0.1:7001', 'An error was signalled by the server - Moved: 3999 127.0.0.1:7001']) {
      const loop = translateGlideError(named('RequestError', message), '127.0.0.1:7000', 2000);
      assert.ok(loop instanceof ClusterRedirectError, message);
      assert.equal(loop.message, 'too many cluster redirections (MOVED/ASK) for an op on 127.0.0.1:7000: the cluster\'s slots are moving or its nodes disagree');
    }
    const oom = named('RequestError', 'OOM: command not allowed when used memory > \'maxmemory\'.');
    assert.equal(translateGlideError(oom, 'a:1', 2000), oom);
  });

  it('slotMap names the primary and replicas of every slot as CLUSTER SLOTS does', async () => {
    const admin = connect(multi.cluster.nodes[0]?.port ?? 0);
    const map = slotMap(String(await admin.call('CLUSTER', 'NODES')));
    const ranges = (await admin.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number], ...Array<[string, number]>]>;
    admin.disconnect();
    for (const [from, to, primary, ...replicas] of ranges) {
      for (const slot of [from, Math.floor((from + to) / 2), to]) {
        assert.deepEqual(map[slot], { primary: `${primary[0]}:${primary[1]}`, replicas: replicas.map(([h, p]) => `${h}:${p}`) });
      }
    }
  });
});

describe('TLS', () => {
  const tmp = tempDir('cachebench-glide-tls-');
  let caFile: string;
  let good: TlsRedis | undefined;
  let cnOnly: TlsRedis | undefined;
  before(async () => {
    const ca = await makeTestCa(tmp.dir);
    caFile = ca.cert;
    const [cert, cn] = await Promise.all([ca.issue('glide-server', ['IP:127.0.0.1', 'DNS:localhost']), issueCnOnly(ca, tmp.dir, 'localhost')]);
    [good, cnOnly] = await Promise.all([startTlsRedis({ dir: tmp.dir, cert, caFile }), startTlsRedis({ dir: tmp.dir, cert: cn, caFile })]);
  });
  after(async () => {
    await Promise.all([good?.process.stop(), cnOnly?.process.stop()]);
    tmp.remove();
  });
  const tlsTarget = (address: string): TargetConfig => glide('SECURE', [address], { tls: true, tlsCa: { file: caFile, pem: readFileSync(caFile) } });

  it('<NAME>_TLS_CA becomes GLIDE\'s root certificate: ops over TLS (a TLS-only server) work', async () => {
    await withTarget(tlsTarget(`127.0.0.1:${good?.port ?? 0}`), TEST_CONTROLS, async ({ client, info }) => {
      assert.equal(info.tls, true);
      const name = key();
      await client.set(name, Buffer.from('over tls'), 10);
      assert.equal(String(await client.get(name)), 'over tls');
      await client.del(name);
    });
  });

  it('a certificate Node accepts but GLIDE does not (CN only): TargetUnreachableError saying so, within CONNECT_TIMEOUT_MS', async () => {
    const started = Date.now();
    const error = await glideDriver.connect(tlsTarget(`localhost:${cnOnly?.port ?? 0}`), { ...TEST_CONTROLS, connectTimeoutMs: 500 }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof TargetUnreachableError, inspect(error));
    assert.match(error.message, /^target SECURE: cannot use localhost:\d+: GLIDE could not connect within CONNECT_TIMEOUT_MS=500 ms although cachebench's probe just did .*\. Fix: check that the server's certificate holds the address listed in SECURE_SERVERS in its subjectAltName/);
    assert.ok(Date.now() - started < 500 + 1500, `${Date.now() - started} ms`);
  });
});

/**
 * A child process that connects targets with the driver, does a few ops, prints "connected", waits for a line on stdin,
 * closes every client (a GET left pending on the first) and prints "closed <ms> <pending op's error>".
 */
const CLOSE_CHILD = `
import { glideDriver } from ${JSON.stringify(new URL('../../src/targets/glide.js', import.meta.url).href)};
const controls = { opTimeoutMs: Number(process.env.OP_TIMEOUT_MS), connectTimeoutMs: 2000 };
const targets = [];
for (const config of JSON.parse(process.env.CONFIGS)) targets.push(await glideDriver.connect(config, controls));
for (const t of targets) {
  await t.client.set('cachebench:glide-close:x', Buffer.from('x'), 10);
  await t.client.get('cachebench:glide-close:x');
  await t.client.del('cachebench:glide-close:x');
}
process.stdout.write('connected\\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.destroy();
// A frozen server: one op times out first (GLIDE's core would log that on stdout unless silenced).
if (process.env.FROZEN === '1') process.stdout.write('late ' + (await targets[0].client.get('cachebench:glide-close:x').then(() => 'answered', (e) => e.name)) + '\\n');
const pending = targets[0].client.get('cachebench:glide-close:x').then(() => 'answered', (e) => e.name);
const started = Date.now();
for (const t of targets) await t.client.close();
const closeMs = Date.now() - started;
process.stdout.write('closed ' + closeMs + ' ' + (await pending) + '\\n');
`;

/**
 * Runs CLOSE_CHILD with OP_TIMEOUT_MS=2000: without the driver's socket.destroy() GLIDE's core would hold the process
 * until a pending op times out (2 s, well past the bound on lingering).
 */
async function closeTiming(configs: readonly TargetConfig[], frozen: boolean,
  before: () => void): Promise<{ closeMs: number; lingerMs: number; pending: string; stdout: string }> {
  const env = { ...process.env, CONFIGS: JSON.stringify(configs), OP_TIMEOUT_MS: '2000', FROZEN: frozen ? '1' : '0' };
  const child = spawn(process.execPath, ['--input-type=module', '-e', CLOSE_CHILD], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  let stdout = '';
  let closedAt = 0;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('connected\n')) resolve();
      if (/closed \d+ \w+\n/.test(stdout) && closedAt === 0) closedAt = Date.now();
    });
    child.on('exit', () => reject(new Error(`child exited early: ${stdout}`)));
  });
  before();
  child.stdin.write('go\n');
  const code = await exited;
  assert.equal(code, 0, stdout);
  const m = /closed (\d+) (\w+)/.exec(stdout);
  return { closeMs: Number(m?.[1]), lingerMs: Date.now() - closedAt, pending: m?.[2] ?? '', stdout };
}

describe('close()', () => {
  it('healthy standalone (cache on) and cluster (replica reads): close returns at once, a pending op is rejected, the process exits', async () => {
    const { closeMs, lingerMs, pending, stdout } = await closeTiming([
      glide('S', [single.address], { cache: 'tracking' }),
      glide('C', clusterAddresses(), { readFrom: 'replica' }),
    ], false, () => undefined);
    assert.ok(closeMs < 200 && lingerMs < 1200, `close ${closeMs} ms, then alive ${lingerMs} ms`);
    assert.ok(['ConnectionLostError', 'answered'].includes(pending), pending);
    assert.doesNotMatch(stdout, /logger_core/);
  });

  it('a frozen (SIGSTOP) server: an op times out (no GLIDE log line), close returns at once, the pending op fails as a lost connection, the process exits', async () => {
    try {
      const { closeMs, lingerMs, pending, stdout } = await closeTiming([glide('S', [single.address])], true, () => {
        process.kill(single.server.process.pid, 'SIGSTOP');
      });
      assert.match(stdout, /late OpTimeoutError\n/);
      assert.ok(closeMs < 200 && lingerMs < 1200, `close ${closeMs} ms, then alive ${lingerMs} ms`);
      assert.equal(pending, 'ConnectionLostError');
      // The timed-out op made GLIDE's core log a warning, which would have gone to stdout.
      assert.doesNotMatch(stdout, /logger_core|WARN/);
    } finally {
      process.kill(single.server.process.pid, 'SIGCONT');
    }
  });
});
