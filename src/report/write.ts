import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCsv } from './csv.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';
import type { ResultsDocument } from './model.js';

export interface WrittenFiles {
  readonly dir: string;
  readonly report: string;
  readonly csv: string;
  readonly json: string;
}

/** Writes report.md, results.csv and results.json into `<resultsDir>/<runId>/`. */
export function writeResults(resultsDir: string, doc: ResultsDocument): WrittenFiles {
  const dir = join(resultsDir, doc.runId);
  mkdirSync(dir, { recursive: true });
  const files = { dir, report: join(dir, 'report.md'), csv: join(dir, 'results.csv'), json: join(dir, 'results.json') };
  writeFileSync(files.report, renderMarkdown(doc));
  writeFileSync(files.csv, renderCsv(doc));
  writeFileSync(files.json, renderJson(doc));
  return files;
}
