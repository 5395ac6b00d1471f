import { sparkline } from './sparkline.js';
import type { PhaseLatency } from '../faults/judge.js';
import { col, mib, msText, setupOf, type Column } from './columns.js';
import type { ResultEntry } from './document.js';
import { maxOf } from '../stats/extent.js';
import { codeLine, fenceFor, mdCode, mdText } from './escape.js';

const seconds = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);
const phaseP99 = (p: PhaseLatency | undefined): string => (p === undefined ? '–' : msText(p.p99Us));

/** The failure window as shown: `2.31 s`, `none` (no op failed), `open` (failing until the end). */
export function windowText(e: ResultEntry): string {
  const f = e.fault;
  if (f === null) return '–';
  if (f.injectedAtMs === null) return 'no fault';
  if (f.windowStartMs === null) return 'none';
  return f.windowMs === null ? `open from ${seconds(f.windowStartMs)}` : seconds(f.windowMs);
}

/**
 * The "Under failure" table's columns, and the fault fields of results.csv: one definition for both (CSV has them
 * all, raw; a table shows those marked inTable, as text). Every column is empty outside a fault run.
 */
export const FAULT_COLUMNS: readonly Column[] = [
  col('target', 'Target', 'text', 'target.name', true, (e) => e.target.name),
  { ...col('setup', 'Client', 'text', 'target.client', true, setupOf) },
  col('fault', 'Fault', 'text', 'fault.kind', true, (e) => e.fault?.kind ?? null),
  col('fault_at_ms', 'At', 'count', 'fault.injectedAtMs', true, (e) => e.fault?.injectedAtMs ?? null, (e) => seconds(e.fault?.injectedAtMs)),
  col('fault_window_ms', 'Window', 'count', 'fault.windowMs', true, (e) => e.fault?.windowMs ?? null, windowText),
  col('fault_failed_set', 'Failed SET', 'count', 'fault.failedOps.set', true, (e) => e.fault?.failedOps.set ?? null),
  col('fault_failed_get', 'Failed GET', 'count', 'fault.failedOps.get', true, (e) => e.fault?.failedOps.get ?? null),
  col('fault_stalled', 'Stalled ≥1 s', 'count', 'fault.stalledOps', true, (e) => e.fault?.stalledOps ?? null),
  col('fault_missing_reads', 'Missing reads', 'count', 'verification.missing', true, (e) => (e.fault == null ? null : e.verification.missing)),
  col('fault_recovery_ms', 'Recovery', 'count', 'fault.recoveryMs', true, (e) => e.fault?.recoveryMs ?? null, (e) => (e.fault == null ? '–' : e.fault.recoveryMs === null ? 'not within the run' : seconds(e.fault.recoveryMs))),
  col('fault_p99', 'p99 before/during/after (ms)', 'text', 'fault.latency.{before,during,after}.p99Us', true,
    (e) => (e.fault == null ? null : `${phaseP99(e.fault.latency.before)}/${phaseP99(e.fault.latency.during)}/${phaseP99(e.fault.latency.after)}`)),
  col('fault_max_during_ms', 'Max during (ms)', 'text', 'fault.latency.during.maxUs', true, (e) => (e.fault == null ? null : msText(e.fault.latency.during.maxUs))),
  col('fault_acked_checked', 'Acked writes checked', 'count', 'fault.ackedWritesChecked', true, (e) => e.fault?.ackedWritesChecked ?? null),
  col('fault_lost_acked', 'Lost acked', 'count', 'fault.lostAckedWrites', true, (e) => e.fault?.lostAckedWrites ?? null),
  col('fault_acked_unchecked', 'Unchecked', 'count', 'fault.ackedWritesUnchecked', false, (e) => e.fault?.ackedWritesUnchecked ?? null),
  col('fault_pending_at_fault', 'Unread at fault', 'count', 'fault.pendingAtFault', false, (e) => e.fault?.pendingAtFault ?? null),
  col('fault_applied_unacked', 'Applied unacked', 'count', 'fault.appliedUnackedWrites', true, (e) => e.fault?.appliedUnackedWrites ?? null,
    (e) => (e.fault == null ? '–' : `${e.fault.appliedUnackedWrites} of ${e.fault.unackedWritesChecked}`)),
  col('fault_window_bad_reads', 'Bad reads in window', 'count', 'fault.windowBadReads.missing + mismatched', true,
    (e) => (e.fault == null ? null : e.fault.windowBadReads.missing + e.fault.windowBadReads.mismatched)),
  { ...col('fault_redirections', 'MOVED/ASK', 'count', 'fault.redirections.moved + ask', true, (e) => (e.fault?.redirections == null ? null : e.fault.redirections.moved + e.fault.redirections.ask),
    (e) => (e.fault?.redirections == null ? '–' : `${e.fault.redirections.moved}/${e.fault.redirections.ask}`)), showIf: (e) => e.fault?.redirections != null },
  col('fault_moved', 'MOVED', 'count', 'fault.redirections.moved', false, (e) => e.fault?.redirections?.moved ?? null),
  col('fault_ask', 'ASK', 'count', 'fault.redirections.ask', false, (e) => e.fault?.redirections?.ask ?? null),
  { ...col('fault_migration_ms', 'Migration', 'count', 'fault.scaling.migrationMs', true, (e) => e.fault?.scaling?.migrationMs ?? null,
    (e) => (e.fault?.scaling == null ? '–' : `${e.fault.scaling.slotsMoved} slots in ${seconds(e.fault.scaling.migrationMs)}`)), showIf: (e) => e.fault?.scaling != null },
  col('fault_slots_moved', 'Slots moved', 'count', 'fault.scaling.slotsMoved', false, (e) => e.fault?.scaling?.slotsMoved ?? null),
  { ...col('fault_slot_balance', 'Slots per primary after', 'text', 'fault.scaling.balance[].slots', true, (e) => (e.fault?.scaling == null ? null : e.fault.scaling.balance.map((b) => b.slots).join('/'))),
    showIf: (e) => e.fault?.scaling != null },
  { ...col('fault_minority_lost', 'Minority acked/lost', 'count', 'fault.partition.minorityLostWrites', true, (e) => e.fault?.partition?.minorityLostWrites ?? null,
    (e) => minorityText(e.fault?.partition)), showIf: (e) => e.fault?.partition != null },
  col('fault_minority_acked', 'Minority acked', 'count', 'fault.partition.minorityAckedWrites', false, (e) => e.fault?.partition?.minorityAckedWrites ?? null),
  col('fault_minority_applied', 'Minority applied', 'count', 'fault.partition.minorityAppliedWrites', false, (e) => e.fault?.partition?.minorityAppliedWrites ?? null),
  { ...col('fault_dual_ownership_ms', 'Two owners', 'count', 'fault.partition.dualOwnershipMs', true, (e) => e.fault?.partition?.dualOwnershipMs ?? null,
    (e) => seconds(e.fault?.partition?.dualOwnershipMs)), showIf: (e) => e.fault?.partition != null },
  col('fault_dual_writable_ms', 'Two writable owners', 'count', 'fault.partition.dualWritableMs', false, (e) => e.fault?.partition?.dualWritableMs ?? null),
  col('fault_promoted_after_ms', 'Promoted after', 'count', 'fault.partition.promotedAfterMs', false, (e) => e.fault?.partition?.promotedAfterMs ?? null),
  { ...col('fault_cache_stale', 'Cache stale', 'count', 'fault.cache.staleAfter', true, (e) => e.fault?.cache?.staleAfter ?? null, (e) => cacheStaleText(e.fault?.cache)),
    showIf: (e) => e.fault?.cache != null },
  col('fault_cache_stale_max_ms', 'Cache stale max age (ms)', 'count', 'fault.cache.staleAgeMs.max', false, (e) => e.fault?.cache?.staleAgeMs?.max ?? null),
  col('fault_cache_server_stale', 'Watch reads stale at the servers', 'count', 'fault.cache.serverStale', false, (e) => e.fault?.cache?.serverStale ?? null),
  col('fault_cache_flushes', 'Cache flushes', 'count', 'fault.cache.flushes.count', false, (e) => e.fault?.cache?.flushes?.count ?? null),
  col('fault_peak_server_rss_bytes', 'Peak server RSS', 'count', 'fault.peakServerMemory.maxBytes', true, (e) => e.fault?.peakServerMemory?.maxBytes ?? null,
    (e) => (e.fault?.peakServerMemory == null ? '–' : mib(e.fault.peakServerMemory.maxBytes))),
];

type CacheOutcome = NonNullable<NonNullable<ResultEntry['fault']>['cache']>;

/** `383 (max 6.00 s)`: stale reads the client's cache served after the fault, and the oldest; `–` without a cache. */
function cacheStaleText(c: CacheOutcome | null | undefined): string {
  if (c == null) return '–';
  return c.staleAgeMs === null ? String(c.staleAfter) : `${c.staleAfter} (max ${seconds(c.staleAgeMs.max)})`;
}

/** What the client's cache served across the fault, in one sentence, and what the driver did. */
function cacheLine(target: string, client: string, c: CacheOutcome): string {
  const ms = (v: number): string => `${(v / 1000).toFixed(2)} s`;
  const head = `${target} cache (${client}): ${c.keys} keys read through it in turn every ${c.readEveryMs} ms, one rewritten every ${c.writeEveryMs} ms on another connection. `;
  const stale = c.staleAgeMs === null
    ? `After the fault, none of ${c.readsAfter} reads returned a value the servers had replaced`
    : `After the fault, ${c.staleAfter} of ${c.readsAfter} reads returned a value the servers had replaced (age p50 ${ms(c.staleAgeMs.p50)}, p99 ${ms(c.staleAgeMs.p99)}, ` +
      `max ${ms(c.staleAgeMs.max)}: the longest the cache kept serving a replaced value), the last at +${ms(c.lastStaleAtMs ?? 0)}`;
  const before = `; before it, ${c.staleBefore} of ${c.readsBefore}`;
  const failed = c.failedReads > 0 ? `; ${c.failedReads} reads failed` : '';
  const servers = c.serverStale > 0 ? `; ${c.serverStale} reads were stale at the servers too (an acknowledged overwrite, or the key, lost: not the cache's doing)` : '';
  const odd = [c.missing > 0 ? `${c.missing} returned nothing` : '', c.mismatched > 0 ? `${c.mismatched} returned bytes that were no version of the key` : '',
    c.unattributed > 0 ? `${c.unattributed} stale ones could not be told apart (the read on the other connection failed)` : ''].filter((x) => x !== '');
  return `${head}${stale}${before}${failed}${servers}${odd.map((x) => `; ${x}`).join('')}. ${flushLine(c.flushes)}${hitsText(c)}.`;
}

/** What the driver did with its cache: when it emptied it, and why. */
function flushLine(f: CacheOutcome['flushes']): string {
  if (f === null) return 'The driver does not say when it empties its cache (GLIDE\'s lives in its core)';
  if (f.count === 0) return 'The driver never emptied its cache during the run';
  const why = [f.onConnection > 0 ? `${f.onConnection} on a connection that failed or closed (a Sentinel master switch closes one too)` : '',
    f.onSlotMap > 0 ? `${f.onSlotMap} when the slot map was read again` : '', f.onServer > 0 ? `${f.onServer} when the server said to drop everything` : '']
    .filter((x) => x !== '').join(', ');
  const shown = f.atMs.slice(0, 5).map((t) => `+${(t / 1000).toFixed(2)} s`).join(', ');
  const when = shown === '' ? '' : `: ${shown}${f.atMs.length > 5 || f.count > f.atMs.length ? ', …' : ''}`;
  return `The driver emptied its cache ${f.count} time${f.count === 1 ? '' : 's'}${why === '' ? '' : ` (${why})`}${when}`;
}

/** `; cache hits 2649 of 19911 lookups over the run`, when the driver counts them. */
function hitsText(c: CacheOutcome): string {
  return c.lookups === null || c.hits === null ? '' : `; cache hits ${c.hits} of ${c.lookups} lookups over the run`;
}

/** `812/790`: writes acknowledged by a minority primary while cut, and lost of them; `–` outside partitions. */
function minorityText(p: NonNullable<ResultEntry['fault']>['partition'] | undefined): string {
  if (p == null) return '–';
  if (p.minorityAckedWrites === null || p.minorityLostWrites === null) return 'see keys';
  return `${p.minorityAckedWrites}/${p.minorityLostWrites}`;
}

/** What a partition did, in one sentence: the sides, what the minority applied and lost, the promotion, the two owners. */
function partitionLine(target: string, p: NonNullable<NonNullable<ResultEntry['fault']>['partition']>): string {
  const ms = (v: number | null): string => (v === null ? '–' : `${(v / 1000).toFixed(2)} s`);
  const after = (v: number | null, what: string, from: string): string => (v === null ? `${what}: not seen within the run` : `${what} ${ms(v)} after ${from}`);
  const still = p.convergedAfterHealMs === null ? ', still so when the run ended' : '';
  const until = p.claims === 'role' ? ' before the sentinels named another master' : '';
  const acked = p.minorityAckedWrites === null ? '' : `; the client had ${p.minorityAckedWrites} of them acknowledged${until}, and ${p.minorityLostWrites ?? 0} of those were lost after healing`;
  if (p.minorityPrimaries.length === 0) return `${target} partition: the client cut from ${p.minority.join(', ')} for ${ms(p.cutMs)}`;
  const head = `${target} partition: minority side ${p.minority.join(', ')}, cut for ${ms(p.cutMs)}. ` +
    `The minority primar${p.minorityPrimaries.length === 1 ? 'y' : 'ies'} executed ${p.minorityAppliedWrites ?? 'an unknown number of'} writes while cut${acked}. `;
  if (p.claims === 'role') {
    return `${head}${after(p.minorityStoppedAfterMs, 'The sentinels named another master', 'the cut')} (clients that follow them move then; a Redis primary itself never refuses writes when cut off); ` +
      `${after(p.promotedAfterMs, 'a replica took the primary role', 'the cut')}; two servers were primary for ${ms(p.dualOwnershipMs)}${still}; ` +
      `${after(p.convergedAfterHealMs, 'the old primary stepped down', 'the links came back')}.`;
  }
  return `${head}${after(p.minorityStoppedAfterMs, 'They refused writes (cluster_state:fail)', 'the cut')}; ${after(p.promotedAfterMs, 'a replica claimed their slots', 'the cut')}; ` +
    `two nodes claimed the same slots for ${ms(p.dualOwnershipMs)} (both taking writes for ${ms(p.dualWritableMs)} of it)${still}; ` +
    `${after(p.convergedAfterHealMs, 'the claims agreed again', 'the links came back')}.`;
}

/** Said under a fault table whose run lost acknowledged writes: a measured rate, next to what Redis itself promises. */
export const LOST_WRITES_NOTE = 'Lost acknowledged writes are what this run measured, not a bound. The Redis Cluster specification: "Usually there are small windows where ' +
  'acknowledged writes can be lost. Windows to lose acknowledged writes are larger when clients are in a minority partition." WAIT "does not make Redis a ' +
  'strongly consistent store" (its documentation): a target with <NAME>_WAIT counts a write only once replicas had it, and still measures what a failover lost. ' +
  'Gate a run on them with --max-lost-writes.';

/** A WORKLOAD's text as a sentence shows it: at most 80 characters. */
export const workloadShown = (w: string): string => (w.length > 80 ? `${w.slice(0, 79)}…` : w);

/** What a fault run with a WORKLOAD found: lost writes per reply during the run and per key after healing (Lost acked counts both). */
function mixLine(target: string, m: NonNullable<NonNullable<ResultEntry['fault']>['mix']>): string {
  return `${target} WORKLOAD ${workloadShown(m.workload)} (${m.keys} ${m.keyType} keys): ${m.inRunMissing + m.inRunMismatched} replies during the run found an acknowledged write ` +
    `gone (${m.inRunMissing}) or changed (${m.inRunMismatched}), ${m.inRunUnverified} could not be judged; after healing, the whole state of ${m.keysChecked} keys was read back: ` +
    `${m.keysLostMissing} gone, ${m.keysLostDifferent} changed, ${m.keysUnknown} not judged (the model had lost track of them: a failed op, applied or not, or a bad reply counted above)` +
    `${m.keysUnchecked > 0 ? `, ${m.keysUnchecked} never answered` : ''}. Lost acked counts the replies and the keys`;
}

/** Lines under the table: each target's timeline as a sparkline, what the nemesis did, the client's retry settings. */
export function faultDetails(entries: readonly ResultEntry[], markdown: boolean): string[] {
  const faulted = entries.filter((e) => e.fault != null);
  if (faulted.length === 0) return [];
  const width = maxOf(faulted.map((e) => e.target.name.length));
  const block: string[] = [`Successful ops per ${faulted[0]?.fault?.timeline.bucketMs ?? 100} ms over the run (× = an op failed in that stretch):`];
  for (const e of faulted) {
    const f = e.fault as NonNullable<ResultEntry['fault']>;
    const at = f.injectedAtMs === null ? 'no fault injected' : `fault at ${seconds(f.injectedAtMs)} of ${seconds(f.runMs)}`;
    block.push(codeLine(`${e.target.name.padEnd(width)}  ${sparkline(f.timeline)}  ${at}`));
  }
  // In markdown a code block whose fence no name can close; untrusted text in the bullets is made inert.
  const fence = fenceFor(block);
  const lines: string[] = markdown ? [`${fence}text`, ...block, fence, ''] : ['', ...block, ''];
  const said = markdown ? mdText : (text: string): string => text;
  for (const e of faulted) {
    const f = e.fault as NonNullable<ResultEntry['fault']>;
    const bullet = markdown ? '- ' : '  ';
    for (const ev of f.events) lines.push(`${bullet}${said(`${e.target.name} +${(ev.atMs / 1000).toFixed(2)} s: ${ev.what}${ev.ok ? '' : ' (failed)'}`)}`);
    if (f.healed !== null) lines.push(`${bullet}${said(`${e.target.name} after the run: ${f.healed}`)}`);
    if (f.command !== null) {
      const c = f.command;
      const ended = `${c.exitCode !== null ? `exit status ${c.exitCode}` : c.signal !== null ? `ended by ${c.signal}` : 'did not finish'} after ${(c.durationMs / 1000).toFixed(2)} s${c.lastLines.length > 0 ? `; last output: ${c.lastLines.slice(-3).join(' / ')}` : ''}`;
      lines.push(`${bullet}${said(e.target.name)} FAULT_COMMAND ${markdown ? mdCode(c.command) : `\`${c.command}\``}: ${said(ended)}`);
    }
    if (e.verification.missing > 0) {
      lines.push(`${bullet}${said(e.target.name)}: ${e.verification.missing} GETs returned nothing for a key just written and acknowledged (${f.windowBadReads.missing} of them in the window)`);
    }
    if (f.mix != null) lines.push(`${bullet}${said(mixLine(e.target.name, f.mix))}`);
    if (f.partition != null) lines.push(`${bullet}${said(partitionLine(e.target.name, f.partition))}`);
    if (f.cache != null) lines.push(`${bullet}${said(cacheLine(e.target.name, e.target.client, f.cache))}`);
    if (f.ackedWritesUnchecked > 0) lines.push(`${bullet}${said(e.target.name)}: ${f.ackedWritesUnchecked} acknowledged writes could not be read back at all (the servers did not answer within the final check)`);
    lines.push(`${bullet}${said(`${e.target.name} client retries: ${f.clientRetries}`)}`);
  }
  if (faulted.some((e) => (e.fault?.lostAckedWrites ?? 0) > 0)) lines.push('', LOST_WRITES_NOTE);
  return lines;
}
