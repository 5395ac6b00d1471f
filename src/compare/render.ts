import { formatNumber } from '../report/columns.js';
import type { ResultEntry } from '../report/model.js';
import { describeParams } from '../report/table.js';
import type { Comparison } from './compare.js';
import type { Verdict } from './gate.js';

const SHOWN: Readonly<Record<Verdict, string>> = { Slower: '**Slower**', Faster: 'Faster', Same: 'Same', Inconclusive: '~' };

const meanError = (e: ResultEntry): string =>
  e.stats.meanMs === null ? 'NA' : `${formatNumber(e.stats.meanMs)} ± ${e.stats.errorMs === null ? 'NA' : formatNumber(e.stats.errorMs)} ms`;

const ratio = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : 'NA');

function pValue(p: number): string {
  if (!Number.isFinite(p)) return 'NA';
  return p < 0.0001 ? '<0.0001' : p.toFixed(4);
}

/** The comparison as a markdown table with a one-line legend: for stdout and GITHUB_STEP_SUMMARY. */
export function renderComparison(c: Comparison): string {
  const threshold = `${(c.options.threshold * 100).toFixed(1).replace(/\.0$/, '')}%`;
  const title = c.kind === 'in-run'
    ? `### cachebench gate: each target vs ${c.baselineLabel} in the same rounds (paired signed-rank, threshold ${threshold}, α ${c.options.alpha})`
    : `### cachebench compare: ${c.currentLabel} vs ${c.baselineLabel} (Mann–Whitney, threshold ${threshold}, α ${c.options.alpha})`;
  const lines = [
    title,
    '',
    `| Scenario | Parameters | Target | ${c.kind === 'in-run' ? `${c.baselineLabel} (baseline)` : 'Baseline'} | ${c.kind === 'in-run' ? 'Target' : 'Current'} | Ratio [${((c.rows[0]?.gate.confidence ?? 1 - 2 * c.options.alpha) * 100).toFixed(0)}% CI] | p | N | Verdict | Failures |`,
    '|---|---|---|--:|--:|--:|--:|--:|---|---|',
  ];
  for (const r of c.rows) {
    const g = r.gate;
    lines.push(`| ${r.scenario} | ${describeParams(r.params)} | ${r.target} | ${meanError(r.baseline)} | ${meanError(r.current)} | ${ratio(g.ratio)} [${ratio(g.ratioLower)}, ${ratio(g.ratioUpper)}] | ${pValue(g.p)} | ${g.n[0]}/${g.n[1]} | ${SHOWN[g.verdict]} | ${r.failures.join('; ') || '—'} |`);
  }
  lines.push('');
  lines.push(`Ratio = current / baseline (Hodges–Lehmann). **Slower**/Faster: a change beyond ${threshold} is shown at α = ${c.options.alpha}; Same: the CI lies within ±${threshold}; ~: inconclusive (not a failure).`);
  for (const k of c.onlyInBaseline) lines.push(`- only in baseline: ${k}`);
  for (const k of c.onlyInCurrent) lines.push(`- only in current: ${k}`);
  return `${lines.join('\n')}\n`;
}
