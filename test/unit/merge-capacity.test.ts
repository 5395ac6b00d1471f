import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderStepSummary } from '../../src/report/step-summary.js';
import { loadResults } from '../../src/report/schema.js';
import { describe, it } from 'node:test';
import type { CapacityPlan } from '../../src/config/resolve.js';
import { plannedRates, type CapacityStep } from '../../src/load/capacity.js';
import type { LoadRecord } from '../../src/load/record.js';
import type { CapacitySummary } from '../../src/load/summary.js';
import { OpHistogram } from '../../src/measure/histogram.js';
import type { ResultEntry, ResultsDocument } from '../../src/report/document.js';
import { mergeDocuments, MergeError } from '../../src/report/merge.js';
import { capacitySpanMs } from '../../src/load/capacity-case.js';
import { NO_LOAD } from '../../src/config/plan.js';

const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/results-throughput.json', import.meta.url), 'utf8')) as ResultsDocument;
const base = fixture.results[0] as ResultEntry;
const START_AT = '2026-12-07T05:00:00.000Z';
/** Steps of 3 s, planned 100, 200, 400, 800 ops/s in total. */
const PLAN: CapacityPlan = {
  objectives: [{ percentile: 99, maxMs: 10 }], maxErrorShare: 0, startRate: 100, growth: 2, precision: 0.05, repeats: 3, maxSteps: 4,
};
const SECONDS = 3;

/** A shard's record of one step: `share` ops/s sent and completed for 3 s, every op taking `ms` (from its intended send time). */
function stepRecord(share: number, ms: number, startMs: number, lateStartMs = 0): LoadRecord {
  const ops = Math.round(share * SECONDS);
  const h = new OpHistogram();
  for (let i = 0; i < ops; i++) h.record(ms * 1e6);
  const encoded = h.encode();
  const second = { ops: Math.round(share), sets: 0, gets: Math.round(share), errors: 0, latency: encoded };
  return {
    ...(base.load?.record as LoadRecord), startMs, durationMs: SECONDS * 1000, view: 'intended', sets: 0, gets: ops, setErrors: 0, getErrors: 0,
    scheduled: ops, sent: ops, lateStartMs, verified: ops, missing: 0, mismatched: 0, errorMessages: {},
    histograms: { set: new OpHistogram().encode(), get: encoded, setIntended: new OpHistogram().encode(), getIntended: encoded },
    series: [0, 1, 2].map((s) => ({ ...second, t: startMs + s * 1000 })), nodes: null,
    workers: [{ worker: 'worker 0/1', ops, peakRssBytes: 1e8, client: { busy: 0.3, cpuUsPerOp: 20, loopDelayP99Ms: 1, gcMsPerSecond: 1, seconds: SECONDS } }],
    serverCpu: null, serverMemory: null,
  };
}

/**
 * Shard `index` of `of`: its share of each planned rate, each op taking `msAt(total rate)` ms; `steps` of them (all
 * planned ones by default). `edit` changes a step as a crafted file would.
 */
function shardDoc(index: number | null, of: number, msAt: (rate: number) => number,
  options: { steps?: number; edit?: (s: CapacityStep, k: number) => CapacityStep } = {}): ResultsDocument {
  const rates = plannedRates(PLAN).slice(0, options.steps ?? PLAN.maxSteps);
  const steps = rates.map((rate, k): CapacityStep => {
    const share = rate / of;
    const ms = msAt(rate);
    const record = stepRecord(share, ms, Date.parse(START_AT) + k * 20_000);
    const step: CapacityStep = {
      offered: share, achieved: share, ops: record.gets, errors: 0, latencyMs: { p50: ms, p99: ms }, completed: share, clientBound: false,
      phase: 'staircase', met: ms <= 10, why: ms <= 10 ? null : `p99 ${ms} ms > 10 ms`, record,
    };
    return options.edit?.(step, k) ?? step;
  });
  const capacity: CapacitySummary = { ...PLAN, steps, knee: null, interval: null, lowerBound: null, stop: 'max-steps' };
  const load = { ...base.load, settings: { ...base.load?.settings, startAt: START_AT }, shard: index === null ? null : { index, of }, mergedFrom: 1,
    record: steps[0]?.record, capacity } as unknown as NonNullable<ResultEntry['load']>;
  return { ...fixture, runId: `run-${index}`, results: [{ ...base, load }] };
}

const merge = (docs: readonly ResultsDocument[]) => mergeDocuments(docs.map((doc, i) => ({ file: `shard${i}.json`, doc })), 'merged');
const capacityOf = (e: ResultEntry | undefined): CapacitySummary => e?.load?.capacity as CapacitySummary;
/** A step whose record is edited. */
const withRecord = (s: CapacityStep, edit: Partial<LoadRecord>): CapacityStep => ({ ...s, record: { ...s.record as LoadRecord, ...edit } });
/** A document whose one row's load is edited. */
const withLoad = (doc: ResultsDocument, edit: (load: NonNullable<ResultEntry['load']>) => object): ResultsDocument => {
  const row = doc.results[0] as ResultEntry;
  return { ...doc, results: [{ ...row, load: edit(row.load as NonNullable<ResultEntry['load']>) } as ResultEntry] };
};
/** 1 ms up to 400 ops/s in total, 50 ms above: the knee of p99 ≤ 10 ms is 400. */
const server = (rate: number): number => (rate <= 400 ? 1 : 50);

describe('cachebench merge of a planned capacity staircase', () => {
  it('adds the shards\' steps up at the planned rates and finds the knee of the whole; each shard\'s own row stays, without its steps\' records', () => {
    const { doc, totals } = merge([shardDoc(0, 3, server), shardDoc(1, 3, server), shardDoc(2, 3, server)]);
    const c = capacityOf(totals[0]);
    assert.deepEqual(c.steps.map((s) => s.offered), [100, 200, 400, 800], 'planned rates, not the sum of floating shares');
    assert.deepEqual([c.stop, c.knee, c.interval], ['found', 400, [400, 800]]);
    assert.deepEqual(c.steps.map((s) => s.ops), [100, 200, 400, 800].map((rate) => 3 * Math.round((rate / 3) * SECONDS)), 'ops from the three records');
    assert.equal(totals[0]?.load?.rate.targetOpsPerSec, 400, 'the row shows the step at the knee');
    assert.equal(totals[0]?.load?.mergedFrom, 3);
    const inputs = doc.results.slice(1);
    assert.equal(inputs.length, 3);
    assert.ok(inputs.every((e) => capacityOf(e).steps.every((s) => s.record === undefined)), 'the inputs\' rows without their records');
  });

  it('a staircase that ends before the objective failed is a lower bound, and every merged step stays in the table', () => {
    const all = merge([0, 1].map((i) => shardDoc(i, 2, () => 1, { steps: 2 })));
    assert.deepEqual([capacityOf(all.totals[0]).stop, capacityOf(all.totals[0]).lowerBound, capacityOf(all.totals[0]).knee], ['aborted', 200, null]);
    assert.match(all.notes.join('\n'), /ran 2 of the 4 planned steps: the merged staircase ends there/);
    const uneven = merge([shardDoc(0, 2, () => 1, { steps: 2 }), shardDoc(1, 2, () => 1)]);
    assert.deepEqual([capacityOf(uneven.totals[0]).stop, capacityOf(uneven.totals[0]).lowerBound], ['aborted', 200]);
    // A shard that could not measure step 3: the merged step failed there (the knee is below it), not client-bound.
    const unmeasured = (s: CapacityStep, k: number): CapacityStep => {
      if (k !== 2) return s;
      const { record: _dropped, ...rest } = s;
      void _dropped;
      return { ...rest, ops: 0, achieved: 0, met: false, why: 'errored: connection refused', error: 'connection refused' };
    };
    const errored = merge([shardDoc(0, 2, () => 1), shardDoc(1, 2, () => 1, { edit: unmeasured })]);
    const e = capacityOf(errored.totals[0]);
    assert.deepEqual([e.stop, e.knee, e.interval, e.steps[2]?.clientBound, e.steps[2]?.why], ['found', 200, [200, 400], false, 'errored: connection refused']);
    // Every shard late at step 1: nothing to merge, and the row says why.
    const lateFirst = merge([0, 1].map((i) => shardDoc(i, 2, server, { edit: (s, k) => (k === 0 ? withRecord(s, { lateStartMs: 5000 }) : s) })));
    assert.equal(lateFirst.totals[0]?.state, 'errored');
    assert.match(lateFirst.totals[0]?.error ?? '', /no step was measured by every shard/);
    assert.match(lateFirst.notes.join('\n'), /nothing to merge/);
    const never = merge([0, 1].map((i) => shardDoc(i, 2, () => 50)));
    assert.equal(capacityOf(never.totals[0]).stop, 'never-met');
    assert.equal(capacityOf(never.totals[0]).steps.length, 4);
    const late = merge([shardDoc(0, 2, server), shardDoc(1, 2, server, { edit: (s, k) => (k === 2 ? withRecord(s, { lateStartMs: 2500 }) : s) })]);
    assert.deepEqual([capacityOf(late.totals[0]).stop, capacityOf(late.totals[0]).lowerBound], ['aborted', 200]);
    assert.match(late.notes.join('\n'), /shard1\.json started step 3 2\.5 s late/);
    // The note stays with the results: in results.json (read back through the schema) and at the top of report.md.
    assert.deepEqual(late.doc.mergeNotes, late.notes);
    const dir = mkdtempSync(join(tmpdir(), 'cachebench-merge-notes-'));
    try {
      writeFileSync(join(dir, 'results.json'), JSON.stringify(late.doc));
      const again = loadResults(join(dir, 'results.json'));
      assert.deepEqual(again.mergeNotes, late.notes);
      assert.match(renderMarkdown(again), /- \*\*Merge note\*\*: REDIS \(throughput\): shard1\.json started step 3 2\.5 s late/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses shards missing, repeated or alone, files that disagree with the plan, and steps not planned together', () => {
    const refused = (docs: readonly ResultsDocument[], ...parts: RegExp[]): void => {
      assert.throws(() => merge(docs), (error: unknown) => {
        assert.ok(error instanceof MergeError, String(error));
        for (const p of parts) assert.match(error.message, p);
        assert.ok(error.fix !== undefined && error.fix.length > 0);
        return true;
      });
    };
    refused([shardDoc(0, 3, server), shardDoc(1, 3, server)], /not every shard of one run once/, /missing: 2/);
    refused([shardDoc(0, 3, server), shardDoc(0, 3, server), shardDoc(1, 3, server)], /not every shard of one run once/);
    refused([shardDoc(null, 1, server), shardDoc(null, 1, server)], /not a shard/);
    refused([shardDoc(1, 3, server)], /shard 1\/3 alone/);
    const fifth = (l: NonNullable<ResultEntry['load']>): object => ({ ...l, capacity: { ...l.capacity, steps: [...(l.capacity?.steps ?? []), l.capacity?.steps[0]] } });
    refused([shardDoc(0, 2, server), withLoad(shardDoc(1, 2, server), fifth)],
      /has 5 steps, and its plan has 4/);
    const bare = (s: CapacityStep, k: number): CapacityStep => {
      if (k !== 1) return s;
      const { record: _dropped, ...rest } = s;
      void _dropped;
      return rest;
    };
    refused([shardDoc(0, 2, server), shardDoc(1, 2, server, { edit: bare })], /step 2 has no record and no error/);
    refused([shardDoc(0, 2, server), shardDoc(1, 2, server, { edit: (s) => ({ ...s, offered: s.offered * 1000 }) })], /step 1 offered 50000 ops\/s, and the plan's share is 50/);
    const moved = (s: CapacityStep, k: number): CapacityStep => withRecord(s, { startMs: (s.record?.startMs as number) + (k === 1 ? 40_000 : 0) });
    refused([shardDoc(0, 2, server), shardDoc(1, 2, server, { edit: moved })],
      /step 2 was planned to start 40\.0 s apart/);
    refused([shardDoc(0, 2, server), withLoad(shardDoc(1, 2, server), (l) => ({ ...l, capacity: { ...l.capacity, growth: 3 } }))],
      /CAPACITY_GROWTH is 2 in shard0\.json and 3 in shard1\.json/);
    refused([withLoad(shardDoc(0, 1, server), (l) => ({ ...l, settings: { ...l.settings, startAt: null } }))],
      /adaptive capacity search/);
  });

  it('under START_AT a capacity combination holds its slot: targets × planned steps × (warm-up + DURATION + 10 s + preload and delete), then room for the next one', () => {
    const load = { ...NO_LOAD, mode: 'capacity' as const, warmupMs: 1000, durationMs: 3000, keyspace: 0, startAtMs: Date.parse(START_AT), capacity: PLAN };
    // 2 targets × 4 steps × (1 + 3 + 10) s, and the 10-s gap before the next combination (no keys to preload).
    assert.equal(capacitySpanMs(load, 2, 3), 2 * 4 * 14_000 + 10_000);
    // 30,000 keys over 3 shards: 10,000 a shard, deleted and preloaded again at 10,000 keys/s each step (2 s more a step).
    const keyed = { ...load, keyspace: 30_000 };
    assert.equal(capacitySpanMs(keyed, 1, 3), 4 * (14_000 + 2000) + 10_000 + 2000);
    assert.equal(capacitySpanMs({ ...load, startAtMs: null }, 2, 1), 0, 'without START_AT no slots are planned');
  });
});

describe('cachebench merge of throughput shards: what looks wrong is kept with the results', () => {
  it('a missing shard and a repeated one are said in results.json and report.md, not only on stderr', () => {
    const shard = (index: number): ResultsDocument => ({ ...fixture, runId: `s${index}`,
      results: [{ ...base, load: { ...base.load, shard: { index, of: 3 } } } as ResultEntry] });
    const { doc, notes } = merge([shard(0), shard(1), shard(1)]);
    assert.match(notes.join('\n'), /shard 2 of 3 missing: the total covers 2 of 3 shards/);
    assert.match(notes.join('\n'), /a shard is given more than once: its ops are counted twice/);
    assert.deepEqual(doc.mergeNotes, notes);
    const report = renderMarkdown(doc);
    assert.ok(report.includes('- **Merge note**: REDIS (throughput): shard 2 of 3 missing: the total covers 2 of 3 shards'), report.slice(0, 2000));
    assert.ok(report.includes('- **Merge note**: REDIS (throughput): a shard is given more than once: its ops are counted twice'));
    const summary = renderStepSummary(doc, { charts: [], reportDir: 'results/merged', artifactsUrl: null });
    assert.ok(summary.includes('- **Merge note**: REDIS (throughput): shard 2 of 3 missing'), 'the CI step summary too');
  });
});
