import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import type { ResultEntry, ResultsDocument } from '../../src/report/document.js';
import { Browser, type Page } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { assertNothingLeft, docOf, sandbox as sandboxIn } from '../helpers/local.js';
import { tempDir } from '../helpers/servers.js';

/**
 * report.html in a real browser (Debian's headless Chromium over the DevTools protocol): after real runs against
 * local servers, the page loads with no console error and fetches nothing but itself, every chart report.md names is
 * there and drawn (its screenshot's pixels are not one blank colour), the page fits a phone's width, and the tables
 * show the numbers of results.json.
 */

const root = tempDir('cachebench-htmltest-');
let browser: Browser;
before(() => {
  browser = Browser.launch(root.dir);
});
after(async () => {
  await browser.close();
  root.remove();
});

const PHONE = { width: 390, height: 844, mobile: true };
const DESKTOP = { width: 1280, height: 900, mobile: false };

interface Figure { file: string; x: number; y: number; width: number; height: number; svgs: number; vertices: number; points: number }
interface PageFacts { figures: Figure[]; scrollWidth: number; viewport: number; tables: string[][][]; headings: string[] }

const FACTS = `(() => {
  const figures = [...document.querySelectorAll('figure.chart')].map((f) => {
    const r = f.querySelector('svg').getBoundingClientRect();
    return { file: f.dataset.chart, x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height,
      svgs: f.querySelectorAll('svg').length,
      // Drawn data only (vega's role-mark groups, not axes, grid lines, titles or legends): a path counts its
      // vertices (a line is one path), any other element one.
      vertices: [...f.querySelectorAll('g.role-mark > *')].reduce((n, el) => n + (el.tagName === 'path' ? (el.getAttribute('d') || '').split(/[MLHVCSQTAZ]/i).length - 1 : 1), 0),
      points: f.querySelectorAll('g.mark-symbol.role-mark > path').length };
  });
  const tables = [...document.querySelectorAll('table')].map((t) => [...t.rows].map((row) => [...row.cells].map((c) => c.textContent.trim())));
  return { figures, tables, scrollWidth: document.documentElement.scrollWidth, viewport: innerWidth,
    headings: [...document.querySelectorAll('h1, h2, h3, h4')].map((h) => h.textContent.trim()) };
})()`;

/** Share of a screenshot's pixels that differ from its most common colour, and how many colours it has. */
function inked(png: Buffer): { share: number; colours: number } {
  const image = PNG.sync.read(png);
  const counts = new Map<number, number>();
  for (let i = 0; i < image.data.length; i += 4) {
    const key = ((image.data[i] as number) << 16) | ((image.data[i + 1] as number) << 8) | (image.data[i + 2] as number);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const total = image.width * image.height;
  const background = Math.max(...counts.values());
  return { share: (total - background) / total, colours: counts.size };
}

/** Charts named in report.md, in order. */
const chartFilesOf = (markdown: string): string[] => [...markdown.matchAll(/!\[[^\]]*\]\((chart-[^)]+\.svg)\)/g)].map((m) => m[1] as string);

/** A table's number in a cell: `1,234` → 1234, `4.380 ms` → 4.38 ms, `12.5 μs` → 0.0125 ms. */
function cellNumber(cell: string): number {
  const m = /^~?(-?[\d,]+(?:\.\d+)?)\s*(ms|μs|µs|s)?/.exec(cell);
  assert.ok(m, `no number in cell ${JSON.stringify(cell)}`);
  const x = Number((m[1] as string).replace(/,/g, ''));
  return m[2] === 'μs' || m[2] === 'µs' ? x / 1000 : m[2] === 's' ? x * 1000 : x;
}

/** The rows of the tables with these headers, by target (first cell). */
function rowsOf(tables: readonly string[][][], header: string): Map<string, Record<string, string>>[] {
  return tables.filter((t) => t[0]?.[0] === 'Target' && t[0].includes(header)).map((t) => {
    const head = t[0] as string[];
    return new Map(t.slice(1).map((row) => [row[0] as string, Object.fromEntries(head.map((h, i) => [h, row[i] ?? '']))]));
  });
}

/** Opens report.html at a size and checks what every page must satisfy; returns what it found. */
async function checkPage(dir: string, size: typeof PHONE): Promise<PageFacts> {
  const file = join(dir, 'report.html');
  const markdown = readFileSync(join(dir, 'report.md'), 'utf8');
  const expected = chartFilesOf(markdown);
  assert.ok(expected.length > 0, 'report.md names no chart');
  for (const chart of expected) assert.ok(existsSync(join(dir, chart)), `${chart} named in report.md but not written`);
  const { report, result } = await browser.open(file, size, async (page: Page) => {
    const facts = await page.evaluate<PageFacts>(FACTS);
    const shots: { file: string; share: number; colours: number }[] = [];
    for (const f of facts.figures) {
      const png = await page.screenshot({ x: f.x, y: f.y, width: Math.max(1, Math.floor(f.width)), height: Math.max(1, Math.floor(f.height)) });
      shots.push({ file: f.file, ...inked(png) });
    }
    return { facts, shots };
  });
  assert.deepEqual(report.problems, [], `console errors or warnings at ${size.width} px`);
  assert.deepEqual(report.requests.filter((u) => !u.endsWith('/report.html')), [], 'the page fetched something besides itself');
  const { facts, shots } = result;
  assert.deepEqual(facts.figures.map((f) => f.file), expected, 'every chart of report.md is in report.html, in order');
  for (const f of facts.figures) {
    assert.equal(f.svgs, 1, `${f.file}: one inline SVG`);
    assert.ok(f.width >= 200 && f.height >= 60, `${f.file}: drawn at ${f.width}×${f.height}`);
    assert.ok(f.x + f.width <= facts.viewport + 0.5, `${f.file}: wider than the ${facts.viewport} px page`);
    assert.ok(f.vertices >= 5, `${f.file}: only ${f.vertices} drawn data vertices`);
  }
  for (const s of shots) {
    // A chart is lines, points, text and axes on white: a blank or broken one is one colour.
    assert.ok(s.share >= 0.02 && s.colours >= 4, `${s.file} looks blank at ${size.width} px: ${(s.share * 100).toFixed(1)}% inked, ${s.colours} colours`);
  }
  assert.ok(facts.scrollWidth <= facts.viewport, `the page scrolls sideways at ${size.width} px (${facts.scrollWidth} px wide): wide tables must scroll inside the page`);
  return facts;
}

const close = (cell: string | undefined, value: number, relative: number, what: string): void => {
  assert.ok(cell !== undefined, `${what}: no cell`);
  const x = cellNumber(cell);
  assert.ok(Math.abs(x - value) <= Math.abs(value) * relative + 1e-9, `${what}: table says ${cell}, results.json ${value}`);
};

describe('report.html in headless Chromium', () => {
  it('a latency run with a payload sweep and a throughput run (REDIS_SINGLE, TWEMPROXY): loads clean, every chart drawn, fits a phone, tables match results.json', async () => {
    const { tmp, cwd } = sandboxIn(root.dir, 'mixed');
    writeFileSync(join(cwd, 'lat.yaml'), 'READ_RATIO: 5\nWRITE_COUNT: 5\nPAYLOAD_BYTES: [100, 10000]\nMIN_ITERATIONS: 5\nMAX_ITERATIONS: 8\n');
    writeFileSync(join(cwd, 'thr.yaml'), 'MODE: throughput\nCLIENTS: 4\nCONNECTIONS: 2\nREAD_RATIO: 5\nPAYLOAD_BYTES: 100\nWARMUP_SECONDS: 0\nDURATION: 3\n');
    const run = await runCli(['run', 'lat.yaml', 'thr.yaml', '--local', 'REDIS_SINGLE,TWEMPROXY', '--out', join(cwd, 'results')], { cwd, env: { TMPDIR: tmp }, timeoutMs: 120_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /warning: chart/, 'vega-lite or vega complained about a chart');
    assertNothingLeft(tmp);
    const doc: ResultsDocument = docOf(run.stdout, cwd);
    // The servers' cost of a local topology comes from /proc: every process of it (TWEMPROXY: the proxy and its backends,
    // which answer no INFO through the proxy), every measured window, never more than 3 s on every CPU they could use.
    for (const e of doc.results.filter((x) => x.load != null)) {
      const cpu = e.load?.record.serverCpu;
      assert.ok(cpu != null && cpu.source === '/proc' && cpu.windows === cpu.planned && cpu.ms > 0, `${e.target.name}: ${JSON.stringify(cpu)}`);
      assert.ok(cpu.ms <= 3000 * Math.min(cpu.nodes, availableParallelism()) + 50, `${e.target.name}: ${cpu.ms} ms of CPU in 3 s`);
      if (e.target.name === 'TWEMPROXY') assert.ok(cpu.nodes >= 2, `${cpu.nodes} processes`);
    }
    assert.match(run.stdout, /TWEMPROXY servers \(\d+ local processes, \/proc over its measured seconds\): [\d,.]+ ms of CPU, [\d.]+ µs per op/);
    const dir = resolve(cwd, /Report: (.*)report\.md/.exec(run.stdout)?.[1] ?? '');
    const files = chartFilesOf(readFileSync(join(dir, 'report.md'), 'utf8'));
    // Latency: per combination the iterations, Percent and percentile curves; the sweep; throughput: series, Percent, curves.
    for (const kind of ['lat-5-5-100-iterations', 'lat-5-5-100-percent', 'lat-5-5-100-latency', 'lat-5-5-10000-iterations', 'lat-sweep-payload-bytes', 'thr-5-10-100-throughput', 'thr-5-10-100-percent', 'thr-5-10-100-latency']) {
      assert.ok(files.some((f) => f.startsWith(`chart-${kind}`)), `no ${kind} chart in ${files.join(', ')}`);
    }
    for (const size of [PHONE, DESKTOP]) {
      const facts = await checkPage(dir, size);
      // The seed tables, one per parameter combination, in results.json's order.
      const latency = doc.results.filter((e) => e.load == null);
      const combos = [...new Set(latency.map((e) => JSON.stringify(e.scenario.params)))];
      const seedTables = rowsOf(facts.tables, 'Mean');
      assert.equal(seedTables.length, combos.length);
      combos.forEach((combo, i) => {
        for (const e of latency.filter((x) => JSON.stringify(x.scenario.params) === combo)) {
          const row = seedTables[i]?.get(e.target.name);
          assert.ok(row, `${e.target.name} ${combo}: no row`);
          close(row['Mean'], e.stats.meanMs as number, 0.001, `${e.target.name} Mean`);
          close(row['StdDev'], e.stats.stdDevMs as number, 0.001, `${e.target.name} StdDev`);
          assert.equal(cellNumber(row['N'] ?? ''), e.stats.n);
          assert.equal(cellNumber(row['Verified'] ?? ''), e.verification.verified);
          if (!e.baseline) close(row['Percent'], e.stats.percent as number, 0.005, `${e.target.name} Percent`);
        }
      });
      const loadTable = rowsOf(facts.tables, 'Ops/s')[0];
      for (const e of doc.results.filter((x): x is ResultEntry & { load: NonNullable<ResultEntry['load']> } => x.load != null)) {
        const row = loadTable?.get(e.target.name);
        assert.ok(row, `${e.target.name}: no throughput row`);
        assert.ok(Math.abs(cellNumber(row['Ops/s'] ?? '') - (e.load.throughput.mean as number)) <= 0.5, `${e.target.name} Ops/s ${row['Ops/s']} vs ${e.load.throughput.mean}`);
        assert.equal(cellNumber(row['Verified'] ?? ''), e.verification.verified);
      }
      // Every iteration is a point of its combination's distribution chart.
      const iterationCharts = facts.figures.filter((f) => f.file.endsWith('-iterations.svg'));
      assert.equal(iterationCharts.length, combos.length);
      assert.equal(iterationCharts.reduce((n, f) => n + f.points, 0), latency.reduce((n, e) => n + e.samplesMs.length, 0));
      assert.ok(facts.headings.includes('Environment') && facts.headings.includes('Scenario lat') && facts.headings.includes('Scenario thr'), facts.headings.join(' | '));
    }
  });

  it('a fault run (REDIS_SINGLE pause-primary): the timeline with the window is drawn and the Under failure table matches results.json', async () => {
    const { tmp, cwd } = sandboxIn(root.dir, 'fault');
    const run = await runCli(['run', '--local', 'REDIS_SINGLE', '--out', join(cwd, 'results')],
      { cwd, env: { TMPDIR: tmp, READ_RATIO: '5', PAYLOAD_BYTES: '100', FAULT: 'pause-primary', FAULT_AT: '1', FAULT_DURATION: '1', DURATION: '4', OP_TIMEOUT_MS: '500' }, timeoutMs: 90_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /warning: chart/, 'vega-lite or vega complained about a chart');
    assertNothingLeft(tmp);
    const doc = docOf(run.stdout, cwd);
    const dir = resolve(cwd, /Report: (.*)report\.md/.exec(run.stdout)?.[1] ?? '');
    assert.ok(chartFilesOf(readFileSync(join(dir, 'report.md'), 'utf8')).some((f) => f.endsWith('-fault.svg')), 'no fault timeline chart');
    const facts = await checkPage(dir, PHONE);
    const e = doc.results[0];
    const row = rowsOf(facts.tables, 'Window')[0]?.get('REDIS_SINGLE');
    assert.ok(e?.fault && row, 'no Under failure row');
    assert.ok(e.fault.windowMs !== null && e.fault.windowMs > 0, `window ${e.fault.windowMs}`);
    close(row['Window'], e.fault.windowMs, 0.01, 'Window');
    assert.equal(cellNumber(row['Failed SET'] ?? ''), e.fault.failedOps.set);
    assert.equal(cellNumber(row['Acked writes checked'] ?? ''), e.fault.ackedWritesChecked);
  });
});
