import { appendFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compareRuns, gateExitCode, loadResults, renderComparison, type Comparison, type GateOptions } from '../compare/index.js';
import { ConfigError } from '../config/errors.js';
import { renderExport, type ExportFormat, type ResultsDocument } from '../report/index.js';
import { EXIT } from './exit.js';

/** `5%` or `0.05` → 0.05; between 0 (exclusive) and 10 (1000%). */
export function parseThreshold(raw: string | number, flag: string): number {
  const text = String(raw).trim();
  const percent = text.endsWith('%');
  const value = Number(percent ? text.slice(0, -1) : text) / (percent ? 100 : 1);
  if (!Number.isFinite(value) || value <= 0 || value > 10 || text === '') {
    throw new ConfigError(`${flag} ${JSON.stringify(text)} is not a threshold. Fix: give the smallest slowdown that matters, e.g. ${flag} 5%`);
  }
  return value;
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
    writeFileSync(file, renderExport(r.format, doc));
    return file;
  });
}

/** Prints the comparison table and appends it to $GITHUB_STEP_SUMMARY when set. */
export function publishComparison(comparison: Comparison): void {
  const table = renderComparison(comparison);
  process.stdout.write(`\n${table}`);
  const summary = process.env.GITHUB_STEP_SUMMARY;
  if (summary) appendFileSync(summary, `${table}\n`);
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
  for (const file of writeExports(exports, current, dirname(args.current))) process.stderr.write(`cachebench: wrote ${file}\n`);
  const code = gateExitCode(comparison);
  return code === 0 ? EXIT.ok : EXIT.failed;
}
