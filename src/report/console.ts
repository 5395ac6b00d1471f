import { type ResultsDocument } from './document.js';
import { groupEntries, conclusion, measurementNotes, missingBaselineNote, setupNotes } from './sentences.js';
import { describeParams, invocationsText, renderTable } from './table.js';
import { FAULT_COLUMNS, faultDetails } from './faults.js';
import { capacityLines } from './capacity.js';
import { LOAD_COLUMNS, loadDetails, loadParams, loadSetup } from './load.js';
import { commandLines, mixHeadline, mixParams } from './commands.js';
import { CHECKS_COLUMN, COLUMNS, CONSOLE_COLUMNS, pick, setupOf, type Column } from './columns.js';

/** The console's compact throughput and fault tables (see CONSOLE_COLUMNS). */
const CONSOLE_LOAD_COLUMNS: readonly Column[] = [
  ...pick(LOAD_COLUMNS, ['target', 'load_ops_per_sec', 'load_error_ops_per_sec', 'load_stddev_ops_per_sec', 'load_percent', 'load_rate_achieved', 'load_get_p99_us']), CHECKS_COLUMN,
];
const CONSOLE_FAULT_COLUMNS: readonly Column[] = pick(FAULT_COLUMNS, ['target', 'fault_window_ms', 'fault_failed_set', 'fault_failed_get', 'fault_recovery_ms', 'fault_p99', 'fault_lost_acked']);

/** The compact columns for a combination's entries (throughput, fault or latency run): the console's and the CI step summary's table. */
export function compactColumns(entries: ResultsDocument['results']): readonly Column[] {
  if (entries.some((e) => e.load != null)) return CONSOLE_LOAD_COLUMNS;
  if (entries.some((e) => e.fault != null)) return CONSOLE_FAULT_COLUMNS;
  return CONSOLE_COLUMNS;
}

export interface ConsoleOptions {
  /** Every table column (`--wide`), as in report.md; default: the compact tables that fit 120 columns. */
  readonly wide?: boolean;
}

/** The console summary: one table per scenario and parameter combination, plus any failures. */
export function renderConsole(doc: ResultsDocument, options: ConsoleOptions = {}): string {
  const wide = options.wide === true;
  const out: string[] = [];
  // Compact tables leave the client set-up out: said once under the table instead, where it is not plain ioredis.
  const setups = (entries: ResultsDocument['results']): string[] => {
    if (wide) return [];
    const special = entries.filter((e) => setupOf(e) !== 'ioredis');
    return special.length === 0 ? [] : [`  client set-ups: ${special.map((e) => `${e.target.name}: ${setupOf(e)}`).join('; ')}`];
  };
  for (const group of groupEntries(doc)) {
    const first = group.entries[0];
    if (group.entries.some((e) => e.load != null)) {
      out.push(`${group.scenario.name}: ${describeParams(loadParams(group.scenario.params))}. ${loadSetup(group.entries) ?? ''}`);
      out.push(...capacityLines(group.entries, false));
      out.push(renderTable(group.entries, wide ? LOAD_COLUMNS : CONSOLE_LOAD_COLUMNS), ...setups(group.entries));
      out.push(...loadDetails(group.entries, false));
      out.push(...commandLines(group.entries, false));
      for (const e of group.entries) {
        if (e.state === 'errored') out.push(`  ${e.target.name}: errored: ${e.error ?? ''}`);
        for (const [message, count] of Object.entries(e.errors)) out.push(`  ${e.target.name}: ${count}× ${message}`);
        for (const note of measurementNotes(e)) out.push(`  ${note}`);
        if (e.verification.missing + e.verification.mismatched > 0) {
          out.push(`  ${e.target.name}: VERIFICATION FAILED: ${e.verification.missing} missing, ${e.verification.mismatched} mismatched of ${e.verification.reads} reads`);
        }
      }
      out.push('');
      continue;
    }
    if (group.entries.some((e) => e.fault != null)) {
      out.push(`${group.scenario.name}: ${describeParams(group.scenario.params)}, fault run (each target in turn), under failure:`);
      out.push(renderTable(group.entries, wide ? FAULT_COLUMNS : CONSOLE_FAULT_COLUMNS), ...setups(group.entries));
      out.push(...faultDetails(group.entries, false));
      const commands = commandLines(group.entries, false);
      if (commands.length > 0) out.push('', ...commands);
      for (const e of group.entries) {
        for (const [message, count] of Object.entries(e.errors)) out.push(`  ${e.target.name}: ${count}× ${message}`);
        for (const note of measurementNotes(e)) out.push(`  ${note}`);
        if (e.verification.mismatched > 0) out.push(`  ${e.target.name}: VERIFICATION FAILED: ${e.verification.mismatched} reads returned other bytes`);
      }
      out.push('');
      continue;
    }
    const stop = first ? `, ${first.iterations.rounds} ${first.iterations.rounds === 1 ? 'round' : 'rounds'} × ${invocationsText(group.entries)}, stopped: ${first.iterations.stopReason}` : '';
    const mix = mixHeadline(group.entries);
    out.push(`${group.scenario.name}: ${describeParams(mix !== undefined ? mixParams(group.scenario.params) : group.scenario.params)}${stop}`);
    if (mix !== undefined) out.push(`${mix}.`);
    out.push(renderTable(group.entries, wide ? COLUMNS : CONSOLE_COLUMNS), ...setups(group.entries));
    if (mix !== undefined) out.push('', ...commandLines(group.entries, false));
    const note = missingBaselineNote(doc, group.entries);
    if (note !== undefined) out.push(`  ${note}`);
    const said = conclusion(group.entries);
    if (said !== undefined) out.push(said);
    for (const e of group.entries) {
      for (const [message, count] of Object.entries(e.errors)) out.push(`  ${e.target.name}: ${count}× ${message}`);
      for (const note of [...measurementNotes(e), ...setupNotes(e)]) out.push(`  ${note}`);
      if (e.verification.missing + e.verification.mismatched > 0) {
        out.push(`  ${e.target.name}: VERIFICATION FAILED: ${e.verification.missing} missing, ${e.verification.mismatched} mismatched of ${e.verification.reads} reads`);
      }
    }
    out.push('');
  }
  if (!wide && doc.results.length > 0) out.push('(compact tables: --wide shows every column; report.md, results.csv and results.json have them all)');
  return out.join('\n');
}
