import { stringify } from 'csv-stringify/sync';
import { COLUMNS } from './columns.js';
import type { ResultsDocument } from './model.js';

/** results.csv: every column, raw numbers (ms, μs), missing values as empty cells (never 0). */
export function renderCsv(doc: ResultsDocument): string {
  return stringify(
    doc.results.map((e) => COLUMNS.map((c) => c.value(e) ?? '')),
    { header: true, columns: COLUMNS.map((c) => c.id) },
  );
}
