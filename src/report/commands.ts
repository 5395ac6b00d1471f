/** A WORKLOAD run's table per command: ops, share, latency percentiles and every reply's verdict, per target. */
import type { CommandSummary, LoadResult } from '../load/summary.js';
import type { ResultEntry } from './document.js';
import { msText } from './columns.js';
import { mdInline, mdText } from './escape.js';
import { shardLabel } from './sentences.js';
import { gridTable } from './table.js';

const count = (n: number): string => n.toLocaleString('en-US');

/** The per-command table of the WORKLOAD rows among `entries`, with what it is of; [] when none ran a WORKLOAD. */
export function commandLines(entries: readonly ResultEntry[], markdown: boolean): string[] {
  const rows = entries.filter((e) => e.load?.commands !== undefined);
  const first = rows[0]?.load;
  if (first == null) return [];
  const cell = markdown ? mdInline : (x: string): string => x;
  const said = markdown ? mdText : (x: string): string => x;
  const open = first.latency.intended !== null;
  const view = (c: CommandSummary): CommandSummary['service'] => (open ? c.intended ?? c.service : c.service);
  const body = rows.flatMap((e) => ((e.load as LoadResult).commands ?? []).map((c) => {
    const l = view(c);
    return [
      cell(`${e.target.name}${shardLabel(e)}`), cell(c.command), count(c.ops), `${(100 * c.share).toFixed(1)}%`, count(Math.round(c.opsPerSec)),
      msText(l.p50Us), msText(l.p99Us), msText(l.p999Us), count(c.service.errors),
      count(c.verified), count(c.missing), count(c.mismatched), count(c.unverified),
    ];
  }));
  const workload = first.settings.workload ?? '';
  return [
    said(`Per command (WORKLOAD ${workload}): latency ${open ? 'from each op\'s intended send time (coordinated omission corrected)' : 'from send to reply'}; ` +
      'every reply checked against cachebench\'s model of what it wrote to its own keys — Missing: empty where a value was expected; Mismatched: any other difference; ' +
      'Unverified: the model could not judge it (the key\'s state unknown after a failed op, or within 1 s of its expiry).'),
    '',
    ...gridTable(['Target', 'Command', 'Ops', 'Share', 'ops/s', 'p50 (ms)', 'p99 (ms)', 'p99.9 (ms)', 'Failed', 'Verified', 'Missing', 'Mismatched', 'Unverified'], body, markdown,
      [false, false, true, true, true, true, true, true, true, true, true, true, true]),
    '',
  ];
}
