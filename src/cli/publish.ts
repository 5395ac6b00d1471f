import { join } from 'node:path';
import { RESULT_FILES, type RenderedFiles, type ResultFile } from '../report/write.js';
import { githubRunUrl, renderStepSummary } from '../report/step-summary.js';
import type { ResultsDocument } from '../report/document.js';
import { tryWrite } from './files.js';
import { warn } from './output.js';

/** The order files are written in: results.json first (it holds everything), then the smaller CSV, then the reports. */
const WRITE_ORDER: readonly ResultFile[] = ['json', 'csv', 'report', 'html'];
/** What charts.ts names a chart; anything else is never joined to a folder. */
const CHART_FILE = /^chart-[a-z0-9-]{1,120}\.svg$/;

/**
 * Writes the rendered files of `roles` and every chart into `dir` (saying any chart warning), each atomically
 * (writeOutput), results.json first; failures go to `unwritten`. Returns the files written completely.
 */
export function writeRendered(dir: string, rendered: RenderedFiles, roles: readonly ResultFile[], unwritten: string[]): string[] {
  for (const w of rendered.warnings) warn(`chart ${w}`);
  const complete: string[] = [];
  for (const role of WRITE_ORDER.filter((r) => roles.includes(r))) {
    const file = join(dir, RESULT_FILES[role]);
    if (tryWrite(file, rendered.files[role], unwritten)) complete.push(file);
  }
  for (const [name, svg] of rendered.svgs) {
    const file = join(dir, name);
    if (!CHART_FILE.test(name)) unwritten.push(`${file} (not a chart file name)`);
    else if (tryWrite(file, svg, unwritten)) complete.push(file);
  }
  return complete;
}

/**
 * The error line when files could not be written: which ones, and which are complete. A file not written is as it was
 * (absent, or its earlier copy): writes go to a temporary file that is renamed only once whole.
 */
export function unwrittenMessage(unwritten: readonly string[], complete: readonly string[]): string {
  return `could not write ${unwritten.join(', ')} (each left as it was: absent or its earlier copy, never cut short); ` +
    `complete: ${complete.length > 0 ? complete.join(', ') : 'none'}`;
}

/** Every role of a run folder. */
export const ALL_FILES: readonly ResultFile[] = Object.keys(RESULT_FILES) as ResultFile[];

/**
 * Appends the CI step summary to $GITHUB_STEP_SUMMARY when it is set (GitHub Actions sets it for every step): the
 * compact tables, the gate's verdict, where the report and charts are.
 */
export function writeStepSummary(doc: ResultsDocument, rendered: RenderedFiles, shownDir: string, unwritten: string[], gate?: string): void {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!file) return;
  const text = renderStepSummary(doc, { charts: rendered.charts, reportDir: shownDir, artifactsUrl: githubRunUrl(process.env),
    ...(gate !== undefined ? { gate } : {}) });
  tryWrite(file, text, unwritten, true);
}
