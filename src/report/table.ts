import { COLUMNS, chooseTimeUnit, formatCell, type Column } from './columns.js';
import type { ResultEntry } from './document.js';
import { mdInline } from './escape.js';

/**
 * A BenchmarkDotNet-style table (pipe-separated, padded, numbers right-aligned):
 * readable on a console and valid markdown. `markdown`: every cell is made inert (names and values may come from a
 * results file), for report.md and the step summary.
 */
export function renderTable(entries: readonly ResultEntry[], all: readonly Column[] = COLUMNS, markdown = false): string {
  const columns = all.filter((c) => c.inTable && (c.showIf === undefined || entries.some(c.showIf)));
  const unit = chooseTimeUnit(entries);
  const cell = markdown ? mdInline : (text: string): string => text;
  const rows = entries.map((e) => columns.map((c) => cell(formatCell(c, e, unit) + (c.id === 'target' && e.state !== 'completed' ? ` (${e.state})` : ''))));
  const widths = columns.map((c, i) => rows.reduce((w, r) => Math.max(w, (r[i] ?? '').length), c.header.length));
  const right = columns.map((c) => c.kind !== 'text');
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => (right[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(columns.map((c) => c.header)), rule, ...rows.map(line)].join('\n');
}

/** One line naming a parameter combination: `READ_RATIO=100 WRITE_COUNT=10 PAYLOAD_BYTES=20000`. */
export function describeParams(params: object): string {
  return Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ');
}

/** `1 invocation` when every target ran the same count per iteration, else each target's: `REDIS 1, NEAR 5 invocations`. */
export function invocationsText(entries: readonly ResultEntry[]): string {
  const counts = new Set(entries.map((e) => e.iterations.invocations));
  const plural = (n: number): string => `invocation${n === 1 ? '' : 's'}`;
  const [only] = counts;
  if (counts.size <= 1) return `${only ?? 1} ${plural(only ?? 1)}`;
  return `${entries.map((e) => `${e.target.name} ${e.iterations.invocations}`).join(', ')} invocations`;
}

/** A table of text cells: markdown (cells already made inert by the caller) or aligned for a console; `right`: right-aligned columns. */
export function gridTable(header: readonly string[], rows: readonly (readonly string[])[], markdown: boolean, right: readonly boolean[]): string[] {
  if (markdown) {
    return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (right[i] ? '---:' : '---')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => `| ${r.map((x, i) => (right[i] ? x.padStart(widths[i] ?? 0) : x.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`, ...rows.map(line)];
}
