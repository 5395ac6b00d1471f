/**
 * npm run bench:charts — how long rendering a run's charts and report.html takes, for a run of 3 targets × 5 parameter
 * combinations (aim: ≤ 2 s for every chart):
 *   1. a real latency run through the CLI: `run` of a 5-value PAYLOAD_BYTES sweep against the three local topologies
 *      (REDIS_CLUSTER, TWEMPROXY, REDIS_SINGLE), 100 iterations per target and combination (so each box plot has 100
 *      points, each percentile curve a histogram of every op);
 *   2. in this process, on its results.json: building the specs, rendering every SVG, report.html — the first render
 *      (cold: vega's modules compiled on first use) and the median of 5 more; per chart kind;
 *   3. `cachebench report` of the same results.json end to end (a new Node process: start-up and imports included);
 *   4. the sizes of report.html and the SVGs.
 * `node dist/test/bench/charts.js path/to/results.json` measures an existing results file instead of step 1.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median } from 'simple-statistics';
import { buildCharts } from '../../src/report/charts.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderResultFiles } from '../../src/report/write.js';
import { renderSvg } from '../../src/report/svg.js';
import type { ResultsDocument } from '../../src/report/document.js';
import { tempDir } from '../helpers/servers.js';

const execFileAsync = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ms = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e6;
const KB = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;

async function realRun(dir: string): Promise<string> {
  const scenario = join(dir, 'sweep.yaml');
  writeFileSync(scenario, [
    'DESCRIPTION: "bench:charts: 5 payload sizes × 3 local topologies, 100 iterations each"',
    'READ_RATIO: 10', 'WRITE_COUNT: 5', 'PAYLOAD_BYTES: [100, 1000, 5000, 20000, 100000]',
    'MIN_ITERATIONS: 100', 'MAX_ITERATIONS: 100', 'ITERATION_TIME_MS: 10', 'WARMUP_ITERATIONS: 2', '',
  ].join('\n'));
  const started = process.hrtime.bigint();
  const { stdout } = await execFileAsync(process.execPath, [CLI, 'run', scenario, '--local', 'REDIS_CLUSTER,TWEMPROXY,REDIS_SINGLE', '--out', join(dir, 'results'), '--quiet'], { env: { ...process.env, TMPDIR: dir }, maxBuffer: 64 << 20 });
  const report = /Report: (.*)report\.md/.exec(stdout)?.[1];
  if (report === undefined) throw new Error(`no report in the run's output:\n${stdout}`);
  console.log(`run: ${(ms(started) / 1000).toFixed(1)} s (3 local topologies × 5 PAYLOAD_BYTES, 100 iterations each)`);
  return join(report, 'results.json');
}

async function main(): Promise<void> {
  const tmp = tempDir('cachebench-bench-charts-');
  try {
    const file = process.argv[2] ?? (await realRun(tmp.dir));
    const doc = JSON.parse(readFileSync(file, 'utf8')) as ResultsDocument;
    const targets = new Set(doc.results.map((e) => e.target.name)).size;
    const combos = new Set(doc.results.map((e) => `${e.scenario.name} ${JSON.stringify(e.scenario.params)}`)).size;
    console.log(`results: ${file}\n${targets} targets × ${combos} combinations, ${doc.results.reduce((n, e) => n + e.samplesMs.length, 0)} iterations`);

    const timeAll = async (): Promise<{ total: number; specs: number; svgs: number; html: number; perKind: Map<string, number[]> }> => {
      const t0 = process.hrtime.bigint();
      const charts = buildCharts(doc);
      const specs = ms(t0);
      const perKind = new Map<string, number[]>();
      const svgs = new Map<string, string>();
      const t1 = process.hrtime.bigint();
      for (const c of charts) {
        const t = process.hrtime.bigint();
        svgs.set(c.file, (await renderSvg(c)).svg);
        const kind = c.group.startsWith('sweep:') ? 'sweep' : /-(\w+)\.svg$/.exec(c.file)?.[1] ?? c.file;
        perKind.set(kind, [...(perKind.get(kind) ?? []), ms(t)]);
      }
      const svgMs = ms(t1);
      const t2 = process.hrtime.bigint();
      renderHtml(renderMarkdown(doc, charts), svgs, doc.runId);
      return { total: ms(t0), specs, svgs: svgMs, html: ms(t2), perKind };
    };

    const cold = await timeAll();
    const warm: Awaited<ReturnType<typeof timeAll>>[] = [];
    for (let i = 0; i < 5; i++) warm.push(await timeAll());
    const charts = buildCharts(doc).length;
    console.log(`\ncharts: ${charts}`);
    console.log(`first render (cold):   ${cold.total.toFixed(0)} ms  (specs ${cold.specs.toFixed(0)} ms, SVGs ${cold.svgs.toFixed(0)} ms, report.html ${cold.html.toFixed(0)} ms)`);
    console.log(`median of 5 more:      ${median(warm.map((w) => w.total)).toFixed(0)} ms  (specs ${median(warm.map((w) => w.specs)).toFixed(0)} ms, SVGs ${median(warm.map((w) => w.svgs)).toFixed(0)} ms, report.html ${median(warm.map((w) => w.html)).toFixed(0)} ms)`);
    console.log('per chart kind (median ms per chart, warm):');
    const last = warm[warm.length - 1];
    for (const [kind, times] of last?.perKind ?? []) console.log(`  ${kind.padEnd(12)} ${String(times.length).padStart(3)} × ${median(times).toFixed(1)} ms`);

    const out = join(tmp.dir, 'again');
    const t = process.hrtime.bigint();
    await execFileAsync(process.execPath, [CLI, 'report', file, '--out', out]);
    const cliMs = ms(t);
    const rendered = await renderResultFiles(doc);
    const folder = join(out, doc.runId);
    const svgBytes = readdirSync(folder).filter((f) => f.endsWith('.svg')).reduce((n, f) => n + statSync(join(folder, f)).size, 0);
    console.log(`\n\`cachebench report\` end to end (new Node process): ${cliMs.toFixed(0)} ms`);
    console.log(`report.html ${KB(Buffer.byteLength(rendered.files.html))}, report.md ${KB(Buffer.byteLength(rendered.files.report))}, ${rendered.charts.length} SVGs ${KB(svgBytes)} in all, results.json ${KB(statSync(file).size)}`);
    const verdict = cold.total <= 2000 ? 'within' : 'OVER';
    console.log(`\nevery chart of the run, first render: ${(cold.total / 1000).toFixed(2)} s — ${verdict} the 2 s aim`);
  } finally {
    tmp.remove();
  }
}

await main();
