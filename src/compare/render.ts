import { formatNumber } from '../report/columns.js';
import type { ResultEntry } from '../report/document.js';
import { describeParams } from '../report/table.js';
import { mdInline, mdText } from '../report/escape.js';
import type { Comparison } from './compare.js';
import type { GateResult, Verdict } from './gate.js';

const SHOWN: Readonly<Record<Verdict, string>> = { Slower: '**Slower**', Faster: 'Faster', Same: 'Same', Inconclusive: '~', Undecided: '**Undecided**' };

/** The verdict cell: Undecided carries its reason, e.g. "**Undecided** (only 4 pairs, needs 9 for α = 0.01 over 3 rows)". */
const verdictCell = (g: GateResult): string => (g.reason === null ? SHOWN[g.verdict] : `${SHOWN[g.verdict]} (${g.reason})`);

/** "family-wise α = 0.01, Holm over 4 rows". */
export function familyAlpha(c: Comparison): string {
  return `family-wise α = ${c.options.alpha}, Holm over ${c.rows.length} row${c.rows.length === 1 ? '' : 's'}`;
}

const meanError = (e: ResultEntry): string =>
  e.stats.meanMs === null ? 'NA' : `${formatNumber(e.stats.meanMs)} ± ${e.stats.errorMs === null ? 'NA' : formatNumber(e.stats.errorMs)} ms`;

const ratio = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : 'NA');

const pct = (x: number): string => `${Number((x * 100).toPrecision(2))}%`;

/** The Detects cell: the smallest slowdown the row could have shown, e.g. "≥ 7.3%". */
const detectsCell = (g: GateResult): string => (Number.isFinite(g.detectable) ? `≥ ${pct(g.detectable)}` : 'NA');

/**
 * One sentence on whether the threshold was within the rows' reach: which rows could not have shown a
 * slowdown of the threshold's size (their interval is wider than ±threshold), and what to do about it.
 */
export function reachSentence(c: Comparison, threshold: string): string {
  const out = c.rows.filter((r) => !r.gate.withinReach);
  if (out.length === 0) return `The ${threshold} threshold was within reach of every row: each interval is narrower than ±${threshold}.`;
  const names = out.slice(0, 5).map((r) => `${mdInline(r.target)} ${mdInline(describeParams(r.params))} (detects ≥ ${Number.isFinite(r.gate.detectable) ? pct(r.gate.detectable) : 'nothing'})`);
  const more = out.length > names.length ? ` and ${out.length - names.length} more` : '';
  return `**The ${threshold} threshold was out of reach of ${out.length} of ${c.rows.length} row${c.rows.length === 1 ? '' : 's'}**: ${names.join(', ')}${more}. ` +
    `Their intervals are wider than ±${threshold}, so a slowdown of ${threshold} would most likely read ~ and pass. ` +
    'Fix: more rounds (MIN_ITERATIONS, MAX_TIME), fewer targets per run, or a quieter machine; add --fail-if-inconclusive to fail when a run cannot tell.';
}

function pValue(p: number): string {
  if (!Number.isFinite(p)) return 'NA';
  return p < 0.0001 ? '<0.0001' : p.toFixed(4);
}

/** The comparison as a markdown table with a one-line legend: for stdout and GITHUB_STEP_SUMMARY. */
export function renderComparison(c: Comparison): string {
  const threshold = `${(c.options.threshold * 100).toFixed(1).replace(/\.0$/, '')}%`;
  const title = c.kind === 'in-run'
    ? `### cachebench gate: each target vs ${mdInline(c.baselineLabel)} in the same rounds (paired signed-rank, threshold ${threshold}, ${familyAlpha(c)})`
    : `### cachebench compare: ${mdInline(c.currentLabel)} vs ${mdInline(c.baselineLabel)} (Mann–Whitney, threshold ${threshold}, ${familyAlpha(c)})`;
  const lines = [title, ''];
  if (c.drift !== null) {
    lines.push(`> [!WARNING]`, `> **Machine drift? ${mdInline(c.drift.message)}**`, '');
  }
  lines.push(
    `| Scenario | Parameters | Target | ${c.kind === 'in-run' ? `Mean of ${mdInline(c.baselineLabel)} (baseline)` : 'Mean in baseline'} | ${c.kind === 'in-run' ? 'Mean of target' : 'Mean in current'} | Ratio [${((c.rows[0]?.gate.confidence ?? 1 - 2 * c.options.alpha) * 100).toFixed(0)}% CI] | p (Holm) | N | Detects | Verdict | Failures |`,
    '|---|---|---|--:|--:|--:|--:|--:|--:|---|---|',
  );
  for (const r of c.rows) {
    const g = r.gate;
    lines.push(`| ${mdInline(r.scenario)} | ${mdInline(describeParams(r.params))} | ${mdInline(r.target)} | ${meanError(r.baseline)} | ${meanError(r.current)} | ${ratio(g.ratio)} [${ratio(g.ratioLower)}, ${ratio(g.ratioUpper)}] | ${pValue(g.p)} | ${g.n[0]}/${g.n[1]} | ${detectsCell(g)} | ${verdictCell(g)} | ${mdInline(r.failures.join('; ')) || '—'} |`);
  }
  lines.push('');
  lines.push(`Ratio = current / baseline (Hodges–Lehmann). **Slower**/Faster: a change beyond ${threshold} is shown at ${familyAlpha(c)} (p adjusted by Holm's method); ` +
    `Same: the ${((c.rows[0]?.gate.confidence ?? 1 - 2 * c.options.alpha) * 100).toFixed(0)}% CI lies within ±${threshold} (per row); ` +
    `~: inconclusive (${c.options.failIfInconclusive === true ? 'fails the gate: --fail-if-inconclusive' : 'not a failure'}); ` +
    '**Undecided**: too few samples for the test ever to reach its level (fails the gate). ' +
    `Detects: the smallest slowdown the row could have shown as Slower (the threshold plus its interval's half-width; a slowdown that size is caught about half the time).`);
  lines.push('', reachSentence(c, threshold));
  for (const k of c.onlyInBaseline) lines.push(`- only in baseline: ${mdText(k)}`);
  for (const k of c.onlyInCurrent) lines.push(`- only in current: ${mdText(k)}`);
  return `${lines.join('\n')}\n`;
}
