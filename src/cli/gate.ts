import { dirname } from 'node:path';
import { checkGateDesign, type GateOptions } from '../compare/gate.js';
import { compareRuns, gateExitCode, loadResults, type Comparison } from '../compare/compare.js';
import { renderComparison } from '../compare/render.js';
import type { RunPlan } from '../config/resolve.js';
import { ConfigError } from '../config/errors.js';
import { renderExport } from '../report/export.js';
import { EXIT } from './exit.js';
import { absolutePath, checkWritable, prepareExports, tryWrite } from './files.js';
import { print, say } from './output.js';

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

/**
 * Prints the comparison table (and a machine-drift warning) and, with `toSummary`, appends it to $GITHUB_STEP_SUMMARY
 * when set (`run` puts it into its own step summary instead); a file that cannot be written is recorded in
 * `unwritten`. Returns the table.
 */
export function publishComparison(comparison: Comparison, unwritten: string[], toSummary = true): string {
  const table = renderComparison(comparison);
  print(`\n${table}`);
  if (comparison.drift !== null) say(`cachebench: warning: machine drift? ${comparison.drift.message}\n`);
  const summary = process.env.GITHUB_STEP_SUMMARY;
  if (summary && toSummary) tryWrite(summary, `${table}\n`, unwritten, true);
  return table;
}

export interface CompareArgs {
  baseline: string;
  current: string;
  threshold: string;
  alpha: number;
  'fail-if-inconclusive'?: boolean;
  export?: string[];
}

/** `cachebench compare <baseline.json> <current.json>`: validate, compare, publish; exit policy last. */
export function compareCommand(args: CompareArgs): number {
  const options: GateOptions = { threshold: parseThreshold(args.threshold, '--threshold'), alpha: parseAlpha(args.alpha), failIfInconclusive: args['fail-if-inconclusive'] === true };
  const exports = prepareExports(args.export ?? [], dirname(absolutePath(args.current, 'current')));
  const summary = process.env.GITHUB_STEP_SUMMARY;
  if (summary) checkWritable(summary, 'GITHUB_STEP_SUMMARY (from the process environment)', 'append');
  const baseline = loadResults(args.baseline);
  const current = loadResults(args.current);
  for (const [file, doc] of [[args.baseline, baseline], [args.current, current]] as const) {
    if (doc.results.some((e) => e.load?.capacity != null)) {
      throw new ConfigError(`${file} holds capacity results (MODE=capacity): compare tests the iteration times of latency runs, and a capacity search has none. Fix: compare latency results, or run the setups you compare as targets of one capacity run (its knee table gives Percent between knees with their range)`);
    }
    if (doc.results.some((e) => e.load != null)) {
      throw new ConfigError(`${file} holds throughput results (MODE=throughput): compare tests the iteration times of latency runs, and a throughput run has none. Fix: compare latency results, or run the setups you compare as targets of one throughput run (its Percent has a 99.9% interval)`);
    }
  }
  const comparison = compareRuns(baseline, current, options, [args.baseline, args.current]);
  const unwritten: string[] = [];
  publishComparison(comparison, unwritten);
  for (const e of exports) if (tryWrite(e.file, renderExport(e.format, current), unwritten)) say(`cachebench: wrote ${e.file}\n`);
  if (unwritten.length > 0) say(`cachebench: error: could not write ${unwritten.join(', ')}; the table above is the comparison's result\n`);
  return gateExitCode(comparison) !== 0 || unwritten.length > 0 ? EXIT.failed : EXIT.ok;
}
