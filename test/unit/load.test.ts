import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/resolve.js';
import { validateRun, type RunArgs } from '../../src/cli/validate.js';
import { ConfigError } from '../../src/config/errors.js';
import { KeyspaceValues } from '../../src/load/keys.js';
import { ZipfSampler, keyPicker } from '../../src/workload/key-pickers.js';
import { mergeRecords, type LoadRecord } from '../../src/load/record.js';
import { OpHistogram } from '../../src/measure/histogram.js';
import { seededRandom } from '../../src/measure/random.js';
import { independentRatioInterval, percentBoundOf } from '../../src/stats/ratio.js';
import { input, rejects } from '../helpers/config.js';
import { tempDir } from '../helpers/servers.js';

const SCENARIOS = fileURLToPath(new URL('../../../scenarios/', import.meta.url));
const env = { REDIS_SERVERS: '127.0.0.1:6379' };
const throughput = (flags: Record<string, string>) => ({ env, flags: { MODE: 'throughput', ...flags } });

describe('throughput configuration', () => {
  it('the shipped throughput scenarios resolve to their load', () => {
    const plan = resolveConfig(input({ env, scenarioFiles: [join(SCENARIOS, 'throughput.yaml'), join(SCENARIOS, 'throughput-zipf.yaml')] }));
    const [closed, zipf] = plan.scenarios.map((s) => s.controls.load);
    assert.deepEqual(closed, { mode: 'throughput', clients: 50, connections: 50, pipeline: 1, rate: 0, warmupMs: 2000, durationMs: 10_000, sliceMs: 2000, workers: 1, keyspace: 0, distribution: { kind: 'uniform' }, startAtMs: null, capacity: null, workload: null, trace: null });
    assert.equal(zipf?.rate, 5000);
    assert.deepEqual(zipf?.distribution, { kind: 'zipf', exponent: 0.99 });
    assert.equal(resolveConfig(input({ env })).scenarios[0]?.controls.load.mode, 'latency');
  });

  it('a run of throughput and capacity scenarios only uses the own RESP client where a target names none and needs nothing it lacks', () => {
    const clients = (files: string[], extra: Record<string, string> = {}, flags: Record<string, string> = {}): string[] => resolveConfig(input({
      env: { ...env, B_SERVERS: '127.0.0.1:6380', C_SERVERS: '127.0.0.1:6381', M_SERVERS: '127.0.0.1:11211', M_PROTOCOL: 'memcache', ...extra },
      scenarioFiles: files.map((f) => join(SCENARIOS, f)), flags,
    })).targets.map((t) => `${t.name}:${t.client}`);
    assert.deepEqual(clients(['throughput.yaml', 'throughput-zipf.yaml'], { B_CLIENT: 'ioredis', C_READ_FROM: 'replica' }), ['B:ioredis', 'C:ioredis', 'M:memcache', 'REDIS:resp']);
    assert.deepEqual(clients([], {}, { MODE: 'capacity', SLO_P99_MS: '10' }), ['B:resp', 'C:resp', 'M:memcache', 'REDIS:resp']);
    // Latency runs, and runs that mix kinds, keep ioredis.
    assert.deepEqual(clients([]), ['B:ioredis', 'C:ioredis', 'M:memcache', 'REDIS:ioredis']);
    assert.deepEqual(clients(['throughput.yaml', 'seed-read-heavy.yaml']), ['B:ioredis', 'C:ioredis', 'M:memcache', 'REDIS:ioredis']);
  });

  it('zero, negative and non-numeric values are refused, naming the key, the value and where it came from', () => {
    rejects(throughput({ CLIENTS: '0' }), 'CLIENTS', '"0"', 'below the minimum 1');
    rejects(throughput({ CONNECTIONS: '-2' }), 'CONNECTIONS', 'negative');
    rejects(throughput({ PIPELINE: 'four' }), 'PIPELINE', 'not a whole number');
    rejects(throughput({ WORKERS: '0' }), 'WORKERS', 'below the minimum 1');
    rejects(throughput({ RATE: '-5' }), 'RATE', 'negative');
    rejects(throughput({ RATE: 'fast' }), 'RATE', 'not a number');
    rejects(throughput({ DURATION: '0' }), 'DURATION');
    rejects(throughput({ DURATION: '2.5' }), 'DURATION', 'whole number of seconds');
    rejects(throughput({ KEYSPACE: '-1' }), 'KEYSPACE', 'negative');
    rejects(throughput({ KEYSPACE: '10', KEY_DISTRIBUTION: 'zipf:0' }), 'KEY_DISTRIBUTION', 'above 0');
    rejects(throughput({ KEYSPACE: '10', KEY_DISTRIBUTION: 'pareto' }), 'KEY_DISTRIBUTION', 'pareto');
    rejects(throughput({ KEY_DISTRIBUTION: 'zipf:1' }), 'KEY_DISTRIBUTION', 'KEYSPACE is 0');
    rejects(throughput({ START_AT: 'tomorrow' }), 'START_AT', 'not a time');
    rejects(throughput({ START_AT: '2020-01-01T00:00:00Z' }), 'START_AT', 'in the past');
    rejects(throughput({ KEYSPACE: '1000000', PAYLOAD_BYTES: '10000' }), 'KEYSPACE', '4 GiB');
    rejects(throughput({ KEYSPACE: '100', PAYLOAD_BYTES: '4' }), 'PAYLOAD_BYTES', '8 bytes');
    rejects(throughput({ FAULT: 'kill-primary' }), 'FAULT', 'MODE is throughput');
    rejects({ env, flags: { CLIENTS: '8' } }, 'CLIENTS', 'MODE is latency', 'MODE=throughput');
    rejects({ env: { ...env, RATE: '100' } }, 'RATE', 'process environment', 'MODE is latency');
  });

  it('START_AT takes ISO 8601 with a zone or Unix seconds', () => {
    const ahead = Date.now() + 60_000;
    const iso = new Date(ahead).toISOString();
    assert.equal(resolveConfig(input(throughput({ START_AT: iso }))).scenarios[0]?.controls.load.startAtMs, Date.parse(iso));
    assert.equal(resolveConfig(input(throughput({ START_AT: String(Math.floor(ahead / 1000)) }))).scenarios[0]?.controls.load.startAtMs,
      Math.floor(ahead / 1000) * 1000);
    rejects(throughput({ START_AT: iso.replace('Z', '') }), 'START_AT', 'not a time');
  });

  it('WORKERS above the core count is a warning naming the core count', () => {
    const cores = availableParallelism();
    const plan = resolveConfig(input(throughput({ WORKERS: String(cores + 1) })));
    assert.ok(plan.warnings.some((w) => w.includes(`WORKERS=${cores + 1}`) && w.includes(`${cores} CPU core`)), plan.warnings.join('\n'));
  });

  it('--shard i/N and --require-rate are checked before any traffic', () => {
    const out = tempDir();
    try {
      const args = (over: Partial<RunArgs>): RunArgs => ({ 'cluster-node-timeout': 5000, alpha: 0.01, out: out.dir, quiet: true, mode: 'throughput', ...over } as RunArgs);
      const refused = (over: Partial<RunArgs>, fragment: string): void => {
        assert.throws(() => validateRun(args(over), env), (e: unknown) => e instanceof ConfigError && e.message.includes(fragment) && e.message.includes('Fix:'));
      };
      refused({ shard: '3/3' }, '--shard "3/3"');
      refused({ shard: '1' }, '--shard "1"');
      refused({ shard: '0/2', mode: undefined }, 'MODE=latency');
      refused({ 'require-rate': true }, 'RATE');
      assert.deepEqual(validateRun(args({ shard: '2/3' }), env).shard, { index: 2, of: 3 });
    } finally {
      out.remove();
    }
  });
});

describe('key distributions', () => {
  /**
   * Draws `draws` ranks (1..n) and returns the chi-square of their counts against the exact zipf probabilities
   * 1/(k^s H(n,s)); 49 degrees of freedom for n = 50, whose 99.9th percentile is 85.35 (statistical tables).
   */
  function zipfChiSquare(n: number, s: number, draws: number, rank: () => number): { chi: number; counts: number[] } {
    const counts = new Array<number>(n + 1).fill(0);
    for (let i = 0; i < draws; i++) {
      const k = rank();
      assert.ok(Number.isInteger(k) && k >= 1 && k <= n, `rank ${k}`);
      counts[k] = (counts[k] ?? 0) + 1;
    }
    let h = 0;
    for (let k = 1; k <= n; k++) h += 1 / k ** s;
    let chi = 0;
    for (let k = 1; k <= n; k++) {
      const expected = (draws / k ** s) / h;
      chi += ((counts[k] ?? 0) - expected) ** 2 / expected;
    }
    return { chi, counts };
  }

  it('zipf by rejection-inversion matches the exact probabilities 1/(k^s H(n,s))', () => {
    const zipf = new ZipfSampler(50, 0.99, seededRandom(42));
    const { chi } = zipfChiSquare(50, 0.99, 200_000, () => zipf.sample());
    assert.ok(chi < 85.35, `chi-square ${chi.toFixed(1)}`);
  });

  it('the zipf key picker the load workers call gives index k-1 for rank k, every index in range, at the exact probabilities', () => {
    const pick = keyPicker({ kind: 'zipf', exponent: 0.99 }, 50, seededRandom(7));
    // Index k-1 holds rank k: an index out of 0..49 is a rank out of 1..50.
    const { chi, counts } = zipfChiSquare(50, 0.99, 200_000, () => pick() + 1);
    assert.ok(chi < 85.35, `chi-square ${chi.toFixed(1)}`);
    assert.equal(counts.indexOf(Math.max(...counts)), 1, 'index 0 (rank 1) is the hottest key');
  });

  it('uniform covers the key space evenly; sequential walks it in order from its start', () => {
    const pick = keyPicker({ kind: 'uniform' }, 10, seededRandom(1));
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) counts[pick()]! += 1;
    for (const c of counts) assert.ok(c > 850 && c < 1150, String(counts));
    const seq = keyPicker({ kind: 'sequential' }, 5, seededRandom(1), 3);
    assert.deepEqual([seq(), seq(), seq(), seq(), seq(), seq()], [3, 4, 0, 1, 2, 3]);
  });

  it('a KEYSPACE value is exactly its key\'s: another key\'s value or one changed byte fails', () => {
    const values = new KeyspaceValues(100, 7);
    const v = values.value(12);
    assert.ok(values.matches(v, 12));
    assert.ok(!values.matches(v, 13));
    assert.ok(!values.matches(values.value(13), 12));
    const changed = Buffer.from(v);
    changed[99] = (changed[99] ?? 0) ^ 1;
    assert.ok(!values.matches(changed, 12));
    assert.ok(!values.matches(v.subarray(0, 99), 12));
    // Another worker (same seed) builds the same values.
    assert.ok(new KeyspaceValues(100, 7).matches(v, 12));
  });
});

describe('ratio of independent means (Percent of throughput runs)', () => {
  it('with a constant baseline, Fieller\'s interval is the current mean\'s t interval divided by the baseline (t(0.9995, 9) = 4.781 from tables)', () => {
    const current = [95, 102, 99, 101, 97, 103, 100, 98, 104, 101];
    const baseline = new Array<number>(10).fill(200);
    const r = independentRatioInterval(baseline, current, 0.999);
    assert.ok(r !== undefined && r.lower !== null && r.upper !== null);
    const m = current.reduce((a, b) => a + b, 0) / 10;
    const sd = Math.sqrt(current.reduce((a, b) => a + (b - m) ** 2, 0) / 9);
    const half = (4.781 * sd) / Math.sqrt(10);
    assert.ok(Math.abs(r.lower - (m - half) / 200) < 1e-4, `${r.lower}`);
    assert.ok(Math.abs(r.upper - (m + half) / 200) < 1e-4, `${r.upper}`);
    assert.equal(r.ratio, m / 200);
  });

  it('with a baseline that varies, its variance widens the interval: Fieller\'s bounds solved by hand (t(0.9995, 10) = 4.587 from tables)', () => {
    // current = baseline / 2 exactly, so v_c = R² v_b at R = 1/2 and the Welch degrees of freedom are 2 (n - 1) = 10.
    const baseline = [190, 200, 210, 195, 205, 200];
    const current = baseline.map((x) => x / 2);
    const r = independentRatioInterval(baseline, current, 0.999);
    assert.ok(r !== undefined && r.lower !== null && r.upper !== null);
    const n = 6;
    const mb = baseline.reduce((a, b) => a + b, 0) / n;
    const vb = baseline.reduce((a, b) => a + (b - mb) ** 2, 0) / (n - 1) / n;
    const mc = mb / 2;
    const vc = vb / 4;
    const t2 = 4.587 ** 2;
    // (b̄² − t² v_b) R² − 2 b̄ c̄ R + (c̄² − t² v_c) = 0
    const qa = mb * mb - t2 * vb;
    const qb = -2 * mb * mc;
    const qc = mc * mc - t2 * vc;
    const root = Math.sqrt(qb * qb - 4 * qa * qc);
    assert.ok(Math.abs(r.lower - (-qb - root) / (2 * qa)) < 1e-4, `${r.lower}`);
    assert.ok(Math.abs(r.upper - (-qb + root) / (2 * qa)) < 1e-4, `${r.upper}`);
    assert.ok(Math.abs(r.ratio - 0.5) < 1e-12);
    // The baseline's variance is part of it: wider than the current mean's interval over a constant baseline, at the same t.
    assert.ok(r.upper - r.lower > (2 * 4.587 * Math.sqrt(vc)) / mb, `${r.lower}..${r.upper}`);
  });

  it('a bound beyond ±1e17 % is written as unbounded, so results.json never holds one its own reader refuses', () => {
    assert.equal(percentBoundOf(-0.5), -50);
    assert.equal(percentBoundOf(1e15), 1e17);
    assert.equal(percentBoundOf(2e15), null);
    assert.equal(percentBoundOf(-2e15), null);
    assert.equal(percentBoundOf(Number.POSITIVE_INFINITY), null);
    assert.equal(percentBoundOf(null), null);
  });

  it('is unbounded when the baseline mean is not clearly above 0', () => {
    const r = independentRatioInterval([1, -1, 2, -2], [5, 6, 5, 6], 0.999);
    assert.ok(r !== undefined && r.lower === null && r.upper === null);
  });
});

describe('merging load records', () => {
  const record = (startMs: number, values: readonly number[], perSecond: readonly number[]): LoadRecord => {
    const h = new OpHistogram();
    for (const v of values) h.record(v);
    const empty = new OpHistogram().encode();
    return {
      target: 'T', startMs, durationMs: perSecond.length * 1000, view: 'service', sets: 0, gets: values.length, setErrors: 0, getErrors: 0, scheduled: null, sent: null, lateStartMs: 0,
      verified: values.length, missing: 0, mismatched: 0, hits: null, misses: null, deletes: 0, undeletedKeys: 0, errorMessages: { 'GET: x': 1 },
      histograms: { set: empty, get: h.encode(), setIntended: null, getIntended: null },
      series: perSecond.map((ops, i) => ({ t: startMs + i * 1000, ops, sets: 0, gets: ops, errors: 0, latency: empty })),
      nodes: null, workers: [{ worker: `w${startMs}`, ops: values.length, peakRssBytes: 1 }],
    };
  };

  it('sums counts, adds histograms and aligns seconds by wall clock', () => {
    const a = record(1_000_000, [1000, 2000, 3000], [1, 2]);
    const b = record(1_001_004, [4000, 5_000_000], [3, 4]); // started 1.004 s later: its first second is a's second
    const m = mergeRecords([a, b]);
    assert.equal(m.gets, 5);
    assert.deepEqual(m.series.map((s) => [s.t, s.ops]), [[1_000_000, 1], [1_001_000, 5], [1_002_000, 4]]);
    const h = OpHistogram.decode(m.histograms.get);
    assert.equal(h.count, 5);
    assert.ok(Math.abs(h.valueAt(100) - 5_000_000) / 5_000_000 < 0.001);
    assert.deepEqual(m.errorMessages, { 'GET: x': 2 });
    assert.equal(m.workers.length, 2);
    assert.equal(m.durationMs, 3004);
  });
});
