/**
 * Latency runs with a WORKLOAD against real servers: each target's one client runs the mix on its preloaded keys, an
 * iteration is INVOCATION_COUNT ops (the pilot's count otherwise), every reply verified, the ops per command in
 * results.json, the console, report.md and results.csv; the server's commandstats equal what cachebench says it sent.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ResultEntry } from '../../src/report/document.js';
import { runCli } from '../helpers/cli.js';
import { commandCount, connect, driverTargets, scanKeys, suiteServers, tempDir } from '../helpers/servers.js';
import { commandStats, docIn, plantForeign, serverCommands } from '../helpers/server-checks.js';

const root = tempDir('cachebench-latency-mix-');
after(() => root.remove());

/** A string mix: reads, writes (an MSET clears TTLs: EXPIREs follow it), a sequence, a transaction and a script. */
const MIX = '8:GET {key}, 2:SET {key} {value}, 1:MSET {keys:2} {value}, 1:SET {key} {value} EX 60; EXPIRE {key} 90; GET {key}, 1:MULTI; SET {key} {value} EX 60; GET {key}; EXEC, ' +
  '1:EVAL; SET {key} {value} EX 60; GET {key}; TTL {key}';

/** The entry's mix, every reply of every measured op verified and none failed; its ops per command. */
function verifiedMix(e: ResultEntry | undefined): Map<string, number> {
  assert.ok(e?.mix, `no mix for ${e?.target.name ?? '?'}: ${JSON.stringify(e?.error)}`);
  assert.equal(e.state, 'completed');
  const ops = new Map<string, number>();
  for (const c of e.mix.commands) {
    assert.equal(c.service.errors, 0, `${e.target.name} ${c.command}: failed ops`);
    assert.equal(c.verified, c.ops, `${e.target.name} ${c.command}: ${c.verified} verified of ${c.ops} (missing ${c.missing}, mismatched ${c.mismatched}, unverified ${c.unverified})`);
    ops.set(c.command, c.ops);
  }
  assert.equal(e.verification.missing + e.verification.mismatched, 0);
  return ops;
}

describe('latency runs with a WORKLOAD against real servers', () => {
  const servers = suiteServers({ before, after });

  it('interleaved op by op on one server through ioredis and resp: the same ops on both, every reply verified, the server\'s counts equal what was sent, no key left', async () => {
    const { server } = servers;
    const check = await plantForeign(server.server.port);
    const out = join(root.dir, 'standalone');
    const before = await commandStats(server.server.port);
    const result = await runCli(['run', '--out', out, '--envVars', `WORKLOAD:${MIX}`, 'KEYSPACE:100', 'PAYLOAD_BYTES:64', 'INTERLEAVE:key', 'INVOCATION_COUNT:150',
      'WARMUP_ITERATIONS:0', 'MIN_ITERATIONS:6', 'MAX_ITERATIONS:6'], {
      env: { IOR_SERVERS: server.address, IOR_CLIENT: 'ioredis', OWN_SERVERS: server.address, OWN_CLIENT: 'resp', CI: 'true' },
    });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const afterStats = await commandStats(server.server.port);
    const doc = docIn(out);
    const [ior, own] = ['IOR', 'OWN'].map((name) => doc.results.find((e) => e.target.name === name));
    const opsIor = verifiedMix(ior);
    const opsOwn = verifiedMix(own);
    // One seed for both clients, one op each in turn: the same entries on the same keys.
    assert.deepEqual([...opsOwn].sort(), [...opsIor].sort());
    for (const e of [ior, own]) {
      assert.equal(e?.iterations.measured, 6);
      assert.equal(e?.iterations.invocations, 150);
      assert.equal(e?.mix?.warmupOps, 0);
      assert.equal([...(e?.mix?.commands ?? [])].reduce((n, c) => n + c.ops, 0), 6 * 150, 'an iteration is INVOCATION_COUNT ops');
      assert.equal(e?.mix?.keys, 100);
    }
    assert.ok(['MULTI(SET+GET)', 'EVAL(SET+GET+TTL)', 'EXPIRE', 'GET', 'SET', 'MSET'].every((c) => opsIor.has(c)), [...opsIor.keys()].join(' '));
    // The server counted exactly: the preload (DEL, SET … EX per key), the ops, what was sent besides them, the clean-up.
    const expected = new Map<string, number>();
    const add = (command: string, n: number): void => void expected.set(command, (expected.get(command) ?? 0) + n);
    for (const e of [ior, own]) {
      for (const [name, n] of verifiedMix(e)) for (const command of serverCommands(name)) add(command, n);
      for (const [command, n] of Object.entries(e?.mix?.housekeeping ?? {})) add(command, n);
      add('DEL', 200);
      add('SET', 100);
    }
    // The MSETs' keys got their EXPIRE; each client's first script went whole once (NOSCRIPT) at most.
    assert.ok((ior?.mix?.housekeeping.EXPIRE ?? 0) > 0);
    assert.ok((ior?.mix?.housekeeping.EVAL ?? 0) + (own?.mix?.housekeeping.EVAL ?? 0) <= 2);
    for (const command of new Set([...expected.keys(), 'GET', 'SET', 'DEL', 'EXPIRE', 'TTL', 'MULTI', 'EXEC', 'EVAL', 'EVALSHA', 'MSET'])) {
      assert.equal((afterStats.get(command) ?? 0) - (before.get(command) ?? 0), expected.get(command) ?? 0, `${command}: the server's count against what cachebench sent`);
    }
    // The console, report.md and results.csv show the table per command.
    assert.match(result.stdout, /WORKLOAD 8:GET \{key\}.* on 100 preloaded string keys per target/);
    assert.match(result.stdout, /\| OWN +\| MULTI\(SET\+GET\) +\|/);
    const run = join(out, readdirSync(out)[0] as string);
    assert.match(readFileSync(join(run, 'report.md'), 'utf8'), /#### Per command/);
    const csv = readFileSync(join(run, 'results.csv'), 'utf8');
    assert.match(csv, /"GET:ops=\d+,ops_per_sec=[\d.]+,p50_us=[\d.]+,p99_us=[\d.]+,p999_us=[\d.]+,failed=0,verified=\d+,missing=0,mismatched=0,unverified=0,/);
    await check();
    assert.deepEqual(await scanKeys(server.server.port, 'cachebench:*'), []);
  });

  it('reads from replicas that apply their primary\'s writes late (CLIENT PAUSE WRITE) through ioredis, node-redis and GLIDE: earlier states counted stale with their ages, none mismatched', async () => {
    const redisCluster = servers.cluster;
    const replicas = redisCluster.cluster.nodes.slice(3);
    const getsOn = async (): Promise<number> => (await Promise.all(replicas.map((r) => commandCount(r.port, 'get')))).reduce((a, b) => a + b, 0);
    const getsBefore = await getsOn();
    const env = driverTargets(redisCluster.addresses, [['IOR', 'ioredis'], ['NODE', 'node-redis'], ['GLIDE', 'glide']], { READ_FROM: 'replica' });
    // A paused replica serves reads but applies none of its primary's writes: for 300 ms of every 600 ms, in a bounded loop.
    const admins = replicas.map((r) => connect(r.port));
    let stop = false;
    const pauser = (async () => {
      for (let n = 0; n < 200 && !stop; n++) {
        await Promise.all(admins.map((a) => a.call('CLIENT', 'PAUSE', '300', 'WRITE')));
        await new Promise((resolve) => setTimeout(resolve, 600));
      }
    })();
    const out = join(root.dir, 'replicas');
    const mix = '5:GET {key}, 4:SET {key} {value}; GET {key}, 1:MGET {keys:2}';
    let result: Awaited<ReturnType<typeof runCli>>;
    try {
      result = await runCli(['run', '--out', out, '--envVars', `WORKLOAD:${mix}`, 'KEYSPACE:1000', 'PAYLOAD_BYTES:64', 'ITERATION_TIME_MS:100', 'MIN_ITERATIONS:10',
        'MAX_ITERATIONS:30', 'MAX_TIME:15'], { env, timeoutMs: 120_000 });
    } finally {
      stop = true;
      await pauser;
      for (const a of admins) a.disconnect();
    }
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const doc = docIn(out);
    for (const e of doc.results) {
      assert.equal(e.target.readFrom, 'replica');
      assert.ok(e.mix, e.target.name);
      assert.equal(e.verification.missing + e.verification.mismatched, 0, `${e.target.name}: ${JSON.stringify(e.verification)}`);
      const stale = e.mix.commands.reduce((n, c) => n + (c.stale ?? 0), 0);
      assert.ok(stale > 0 && e.staleness !== null && e.staleness.reads >= stale, `${e.target.name}: ${stale} stale of ${JSON.stringify(e.staleness)}`);
      // The writes (SET) go to the primaries: never stale.
      assert.equal(e.mix.commands.find((c) => c.command === 'SET')?.stale, 0);
      // A replica paused for 300 ms serves states replaced up to about that long ago (plus scheduling), never older than the run.
      assert.ok((e.staleness.ages.maxUs ?? Infinity) < 3_000_000, `${e.target.name}: ages ${JSON.stringify(e.staleness.ages)}`);
      for (const c of e.mix.commands) assert.equal(c.mismatched + c.missing, 0, `${e.target.name} ${c.command}`);
    }
    // The reads really went to the replicas; the table shows Stale per command.
    assert.ok((await getsOn()) - getsBefore > 1000);
    // Columns are padded to their widest cell (a Stale count of 10,000 or more widens the header).
    assert.match(result.stdout, /\| Mismatched \| +Stale \|/);
  });

  it('on a Redis Cluster through ioredis, node-redis, GLIDE and resp with the pilot: a fan-out of one hash tag and a transaction on it, every reply verified, no key left', async () => {
    const redisCluster = servers.cluster;
    const ports = redisCluster.cluster.nodes.slice(0, 3).map((n) => n.port);
    const checks = await Promise.all(ports.map((p) => plantForeign(p).catch(() => undefined)));
    const env = driverTargets(redisCluster.addresses, [['IOR', 'ioredis'], ['NODE', 'node-redis'], ['GLIDE', 'glide'], ['OWN', 'resp']]);
    const out = join(root.dir, 'cluster');
    const mix = '6:GET {key}, 2:MGET {keys:4}, 1:MSET {keys:4} {value}, 1:MULTI; SET {key} {value} EX 60; MGET {keys:4}; EXEC';
    const result = await runCli(['run', '--out', out, '--envVars', `WORKLOAD:${mix}`, 'KEYSPACE:400', 'PAYLOAD_BYTES:64', 'ITERATION_TIME_MS:50', 'MIN_ITERATIONS:4',
      'MAX_ITERATIONS:6', 'MAX_TIME:60'], { env, timeoutMs: 120_000 });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const doc = docIn(out);
    assert.equal(doc.results.length, 4);
    for (const e of doc.results) {
      const ops = verifiedMix(e);
      assert.ok(['GET', 'MGET', 'MSET', 'MULTI(SET+MGET)'].every((c) => (ops.get(c) ?? 0) > 0), `${e.target.name}: ${[...ops.keys()].join(' ')}`);
      // The pilot sized the iterations in warm-up rounds, whose ops are counted apart.
      assert.ok(e.iterations.pilotMs !== null && (e.mix?.warmupOps ?? 0) > 0, `${e.target.name}: pilot ${e.iterations.pilotMs}, warm-up ops ${e.mix?.warmupOps}`);
      assert.equal([...ops.values()].reduce((n, x) => n + x, 0), e.iterations.measured * e.iterations.invocations);
    }
    for (const check of checks) await check?.();
    for (const port of ports) assert.deepEqual(await scanKeys(port, 'cachebench:*'), [], `keys left on ${port}`);
  });
});
