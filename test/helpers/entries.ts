import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import type { ResultEntry } from '../../src/report/document.js';

/**
 * A results.json entry for statistics tests: only the scenario, target and samples matter; the
 * descriptive stats are placeholders (the gate reads samples, never these).
 */
export function fakeEntry(scenario: string, target: string, params: Readonly<Record<string, number>>, rounds: readonly (number | null)[]): ResultEntry {
  const samples = rounds.filter((x): x is number => x !== null);
  return {
    scenario: { name: scenario, file: null, description: '', params },
    target: { name: target, mode: 'standalone', servers: [], client: 'ioredis', cache: 'off', readFrom: 'primary', wait: 0 },
    state: 'completed', error: null, baseline: false,
    stats: { n: samples.length, outliers: 0, meanMs: 70, errorMs: 1, stdDevMs: 2, medianMs: 70, minMs: 60, maxMs: 80, ciLowerMs: 69, ciUpperMs: 71,
      percent: 100, percentLower: null, percentUpper: null, percentPairs: null, confidence: 0.999 },
    samplesMs: samples, roundSamplesMs: rounds,
    ops: { set: { count: 1, errors: 0 }, get: { count: 1, errors: 0 } },
    verification: { reads: 1, verified: 1, missing: 0, mismatched: 0 },
    iterations: { warmup: 0, measured: samples.length, failed: 0, rounds: rounds.length, stopReason: 'converged', invocations: 1, pilotMs: null },
    errors: {}, undeletedKeys: 0, staleness: null, cache: null,
  } as unknown as ResultEntry;
}

/** A results.json written by a real run (test/fixtures: a latency, a fault and a throughput run against one local Redis), parsed afresh. */
export type FixtureKind = 'latency' | 'fault' | 'throughput';
export type FixtureDoc = Record<string, unknown> & { results: Record<string, unknown>[] };
export function fixtureDoc(kind: FixtureKind): FixtureDoc {
  return JSON.parse(readFileSync(fixturePath(kind), 'utf8')) as FixtureDoc;
}

export const fixturePath = (kind: FixtureKind): string =>
  fileURLToPath(new URL(`../../../test/fixtures/results-${kind}.json`, import.meta.url));

/**
 * An HdrHistogram compressed V2 encoding (as hdr-histogram-js writes it) with any header and counts payload, for
 * hostile histograms: a header that claims a huge range, or counts that inflate to far more than the text.
 */
export function encodeHistogram(header: { digits: number; lowest: number; highest: number }, payload: Buffer = Buffer.alloc(0)): string {
  const inner = Buffer.alloc(40 + payload.length);
  inner.writeInt32BE(478450435 | 0x10, 0);
  inner.writeInt32BE(payload.length, 4);
  inner.writeInt32BE(0, 8);
  inner.writeInt32BE(header.digits, 12);
  inner.writeBigInt64BE(BigInt(header.lowest), 16);
  inner.writeBigInt64BE(BigInt(header.highest), 24);
  inner.writeDoubleBE(1, 32);
  payload.copy(inner, 40);
  const compressed = deflateSync(inner, { level: 9 });
  const outer = Buffer.alloc(8 + compressed.length);
  outer.writeInt32BE(478450436 | 0x10, 0);
  outer.writeInt32BE(compressed.length, 4);
  compressed.copy(outer, 8);
  return outer.toString('base64');
}

/** Walks `path` (dots and [i]) in `doc` and sets the last step to `value` (undefined: deletes it). */
export function setField(doc: FixtureDoc, path: string, value: unknown): FixtureDoc {
  const steps = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let at: Record<string, unknown> = doc;
  for (const step of steps.slice(0, -1)) at = at[step] as Record<string, unknown>;
  const last = steps.at(-1) as string;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return doc;
}

/** Malformed documents: each must be refused with its field named, never crash a renderer (`cli`: also tried through the CLI). */
/** A capacity search as results.json keeps it (no steps). */
const CAPACITY = {
  objectives: [{ percentile: 99, maxMs: 10 }], maxErrorShare: 0, startRate: 100, growth: 2, precision: 0.05, repeats: 3, maxSteps: 30,
  steps: [], knee: null, interval: null, lowerBound: null, stop: 'max-steps',
};

export const MALFORMED: readonly { kind: FixtureKind; path: string; value: unknown; field?: RegExp; cli?: true }[] = [
  { kind: 'latency', path: 'results[0].stats', value: undefined, cli: true },
  { kind: 'latency', path: 'results[0].harness', value: { busy: -0.5, cpuUsPerOp: 1 } },
  { kind: 'latency', path: 'results[0].harness', value: { busy: 0.5, cpuUsPerOp: -3 } },
  { kind: 'latency', path: 'results[0].harness', value: { busy: 0.5, cpuUsPerOp: 3, gcShare: 1.5 }, field: /results\[0\]\.harness\.gcShare/ },
  { kind: 'throughput', path: 'mergeNotes', value: new Array(101).fill('a note') },
  { kind: 'throughput', path: 'mergeNotes', value: ['x'.repeat(501)], field: /mergeNotes\[0\]/ },
  // A crafted plan must not make merge plan a billion steps: the capacity keys' own limits hold in a file too.
  { kind: 'throughput', path: 'results[0].load.capacity', value: { ...CAPACITY, growth: 1 }, field: /results\[0\]\.load\.capacity\.growth: expected CAPACITY_GROWTH: a number from 1\.1 to 10/ },
  { kind: 'throughput', path: 'results[0].load.capacity', value: { ...CAPACITY, maxSteps: 1e9 }, field: /results\[0\]\.load\.capacity\.maxSteps: expected CAPACITY_MAX_STEPS/ },
  { kind: 'throughput', path: 'results[0].load.workers[0].client', value: { busy: 3, cpuUsPerOp: 1, loopDelayP99Ms: 1, gcMsPerSecond: 0, seconds: 2 } },
  { kind: 'throughput', path: 'results[0].load.workers[0].client', value: { busy: 0.5, cpuUsPerOp: 1, loopDelayP99Ms: 1, gcMsPerSecond: 0, seconds: 0 } },
  { kind: 'throughput', path: 'results[0].load.record.serverCpu', value: { ms: -1, nodes: 1, windows: 1, planned: 1, source: 'INFO cpu' } },
  { kind: 'throughput', path: 'results[0].load.record.serverCpu', value: { ms: 10, nodes: 0, windows: 1, planned: 1, source: 'INFO cpu' } },
  { kind: 'latency', path: 'results[0].stats', value: null },
  { kind: 'latency', path: 'results[0].stats.meanMs', value: '70', cli: true },
  { kind: 'latency', path: 'results[0].samplesMs', value: null, cli: true },
  { kind: 'latency', path: 'results[0].samplesMs', value: 'x' },
  { kind: 'latency', path: 'results[0].samplesMs', value: new Array(100_001).fill(1), cli: true },
  { kind: 'latency', path: 'results[0].roundSamplesMs', value: [1, 'x'], field: /results\[0\]\.roundSamplesMs\[1\]/ },
  { kind: 'latency', path: 'results[0].samplesMs', value: [1, -3], field: /results\[0\]\.samplesMs\[1\]: expected a time in ms from 0\.000001 \(1 ns\)/ },
  { kind: 'latency', path: 'results[0].samplesMs', value: [0, 0], field: /results\[0\]\.samplesMs\[0\]: expected a time in ms from 0\.000001 \(1 ns\)/ },
  { kind: 'latency', path: 'results[0].samplesMs', value: [1e300], field: /results\[0\]\.samplesMs\[0\]: expected a time in ms from 0\.000001 \(1 ns\) to/ },
  { kind: 'latency', path: 'results[0].roundSamplesMs', value: [null, -1], field: /results\[0\]\.roundSamplesMs\[1\]/ },
  { kind: 'latency', path: 'results[0].stats.meanMs', value: -70 },
  { kind: 'latency', path: 'results[0].samplesMs', value: [5e-324, 1e-300], field: /results\[0\]\.samplesMs\[0\]: expected a time in ms from 0\.000001 \(1 ns\)/ },
  { kind: 'latency', path: 'results[0].stats.percent', value: -1e308, field: /results\[0\]\.stats\.percent: expected a Percent from 0/ },
  { kind: 'latency', path: 'results[0].stats.ciLowerMs', value: 1e9, field: /results\[0\]\.stats\.ciLowerMs: expected at most ciUpperMs/ },
  { kind: 'latency', path: 'results[0].stats.confidence', value: 1.5, field: /results\[0\]\.stats\.confidence: expected a confidence level between 0 and 1/ },
  { kind: 'latency', path: 'results[0].stats.confidence', value: 0 },
  { kind: 'throughput', path: 'results[0].load.throughput.confidence', value: 99.9 },
  { kind: 'latency', path: 'results[0].ops', value: null },
  { kind: 'latency', path: 'results[0].ops.get.count', value: -1 },
  { kind: 'latency', path: 'results[0].ops.get.histogram', value: 'AAAA', cli: true },
  { kind: 'latency', path: 'results[0].ops.get.histogram', value: 42 },
  { kind: 'latency', path: 'results[0].verification', value: {}, field: /results\[0\]\.verification\.reads/ },
  { kind: 'latency', path: 'results[0].iterations', value: null },
  { kind: 'latency', path: 'results[0].errors', value: [], cli: true },
  { kind: 'latency', path: 'results[0].state', value: 'weird' },
  { kind: 'latency', path: 'results[0].scenario.params', value: null },
  { kind: 'latency', path: 'results[0].scenario.name', value: '../x' },
  { kind: 'latency', path: 'results[0].target.name', value: '../../etc', cli: true },
  { kind: 'latency', path: 'results[0]', value: null },
  { kind: 'latency', path: 'results', value: {} },
  { kind: 'latency', path: 'results', value: new Array(10_001).fill(null), cli: true },
  { kind: 'latency', path: 'environment', value: null, cli: true },
  { kind: 'latency', path: 'environment.targets[0].options', value: 5 },
  { kind: 'latency', path: 'environment.targets', value: new Array(1_001).fill(null) },
  { kind: 'latency', path: 'scenarios', value: null },
  { kind: 'latency', path: 'baseline', value: null },
  { kind: 'latency', path: 'cases[0].roundOrders', value: [['../x']], field: /cases\[0\]\.roundOrders\[0\]\[0\]/, cli: true },
  { kind: 'latency', path: 'runId', value: '../x' },
  { kind: 'latency', path: 'runId', value: '..' },
  { kind: 'latency', path: 'runId', value: 'a/b' },
  { kind: 'latency', path: 'runId', value: null },
  { kind: 'latency', path: 'scenarios[0].settings.READ_RATIO.value', value: { nested: [[[]]] } },
  { kind: 'latency', path: 'results[0].iterations.stopReason', value: '[x](http://evil.example)', cli: true },
  { kind: 'latency', path: 'cases[0].stopReason', value: '# heading' },
  { kind: 'fault', path: 'results[0].fault.events', value: null, cli: true },
  { kind: 'fault', path: 'results[0].fault.kind', value: '<img src=x onerror=alert(1)>', cli: true },
  { kind: 'fault', path: 'results[0].fault.timeline.ok', value: new Array(2_000_000).fill(0) },
  { kind: 'fault', path: 'results[0].fault.latency.during', value: 'x' },
  { kind: 'fault', path: 'results[0].fault.command.lastLines', value: [null], field: /results\[0\]\.fault\.command\.lastLines\[0\]/ },
  { kind: 'throughput', path: 'results[0].load.record.series[0].latency', value: 12, cli: true },
  { kind: 'throughput', path: 'results[0].load.record.histograms', value: null },
  { kind: 'throughput', path: 'results[0].load.shard', value: { index: 0, of: 1e9, cli: true } },
  { kind: 'throughput', path: 'results[0].load.series', value: new Array(100_001).fill({ t: 0, ops: 0, errors: 0, p50Us: null, p99Us: null }) },
  { kind: 'throughput', path: 'results[0].load.throughput', value: null },
];

/**
 * The field names, in order, a results.json has at each level a reader relies on (the document, its environment and
 * target records, the cases, every result entry and its parts, and the kind's own record), over every entry (a level's
 * distinct key lists, so one row that differs from the others shows), to compare a run's file with the fixture a real
 * run of that kind wrote: the house can be rebuilt, the file users read does not change.
 */
export function fieldsOf(doc: object, kind: FixtureKind): Record<string, string[]> {
  const d = doc as Record<string, unknown>;
  const keys = (o: unknown): string => (o !== null && typeof o === 'object' ? Object.keys(o).join(',') : String(o));
  const all = (list: unknown): readonly Record<string, unknown>[] => {
    if (!Array.isArray(list) || list.length === 0) throw new Error(`fieldsOf: expected a non-empty list, got ${JSON.stringify(list)}`);
    return list as Record<string, unknown>[];
  };
  const distinct = (list: readonly unknown[]): string[] => [...new Set(list.map(keys))];
  const env = d.environment as Record<string, unknown>;
  const entries = all(d.results);
  const part = (name: string): string[] => distinct(entries.map((e) => e[name]));
  return {
    document: [keys(d)],
    environment: [keys(env)],
    'environment.targets[]': distinct(all(env.targets)),
    'cases[]': distinct(all(d.cases)),
    'scenarios[]': distinct(all(d.scenarios)),
    'results[]': distinct(entries),
    'results[].target': part('target'),
    'results[].scenario': part('scenario'),
    'results[].stats': part('stats'),
    'results[].iterations': part('iterations'),
    'results[].verification': part('verification'),
    ...(kind === 'fault' ? { 'results[].fault': part('fault') } : {}),
    ...(kind === 'throughput' ? {
      'results[].load': part('load'),
      'results[].load.record': distinct(entries.map((e) => (e.load as Record<string, unknown>).record)),
    } : {}),
  };
}
