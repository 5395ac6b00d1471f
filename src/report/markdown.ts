import { chooseTimeUnit, formatNumber } from './columns.js';
import type { Capabilities } from '../targets/client.js';
import { type ResultEntry, type ResultsDocument } from './document.js';
import { groupEntries, conclusion, measurementNotes, missingBaselineNote, setupNotes } from './sentences.js';
import { describeParams, invocationsText, renderTable } from './table.js';
import { FAULT_COLUMNS, faultDetails } from './faults.js';
import { capacityLines } from './capacity.js';
import { LOAD_COLUMNS, loadDetails, loadParams, loadSetup } from './load.js';
import { commandLines, mixHeadline, mixParams } from './commands.js';
import { MAX_CHARTED_COMBINATIONS, type Chart } from './charts.js';
import { maxOf } from '../stats/extent.js';
import { mdCode, mdInline, mdLines, mdText, mermaidLabel } from './escape.js';

function chart(entries: readonly ResultEntry[]): string[] {
  const measured = entries.filter((e) => e.stats.meanMs !== null);
  if (measured.length === 0) return [];
  const unit = chooseTimeUnit(measured);
  const values = measured.map((e) => Number(formatNumber((e.stats.meanMs as number) * unit.perMs)));
  return [
    '```mermaid',
    'xychart-beta',
    `    title "Mean time per invocation (${unit.name}, lower is better)"`,
    `    x-axis [${measured.map((e) => mermaidLabel(e.target.name)).join(', ')}]`,
    `    y-axis "${unit.name}" 0 --> ${Math.ceil(maxOf(values) * 1.1)}`,
    `    bar [${values.join(', ')}]`,
    '```',
  ];
}

/** Untrusted text in a table cell or after a list marker. */
const escape = mdText;
const t = mdInline;

/** `RESP3, CLIENT TRACKING, WAIT; not CLUSTER SLOTS (redis 7.0.15)`: what the capability probe found. */
export function capabilitiesText(caps: Capabilities | null): string {
  if (caps === null) return 'not probed';
  const named: [string, boolean | null][] = [['RESP3', caps.resp3], ['CLIENT TRACKING', caps.tracking], ['CLUSTER SLOTS', caps.clusterSlots], ['WAIT', caps.wait]];
  const yes = named.filter(([, v]) => v === true).map(([n]) => n);
  const no = named.filter(([, v]) => v === false).map(([n]) => n);
  const unknown = named.filter(([, v]) => v === null).map(([n]) => n);
  const parts = [yes.join(', '), no.length > 0 ? `not ${no.join(', ')}` : '', unknown.length > 0 ? `not asked: ${unknown.join(', ')}` : ''].filter((p) => p !== '');
  const who = caps.serverName !== null ? ` (${caps.serverName}${caps.serverVersion !== null ? ` ${caps.serverVersion}` : ''})` : '';
  return `${parts.join('; ')}${who}`;
}

type EntryGroup = ReturnType<typeof groupEntries>[number];

/** Markdown images of the charts of one group (a caseKey or `sweep:<scenario>`), files relative to report.md. */
function images(charts: readonly Chart[], group: string): string[] {
  return charts.filter((c) => c.group === group).flatMap((c) => [`![${mdInline(c.title.replace(/[[\]]/g, ''))}](${encodeURI(c.file)})`, '']);
}

/** The report's head: run times, the environment, and each target as connected, with its warnings. */
function header(doc: ResultsDocument): string[] {
  const env = doc.environment;
  return [
    `# cachebench report ${t(doc.runId)}`,
    '',
    `Started ${t(doc.startedAt)}, finished ${t(doc.finishedAt)}${doc.aborted ? ' — **aborted by the user: partial results**' : ''}.`,
    '',
    '## Environment',
    '',
    `- cachebench ${t(env.toolVersion)}, Node ${t(env.node)}`,
    `- OS: ${t(env.os)}; CPU: ${t(env.cpu)} × ${t(String(env.cpuCount))}; memory ${t(String(env.memoryGiB))} GiB`,
    `- CPU layout: ${env.placement === null ? 'no local topology (not pinned)' : `${t(env.placement.layout)}: ${t(env.placement.description)}`}`,
    ...(env.network !== undefined ? [`- Network: ${t(env.network)}`] : []),
    `- Load average (1/5/15 min): ${t(env.loadAverage.before.join(' / '))} before, ${t(env.loadAverage.after.join(' / '))} after`,
    `- Round order seed: ${t(String(doc.seed))} (${mdCode(`--seed ${doc.seed}`)} repeats the same target order in every round)`,
    `- Baseline for Percent: ${doc.baseline.rule === 'explicit' ? `target ${t(doc.baseline.name ?? '')} (--baseline)` : 'the fastest target of each parameter combination'}`,
    ...(doc.mergedFrom !== undefined ? [`- Merged (\`cachebench merge\`) from ${doc.mergedFrom.length} results: runs ${t(doc.mergedFrom.slice(0, 20).map((m) => m.runId).join(', '))}${doc.mergedFrom.length > 20 ? ', …' : ''}`] : []),
    ...(doc.mergeNotes ?? []).map((note) => `- **Merge note**: ${escape(note)}`),
    '',
    '| Target | Servers | Mode | Server version | Primaries | Replicas | Client | Cache | Reads from | TLS | Server supports |',
    '|---|---|---|---|--:|--:|---|---|---|---|---|',
    ...env.targets.map((t) =>
      `| ${mdInline(t.name)} | ${mdInline(t.servers.join(', '))} | ${mdInline(t.mode)}${t.modeDetected ? ' (detected)' : ''} | ${mdInline(t.serverVersion)} | ${t.mode === 'proxy' ? '–' : mdInline(String(t.primaries))} | ${t.mode === 'proxy' ? '–' : mdInline(String(t.replicas))} | ${mdInline(`${t.client} ${t.clientVersion}`)} | ` +
      `${t.cache === 'tracking' ? `tracking, ${mdInline(String(t.cacheEntries ?? '?'))} entries` : 'off'} | ${t.readFrom === 'primary' ? 'primaries' : mdInline(`${t.readFrom}s`)} | ${t.tls ? 'yes' : 'no'} | ${mdInline(capabilitiesText(t.capabilities))} |`),
    '',
    ...env.targets.flatMap((t) => (t.warnings.length > 0 ? t.warnings.map((w) => `- ${escape(w)}`) : [])),
    ...(env.targets.some((t) => t.warnings.length > 0) ? [''] : []),
  ];
}

/** A throughput combination: its set-up, the table, details, charts, and each target's state, errors and notes. */
function loadGroup(group: EntryGroup, charts: readonly Chart[]): string[] {
  const out: string[] = [];
  out.push(mdText(loadSetup(group.entries) ?? ''), '');
  const capacity = capacityLines(group.entries, true);
  if (capacity.length > 0) out.push('#### Capacity', '', ...capacity);
  out.push(capacity.length > 0 ? '#### The step at each knee' : '#### Throughput', '', renderTable(group.entries, LOAD_COLUMNS, true), '');
  out.push(...loadDetails(group.entries, true), '');
  const commands = commandLines(group.entries, true);
  if (commands.length > 0) out.push('#### Per command', '', ...commands);
  out.push(...images(charts, group.key));
  for (const e of group.entries) {
    if (e.state !== 'completed') out.push(`- **${t(e.target.name)} ${t(e.state)}**${e.error ? `: ${t(e.error)}` : ''}`);
    if (e.verification.missing + e.verification.mismatched > 0) {
      out.push(`- **${t(e.target.name)} verification failed**: ${e.verification.missing} missing, ${e.verification.mismatched} mismatched of ${e.verification.reads} reads`);
    }
    for (const [message, count] of Object.entries(e.errors)) out.push(`- ${escape(e.target.name)}: ${t(String(count))}× ${t(message)}`);
    for (const note of measurementNotes(e)) out.push(`- ${escape(note)}`);
  }
  out.push('');
  return out;
}

/** A fault combination: what was run, the table, details, charts, and each target's state, errors and notes. */
function faultGroup(group: EntryGroup, charts: readonly Chart[]): string[] {
  const out: string[] = [];
  const first = group.entries[0];
  const f = first?.fault;
  const shape = f?.mix != null ? 'one client running the WORKLOAD on its preloaded keys' : 'the seed loop\'s shape';
  out.push(`Fault run: each target in turn runs ${shape} for ${f ? (f.runMs / 1000).toFixed(0) : '?'} s with FAULT=${t(f?.kind ?? '?')} at ${f ? (f.plannedAtMs / 1000).toFixed(1) : '?'} s; servers are healed before the next target. A failed op is recorded and the loop goes on.`, '');
  out.push('#### Under failure', '', renderTable(group.entries, FAULT_COLUMNS, true), '');
  out.push(...faultDetails(group.entries, true), '');
  const commands = commandLines(group.entries, true);
  if (commands.length > 0) out.push('#### Per command', '', ...commands);
  out.push(...images(charts, group.key));
  for (const e of group.entries) {
    if (e.state !== 'completed') out.push(`- **${t(e.target.name)} ${t(e.state)}**${e.error ? `: ${t(e.error)}` : ''}`);
    for (const [message, count] of Object.entries(e.errors)) out.push(`- ${escape(e.target.name)}: ${t(String(count))}× ${t(message)}`);
    for (const note of measurementNotes(e)) out.push(`- ${escape(note)}`);
  }
  out.push('');
  return out;
}

/** A latency combination: rounds and invocations, the table, charts, the conclusion, and each target's state and notes. */
function latencyGroup(doc: ResultsDocument, group: EntryGroup, charts: readonly Chart[]): string[] {
  const out: string[] = [];
  const first = group.entries[0];
  if (first) {
    const it = first.iterations;
    const pilot = it.pilotMs !== null ? ' (chosen by the pilot stage so that an iteration takes about ITERATION_TIME_MS)' : ' (INVOCATION_COUNT)';
    const mix = mixHeadline(group.entries);
    if (mix !== undefined) out.push(`${mdText(mix)}.`, '');
    out.push(`${it.rounds} ${it.rounds === 1 ? 'round' : 'rounds'} (targets interleaved in shuffled order) of ${invocationsText(group.entries)} per iteration${pilot}, stopped: ${t(it.stopReason)}. Times are per invocation.`, '');
  }
  out.push(renderTable(group.entries, undefined, true), '');
  const commands = commandLines(group.entries, true);
  if (commands.length > 0) out.push('#### Per command', '', ...commands);
  out.push(...chart(group.entries), '');
  out.push(...images(charts, group.key));
  const note = missingBaselineNote(doc, group.entries);
  if (note !== undefined) out.push(`- **${t(note)}**`);
  const said = conclusion(group.entries);
  if (said !== undefined) out.push(escape(said), '');
  for (const e of group.entries) {
    if (e.state !== 'completed') out.push(`- **${t(e.target.name)} ${t(e.state)}**${e.error ? `: ${t(e.error)}` : ''}`);
    if (e.verification.missing + e.verification.mismatched > 0) {
      out.push(`- **${t(e.target.name)} verification failed**: ${e.verification.missing} missing, ${e.verification.mismatched} mismatched of ${e.verification.reads} reads`);
    }
    for (const [message, count] of Object.entries(e.errors)) out.push(`- ${escape(e.target.name)}: ${t(String(count))}× ${t(message)}`);
    for (const note of measurementNotes(e)) out.push(`- **${escape(note)}**`);
    for (const note of setupNotes(e)) out.push(`- ${escape(note)}`);
  }
  out.push('');
  return out;
}

/** The scenario's effective keys and every target option, with where each value came from. */
function settingsDetails(scenario: ResultsDocument['scenarios'][number], env: ResultsDocument['environment']): string[] {
  const out: string[] = [];
  out.push('<details><summary>Effective parameters and their sources</summary>', '', '| Key | Value | Source |', '|---|---|---|');
  for (const [key, s] of Object.entries(scenario.settings)) out.push(`| ${t(key)} | ${t(JSON.stringify(s.value))} | ${t(String(s.source))} |`);
  for (const target of env.targets) for (const [key, o] of Object.entries(target.options)) out.push(`| ${t(key)} | ${t(String(o.value))} | ${t(String(o.source))} |`);
  out.push('', '</details>', '');
  return out;
}

const HOW_TO_READ: readonly string[] = [
  '## How to read this',
  '',
  '- **Mean**: mean time of one invocation of the seed loop (WRITE_COUNT × (1 SET + READ_RATIO GETs)), or with a WORKLOAD of one op of its mix, upper outliers removed; an iteration holds the invocations the pilot stage chose, as in BenchmarkDotNet.',
  '- **Error**: half-width of the 99.9% Student-t confidence interval of the mean, t(0.9995, N−1)·StdDev/√N. With N = 15, t = 4.14, so Error ≈ 1.07 × StdDev.',
  '- **Percent**: 100 × Mean / Mean of the baseline, with its 99.9% confidence interval from the paired rounds in brackets (Fieller\'s interval for a ratio of means); `~` marks a difference the interval does not show (it includes 100%). **Outliers**: iterations above Q3 + 1.5·IQR, left out of the statistics (kept in results.json).',
  '- **GET/SET pNN**: per-op latency percentiles from HDR histograms. **Verified / Missing / Mismatched**: every GET compared byte for byte with the value written.',
  '- **Under failure** (fault runs): **Window**: from the start of the first op that failed or stalled (succeeded after 1 s or more) after the fault to the completion of the first op that succeeded in time after the last failed or stalled op, the last being the one followed by a full second without either (`open`: until the end; `none`: no op failed or stalled). **Missing reads**: GETs that found nothing for a key just written, over the whole run. **Recovery**: from the fault to the first full second, after the window, with no failed op and as many successful ops as before the fault (90% of the median pre-fault second, or the slowest pre-fault second if lower, never under half the median). **p99 before/during/after**: successful ops before the fault, from the fault to the window\'s end (or recovery), and after. **Acked writes checked / Lost acked**: every SET that returned OK is read back on another connection (after ≥1 s while the run goes on, the rest after the servers were healed); nothing or other bytes = lost. **Applied unacked**: failed or timed-out SETs whose value was on the server afterwards, of those read back. **Bad reads in window**: GETs in the window that returned nothing or other bytes for a key just written. **Peak server RSS**: the largest resident memory of one local server process while the target ran. ' +
  '**Minority acked/lost** (partitions): writes the client had acknowledged, while cut, by a primary on the minority side (for Sentinel: before the sentinels named another master), and how many of them were lost after healing. ' +
  '**Two owners**: how long two nodes each claimed the same slots (or both the primary role), by their own CLUSTER NODES (INFO), sampled every 100 ms. ' +
  '**Cache stale** (`<NAME>_CACHE=tracking`): 12 keys spread over the slots are read through the client\'s cache in turn (every 5 ms) while another connection rewrites one every 50 ms with the next version; ' +
  'a read older than a version acknowledged before it was sent, while the servers (read at once on the other connection) hold the newer one, is a stale read the cache served. Shown: those after the fault, and the oldest (how long the newer version had been acknowledged): the longest the cache kept serving a replaced value.',
  '- **Throughput** (throughput runs, higher is better): **Ops/s**: successful ops per second, Mean over the measured 1-second intervals (every second kept), with **Error** (99.9% Student-t half-width) and **StdDev** over those seconds; **Percent**: 100 × Ops/s ÷ the baseline\'s (the highest, or --baseline), with Fieller\'s 99.9% interval, paired when the targets took turns in slices (measured second j of every target lies in the same stretch of the run, as a latency round holds one iteration of each), else for independent samples (`~`: it includes 100%). **Rate**: achieved ops/s of the RATE asked (open loop; `rate not achieved` below 99%). **GET/SET pNN**: from HDR histograms merged across workers and shards; in open loop from each op\'s intended send time (coordinated omission corrected), with the service time (actual send to reply) next to it. **Busiest node ÷ even share**: the largest share of ops on one cluster primary, by each key\'s slot, over 1/primaries (1.00 = even). **Peak RSS per worker**: resident memory of the load-generating process.',
  '- **Client** (shown when a target is not plain ioredis): driver, client-side cache, replica reads. **Cache hits**: the client library\'s own hit count over its lookups (warm-up included). **Stale**: reads that returned an older version than one already acknowledged (OVERWRITE_RATE), or nothing on a replica, with their share of all reads; **Stale age**: how long the newer version had been acknowledged when the stale read was sent (p50/p99/max).',
  '',
];

/**
 * report.md: environment header, a table and charts per parameter combination, sweeps, effective configuration.
 * `charts`: the SVG charts written next to report.md (buildCharts); none: tables and the mermaid chart only.
 */
export function renderMarkdown(doc: ResultsDocument, charts: readonly Chart[] = []): string {
  const out = header(doc);
  const groups = groupEntries(doc);
  if (charts.length > 0 && groups.length > MAX_CHARTED_COMBINATIONS) {
    out.push(`Charts are drawn for the first ${MAX_CHARTED_COMBINATIONS} of ${groups.length} parameter combinations and for every sweep; every combination has its table, and results.csv and results.json hold all of them.`, '');
  }
  for (const scenario of doc.scenarios) {
    out.push(`## Scenario ${mdInline(scenario.name)}`, '');
    if (scenario.description) out.push(mdLines(scenario.description), '');
    if (scenario.file) out.push(`File: ${mdCode(scenario.file)}`, '');
    for (const group of groups.filter((g) => g.scenario.name === scenario.name)) {
      const load = group.entries.some((e) => e.load != null);
      const mixed = group.entries.some((e) => e.mix !== undefined);
      const params = load ? loadParams(group.scenario.params) : mixed ? mixParams(group.scenario.params) : group.scenario.params;
      out.push(`### ${mdInline(describeParams(params))}`, '');
      if (load) out.push(...loadGroup(group, charts));
      else if (group.entries.some((e) => e.fault != null)) out.push(...faultGroup(group, charts));
      else out.push(...latencyGroup(doc, group, charts));
    }
    out.push(...images(charts, `sweep:${scenario.name}`));
    out.push(...settingsDetails(scenario, doc.environment));
  }
  out.push(...HOW_TO_READ);
  return out.join('\n');
}
