import { stringify } from 'csv-stringify/sync';
import { COLUMNS } from './columns.js';
import { FAULT_COLUMNS } from './faults.js';
import { LOAD_COLUMNS } from './load.js';
import type { ResultsDocument } from './document.js';

/** results.csv: every column, raw numbers (ms, μs), missing values as empty cells (never 0). */
/** results.csv's columns: the seed table's, the fault run's and the throughput run's (empty outside one), in this order. */
export const CSV_COLUMNS = [...COLUMNS, ...FAULT_COLUMNS.filter((c) => c.id.startsWith('fault')), ...LOAD_COLUMNS.filter((c) => c.id.startsWith('load'))];

/** results.csv's header: every column's id, then `run_id`, so that the CSVs of several runs can be concatenated and told apart. */
export const CSV_HEADER: readonly string[] = [...CSV_COLUMNS.map((c) => c.id), 'run_id'];

/**
 * A text cell a spreadsheet would run as a formula (OWASP CSV injection: `=`, `+`, `-`, `@`, tab, CR, also after
 * white space, and their full-width forms) gets a leading `'`; numbers stay numbers.
 */
export function inertCell(value: string | number): string | number {
  return typeof value === 'string' && /^(\s*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]|[\t\r\n])/.test(value) ? `'${value}` : value;
}

export function renderCsv(doc: ResultsDocument): string {
  return stringify(
    doc.results.map((e) => [...CSV_COLUMNS.map((c) => inertCell(c.value(e) ?? '')), inertCell(doc.runId)]),
    { header: true, columns: [...CSV_HEADER] },
  );
}
