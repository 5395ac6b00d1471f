import { appendOutput, print, say, writeOutput } from './output.js';
import { dirname, join } from 'node:path';
import { checkGateDesign, compareRuns, gateExitCode, loadResults, renderComparison, type Comparison, type GateOptions } from '../compare/index.js';
import type { RunPlan } from '../config/resolve.js';
import { ConfigError } from '../config/errors.js';
import { renderExport, type ExportFormat, type ResultsDocument } from '../report/index.js';
import { EXIT } from './exit.js';

/**
 * A threshold must say what it means: `5%` (0 < N ≤ 100) or a decimal fraction `0.05` (0 < x ≤ 1).
 * A bare integer (`5`) is refused: it used to be read as 500% and let every regression pass.
 * Above 100% is refused too: a gate that only fails when the candidate takes more than twice as long
 * is almost surely a typo (write `0.05` or `5%`).
 */
export function parseThreshold(raw: string | number, flag: string): number {
  const text = String(raw).trim();
  const fix = `Fix: give the smallest slowdown that matters with a % sign, e.g. ${flag} 5% (or the fraction 0.05)`;
  const fail = (problem: string): never => {
    throw new ConfigError(`${flag} ${JSON.stringify(text)} is not a threshold: ${problem}. ${fix}`);
  };
  if (text.startsWith('-')) fail('it must be above 0 (it is the size of a slowdown; the gate tests both directions)');
  const percent = /^(\d+(?:\.\d*)?|\.\d+)\s*%$/.exec(text);
  if (percent !== null) {
    const value = Number(percent[1]) / 100;
    if (!(value > 0)) fail('it must be above 0%');
    if (value > 1) fail('above 100% (the candidate more than twice as slow) is almost surely a mistake');
    return value;
  }
  if (/^\d*\.\d+$/.test(text)) {
    const value = Number(text);
    if (!(value > 0)) fail('it must be above 0');
    if (value > 1) fail(`a fraction must be at most 1 (100%); did you mean ${text}%?`);
    return value;
  }
  if (/^0+$/.test(text)) fail('it must be above 0%');
  if (/^\d+$/.test(text)) fail(`a bare number is ambiguous (${text}% or ${Number(text) * 100}%?)`);
  return fail('write a percentage like 5% or a fraction like 0.05');
}

/**
 * Refuses, before any traffic, an in-run gate (`run --baseline X --fail-if-slower T`) that could never
 * fail: too few rounds for the signed-rank test to reach α over the gate's rows (Holm), or nothing to
 * compare. Call it with the validated plan, before starting local topologies or touching servers.
 */
export function checkInRunGate(plan: RunPlan, gate: GateOptions, flag = '--fail-if-slower'): void {
  const rows = plan.scenarios.reduce((sum, s) => sum + s.cases.length * Math.max(0, plan.targets.length - 1), 0);
  if (rows === 0) checkGateDesign({ alpha: gate.alpha, threshold: gate.threshold, minIterations: 0, rows, flag });
  for (const s of plan.scenarios) {
    checkGateDesign({ alpha: gate.alpha, threshold: gate.threshold, minIterations: s.controls.minIterations, rows, flag });
  }
}

export function parseAlpha(raw: number): number {
  if (!Number.isFinite(raw) || raw <= 0 || raw >= 0.5) throw new ConfigError(`--alpha ${raw} is not a significance level. Fix: e.g. --alpha 0.01`);
  return raw;
}

export interface ExportRequest {
  readonly format: ExportFormat;
  /** Explicit file, or undefined for the default name in the default folder. */
  readonly file?: string;
}

/** `gab`, `bmf`, `gab=path/file.json`. */
export function parseExports(items: readonly string[]): ExportRequest[] {
  return items.map((item) => {
    const [format, file] = item.split(/=(.*)/s, 2) as [string, string | undefined];
    if (format !== 'gab' && format !== 'bmf') {
      throw new ConfigError(`--export ${JSON.stringify(item)} is not a format. Fix: --export gab (github-action-benchmark) or --export bmf (Bencher), optionally =FILE`);
    }
    return { format, ...(file ? { file } : {}) };
  });
}

const DEFAULT_NAMES: Readonly<Record<ExportFormat, string>> = { gab: 'benchmark-gab.json', bmf: 'benchmark-bmf.json' };

export function writeExports(requests: readonly ExportRequest[], doc: ResultsDocument, defaultDir: string): string[] {
  return requests.map((r) => {
    const file = r.file ?? join(defaultDir, DEFAULT_NAMES[r.format]);
    writeOutput(file, renderExport(r.format, doc));
    return file;
  });
}

/** Prints the comparison table and appends it to $GITHUB_STEP_SUMMARY when set. */
export function publishComparison(comparison: Comparison): void {
  const table = renderComparison(comparison);
  print(`\n${table}`);
  if (comparison.drift !== null) say(`cachebench: warning: machine drift? ${comparison.drift.message}\n`);
  const summary = process.env.GITHUB_STEP_SUMMARY;
  if (summary) appendOutput(summary, `${table}\n`);
}

export interface CompareArgs {
  baseline: string;
  current: string;
  threshold: string;
  alpha: number;
  export?: string[];
}

/** `cachebench compare <baseline.json> <current.json>`. */
export function compareCommand(args: CompareArgs): number {
  const options: GateOptions = { threshold: parseThreshold(args.threshold, '--threshold'), alpha: parseAlpha(args.alpha) };
  const exports = parseExports(args.export ?? []);
  const baseline = loadResults(args.baseline);
  const current = loadResults(args.current);
  const comparison = compareRuns(baseline, current, options, [args.baseline, args.current]);
  publishComparison(comparison);
  for (const file of writeExports(exports, current, dirname(args.current))) say(`cachebench: wrote ${file}\n`);
  const code = gateExitCode(comparison);
  return code === 0 ? EXIT.ok : EXIT.failed;
}
