import { quantileSorted } from 'simple-statistics';
import type { TopLevelSpec } from 'vega-lite';
import { OpHistogram } from '../measure/histogram.js';
import { removeUpperOutliers } from '../stats/describe.js';
import { capacityOf } from './capacity.js';
import { chooseTimeUnit, formatNumber } from './columns.js';
import { type ResultEntry, type ResultsDocument } from './document.js';
import { groupEntries, shardLabel } from './sentences.js';
import { describeParams } from './table.js';
import { maxOf, minOf } from '../stats/extent.js';

/**
 * Charts are data: each is a vega-lite spec built from results by a pure function (rendering it to SVG is svg.ts's
 * business). A chart is made only where its data exists: an old results file without histograms gets no percentile
 * curves, a run without a second parameter value gets no sweep.
 */
export interface Chart {
  /** File name next to report.md (`chart-…svg`), unique within a run. */
  readonly file: string;
  /** What it shows, for the image's alt text and caption. */
  readonly title: string;
  /** caseKey of the parameter combination it belongs to, or `sweep:<scenario>` for a scenario's sweep charts. */
  readonly group: string;
  readonly spec: TopLevelSpec;
}

const WIDTH = 480;
/** Nines on the percentile axis: 0 = p0, 1 = p90, 2 = p99, 3 = p99.9, 4 = p99.99. */
const MAX_NINES = 4;
const NINES_STEP = 0.05;

const CONFIG = {
  font: 'Liberation Sans, Arial, Helvetica, sans-serif',
  background: 'white',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee', labelLimit: 280 },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'bottom', columns: 2, labelLimit: 260 },
  title: { fontSize: 14, anchor: 'start' },
} as const;

/** A top-level spec: a short title, then what it shows (the parameter combination, how to read it) as subtitle lines. */
function frame(title: string, subtitle: readonly string[], body: Record<string, unknown>): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: [...subtitle] },
    config: CONFIG,
    ...body,
  } as TopLevelSpec;
}

const slug = (text: string): string => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);

/**
 * The entries a combination's charts draw: one per target. A merged document holds each target's total first, then
 * every input's own row under the same name: the charts show the total (the table shows each input).
 */
export function chartEntries(entries: readonly ResultEntry[]): ResultEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => !seen.has(e.target.name) && seen.add(e.target.name) !== undefined);
}

/** A target's name in a chart: as in the table, e.g. `REDIS (3 shards merged)`. */
const seriesName = (e: ResultEntry): string => `${e.target.name}${shardLabel(e)}`;

/** Jitter in [-1, 1) from an index, the same for every render (a report must not change between renders). */
const jitter = (i: number): number => (((i * 2654435761) >>> 0) % 1000) / 500 - 1;

/** Per target: every iteration (per invocation) as a point, outliers marked, over a box of the quartiles and whiskers to the kept range, with the Mean. */
export function distributionChart(entries: readonly ResultEntry[], label: string): TopLevelSpec | null {
  const measured = entries.filter((e) => e.samplesMs.length > 0);
  if (measured.length === 0) return null;
  const unit = chooseTimeUnit(measured);
  const points: Record<string, unknown>[] = [];
  const boxes: Record<string, unknown>[] = [];
  for (const e of measured) {
    const split = removeUpperOutliers(e.samplesMs);
    const sorted = [...split.kept].sort((a, b) => a - b);
    // Type-7 quartiles, as the outlier fence's (removeUpperOutliers).
    const q = (p: number): number => quantileSorted(sorted, p);
    e.samplesMs.forEach((ms, i) => points.push({ target: e.target.name, value: ms * unit.perMs, kind: ms > split.upperFence ? 'outlier (left out)' : 'iteration', jitter: jitter(i) }));
    if (sorted.length > 0) {
      boxes.push({
        target: e.target.name, q1: q(0.25) * unit.perMs, median: q(0.5) * unit.perMs, q3: q(0.75) * unit.perMs,
        low: (sorted[0] as number) * unit.perMs, high: (sorted[sorted.length - 1] as number) * unit.perMs,
        mean: e.stats.meanMs === null ? null : e.stats.meanMs * unit.perMs,
      });
    }
  }
  const y = { field: 'target', type: 'nominal', title: null, sort: measured.map((e) => e.target.name) };
  const x = { type: 'quantitative', title: `time per invocation (${unit.name}), lower is better`, scale: { zero: false } };
  const band = 36;
  return frame('Iteration times per target', [label, 'box: quartiles; whiskers: fastest to slowest kept iteration;', 'black |: Mean; points: every iteration'], {
    width: WIDTH,
    height: { step: band },
    layer: [
      { data: { values: boxes }, mark: { type: 'rule', color: '#555' }, encoding: { y, x: { ...x, field: 'low' }, x2: { field: 'high' } } },
      { data: { values: boxes }, mark: { type: 'bar', size: band * 0.55, color: '#cfe0f3', stroke: '#4c78a8' }, encoding: { y, x: { ...x, field: 'q1' }, x2: { field: 'q3' } } },
      { data: { values: boxes }, mark: { type: 'tick', color: '#4c78a8', size: band * 0.55, thickness: 2 }, encoding: { y, x: { ...x, field: 'median' } } },
      { data: { values: boxes.filter((b) => b['mean'] !== null) }, mark: { type: 'tick', color: '#000', size: band * 0.8, thickness: 1.5 }, encoding: { y, x: { ...x, field: 'mean' } } },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 18, opacity: 0.55 },
        encoding: {
          y, x: { ...x, field: 'value' },
          yOffset: { field: 'jitter', type: 'quantitative', scale: { domain: [-1.6, 1.6] }, legend: null },
          color: { field: 'kind', type: 'nominal', title: null, scale: { domain: ['iteration', 'outlier (left out)'], range: ['#4c78a8', '#e45756'] } },
          shape: { field: 'kind', type: 'nominal', title: null, scale: { domain: ['iteration', 'outlier (left out)'], range: ['circle', 'cross'] } },
        },
      },
    ],
  });
}

interface Curve {
  /** The target (colour: every target its own). */
  readonly target: string;
  /** The op or latency view (dash: GET solid, SET dashed; from intended send solid, service time dashed). */
  readonly op: string;
  readonly histogram: string;
}

/** A categorical palette of 20 colours, so up to 20 targets never share one (vega's default has 10). */
const MANY_COLOURS = 'category20';

/**
 * Latency percentile curves from HDR histograms, HdrHistogram's plot: the x axis counts nines (p90, p99, p99.9, p99.99)
 * so the tail gets room; both axes log. A curve stops where the histogram has no more resolution (1/count).
 */
export function percentileChart(curves: readonly Curve[], label: string,
  names: { readonly title: string; readonly colour: string; readonly dash: string } = { title: 'Op latency percentiles', colour: 'target', dash: 'op' }): TopLevelSpec | null {
  const values: Record<string, unknown>[] = [];
  for (const c of curves) {
    const h = OpHistogram.decode(c.histogram);
    if (h.count === 0) continue;
    const last = Math.min(MAX_NINES, Math.log10(h.count));
    for (let i = 0; ; i++) {
      const nines = Math.min(i * NINES_STEP, last);
      const percentile = 100 * (1 - 10 ** -nines);
      // A percentile is the upper edge of its HDR bucket: never above the largest value recorded (the Max column).
      values.push({ target: c.target, op: c.op, nines, percentile: Number(percentile.toFixed(4)), ms: Math.max(Math.min(h.valueAt(percentile), h.max),
        1) / 1e6 });
      if (nines >= last) break;
    }
  }
  if (values.length === 0) return null;
  const targets = [...new Set(curves.map((c) => c.target))];
  const ops = [...new Set(curves.map((c) => c.op))];
  return frame(names.title, [label, `x: percentile, each step one more nine; y: log scale; colour: ${names.colour}; dash: ${names.dash}`], {
    width: WIDTH,
    height: 260,
    data: { values },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
    encoding: {
      x: {
        field: 'nines', type: 'quantitative', title: 'percentile',
        scale: { domain: [0, MAX_NINES] },
        axis: { values: [0, 1, 2, 3, 4], labelExpr: "['p0', 'p90', 'p99', 'p99.9', 'p99.99'][datum.value]" },
      },
      y: { field: 'ms', type: 'quantitative', title: 'latency (ms)', scale: { type: 'log' } },
      color: { field: 'target', type: 'nominal', title: names.colour, sort: targets, scale: targets.length > 10 ? { scheme: MANY_COLOURS } : {}, legend: { columns: 1, labelLimit: 400 } },
      strokeDash: { field: 'op', type: 'nominal', title: names.dash, sort: ops, scale: { domain: ops, range: ops.map((_, i) => (i === 0 ? [1, 0] : i === 1 ? [6, 3] : [2, 2])) } },
      detail: { field: 'op', type: 'nominal' },
    },
  });
}

/** Percent of the baseline per target, with its 99.9% interval; a dashed line at 100%. */
export function percentChart(rows: readonly { target: string; percent: number; lower: number | null; upper: number | null }[], title: string, label: string,
  better: string): TopLevelSpec | null {
  if (rows.length < 2) return null;
  const y = { field: 'target', type: 'nominal', title: null, sort: rows.map((r) => r.target) };
  const x = { type: 'quantitative', title: `Percent of the baseline (99.9% interval), ${better}`, scale: { zero: false } };
  const labelled = rows.map((r) => ({ ...r, label: `${formatNumber(r.percent)}%` }));
  const intervals = labelled.filter((r) => r.lower !== null && r.upper !== null);
  return frame(title, [label, 'point: Percent; bar: its 99.9% confidence interval;', 'dashed: 100% (the baseline)'], {
    width: WIDTH,
    height: { step: 30 },
    layer: [
      { data: { values: [{ at: 100 }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#888' }, encoding: { x: { ...x, field: 'at' } } },
      ...(intervals.length === 0 ? [] : [{ data: { values: intervals }, mark: { type: 'rule', strokeWidth: 3, color: '#4c78a8' }, encoding: { y, x: { ...x, field: 'lower' }, x2: { field: 'upper' } } }]),
      { data: { values: labelled }, mark: { type: 'point', filled: true, size: 60, color: '#000' }, encoding: { y, x: { ...x, field: 'percent' } } },
      { data: { values: labelled }, mark: { type: 'text', align: 'left', dx: 8, dy: -9, fontSize: 10 }, encoding: { y, x: { ...x, field: 'percent' }, text: { field: 'label' } } },
    ],
  });
}

/**
 * The y range of a sweep chart: the error bars' extent, but never more than the means' own spread (at least 10% of
 * the largest mean) beyond the means on either side, and never below 0 (times and rates are positive). An Error from
 * a handful of rounds can be thousands of ms wide and would squash every mean into one line: such bars are clipped
 * at the axis, and `clipped` says so.
 */
export function sweepDomain(rows: readonly { mean: number; lo: number; hi: number }[]): { domain: [number, number]; clipped: boolean } {
  let minMean = Infinity;
  let maxMean = -Infinity;
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) {
    minMean = Math.min(minMean, r.mean);
    maxMean = Math.max(maxMean, r.mean);
    lo = Math.min(lo, r.lo);
    hi = Math.max(hi, r.hi);
  }
  const room = Math.max(maxMean - minMean, 0.1 * Math.abs(maxMean));
  const domain: [number, number] = [Math.max(0, minMean - room, lo), Math.min(maxMean + room, hi)];
  return { domain, clipped: lo < domain[0] || hi > domain[1] };
}

/** Mean (with Error) against a swept parameter, one line per target. */
export function sweepChart(rows: readonly { x: number; target: string; mean: number; lo: number; hi: number }[], key: string, yTitle: string, title: string,
  label: string): TopLevelSpec | null {
  const xs = new Set(rows.map((r) => r.x));
  if (xs.size < 2) return null;
  const min = minOf(xs);
  const max = maxOf(xs);
  const x = { field: 'x', type: 'quantitative', title: key, scale: min > 0 && max / min >= 20 ? { type: 'log', padding: 16 } : { zero: false, padding: 16 } };
  const color = { field: 'target', type: 'nominal', title: null, ...(new Set(rows.map((r) => r.target)).size > 10 ? { scale: { scheme: MANY_COLOURS } } : {}) };
  const { domain, clipped } = sweepDomain(rows);
  const y = { type: 'quantitative', scale: { domain, nice: false, zero: false } };
  const bars = clipped ? 'bars: ± Error (99.9% interval), clipped at the axis where wider (few rounds)' : 'bars: ± Error (99.9% interval)';
  return frame(title, [label, `lines: Mean; ${bars}`], {
    width: WIDTH,
    height: 260,
    data: { values: rows },
    layer: [
      { mark: { type: 'line', point: true, clip: true }, encoding: { x, y: { ...y, field: 'mean', title: yTitle }, color } },
      { mark: { type: 'rule', clip: true }, encoding: { x, y: { ...y, field: 'lo' }, y2: { field: 'hi' }, color } },
    ],
  });
}

/** One panel per target: ok and failed ops per bucket, the failure window shaded, the fault marked. */
export function faultChart(entries: readonly ResultEntry[], label: string): TopLevelSpec | null {
  const panels = entries.filter((e) => e.fault != null && e.fault.timeline.ok.length > 0).map((e) => {
    const f = e.fault as NonNullable<ResultEntry['fault']>;
    const t = f.timeline;
    const perSec = 1000 / t.bucketMs;
    const endS = (t.ok.length * t.bucketMs) / 1000;
    const lastOk = t.ok[t.ok.length - 1] ?? 0;
    const lastFailed = t.failed[t.ok.length - 1] ?? 0;
    // Steps: each bucket's level from its start to the next; a closing point draws the last bucket to the run's end.
    const ops = [...t.ok.flatMap((ok, i) => [
      { s: (i * t.bucketMs) / 1000, kind: 'ok ops/s', value: ok * perSec },
      { s: (i * t.bucketMs) / 1000, kind: 'failed ops/s', value: (t.failed[i] ?? 0) * perSec },
    ]), { s: endS, kind: 'ok ops/s', value: lastOk * perSec }, { s: endS, kind: 'failed ops/s', value: lastFailed * perSec }];
    const window = f.windowStartMs === null ? [] : [{ from: f.windowStartMs / 1000, to: f.windowEndMs === null ? endS : f.windowEndMs / 1000 }];
    const windowText = f.windowMs === null ? 'window open until the end' : f.windowMs === 0 ? 'no failure window' : `window ${(f.windowMs / 1000).toFixed(2)} s`;
    const x = { type: 'quantitative', title: 'seconds into the run', scale: { domain: [0, endS], nice: false } };
    return {
      title: { text: `${e.target.name}: ${windowText}`, fontSize: 12 },
      width: WIDTH,
      height: 120,
      layer: [
        { data: { values: window }, mark: { type: 'rect', color: '#e45756', opacity: 0.15 }, encoding: { x: { ...x, field: 'from' }, x2: { field: 'to' } } },
        { data: { values: ops }, mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.2 }, encoding: { x: { ...x, field: 's' }, y: { field: 'value', type: 'quantitative', title: 'ops/s (100 ms buckets)' }, color: { field: 'kind', type: 'nominal', title: null, scale: { domain: ['ok ops/s', 'failed ops/s'], range: ['#4c78a8', '#e45756'] } } } },
        ...(f.injectedAtMs === null ? [] : [{ data: { values: [{ at: f.injectedAtMs / 1000 }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#000' }, encoding: { x: { ...x, field: 'at' } } }]),
      ],
    };
  });
  if (panels.length === 0) return null;
  return frame('Ops under failure', [label, 'shaded: the failure window; dashed: the fault injected'], { vconcat: panels, resolve: { scale: { color: 'shared' } } });
}

/** Throughput runs: successful ops/s and the p99 of each second, one line per target. */
export function throughputChart(entries: readonly ResultEntry[], label: string): TopLevelSpec | null {
  const values = chartEntries(entries).filter((e) => e.load != null).flatMap((e) => {
    const load = e.load as NonNullable<ResultEntry['load']>;
    const first = load.series[0]?.t ?? 0;
    // Seconds into the target's measured part: in slices its own measured seconds (second j of every target lies in the
    // same stretch); else from its first measured second by wall clock (a merge aligns seconds so, whole seconds).
    const sliced = load.settings.sliceSeconds != null;
    return load.series.map((s, i) => ({ target: seriesName(e), s: sliced ? i : Math.round((s.t - first) / 1000), ops: s.ops,
      p99: s.p99Us === null ? null : s.p99Us / 1000 }));
  });
  if (values.length === 0) return null;
  const x = { field: 's', type: 'quantitative', title: 'seconds into the measured part' };
  const color = { field: 'target', type: 'nominal', title: null };
  return frame('Throughput per second', [label, 'ops/s and p99 of each second (latency view as in the table)'], {
    data: { values },
    vconcat: [
      { width: WIDTH, height: 160, mark: { type: 'line', point: { size: 16 } }, encoding: { x, y: { field: 'ops', type: 'quantitative', title: 'ops/s' }, color } },
      { width: WIDTH, height: 160, mark: { type: 'line', point: { size: 16 } }, encoding: { x, y: { field: 'p99', type: 'quantitative', title: 'p99 (ms), log', scale: { type: 'log' } }, color } },
    ],
  });
}

/** A capacity step's verdict as a chart draws it. */
const STEP_VERDICTS = ['met', 'missed', 'client-bound'] as const;
/** Steps of one target a chart draws at most: CAPACITY_MAX_STEPS's limit (a results file may claim more). */
const MAX_CHARTED_STEPS = 200;

/**
 * Capacity runs: the latency–throughput curve of each target — each step's p50 and the objective's percentiles (from
 * the intended send time) against its offered rate, log on both axes; the objective's limits as dashed lines; each
 * step's point shaped by its verdict (met, missed, client-bound: what failed there may be cachebench). A percentile
 * that failed ops made unbounded is left out of the curve (the steps table says so).
 */
export function capacityChart(entries: readonly ResultEntry[], label: string): TopLevelSpec | null {
  const searches = chartEntries(entries).flatMap((e) => {
    const c = capacityOf(e);
    return c === undefined ? [] : [{ e, c }];
  });
  const objectives = searches[0]?.c.objectives ?? [];
  const percentiles = [...new Set(['p50', ...objectives.map((o) => `p${o.percentile}`)])];
  const values = searches.flatMap(({ e, c }) => c.steps.slice(0, MAX_CHARTED_STEPS).flatMap((step, i) => percentiles.flatMap((p) => {
    const ms = step.latencyMs[p];
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || !(step.offered > 0)) return [];
    const verdict: (typeof STEP_VERDICTS)[number] = step.clientBound ? 'client-bound' : step.met ? 'met' : 'missed';
    return [{ target: seriesName(e), percentile: p, rate: step.offered, ms, step: i + 1, verdict }];
  })));
  if (values.length === 0) return null;
  // A limit of 0 or less (only a crafted file has one) has no place on a log axis.
  const limits = objectives.filter((o) => o.maxMs > 0).map((o) => ({ ms: o.maxMs, text: `objective p${o.percentile} ≤ ${o.maxMs} ms` }));
  const x = { field: 'rate', type: 'quantitative', title: 'offered ops/s, log', scale: { type: 'log' } };
  const y = { field: 'ms', type: 'quantitative', title: 'latency from the intended send time (ms), log', scale: { type: 'log' } };
  const color = { field: 'target', type: 'nominal', title: null };
  return frame('Latency against offered load', [label, 'each step of the search: p50 and the objective\'s percentiles; dashed: the objective'], {
    width: WIDTH,
    height: 260,
    layer: [
      { data: { values }, mark: { type: 'line', strokeWidth: 1.2 }, encoding: { x, y, color, strokeDash: { field: 'percentile', type: 'nominal', title: 'percentile', sort: percentiles } } },
      { data: { values }, mark: { type: 'point', filled: true, size: 40 }, encoding: { x, y, color,
        shape: { field: 'verdict', type: 'nominal', title: 'step', scale: { domain: [...STEP_VERDICTS], range: ['circle', 'diamond', 'cross'] } } } },
      ...(limits.length === 0 ? [] : [
        { data: { values: limits }, mark: { type: 'rule', strokeDash: [6, 4], color: '#555' }, encoding: { y: { field: 'ms', type: 'quantitative' } } },
        { data: { values: limits }, mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 3, dy: -2, color: '#555', fontSize: 10 },
          encoding: { y: { field: 'ms', type: 'quantitative' }, x: { value: 0 }, text: { field: 'text' } } },
      ]),
    ],
    resolve: { scale: { y: 'shared' } },
  });
}

/** Percentile curves of a combination: GET and SET per target (latency and fault runs), GET per view (throughput runs). */
/**
 * A WORKLOAD's or TRACE's curves per command (colour) and target (dash): each command's latency from its intended send
 * time in open loop, else its service time; [] without per-command records.
 */
function commandCurves(entries: readonly ResultEntry[]): Curve[] {
  return chartEntries(entries).flatMap((e) => Object.entries(e.load?.record.commands ?? e.mix?.record ?? {})
    .filter(([, c]) => c.ops > 0)
    .map(([command, c]) => ({ target: command, op: seriesName(e), histogram: c.intended ?? c.latency })));
}

function curvesOf(entries: readonly ResultEntry[]): Curve[] {
  const curves: Curve[] = [];
  for (const e of chartEntries(entries)) {
    const record = e.load?.record;
    if (record != null) {
      if (record.histograms.getIntended !== null) curves.push({ target: seriesName(e), op: 'GET from intended send', histogram: record.histograms.getIntended });
      curves.push({ target: seriesName(e), op: 'GET service time', histogram: record.histograms.get });
      continue;
    }
    if (e.ops.get.histogram !== undefined) curves.push({ target: e.target.name, op: 'GET', histogram: e.ops.get.histogram });
    if (e.ops.set.histogram !== undefined) curves.push({ target: e.target.name, op: 'SET', histogram: e.ops.set.histogram });
  }
  return curves;
}

function percentRows(entries: readonly ResultEntry[]): { target: string; percent: number; lower: number | null; upper: number | null }[] {
  return chartEntries(entries).flatMap((e) => {
    const s = e.load != null ? { percent: e.load.throughput.percent, lower: e.load.throughput.percentLower,
      upper: e.load.throughput.percentUpper } : { percent: e.stats.percent, lower: e.stats.percentLower, upper: e.stats.percentUpper };
    return s.percent === null ? [] : [{ target: seriesName(e), percent: s.percent, lower: s.lower, upper: s.upper }];
  });
}

/** Sweep charts of one scenario: for each parameter with several values, Mean against it for each setting of the others. */
function sweeps(groups: readonly { scenario: ResultEntry['scenario']; entries: ResultEntry[] }[], scenario: string): { title: string; key: string; spec: TopLevelSpec }[] {
  const mine = groups.filter((g) => g.scenario.name === scenario && !g.entries.some((e) => e.fault != null));
  const keys = [...new Set(mine.flatMap((g) => Object.keys(g.scenario.params)))];
  const throughput = mine.some((g) => g.entries.some((e) => e.load != null));
  const all = mine.flatMap((g) => chartEntries(g.entries));
  const unit = chooseTimeUnit(all);
  const out: { title: string; key: string; spec: TopLevelSpec }[] = [];
  for (const key of keys) {
    if (new Set(mine.map((g) => g.scenario.params[key])).size < 2) continue;
    const slices = new Map<string, ResultEntry[]>();
    for (const g of mine) {
      const others = Object.fromEntries(Object.entries(g.scenario.params).filter(([k]) => k !== key));
      const id = describeParams(others);
      slices.set(id, [...(slices.get(id) ?? []), ...chartEntries(g.entries)]);
    }
    for (const [others, entries] of slices) {
      const rows = entries.flatMap((e) => {
        const x = e.scenario.params[key];
        if (x === undefined) return [];
        const m = throughput ? e.load?.throughput.mean ?? null : e.stats.meanMs === null ? null : e.stats.meanMs * unit.perMs;
        const err = throughput ? e.load?.throughput.error ?? 0 : (e.stats.errorMs ?? 0) * unit.perMs;
        return m === null ? [] : [{ x, target: seriesName(e), mean: m, lo: m - err, hi: m + err }];
      });
      const title = `${throughput ? 'Ops/s' : 'Mean'} against ${key}${others === '' ? '' : ` (${others})`}`;
      const spec = sweepChart(rows, key, throughput ? 'ops/s, higher is better' : `Mean (${unit.name}), lower is better`, title, `scenario ${scenario}`);
      if (spec !== null) out.push({ title, key: `${key}${others === '' ? '' : `-${others}`}`, spec });
    }
  }
  return out;
}

/**
 * Parameter combinations that get charts of their own (the first ones, in report order); every combination keeps its
 * table, and every sweep its chart. Drawing takes about 50 ms a chart: 3,000 combinations took over two minutes and
 * 1.9 GB, for a report nobody scrolls through.
 */
export const MAX_CHARTED_COMBINATIONS = 24;

/** Every chart of a results document, in report order: per combination (the first MAX_CHARTED_COMBINATIONS), then each scenario's sweeps. */
export function buildCharts(doc: ResultsDocument): Chart[] {
  const charts: Chart[] = [];
  const used = new Set<string>();
  const add = (group: string, name: string, title: string, spec: TopLevelSpec | null): void => {
    if (spec === null) return;
    let file = `chart-${slug(name)}.svg`;
    for (let n = 2; used.has(file); n++) file = `chart-${slug(name)}-${n}.svg`;
    used.add(file);
    charts.push({ file, title, group, spec });
  };
  const groups = groupEntries(doc);
  let charted = 0;
  for (const scenario of doc.scenarios) {
    for (const g of groups.filter((x) => x.scenario.name === scenario.name)) {
      if (++charted > MAX_CHARTED_COMBINATIONS) continue;
      const label = `${scenario.name} ${describeParams(g.scenario.params)}`;
      const name = `${scenario.name}-${Object.values(g.scenario.params).join('-')}`;
      if (g.entries.some((e) => e.load != null)) {
        add(g.key, `${name}-capacity`, `Latency against offered load, ${label}`, capacityChart(g.entries, label));
        add(g.key, `${name}-throughput`, `Throughput per second, ${label}`, throughputChart(g.entries, label));
        add(g.key, `${name}-percent`, `Ops/s Percent with its interval, ${label}`, percentChart(percentRows(g.entries), 'Ops/s Percent', label, 'higher is better'));
        const open = g.entries.some((e) => e.load?.latency.intended != null);
        add(g.key, `${name}-commands`, `Latency per command, ${label}`, percentileChart(commandCurves(g.entries), label,
          { title: `Latency per command (${open ? 'from the intended send time' : 'service time'})`, colour: 'command', dash: 'target' }));
      } else if (g.entries.some((e) => e.fault != null)) {
        add(g.key, `${name}-fault`, `Ops under failure, ${label}`, faultChart(g.entries, label));
      } else {
        add(g.key, `${name}-iterations`, `Iteration times per target, ${label}`, distributionChart(g.entries, label));
        add(g.key, `${name}-percent`, `Percent with its interval, ${label}`, percentChart(percentRows(g.entries), 'Percent', label, 'lower is faster'));
        add(g.key, `${name}-commands`, `Latency per command, ${label}`, percentileChart(commandCurves(g.entries), label,
          { title: 'Latency per command (service time)', colour: 'command', dash: 'target' }));
      }
      add(g.key, `${name}-latency`, `Op latency percentiles, ${label}`, percentileChart(curvesOf(g.entries), label));
    }
    for (const s of sweeps(groups, scenario.name)) add(`sweep:${scenario.name}`, `${scenario.name}-sweep-${s.key}`, s.title, s.spec);
  }
  return charts;
}
