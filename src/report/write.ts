import { renderCsv } from './csv.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';
import type { ResultsDocument } from './model.js';

/** The files of one run folder `<out>/<runId>/`, by role. */
export const RESULT_FILES = { report: 'report.md', csv: 'results.csv', json: 'results.json' } as const;
export type ResultFile = keyof typeof RESULT_FILES;

/** Renders every file of a run folder; writing them is the caller's (the CLI's) business. */
export function renderResultFiles(doc: ResultsDocument): Record<ResultFile, string> {
  return { report: renderMarkdown(doc), csv: renderCsv(doc), json: renderJson(doc) };
}
