/** A WORKLOAD run's table per command: ops, share, latency percentiles and every reply's verdict, per target. */
import type { CommandSummary, LoadResult, ValueSizes } from '../load/summary.js';
import type { ResultEntry } from './document.js';
import { msText } from './columns.js';
import { mdInline, mdText } from './escape.js';
import { shardLabel } from './sentences.js';
import { gridTable } from './table.js';
import { workloadShown } from './faults.js';
import { STALE_HORIZON_MS } from '../latency/mix-turns.js';

const count = (n: number): string => n.toLocaleString('en-US');
const bytes = (n: number | null): string => (n === null ? '-' : count(n));

/** The per-command table of the WORKLOAD rows among `entries`, with what it is of; [] when none ran a WORKLOAD. */
export function commandLines(entries: readonly ResultEntry[], markdown: boolean): string[] {
  const rows = entries.filter((e) => e.load?.commands !== undefined);
  const first = rows[0]?.load;
  if (first == null) {
    return entries.some((e) => e.mix !== undefined) ? latencyCommandLines(entries, markdown) : faultCommandLines(entries, markdown);
  }
  const said = markdown ? mdText : (x: string): string => x;
  const open = first.latency.intended !== null;
  const body = commandTable(rows.map((e) => ({ label: `${e.target.name}${shardLabel(e)}`, commands: (e.load as LoadResult).commands ?? [] })), open, markdown);
  const sizes = rows.flatMap((e) => sizesText(`${e.target.name}${shardLabel(e)}`, (e.load as LoadResult).values));
  const housekeeping = housekeepingLines(rows.map((e) => ({ label: `${e.target.name}${shardLabel(e)}`, counts: (e.load as LoadResult).record.housekeeping })), said);
  const s = first.settings;
  const from = first.trace !== undefined ? 'sizes and TTLs from the trace; a value it never sizes ' +
    `takes the mean of its keys' sizes or PAYLOAD_BYTES when given, an op without a TTL ${s.ttl ?? '?'} s (longer than the replay)`
    : `sizes from ${s.valueSizes !== undefined ? `VALUE_SIZES ${s.valueSizes}` : 'PAYLOAD_BYTES and {value:N}'}${s.ttl !== undefined ? `; TTLs ${s.ttl} s` : ''}`;
  const written = sizes.length === 0 ? [] : [
    said(`Values written by the measured ops (${from}): ${sizes.join('; ')}.`),
    '',
  ];
  const workload = first.settings.workload ?? '';
  return [
    ...traceLines(rows, said),
    said(`Per command (${first.trace !== undefined ? workload : `WORKLOAD ${workload}`}): latency ${open ? 'from each op\'s intended send time (coordinated omission corrected)' : 'from send to reply'}; ` +
      'every reply checked against cachebench\'s model of what it wrote to its own keys — Missing: empty where a value was expected; Mismatched: any other difference; ' +
      'Unverified: the model could not judge it (the key\'s state unknown after a failed op, or within 1 s of its expiry). ' +
      'B out / B in: bytes on the wire per answered op, the request as sent (RESP) and the reply as RESP2 frames it.'),
    '',
    ...body,
    '',
    ...written,
    ...housekeeping,
  ];
}

const COMMAND_HEADER = ['Target', 'Command', 'Ops', 'Share', 'ops/s', 'p50 (ms)', 'p99 (ms)', 'p99.9 (ms)', 'Failed', 'Verified', 'Missing', 'Mismatched', 'Unverified',
  'B out', 'B in'];

/**
 * The per-command table: each target's commands, latency from the intended send time where `open`; a Stale column
 * (after Mismatched) where some target's reads were judged against earlier states (replica reads).
 */
function commandTable(items: readonly { label: string; commands: readonly CommandSummary[] }[], open: boolean, markdown: boolean): string[] {
  const cell = markdown ? mdInline : (x: string): string => x;
  const stale = items.some((i) => i.commands.some((c) => c.stale !== undefined));
  const header = stale ? [...COMMAND_HEADER.slice(0, 12), 'Stale', ...COMMAND_HEADER.slice(12)] : COMMAND_HEADER;
  const rows = items.flatMap(({ label, commands }) => commands.map((c) => {
    const l = open ? c.intended ?? c.service : c.service;
    return [
      cell(label), cell(c.command), count(c.ops), `${(100 * c.share).toFixed(1)}%`, count(Math.round(c.opsPerSec)),
      msText(l.p50Us), msText(l.p99Us), msText(l.p999Us), count(c.service.errors),
      count(c.verified), count(c.missing), count(c.mismatched), ...(stale ? [c.stale === undefined ? '-' : count(c.stale)] : []), count(c.unverified),
      bytes(c.sentBytesPerOp), bytes(c.readBytesPerOp),
    ];
  }));
  return gridTable(header, rows, markdown, header.map((_, i) => i >= 2));
}

/** The commands sent besides the counted ops, per target; [] when none was. */
function housekeepingLines(items: readonly { label: string; counts: Readonly<Record<string, number>> | undefined }[], said: (x: string) => string): string[] {
  const kept = items.flatMap(({ label, counts }) => {
    const h = Object.entries(counts ?? {}).filter(([, n]) => n > 0);
    return h.length === 0 ? [] : [`${label} ${h.map(([c, n]) => `${count(n)} ${c}`).join(', ')}`];
  });
  return kept.length === 0 ? [] : [
    said(`Sent besides the ops counted above, to keep every key expiring and known (an EXPIRE after a write that created a key or cleared its TTL; DEL and the preload again for a key ` +
      `whose state the model lost, or a list past its cap; EVAL: a script sent whole, within its op, after the server answered its EVALSHA with NOSCRIPT; ` +
      `WAIT: <NAME>_WAIT's after each write op, within it, and after a key was put back in a known state): ${kept.join('; ')}.`),
    '',
  ];
}

/** One target's written value sizes, or none. */
const sizesText = (label: string, v: ValueSizes | undefined): string[] => (v === undefined ? []
  : [`${label} ${count(v.written)} values, mean ${count(v.meanBytes)} B (min ${count(v.minBytes)}, p50 ${count(v.p50Bytes)}, p90 ${count(v.p90Bytes)}, ` +
    `p99 ${count(v.p99Bytes)}, max ${count(v.maxBytes)})`]);

/** What a latency combination with a WORKLOAD ran, for its heading line; undefined for the seed loop. */
export function mixHeadline(entries: readonly ResultEntry[]): string | undefined {
  const m = entries.find((e) => e.mix !== undefined)?.mix;
  if (m === undefined) return undefined;
  return `WORKLOAD ${workloadShown(m.workload)} on ${count(m.keys)} preloaded ${m.keyType} keys per target, one client each; an invocation is one op of the mix ` +
    '(a command of a sequence, a transaction or a script), every reply verified';
}

/** A latency combination's parameters with a WORKLOAD: READ_RATIO and WRITE_COUNT do nothing there (the mix decides). */
export function mixParams(params: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(params).filter(([k]) => k !== 'WRITE_COUNT' && k !== 'READ_RATIO'));
}

/** A latency run's table per command (a WORKLOAD's), over the measured iterations; [] when none ran a WORKLOAD. */
function latencyCommandLines(entries: readonly ResultEntry[], markdown: boolean): string[] {
  const rows = entries.filter((e) => (e.mix?.commands.length ?? 0) > 0);
  const first = rows[0]?.mix;
  if (first === undefined) return [];
  const said = markdown ? mdText : (x: string): string => x;
  const warmup = rows.map((e) => `${e.target.name} ${count(e.mix?.warmupOps ?? 0)}`).join(', ');
  const sizes = rows.flatMap((e) => sizesText(e.target.name, e.mix?.values));
  return [
    said(`Per command (WORKLOAD ${workloadShown(first.workload)}), over the measured iterations (warm-up and pilot ops left out: ${warmup}): latency from send to reply, ` +
      'one op at a time per target; ops/s over the measured iterations\' summed time; every reply checked against cachebench\'s model of what it wrote to its own keys — ' +
      'Missing: empty where a value was expected; Mismatched: any other difference; Unverified: the model could not judge it (the key\'s state unknown after a failed op, ' +
      'or within 1 s of its expiry). B out / B in: bytes on the wire per answered op, the request as sent (RESP) and the reply as RESP2 frames it.' +
      `${rows.some((e) => e.target.readFrom === 'replica') ? ' Stale (READ_FROM=replica): a read answered with an earlier state of its key, one a write the primary acknowledged had replaced ' +
      `(up to ${STALE_HORIZON_MS / 1000} s before; ages in the target's Stale age column above); a state replaced longer ago counts as Mismatched, one the model's ` +
      `memory bounds dropped as Unverified.` : ''}`),
    '',
    ...commandTable(rows.map((e) => ({ label: e.target.name, commands: e.mix?.commands ?? [] })), false, markdown),
    '',
    ...(sizes.length === 0 ? [] : [said(`Values written by the measured ops: ${sizes.join('; ')}.`), '']),
    ...housekeepingLines(rows.map((e) => ({ label: e.target.name, counts: e.mix?.housekeeping })), said),
  ];
}

/** A fault run's table per command (a WORKLOAD's), over the whole run; [] when none ran a WORKLOAD. */
function faultCommandLines(entries: readonly ResultEntry[], markdown: boolean): string[] {
  const rows = entries.filter((e) => e.fault?.commands != null);
  const first = rows[0]?.fault;
  if (first == null) return [];
  const said = markdown ? mdText : (x: string): string => x;
  const workload = first.mix?.workload ?? '';
  return [
    said(`Per command (WORKLOAD ${workloadShown(workload)}), over the whole fault run, before, during and after the fault: latency from send to reply; ` +
      'every reply checked against cachebench\'s model of what it wrote to its own keys — Missing: empty where a value was expected; Mismatched: any other difference; ' +
      'Unverified: the model could not judge it (the key\'s state unknown after a failed op). Failed: ops that failed (the fault\'s among them).'),
    '',
    ...commandTable(rows.map((e) => ({ label: e.target.name, commands: e.fault?.commands ?? [] })), false, markdown),
    '',
    ...housekeepingLines(rows.map((e) => ({ label: e.target.name, counts: e.fault?.housekeeping })), said),
  ];
}

const msOf = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(1));

/** What a TRACE run replayed, and how its ops kept their times, per target; [] without one. */
function traceLines(rows: readonly ResultEntry[], said: (x: string) => string): string[] {
  const traced = rows.flatMap((e) => ((e.load as LoadResult).trace === undefined ? [] : [e]));
  const t = traced[0]?.load?.trace;
  if (t === undefined) return [];
  const ops = Object.entries(t.counts).filter(([, n]) => n > 0).map(([op, n]) => `${op} ${count(n)}`).join(', ');
  const each = traced.map((e) => {
    const l = e.load as LoadResult;
    const r = l.trace as NonNullable<LoadResult['trace']>;
    const hits = l.keyspace === null ? '' : `hits ${count(l.keyspace.hits)}, misses ${count(l.keyspace.misses)}` +
      `${l.keyspace.hitRate === null ? '' : ` (hit ratio ${(100 * l.keyspace.hitRate).toFixed(1)}%)`}, refills ${count(r.refills)}` +
      `${r.lost > 0 ? `; ${count(r.lost)} keys the replay had written were gone when read, the servers evicted ${r.evictions === null ? 'an unknown number (they did not tell)' : count(r.evictions)}` +
      `${r.unexplained > 0 ? `: ${count(r.unexplained)} beyond that counted missing (lost writes)` : ': counted unverified (evictions, a cache\'s choice)'}` : ''}`;
    const timing = r.lagMs === null ? 'back to back (TRACE_SPEED max)'
      : `ops sent off their intended times (late or early) by p50 ${msOf(r.lagMs.p50)} ms, p99 ${msOf(r.lagMs.p99)} ms, p99.9 ${msOf(r.lagMs.p999)} ms, max ${msOf(r.lagMs.max)} ms` +
        `${r.earlyMs > 0 ? ` (the earliest ${msOf(r.earlyMs)} ms early)` : ''}${l.record.scheduled !== null && l.record.sent !== null ? `; ${count(l.record.sent)} of ${count(l.record.scheduled)} due sent` : ''}`;
    const skipped = Object.entries(r.skipped).filter(([, n]) => n > 0);
    return `${e.target.name}${shardLabel(e)}: ${timing}; ${hits}${skipped.length === 0 ? '' : `; not replayed (no RESP command cachebench verifies): ${skipped.map(([op, n]) => `${op} ${count(n)}`).join(', ')}`}`;
  });
  return [
    said(`Trace replay: ${t.name} (sha256 ${t.digest.slice(0, 16)}…), ${count(t.ops)} ops (${ops}) on ${count(t.keys)} keys from ${count(t.clients)} clients over ` +
      `${t.spanSeconds.toFixed(1)} s, replayed ${t.speed === null ? 'as fast as CLIENTS allow' : `at ×${t.speed} its timing, open loop`}; keys under the run's prefix, ` +
      `${t.refill === false ? 'a get that misses not refilled (TRACE_REFILL=off)' : 'a get that misses refilled (SET, cache-aside)'}. ${each.join('; ')}.`),
    '',
  ];
}
