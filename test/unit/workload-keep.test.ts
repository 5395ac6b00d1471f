import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { mixListCap, parseWorkload, type MixCommand } from '../../src/config/workload.js';
import { MixModel, MixValues, type Draw } from '../../src/workload/mix-model.js';
import { rejects } from '../helpers/config.js';

/**
 * What keeps a WORKLOAD's keys expiring and known: an EXPIRE after every write that leaves a key without a TTL, a
 * resync of a key the model lost, bounded lists; and the judges and parse rules a hostile review found too lenient.
 */

const SOURCE = { kind: 'env' as const, name: 'WORKLOAD' };
const env = { REDIS_SERVERS: '127.0.0.1:6379' };
const draw: Draw = { name: (i) => `k${i}`, group: (i, n) => Array.from({ length: n }, (_, k) => i + 100 * k), random: () => 0, valueBytes: () => 32, ttl: () => 300 };
const cmd = (text: string): MixCommand => parseWorkload(`1:${text}`, SOURCE)?.entries[0]?.commands[0] as MixCommand;
const COUNTS = { fields: 2, members: 3, integerFields: false };

const refused = (raw: string, ...fragments: string[]): void => {
  assert.throws(() => parseWorkload(raw, SOURCE), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    for (const f of fragments) assert.ok(e.message.includes(f), `${e.message} lacks ${f}`);
    assert.match(e.message, /Fix: /);
    return true;
  });
};

describe('WORKLOAD keys keep a TTL and a known state', () => {
  it('a write that creates a key (or MSET) leaves it to an EXPIRE the client sends next; the model then knows its expiry', () => {
    const m = new MixModel(new MixValues(64, 1));
    m.prepare(cmd('HSET {key} {field} {value}'), 5, 0, draw);
    assert.deepEqual(m.takeNoTtl(), [5]);
    assert.deepEqual(m.takeNoTtl(), []);
    // Writing to the key again does not create it.
    m.prepare(cmd('HSET {key} {field} {value}'), 5, 10, draw);
    assert.deepEqual(m.takeNoTtl(), []);
    const expire = m.expire(5, 20, draw);
    assert.deepEqual(expire.args, ['EXPIRE', 'k5', '300']);
    assert.deepEqual(expire.expect, { kind: 'int', n: 1 });
    const ttl = m.prepare(cmd('TTL {key}'), 5, 1020, draw);
    assert.equal(m.verdict(ttl.expect, 299, 1030), 'verified');
    m.prepare(cmd('MSET {keys:3} {value}'), 1, 0, draw);
    assert.deepEqual(m.takeNoTtl(), [1, 101, 201]);
    // SET carries its own EX; the preload its EXPIRE.
    m.prepare(cmd('SET {key} {value}'), 7, 0, draw);
    m.preload('hash', 8, 0, draw, COUNTS);
    assert.deepEqual(m.takeNoTtl(), []);
  });

  it('a write to a key of unknown state, which may create it, asks for an EXPIRE too', () => {
    const m = new MixModel(new MixValues(64, 1));
    m.preload('counter', 4, 0, draw, COUNTS);
    m.forget([4]);
    assert.equal(m.prepare(cmd('INCR {key}'), 4, 0, draw).expect.kind, 'unknown');
    assert.deepEqual(m.takeNoTtl(), [4]);
    assert.equal(m.expire(4, 0, draw).expect.kind, 'unknown');
  });

  it('an expiry is dated between the send and the reply of the command that set it', () => {
    const m = new MixModel(new MixValues(64, 1));
    m.prepare(cmd('SET {key} {value} EX 30'), 1, 0, draw);
    // The SET's reply came 2.5 s after it was sent (a stalled server): the key expires between 30 s and 32.5 s.
    m.replied([1], 2500);
    assert.equal(m.prepare(cmd('GET {key}'), 1, 28_900, draw).expect.kind, 'value');
    assert.equal(m.prepare(cmd('GET {key}'), 1, 29_000, draw).expect.kind, 'unknown');
    // Touched within a second of that window, a key cannot be judged (and is resynced); after it, it is gone.
    m.prepare(cmd('SET {key} {value} EX 30'), 2, 0, draw);
    m.replied([2], 2500);
    assert.equal(m.prepare(cmd('GET {key}'), 2, 33_400, draw).expect.kind, 'unknown');
    m.prepare(cmd('SET {key} {value} EX 30'), 5, 0, draw);
    m.replied([5], 2500);
    assert.deepEqual(m.prepare(cmd('GET {key}'), 5, 33_600, draw).expect, { kind: 'nil' });
    m.prepare(cmd('SET {key} {value} EX 30'), 3, 0, draw);
    m.replied([3], 2500);
    const ttl = m.prepare(cmd('TTL {key}'), 3, 3000, draw);
    // The server's TTL at 3 s: from 27 (applied at once) to 30 (applied at 2.5 s, rounded).
    for (const [reply, verdict] of [[27, 'verified'], [29, 'verified'], [30, 'verified'], [31, 'mismatched'], [26, 'mismatched']] as const) {
      assert.equal(m.verdict(ttl.expect, reply, 3010), verdict, String(reply));
    }
  });

  it('a key the model lost is resynced: DEL, then the preload; then known again', () => {
    const m = new MixModel(new MixValues(64, 1));
    m.preload('list', 3, 0, draw, COUNTS);
    m.forget([3]);
    assert.equal(m.isUnknown(3), true);
    assert.equal(m.prepare(cmd('LLEN {key}'), 3, 0, draw).expect.kind, 'unknown');
    const resync = m.resync('list', 3, 0, draw, COUNTS);
    assert.deepEqual(resync.map((p) => p.args[0]), ['DEL', 'RPUSH', 'EXPIRE']);
    assert.equal(m.isUnknown(3), false);
    assert.deepEqual(m.prepare(cmd('LLEN {key}'), 3, 0, draw).expect, { kind: 'int', n: 4 });
  });

  it('a list past the model\'s cap becomes unknown (then resynced): lists stay bounded', () => {
    assert.equal(mixListCap(100, 100), 1000);
    assert.equal(mixListCap(1_000_000, 100), 5);
    assert.equal(mixListCap(50_000, 100), 100);
    // The servers' share: 4 GiB / (1000 keys × 20,000 B) = 214 elements a list.
    assert.equal(mixListCap(1000, 20_000), 214);
    const m = new MixModel(new MixValues(64, 1), 6);
    m.preload('list', 0, 0, draw, COUNTS);
    m.prepare(cmd('LPUSH {key} {value} {value}'), 0, 0, draw);
    assert.equal(m.isUnknown(0), false);
    m.prepare(cmd('LPUSH {key} {value}'), 0, 0, draw);
    assert.equal(m.isUnknown(0), true);
  });

  it('HINCRBY preloads integer fields, and refuses a mix whose HSET writes bytes into them', () => {
    const plan = parseWorkload('1:HINCRBY {key} {field:4} 5, 1:HGETALL {key}', SOURCE);
    assert.equal(plan?.integerFields, true);
    const m = new MixModel(new MixValues(64, 1));
    const [hset] = m.preload('hash', 2, 0, draw, { fields: 4, members: 0, integerFields: true });
    assert.deepEqual(hset?.args, ['HSET', 'k2', 'field0', '0', 'field1', '0', 'field2', '0', 'field3', '0']);
    assert.deepEqual(m.prepare(cmd('HINCRBY {key} field1 5'), 2, 0, draw).expect, { kind: 'int', n: 5 });
    refused('1:HINCRBY {key} {field} 1, 1:HSET {key} {field} {value}', 'HINCRBY needs fields that hold integers');
    assert.equal(parseWorkload('1:HINCRBY {key} {field} 1, 1:HSET {key} {field} 0', SOURCE)?.integerFields, true);
  });
});

describe('WORKLOAD judges are exact', () => {
  it('TTL: from the reply\'s time back to the send time, within a second', () => {
    const m = new MixModel(new MixValues(64, 1));
    m.prepare(cmd('SET {key} {value} EX 30'), 1, 0, draw);
    m.replied([1], 5);
    const ttl = m.prepare(cmd('TTL {key}'), 1, 0, draw);
    // Answered at once: 30 (the server rounds to the second); 29 only once half a second has passed.
    assert.equal(m.verdict(ttl.expect, 30, 5), 'verified');
    assert.equal(m.verdict(ttl.expect, 31, 5), 'mismatched');
    assert.equal(m.verdict(ttl.expect, 29, 5), 'mismatched');
    assert.equal(m.verdict(ttl.expect, 27, 5), 'mismatched');
    assert.equal(m.verdict(ttl.expect, 28, 2500), 'verified');
    assert.equal(m.verdict(ttl.expect, 32, 5), 'mismatched');
    assert.equal(m.verdict(ttl.expect, -2, 5), 'missing');
  });

  it('scores: only a score\'s text; HGETALL: each field once', () => {
    const m = new MixModel(new MixValues(64, 1));
    m.preload('zset', 1, 0, draw, COUNTS);
    const score = m.prepare(cmd('ZSCORE {key} m1'), 1, 0, draw);
    for (const text of ['0', '0.0', '-0', '0e3']) assert.equal(m.verdict(score.expect, Buffer.from(text)), 'verified', text);
    for (const text of ['', ' ', '0x0', 'zero', '1']) assert.equal(m.verdict(score.expect, Buffer.from(text)), 'mismatched', JSON.stringify(text));
    const hset = (m.preload('hash', 2, 0, draw, COUNTS)[0]?.args ?? []).map((a) => Buffer.from(a));
    const all = m.prepare(cmd('HGETALL {key}'), 2, 0, draw);
    assert.equal(m.verdict(all.expect, hset.slice(2)), 'verified');
    assert.equal(m.verdict(all.expect, [...hset.slice(2, 4), ...hset.slice(2, 4)]), 'mismatched');
  });
});

describe('WORKLOAD parse rules', () => {
  it('literals are printable ASCII, command names ASCII letters, weights numbers', () => {
    refused('1:SET {key} é', 'is not printable ASCII');
    refused('1:HSET {key} çafé {value}', 'is not printable ASCII');
    refused('1:ıncr {key}', 'is not a command name');
    refused('NaN:GET {key}', 'the weight "NaN"', 'is not a number');
    refused('-1:GET {key}', 'the weight "-1"');
    refused('1:GET user:1', 'names no key of the run');
    assert.equal(parseWorkload('GET {key}', SOURCE)?.entries[0]?.weight, 1);
    assert.equal(parseWorkload('1:SET {key} a:b', SOURCE)?.entries[0]?.commands[0]?.args[1]?.kind, 'lit');
  });

  it('TTLs lie from 1 s to 30 days, literal or {int:MAX}', () => {
    refused('1:EXPIRE {key} 0', 'must lie from 1 to 2592000');
    refused('1:EXPIRE {key} 999999999999999', 'must lie from 1 to 2592000');
    refused('1:SET {key} {value} EX 2592001', 'must lie from 1 to 2592000');
    refused('1:EXPIRE {key} {int:3000000}', '{int:3000000}');
    refused('1:SET {key} {value} PX 500', 'must lie from 1000 to 2592000000');
    refused('1:SET {key} {value} PX {int:5000}', '{int:5000}', 'from 1000');
    refused('1:SET {key} {value} PX {ttl}', '{ttl} is in seconds');
    assert.ok(parseWorkload('1:SET {key} {value} PX 2592000000', SOURCE));
    assert.ok(parseWorkload('1:EXPIRE {key} {int:60}', SOURCE));
  });

  it('the model\'s memory and the servers\' are bounded before any traffic', () => {
    rejects({ env, envVars: ['MODE:throughput', 'KEYSPACE:1000', 'WORKLOAD:1:HGETALL {key}, 1:HGET {key} {field:10000}', 'PAYLOAD_BYTES:16'] },
      'KEYSPACE', 'follows 10000 fields', '10,000,000 entries', 'above the 5,000,000');
    rejects({ env, envVars: ['MODE:throughput', 'KEYSPACE:100', 'PAYLOAD_BYTES:100', 'WORKLOAD:1:SET {key} {value:100000000}'] }, 'KEYSPACE', 'more than 4 GiB');
    // Lists grow to their cap, which keeps them within 4 GiB; even 5 elements of 1 MB at 1000 keys would not fit.
    rejects({ env, envVars: ['MODE:throughput', 'KEYSPACE:1000', 'WORKLOAD:1:LPUSH {key} {value}, 1:RPOP {key}', 'VALUE_SIZES:1000000'] }, 'keeps 5 values', 'more than 4 GiB');
    // Literal fields count as fields the model follows.
    const literal = Array.from({ length: 30 }, (_, i) => `f${i} 1`).join(' ');
    assert.equal(parseWorkload(`1:HSET {key} ${literal}, 1:HGET {key} f1, 1:HGET {key} {field:4}`, SOURCE)?.literalFields, 30);
    rejects({ env, envVars: ['MODE:throughput', 'KEYSPACE:1000000', 'PAYLOAD_BYTES:16', `WORKLOAD:1:HSET {key} ${literal}, 1:HGETALL {key}`] }, 'follows 40 fields');
  });
});
