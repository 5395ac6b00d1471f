import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpHistogram } from '../../src/measure/histogram.js';
import { readFileSync } from 'node:fs';
import { buildCharts, capacityChart, distributionChart, percentileChart } from '../../src/report/charts.js';
import { renderHtml, isolateIds } from '../../src/report/html.js';
import { renderStepSummary, githubRunUrl } from '../../src/report/step-summary.js';
import { renderSvg } from '../../src/report/svg.js';
import type { ResultEntry, ResultsDocument } from '../../src/report/document.js';
import { fakeEntry } from '../helpers/entries.js';

/** The data rows of a layer (or of the spec) whose rows have `field`. */
function rowsWith(spec: unknown, field: string): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    const values = (node as { data?: { values?: unknown } }).data?.values;
    if (Array.isArray(values) && values.length > 0 && field in (values[0] as object)) found.push(...(values as Record<string, unknown>[]));
    for (const v of Object.values(node)) walk(v);
  };
  walk(spec);
  return found;
}

function doc(results: ResultEntry[]): ResultsDocument {
  const scenarios = [...new Set(results.map((e) => e.scenario.name))].map((name) => ({ name, file: null, description: '', settings: {} }));
  return {
    schemaVersion: 1, runId: 'r1', startedAt: '', finishedAt: '', aborted: false, seed: 1, cases: [], baseline: { rule: 'fastest', name: null }, scenarios, results,
    environment: { tool: 'cachebench', toolVersion: '0', node: '', os: '', cpu: '', cpuCount: 2, memoryGiB: 1, placement: null, loadAverage: { before: [], after: [] }, targets: [] },
  } as unknown as ResultsDocument;
}

const withStats = (e: ResultEntry, meanMs: number, errorMs: number, percent: number | null, lower: number | null = null,
  upper: number | null = null): ResultEntry =>
  ({ ...e, stats: { ...e.stats, meanMs, errorMs, percent, percentLower: lower, percentUpper: upper } }) as ResultEntry;

describe('charts: specs built from results', () => {
  it('percentile curves: the value at p90, p99, p99.9 and p99.99 agrees with the nearest-rank percentile of the recorded values (HDR: 3 digits), and a curve ends where the histogram runs out of resolution', () => {
    const h = new OpHistogram();
    const values: number[] = [];
    // 20,000 latencies from 1 µs to 20 ms, a long tail on purpose: 1 µs × i^1.5 scaled.
    for (let i = 1; i <= 20_000; i++) values.push(Math.round(1000 + 19_999_000 * (i / 20_000) ** 3));
    for (const v of values) h.record(v);
    const sorted = [...values].sort((a, b) => a - b);
    const nearestRank = (p: number): number => sorted[Math.ceil((p / 100) * sorted.length) - 1] as number;
    const spec = percentileChart([{ target: 'A', op: 'GET', histogram: h.encode() }], 'label');
    assert.ok(spec);
    const rows = rowsWith(spec, 'nines');
    for (const [nines, p] of [[1, 90], [2, 99], [3, 99.9], [4, 99.99]] as const) {
      const row = rows.find((r) => Math.abs((r['nines'] as number) - nines) < 1e-9);
      assert.ok(row, `no point at ${nines} nines`);
      const reference = nearestRank(p) / 1e6;
      assert.ok(Math.abs((row['ms'] as number) - reference) <= reference * 0.001, `p${p}: ${row['ms']} ms vs ${reference} ms`);
    }
    assert.equal(Math.max(...rows.map((r) => r['nines'] as number)), 4);
    // 500 values: 1/500 is the finest step, log10(500) = 2.7 nines.
    const small = new OpHistogram();
    for (let i = 1; i <= 500; i++) small.record(i * 1000);
    const smallRows = rowsWith(percentileChart([{ target: 'B', op: 'GET', histogram: small.encode() }], 'label'), 'nines');
    assert.ok(Math.abs(Math.max(...smallRows.map((r) => r['nines'] as number)) - Math.log10(500)) < 1e-9);
    assert.equal(percentileChart([{ target: 'empty', op: 'GET', histogram: new OpHistogram().encode() }], 'label'), null, 'no chart without data');
  });

  it('iteration distribution: outliers are the samples above Tukey\'s fence (Q3 + 1.5 IQR, type-7 quartiles), computed here by hand; the box spans the kept samples', () => {
    // sorted 10, 10.5, …, 13, 40: Q1 = 10.875, Q3 = 12.625, fence = 12.625 + 1.5 × 1.75 = 15.25 → only 40 is out.
    const e = withStats(fakeEntry('s', 'A', { R: 1 }, [12, 10, 13, 40, 10.5, 11.5, 11, 12.5]), 11.5, 1, 100);
    const spec = distributionChart([e], 'label');
    const points = rowsWith(spec, 'jitter');
    assert.deepEqual(points.filter((p) => p['kind'] !== 'iteration').map((p) => p['value']), [40]);
    assert.equal(points.length, 8);
    const box = rowsWith(spec, 'q1')[0];
    assert.ok(box);
    assert.equal(box['low'], 10);
    assert.equal(box['high'], 13);
    assert.equal(box['median'], 11.5);
    assert.equal(box['q1'], 10.75); // kept 10 … 13 (7 values): h = 1.5 → 10.5 + 0.5 × 0.5
    assert.equal(box['q3'], 12.25); // h = 4.5 → 12 + 0.5 × 0.5
  });

  it('a payload sweep gets one chart of Mean against PAYLOAD_BYTES with a line per target (log axis over 100×), and no sweep without a second value', () => {
    const entries: ResultEntry[] = [];
    for (const [bytes, a, b] of [[100, 1, 2], [1000, 1.5, 2.5], [10_000, 4, 6]] as const) {
      entries.push(withStats(fakeEntry('sweep', 'A', { READ_RATIO: 5, PAYLOAD_BYTES: bytes }, [a, a]), a, 0.1, 100));
      entries.push(withStats(fakeEntry('sweep', 'B', { READ_RATIO: 5, PAYLOAD_BYTES: bytes }, [b, b]), b, 0.2, (100 * b) / a));
    }
    const charts = buildCharts(doc(entries));
    const sweeps = charts.filter((c) => c.group === 'sweep:sweep');
    assert.equal(sweeps.length, 1);
    const rows = rowsWith(sweeps[0]?.spec, 'mean');
    assert.deepEqual(rows.map((r) => [r['x'], r['target'], r['mean']]), [[100, 'A', 1], [100, 'B', 2], [1000, 'A', 1.5], [1000, 'B', 2.5], [10_000, 'A', 4], [10_000, 'B', 6]]);
    assert.deepEqual(rows.map((r) => Number(((r['hi'] as number) - (r['lo'] as number)).toFixed(6))), [0.2, 0.4, 0.2, 0.4, 0.2, 0.4]);
    assert.match(JSON.stringify(sweeps[0]?.spec), /"type":"log"/);
    // Per combination: the distribution and the Percent chart (no histograms in these entries: no percentile curves).
    assert.equal(charts.filter((c) => c.file.endsWith('-iterations.svg')).length, 3);
    assert.equal(charts.filter((c) => c.file.endsWith('-latency.svg')).length, 0);
    assert.equal(new Set(charts.map((c) => c.file)).size, charts.length, 'file names are unique');
    const single = buildCharts(doc(entries.filter((e) => e.scenario.params['PAYLOAD_BYTES'] === 100)));
    assert.equal(single.filter((c) => c.group.startsWith('sweep:')).length, 0);
  });

  it('capacity: each step\'s p50 and objective percentile at its offered rate, its verdict as a shape, an unbounded percentile left out, the objective as a line', async () => {
    const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/results-throughput.json', import.meta.url), 'utf8')) as ResultsDocument;
    const base = fixture.results[0] as ResultEntry;
    const step = (offered: number, p50: number, p99: number, met: boolean, clientBound = false): Record<string, unknown> => ({
      offered, achieved: offered, ops: offered * 10, errors: 0, latencyMs: { p50, p99 }, clientBound, phase: 'staircase', met, why: met ? null : 'p99 over' });
    const capacity = {
      objectives: [{ percentile: 99, maxMs: 10 }], maxErrorShare: 0, startRate: 1000, growth: 2, precision: 0.05, repeats: 3, maxSteps: 30,
      steps: [step(1000, 1, 3, true), step(2000, 1.5, 6, true), step(4000, 3, Infinity, false), step(3000, 2, 12, false), step(2500, 1.8, 9, true)],
      knee: 2500, interval: [2500, 3000], lowerBound: null, stop: 'found',
    };
    const bound = { ...capacity, steps: [step(1000, 0.8, 2, true), step(2000, 5, 40, false, true)], knee: null, interval: null, lowerBound: 1000, stop: 'client-bound' };
    const a = { ...base, target: { ...base.target, name: 'A' }, load: { ...base.load, capacity } } as unknown as ResultEntry;
    const b = { ...base, target: { ...base.target, name: 'B' }, load: { ...base.load, capacity: bound } } as unknown as ResultEntry;
    const spec = capacityChart([a, b], 'cap');
    // The curve's layer (the points' layer draws the same rows).
    const rows = rowsWith((spec as unknown as { layer: unknown[] }).layer[0], 'rate');
    const p99 = rows.filter((r) => r['percentile'] === 'p99' && r['target'] === 'A').map((r) => [r['rate'], r['ms'], r['verdict']]);
    // The 4,000 ops/s step's p99 was unbounded (failed ops at the percentile): no point for it, its p50 kept.
    assert.deepEqual(p99, [[1000, 3, 'met'], [2000, 6, 'met'], [3000, 12, 'missed'], [2500, 9, 'met']]);
    assert.deepEqual(rows.filter((r) => r['percentile'] === 'p50' && r['target'] === 'A').map((r) => r['rate']), [1000, 2000, 4000, 3000, 2500]);
    assert.deepEqual(rows.filter((r) => r['target'] === 'B').map((r) => [r['percentile'], r['rate'], r['verdict']]),
      [['p50', 1000, 'met'], ['p99', 1000, 'met'], ['p50', 2000, 'client-bound'], ['p99', 2000, 'client-bound']]);
    assert.deepEqual(rowsWith((spec as unknown as { layer: unknown[] }).layer[3], 'text').map((r) => [r['ms'], r['text']]), [[10, 'objective p99 ≤ 10 ms']]);
    const charts = buildCharts(doc([a, b]));
    const chart = charts.find((c) => c.file.endsWith('-capacity.svg'));
    assert.ok(chart !== undefined, charts.map((c) => c.file).join(' '));
    const svg = await renderSvg(chart);
    assert.deepEqual(svg.warnings, []);
    assert.match(svg.svg, /objective p99 ≤ 10 ms/);
    assert.equal(capacityChart([base], 'no capacity'), null);
    // A crafted file: an objective of 0 ms (no line on a log axis) and 5,000 steps (the first 200 drawn).
    const crafted = { ...capacity, objectives: [{ percentile: 99, maxMs: 0 }], steps: Array.from({ length: 5000 }, (_, i) => step(1000 + i, 1, 2, true)) };
    const big = capacityChart([{ ...a, load: { ...a.load, capacity: crafted } } as unknown as ResultEntry], 'crafted');
    assert.equal(rowsWith((big as unknown as { layer: unknown[] }).layer[0], 'rate').length, 2 * 200);
    assert.deepEqual((await renderSvg({ file: 'x.svg', title: 'x', group: 'g', spec: big as NonNullable<typeof big> })).warnings, []);
  });

  it('a WORKLOAD\'s or TRACE\'s latency per command: a curve per command (colour) and target (dash), from the intended send time in open loop', async () => {
    const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/results-throughput.json', import.meta.url), 'utf8')) as ResultsDocument;
    const base = fixture.results[0] as ResultEntry;
    const hist = (ms: number): string => {
      const h = new OpHistogram();
      for (let i = 1; i <= 200; i++) h.record(ms * 1e6 + i * 1000);
      return h.encode();
    };
    const cmd = (ms: number, intended: number | null): Record<string, unknown> => ({
      ops: 200, errors: 0, verified: 200, missing: 0, mismatched: 0, unverified: 0, sentBytes: 0, readBytes: 0, latency: hist(ms),
      intended: intended === null ? null : hist(intended),
    });
    const entry = (name: string, intended: boolean): ResultEntry => ({
      ...base, target: { ...base.target, name },
      load: {
        ...base.load,
        record: { ...base.load?.record, commands: { GET: cmd(1, intended ? 4 : null), HSET: cmd(2, intended ? 8 : null), DEL: { ...cmd(1, null), ops: 0 } } },
      },
    }) as unknown as ResultEntry;
    const charts = buildCharts(doc([entry('A', true), entry('B', true)]));
    const chart = charts.find((c) => c.file.endsWith('-commands.svg'));
    assert.ok(chart !== undefined, charts.map((c) => c.file).join(' '));
    const rows = rowsWith(chart.spec, 'nines');
    // Colour by command, dash by target; a command without ops draws nothing; the curves from the intended send time.
    assert.deepEqual([...new Set(rows.map((r) => `${String(r['target'])}/${String(r['op'])}`))].sort(), ['GET/A', 'GET/B', 'HSET/A', 'HSET/B']);
    const p0 = (command: string): number => rows.find((r) => r['target'] === command && r['op'] === 'A')?.['ms'] as number;
    assert.ok(Math.abs(p0('GET') - 4) < 0.01 && Math.abs(p0('HSET') - 8) < 0.01, `${p0('GET')} ${p0('HSET')}`);
    assert.deepEqual((await renderSvg(chart)).warnings, []);
    // No per-command records (the GET/SET mix): no such chart.
    assert.equal(buildCharts(doc([base])).filter((c) => c.file.endsWith('-commands.svg')).length, 0);
  });

  it('renders to SVG headless with no vega warning, the same SVG every time', async () => {
    const h = new OpHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i * 5000);
    const a = { ...withStats(fakeEntry('s', 'A', { R: 1 }, [1, 1.1, 1.2, 0.9, 1]), 1, 0.1, 100), ops: { set: { count: 1000, errors: 0, histogram: h.encode() }, get: { count: 1000, errors: 0, histogram: h.encode() } } } as ResultEntry;
    const b = withStats(fakeEntry('s', 'B', { R: 1 }, [2, 2.1, 2.2, 1.9, 2]), 2, 0.1, 200, 180, 220);
    const charts = buildCharts(doc([a, b]));
    assert.deepEqual(charts.map((c) => c.file.replace(/^chart-s-1-/, '')), ['iterations.svg', 'percent.svg', 'latency.svg']);
    for (const chart of charts) {
      const first = await renderSvg(chart);
      assert.deepEqual(first.warnings, [], chart.file);
      assert.match(first.svg, /^<svg [^>]*viewBox="0 0 \d+ \d+"/);
      assert.equal((await renderSvg(chart)).svg, first.svg, `${chart.file} differs between renders`);
    }
  });
});

describe('report.html', () => {
  it('keeps the details it writes, shows any other HTML in a result as text, drops the mermaid block and inlines each chart with its own ids', () => {
    const md = [
      '# t', '', '- A: 3× ERR <script>alert(1)</script> <img src=http://x/y.png>', '',
      '```mermaid', 'xychart-beta', '```', '', '![A chart](chart-a.svg)', '', '![Another](chart-b.svg)', '',
      '<details><summary>More <b>x</b></summary>', '', '| K | V |', '|---|---|', '| a | 1 |', '', '</details>', '',
    ].join('\n');
    const svg = '<svg viewBox="0 0 10 10"><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"></g></svg>';
    const html = renderHtml(md, new Map([['chart-a.svg', svg], ['chart-b.svg', svg]]), 'T <x>');
    assert.ok(!html.includes('<script>') && html.includes('&lt;script&gt;'));
    assert.ok(!html.includes('<img') && !html.includes('http://x/y.png"'));
    assert.ok(!html.includes('xychart-beta'));
    assert.ok(html.includes('<details><summary>More &lt;b&gt;x&lt;/b&gt;</summary>') && html.includes('</details>'));
    assert.match(html, /<div class="table"><table>/);
    assert.ok(html.includes('<title>T &lt;x&gt;</title>'));
    assert.ok(html.includes('id="chart1-clip1"') && html.includes('url(#chart1-clip1)') && html.includes('id="chart2-clip1"') && html.includes('url(#chart2-clip1)'));
    assert.equal((html.match(/<figure class="chart"/g) ?? []).length, 2);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.equal(isolateIds('<use href="#a"/><g id="a">', 'p'), '<use href="#p-a"/><g id="p-a">');
    // A chart report.md names but nobody rendered is said, not silently dropped.
    assert.match(renderHtml('![Lost](chart-lost.svg)', new Map(), 't'), /\[chart not rendered: Lost\]/);
  });
});

describe('CI step summary', () => {
  it('has each combination\'s compact table, what failed, the gate verdict and the charts linked to the run\'s artifacts', () => {
    const a = withStats(fakeEntry('s', 'A', { R: 1 }, [1, 1]), 1, 0.1, 100);
    const b = { ...withStats(fakeEntry('s', 'B', { R: 1 }, [2, 2]), 2, 0.1, 200, 180, 220), verification: { reads: 10, verified: 7, missing: 3, mismatched: 0 } } as ResultEntry;
    const d = doc([a, b]);
    const charts = buildCharts(d);
    const url = githubRunUrl({ GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '42' });
    assert.equal(url, 'https://github.com/o/r/actions/runs/42#artifacts');
    assert.equal(githubRunUrl({}), null);
    const text = renderStepSummary(d, { charts, reportDir: 'results/r1', gate: '| gate | row |\n', artifactsUrl: url });
    assert.match(text, /^## cachebench r1/);
    assert.match(text, /\| Target +\| +Mean \|/);
    assert.match(text, /\| A +\|/);
    assert.match(text, /\| B +\|.*3 missing/);
    assert.match(text, /- \*\*B: 3 missing reads\*\*/);
    assert.match(text, /### Regression gate\n\n\| gate \| row \|/);
    for (const c of charts) assert.ok(text.includes(`[\`${c.file}\`](${url})`), c.file);
    const local = renderStepSummary(d, { charts, reportDir: 'results/r1', artifactsUrl: null });
    assert.ok(!local.includes('Regression gate') && !local.includes('](') && local.includes('`results/r1`'));
  });
});
