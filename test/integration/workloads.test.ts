import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUILTIN_WORKLOADS, MIX_COMMANDS } from '../../src/config/workload.js';
import type { LoadResult } from '../../src/load/summary.js';
import { runCli } from '../helpers/cli.js';
import { connect, driverTargets, scanKeys, suiteServers, tempDir } from '../helpers/servers.js';
import { commandStats, docIn, plantForeign, serverCommands } from '../helpers/server-checks.js';

const root = tempDir('cachebench-workloads-');
after(() => root.remove());

/**
 * Watches the run's keys while `run` lasts: a key without a TTL (PTTL -1: a write just created it) must have one a
 * moment later (the EXPIRE the client sends after the write). SCAN and PTTL are not commands a WORKLOAD sends, so the
 * commandstats check is unaffected. Returns the keys seen and those without a TTL at every look for 1 s (ten looks,
 * 100 ms apart): a key an MSET {keys:4} rewrites every few ms is without a TTL for a moment each time, until its
 * EXPIRE, and two looks a second apart could each fall in such a moment (they did, in CI).
 */
async function watchTtls(port: number, run: Promise<unknown>): Promise<{ looked: number; lasting: string[] }> {
  let done = false;
  void run.finally(() => {
    done = true;
  });
  const redis = connect(port);
  const lasting: string[] = [];
  let looked = 0;
  const pttls = async (keys: readonly string[]): Promise<number[]> => {
    const pipe = redis.pipeline();
    for (const k of keys) pipe.pttl(k);
    return ((await pipe.exec()) ?? []).map(([, v]) => Number(v));
  };
  try {
    while (!done) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', 'cachebench:*', 'COUNT', 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      looked += keys.length;
      let bare = (await pttls(keys)).flatMap((t, i) => (t === -1 ? [keys[i] as string] : []));
      for (let look = 0; look < 10 && bare.length > 0; look++) {
        await new Promise((r) => setTimeout(r, 100));
        const still = await pttls(bare);
        bare = bare.filter((_, i) => still[i] === -1);
      }
      lasting.push(...bare);
    }
  } finally {
    redis.disconnect();
  }
  return { looked, lasting };
}

/** Preload commands per key, by the workload's data type (workload/mix-model.ts): DEL first, then the key's data and TTL. */
const PRELOAD: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  string: { DEL: 1, SET: 1 }, counter: { DEL: 1, SET: 1 }, hash: { DEL: 1, HSET: 1, EXPIRE: 1 }, list: { DEL: 1, RPUSH: 1, EXPIRE: 1 },
  zset: { DEL: 1, ZADD: 1, EXPIRE: 1 },
};
const TYPE: Readonly<Record<string, string>> = {
  'ycsb-a': 'hash', 'ycsb-b': 'hash', 'ycsb-c': 'hash', 'ycsb-d': 'hash', 'ycsb-f': 'hash', session: 'hash', counters: 'counter', leaderboard: 'zset', queue: 'list', fanout: 'string',
};

/** Asserts that every reply of every command of a result was verified, and returns its ops per command. */
function allVerified(load: LoadResult, what: string): Map<string, number> {
  const commands = load.commands ?? [];
  assert.ok(commands.length > 0, `${what}: no per-command results`);
  const ops = new Map<string, number>();
  for (const c of commands) {
    assert.ok(c.ops > 0, `${what} ${c.command}: no ops`);
    assert.equal(c.service.errors, 0, `${what} ${c.command}: failed ops`);
    assert.equal(c.verified, c.ops, `${what} ${c.command}: ${c.verified} verified of ${c.ops} (missing ${c.missing}, mismatched ${c.mismatched}, unverified ${c.unverified})`);
    ops.set(c.command, c.ops);
  }
  assert.equal(load.record.unverified, 0);
  assert.equal(load.record.mismatched + load.record.missing, 0);
  return ops;
}

/** A string mix with a transaction and a script on a {keys:4} group (the hash tag of the entry's {key}). */
const ATOMIC_MIX = '40:GET {key}, 20:MULTI; SET {key} {value}; MGET {keys:4}; EXPIRE {key} 30; TTL {key}; EXEC, ' +
  '20:EVAL; SET {key} {value} EX 60; GET {key}; TTL {key}; DEL {keys:4}, 20:MSET {keys:4} {value}';

const SETTINGS = 'MODE: throughput\nDURATION: 3\nWARMUP_SECONDS: 0\nCLIENTS: 4\nCONNECTIONS: 2\nPAYLOAD_BYTES: 64\nKEYSPACE: 200\n';

describe('WORKLOAD runs against real servers', () => {
  const servers = suiteServers({ before, after });

  it('every built-in through cachebench\'s own RESP client: every reply verified, the server received exactly the commands counted (and the preload and clean-up), foreign keys untouched, no key left', async () => {
    const { server } = servers;
    const check = await plantForeign(server.server.port);
    const names = Object.keys(BUILTIN_WORKLOADS);
    const files = names.map((name) => {
      const file = join(root.dir, `${name}.yaml`);
      writeFileSync(file, `${SETTINGS}WORKLOAD: ${name}\n`);
      return file;
    });
    // A transaction and a script of a string mix besides (their commands counted by the server one by one).
    const atomic = join(root.dir, 'atomic.yaml');
    writeFileSync(atomic, `${SETTINGS}WORKLOAD: "${ATOMIC_MIX}"\n`);
    const before = await commandStats(server.server.port);
    // Two runs at once, five built-ins each (the server's counts add up either way; each run has its own keys).
    const outs = [0, 1].map((h) => join(root.dir, `standalone-${h}`));
    const run = Promise.all(outs.map((out, h) => runCli(['run', ...files.filter((_, i) => i % 2 === h), ...(h === 1 ? [atomic] : []), '--out', out],
      { env: { REDIS_SERVERS: server.address, CI: 'true' }, timeoutMs: 180_000 })));
    const watch = watchTtls(server.server.port, run);
    const results = await run;
    for (const result of results) assert.equal(result.code, 0, result.stderr + result.stdout);
    const ttls = await watch;
    assert.ok(ttls.looked > 1000, `the watch saw ${ttls.looked} keys`);
    assert.deepEqual(ttls.lasting, [], 'keys of the run without a TTL for longer than a write and its EXPIRE');
    const after = await commandStats(server.server.port);
    const docs = outs.map(docIn);
    const doc = { results: docs.flatMap((d) => d.results) };
    const expected = new Map<string, number>();
    const add = (command: string, n: number): void => void expected.set(command, (expected.get(command) ?? 0) + n);
    for (const name of names) {
      const entry = doc.results.find((e) => e.scenario.name === name);
      assert.ok(entry?.load, `${name}: ${JSON.stringify(entry?.error)}`);
      assert.equal(entry.load.settings.workload, name);
      for (const [command, n] of allVerified(entry.load, name)) add(command, n);
      // Sent outside the measurement: EXPIRE after a write that created a key (session's DEL then HSET; queue's RPOP
      // emptying a list), DEL and the preload again for a key the model lost.
      for (const [command, n] of Object.entries(entry.load.record.housekeeping ?? {})) add(command, n);
      for (const [command, n] of Object.entries(PRELOAD[TYPE[name] as string] as Record<string, number>)) add(command, n * 200);
      // The clean-up deletes each key by name.
      add('DEL', 200);
    }
    const mixed = doc.results.find((e) => e.scenario.name === 'atomic');
    assert.ok(mixed?.load, JSON.stringify(mixed?.error));
    for (const [name, n] of allVerified(mixed.load, 'atomic')) for (const command of serverCommands(name)) add(command, n);
    assert.ok(['MULTI(SET+MGET+EXPIRE+TTL)', 'EVAL(SET+GET+TTL+DEL)'].every((name) => (mixed.load?.commands ?? []).some((c) => c.command === name)));
    // The EVAL sent after NOSCRIPT (the server learns the script from the first; concurrent first calls may each send one).
    const evals = mixed.load.record.housekeeping?.EVAL ?? 0;
    assert.ok(evals >= 1 && evals <= 4, `${evals} EVAL`);
    for (const [command, n] of Object.entries(mixed.load.record.housekeeping ?? {})) add(command, n);
    for (const [command, n] of Object.entries(PRELOAD.string as Record<string, number>)) add(command, n * 200);
    add('DEL', 200);
    for (const command of new Set([...Object.keys(MIX_COMMANDS), ...expected.keys()])) {
      assert.equal((after.get(command) ?? 0) - (before.get(command) ?? 0), expected.get(command) ?? 0, `${command}: the server's count against what cachebench sent`);
    }
    // ycsb-a ran in the first run: its table, results.csv (the mix, its values and its commands in columns) and report.
    const [out, result] = [outs[0] as string, results[0] as (typeof results)[number]];
    assert.match(result.stdout, /\| REDIS {2}\| HGETALL \|/);
    const csv = readFileSync(join(out, readdirSync(out)[0] as string, 'results.csv'), 'utf8');
    const row = csv.split('\n').find((line) => line.includes(',ycsb-a,100,300,0,')) ?? '';
    assert.match(row, /,ycsb-a,100,300,0,\d+,100,100,"/);
    for (const command of ['HGETALL', 'HSET']) {
      assert.match(row, new RegExp(`${command}:ops=\\d+,ops_per_sec=[\\d.]+,p50_us=[\\d.]+,p99_us=[\\d.]+,p999_us=[\\d.]+,failed=0,verified=\\d+,missing=0,mismatched=0,unverified=0,bytes_out=\\d+,bytes_in=\\d+`));
    }
    assert.match(readFileSync(join(out, readdirSync(out)[0] as string, 'report.md'), 'utf8'), /#### Per command/);
    await check();
    assert.deepEqual(await scanKeys(server.server.port, 'cachebench:*'), []);
  });

  it('on a Redis Cluster through ioredis, node-redis, GLIDE and resp: an MGET fan-out of one hash tag, a transaction and a script on it, every reply verified, no key left', async () => {
    const redisCluster = servers.cluster;
    const ports = redisCluster.cluster.nodes.slice(0, 3).map((n) => n.port);
    const checks = await Promise.all(ports.map((p) => plantForeign(p).catch(() => undefined)));
    const env = driverTargets(redisCluster.addresses, [['IOR', 'ioredis'], ['NODE', 'node-redis'], ['GLIDE', 'glide'], ['OWN', 'resp']]);
    // Each driver's replies of every command are checked byte for byte in commands.test.ts; here the whole path.
    const files = ['fanout'].map((name) => {
      const file = join(root.dir, `cluster-${name}.yaml`);
      // The fan-out, and a transaction and a script on its {keys:10} groups.
      writeFileSync(file, `${SETTINGS}WORKLOAD: "${BUILTIN_WORKLOADS.fanout?.mix ?? ''}, 10:MULTI; SET {key} {value}; MGET {keys:10}; EXEC, ` +
      '10:EVAL; MSET {keys:10} {value}; GET {key}; TTL {key}"\nSLICE_SECONDS: 0\n');
      return file;
    });
    const out = join(root.dir, 'cluster');
    const result = await runCli(['run', ...files, '--out', out], { env, timeoutMs: 180_000 });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const doc = docIn(out);
    assert.equal(doc.results.length, 4);
    for (const e of doc.results) {
      assert.ok(e.load, `${e.scenario.name} ${e.target.name}: ${JSON.stringify(e.error)}`);
      const ops = allVerified(e.load, `${e.scenario.name} ${e.target.name}`);
      assert.deepEqual([...ops.keys()].sort(), ['EVAL(MSET+GET+TTL)', 'MGET', 'MULTI(SET+MGET)', 'SET'], e.target.name);
      // The fan-out's keys are spread over the cluster's three primaries (one hash tag per group, not one for all).
      if (e.scenario.name === 'cluster-fanout') assert.equal(e.load.nodes?.filter((n) => n.ops > 0).length, 3, JSON.stringify(e.load.nodes));
    }
    for (const c of checks) await c?.();
    for (const p of ports) assert.deepEqual(await scanKeys(p, 'cachebench:*'), []);
  });

  it('a mix that reaches beyond the run is refused before any traffic: exit 2, and the server sees no command', async () => {
    const { server } = servers;
    const before = await commandStats(server.server.port);
    for (const [mix, says] of [['9:GET {key}, 1:FLUSHALL', 'FLUSHALL is refused'], ['1:DEL {key} app:x', 'does not fit DEL'], ['1:GET app:x, 1:GET {key}', 'names no key of the run']] as const) {
      const result = await runCli(['run', '--mode', 'throughput', '--envVars', 'KEYSPACE:100', `WORKLOAD:${mix}`], { env: { REDIS_SERVERS: server.address, CI: 'true' } });
      assert.equal(result.code, 2, result.stderr);
      assert.ok(result.stderr.includes(says), result.stderr);
      assert.match(result.stderr, /Fix: /);
    }
    const afterStats = await commandStats(server.server.port);
    for (const command of Object.keys(MIX_COMMANDS)) assert.equal(afterStats.get(command) ?? 0, before.get(command) ?? 0, command);
  });
});
