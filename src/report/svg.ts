import type { Chart } from './charts.js';

type Vega = typeof import('vega');
type VegaLite = typeof import('vega-lite');
let modules: Promise<[Vega, VegaLite]> | undefined;
/** vega and vega-lite are loaded on the first chart only: every other command starts without them. */
const load = (): Promise<[Vega, VegaLite]> => (modules ??= Promise.all([import('vega'), import('vega-lite')]));

/**
 * The one adapter from a chart's vega-lite spec to SVG: vega-lite compiles it to vega, and vega's headless renderer
 * draws it as SVG text (no canvas, no browser). Text widths are vega's estimates, so the same spec gives the same SVG.
 * `warnings`: what vega-lite or vega said about the spec (a test keeps it empty); nothing is printed.
 */
export async function renderSvg(chart: Chart): Promise<{ svg: string; warnings: string[] }> {
  const [vega, vegaLite] = await load();
  const warnings: string[] = [];
  const logger = {
    level: () => logger, error: (...a: unknown[]) => { warnings.push(a.join(' ')); return logger; },
    warn: (...a: unknown[]) => { warnings.push(a.join(' ')); return logger; }, info: () => logger, debug: () => logger,
  };
  const view = new vega.View(vega.parse(vegaLite.compile(chart.spec, { logger: logger as never }).spec), { renderer: 'none', logLevel: vega.Warn, logger: logger as never });
  try {
    return { svg: await view.toSVG(), warnings };
  } finally {
    view.finalize();
  }
}

/**
 * Renders every chart: file name → SVG text in the charts' order, and what vega said, prefixed with the chart's file.
 * A chart that cannot be drawn is left out with a warning: it never costs the run its other files.
 */
export async function renderSvgs(charts: readonly Chart[]): Promise<{ svgs: Map<string, string>; warnings: string[] }> {
  const svgs = new Map<string, string>();
  const warnings: string[] = [];
  for (const chart of charts) {
    try {
      const r = await renderSvg(chart);
      svgs.set(chart.file, r.svg);
      warnings.push(...r.warnings.map((w) => `${chart.file}: ${w}`));
    } catch (error: unknown) {
      warnings.push(`${chart.file}: not drawn: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { svgs, warnings };
}
