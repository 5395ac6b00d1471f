import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { meanSize, parseValueSizes, sizeBounds, sizeSampler, sizeText } from '../../src/config/sizes.js';
import { parseWorkload } from '../../src/config/workload.js';
import { replyBytes, requestBytes } from '../../src/workload/wire-bytes.js';
import { seededRandom } from '../../src/measure/random.js';
import { encodeCommand } from '../../src/targets/resp.js';
import { MixModel, MixValues, type Draw } from '../../src/workload/mix-model.js';
import { input, rejects } from '../helpers/config.js';

const SOURCE = { kind: 'env' as const, name: 'VALUE_SIZES' };
const env = { REDIS_SERVERS: '127.0.0.1:6379' };
const mix = (...extra: string[]): string[] => ['MODE:throughput', 'KEYSPACE:1000', 'WORKLOAD:ycsb-a', ...extra];

const refused = (raw: string, ...fragments: string[]): void => {
  assert.throws(() => parseValueSizes(raw, SOURCE), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    for (const f of fragments) assert.ok(e.message.includes(f), `${e.message} lacks ${f}`);
    assert.match(e.message, /VALUE_SIZES/);
    assert.match(e.message, /Fix: /);
    return true;
  });
};

describe('VALUE_SIZES: the grammar', () => {
  it('fixed, ranges, weighted lists and lognormals, in canonical text', () => {
    assert.equal(parseValueSizes('', SOURCE), null);
    assert.deepEqual(parseValueSizes('1000', SOURCE), { kind: 'fixed', bytes: 1000 });
    assert.deepEqual(parseValueSizes(' 100-1e4 ', SOURCE), { kind: 'uniform', min: 100, max: 10_000 });
    assert.deepEqual(parseValueSizes('500-500', SOURCE), { kind: 'fixed', bytes: 500 });
    assert.deepEqual(parseValueSizes('100:8, 1000:2,100000:0.5', SOURCE), { kind: 'list', sizes: [100, 1000, 100_000], weights: [8, 2, 0.5] });
    const ln = parseValueSizes('lognormal:2000:1', SOURCE);
    // The default clamp: 16 bytes to e^(μ + 4σ), μ = ln 2000 − σ²/2.
    assert.deepEqual(ln, { kind: 'lognormal', mean: 2000, sigma: 1, min: 16, max: Math.ceil(Math.exp(Math.log(2000) - 0.5 + 4)) });
    assert.deepEqual(parseValueSizes('lognormal:2000:0.5:64-100000', SOURCE), { kind: 'lognormal', mean: 2000, sigma: 0.5, min: 64, max: 100_000 });
    for (const text of ['1000', '100-10000', '100:8,1000:2', 'lognormal:2000:0.5:64-100000']) {
      assert.equal(sizeText(parseValueSizes(text, SOURCE) as NonNullable<ReturnType<typeof parseValueSizes>>), text);
    }
    assert.deepEqual(sizeBounds(parseValueSizes('100:8,1000:2', SOURCE) as NonNullable<ReturnType<typeof parseValueSizes>>), { min: 100, max: 1000 });
    assert.equal(meanSize(parseValueSizes('100:3,1000:1', SOURCE) as NonNullable<ReturnType<typeof parseValueSizes>>), 325);
  });

  it('bad sizes are refused naming the value and the fix', () => {
    refused('10000-100', 'upside down', 'write it as 100-10000');
    refused('0', '"0" is not a size');
    refused('600000000', 'is not a size from 1 to 536870912');
    refused('1.5', 'is not a size');
    refused('abc', 'is not a size');
    refused('100-', 'is not a size');
    refused('100:0', 'a weight above 0');
    refused('100:x,200:1', 'a weight above 0');
    refused('100:1:2', 'is not SIZE:WEIGHT');
    refused(Array.from({ length: 65 }, (_, i) => `${i + 100}:1`).join(','), 'more than 64 sizes');
    refused('lognormal:2000:0', 'spread');
    refused('lognormal:2000:9', 'at most 4');
    refused('lognormal:2000:1:5000-9000', 'mean 2000 lies outside 5000-9000');
    refused('lognormal:2000:1:1-9:9', 'optional MIN-MAX');
    refused('1'.repeat(3000), 'longer than 2000 characters');
  });
});

describe('VALUE_SIZES: the draws', () => {
  it('uniform stays in its range with the range\'s mean; a list follows its weights', () => {
    const random = seededRandom(11);
    const uniform = sizeSampler({ kind: 'uniform', min: 100, max: 199 }, random);
    const u = Array.from({ length: 20_000 }, uniform);
    assert.ok(u.every((x) => Number.isInteger(x) && x >= 100 && x <= 199));
    assert.equal(Math.min(...u), 100);
    assert.equal(Math.max(...u), 199);
    const mean = u.reduce((a, b) => a + b, 0) / u.length;
    // Reference: (100 + 199) / 2 = 149.5, σ of the mean = 28.9 / √20000 = 0.2.
    assert.ok(Math.abs(mean - 149.5) < 1, String(mean));
    const list = sizeSampler({ kind: 'list', sizes: [10, 20, 30], weights: [6, 3, 1] }, random);
    const counts = new Map<number, number>();
    for (let i = 0; i < 20_000; i++) {
      const s = list();
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    // Expected 12000 / 6000 / 2000; binomial σ ≈ 69 / 65 / 42: 5σ bounds.
    assert.ok(Math.abs((counts.get(10) ?? 0) - 12_000) < 350, JSON.stringify([...counts]));
    assert.ok(Math.abs((counts.get(20) ?? 0) - 6000) < 330, JSON.stringify([...counts]));
    assert.ok(Math.abs((counts.get(30) ?? 0) - 2000) < 210, JSON.stringify([...counts]));
  });

  it('lognormal: ln(size) has mean μ = ln(mean) − σ²/2 and deviation σ; sizes average the mean', () => {
    const draw = sizeSampler({ kind: 'lognormal', mean: 5000, sigma: 0.5, min: 1, max: 10_000_000 }, seededRandom(5));
    const xs = Array.from({ length: 50_000 }, draw);
    const logs = xs.map(Math.log);
    const mu = logs.reduce((a, b) => a + b, 0) / logs.length;
    const sd = Math.sqrt(logs.reduce((a, b) => a + (b - mu) ** 2, 0) / (logs.length - 1));
    assert.ok(Math.abs(mu - (Math.log(5000) - 0.125)) < 0.01, `μ ${mu}`);
    assert.ok(Math.abs(sd - 0.5) < 0.01, `σ ${sd}`);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    // σ of the sample mean: 5000 · √(e^0.25 − 1) / √50000 ≈ 12 bytes.
    assert.ok(Math.abs(mean - 5000) < 60, `mean ${mean}`);
    const clamped = sizeSampler({ kind: 'lognormal', mean: 5000, sigma: 2, min: 1000, max: 8000 }, seededRandom(5));
    assert.ok(Array.from({ length: 5000 }, clamped).every((x) => x >= 1000 && x <= 8000));
  });
});

describe('VALUE_SIZES and KEY_TTL_MAX in a scenario', () => {
  it('reach the WORKLOAD plan', () => {
    const plan = resolveConfig(input({ env, envVars: mix('VALUE_SIZES:100-200', 'KEY_TTL:60', 'KEY_TTL_MAX:120') }));
    const w = plan.scenarios[0]?.controls.load.workload;
    assert.deepEqual(w?.sizes, { kind: 'uniform', min: 100, max: 200 });
    assert.deepEqual(w?.ttl, { minSeconds: 60, maxSeconds: 120 });
    assert.deepEqual(resolveConfig(input({ env, envVars: mix('KEY_TTL:60') })).scenarios[0]?.controls.load.workload?.ttl, { minSeconds: 60, maxSeconds: 60 });
    // A built-in's own size (YCSB's 100-byte fields) unless VALUE_SIZES is given; else PAYLOAD_BYTES (null).
    assert.deepEqual(resolveConfig(input({ env, envVars: mix() })).scenarios[0]?.controls.load.workload?.sizes, { kind: 'fixed', bytes: 100 });
    assert.equal(resolveConfig(input({ env, envVars: ['MODE:throughput', 'KEYSPACE:1000', 'WORKLOAD:queue'] })).scenarios[0]?.controls.load.workload?.sizes, null);
    const warned = resolveConfig(input({ env, envVars: mix('VALUE_SIZES:100', 'PAYLOAD_BYTES:50') }));
    assert.ok(warned.warnings.some((w) => w.includes('PAYLOAD_BYTES') && w.includes('does nothing with VALUE_SIZES=100')), warned.warnings.join('\n'));
  });

  it('are refused without a WORKLOAD, upside down, below the value header, or past 4 GiB of preload', () => {
    rejects({ env, envVars: ['MODE:throughput', 'KEYSPACE:1000', 'VALUE_SIZES:100-200'] }, 'VALUE_SIZES', 'applies to WORKLOAD runs', 'set a WORKLOAD');
    rejects({ env, envVars: ['MODE:throughput', 'KEY_TTL_MAX:600'] }, 'KEY_TTL_MAX', 'applies to WORKLOAD runs');
    rejects({ env, envVars: ['VALUE_SIZES:100'] }, 'VALUE_SIZES', 'throughput runs only');
    rejects({ env, envVars: mix('KEY_TTL:300', 'KEY_TTL_MAX:100') }, 'KEY_TTL_MAX', 'below it', 'set KEY_TTL_MAX to 300 or more');
    rejects({ env, envVars: mix('VALUE_SIZES:8-100') }, 'VALUE_SIZES=8-100', 'draws 8-byte values', 'first 12 bytes');
    // 1,000,000 keys × 10 fields × 1000 B = 10 GB of hashes.
    rejects({ env, envVars: ['MODE:throughput', 'KEYSPACE:1000000', 'WORKLOAD:ycsb-a', 'VALUE_SIZES:1000'] }, 'KEYSPACE', '10 values of 1000 bytes', 'more than 4 GiB');
  });

  it('{ttl} is a TTL argument only, and takes no option', () => {
    assert.deepEqual(parseWorkload('1:EXPIRE {key} {ttl}', SOURCE)?.entries[0]?.commands[0]?.args[1], { kind: 'ttl' });
    assert.deepEqual(parseWorkload('1:SET {key} {value} EX {ttl}', SOURCE)?.entries[0]?.commands[0]?.args[3], { kind: 'ttl' });
    assert.throws(() => parseWorkload('1:EXPIRE {key} {ttl:5}', SOURCE), /takes no option/);
    assert.throws(() => parseWorkload('1:INCRBY {key} {ttl}', SOURCE), /does not fit INCRBY/);
  });
});

describe('WORKLOAD values of drawn sizes and TTLs', () => {
  it('each write draws its size and TTL; the model verifies by the size written; takeWritten reports the sizes', () => {
    const sizes = [100, 300, 50];
    const ttls = [60, 90];
    let s = 0;
    let t = 0;
    const draw: Draw = {
      name: (i) => `k${i}`, group: (i) => [i], random: () => 0,
      valueBytes: () => sizes[s++ % sizes.length] as number, ttl: () => ttls[t++ % ttls.length] as number,
    };
    const m = new MixModel(new MixValues(300, 3));
    const set = m.prepare(parseWorkload('1:SET {key} {value}', SOURCE)?.entries[0]?.commands[0] as never, 1, 0, draw);
    assert.deepEqual(set.args.slice(3), ['EX', '60']);
    assert.equal((set.args[2] as Buffer).length, 100);
    assert.deepEqual(m.takeWritten(), [100]);
    assert.deepEqual(m.takeWritten(), []);
    const get = m.prepare(parseWorkload('1:GET {key}', SOURCE)?.entries[0]?.commands[0] as never, 1, 10, draw);
    assert.equal(m.verdict(get.expect, set.args[2] as Buffer), 'verified');
    // The same bytes cut to another size are another value.
    assert.equal(m.verdict(get.expect, (set.args[2] as Buffer).subarray(0, 50)), 'mismatched');
    const expire = m.prepare(parseWorkload('1:EXPIRE {key} {ttl}', SOURCE)?.entries[0]?.commands[0] as never, 1, 20, draw);
    assert.deepEqual(expire.args, ['EXPIRE', 'k1', '90']);
    const hset = m.prepare(parseWorkload('1:HSET {key} f1 {value} f2 {value}', SOURCE)?.entries[0]?.commands[0] as never, 2, 0, draw);
    assert.equal(hset.args.length, 6);
    assert.deepEqual(m.takeWritten(), [300, 50]);
  });

  it('bytes on the wire: requests as RESP encodes them, replies as RESP2 would', () => {
    for (const args of [['GET', 'k'], ['SET', 'key:1', Buffer.alloc(1234), 'EX', '300'], ['MGET', ...Array.from({ length: 12 }, (_, i) => `k${i}`)], ['HSET', 'cachebench:ks:{3.1}42', 'f', '']]) {
      assert.equal(requestBytes(args), encodeCommand(args).length, JSON.stringify(args.map(String)));
    }
    assert.equal(replyBytes(null), '$-1\r\n'.length);
    assert.equal(replyBytes(42), ':42\r\n'.length);
    assert.equal(replyBytes(-2), ':-2\r\n'.length);
    assert.equal(replyBytes(Buffer.alloc(10)), '$10\r\n'.length + 10 + 2);
    assert.equal(replyBytes([Buffer.from('ab'), null, 7]), '*3\r\n$2\r\nab\r\n$-1\r\n:7\r\n'.length);
    assert.equal(replyBytes([]), '*0\r\n'.length);
  });
});
