import { View, parse, Warn } from 'vega';
import { compile } from 'vega-lite';
import type { Chart } from './charts.js';

/**
 * The one adapter from a chart's vega-lite spec to SVG: vega-lite compiles it to vega, and vega's headless renderer
 * draws it as SVG text (no canvas, no browser). Text widths are vega's estimates, so the same spec gives the same SVG. `warnings`: what
 * vega-lite or vega said about the spec (a test keeps it empty); nothing is printed.
 */
export async function renderSvg(chart: Chart): Promise<{ svg: string; warnings: string[] }> {
  const warnings: string[] = [];
  const logger = {
    level: () => logger, error: (...a: unknown[]) => { warnings.push(a.join(' ')); return logger; },
    warn: (...a: unknown[]) => { warnings.push(a.join(' ')); return logger; }, info: () => logger, debug: () => logger,
  };
  const view = new View(parse(compile(chart.spec, { logger: logger as never }).spec), { renderer: 'none', logLevel: Warn, logger: logger as never });
  try {
    return { svg: await view.toSVG(), warnings };
  } finally {
    view.finalize();
  }
}

/** Renders every chart: file name → SVG text in the charts' order, and what vega said, prefixed with the chart's file. */
export async function renderSvgs(charts: readonly Chart[]): Promise<{ svgs: Map<string, string>; warnings: string[] }> {
  const svgs = new Map<string, string>();
  const warnings: string[] = [];
  for (const chart of charts) {
    const r = await renderSvg(chart);
    svgs.set(chart.file, r.svg);
    warnings.push(...r.warnings.map((w) => `${chart.file}: ${w}`));
  }
  return { svgs, warnings };
}
