/**
 * Untrusted text (target and scenario names, DESCRIPTION, server replies, command output, anything read back from a
 * results file) made inert for markdown: no link, heading, table, list, emphasis or raw HTML can come from it, on
 * GitHub (cmark-gfm) and in marked (report.html). Applied where such text is placed, never to our own markup.
 */

/** Word joiner (U+2060): invisible, and it breaks GFM's bare autolinks (`https://x`, `www.x`, `a@b.c`) and @mentions. */
const JOIN = '\u2060';

/** Control characters and bidirectional overrides: shown as U+FFFD (a terminal or a reader is not steered by them). */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Inline text, one line: white space collapsed, markdown punctuation (and `$`, GitHub's math) backslash-escaped, `<`, `>` and `&` as entities,
 * `|` escaped (safe in a table cell), bare URLs, e-mail addresses and mentions broken by a word joiner.
 */
export function mdInline(text: string): string {
  return String(text)
    .replace(CONTROL, '\uFFFD')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\\`*[\]#!|~$]/g, (c) => `\\${c}`)
    // An underscore inside a word (`READ_RATIO`) opens no emphasis and stays as it is.
    .replace(/_/g, (c, i: number, all: string) => (/[A-Za-z0-9]/.test(all[i - 1] ?? '') && /[A-Za-z0-9]/.test(all[i + 1] ?? '') ? c : `\\${c}`))
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/([A-Za-z][A-Za-z0-9+.-]*):(?=\/\/)/g, `$1:${JOIN}`)
    // Not only at a word start: GFM links `www.` after `_` too (`x_www.evil.example`).
    .replace(/(www)\./gi, `$1${JOIN}.`)
    .replace(/@/g, `@${JOIN}`);
}

/**
 * Inline text that may sit at the start of a line or after a list marker: as mdInline, and a leading `-`, `+`, `=`
 * or `1.` / `1)` cannot start a list, a setext heading or a thematic break.
 */
export function mdText(text: string): string {
  return mdInline(text).replace(/^([-+=])/, '\\$1').replace(/^(\d+)([.)])/, '$1\\$2');
}

/** Multi-line text (DESCRIPTION): each line as mdText, kept apart by hard line breaks; empty lines dropped. */
export function mdLines(text: string): string {
  return String(text).split(/\r\n|\r|\n/).map(mdText).filter((l) => l !== '').join('\\\n');
}

/** A code span that holds `text` whatever backticks it has (the fence is longer than its longest run), on one line. */
export function mdCode(text: string): string {
  const flat = String(text).replace(CONTROL, '\uFFFD').replace(/[\r\n]+/g, ' ');
  const fence = '`'.repeat(longestBacktickRun([flat]) + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') || flat === '' ? ' ' : '';
  return `${fence}${pad}${flat}${pad}${fence}`;
}

/** One line inside a fenced code block (```text): no line break, no control character; see `fenceFor`. */
export function codeLine(text: string): string {
  return String(text).replace(CONTROL, '\uFFFD').replace(/[\r\n]+/g, ' ');
}

/** The fence for a code block holding `lines`: longer than any backtick run in them, so none can close it. */
export function fenceFor(lines: readonly string[]): string {
  return '`'.repeat(Math.max(3, longestBacktickRun(lines) + 1));
}

/** The longest run of backticks in `texts`, counted in one pass (no array of runs: a text may hold 400,000). */
function longestBacktickRun(texts: readonly string[]): number {
  let longest = 0;
  for (const text of texts) {
    let run = 0;
    for (let i = 0; i < text.length; i++) {
      run = text.charCodeAt(i) === 96 ? run + 1 : 0;
      if (run > longest) longest = run;
    }
  }
  return longest;
}

/** A label inside a mermaid block (`"…"`): only letters, digits and a few harmless signs. */
export function mermaidLabel(text: string): string {
  return `"${String(text).replace(/[^\p{L}\p{N} _.:+\-/()]/gu, '_')}"`;
}
