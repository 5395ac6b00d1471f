import type { Chart } from './charts.js';
import { compactColumns } from './console.js';
import { loadParams } from './load.js';
import { type ResultsDocument } from './document.js';
import { entryFailures, groupEntries, measurementNotes } from './sentences.js';
import { describeParams, renderTable } from './table.js';
import { mdCode, mdInline, mdText } from './escape.js';
import { kneeTable } from './capacity.js';

export interface StepSummaryOptions {
  /** The charts written with the report (their files are listed, linked where a URL is known). */
  readonly charts: readonly Chart[];
  /** The run folder as shown to the user (e.g. `results/<runId>`). */
  readonly reportDir: string;
  /** The regression gate's markdown table and verdict, when the run was gated. */
  readonly gate?: string;
  /** Where the run's artifacts can be seen (a GitHub Actions run page); null: not known. */
  readonly artifactsUrl: string | null;
}

/**
 * The CI step summary ($GITHUB_STEP_SUMMARY): the compact table of every parameter combination, what failed, the
 * gate's verdict, and where the full report and its charts are. A step summary cannot show files of the workspace,
 * so the charts are listed by name and linked to the run's artifacts page.
 */
export function renderStepSummary(doc: ResultsDocument, options: StepSummaryOptions): string {
  const out: string[] = [`## cachebench ${mdInline(doc.runId)}${doc.aborted ? ' (aborted: partial results)' : ''}`, ''];
  // A merge's notes first: what looked wrong in its inputs qualifies every table below.
  for (const note of doc.mergeNotes ?? []) out.push(`- **Merge note**: ${mdText(note)}`);
  if ((doc.mergeNotes ?? []).length > 0) out.push('');
  for (const group of groupEntries(doc)) {
    const load = group.entries.some((e) => e.load != null);
    out.push(`**${mdInline(group.scenario.name)}** ${mdInline(describeParams(load ? loadParams(group.scenario.params) : group.scenario.params))}`, '');
    // A capacity run's answer first: the knee of each target (report.md has every step).
    const knees = kneeTable(group.entries, true);
    if (knees.length > 0) out.push(...knees, '');
    out.push(renderTable(group.entries, compactColumns(group.entries), true), '');
    // A merge's total and its inputs share a name: a failure is said once.
    const failures = [...new Set(group.entries.flatMap((e) => entryFailures(e)))];
    for (const f of failures) out.push(`- **${mdText(f)}**`);
    const notes = group.entries.flatMap((e) => measurementNotes(e));
    for (const n of notes) out.push(`- ${mdText(n)}`);
    if (failures.length + notes.length > 0) out.push('');
  }
  if (options.gate !== undefined) out.push('### Regression gate', '', options.gate.trimEnd(), '');
  const where = options.artifactsUrl === null ? mdCode(options.reportDir) : `${mdCode(options.reportDir)} ([the run's artifacts](${options.artifactsUrl}), when uploaded)`;
  out.push(`Full report: \`report.html\` (self-contained, charts inline) and \`report.md\` in ${where}.`);
  if (options.charts.length > 0) {
    out.push('', '<details><summary>Charts</summary>', '');
    for (const c of options.charts) out.push(`- ${mdText(c.title)}: ${options.artifactsUrl === null ? mdCode(c.file) : `[${mdCode(c.file)}](${options.artifactsUrl})`}`);
    out.push('', '</details>');
  }
  out.push('');
  return out.join('\n');
}

/** The Actions run page from GitHub's own environment variables, or null outside GitHub Actions. */
export function githubRunUrl(env: Readonly<Record<string, string | undefined>>): string | null {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env;
  return server && repo && run ? `${server}/${repo}/actions/runs/${run}#artifacts` : null;
}
