import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import { SCHEMA_VERSION, entryFailures, groupEntries, type ResultEntry, type ResultsDocument } from '../report/model.js';
import { compareIndependent, comparePaired, type GateOptions, type GateResult } from './gate.js';

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
}

/** Loads and checks a results.json; any problem is a ConfigError naming the file and what is wrong. */
export function loadResults(file: string): ResultsDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error: unknown) {
    throw new ConfigError(`${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}). Fix: give the path of a results.json written by cachebench run`, { cause: error });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error: unknown) {
    throw new ConfigError(`${file} is not JSON. Fix: give the path of a results.json written by cachebench run`, { cause: error });
  }
  const d = doc as Partial<ResultsDocument> | null;
  if (d === null || typeof d !== 'object' || !('schemaVersion' in d) || !Array.isArray(d.results)) {
    throw new ConfigError(`${file} is not a cachebench results file (no schemaVersion or results). Fix: give the path of a results.json written by cachebench run`);
  }
  if (d.schemaVersion !== SCHEMA_VERSION) {
    throw new ConfigError(`${file} has schemaVersion ${String(d.schemaVersion)}, this cachebench reads ${SCHEMA_VERSION}. Fix: compare results written by the same major version`);
  }
  return d as ResultsDocument;
}

const keyOf = (e: ResultEntry): string => `${e.scenario.name} ${JSON.stringify(e.scenario.params)} ${e.target.name}`;

function row(b: ResultEntry, c: ResultEntry, gate: GateResult, failures: readonly string[]): ComparisonRow {
  return { scenario: c.scenario.name, params: c.scenario.params, target: c.target.name, baseline: b, current: c, gate, failures };
}

/** Compares two runs entry by entry (matched by scenario, parameters and target name). */
export function compareRuns(baseline: ResultsDocument, current: ResultsDocument, options: GateOptions, labels: [string, string]): Comparison {
  const base = new Map(baseline.results.map((e) => [keyOf(e), e]));
  const cur = new Map(current.results.map((e) => [keyOf(e), e]));
  const rows: ComparisonRow[] = [];
  for (const [key, c] of cur) {
    const b = base.get(key);
    if (b !== undefined) rows.push(row(b, c, compareIndependent(b.samplesMs, c.samplesMs, options), entryFailures(c)));
  }
  const onlyInBaseline = [...base.keys()].filter((k) => !cur.has(k));
  const onlyInCurrent = [...cur.keys()].filter((k) => !base.has(k));
  if (rows.length === 0) {
    throw new ConfigError(`no entry of ${labels[1]} matches one of ${labels[0]} by scenario, parameters and target ` +
      `(baseline has ${[...base.keys()].slice(0, 3).join('; ') || 'nothing'}; current has ${[...cur.keys()].slice(0, 3).join('; ') || 'nothing'}). ` +
      'Fix: compare runs of the same scenario and target names');
  }
  return { kind: 'runs', options, baselineLabel: labels[0], currentLabel: labels[1], rows, onlyInBaseline, onlyInCurrent };
}

/** The in-run gate: every other target against `baselineTarget`, pairwise per round. */
export function compareInRun(doc: ResultsDocument, baselineTarget: string, options: GateOptions): Comparison {
  const rows: ComparisonRow[] = [];
  for (const { entries } of groupEntries(doc)) {
    const b = entries.find((e) => e.target.name === baselineTarget);
    if (b === undefined) continue;
    for (const c of entries) {
      if (c !== b) rows.push(row(b, c, comparePaired(b.roundSamplesMs, c.roundSamplesMs, options), [...entryFailures(b), ...entryFailures(c)]));
    }
  }
  return { kind: 'in-run', options, baselineLabel: baselineTarget, currentLabel: 'each other target', rows, onlyInBaseline: [], onlyInCurrent: [] };
}

/** 1 when any row is Slower or has failures, else 0. */
export function gateExitCode(comparison: Comparison): 0 | 1 {
  return comparison.rows.some((r) => r.gate.verdict === 'Slower' || r.failures.length > 0) ? 1 : 0;
}
