import type { ResultEntry, ResultsDocument } from './document.js';
import { describeParams } from './table.js';

/** Benchmark name used by the exports: `<scenario> <params> <target>`. */
export function benchmarkName(e: ResultEntry): string {
  return `${e.scenario.name} ${describeParams(e.scenario.params)} ${e.target.name}`;
}

const measured = (doc: ResultsDocument): ResultEntry[] => doc.results.filter((e) => e.stats.meanMs !== null);

/** github-action-benchmark `customSmallerIsBetter`: `[{ name, unit, value, range, extra }]`, value = Mean in ms. */
export function toGithubActionBenchmark(doc: ResultsDocument): { name: string; unit: string; value: number; range: string; extra: string }[] {
  return measured(doc).map((e) => ({
    name: benchmarkName(e),
    unit: 'ms',
    value: e.stats.meanMs as number,
    range: e.stats.errorMs === null ? '' : `± ${e.stats.errorMs.toFixed(4)} (99.9% CI)`,
    extra: [
      `n=${e.stats.n}`,
      `median=${e.stats.medianMs?.toFixed(4)} ms`,
      `GET p99=${e.ops.get.p99Us ?? 'NA'} µs`,
      `verified=${e.verification.verified}/${e.verification.reads}`,
      `failed ops=${e.ops.get.errors + e.ops.set.errors}`,
    ].join('\n'),
  }));
}

/** Bencher Metric Format: `{ benchmark: { latency: { value, lower_value, upper_value } } }`, in nanoseconds. */
export function toBencherMetricFormat(doc: ResultsDocument): Record<string, { latency: { value: number; lower_value?: number; upper_value?: number } }> {
  const out: Record<string, { latency: { value: number; lower_value?: number; upper_value?: number } }> = {};
  for (const e of measured(doc)) {
    const ns = (ms: number): number => Math.round(ms * 1e6);
    out[benchmarkName(e)] = {
      latency: {
        value: ns(e.stats.meanMs as number),
        ...(e.stats.ciLowerMs !== null ? { lower_value: ns(e.stats.ciLowerMs) } : {}),
        ...(e.stats.ciUpperMs !== null ? { upper_value: ns(e.stats.ciUpperMs) } : {}),
      },
    };
  }
  return out;
}

export type ExportFormat = 'gab' | 'bmf';

/** Default file names of the exports, inside the run folder. */
export const EXPORT_FILE_NAMES: Readonly<Record<ExportFormat, string>> = { gab: 'benchmark-gab.json', bmf: 'benchmark-bmf.json' };

export function renderExport(format: ExportFormat, doc: ResultsDocument): string {
  return `${JSON.stringify(format === 'gab' ? toGithubActionBenchmark(doc) : toBencherMetricFormat(doc), null, 2)}\n`;
}
