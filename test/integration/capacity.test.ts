import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CapacitySummary } from '../../src/load/summary.js';
import type { ResultsDocument } from '../../src/report/document.js';
import { loadResults } from '../../src/report/schema.js';
import { runCli } from '../helpers/cli.js';
import { startSerialServer } from '../helpers/delay-proxy.js';
import { tempDir } from '../helpers/servers.js';
import { OpHistogram } from '../../src/measure/histogram.js';

const root = tempDir('cachebench-capacity-');
after(() => root.remove());

/** The one results.json under `dir`. */
function resultsFile(dir: string): string {
  const run = readdirSync(dir).find((d) => !d.startsWith('.'));
  assert.ok(run, `no run folder in ${dir}`);
  return join(dir, run, 'results.json');
}

/** The cells of one CSV line (RFC 4180: quoted cells may hold commas and doubled quotes). */
function cellsOf(line: string): string[] {
  const cells: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let cell = '';
      i++;
      while (i < line.length && !(line[i] === '"' && line[i + 1] !== '"')) {
        cell += line[i];
        i += line[i] === '"' ? 2 : 1;
      }
      cells.push(cell);
      i += 2; // the closing quote and the comma
    } else {
      const end = line.indexOf(',', i);
      cells.push(line.slice(i, end < 0 ? line.length : end));
      i = end < 0 ? line.length + 1 : end + 1;
    }
  }
  return cells;
}

describe('MODE=capacity against a server of known capacity', () => {
  it('a server that serves one op at a time in 4 ms (250 ops/s): the knee of p99 ≤ 100 ms is within 10% of 250, and p99 ≤ 600 ms cannot buy a rate the server does not complete', async () => {
    const servers = await Promise.all([startSerialServer(4), startSerialServer(4)]);
    try {
      // KEYSPACE keys (SET or GET, no DEL): every op is one command of the server's. Steps of 3 s, bisection to 10%.
      // Below capacity an op waits for its own 4 ms (and timer jitter); a step 5% above it builds a backlog of ~150 ms
      // in 3 s: 100 ms has room for the jitter at 90% load and none for an overload. 600 ms would let a 3-s step 20% over
      // capacity pass on latency alone: the servers' completed rate fails it.
      const common = ['--mode', 'capacity', '--duration', '3', '--warmup-seconds', '0', '--capacity-start-rate', '200', '--capacity-growth', '1.5',
        '--capacity-precision', '0.1', '--capacity-repeats', '1', '--payload-bytes', '100', '--read-ratio', '3', '--keyspace', '100',
        '--clients', '400', '--connections', '25', '--pipeline', '16'];
      const runs = await Promise.all([100, 600].map((objective, i) => runCli(['run', ...common, '--slo-p99-ms', String(objective), '--out', join(root.dir, `slo${objective}`)], {
        env: { S_SERVERS: `127.0.0.1:${servers[i]?.port}`, S_MODE: 'proxy', S_CLIENT: 'resp', CI: 'true' }, timeoutMs: 180_000,
      })));
      for (const r of runs) assert.equal(r.code, 0, r.stderr + r.stdout);
      const [tight, loose] = [100, 600].map((objective) => {
        const file = resultsFile(join(root.dir, `slo${objective}`));
        const doc = JSON.parse(readFileSync(file, 'utf8')) as ResultsDocument;
        // What cachebench report and compare read back is what was written.
        assert.deepEqual(loadResults(file).results[0]?.load?.capacity, doc.results[0]?.load?.capacity);
        return doc.results[0]?.load?.capacity as CapacitySummary;
      }) as [CapacitySummary, CapacitySummary];
      assert.equal(tight.stop, 'found', JSON.stringify(tight.steps));
      const steps = (c: CapacitySummary): string => c.steps.map((x) => `${x.offered}:${x.met ? 'met' : x.why ?? ''}`).join(', ');
      assert.ok(tight.knee !== null && Math.abs(tight.knee / 250 - 1) <= 0.1, `knee ${tight.knee}: ${steps(tight)}`);
      const [low, high] = tight.interval ?? [NaN, NaN];
      assert.ok(low === tight.knee && high / low - 1 <= 0.1 + 1e-9, JSON.stringify(tight.interval));
      assert.deepEqual(tight.objectives, [{ percentile: 99, maxMs: 100 }]);
      // Every step is kept with what judged it; the knee met the objective every time it was tried.
      assert.ok(tight.steps.every((s) => s.met === (s.why === null) && s.latencyMs.p99 !== undefined && !s.clientBound));
      assert.ok(tight.steps.filter((s) => s.offered === tight.knee).every((s) => s.met));
      assert.ok(tight.steps.some((s) => s.phase === 'repeat'));
      assert.ok(loose.knee !== null && Math.abs(loose.knee / 250 - 1) <= 0.1 && loose.knee <= 250 * 1.05, `knee ${loose.knee}: ${steps(loose)}`);
      assert.ok(loose.steps.some((x) => x.offered > 262 && /the servers completed \d+ of \d+ ops\/s/.test(x.why ?? '')), steps(loose));
      // The report: the knee table, then every step.
      assert.match(runs[0]?.stdout ?? '', /\| Target \| Knee \(ops\/s\) \| Interval \(ops\/s\) \| Percent \(higher is better\) \| Steps \| Stopped \|/);
      const n = (x: number): string => x.toLocaleString('en-US');
      // 3-s steps of about 750 ops are thin for p99 (fewer than 1,000): the knee says so.
      assert.match(runs[0]?.stdout ?? '', new RegExp(`\\| S +\\| +${n(tight.knee)} \\(thin\\) \\| +${n(low)}–${n(high)} \\|`));
      const report = readFileSync(join(resultsFile(join(root.dir, 'slo100')), '..', 'report.md'), 'utf8');
      assert.match(report, /#### Capacity/);
      assert.match(report, /\| # \| Phase \| Offered \| Sent \| Ops \| p50 \(ms\) \| p99 \(ms\) \| Failed \| Met \| Client-bound \|/);
      // The latency–throughput curve, drawn next to the report, with the objective as its dashed line.
      const curve = /!\[Latency against offered load[^\]]*\]\((chart-[^)]+-capacity\.svg)\)/.exec(report)?.[1];
      assert.ok(curve !== undefined, 'report.md links the latency-throughput chart');
      assert.match(readFileSync(join(resultsFile(join(root.dir, 'slo100')), '..', curve), 'utf8'), /objective p99 ≤ 100 ms/);
      // results.csv: the knee, its interval and every step, in columns of the capacity row.
      const csv = readFileSync(join(resultsFile(join(root.dir, 'slo100')), '..', 'results.csv'), 'utf8').trim().split('\n');
      const header = cellsOf(csv[0] ?? '');
      const cells = cellsOf(csv[1] ?? '');
      assert.equal(cells[header.indexOf('load_capacity_knee')], String(tight.knee));
      assert.equal(cells[header.indexOf('load_capacity_interval_high')], String(high));
      assert.equal((cells[header.indexOf('load_capacity_steps')] ?? '').split(';').length, tight.steps.length);
      // cachebench report renders the file again with the same knee table; merge refuses it (an adaptive search chose its own rates).
      const again = await runCli(['report', resultsFile(join(root.dir, 'slo100')), '--out', join(root.dir, 'again')], { timeoutMs: 60_000 });
      const againRun = readdirSync(join(root.dir, 'again')).find((d) => !d.startsWith('.')) ?? '';
      assert.equal(again.code, 0, again.stderr);
      const rendered = readFileSync(join(root.dir, 'again', againRun, 'report.md'), 'utf8');
      assert.ok(rendered.includes(report.slice(report.indexOf('#### Capacity'), report.indexOf('#### The step at each knee'))), 'the same capacity tables');
      const merged = await runCli(['merge', resultsFile(join(root.dir, 'slo100')), '--out', join(root.dir, 'merged')], { timeoutMs: 60_000 });
      assert.equal(merged.code, 2);
      assert.match(merged.stderr, /is an adaptive capacity search \(no START_AT\).*Fix: run every shard with the same START_AT/);
      const compared = await runCli(['compare', resultsFile(join(root.dir, 'slo100')), resultsFile(join(root.dir, 'slo600'))], { timeoutMs: 60_000 });
      assert.equal(compared.code, 2);
      assert.match(compared.stderr, /holds capacity results \(MODE=capacity\).*Fix: /);
      // Each step's cell: offered/sent/the objective's percentile/verdict.
      assert.match(cells[header.indexOf('load_capacity_steps')] ?? '', /^\d+\/\d+\/p99=[\d.]*\/(met|failed)(\/client-bound)?(\/thin)?(;|$)/);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  });

  it('two --shard processes follow one planned staircase from START_AT against the same server (250 ops/s); merge adds their steps up and finds the knee of the whole', async () => {
    const server = await startSerialServer(4);
    try {
      const env = { S_SERVERS: `127.0.0.1:${server.port}`, S_MODE: 'proxy', S_CLIENT: 'resp', CI: 'true' };
      // 135, 203, 304 ops/s in total: 203 is 81% of capacity, 304 is 22% over it (each shard offers half of each),
      // which fails on the rate the server completes whatever its latency. p99 ≤ 200 ms leaves a stall of the machine
      // (either generator or the server) room at 81% load.
      const common = ['--mode', 'capacity', '--duration', '3', '--warmup-seconds', '1', '--capacity-start-rate', '135', '--capacity-growth', '1.5',
        '--capacity-max-steps', '3', '--slo-p99-ms', '200', '--payload-bytes', '100', '--read-ratio', '3', '--keyspace', '100',
        '--clients', '200', '--connections', '10', '--pipeline', '16'];
      const unplanned = await runCli(['run', ...common, '--shard', '0/2', '--out', join(root.dir, 'unplanned')], { env, timeoutMs: 60_000 });
      assert.equal(unplanned.code, 2);
      assert.match(unplanned.stderr, /--shard 0\/2 with MODE=capacity \(scenario default: MODE from [^)]*--mode[^)]*\) needs START_AT.*Fix: give every shard the same START_AT/);
      const startAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 7000).toISOString();
      const shards = await Promise.all([0, 1].map((i) => runCli(['run', ...common, '--shard', `${i}/2`, '--out', join(root.dir, 'shards', String(i))], {
        env: { ...env, START_AT: startAt }, timeoutMs: 180_000,
      })));
      for (const r of shards) assert.equal(r.code, 0, r.stderr + r.stdout);
      const files = [0, 1].map((i) => resultsFile(join(root.dir, 'shards', String(i))));
      const own = files.map((f) => loadResults(f).results[0]?.load?.capacity as CapacitySummary);
      for (const c of own) {
        assert.deepEqual(c.steps.map((x) => x.offered), [67.5, 101.5, 152], 'each shard offered half of each planned rate');
        assert.ok(c.steps.every((x) => x.phase === 'staircase' && x.record !== undefined), 'every step keeps its record');
      }
      // Step k began at the same planned time on both shards, one step spacing after step k − 1 (1 + 3 + 10 s, and 2 s to
      // delete and preload a shard's 50 keys), the first at START_AT + its warm-up; neither shard started a step late.
      for (const c of own) {
        assert.deepEqual(c.steps.map((x) => x.record?.startMs), [0, 1, 2].map((k) => Date.parse(startAt) + 1000 + k * 16_000));
        assert.ok(c.steps.every((x) => (x.record?.lateStartMs ?? 0) < 1000), JSON.stringify(c.steps.map((x) => x.record?.lateStartMs)));
      }
      const merged = await runCli(['merge', ...files, '--out', join(root.dir, 'merged')], { timeoutMs: 60_000 });
      assert.equal(merged.code, 0, merged.stderr);
      const doc = loadResults(join(root.dir, 'merged', 'results.json'));
      const total = doc.results[0];
      const c = total?.load?.capacity as CapacitySummary;
      const steps = c.steps.map((x) => `${x.offered}:${x.met ? 'met' : x.why ?? ''}`).join(', ');
      assert.equal(total?.load?.mergedFrom, 2);
      assert.deepEqual(c.steps.map((x) => x.offered), [135, 203, 304], steps);
      assert.deepEqual([c.stop, c.knee, c.interval], ['found', 203, [203, 304]], steps);
      // Each merged step's p99 is the p99 of both shards' ops together (their histograms added, never averaged).
      for (const [k, step] of c.steps.entries()) {
        const both = new OpHistogram();
        for (const s of own) {
          const h = s.steps[k]?.record?.histograms;
          for (const text of [h?.getIntended, h?.setIntended]) if (text != null) both.add(OpHistogram.decode(text));
        }
        const errors = own.reduce((n, s) => n + (s.steps[k]?.errors ?? 0), 0);
        if (errors === 0) assert.ok(Math.abs((step.latencyMs.p99 as number) / (both.valueAt(99) / 1e6) - 1) < 1e-9, `step ${k}: ${step.latencyMs.p99} ms`);
        assert.equal(step.ops, own.reduce((n, s) => n + (s.steps[k]?.ops ?? 0), 0));
      }
      // The row shows the step at the knee, both shards' ops of it; the knee table names the merge.
      assert.equal(total?.load?.rate.targetOpsPerSec, 203);
      assert.equal((total?.load?.record.sets ?? 0) + (total?.load?.record.gets ?? 0), own.reduce((n, s) => n + (s.steps[1]?.ops ?? 0), 0));
      assert.match(merged.stdout, /\| S \(2 shards merged\) +\| +203 \(thin\) \| +203–304 \| +baseline \|/);
      assert.match(merged.stdout, /a planned staircase from START_AT/);
      // A merge is not merged again: the shards' own files hold the steps' records.
      const again = await runCli(['merge', join(root.dir, 'merged', 'results.json'), files[0] as string, '--out', join(root.dir, 'again2')], { timeoutMs: 60_000 });
      assert.equal(again.code, 2);
      assert.match(again.stderr, /already a merge of 2 shards.*Fix: /);
    } finally {
      await server.stop();
    }
  });
});
