import { buildCharts, type Chart } from './charts.js';
import { renderCsv } from './csv.js';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';
import type { ResultsDocument } from './document.js';
import { renderSvgs } from './svg.js';

/** The fixed files of one run folder `<out>/<runId>/`, by role; the charts (`chart-*.svg`) sit next to them. */
export const RESULT_FILES = { report: 'report.md', html: 'report.html', csv: 'results.csv', json: 'results.json' } as const;
export type ResultFile = keyof typeof RESULT_FILES;

export interface RenderedFiles {
  /** report.md, report.html, results.csv, results.json. */
  readonly files: Record<ResultFile, string>;
  /** The charts, in report order, and each one's SVG by file name. */
  readonly charts: readonly Chart[];
  readonly svgs: ReadonlyMap<string, string>;
  /** What vega-lite or vega said while rendering the charts (a spec problem; normally none). */
  readonly warnings: readonly string[];
}

export interface RenderOptions {
  /** Markdown appended to report.md and report.html (the in-run regression gate's section). */
  readonly appendix?: string;
}

/** Renders every file of a run folder, charts included; writing them is the caller's (the CLI's) business. */
export async function renderResultFiles(doc: ResultsDocument, options: RenderOptions = {}): Promise<RenderedFiles> {
  let planned: Chart[] = [];
  const early: string[] = [];
  try {
    planned = buildCharts(doc);
  } catch (error: unknown) {
    // Results cachebench cannot chart (e.g. a histogram that does not decode) still get every other file.
    early.push(`none drawn: ${error instanceof Error ? error.message : String(error)}`);
  }
  const rendered = await renderSvgs(planned);
  const svgs = rendered.svgs;
  const warnings = [...early, ...rendered.warnings];
  const charts = planned.filter((c) => svgs.has(c.file));
  const markdown = `${renderMarkdown(doc, charts)}${options.appendix ?? ''}`;
  return {
    files: { report: markdown, html: renderHtml(markdown, svgs, `cachebench report ${doc.runId}`), csv: renderCsv(doc), json: renderJson(doc) },
    charts,
    svgs,
    warnings,
  };
}
