import { groupEntries, conclusion, missingBaselineNote, setupNotes, type ResultsDocument } from './model.js';
import { describeParams, invocationsText, renderTable } from './table.js';
import { FAULT_COLUMNS, faultDetails } from './faults.js';
import { LOAD_COLUMNS, loadDetails, loadParams, loadSetup } from './load.js';

/** The console summary: one table per scenario and parameter combination, plus any failures. */
export function renderConsole(doc: ResultsDocument): string {
  const out: string[] = [];
  for (const group of groupEntries(doc)) {
    const first = group.entries[0];
    if (group.entries.some((e) => e.load != null)) {
      out.push(`${group.scenario.name}: ${describeParams(loadParams(group.scenario.params))}. ${loadSetup(group.entries) ?? ''}`);
      out.push(renderTable(group.entries, LOAD_COLUMNS));
      out.push(...loadDetails(group.entries, false));
      for (const e of group.entries) {
        if (e.state === 'errored') out.push(`  ${e.target.name}: errored: ${e.error ?? ''}`);
        for (const [message, count] of Object.entries(e.errors)) out.push(`  ${e.target.name}: ${count}× ${message}`);
        if (e.verification.missing + e.verification.mismatched > 0) {
          out.push(`  ${e.target.name}: VERIFICATION FAILED: ${e.verification.missing} missing, ${e.verification.mismatched} mismatched of ${e.verification.reads} reads`);
        }
      }
      out.push('');
      continue;
    }
    if (group.entries.some((e) => e.fault != null)) {
      out.push(`${group.scenario.name}: ${describeParams(group.scenario.params)}, fault run (each target in turn), under failure:`);
      out.push(renderTable(group.entries, FAULT_COLUMNS));
      out.push(...faultDetails(group.entries, false));
      for (const e of group.entries) {
        for (const [message, count] of Object.entries(e.errors)) out.push(`  ${e.target.name}: ${count}× ${message}`);
        if (e.verification.mismatched > 0) out.push(`  ${e.target.name}: VERIFICATION FAILED: ${e.verification.mismatched} reads returned other bytes`);
      }
      out.push('');
      continue;
    }
    const stop = first ? `, ${first.iterations.rounds} rounds × ${invocationsText(group.entries)}, stopped: ${first.iterations.stopReason}` : '';
    out.push(`${group.scenario.name}: ${describeParams(group.scenario.params)}${stop}`);
    out.push(renderTable(group.entries));
    const note = missingBaselineNote(doc, group.entries);
    if (note !== undefined) out.push(`  ${note}`);
    const said = conclusion(group.entries);
    if (said !== undefined) out.push(said);
    for (const e of group.entries) {
      for (const [message, count] of Object.entries(e.errors)) out.push(`  ${e.target.name}: ${count}× ${message}`);
      for (const note of setupNotes(e)) out.push(`  ${note}`);
      if (e.verification.missing + e.verification.mismatched > 0) {
        out.push(`  ${e.target.name}: VERIFICATION FAILED: ${e.verification.missing} missing, ${e.verification.mismatched} mismatched of ${e.verification.reads} reads`);
      }
    }
    out.push('');
  }
  return out.join('\n');
}
