export { COLUMNS, type Column } from './columns.js';
export { renderConsole } from './console.js';
export { CSV_COLUMNS, CSV_HEADER, renderCsv } from './csv.js';
export { renderJson } from './json.js';
export { renderMarkdown } from './markdown.js';
export { SCHEMA_VERSION, buildDocument, entryFailures, groupEntries, type PlacementRecord, type ResultEntry, type ResultsDocument } from './model.js';
export { renderTable } from './table.js';
export { RESULT_FILES, renderResultFiles, type ResultFile } from './write.js';
export { EXPORT_FILE_NAMES, benchmarkName, renderExport, toBencherMetricFormat, toGithubActionBenchmark, type ExportFormat } from './export.js';
