import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/resolve.js';
import { ConfigError } from '../../src/config/errors.js';
import { traceGenCommand } from '../../src/cli/trace-gen.js';
import { parseTrace, TRACE_OPS, TraceError, traceName, type Trace } from '../../src/config/trace.js';
import { generateTrace } from '../../src/config/trace-gen.js';
import { TRACE_COMMANDS } from '../../src/config/trace-plan.js';
import { traceRun } from '../../src/load/trace-run.js';
import { MixKeys } from '../../src/workload/mix-keys.js';
import { input, rejects } from '../helpers/config.js';
import { tempDir } from '../helpers/servers.js';

const root = tempDir('cachebench-trace-unit-');
after(() => root.remove());

const parse = (text: string): Trace => parseTrace(Buffer.from(text), 12);
const bad = (text: string, line: number | null, ...fragments: string[]): void => {
  assert.throws(() => parse(text), (error: unknown) => {
    assert.ok(error instanceof TraceError, String(error));
    assert.equal(error.line, line, error.message);
    for (const f of fragments) assert.ok(error.message.includes(f), `${JSON.stringify(error.message)} lacks ${JSON.stringify(f)}`);
    assert.match(error.message, /Fix: /);
    return true;
  });
};

describe('trace files (TRACE)', () => {
  it('reads the seven columns: keys numbered by first sight, ops in order, a header, comments, blank lines and CRLF skipped', () => {
    const t = parse('timestamp,key,key_size,value_size,client_id,operation,ttl\r\n# a comment\n\n0.5,a,10,300,1,set,60\r\n0.75,b,20,0,2,GET,0\n1,a,10,0,1,incr,0\n1.25,c,5,40,3,append,0\n');
    assert.equal(t.ops, 4);
    assert.equal(t.keys, 3);
    assert.deepEqual([...t.key], [0, 1, 0, 2]);
    assert.deepEqual([...t.op].map((o) => TRACE_OPS[o]), ['set', 'get', 'incr', 'append']);
    // ms from the first op (fractional timestamps are kept as they are).
    assert.deepEqual([...t.atMs], [0, 250, 500, 750]);
    assert.deepEqual([...t.keyBytes], [10, 20, 5]);
    assert.deepEqual([...t.counter], [1, 0, 0]);
    assert.deepEqual([...t.ttl], [60, 0, 0, 0]);
    assert.equal(t.clients, 3);
    assert.equal(t.counts.set + t.counts.get + t.counts.incr + t.counts.append, 4);
    assert.equal(t.spanMs, 750);
  });

  it('spreads ops sharing a whole-second timestamp over that second, and over the gap to the next timestamp when shorter', () => {
    const t = parse('10,a,1,20,1,get,0\n10,b,1,20,1,get,0\n10,c,1,20,1,get,0\n10,d,1,20,1,get,0\n11,a,1,20,1,get,0\n11,b,1,20,1,get,0\n');
    assert.deepEqual([...t.atMs], [0, 250, 500, 750, 1000, 1500]);
    const f = parse('1.1,a,1,20,1,get,0\n1.1,b,1,20,1,get,0\n1.2,c,1,20,1,get,0\n1.2,d,1,20,1,get,0\n');
    // The next timestamp is 100 ms on: two ops share those 100 ms; the last ones (not whole seconds) go together.
    assert.deepEqual([...f.atMs].map((x) => Math.round(x * 1000) / 1000), [0, 50, 100, 100]);
  });

  it('sizes each write by its own value_size (at least the 12-byte header) and each get\'s refill by its own, the key\'s last, or its first size', () => {
    const t = parse([
      '0,a,1,0,1,get,0', // before any size of a: a's first size in the trace (500)
      '1,a,1,500,1,set,0',
      '2,a,1,0,1,get,0', // a's last size: 500
      '3,a,1,4,1,set,0', // below the header: 12
      '4,a,1,0,1,get,0', // 12
      '5,a,1,70,1,get,0', // its own: 70
      '6,b,1,0,1,get,0', // never sized: 0 (PAYLOAD_BYTES)
      '7,b,1,900,1,delete,0', // a delete writes nothing
    ].join('\n'));
    assert.deepEqual([...t.valueBytes], [500, 500, 500, 12, 12, 70, 0, 0]);
    assert.equal(t.largestValue, 500);
    assert.equal(t.serverBytes, 500);
    assert.equal(t.unsizedKeys, 1);
  });

  it('a bad line is named by its number, with what is wrong and the fix', () => {
    bad('0,a,1,1,1,get,0\n0,a,1,1,get,0\n', 2, '6 columns', 'timestamp,key,key_size');
    bad('x,a,1,1,1,get,0\n0,a,1,1,1,get,0\n1e3,a,1,1,1,get,0\n', 3, 'timestamp "1e3" is not a number');
    bad('5,a,1,1,1,get,0\n4,a,1,1,1,get,0\n', 2, 'goes back', 'sort the trace');
    bad('0,a,1,1,1,flush_all,0\n', 1, 'operation "flush_all"', 'get, gets, set');
    bad('0,a b,1,1,1,get,0\n', 1, 'key "a b"');
    bad('0,a,1,2000000,1,get,0\n', 1, 'value_size 2000000 is outside 0–1,048,576');
    bad('0,a,0,1,1,get,0\n', 1, 'key_size 0');
    bad('0,a,1,1,1,get,-1\n', 1, 'ttl "-1" is not a whole number');
    bad(`0,a,1,1,1,get,0\n0,${'k'.repeat(5000)},1,1,1,get,0\n`, 2, 'longer than 4096 characters');
    bad('# nothing\n\n', null, 'no ops');
    // Only a word starts a header: a signed or exponent timestamp on the first line is an op, and refused as one.
    bad('-1,a,1,1,1,get,0\n', 1, 'timestamp "-1"');
    bad('0,a,1,1,1,get,99999999999\n', 1, 'ttl 99999999999 is outside');
    // A control character in a cell is shown escaped, never printed raw; a cell is cut to 40 characters.
    assert.throws(() => parse(`0,a,1,1,1,g\u001b[31met${'x'.repeat(80)},0\n`), (e: unknown) => e instanceof TraceError && e.message.includes('\\u001b[31met') && !e.message.includes('\u001b') && e.message.length < 400);
  });

  it('a report names the file by a safe name only', () => {
    assert.equal(traceName('/x/y/ok-trace_1.csv'), 'ok-trace_1.csv');
    assert.equal(traceName('/x/[link](http:evil)|=cmd.csv'), '_link__http_evil__=cmd.csv'.replace('=', '_'));
  });

  it('trace-gen refuses bad flags with the flag, its value and the fix, and writes nothing', () => {
    const base = { file: join(tmpdir(), `cachebench-tracegen-${process.pid}-never.csv`), ops: 100, rate: 10, keys: 10, zipf: 1, seed: 1, 'whole-seconds': false };
    for (const [flags, says] of [
      [{ seed: 1.5 }, '--seed 1.5 is not a whole number. Fix: give --seed a whole number'], [{ seed: Number.NaN }, '--seed is not a number. Fix:'],
      [{ ops: 0 }, '--ops 0 is outside 1–5000000. Fix:'], [{ rate: Number.NaN }, '--rate is not a number. Fix: give --rate a number within'],
    ] as const) {
      assert.throws(() => traceGenCommand({ ...base, ...flags }), (e: unknown) => e instanceof ConfigError && e.message.includes(says), JSON.stringify(flags));
    }
    assert.equal(existsSync(base.file), false);
  });

  it('trace-gen: the rate, the key space and the mix it was asked for (each op share within 5 standard errors)', () => {
    const ops = 40_000;
    const t = parse(generateTrace({ ops, rate: 2000, keys: 500, zipf: 0.99, seed: 3 }));
    assert.equal(t.ops, ops);
    assert.ok(Math.abs(t.spanMs - ((ops - 1) / 2000) * 1000) < 1e-6, String(t.spanMs));
    assert.ok(t.keys <= 500 + 50);
    // 5% counter ops (incr 60%, decr 10%, get 25%, set 5% of them); 95% value ops, weighted get 70, gets 3, set 12, add,
    // replace and cas 2 each, delete 3, append 1 (of 95).
    const expected: Record<string, number> = {
      get: 0.7 + 0.05 * 0.25, gets: 0.03, set: 0.12 + 0.05 * 0.05, add: 0.02, replace: 0.02, cas: 0.02, delete: 0.03, append: 0.01,
      incr: 0.05 * 0.6, decr: 0.05 * 0.1, prepend: 0,
    };
    for (const op of TRACE_OPS) {
      const p = expected[op] as number;
      const se = Math.sqrt((p * (1 - p)) / ops);
      assert.ok(Math.abs(t.counts[op] / ops - p) <= 5 * se + 1e-12, `${op}: ${t.counts[op]} of ${ops}, expected share ${p}`);
    }
    // The same seed writes the same trace; whole seconds as Twitter's traces give them.
    assert.equal(generateTrace({ ops: 100, rate: 10, keys: 5, zipf: 1, seed: 9 }), generateTrace({ ops: 100, rate: 10, keys: 5, zipf: 1, seed: 9 }));
    const whole = parse(generateTrace({ ops: 100, rate: 10, keys: 5, zipf: 1, seed: 9, wholeSeconds: true }));
    assert.deepEqual([...whole.atMs].slice(0, 11).map(Math.round), [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
  });

  it('each key\'s ops go to one client of one worker, in time order; the measured ops are counted once', () => {
    const t = parse(generateTrace({ ops: 5000, rate: 500, keys: 300, zipf: 0.9, seed: 5 }));
    const plan = { speed: 2 } as const;
    const window = { warmupMs: 1000, durationMs: 3000 };
    const runs = [0, 1, 2].map((w) => traceRun(t, { ...plan } as never, 7, { index: w, of: 3 }, window, 100, 300));
    const seen = new Uint8Array(t.ops);
    for (const [w, run] of runs.entries()) {
      for (const [c, ops] of run.ops.entries()) {
        let last = -1;
        for (const i of ops) {
          assert.equal(seen[i], 0, `op ${i} twice`);
          seen[i] = 1;
          assert.equal((t.key[i] as number) % 21, c * 3 + w, `op ${i}: key ${t.key[i]} belongs to client ${(t.key[i] as number) % 21}`);
          assert.ok(i > last);
          last = i;
        }
      }
    }
    assert.equal(seen.reduce((n, x) => n + x, 0), t.ops);
    // Measured: due (at ×2) from 1 s to 4 s after the first op, and replayed (append and prepend are not).
    let measured = 0;
    for (let i = 0; i < t.ops; i++) {
      const at = (t.atMs[i] as number) / 2;
      if (at >= 1000 && at < 4000 && TRACE_COMMANDS[TRACE_OPS[t.op[i] as number] as keyof typeof TRACE_COMMANDS] !== undefined) measured++;
    }
    assert.equal(runs.reduce((n, r) => n + (r.scheduled ?? 0), 0), measured);
    // At max, one list per worker in trace order (its clients take it in turn), so the trace's mix stays its own.
    const max = [0, 1].map((w) => traceRun(t, { speed: null } as never, 7, { index: w, of: 2 }, window, 100, 300));
    assert.deepEqual(max.map((r) => r.ops.length), [1, 1]);
    assert.equal((max[0]?.ops[0]?.length ?? 0) + (max[1]?.ops[0]?.length ?? 0), t.ops);
    assert.ok([...(max[1]?.ops[0] ?? [])].every((i, j, all) => (t.key[i] as number) % 2 === 1 && (j === 0 || i > (all[j - 1] as number))));
  });

  it('a trace key is named under the run\'s prefix, padded to its key_size', () => {
    const keys = new MixKeys('cachebench:r1:', 3, 2, 1, Uint8Array.from([5, 40, 0]));
    assert.equal(keys.name(0), 'cachebench:r1:ks:0');
    assert.equal(keys.name(1).length, 40);
    assert.ok(keys.name(1).startsWith('cachebench:r1:ks:1:x'));
    assert.equal(keys.name(2), 'cachebench:r1:ks:2');
  });
});

describe('TRACE configuration', () => {
  const file = join(root.dir, 'ten-seconds.csv');
  writeFileSync(file, generateTrace({ ops: 2001, rate: 200, keys: 100, zipf: 0.9, seed: 1 }));
  const env = { REDIS_SERVERS: '127.0.0.1:6379', MODE: 'throughput', TRACE: file };

  it('the trace decides the run: its keys, a measured part of whole seconds after the warm-up, its mean rate, no slices', () => {
    const load = resolveConfig(input({ env })).scenarios[0]?.controls.load;
    assert.ok(load?.trace != null);
    assert.equal(load.trace.ops, 2001);
    assert.equal(load.keyspace, load.trace.keys);
    // 10 s of trace at ×1, 2 s of warm-up: 8 measured seconds; at ×2, 5 s − 2 s = 3.
    assert.equal(load.durationMs, 8000);
    assert.equal(load.sliceMs, 0);
    assert.equal(load.rate, load.trace.measuredOps / 8);
    assert.equal(load.workload?.name, 'trace');
    assert.deepEqual(load.workload.entries.map((e) => e.commands[0]?.name).sort(), ['DECR', 'DEL', 'GET', 'INCR', 'SET']);
    const fast = resolveConfig(input({ env: { ...env, TRACE_SPEED: '2' } })).scenarios[0]?.controls.load;
    assert.equal(fast?.durationMs, 3000);
    // A DURATION given cuts the replay shorter; max replays it back to back for DURATION.
    assert.equal(resolveConfig(input({ env: { ...env, DURATION: '5' } })).scenarios[0]?.controls.load.durationMs, 5000);
    const max = resolveConfig(input({ env: { ...env, TRACE_SPEED: 'max', DURATION: '20' } })).scenarios[0]?.controls.load;
    assert.deepEqual([max?.rate, max?.durationMs, max?.trace?.speed], [0, 20_000, null]);
  });

  it('keys the trace decides, a mode that does not replay, a bad speed or too short a replay: exit 2 before any traffic', () => {
    rejects({ env: { ...env, WORKLOAD: 'ycsb-a' } }, 'WORKLOAD', 'the trace decides the commands', 'TRACE is set');
    rejects({ env: { ...env, KEYSPACE: '100' } }, 'KEYSPACE', 'the trace\'s keys are the key space');
    rejects({ env: { ...env, RATE: '100' } }, 'RATE', 'TRACE_SPEED scales them');
    rejects({ env: { ...env, SLICE_SECONDS: '1' } }, 'SLICE_SECONDS');
    rejects({ env: { ...env, MODE: 'capacity', SLO_P99_MS: '5' } }, 'TRACE', 'MODE is capacity');
    rejects({ env: { ...env, MODE: 'latency' } }, 'TRACE', 'MODE is latency');
    rejects({ env: { ...env, TRACE_SPEED: 'fast' } }, 'TRACE_SPEED="fast"', '0.001 to 1000, or max');
    rejects({ env: { ...env, TRACE_SPEED: '4' } }, 'TRACE_SPEED', 'fewer than 3 whole measured seconds');
    rejects({ env: { REDIS_SERVERS: '127.0.0.1:6379', MODE: 'throughput', TRACE_SPEED: '2' } }, 'TRACE_SPEED', 'no TRACE is set');
    rejects({ env: { ...env, TRACE_REFILL: 'maybe' } }, 'TRACE_REFILL="maybe"', 'on (a get that misses is refilled');
    assert.equal(resolveConfig(input({ env: { ...env, TRACE_REFILL: 'off' } })).scenarios[0]?.controls.load.trace?.refill, false);
    const said = resolveConfig(input({ env: { ...env, READ_RATIO: '5' } })).warnings;
    assert.ok(said.some((w) => w.includes('READ_RATIO=5') && w.includes('does nothing with a TRACE')), said.join('\n'));
    rejects({ env: { ...env, TRACE: join(root.dir, 'none.csv') } }, 'TRACE=', 'cannot be read: ENOENT');
    rejects({ env: { ...env, TRACE: root.dir } }, 'a folder, not a regular file');
    const broken = join(root.dir, 'broken.csv');
    writeFileSync(broken, '0,a,1,1,1,get,0\n1,a,1,1,1,gett,0\n');
    rejects({ env: { ...env, TRACE: broken } }, 'TRACE=', 'process environment', 'line 2: operation "gett"');
  });

  it('a scenario file names a trace in its own folder only (also through a link)', () => {
    const dir = join(root.dir, 'scenarios');
    mkdirSync(dir);
    writeFileSync(join(dir, 'near.csv'), generateTrace({ ops: 1001, rate: 100, keys: 10, zipf: 1, seed: 2 }));
    symlinkSync(file, join(dir, 'link.csv'));
    const scenario = (name: string, trace: string): string => {
      const f = join(dir, name);
      writeFileSync(f, `MODE: throughput\nTRACE: ${trace}\n`);
      return f;
    };
    const near = resolveConfig(input({ env: { REDIS_SERVERS: '127.0.0.1:6379' }, scenarioFiles: [scenario('near.yaml', 'near.csv')] }));
    assert.equal(near.scenarios[0]?.controls.load.trace?.ops, 1001);
    for (const [name, trace] of [['up.yaml', '../ten-seconds.csv'], ['abs.yaml', file], ['link.yaml', 'link.csv']]) {
      rejects({ env: { REDIS_SERVERS: '127.0.0.1:6379' }, scenarioFiles: [scenario(name as string, trace as string)] }, 'TRACE=', 'its own folder or below', 'environment variable or flag');
    }
  });

  it('memcached targets replay it (its commands are memcached\'s); client set-ups the model cannot judge are refused, naming TRACE', () => {
    assert.equal(resolveConfig(input({ env: { ...env, M_SERVERS: '127.0.0.1:11211', M_PROTOCOL: 'memcache' } })).targets.length, 2);
    rejects({ env: { ...env, REDIS_READ_FROM: 'replica' } }, 'TRACE=', 'REDIS_READ_FROM=replica');
  });
});
