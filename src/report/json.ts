import type { ResultsDocument } from './document.js';

/** results.json: the whole document, including raw iteration samples. */
export function renderJson(doc: ResultsDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
