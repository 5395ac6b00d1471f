import { ConfigError } from '../config/errors.js';
import { type ResultEntry, type ResultsDocument } from '../report/document.js';
import { entryFailures, groupEntries } from '../report/sentences.js';
import { describeParams } from '../report/table.js';
import { checkCompareDesign, failsGate, judgeRows, testIndependent, testPaired, type GateOptions, type GateResult } from './gate.js';

/** The results.json reader lives with the schema (report/schema.ts); re-exported for the commands that compare. */
export { loadResults } from '../report/schema.js';

export interface ComparisonRow {
  readonly scenario: string;
  readonly params: Readonly<Record<string, number>>;
  /** The target compared (for the in-run gate: the candidate, compared with the baseline target). */
  readonly target: string;
  readonly baseline: ResultEntry;
  readonly current: ResultEntry;
  readonly gate: GateResult;
  /** Verification failures and failed ops (current run, or either target in the in-run gate). */
  readonly failures: readonly string[];
}

export interface Comparison {
  readonly kind: 'runs' | 'in-run';
  readonly options: GateOptions;
  /** In-run: the baseline target's name. Runs: the two files. */
  readonly baselineLabel: string;
  readonly currentLabel: string;
  readonly rows: readonly ComparisonRow[];
  readonly onlyInBaseline: readonly string[];
  readonly onlyInCurrent: readonly string[];
  /** Two runs only: every row moved the same way — machine drift as likely as a code change. */
  readonly drift: Drift | null;
}

/** A warning that the shift between two runs is shared by every row. */
export interface Drift {
  /** Median over rows of the Hodges–Lehmann ratio current / baseline. */
  readonly medianRatio: number;
  /** At least two rows, all on the same side of 1. */
  readonly sameDirection: boolean;
  readonly message: string;
}

const paramsKey = (e: ResultEntry): string =>
  JSON.stringify(Object.entries(e.scenario.params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
/** Parameters and target: what makes two entries the same measurement, whatever the scenario file was called. */
/**
 * Entries pair by parameters, target name and WORKLOAD: a latency run's Mean is per op of its mix with one, per
 * invocation of the seed loop without, so entries of different workloads are never compared.
 */
const matchKey = (e: ResultEntry): string => `${paramsKey(e)} ${e.target.name} ${JSON.stringify(e.mix?.workload ?? null)}`;
/** How an entry is named in messages. */
const describeEntry = (e: ResultEntry): string => `${e.scenario.name} ${describeParams(e.scenario.params)} ${e.target.name}${e.mix !== undefined ? ` (WORKLOAD ${e.mix.workload})` : ''}`;

function row(b: ResultEntry, c: ResultEntry, gate: GateResult, failures: readonly string[]): ComparisonRow {
  const scenario = b.scenario.name === c.scenario.name ? c.scenario.name : `${c.scenario.name} (baseline: ${b.scenario.name})`;
  return { scenario, params: c.scenario.params, target: c.target.name, baseline: b, current: c, gate, failures };
}

/**
 * Pairs entries of two runs by parameters (READ_RATIO, WRITE_COUNT, PAYLOAD_BYTES), target name and WORKLOAD (matchKey),
 * so a run without a scenario file (`default`) matches `seed-read-heavy` with the same parameters.
 * When several entries on either side share parameters and target, the scenario name decides.
 */
export function matchEntries(baseline: readonly ResultEntry[], current: readonly ResultEntry[]): {
  pairs: [ResultEntry, ResultEntry][]; onlyInBaseline: ResultEntry[]; onlyInCurrent: ResultEntry[];
} {
  const group = (entries: readonly ResultEntry[]): Map<string, ResultEntry[]> => {
    const out = new Map<string, ResultEntry[]>();
    for (const e of entries) out.set(matchKey(e), [...(out.get(matchKey(e)) ?? []), e]);
    return out;
  };
  const base = group(baseline);
  const pairs: [ResultEntry, ResultEntry][] = [];
  const used = new Set<ResultEntry>();
  for (const [key, cs] of group(current)) {
    const bs = base.get(key) ?? [];
    if (bs.length === 1 && cs.length === 1) {
      pairs.push([bs[0] as ResultEntry, cs[0] as ResultEntry]);
      used.add(bs[0] as ResultEntry).add(cs[0] as ResultEntry);
      continue;
    }
    for (const c of cs) {
      const b = bs.filter((x) => x.scenario.name === c.scenario.name);
      if (b.length === 1 && !used.has(b[0] as ResultEntry)) {
        pairs.push([b[0] as ResultEntry, c]);
        used.add(b[0] as ResultEntry).add(c);
      }
    }
  }
  return { pairs, onlyInBaseline: baseline.filter((e) => !used.has(e)), onlyInCurrent: current.filter((e) => !used.has(e)) };
}

function minIterationsOf(doc: ResultsDocument, scenario: string): number | undefined {
  const value = doc.scenarios.find((s) => s.name === scenario)?.settings.MIN_ITERATIONS?.value;
  return typeof value === 'number' ? value : undefined;
}

/**
 * Two runs whose rows moved together look like a machine or time-of-day shift between the runs as much
 * as like a code change: only the in-run gate can tell. A shared shift moves (nearly) every row: every row
 * the same way with at least three quarters of them by half the threshold or more, or, with three rows or
 * more, most rows beyond the threshold. One row of two that regressed is not a shift (the median of two
 * rows is half a regression). A single row is always ambiguous and is warned about when it moved beyond
 * the threshold.
 */
export function detectDrift(rows: readonly ComparisonRow[], threshold: number): Drift | null {
  const logs = rows.map((r) => Math.log(r.gate.ratio)).filter(Number.isFinite).sort((a, b) => a - b);
  if (logs.length === 0) return null;
  const mid = logs.length / 2;
  const median = logs.length % 2 === 1 ? (logs[Math.floor(mid)] as number) : ((logs[mid - 1] as number) + (logs[mid] as number)) / 2;
  const delta = Math.log1p(threshold);
  const sign = Math.sign(median);
  const sameDirection = logs.length >= 2 && sign !== 0 && logs.every((x) => x * sign > 0);
  const halfMoved = logs.filter((x) => x * sign >= delta / 2).length;
  const beyond = logs.filter((x) => x * sign > delta).length;
  const shared = logs.length === 1
    ? Math.abs(median) > delta
    : (sameDirection && halfMoved >= Math.ceil(0.75 * logs.length)) || (logs.length >= 3 && beyond > logs.length / 2);
  if (!shared) return null;
  const direction = median > 0 ? 'slower' : 'faster';
  const medianRatio = Math.exp(median);
  const how = logs.length === 1 ? `the only matched row is ${direction}`
    : sameDirection ? `all ${logs.length} matched rows are ${direction}` : `${beyond} of ${logs.length} matched rows are ${direction} beyond the threshold`;
  return {
    medianRatio,
    sameDirection,
    message: `${how} (median ratio ${medianRatio.toFixed(3)}): a shift shared by every measurement is what a different machine, ` +
      'CPU frequency or time of day does between two runs, and two runs cannot tell it from a code change. ' +
      'Verdicts are not adjusted for it. For a trustworthy gate measure both set-ups in one run: cachebench run --baseline REF --fail-if-slower 5%',
  };
}

/**
 * Compares two runs entry by entry (matched by parameters and target name, see matchEntries).
 * Throws ConfigError when nothing matches or when the files' MIN_ITERATIONS make a Slower verdict
 * impossible at α over the matched rows.
 */
export function compareRuns(baseline: ResultsDocument, current: ResultsDocument, options: GateOptions, labels: [string, string]): Comparison {
  const { pairs, onlyInBaseline, onlyInCurrent } = matchEntries(baseline.results, current.results);
  if (pairs.length === 0) {
    throw new ConfigError(`no entry of ${labels[1]} matches one of ${labels[0]} by parameters and target ` +
      `(baseline has ${baseline.results.slice(0, 3).map(describeEntry).join('; ') || 'nothing'}; current has ${current.results.slice(0, 3).map(describeEntry).join('; ') || 'nothing'}). ` +
      'Fix: compare runs of the same parameters, target names and WORKLOAD');
  }
  for (const [b, c] of pairs) {
    const m = minIterationsOf(baseline, b.scenario.name);
    const n = minIterationsOf(current, c.scenario.name);
    if (m !== undefined && n !== undefined) {
      checkCompareDesign({ alpha: options.alpha, baselineIterations: m, currentIterations: n, rows: pairs.length, what: `${labels[0]} vs ${labels[1]} (${describeEntry(c)})` });
    }
  }
  const gates = judgeRows(pairs.map(([b, c]) => testIndependent(b.samplesMs, c.samplesMs, options)), options);
  const rows = pairs.map(([b, c], i) => row(b, c, gates[i] as GateResult, entryFailures(c)));
  return {
    kind: 'runs', options, baselineLabel: labels[0], currentLabel: labels[1], rows,
    onlyInBaseline: onlyInBaseline.map(describeEntry), onlyInCurrent: onlyInCurrent.map(describeEntry),
    drift: detectDrift(rows, options.threshold),
  };
}

/** The in-run gate: every other target against `baselineTarget`, pairwise per round, Holm over all rows. */
export function compareInRun(doc: ResultsDocument, baselineTarget: string, options: GateOptions): Comparison {
  const pairs: [ResultEntry, ResultEntry][] = [];
  for (const { entries } of groupEntries(doc)) {
    const b = entries.find((e) => e.target.name === baselineTarget);
    if (b === undefined) continue;
    for (const c of entries) if (c !== b) pairs.push([b, c]);
  }
  const gates = judgeRows(pairs.map(([b, c]) => testPaired(b.roundSamplesMs, c.roundSamplesMs, options)), options);
  const rows = pairs.map(([b, c], i) => row(b, c, gates[i] as GateResult, [...entryFailures(b), ...entryFailures(c)]));
  return { kind: 'in-run', options, baselineLabel: baselineTarget, currentLabel: 'each other target', rows, onlyInBaseline: [], onlyInCurrent: [], drift: null };
}

/** 1 when any row is Slower or Undecided (or Inconclusive, with failIfInconclusive) or has failures, else 0. */
export function gateExitCode(comparison: Comparison): 0 | 1 {
  return comparison.rows.some((r) => failsGate(r.gate.verdict, comparison.options) || r.failures.length > 0) ? 1 : 0;
}
