import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { DELETE_BATCH_KEYS, MAX_RUN_RESULTS, MAX_SWEEP_CASES, PILOT_MAX_KEYS } from '../../src/config/limits.js';
import { checkMemory, estimateMemory, resultsTerm, type MachineMemory } from '../../src/config/memory.js';
import { resolveConfig, type ConfigInput, type ScenarioPlan } from '../../src/config/resolve.js';
import { keyspaceBatches, keyspaceKey } from '../../src/load/keys.js';
import { shareCount } from '../../src/workload/key-pickers.js';
import { pilotInvocations } from '../../src/latency/pilot.js';
import { maxOf, minOf } from '../../src/stats/extent.js';
import { summarize } from '../../src/stats/describe.js';
import type { CacheClient } from '../../src/targets/client.js';
import { deleteInBatches } from '../../src/workload/cleanup.js';
import { input, rejects } from '../helpers/config.js';
import { tempDir } from '../helpers/servers.js';

const SCENARIOS = fileURLToPath(new URL('../../../scenarios/', import.meta.url));
const GiB = 2 ** 30;
/** A machine on which nothing is refused: the plan is built, then checked against the machines of each test. */
const HUGE: MachineMemory = { heapLimitBytes: 1e15, systemBytes: 1e15 };
const env = { REDIS_SERVERS: '127.0.0.1:6379' };
const tmp = tempDir('cachebench-bounds-');
after(() => tmp.remove());

function scenarioOf(over: Partial<ConfigInput>): ScenarioPlan {
  const s = resolveConfig(input({ env, machine: HUGE, ...over })).scenarios[0];
  assert.ok(s);
  return s;
}

function refused(fn: () => void, ...fragments: string[]): string {
  let message = '';
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    message = error.message;
    for (const f of fragments) assert.ok(message.includes(f), `message ${JSON.stringify(message)} lacks ${JSON.stringify(f)}`);
    assert.match(message, /Fix: /);
    return true;
  });
  return message;
}

describe('the memory estimate, against hand-computed figures', () => {
  it('a latency run of WRITE_COUNT=10000000 × 100 B: 10^7 keys of 800 B on the heap, 1 GB of payloads', () => {
    const s = scenarioOf({ envVars: ['WRITE_COUNT:10000000', 'PAYLOAD_BYTES:100'] });
    const e = estimateMemory(s, 1, resultsTerm([s], 1));
    // 128 MiB process + 10^7 × 800 B keys + one result (64 KiB + 100 iterations × 48 B).
    assert.equal(e.heapBytes, 134_217_728 + 8_000_000_000 + 65_536 + 4_800);
    assert.equal(e.totalBytes, 134_217_728 + 8_000_000_000 + 65_536 + 4_800 + 1_000_000_000);
    assert.equal(e.process, 'cachebench');
  });

  it('refuses it on a 4 GiB heap, naming the figure, the key, its value and source, and the largest WRITE_COUNT that fits', () => {
    const s = scenarioOf({ envVars: ['WRITE_COUNT:10000000', 'PAYLOAD_BYTES:100'] });
    const machine = { heapLimitBytes: 4 * GiB, systemBytes: 64 * GiB };
    // Budget 0.75 × 4 GiB = 3,221,225,472; the rest (process + result) is 134,288,064: 10^7 × 3,086,937,408 / 8e9 = 3,858,671.76.
    refused(() => checkMemory([s], 1, machine), 'needs an estimated 7.6 GiB of JS heap in the cachebench process', '3.0 GiB is available',
      'WRITE_COUNT=10000000 (from --envVars)', 'lower WRITE_COUNT to 3858671 or less', '--max-old-space-size');
    checkMemory([scenarioOf({ envVars: ['WRITE_COUNT:3858671', 'PAYLOAD_BYTES:100'] })], 1, machine);
  });

  it('a throughput worker of CLIENTS=100000 × 20 KB: 2.0 GB of values, refused on a 3 GiB machine, accepted on 4 GiB', () => {
    const s = scenarioOf({ flags: { MODE: 'throughput', CLIENTS: '100000' } });
    const e = estimateMemory(s, 1, resultsTerm([s], 1));
    assert.equal(e.process, 'load worker');
    // Per worker: 128 MiB + 100,000 clients × 4096 + 50 connections × 64 KiB + 20 s × 4096 + 1000 names × 800.
    assert.equal(e.heapBytes, 134_217_728 + 409_600_000 + 3_276_800 + 81_920 + 800_000);
    // + values: 100,000 × 20,000 + 50 in flight × 20,000 × 2; + the cachebench process (128 MiB); + the record (20 × 4096);
    // + the result (64 KiB + 20 × 4096).
    assert.equal(e.totalBytes, 134_217_728 + 409_600_000 + 3_276_800 + 81_920 + 800_000 + 2_002_000_000 + 134_217_728 + 81_920 + 65_536 + 81_920);
    refused(() => checkMemory([s], 1, { heapLimitBytes: 4 * GiB, systemBytes: 3 * GiB }), 'of memory on this machine', 'CLIENTS=100000 (from flag --clients)', 'PAYLOAD_BYTES=20000 (from built-in default)', 'lower CLIENTS to');
    checkMemory([s], 1, { heapLimitBytes: 4 * GiB, systemBytes: 4 * GiB });
  });

  it('WORKERS multiplies the machine figure, not a worker\'s heap', () => {
    const one = scenarioOf({ flags: { MODE: 'throughput', CLIENTS: '1000' } });
    const four = scenarioOf({ flags: { MODE: 'throughput', CLIENTS: '1000', WORKERS: '4' } });
    const a = estimateMemory(one, 1, resultsTerm([one], 1));
    const b = estimateMemory(four, 1, resultsTerm([four], 1));
    assert.equal(b.heapBytes, a.heapBytes);
    // Three more workers (each with its own process) and three more per-second records.
    assert.equal(b.totalBytes - a.totalBytes, 3 * (a.heapBytes + 1000 * 20_000 + 50 * 20_000 * 2) + 3 * 20 * 4096);
  });

  it('the default run and every shipped scenario pass on a modest machine (2 GiB heap, 4 GiB memory) with 8 targets', () => {
    const targets = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`T${i}_SERVERS`, `127.0.0.1:${7000 + i}`]));
    const modest = { heapLimitBytes: 2 * GiB, systemBytes: 4 * GiB };
    resolveConfig(input({ env: targets, machine: modest }));
    for (const file of readdirSync(SCENARIOS).filter((f) => f.endsWith('.yaml'))) {
      // Fault scenarios need local topologies; their memory (no latency iteration) is checked by the same path.
      if (file.startsWith('failover')) continue;
      resolveConfig(input({ env: targets, scenarioFiles: [join(SCENARIOS, file)], machine: modest }));
    }
  });

  it('the pilot stage holds at most PILOT_MAX_KEYS keys per iteration, however fast the target', () => {
    const n = pilotInvocations(1e-6, { READ_RATIO: 0, WRITE_COUNT: 1, PAYLOAD_BYTES: 1 }, 600_000);
    assert.equal(n, PILOT_MAX_KEYS);
    assert.equal(pilotInvocations(1e-6, { READ_RATIO: 0, WRITE_COUNT: 10, PAYLOAD_BYTES: 1 }, 600_000, 4), PILOT_MAX_KEYS / 40);
  });
});

describe('sweep caps, checked before the combinations are built', () => {
  const lists = (n: number): string => `[${Array.from({ length: n }, (_, i) => i + 1).join(', ')}]`;
  const file = (name: string, text: string): string => {
    const f = join(tmp.dir, name);
    writeFileSync(f, text);
    return f;
  };

  it('three 1,000-value lists (10^9 combinations) are refused at once, naming each list and its length', () => {
    const f = file('three.yaml', `PAYLOAD_BYTES: ${lists(1000)}\nWRITE_COUNT: ${lists(1000)}\nREAD_RATIO: ${lists(1000)}\n`);
    rejects({ env, scenarioFiles: [f] }, 'makes 1000000000 combinations', `at most ${MAX_SWEEP_CASES}`,
      'READ_RATIO (1000 values, from scenario file', 'WRITE_COUNT (1000 values', 'PAYLOAD_BYTES (1000 values');
  });

  it('a product just over the cap is refused, one at the cap runs', () => {
    rejects({ env, envVars: [`READ_RATIO:${lists(10).slice(1, -1).replace(/ /g, '')}`, `WRITE_COUNT:${lists(10).slice(1, -1).replace(/ /g, '')}`, `PAYLOAD_BYTES:${lists(11).slice(1, -1).replace(/ /g, '')}`] },
      'makes 1100 combinations', 'READ_RATIO (10 values, from --envVars)', 'PAYLOAD_BYTES (11 values, from --envVars)');
    const f = file('cap.yaml', `PAYLOAD_BYTES: ${lists(10)}\nWRITE_COUNT: ${lists(10)}\nREAD_RATIO: ${lists(10)}\n`);
    assert.equal(resolveConfig(input({ env, scenarioFiles: [f], machine: HUGE })).scenarios[0]?.cases.length, 1000);
  });

  it(`combinations of every scenario × targets over ${MAX_RUN_RESULTS} are refused, naming the product; at the cap the plan is built`, () => {
    const f = file('cap-run.yaml', `PAYLOAD_BYTES: ${lists(10)}\nWRITE_COUNT: ${lists(10)}\nREAD_RATIO: ${lists(10)}\n`);
    const targets = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`T${i}_SERVERS`, '127.0.0.1:6379']));
    rejects({ env: targets(11), scenarioFiles: [f], machine: HUGE }, '1000 parameter combinations (1 scenario) × 11 targets = 11000 results', `at most ${MAX_RUN_RESULTS}`);
    assert.equal(resolveConfig(input({ env: targets(10), scenarioFiles: [f], machine: HUGE })).targets.length, 10);
  });

  it('a 200,000-value list is a ConfigError naming the key and its length, not a RangeError', () => {
    // Short values: the file stays under the scenario file limit (1 MiB), so the list check is what refuses it.
    const f = file('long.yaml', `PAYLOAD_BYTES: [${Array.from({ length: 200_000 }, () => '1').join(',')}]\n`);
    rejects({ env, scenarioFiles: [f] }, 'PAYLOAD_BYTES (from scenario file', 'is a list of 200000 values', 'starting 1, 1, 1');
  });
});

describe('lists never spread into arguments', () => {
  it('maxOf / minOf take 300,000 values (Math.max(...values) throws RangeError) and agree with Math.max / Math.min', () => {
    const values = Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 300_007);
    assert.equal(maxOf(values), values.reduce((m, v) => Math.max(m, v), -Infinity));
    assert.equal(minOf(values), 0);
    assert.equal(maxOf([]), Math.max());
    assert.equal(minOf([]), Math.min());
    assert.ok(Number.isNaN(maxOf([1, Number.NaN])));
    assert.throws(() => Math.max(...values), RangeError);
  });

  it('summarize takes 200,000 samples', () => {
    const s = summarize(Array.from({ length: 200_000 }, (_, i) => 1 + (i % 10) / 100));
    assert.equal(s?.min, 1);
  });
});

describe('KEYSPACE clean-up in batches', () => {
  it('generates a worker\'s share of the names in batches of at most DELETE_BATCH_KEYS, whatever the key count', () => {
    for (const keys of [10, 50_000, 2_000_000]) {
      let peak = 0;
      let count = 0;
      for (const batch of keyspaceBatches('cachebench:r:', 1, 3, keys)) {
        peak = Math.max(peak, batch.length);
        count += batch.length;
      }
      assert.ok(peak <= DELETE_BATCH_KEYS, `peak batch ${peak} for ${keys} keys`);
      assert.equal(count, shareCount(1, 3, keys));
    }
    assert.deepEqual([...keyspaceBatches('p:', 1, 3, 11, 2)], [['p:ks:1', 'p:ks:4'], ['p:ks:7', 'p:ks:10']]);
    assert.equal(keyspaceKey('p:', 7), 'p:ks:7');
    assert.equal(shareCount(5, 2, 5), 0);
  });

  /** A client that counts DELs in flight (no server: the batching is what is tested). */
  function countingClient(fail: (key: string) => boolean = () => false) {
    const state = { inFlight: 0, peak: 0, deleted: new Set<string>() };
    const client: CacheClient = {
      set: () => Promise.resolve(),
      get: () => Promise.resolve(null),
      close: () => Promise.resolve(),
      del: async (key) => {
        state.inFlight++;
        state.peak = Math.max(state.peak, state.inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        state.inFlight--;
        if (fail(key)) throw new Error('DEL failed');
        state.deleted.add(key);
      },
    };
    return { client, state };
  }

  it('deletes every key with at most one batch in flight, and reports progress at the start and the end', async () => {
    const { client, state } = countingClient((key) => key.endsWith(':ks:3'));
    const progress: number[] = [];
    const outcome = await deleteInBatches([client, client], keyspaceBatches('p:', 0, 1, 50_000), 50_000, { onProgress: (p) => progress.push(p.deleted + p.failed) });
    assert.deepEqual(outcome, { deleted: 49_999, failed: 1, total: 50_000, left: 0 });
    assert.equal(state.deleted.size, 49_999);
    assert.ok(state.peak <= DELETE_BATCH_KEYS, `peak in flight ${state.peak}`);
    assert.equal(progress[0], 0);
    assert.equal(progress.at(-1), 50_000);
  });

  it('stops after the batch in flight when asked, and says how many keys were not tried', async () => {
    const { client } = countingClient();
    let batches = 0;
    const outcome = await deleteInBatches([client], keyspaceBatches('p:', 0, 1, 10_000), 10_000, { shouldStop: () => batches++ >= 3 });
    assert.deepEqual(outcome, { deleted: 3000, failed: 0, total: 10_000, left: 7000 });
  });
});

describe('KEY_TTL and the preload', () => {
  it('warns when KEY_TTL is shorter than the preload (at the conservative rate) and the run', () => {
    const plan = resolveConfig(input({ env, machine: HUGE, flags: { MODE: 'throughput', KEYSPACE: '15000000', PAYLOAD_BYTES: '100' } }));
    const warning = plan.warnings.find((w) => w.startsWith('KEY_TTL=300 s (built-in default)'));
    assert.ok(warning, plan.warnings.join('\n'));
    // 15,000,000 / 10,000 keys/s = 1500 s preload + 2 s warm-up + 20 s + 60 s.
    assert.match(warning, /preload of KEYSPACE=15000000 keys \(up to 1500 s/);
    assert.match(warning, /set KEY_TTL to 1582 or more/);
    const fine = resolveConfig(input({ env, machine: HUGE, flags: { MODE: 'throughput', KEYSPACE: '15000000', PAYLOAD_BYTES: '100', KEY_TTL: '1582' } }));
    assert.equal(fine.warnings.some((w) => w.startsWith('KEY_TTL')), false);
  });
});
