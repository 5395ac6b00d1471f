import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientLoadOf } from '../../src/report/client-load.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { checkResults } from '../../src/report/schema.js';
import type { ResultsDocument } from '../../src/report/document.js';
import { fixtureDoc, setField } from '../helpers/entries.js';

/** The throughput fixture with these load workers (as written by a run, then read back through the schema). */
function withWorkers(workers: { worker: string; busy: number; cpuPerSecond: number; cores: number }[]): ResultsDocument {
  const list = workers.map((w) => ({
    worker: w.worker, ops: 1000, peakRssBytes: 1e8,
    client: { busy: w.busy, cpuUsPerOp: 50, loopDelayP99Ms: 5, gcMsPerSecond: 10, seconds: 8, cpuPerSecond: w.cpuPerSecond, cores: w.cores },
  }));
  return checkResults(setField(fixtureDoc('throughput'), 'results[0].load.workers', list), 'fixture.json');
}

describe('when the load generator was the bottleneck', () => {
  it('two workers that each look 60% busy but together use 96% of their one CPU are client-bound by CPU', () => {
    const doc = withWorkers([
      { worker: 'shard 0/1 worker 0/2', busy: 0.6, cpuPerSecond: 0.48, cores: 1 },
      { worker: 'shard 0/1 worker 1/2', busy: 0.6, cpuPerSecond: 0.48, cores: 1 },
    ]);
    const c = clientLoadOf(doc.results[0]!);
    assert.equal(c?.by, 'CPU');
    assert.ok(Math.abs((c?.cpuShare ?? 0) - 0.96) < 1e-9);
    assert.match(renderMarkdown(doc), /is client-bound: its load generator's workers together used 96% of the 1 CPU they may run on/);
  });
  it('the same workers with two CPUs are not', () => {
    const c = clientLoadOf(withWorkers([
      { worker: 'shard 0/1 worker 0/2', busy: 0.6, cpuPerSecond: 0.48, cores: 2 },
      { worker: 'shard 0/1 worker 1/2', busy: 0.6, cpuPerSecond: 0.48, cores: 2 },
    ]).results[0]!);
    assert.equal(c?.bound, false);
    assert.ok(Math.abs((c?.cpuShare ?? 0) - 0.48) < 1e-9);
  });
  it('shards of a merge ran on their own machines: their CPU use is not added up', () => {
    const c = clientLoadOf(withWorkers([
      { worker: 'shard 0/2 worker 0/1', busy: 0.5, cpuPerSecond: 0.5, cores: 1 },
      { worker: 'shard 1/2 worker 0/1', busy: 0.5, cpuPerSecond: 0.5, cores: 1 },
    ]).results[0]!);
    assert.equal(c?.bound, false, 'each machine used half of its CPU');
    assert.ok(Math.abs((c?.cpuShare ?? 0) - 0.5) < 1e-9);
  });
  it('one worker whose event loop was 95% busy is client-bound by its event loop', () => {
    const c = clientLoadOf(withWorkers([{ worker: 'shard 0/1 worker 0/1', busy: 0.95, cpuPerSecond: 0.7, cores: 1 }]).results[0]!);
    assert.equal(c?.by, 'event loop');
  });
});
