import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startMemcacheds } from '../../src/local/memcached.js';
import { findFreePorts } from '../../src/local/ports.js';
import type { RedisServer } from '../../src/local/redis.js';
import type { LoadResult } from '../../src/load/summary.js';
import { runCli } from '../helpers/cli.js';
import { docIn, memcachedStats as stats } from '../helpers/server-checks.js';
import { tempDir } from '../helpers/servers.js';

/** The pool's counters of the commands a WORKLOAD sends, added over its servers. */
async function poolCounts(ports: readonly number[]): Promise<Record<string, number>> {
  const all = await Promise.all(ports.map((p) => stats(p)));
  const sum = (k: string): number => all.reduce((n, s) => n + (s.get(k) ?? 0), 0);
  return {
    get: sum('cmd_get'), set: sum('cmd_set'), incr: sum('incr_hits') + sum('incr_misses'), decr: sum('decr_hits') + sum('decr_misses'),
    delete: sum('delete_hits') + sum('delete_misses'), touch: sum('cmd_touch'), items: sum('curr_items'),
  };
}

const root = tempDir('cachebench-memcache-mix-');
let servers: RedisServer[] = [];
before(async () => {
  servers = await startMemcacheds(await findFreePorts(2), { dir: root.dir });
});
after(async () => {
  await Promise.all(servers.map((s) => s.process.stop()));
  root.remove();
});

const SETTINGS = 'MODE: throughput\nDURATION: 3\nWARMUP_SECONDS: 0\nCLIENTS: 4\nCONNECTIONS: 2\nPAYLOAD_BYTES: 64\nKEYSPACE: 200\n';

describe('WORKLOAD and TRACE against a memcached pool (its text protocol)', () => {
  it('GET, MGET, SET … EX, DEL, INCR, INCRBY, DECRBY (stopping at 0) and EXPIRE (touch): every reply verified, the pool counted exactly what was sent', async () => {
    const ports = servers.map((s) => s.port);
    const env = { M_SERVERS: ports.map((p) => `127.0.0.1:${p}`).join(','), M_PROTOCOL: 'memcache', CI: 'true' };
    const mixes: Record<string, string> = {
      // Counters going down more than up: DECRBY reaches 0 and stays there (memcached's counters are unsigned).
      counters: '"30:INCR {key}, 20:INCRBY {key} {int:3}, 30:DECRBY {key} {int:10}, 20:GET {key}"',
      // MGET of one key twice: memcached would answer it twice; it is asked once.
      strings: '"45:GET {key}, 25:SET {key} {value}; EXPIRE {key} 600, 15:DEL {key}, 10:EXPIRE {key} 900, 5:MGET {key} {key}"',
      fanout: 'fanout',
    };
    const files = Object.entries(mixes).map(([name, mix]) => {
      const file = join(root.dir, `${name}.yaml`);
      writeFileSync(file, `${SETTINGS}WORKLOAD: ${mix}\n`);
      return file;
    });
    const before = await poolCounts(ports);
    const out = join(root.dir, 'mixes');
    const run = await runCli(['run', ...files, '--out', out], { env, timeoutMs: 120_000 });
    assert.equal(run.code, 0, run.stderr + run.stdout);
    const afterRun = await poolCounts(ports);
    const doc = docIn(out);
    const sent: Record<string, number> = { get: 0, set: 0, incr: 0, decr: 0, delete: 0, touch: 0 };
    const add = (command: string, n: number, keys = 1): void => {
      const k = { GET: 'get', MGET: 'get', SET: 'set', INCR: 'incr', INCRBY: 'incr', DECR: 'decr', DECRBY: 'decr', DEL: 'delete', EXPIRE: 'touch' }[command];
      assert.ok(k !== undefined, command);
      sent[k] = (sent[k] ?? 0) + n * keys;
    };
    for (const name of Object.keys(mixes)) {
      const e = doc.results.find((r) => r.scenario.name === name);
      const load = e?.load as LoadResult;
      assert.ok(load?.commands !== undefined, `${name}: ${JSON.stringify(e?.error)}`);
      for (const c of load.commands) {
        assert.ok(c.ops > 0, `${name} ${c.command}`);
        assert.equal(c.service.errors, 0, `${name} ${c.command}: ${JSON.stringify(load.record.errorMessages)}`);
        assert.equal(c.verified, c.ops, `${name} ${c.command}: ${c.verified} of ${c.ops} (missing ${c.missing}, mismatched ${c.mismatched}, unverified ${c.unverified})`);
        // memcached counts each key of a multi-key get.
        add(c.command, c.ops, c.command === 'MGET' && name === 'fanout' ? 10 : 1);
      }
      for (const [command, n] of Object.entries(load.record.housekeeping ?? {})) add(command, n);
      // The preload deletes each key, then sets it; the clean-up deletes each key.
      add('DEL', 200 * 2);
      add('SET', 200);
    }
    for (const k of Object.keys(sent)) assert.equal((afterRun[k] ?? 0) - (before[k] ?? 0), sent[k], `${k}: the pool's count against what cachebench sent`);
    // The DECRBYs stopped at 0 (memcached's counters are unsigned), and the model said so: every one verified above.
    assert.match(run.stdout, /\| M +\| DECRBY +\|/);
    assert.equal(afterRun.items, 0, 'every key deleted');
  });

  it('a trace replays against memcached: an incr of a missing key is answered nil (memcached creates none), verified', async () => {
    const ports = servers.map((s) => s.port);
    const file = join(root.dir, 'trace.csv');
    const gen = await runCli(['trace-gen', file, '--ops', '1600', '--rate', '400', '--keys', '200', '--seed', '5'], { timeoutMs: 30_000 });
    assert.equal(gen.code, 0, gen.stderr);
    const out = join(root.dir, 'trace');
    const run = await runCli(['run', '--out', out], {
      env: { M_SERVERS: ports.map((p) => `127.0.0.1:${p}`).join(','), M_PROTOCOL: 'memcache', MODE: 'throughput', TRACE: file, WARMUP_SECONDS: '0', CLIENTS: '10', CI: 'true' },
      timeoutMs: 60_000,
    });
    assert.equal(run.code, 0, run.stderr + run.stdout);
    const load = docIn(out).results[0]?.load as LoadResult;
    for (const c of load.commands ?? []) assert.equal(c.verified, c.ops, `${c.command}: ${c.verified} of ${c.ops}`);
    assert.equal(load.record.sent, load.record.scheduled);
    assert.ok((load.keyspace?.hits ?? 0) > 0 && (load.trace?.refills ?? 0) > 0);
    const all = await Promise.all(ports.map((p) => stats(p)));
    assert.ok(all.reduce((n, s) => n + (s.get('incr_misses') ?? 0), 0) > 0, 'some incr found no key');
    assert.equal((await poolCounts(ports)).items, 0, 'every key deleted');
  });

  it('a mix with commands memcached does not have is refused before any traffic, naming them', async () => {
    const ports = servers.map((s) => s.port);
    const before = await poolCounts(ports);
    const run = await runCli(['run'], {
      env: { M_SERVERS: `127.0.0.1:${ports[0]}`, M_PROTOCOL: 'memcache', MODE: 'throughput', KEYSPACE: '100', WORKLOAD: 'ycsb-a', CI: 'true' }, timeoutMs: 30_000,
    });
    assert.equal(run.code, 2, run.stdout);
    assert.match(run.stderr, /WORKLOAD="ycsb-a".*HGETALL, HSET, which memcached's protocol does not have.*Fix: /);
    assert.deepEqual(await poolCounts(ports), before);
  });
});
