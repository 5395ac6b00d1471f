import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { createRequire } from 'node:module';
import { ConfigError } from '../../src/config/errors.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { BUILTIN_WORKLOADS, MIX_COMMANDS, OP_NAME, REFUSED_COMMANDS, opName, parseWorkload, type MixCommand } from '../../src/config/workload.js';
import { Scripts, keyPositions, scriptText } from '../../src/workload/lua.js';
import { LOCAL_TARGETS } from '../../src/local/catalog.js';
import { createHash } from 'node:crypto';
import { MixKeys, mixPicker } from '../../src/workload/mix-keys.js';
import { mergeRecords, type LoadRecord } from '../../src/load/record.js';
import { CommandStats } from '../../src/workload/command-stats.js';
import { OpHistogram } from '../../src/measure/histogram.js';
import { seededRandom } from '../../src/measure/random.js';
import { MixModel, MixValues, range, zsetOrder, type Draw } from '../../src/workload/mix-model.js';
import { input, rejects } from '../helpers/config.js';

/** The slot function ioredis routes by (an implementation independent of cachebench's). */
const calculateSlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;
const SOURCE = { kind: 'envVars' } as const;
const parseFails = (raw: string, ...fragments: string[]): void => {
  assert.throws(() => parseWorkload(raw, SOURCE), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    for (const f of fragments) assert.ok(error.message.includes(f), `${JSON.stringify(error.message)} lacks ${JSON.stringify(f)}`);
    assert.match(error.message, /^WORKLOAD=.*\(from --envVars\): .*Fix: /s);
    return true;
  });
};

describe('WORKLOAD: the grammar', () => {
  it('parses weights, sequences, placeholders and key patterns', () => {
    const w = parseWorkload('9:GET {key:zipf:0.99}, 1:SET {key} {value:64}; EXPIRE {key} 30; GET {key}', SOURCE);
    assert.ok(w !== null);
    assert.equal(w.name, 'custom');
    assert.deepEqual(w.entries.map((e) => e.weight), [9, 1]);
    assert.deepEqual(w.entries[0]?.pattern, { kind: 'zipf', exponent: 0.99 });
    assert.equal(w.entries[1]?.pattern, null);
    assert.deepEqual(w.entries[1]?.commands.map((c) => c.name), ['SET', 'EXPIRE', 'GET']);
    assert.deepEqual(w.entries[1]?.commands[0]?.args, [{ kind: 'key' }, { kind: 'value', bytes: 64 }]);
    assert.equal(w.keyType, 'string');
    assert.equal(parseWorkload('  ', SOURCE), null);
  });

  it('every built-in parses to one data type, and the README documents each with its exact mix', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
    const types: Record<string, string> = {};
    for (const [name, b] of Object.entries(BUILTIN_WORKLOADS)) {
      const w = parseWorkload(name.toUpperCase(), SOURCE);
      assert.ok(w !== null && w.name === name);
      types[name] = w.keyType;
      assert.ok(readme.includes(`| \`${name}\` |`), `README lacks a row for ${name}`);
      assert.ok(readme.includes(b.mix.replace(/\|/g, '\\|')), `README lacks the mix of ${name}`);
    }
    assert.deepEqual(types, {
      'ycsb-a': 'hash', 'ycsb-b': 'hash', 'ycsb-c': 'hash', 'ycsb-d': 'hash', 'ycsb-f': 'hash', session: 'hash', counters: 'counter', leaderboard: 'zset', queue: 'list', fanout: 'string',
    });
    assert.equal(parseWorkload('fanout', SOURCE)?.width, 10);
  });

  it('refuses every command that reaches beyond the run\'s keys, naming it and why', () => {
    for (const c of ['FLUSHALL', 'FLUSHDB', 'KEYS', 'SCAN', 'CONFIG', 'SHUTDOWN', 'DEBUG', 'SCRIPT', 'MIGRATE', 'EVALSHA', 'FCALL', 'WATCH', 'CLUSTER', 'RENAME']) {
      assert.ok(REFUSED_COMMANDS[c] !== undefined, c);
      parseFails(`1:${c.toLowerCase()} {key}`, `${c} is refused`, REFUSED_COMMANDS[c] as string);
    }
    // No command is both verified and refused.
    for (const c of Object.keys(MIX_COMMANDS)) assert.equal(REFUSED_COMMANDS[c], undefined, c);
  });

  it('refuses a key that is not the placeholder, unknown commands, bad weights and placeholders, mixed types', () => {
    parseFails('1:GET somekey, 1:GET {key}', 'names no key of the run');
    parseFails('1:DEL {key} foreign', 'does not fit DEL');
    parseFails('1:HGETALL user:1, 1:HGETALL {key}', 'names no key of the run');
    parseFails('1:GETDEL {key}', 'GETDEL is not a command cachebench can verify');
    parseFails('0:GET {key}', 'weight');
    parseFails('1:GET {key:zipf:0}', '{key:zipf:0}');
    parseFails('1:GET {key:hot}', 'names no key pattern');
    parseFails('1:SET {key} {value:abc}', 'value bytes');
    parseFails('1:SET {key} {nope}', '"{nope}" is not a placeholder');
    parseFails('1:SET {key} x{value}', 'neither a placeholder nor a literal');
    parseFails('1:GET {key}, 1:HSET {key} {field} {value}', 'GET works on strings and HSET on hashs');
    parseFails('1:INCR {key}, 1:SET {key} {value}', 'INCR', 'not an integer');
    parseFails('1:MGET {keys:5}; GET {key}', 'mixes {keys:N} into a sequence');
    parseFails('1:GET {key:uniform}; EXPIRE {key:zipf:1} 3', 'two patterns');
    parseFails('1:LRANGE {key} {int} 5', 'does not fit LRANGE');
    parseFails('x'.repeat(10_001), 'longer than 10000 characters');
    parseFails('ycsb-z', 'not a built-in workload');
    // A SET of a literal integer keeps counters counters.
    assert.equal(parseWorkload('1:INCR {key}, 1:SET {key} 0, 1:GET {key}', SOURCE)?.keyType, 'counter');
  });

  it('transactions (MULTI; …; EXEC) and scripts (EVAL; …) are one entry each, named by their commands; misplaced brackets are refused', () => {
    const w = parseWorkload('1:MULTI; SET {key} {value}; MGET {keys:4}; EXEC, 2:eval; SET {key} {value} EX 60; GET {key}, 3:GET {key}', SOURCE);
    assert.deepEqual(w?.entries.map((e) => [e.atomic, e.commands.map((c) => c.name), opName(e, e.commands[0] as MixCommand)]), [
      ['multi', ['SET', 'MGET'], 'MULTI(SET+MGET)'], ['lua', ['SET', 'GET'], 'EVAL(SET+GET)'], [undefined, ['GET'], 'GET']]);
    assert.equal(w?.width, 4);
    for (const name of ['MULTI(SET+MGET)', 'EVAL(SET+GET)', 'GET', 'HGETALL']) assert.match(name, OP_NAME);
    for (const name of ['MULTI()', 'MULTI(FLUSHALL)', 'EVAL(GET', 'multi(GET)', 'MULTI(GET)=1+2', `MULTI(${Array(11).fill('GET').join('+')})`]) assert.doesNotMatch(name, OP_NAME);
    parseFails('1:MULTI; GET {key}', 'does not end it with EXEC');
    parseFails('1:MULTI; EXEC', 'has no commands inside');
    parseFails('1:EVAL', 'not a built-in workload');
    parseFails('1:EVAL; ; GET {key}', 'an empty command');
    parseFails('1:GET {key}; EXEC', 'EXEC stands last');
    parseFails('1:MULTI; MULTI; GET {key}; EXEC; EXEC', 'MULTI stands first');
    parseFails('1:EVAL {key}; GET {key}', 'EVAL stands first');
    parseFails('1:MULTI; MGET {keys:2}; DEL {keys:3}; EXEC', 'groups of 2 and 3 keys');
    parseFails(`1:EVAL; ${Array(11).fill('GET {key}').join('; ')}`, 'more than 10 commands');
    // Through a proxy (twemproxy forwards no MULTI, and sends a script to its first key's server): refused before traffic.
    const env = { REDIS_SERVERS: '127.0.0.1:6379', PROXY_SERVERS: '127.0.0.1:22121', PROXY_MODE: 'proxy' };
    const run = ['MODE:throughput', 'KEYSPACE:1000'];
    rejects({ env, envVars: ['WORKLOAD:1:MULTI; GET {key}; EXEC', ...run] }, 'PROXY (PROXY_MODE=proxy)', 'does not forward MULTI and EXEC', 'Fix: ');
    rejects({ env, envVars: ['WORKLOAD:1:EVAL; MGET {keys:3}', ...run] }, 'PROXY (PROXY_MODE=proxy)', 'the script names several keys', 'Fix: ');
    assert.ok(resolveConfig(input({ env, envVars: ['WORKLOAD:1:EVAL; SET {key} {value}; GET {key}', ...run] })).scenarios[0]?.controls.load.workload?.entries[0]?.atomic === 'lua');
    // The default local run (no servers named) leaves twemproxy out for them, and says so; a script of one key keeps it.
    for (const [mix, proxied] of [['1:MULTI; GET {key}; EXEC', false], ['1:EVAL; MGET {keys:2}', false], ['1:EVAL; SET {key} {value}; GET {key}', true]] as const) {
      const plan = resolveConfig(input({ defaultLocalTargets: LOCAL_TARGETS, envVars: [`WORKLOAD:${mix}`, ...run] }));
      const names = plan.targets.map((t) => t.name);
      assert.equal(names.includes('TWEMPROXY'), proxied, `${mix}: ${names.join(', ')}`);
      assert.ok(names.includes('REDIS_CLUSTER') && names.includes('REDIS_SINGLE'), names.join(', '));
      assert.equal(plan.warnings.some((w) => w.includes('cannot go through a proxy') && w.includes('TWEMPROXY')), !proxied, plan.warnings.join('\n'));
    }
    const mc = { REDIS_SERVERS: '127.0.0.1:6379', MC_SERVERS: '127.0.0.1:11211', MC_PROTOCOL: 'memcache' };
    rejects({ env: mc, envVars: ['WORKLOAD:1:MULTI; GET {key}; EXEC', ...run] }, 'MULTI … EXEC (memcached has no transactions)');
    rejects({ env: mc, envVars: ['WORKLOAD:1:EVAL; GET {key}', ...run] }, 'EVAL (memcached has no scripts)');
  });

  it('a script is each command a redis.call, keys in KEYS and the rest in ARGV, one text (and SHA1) per entry', () => {
    const scripts = new Scripts();
    const call = scripts.call([['SET', 'k1', Buffer.from('v'), 'EX', '60'], ['MGET', 'k1', 'k2'], ['MSET', 'k3', 'a', 'k4', 'b'], ['TTL', 'k1']]);
    const text = scriptText([['SET', 'x', 'y', 'EX', '1'], ['MGET', 'x', 'x'], ['MSET', 'x', 'y', 'x', 'y'], ['TTL', 'x']]);
    assert.equal(text, ['-- cachebench WORKLOAD script', 'local r = {}', "r[1] = redis.call('SET', KEYS[1], ARGV[1], ARGV[2], ARGV[3])",
      "r[2] = redis.call('MGET', KEYS[2], KEYS[3])", "r[3] = redis.call('MSET', KEYS[4], ARGV[4], KEYS[5], ARGV[5])", "r[4] = redis.call('TTL', KEYS[6])", 'return r', ''].join('\n'));
    assert.deepEqual(call.evalsha, ['EVALSHA', createHash('sha1').update(text).digest('hex'), '6', 'k1', 'k1', 'k2', 'k3', 'k4', 'k1', Buffer.from('v'), 'EX', '60', 'a', 'b']);
    assert.deepEqual(call.eval, ['EVAL', text, ...call.evalsha.slice(2)]);
    assert.deepEqual(keyPositions('DEL', 3), [true, true, true]);
    assert.throws(() => scriptText([['GET\'); os.exit() --', 'k']]), /not a command name/);
  });

  it('replica reads are judged in latency runs only; a client cache, which a WORKLOAD\'s raw commands bypass, is refused in every run', () => {
    const env = { REDIS_SERVERS: '127.0.0.1:6379', R_SERVERS: '127.0.0.1:6379', R_MODE: 'cluster', R_READ_FROM: 'replica' };
    const plan = resolveConfig(input({ env, envVars: ['WORKLOAD:ycsb-b', 'KEYSPACE:100'] }));
    assert.deepEqual([plan.scenarios[0]?.controls.load.mode, plan.targets.find((t) => t.name === 'R')?.readFrom], ['latency', 'replica']);
    rejects({ env, envVars: ['WORKLOAD:ycsb-b', 'KEYSPACE:100', 'MODE:throughput'] }, 'R_READ_FROM=replica', 'latency runs only', 'throughput run', 'MODE=latency and no FAULT');
    rejects({ env, envVars: ['WORKLOAD:ycsb-b', 'KEYSPACE:100', 'MODE:capacity', 'SLO_P99_MS:5'] }, 'R_READ_FROM=replica', 'capacity run');
    const cached = { REDIS_SERVERS: '127.0.0.1:6379', N_SERVERS: '127.0.0.1:6379', N_CLIENT: 'node-redis', N_CACHE: 'tracking' };
    for (const mode of ['latency', 'throughput']) {
      rejects({ env: cached, envVars: ['WORKLOAD:ycsb-b', 'KEYSPACE:100', `MODE:${mode}`] }, 'N_CACHE=tracking', 'raw', 'measure no cache at all', 'seed loop');
    }
  });

  it('is checked against the run: MODE, KEYSPACE, one writer per key, value sizes, memcached targets', () => {
    const env = { REDIS_SERVERS: '127.0.0.1:6379' };
    rejects({ env, envVars: ['WORKLOAD:ycsb-b'] }, 'KEYSPACE=0', 'set KEYSPACE');
    rejects({ env, envVars: ['WORKLOAD:ycsb-b', 'MODE:throughput'] }, 'KEYSPACE=0', 'set KEYSPACE');
    rejects({ env, envVars: ['WORKLOAD:fanout', 'MODE:throughput', 'KEYSPACE:100', 'CLIENTS:20'] }, 'KEYSPACE=100', 'one writer', '20 clients × 10 keys', 'need 200');
    rejects({ env, envVars: ['WORKLOAD:1:SET {key} {value:8}', 'MODE:throughput', 'KEYSPACE:1000'] }, '{value:8}', 'first 12 bytes');
    rejects({ env, envVars: ['WORKLOAD:queue', 'MODE:throughput', 'KEYSPACE:1000', 'PAYLOAD_BYTES:10'] }, 'PAYLOAD_BYTES=10', 'first 12 bytes');
    rejects({ env, envVars: ['WORKLOAD:queue', 'MODE:throughput', 'KEYSPACE:2000000', 'PAYLOAD_BYTES:100'] }, 'at most 1,000,000 keys');
    // memcached runs what its text protocol has (counters, fanout), and nothing else.
    const mc = { ...env, MC_SERVERS: '127.0.0.1:11211', MC_PROTOCOL: 'memcache' };
    for (const ok of ['counters', 'fanout', '9:GET {key}, 1:SET {key} {value}; EXPIRE {key} 60, 1:DEL {key}', '1:INCRBY {key} 5, 1:DECRBY {key} 9, 1:MGET {keys:3}']) {
      assert.ok(resolveConfig(input({ env: mc, envVars: [`WORKLOAD:${ok}`, 'MODE:throughput', 'KEYSPACE:1000'] })).scenarios[0]?.controls.load.workload !== null, ok);
    }
    rejects({ env: mc, envVars: ['WORKLOAD:session', 'MODE:throughput', 'KEYSPACE:1000'] }, 'MC is memcached', 'HGETALL, HSET, which',
      'Fix: run the WORKLOAD against RESP targets only');
    rejects({ env: mc, envVars: ['WORKLOAD:1:SET {key} {value} PX 5000', 'MODE:throughput', 'KEYSPACE:1000'] }, 'SET … PX');
    rejects({ env: mc, envVars: ['WORKLOAD:1:GET {key}, 1:TTL {key}', 'MODE:throughput', 'KEYSPACE:1000'] }, 'TTL, which memcached');
    rejects({ env: mc, envVars: ['WORKLOAD:1:INCRBY {key} -5, 1:GET {key}', 'MODE:throughput', 'KEYSPACE:1000'] }, 'INCRBY with a negative number (memcached\'s counters are unsigned)');
    const plan = resolveConfig(input({ env, envVars: ['WORKLOAD:counters', 'MODE:throughput', 'KEYSPACE:1000', 'READ_RATIO:5'] }));
    assert.equal(plan.scenarios[0]?.controls.load.workload?.name, 'counters');
    assert.ok(plan.warnings.some((w) => w.includes('READ_RATIO=5') && w.includes('does nothing with WORKLOAD=counters')), plan.warnings.join('\n'));
  });
});

describe('WORKLOAD keys: one owner each, groups in one slot', () => {
  it('every key has exactly one owner, and a {keys:N} group shares its owner and its cluster slot', () => {
    const keys = new MixKeys('cachebench:run:', 1000, 12, 10);
    const seen = new Set<number>();
    for (let g = 0; g < 12; g++) {
      for (let j = 0; j < keys.share(g); j++) {
        const i = keys.index(g, j);
        assert.equal(i % 12, g);
        assert.ok(!seen.has(i));
        seen.add(i);
      }
    }
    assert.equal(seen.size, 1000);
    const names = new Set<string>();
    for (const i of seen) names.add(keys.name(i));
    assert.equal(names.size, 1000);
    for (const i of [0, 5, 123, 999, 988]) {
      const group = keys.group(i, 10);
      assert.equal(group[0], i);
      assert.equal(new Set(group).size, group.length);
      assert.ok(group.every((k) => k % 12 === i % 12 && k < 1000), `${i}: ${group.join(',')}`);
      const slots = new Set(group.map((k) => calculateSlot(keys.name(k))));
      assert.equal(slots.size, 1, `${i}: ${[...slots].join(',')}`);
    }
    // Full groups hold 10; the last group of an owner holds what is left of its share (client 0 owns 84 keys: 80 + 4).
    assert.equal(keys.group(keys.index(0, 3), 10).length, 10);
    assert.equal(keys.group(keys.index(0, 81), 10).length, 4);
    // Without groups the names are the plain KEYSPACE names, spread over slots.
    const plain = new MixKeys('p:', 100, 4, 1);
    assert.equal(plain.name(7), 'p:ks:7');
    assert.ok(new Set(Array.from({ length: 100 }, (_, i) => calculateSlot(plain.name(i)))).size > 90);
  });

  it('latest picks near the key written last, gaussian around the middle', () => {
    const random = seededRandom(42);
    const latest = mixPicker({ kind: 'latest', exponent: 0.99 }, 1000, random, 0, () => 500);
    const draws = Array.from({ length: 5000 }, latest);
    const near = draws.filter((j) => j <= 500 && j >= 490).length;
    assert.ok(near / draws.length > 0.3, `near ${near}`);
    assert.ok(draws.filter((j) => j === 500).length > draws.filter((j) => j === 501).length);
    const gauss = Array.from({ length: 5000 }, mixPicker({ kind: 'gaussian' }, 600, random, 0, () => 0));
    const mean = gauss.reduce((a, b) => a + b, 0) / gauss.length;
    assert.ok(Math.abs(mean - 300) < 10, `mean ${mean}`);
    assert.ok(gauss.every((j) => j >= 0 && j < 600));
  });
});

describe('WORKLOAD model: what every reply must be', () => {
  const values = new MixValues(64, 7);
  const draw = (random = (): number => 0): Draw => ({ name: (i) => `k${i}`, group: (i, n) => Array.from({ length: n }, (_, k) => i + 100 * k), random, valueBytes: () => 32, ttl: () => 300 });
  const cmd = (text: string): NonNullable<ReturnType<typeof parseWorkload>>['entries'][number]['commands'][number] => {
    const w = parseWorkload(`1:${text}`, SOURCE);
    return w?.entries[0]?.commands[0] as NonNullable<typeof w>['entries'][number]['commands'][number];
  };

  it('Redis\'s range and sorted-set order: inclusive, negative from the end; score then member bytes', () => {
    const list = ['a', 'b', 'c', 'd', 'e'];
    assert.deepEqual(range(list, 0, -1), list);
    assert.deepEqual(range(list, 1, 2), ['b', 'c']);
    assert.deepEqual(range(list, -2, -1), ['d', 'e']);
    assert.deepEqual(range(list, 3, 1), []);
    assert.deepEqual(range(list, -100, 100), list);
    assert.deepEqual(range(list, 5, 10), []);
    assert.deepEqual(zsetOrder(new Map([['m2', 1], ['m10', 1], ['a', 3], ['z', -1]])).map(([m]) => m), ['z', 'm10', 'm2', 'a']);
  });

  it('a string: SET then GET verifies the bytes written, another key\'s value or a changed byte does not pass', () => {
    const m = new MixModel(values);
    const set = m.prepare(cmd('SET {key} {value}'), 3, 0, draw());
    m.replied([3], 1);
    assert.deepEqual(set.args.slice(0, 2), ['SET', 'k3']);
    assert.deepEqual(set.args.slice(3), ['EX', '300']);
    const written = set.args[2] as Buffer;
    assert.equal(written.length, 32);
    assert.equal(m.verdict(set.expect, Buffer.from('OK')), 'verified');
    const get = m.prepare(cmd('GET {key}'), 3, 10, draw());
    assert.equal(m.verdict(get.expect, written), 'verified');
    assert.equal(m.verdict(get.expect, null), 'missing');
    const flipped = Buffer.from(written);
    flipped[20] = (flipped[20] as number) ^ 1;
    assert.equal(m.verdict(get.expect, flipped), 'mismatched');
    const other = m.prepare(cmd('SET {key} {value}'), 4, 0, draw());
    m.replied([4], 1);
    assert.equal(m.verdict(get.expect, other.args[2] as Buffer), 'mismatched');
    // A key never written reads as nil; near its expiry it cannot be judged; after it, nil again.
    assert.equal(m.verdict(m.prepare(cmd('GET {key}'), 9, 0, draw()).expect, null), 'verified');
    assert.equal(m.prepare(cmd('GET {key}'), 3, 300_000 - 500, draw()).expect.kind, 'unknown');
    const after = m.prepare(cmd('GET {key}'), 4, 302_000, draw());
    assert.equal(m.verdict(after.expect, null), 'verified');
  });

  it('with earlier states kept (replica reads): an earlier state is stale with its age from the newer one\'s acknowledgement; one past the horizon, or never written, is not', () => {
    const m = new MixModel(values);
    m.keepHistory(10_000);
    assert.ok(m.judgesStaleness);
    // The preload: DEL, then SET … EX (acknowledged at 5); a replica that has not seen it yet answers nil.
    const preload = m.resync('string', 3, 0, draw(), { fields: 0, members: 0, integerFields: false });
    m.replied([3], 5);
    const v0 = preload[1]?.args[2] as Buffer;
    const v1 = m.prepare(cmd('SET {key} {value}'), 3, 100, draw()).args[2] as Buffer;
    m.replied([3], 110);
    const v2 = m.prepare(cmd('SET {key} {value}'), 3, 200, draw()).args[2] as Buffer;
    m.replied([3], 230);
    const get = m.prepare(cmd('GET {key}'), 3, 300, draw());
    assert.equal(m.verdict(get.expect, v2), 'verified');
    assert.equal(m.lastStaleAgeMs, 0);
    assert.equal(m.verdict(get.expect, v1), 'stale');
    assert.equal(m.lastStaleAgeMs, 300 - 230, 'v1 was replaced when v2 was acknowledged');
    assert.equal(m.verdict(get.expect, v0), 'stale');
    assert.equal(m.lastStaleAgeMs, 300 - 110);
    assert.equal(m.verdict(get.expect, null), 'stale');
    assert.equal(m.lastStaleAgeMs, 300 - 5);
    // Bytes no write of this key ever had are mismatched, stale or not.
    const other = m.prepare(cmd('SET {key} {value}'), 4, 100, draw()).args[2] as Buffer;
    assert.equal(m.verdict(get.expect, other), 'mismatched');
    // MGET judges each key by its own history; a hash read by the same field picks as the current state's.
    const group = m.prepare(cmd('MGET {keys:2}'), 3, 400, draw());
    assert.equal(m.verdict(group.expect, [v1, null]), 'stale');
    assert.equal(m.verdict(group.expect, [v2, null]), 'verified');
    // Past the horizon (10 s after v2 replaced v1), v1 is no longer taken for a replica's answer.
    const late = m.prepare(cmd('GET {key}'), 3, 10_300, draw());
    assert.equal(m.verdict(late.expect, v2), 'verified');
    assert.equal(m.verdict(late.expect, v1), 'mismatched');
    const h = new MixModel(values);
    h.keepHistory(10_000);
    const picks = [0.1, 0.9];
    const hset = h.prepare(cmd('HSET {key} {field:2} {value}'), 1, 0, draw(() => picks[0] as number));
    h.replied([1], 1);
    const old = hset.args[3] as Buffer;
    const newer = h.prepare(cmd('HSET {key} {field:2} {value}'), 1, 10, draw(() => picks[0] as number)).args[3] as Buffer;
    h.replied([1], 12);
    const hget = h.prepare(cmd('HGET {key} {field:2}'), 1, 20, draw(() => picks[0] as number));
    assert.equal(hget.args[2], 'field0');
    assert.equal(h.verdict(hget.expect, newer), 'verified');
    assert.equal(h.verdict(hget.expect, old), 'stale');
    assert.equal(h.lastStaleAgeMs, 8);
    // In one op (a transaction: SET then GET before any reply), the state the SET replaced is not a replica's answer.
    const t = new MixModel(values);
    t.keepHistory(10_000);
    const before = t.prepare(cmd('SET {key} {value}'), 5, 0, draw()).args[2] as Buffer;
    t.replied([5], 1);
    const inOp = t.prepare(cmd('SET {key} {value}'), 5, 10, draw()).args[2] as Buffer;
    const read = t.prepare(cmd('GET {key}'), 5, 10, draw());
    assert.equal(t.verdict(read.expect, inOp), 'verified');
    assert.equal(t.verdict(read.expect, before), 'mismatched');
    // A key written more often than the bounds keep (4096 earlier states): a reply of a dropped state within the horizon
    // is not judged (unverified), never mismatched; the time spent keeping states is counted as the model's bookkeeping.
    const hot = new MixModel(values);
    hot.keepHistory(10_000);
    const firstHot = hot.prepare(cmd('SET {key} {value}'), 7, 0, draw()).args[2] as Buffer;
    hot.replied([7], 0.5);
    for (let w = 1; w <= 4200; w++) {
      hot.prepare(cmd('SET {key} {value}'), 7, w, draw());
      hot.replied([7], w + 0.5);
    }
    assert.ok(hot.bookkeepingNs > 0);
    const hotRead = hot.prepare(cmd('GET {key}'), 7, 5000, draw());
    assert.equal(hot.verdict(hotRead.expect, firstHot), 'unverified');
    assert.equal(hot.verdict(hotRead.expect, other), 'unverified');
    assert.equal(m.bookkeepingNs > 0 && new MixModel(values).bookkeepingNs === 0, true);
    // Without keepHistory, the same reply is mismatched.
    const plain = new MixModel(values);
    plain.prepare(cmd('SET {key} {value}'), 3, 0, draw());
    plain.replied([3], 1);
    const first = plain.prepare(cmd('SET {key} {value}'), 3, 10, draw()).args[2] as Buffer;
    plain.replied([3], 11);
    plain.prepare(cmd('SET {key} {value}'), 3, 20, draw());
    plain.replied([3], 21);
    assert.equal(plain.verdict(plain.prepare(cmd('GET {key}'), 3, 30, draw()).expect, first), 'mismatched');
  });

  it('counters, hashes, lists and sorted sets follow Redis\'s replies', () => {
    const m = new MixModel(values);
    const d = draw();
    assert.deepEqual(m.prepare(cmd('INCR {key}'), 1, 0, d).expect, { kind: 'int', n: 1 });
    assert.deepEqual(m.prepare(cmd('INCRBY {key} 41'), 1, 0, d).expect, { kind: 'int', n: 42 });
    assert.equal(m.verdict(m.prepare(cmd('GET {key}'), 1, 0, d).expect, Buffer.from('42')), 'verified');
    assert.equal(m.verdict(m.prepare(cmd('GET {key}'), 1, 0, d).expect, Buffer.from('41')), 'mismatched');

    const hset = m.prepare(cmd('HSET {key} f1 {value} f2 {value}'), 2, 0, d);
    assert.equal(m.verdict(hset.expect, 2), 'verified');
    const again = m.prepare(cmd('HSET {key} f1 {value}'), 2, 0, d);
    assert.equal(m.verdict(again.expect, 0), 'verified');
    const all = m.prepare(cmd('HGETALL {key}'), 2, 0, d);
    const f1 = again.args[3] as Buffer;
    const f2 = hset.args[5] as Buffer;
    // Any order of the pairs passes; an old value of f1 does not.
    assert.equal(m.verdict(all.expect, [Buffer.from('f2'), f2, Buffer.from('f1'), f1]), 'verified');
    assert.equal(m.verdict(all.expect, [Buffer.from('f1'), f1, Buffer.from('f2'), f2]), 'verified');
    assert.equal(m.verdict(all.expect, [Buffer.from('f1'), hset.args[3] as Buffer, Buffer.from('f2'), f2]), 'mismatched');
    assert.equal(m.verdict(all.expect, []), 'missing');
    assert.equal(m.verdict(m.prepare(cmd('HDEL {key} f1 f1 nope'), 2, 0, d).expect, 1), 'verified');
    assert.equal(m.verdict(m.prepare(cmd('HLEN {key}'), 2, 0, d).expect, 1), 'verified');

    const push = m.prepare(cmd('LPUSH {key} {value} {value}'), 5, 0, d);
    assert.equal(m.verdict(push.expect, 2), 'verified');
    // LPUSH a b: the list is b, a; RPOP gives a.
    assert.equal(m.verdict(m.prepare(cmd('RPOP {key}'), 5, 0, d).expect, push.args[2] as Buffer), 'verified');
    assert.equal(m.verdict(m.prepare(cmd('LLEN {key}'), 5, 0, d).expect, 1), 'verified');
    assert.equal(m.verdict(m.prepare(cmd('LPOP {key}'), 5, 0, d).expect, push.args[3] as Buffer), 'verified');
    assert.equal(m.verdict(m.prepare(cmd('RPOP {key}'), 5, 0, d).expect, null), 'verified');

    assert.equal(m.verdict(m.prepare(cmd('ZADD {key} 5 b 5 a 7 c'), 6, 0, d).expect, 3), 'verified');
    assert.deepEqual(m.prepare(cmd('ZINCRBY {key} 3 a'), 6, 0, d).expect, { kind: 'score', n: 8 });
    const top = m.prepare(cmd('ZREVRANGE {key} 0 1 WITHSCORES'), 6, 0, d);
    assert.equal(m.verdict(top.expect, [Buffer.from('a'), Buffer.from('8'), Buffer.from('c'), Buffer.from('7')]), 'verified');
    assert.equal(m.verdict(top.expect, [Buffer.from('a'), 8, Buffer.from('c'), 7]), 'verified');
    assert.equal(m.verdict(top.expect, [Buffer.from('c'), Buffer.from('7'), Buffer.from('a'), Buffer.from('8')]), 'mismatched');
    assert.equal(m.verdict(m.prepare(cmd('ZSCORE {key} zz'), 6, 0, d).expect, null), 'verified');
    assert.equal(m.verdict(m.prepare(cmd('ZCARD {key}'), 6, 0, d).expect, 3), 'verified');
  });

  it('in a transaction or script, a TTL set earlier in it is at most the TTL given (the server runs them at one instant)', () => {
    const m = new MixModel(values);
    const set = m.prepare(cmd('SET {key} {value} EX 60'), 5, 1000, draw());
    const ttl = m.prepare(cmd('TTL {key}'), 5, 1000, draw());
    const expect = { kind: 'array', items: [set.expect, ttl.expect] } as const;
    const ok = Buffer.from('OK');
    assert.equal(m.verdict(expect, [ok, 60], 1003), 'verified');
    assert.equal(m.verdict(expect, [ok, 59], 1003), 'mismatched', 'a reply 3 ms later still rounds to 60');
    for (const wrong of [61, 3600, 1_000_000_000]) assert.equal(m.verdict(expect, [ok, wrong], 1003), 'mismatched', String(wrong));
  });

  it('a fault run keeps the keys of a failed write from use until a driver\'s late retries of it are over', () => {
    const m = new MixModel(values);
    m.prepare(cmd('INCR {key}'), 2, 0, draw());
    m.forget([2], 5000);
    m.forget([3]);
    assert.equal(m.isUnknown(2), true);
    assert.equal(m.quarantined(2, 4999), true);
    assert.equal(m.quarantined(2, 5000), false);
    assert.equal(m.quarantined(3, 0), false, 'forgotten, not quarantined');
  });

  it('a failed op leaves its keys unknown (unverified) until a SET or DEL sets them whole', () => {
    const m = new MixModel(values);
    const d = draw();
    const w = m.prepare(cmd('HSET {key} f {value}'), 1, 0, d);
    m.forget(w.indexes);
    assert.equal(m.verdict(m.prepare(cmd('HGETALL {key}'), 1, 0, d).expect, []), 'unverified');
    assert.equal(m.verdict(m.prepare(cmd('DEL {key}'), 1, 0, d).expect, 1), 'unverified');
    assert.equal(m.verdict(m.prepare(cmd('HGETALL {key}'), 1, 0, d).expect, []), 'verified');
    const mget = m.prepare(cmd('MGET {keys:3}'), 7, 0, d);
    assert.deepEqual(mget.args, ['MGET', 'k7', 'k107', 'k207']);
    assert.equal(m.verdict(mget.expect, [null, null, null]), 'verified');
    assert.equal(m.verdict(mget.expect, [null, null]), 'mismatched');
  });

  it('per-command records merge across workers: counts summed, histograms added', () => {
    const a = new CommandStats(false);
    const b = new CommandStats(false);
    for (let k = 1; k <= 100; k++) a.op('GET', true, k * 1000, undefined);
    for (let k = 101; k <= 200; k++) b.op('GET', true, k * 1000, undefined);
    a.op('SET', false, 0, undefined);
    a.verdict('GET', 'verified', 30, 100, []);
    b.verdict('GET', 'mismatched', 30, 5, []);
    b.verdict('GET', 'unverified', 30, 100, []);
    a.verdict('SET', 'verified', 1000, 8, [900]);
    b.verdict('SET', 'verified', 200, 8, [100]);
    const merged = mergeRecords([a, b].map((s) => ({ ...fakeRecord(), commands: s.encode(), unverified: s.unverified, valueSizes: s.encodeSizes() })));
    assert.equal(merged.commands?.['GET']?.sentBytes, 90);
    assert.equal(merged.commands?.['GET']?.readBytes, 205);
    assert.equal(merged.commands?.['SET']?.sentBytes, 1200);
    const sizes = OpHistogram.decode(merged.valueSizes as string);
    assert.equal(sizes.count, 2);
    assert.ok(Math.abs(sizes.max - 900) <= 1, String(sizes.max));
    assert.equal(merged.commands?.['GET']?.ops, 200);
    assert.equal(merged.commands?.['GET']?.verified, 1);
    assert.equal(merged.commands?.['GET']?.mismatched, 1);
    assert.equal(merged.unverified, 1);
    assert.equal(merged.commands?.['SET']?.errors, 1);
    // The merged p50 is that of one histogram holding 1..200 µs (100.5 µs, within HdrHistogram's precision).
    const p50 = OpHistogram.decode(merged.commands?.['GET']?.latency as string).valueAt(50) / 1000;
    assert.ok(Math.abs(p50 - 100) <= 1.5, `p50 ${p50}`);
  });
});

/** A record with nothing measured (the fields mergeRecords reads). */
function fakeRecord(): LoadRecord {
  const empty = new OpHistogram().encode();
  return {
    target: 'T', startMs: 0, durationMs: 1000, view: 'service', sets: 0, gets: 0, setErrors: 0, getErrors: 0, scheduled: null, sent: null, lateStartMs: 0,
    verified: 0, missing: 0, mismatched: 0, hits: null, misses: null, deletes: 0, undeletedKeys: 0, errorMessages: {},
    histograms: { set: empty, get: empty, setIntended: null, getIntended: null }, series: [], nodes: null, workers: [],
  };
}
