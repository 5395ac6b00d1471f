import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checksText } from '../../src/report/columns.js';
import { renderConsole } from '../../src/report/console.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { type ResultsDocument } from '../../src/report/document.js';
import { measurementNotes, underMeasured } from '../../src/report/sentences.js';
import { checkResults } from '../../src/report/schema.js';
import { renderStepSummary } from '../../src/report/step-summary.js';
import { percentText } from '../../src/report/load.js';
import { fixtureDoc, setField, type FixtureKind } from '../helpers/entries.js';

/** A real run's results.json (15 of 15 iterations, stopped at MAX_ITERATIONS) with some fields changed, read through the schema. */
function doc(kind: FixtureKind, changes: Readonly<Record<string, unknown>>): ResultsDocument {
  let d = fixtureDoc(kind);
  for (const [path, value] of Object.entries(changes)) d = setField(d, path, value);
  return checkResults(d, 'fixture.json');
}

describe('runs that measured too little', () => {
  it('a row that stopped at MAX_TIME after 9 of MIN_ITERATIONS 15 says so in the Checks cell, under every table and in the step summary', () => {
    const d = doc('latency', {
      'results[0].iterations.minIterations': 15, 'results[0].iterations.stopReason': 'max-time',
      'results[0].stats.n': 8, 'results[0].stats.outliers': 1,
    });
    const e = d.results[0]!;
    assert.deepEqual(underMeasured(e), { measured: 9, wanted: 15 });
    assert.equal(checksText(e), 'only 9 of 15 iterations');
    const [note] = measurementNotes(e);
    assert.match(note ?? '', /^REDIS: measured 9 iterations where MIN_ITERATIONS asks for 15 \(the run reached MAX_TIME\).*Fix: raise MAX_TIME/);
    assert.ok(renderConsole(d, { wide: false }).includes(note!), 'console');
    assert.ok(renderMarkdown(d).includes('MIN_ITERATIONS asks for 15 (the run reached MAX_TIME)'), 'report.md');
    assert.ok(renderStepSummary(d, { charts: [], reportDir: 'results/x', artifactsUrl: null }).includes('MIN_ITERATIONS asks for 15 (the run reached MAX_TIME)'), 'step summary');
  });

  it('a row that reached MIN_ITERATIONS, or a file written before MIN_ITERATIONS was recorded, is ok', () => {
    assert.equal(checksText(doc('latency', { 'results[0].iterations.minIterations': 15 }).results[0]!), 'ok');
    assert.equal(checksText(doc('latency', { 'results[0].iterations.minIterations': 10 }).results[0]!), 'ok');
    const old = doc('latency', { 'results[0].iterations.stopReason': 'max-time', 'results[0].stats.n': 3, 'results[0].iterations.minIterations': undefined });
    assert.equal(old.results[0]!.iterations.minIterations, undefined);
    assert.equal(checksText(old.results[0]!), 'ok');
    assert.deepEqual(measurementNotes(old.results[0]!), []);
  });

  it('a row with nothing measured never shows ok (latency and throughput)', () => {
    assert.equal(checksText(doc('latency', { 'results[0].stats.n': 0, 'results[0].stats.outliers': 0 }).results[0]!), 'nothing measured');
    const thr = fixtureDoc('throughput');
    const ops = (thr.results[0] as { ops: { set: { count: number }; get: { count: number } } }).ops;
    assert.ok(ops.set.count + ops.get.count > 0);
    assert.equal(checksText(doc('throughput', { 'results[0].ops.set.count': 0, 'results[0].ops.get.count': 0 }).results[0]!), 'nothing measured');
    assert.equal(checksText(doc('throughput', {}).results[0]!), 'ok');
  });

  it("report.md's mermaid chart is titled per invocation, as its means are", () => {
    const d = doc('latency', {});
    assert.ok(d.results[0]!.iterations.invocations >= 1);
    assert.match(renderMarkdown(d), /title "Mean time per invocation \((ms|μs|s), lower is better\)"/);
    assert.doesNotMatch(renderMarkdown(d), /Mean iteration time/);
  });

  it('keys a row could not delete are said under its table (latency, fault and throughput rows), counted from results.json', () => {
    for (const kind of ['latency', 'fault', 'throughput'] as const) {
      const d = doc(kind, { 'results[0].undeletedKeys': 12 });
      const [note] = measurementNotes(d.results[0]!);
      assert.match(note ?? '', /: 12 keys this run wrote could not be deleted .*until their KEY_TTL expires$/, kind);
      assert.ok(renderConsole(d, { wide: false }).includes(note!), `console, ${kind}`);
      assert.ok(renderMarkdown(d).includes('12 keys this run wrote could not be deleted'), `report.md, ${kind}`);
      assert.deepEqual(measurementNotes(doc(kind, {}).results[0]!), [], kind);
    }
  });
});

describe('Percent is written one way in every run kind', () => {
  it('a throughput row writes Percent as a latency row does: ~ before it where the interval includes 100%, [lo–hi%], [unbounded], 100% for the baseline', () => {
    const row = (percent: number, lower: number | null, upper: number | null) => doc('throughput', {
      'results[0].baseline': false, 'results[0].load.throughput.percent': percent, 'results[0].load.throughput.percentLower': lower, 'results[0].load.throughput.percentUpper': upper,
    }).results[0]!;
    assert.equal(percentText(row(72.4, 33.2, 118.4)), '~72% [33–118%]');
    assert.equal(percentText(row(115, 105, 130)), '115% [105–130%]');
    assert.equal(percentText(row(99.6, 95.2, 104)), '~99.6% [95–104%]');
    assert.equal(percentText(row(72, null, null)), '72% [unbounded]');
    assert.equal(percentText(doc('throughput', {}).results[0]!), '100%');
  });
});

describe('a row whose timed iterations were largely the harness\'s own GC', () => {
  it('from 10% Client GC on, the row says its Mean holds cachebench\'s memory churn, under every table; below, nothing', () => {
    const d = doc('latency', { 'results[0].harness': { busy: 0.93, cpuUsPerOp: 97.4, gcShare: 0.163 } });
    const notes = measurementNotes(d.results[0]!);
    assert.deepEqual(notes, ['REDIS: 16.3% of its timed iterations were this process\'s own garbage-collection pauses (Client GC): its Mean measures cachebench\'s memory churn as well as the target, so repeat a comparison with it in fresh runs before trusting a small difference']);
    assert.ok(renderConsole(d, { wide: false }).includes(notes[0]!), 'console');
    assert.ok(renderMarkdown(d).includes('16.3% of its timed iterations were this process'), 'report.md');
    assert.ok(renderStepSummary(d, { charts: [], reportDir: 'results/x', artifactsUrl: null }).includes('16.3% of its timed iterations'), 'step summary');
    assert.deepEqual(measurementNotes(doc('latency', { 'results[0].harness': { busy: 0.6, cpuUsPerOp: 150, gcShare: 0.044 } }).results[0]!), []);
    assert.deepEqual(measurementNotes(doc('latency', { 'results[0].harness': { busy: 0.6, cpuUsPerOp: 150 } }).results[0]!), [], 'files from before gcShare');
  });
});
