import { join } from 'node:path';
import { RESULT_FILES, githubRunUrl, renderStepSummary, type RenderedFiles, type ResultFile, type ResultsDocument } from '../report/index.js';
import { tryWrite } from './files.js';
import { warn } from './output.js';

/** Writes the rendered files of `roles` and every chart into `dir` (saying any chart warning); failures go to `unwritten`. */
export function writeRendered(dir: string, rendered: RenderedFiles, roles: readonly ResultFile[], unwritten: string[]): void {
  for (const w of rendered.warnings) warn(`chart ${w}`);
  for (const role of roles) tryWrite(join(dir, RESULT_FILES[role]), rendered.files[role], unwritten);
  for (const [file, svg] of rendered.svgs) tryWrite(join(dir, file), svg, unwritten);
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
  const text = renderStepSummary(doc, { charts: rendered.charts, reportDir: shownDir, artifactsUrl: githubRunUrl(process.env), ...(gate !== undefined ? { gate } : {}) });
  tryWrite(file, text, unwritten, true);
}
