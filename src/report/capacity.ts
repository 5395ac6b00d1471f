/** The capacity run's own tables (MODE=capacity): the knee of each target, and every step of its search. */
import { MIN_OPS_BEYOND, thinPercentiles } from '../load/capacity.js';
import type { CapacitySummary } from '../load/summary.js';
import type { ResultEntry } from './document.js';
import { mdInline, mdText } from './escape.js';
import { shardLabel } from './sentences.js';
import { gridTable } from './table.js';

/** Characters of a step's verdict shown (a results file's text may be long: the table pads every row to the widest). */
const MAX_WHY = 120;
const ops = (x: number): string => Math.round(x).toLocaleString('en-US');
const msText = (x: number | null | undefined): string => (x == null || !Number.isFinite(x) ? 'n/a' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const pctText = (x: number): string => `${x < 10 ? x.toFixed(1) : Math.round(x)}%`;

/** The capacity search of an entry; undefined for other rows. */
export const capacityOf = (e: ResultEntry): CapacitySummary | undefined => e.load?.capacity ?? undefined;

/** `p99 ≤ 5 ms, p99.9 ≤ 20 ms, no failed op`: the objective in words. */
export function objectiveText(c: CapacitySummary): string {
  const errors = c.maxErrorShare > 0 ? `at most ${pctText(100 * c.maxErrorShare)} of ops failed` : 'no failed op';
  return `${c.objectives.map((o) => `p${o.percentile} ≤ ${o.maxMs} ms`).join(', ')} (from each op's intended send time), ${errors}`;
}

/** The knee cell: `4,000`, `4,000 (thin)`, `≥ 1,600 (client-bound)`, `< 125 (never met)`. */
function kneeText(c: CapacitySummary): string {
  if (c.knee !== null) return `${ops(c.knee)}${c.steps.some((s) => s.offered === c.knee && thinPercentiles(c, s).length > 0) ? ' (thin)' : ''}`;
  if (c.stop === 'client-bound') return c.lowerBound === null ? 'n/a (client-bound at the first step)' : `≥ ${ops(c.lowerBound)} (client-bound)`;
  if (c.stop === 'never-met') return `< ${ops(Math.min(...c.steps.map((s) => s.offered)))} (never met)`;
  return c.lowerBound !== null ? `≥ ${ops(c.lowerBound)} (${c.stop})` : `n/a (${c.stop})`;
}

/**
 * Percent of each knee against the baseline's (higher is better): the row marked baseline when it has a knee, else the
 * highest knee. Its range from the knees' intervals: [knee ÷ baseline's lowest failing rate, lowest failing rate ÷ baseline knee].
 */
function percents(entries: readonly ResultEntry[]): Map<ResultEntry, string> {
  // A shard's own knee is of its share of the rate: compared only among shards, when no total is there.
  const whole = (e: ResultEntry): boolean => (e.load?.mergedFrom ?? 1) > 1 || e.load?.shard == null;
  const comparable = entries.some(whole) ? entries.filter(whole) : entries;
  const withKnee = comparable.filter((e) => capacityOf(e)?.knee != null && capacityOf(e)?.interval != null);
  const marked = withKnee.find((e) => e.baseline);
  const kneeOf = (e: ResultEntry): number => capacityOf(e)?.knee ?? 0;
  const highest = (b: ResultEntry | undefined, e: ResultEntry): ResultEntry => (b === undefined || kneeOf(e) > kneeOf(b) ? e : b);
  const base = marked ?? withKnee.reduce<ResultEntry | undefined>(highest, undefined);
  const out = new Map<ResultEntry, string>();
  const b = base === undefined ? undefined : capacityOf(base);
  if (b?.knee == null || b.interval == null) return out;
  for (const e of withKnee) {
    const c = capacityOf(e) as CapacitySummary;
    const [low, high] = c.interval as readonly [number, number];
    out.set(e, e === base ? 'baseline' : `${pctText((100 * (c.knee as number)) / b.knee)} [${pctText((100 * low) / b.interval[1])}–${pctText((100 * high) / b.knee)}]`);
  }
  return out;
}

/** The knee table of the capacity rows among `entries` (knee, interval, Percent, steps, why the search stopped); [] without any. */
export function kneeTable(entries: readonly ResultEntry[], markdown: boolean): string[] {
  const rows = entries.filter((e) => capacityOf(e) !== undefined);
  if (rows.length === 0) return [];
  const cell = markdown ? mdInline : (x: string): string => x;
  const pct = percents(rows);
  return gridTable(['Target', 'Knee (ops/s)', 'Interval (ops/s)', 'Percent (higher is better)', 'Steps', 'Stopped'], rows.map((e) => {
    const c = capacityOf(e) as CapacitySummary;
    return [cell(`${e.target.name}${shardLabel(e)}`), kneeText(c), c.interval === null ? '–' : `${ops(c.interval[0])}–${ops(c.interval[1])}`, pct.get(e) ?? '–', String(c.steps.length), c.stop];
  }), markdown, [false, true, true, true, true, false]);
}

/** The knee table and each target's steps; [] when no entry is a capacity row. */
export function capacityLines(entries: readonly ResultEntry[], markdown: boolean): string[] {
  const rows = entries.filter((e) => capacityOf(e) !== undefined);
  const first = rows[0] === undefined ? undefined : capacityOf(rows[0]);
  if (first === undefined) return [];
  const cell = markdown ? mdInline : (x: string): string => x;
  const said = markdown ? mdText : (x: string): string => x;
  const out: string[] = [];
  const planned = rows[0]?.load?.settings.startAt != null;
  const how = planned
    ? `open loop, a planned staircase from START_AT: ×${first.growth} per step, the same steps at the same times on every --shard process, so the knee's precision is that factor and it has no repeats; a shard's own row is of its share of each rate, the merged row of the whole`
    : `open loop, ${first.repeats} repeats at the knee`;
  out.push(said(`Capacity: the highest offered rate whose ${objectiveText(first)} held in every step at that rate (${how}; the interval runs to the lowest rate that failed). A client-bound step ends a target's search: cachebench was the limit there, so it gets a lower bound, never a knee.`), '');
  out.push(...kneeTable(rows, markdown), '');
  const percentiles = [50, ...first.objectives.map((o) => o.percentile).filter((p) => p !== 50)];
  const keys = percentiles.map((p) => `p${p}`);
  let thin = false;
  for (const e of rows) {
    const c = capacityOf(e) as CapacitySummary;
    out.push(said(`${e.target.name}${shardLabel(e)}: steps of ${e.load?.settings.warmupSeconds ?? '?'} s warm-up + ${e.load?.settings.durationSeconds ?? '?'} s measured`), '');
    out.push(...gridTable(['#', 'Phase', 'Offered', 'Sent', 'Ops', ...keys.map((k) => `${k} (ms)`), 'Failed', 'Met', 'Client-bound'], c.steps.map((s, i) => {
      const few = thinPercentiles(c, s);
      thin ||= few.length > 0;
      return [
        String(i + 1), s.phase, ops(s.offered), ops(s.achieved), ops(s.ops), ...percentiles.map((p) => `${msText(s.latencyMs[`p${p}`])}${few.includes(p) ? ' thin' : ''}`),
        String(s.errors), s.met ? 'yes' : cell(`no: ${(s.why ?? '').slice(0, MAX_WHY)}`), s.clientBound ? 'CLIENT-BOUND' : 'no',
      ];
    }), markdown, [true, false, true, true, true, ...keys.map(() => true), true, false, false]), '');
  }
  if (thin) {
    out.push(said(`thin: fewer than ${MIN_OPS_BEYOND} of the step's ops lie beyond that percentile, so it is one of the step's ${MIN_OPS_BEYOND} slowest ops rather than a firm percentile (p99 needs ${ops(100 * MIN_OPS_BEYOND)} ops, p99.9 ${ops(1000 * MIN_OPS_BEYOND)}); a knee at such a step says (thin). The step is judged by it all the same: a longer DURATION makes it firm.`), '');
  }
  return out;
}
