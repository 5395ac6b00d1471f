import type { CapacitySummary, LoadResult } from '../load/summary.js';
import { objectiveText } from './capacity.js';
import { thinPercentiles } from '../load/capacity.js';
import { sparkline } from './sparkline.js';
import { col, commandsText, mib, msText, setupOf, type Column } from './columns.js';
import { type ResultEntry } from './document.js';
import { percentNumber, shardLabel } from './sentences.js';
import { maxOf, minOf } from '../stats/extent.js';
import { codeLine, fenceFor, mdText } from './escape.js';
import { clientLoadOf } from './client-load.js';
import { CLIENT_BOUND_BUSY } from '../load/record.js';

// `?? null`: results files written before throughput runs existed have no `load` field.
const L = (e: ResultEntry): LoadResult | null => e.load ?? null;
const opsText = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));

/**
 * `~98% [96–101%]`: Percent with its interval, written as latency runs write theirs (formatPercent); `~` where the
 * interval includes 100% (no difference shown); `72% [unbounded]` without an interval; `100%` for the baseline.
 */
export function percentText(e: ResultEntry): string {
  const t = L(e)?.throughput;
  if (t === undefined || t.percent === null) return '–';
  if (e.baseline) return '100%';
  if (t.percentLower === null || t.percentUpper === null) return `${percentNumber(t.percent)} [${e.state === 'errored' ? 'errored' : 'unbounded'}]`;
  const unclear = t.percentLower <= 100 && t.percentUpper >= 100;
  return `${unclear ? '~' : ''}${percentNumber(t.percent)} [${percentNumber(t.percentLower).slice(0, -1)}–${percentNumber(t.percentUpper)}]`;
}

/** `closed` / `10,000 of 10,000` / `7,012 of 10,000 (rate not achieved)`. */
export function rateText(e: ResultEntry): string {
  const r = L(e)?.rate;
  if (r === undefined) return '–';
  if (r.targetOpsPerSec === null) return 'closed loop';
  return `${opsText(r.achievedOpsPerSec)} of ${opsText(r.targetOpsPerSec)}${r.achieved === false ? ' (rate not achieved)' : ''}`;
}

/** The GET percentiles in the run's view: from the intended send time in open loop (CO corrected), service time in closed loop. */
const viewGet = (e: ResultEntry): LoadResult['latency']['service']['get'] | undefined => {
  const l = L(e)?.latency;
  return l === undefined ? undefined : (l.intended ?? l.service).get;
};

/** Largest share of ops on one primary ÷ the even share (1.00 = balanced). */
export function nodeImbalance(e: ResultEntry): number | null {
  const nodes = L(e)?.nodes;
  if (nodes == null || nodes.length === 0) return null;
  const even = 1 / nodes.length;
  return maxOf(nodes.map((n) => n.share)) / even;
}

/**
 * The "Throughput" table's columns, and the load fields of results.csv (one definition for both; CSV has them all,
 * raw). ops/s statistics are over the measured 1-second intervals; higher is better.
 */
/** The servers' CPU µs per measured op (every node of a cluster together); null where the servers do not tell. */
function serverCpuPerOp(e: ResultEntry): number | null {
  const r = e.load?.record;
  const cpu = r?.serverCpu;
  // Only over every measured window: a window left out (a node that did not answer) would make the cost look lower.
  if (r == null || cpu == null || cpu.windows !== cpu.planned) return null;
  const ops = r.sets + r.gets;
  return ops > 0 ? (cpu.ms * 1000) / ops : null;
}

const CAP = (e: ResultEntry): CapacitySummary | undefined => e.load?.capacity ?? undefined;

/**
 * MB/s on the wire (requests and replies; under TLS, before encryption) at the row's mean rate of ops, failed ones
 * included (bytes per op are over every op); null where the client does not count its bytes.
 */
function wireMBps(e: ResultEntry): number | null {
  const perOp = clientLoadOf(e)?.wireBytesPerOp ?? null;
  const t = e.load?.throughput;
  if (perOp === null || t == null || t.mean === null || !(t.n > 0)) return null;
  return (perOp * (t.mean + (e.ops.set.errors + e.ops.get.errors) / t.n)) / 1e6;
}

/** The CSV cell of a capacity row's steps: each one's offered and sent rate, the objective's percentiles, its verdict, client-bound and thin. */
function stepsCell(e: ResultEntry): string | null {
  const c = CAP(e);
  if (c === undefined) return null;
  const keys = c.objectives.map((o) => `p${o.percentile}`);
  const latency = (x: CapacitySummary['steps'][number]): string => keys.map((k) => {
    const v = x.latencyMs[k];
    return `${k}=${v == null || !Number.isFinite(v) ? '' : v.toFixed(2)}`;
  }).join('|');
  const flags = (x: CapacitySummary['steps'][number]): string => `${x.clientBound ? '/client-bound' : ''}${thinPercentiles(c, x).length > 0 ? '/thin' : ''}`;
  return c.steps.map((x) => `${Math.round(x.offered)}/${Math.round(x.achieved)}/${latency(x)}/${x.met ? 'met' : 'failed'}${flags(x)}`).join(';');
}

export const LOAD_COLUMNS: readonly Column[] = [
  col('target', 'Target', 'text', 'target.name', true, (e) => e.target.name, (e) => `${e.target.name}${shardLabel(e)}`),
  { ...col('setup', 'Client', 'text', 'target.client', true, setupOf) },
  col('load_ops_per_sec', 'Ops/s', 'count', 'load.throughput.mean', true, (e) => L(e)?.throughput.mean ?? null, (e) => opsText(L(e)?.throughput.mean)),
  col('load_error_ops_per_sec', 'Error', 'count', 'load.throughput.error', true, (e) => L(e)?.throughput.error ?? null, (e) => opsText(L(e)?.throughput.error)),
  col('load_stddev_ops_per_sec', 'StdDev', 'count', 'load.throughput.stdDev', true, (e) => L(e)?.throughput.stdDev ?? null, (e) => opsText(L(e)?.throughput.stdDev)),
  col('load_seconds', 'Seconds', 'count', 'load.throughput.n', false, (e) => L(e)?.throughput.n ?? null),
  col('load_percent', 'Percent (higher is better)', 'percent', 'load.throughput.percent', true, (e) => L(e)?.throughput.percent ?? null, percentText),
  col('load_percent_lower', 'Percent lower', 'percent', 'load.throughput.percentLower', false, (e) => L(e)?.throughput.percentLower ?? null),
  col('load_percent_upper', 'Percent upper', 'percent', 'load.throughput.percentUpper', false, (e) => L(e)?.throughput.percentUpper ?? null),
  col('load_rate_target', 'Rate asked', 'count', 'load.rate.targetOpsPerSec', false, (e) => L(e)?.rate.targetOpsPerSec ?? null),
  col('load_rate_achieved', 'Rate (ops/s)', 'count', 'load.rate.achievedOpsPerSec', true, (e) => L(e)?.rate.achievedOpsPerSec ?? null, rateText),
  col('load_get_p50_us', 'GET p50 (ms)', 'us', 'load.latency.(intended ?? service).get.p50Us', true, (e) => viewGet(e)?.p50Us ?? null, (e) => msText(viewGet(e)?.p50Us)),
  col('load_get_p99_us', 'GET p99 (ms)', 'us', 'load.latency.(intended ?? service).get.p99Us', true, (e) => viewGet(e)?.p99Us ?? null, (e) => msText(viewGet(e)?.p99Us)),
  col('load_get_p999_us', 'GET p99.9 (ms)', 'us', 'load.latency.(intended ?? service).get.p999Us', true, (e) => viewGet(e)?.p999Us ?? null, (e) => msText(viewGet(e)?.p999Us)),
  { ...col('load_get_service_p99_us', 'GET service p99 (ms)', 'us', 'load.latency.service.get.p99Us', true, (e) => (L(e)?.latency.intended == null ? null : L(e)?.latency.service.get.p99Us ?? null),
    (e) => msText(L(e)?.latency.service.get.p99Us)), showIf: (e) => L(e)?.latency.intended != null },
  col('load_set_p99_us', 'SET p99 (ms)', 'us', 'load.latency.(intended ?? service).set.p99Us', true, (e) => (L(e)?.latency.intended ?? L(e)?.latency.service)?.set.p99Us ?? null,
    (e) => msText((L(e)?.latency.intended ?? L(e)?.latency.service)?.set.p99Us)),
  col('load_failed_ops', 'Failed ops', 'count', 'ops.set.errors + ops.get.errors', true, (e) => (L(e) === null ? null : e.ops.set.errors + e.ops.get.errors)),
  col('load_verified', 'Verified', 'count', 'verification.verified', true, (e) => (L(e) === null ? null : e.verification.verified)),
  col('load_bad_reads', 'Missing/Mismatched', 'text', 'verification.missing / mismatched', true, (e) => (L(e) === null ? null : `${e.verification.missing}/${e.verification.mismatched}`)),
  { ...col('load_hit_rate', 'Hit rate', 'percent', 'load.keyspace.hitRate', true, (e) => (L(e)?.keyspace?.hitRate == null ? null : 100 * (L(e)?.keyspace?.hitRate ?? 0)),
    (e) => (L(e)?.keyspace?.hitRate == null ? '–' : `${(100 * (L(e)?.keyspace?.hitRate ?? 0)).toFixed(1)}%`)), showIf: (e) => L(e)?.keyspace != null },
  col('load_hits', 'Hits', 'count', 'load.keyspace.hits', false, (e) => L(e)?.keyspace?.hits ?? null),
  col('load_misses', 'Misses', 'count', 'load.keyspace.misses', false, (e) => L(e)?.keyspace?.misses ?? null),
  { ...col('load_node_imbalance', 'Busiest node ÷ even share', 'count', 'max(load.nodes[].share) × nodes', true, nodeImbalance, (e) => { const x = nodeImbalance(e); return x === null ? '–' : x.toFixed(2); }),
    showIf: (e) => L(e)?.nodes != null },
  col('load_client_busy', 'Client busy', 'percent', 'max(load.workers[].client.busy)', true, (e) => { const c = clientLoadOf(e); return c === null ? null : 100 * c.busy; },
    (e) => { const c = clientLoadOf(e); return c === null ? '–' : `${Math.floor(100 * c.busy)}%${c.by === 'CPU' ? ' client-bound (CPU)' : c.bound ? ' client-bound' : ''}`; }),
  col('load_client_cpu_us_per_op', 'Client CPU/op (µs)', 'us', 'load.workers[].client.cpuUsPerOp (weighted by ops)', true, (e) => clientLoadOf(e)?.cpuUsPerOp ?? null,
    (e) => { const x = clientLoadOf(e)?.cpuUsPerOp; return x == null ? '–' : x.toFixed(1); }),
  { ...col('load_wire_mb_per_sec', 'Wire (MB/s)', 'count', 'load.workers[].client.wireBytesPerOp (weighted by ops) × (load.throughput.mean + failed ops ÷ load.throughput.n) ÷ 10^6; under TLS, before encryption', true, wireMBps,
    (e) => { const x = wireMBps(e); return x === null ? '–' : x.toFixed(x < 10 ? 2 : 1); }), showIf: (e) => wireMBps(e) !== null },
  col('load_wire_bytes_per_op', 'Wire bytes/op', 'count', 'load.workers[].client.wireBytesPerOp (weighted by ops)', false, (e) => clientLoadOf(e)?.wireBytesPerOp ?? null),
  col('load_server_cpu_us_per_op', 'Server CPU/op (µs)', 'us', 'load.record.serverCpu.ms × 1000 ÷ (sets + gets)', true, (e) => serverCpuPerOp(e),
    (e) => { const x = serverCpuPerOp(e); return x === null ? '–' : x.toFixed(1); }),
  { ...col('load_server_bytes_per_key', 'Server memory/key (B)', 'count', 'load.record.serverMemory.bytesPerKey', true, (e) => L(e)?.record.serverMemory?.bytesPerKey ?? null,
    (e) => { const x = L(e)?.record.serverMemory?.bytesPerKey; return x == null ? '–' : opsText(x); }), showIf: (e) => L(e)?.record.serverMemory != null },
  col('load_capacity_objective', 'Objective', 'text', 'load.capacity.objectives, maxErrorShare', false, (e) => (CAP(e) === undefined ? null : objectiveText(CAP(e) as CapacitySummary))),
  col('load_capacity_knee', 'Knee (ops/s)', 'count', 'load.capacity.knee', false, (e) => CAP(e)?.knee ?? null),
  col('load_capacity_interval_low', 'Knee interval low', 'count', 'load.capacity.interval[0]', false, (e) => CAP(e)?.interval?.[0] ?? null),
  col('load_capacity_interval_high', 'Knee interval high', 'count', 'load.capacity.interval[1]', false, (e) => CAP(e)?.interval?.[1] ?? null),
  col('load_capacity_lower_bound', 'Lower bound (client-bound)', 'count', 'load.capacity.lowerBound', false, (e) => CAP(e)?.lowerBound ?? null),
  col('load_capacity_stop', 'Search stopped', 'text', 'load.capacity.stop', false, (e) => CAP(e)?.stop ?? null),
  col('load_capacity_steps', 'Steps', 'text', 'load.capacity.steps: offered/sent/each objective\'s percentile in ms (p99=1.23|p99.9=4.56)/met or failed[/client-bound][/thin], ";" between', false,
    (e) => stepsCell(e)),
  col('load_workload', 'WORKLOAD', 'text', 'load.settings.workload', false, (e) => L(e)?.settings.workload ?? null),
  col('load_value_sizes', 'VALUE_SIZES', 'text', 'load.settings.valueSizes', false, (e) => L(e)?.settings.valueSizes ?? null),
  col('load_ttl_seconds', 'TTLs (s)', 'text', 'load.settings.ttl', false, (e) => L(e)?.settings.ttl ?? null),
  col('load_unverified', 'Unverified', 'count', 'load.record.unverified', false, (e) => L(e)?.record.unverified ?? null),
  col('load_values_written', 'Values written', 'count', 'load.values.written', false, (e) => L(e)?.values?.written ?? null),
  col('load_values_mean_bytes', 'Value mean (B)', 'count', 'load.values.meanBytes', false, (e) => L(e)?.values?.meanBytes ?? null),
  col('load_values_p99_bytes', 'Value p99 (B)', 'count', 'load.values.p99Bytes', false, (e) => L(e)?.values?.p99Bytes ?? null),
  col('load_commands', 'Per command', 'text', 'load.commands: COMMAND:ops=,ops_per_sec=,p50_us=,p99_us=,p999_us= (intended where open loop),failed=,verified=,missing=,mismatched=,' +
  'unverified=,bytes_out=,bytes_in= per answered op, ";" between', false, (e) => commandsCell(e)),
  col('load_peak_rss_bytes', 'Peak RSS per worker', 'count', 'max(load.workers[].peakRssBytes)', true, (e) => { const w = L(e)?.workers ?? []; return w.length === 0 ? null : maxOf(w.map((x) => x.peakRssBytes)); },
    (e) => { const w = L(e)?.workers ?? []; return w.length === 0 ? '–' : mib(maxOf(w.map((x) => x.peakRssBytes))); }),
];

/** A WORKLOAD row's per-command results in one CSV cell; null without a WORKLOAD. */
function commandsCell(e: ResultEntry): string | null {
  const l = L(e);
  return l?.commands === undefined ? null : commandsText(l.commands, l.latency.intended !== null);
}

/** What the servers spent on a row: CPU over its measured seconds, and memory per key of its KEYSPACE, where they tell. */
function serverCostLines(e: ResultEntry, label: string): string[] {
  const l = e.load as LoadResult;
  const lines: string[] = [];
  const unitOf = (source: string, n: number): string => {
    const [one, many] = source === '/proc' ? ['local process', 'local processes'] : source === 'stats' ? ['server', 'servers'] : ['node', 'nodes'];
    return `${n} ${n === 1 ? one : many}`;
  };
  const cpu = l.record.serverCpu;
  const perOp = serverCpuPerOp(e);
  if (cpu != null) {
    const servers = `${label} servers (${unitOf(cpu.source, cpu.nodes)}, ${cpu.source} over its measured seconds)`;
    lines.push(perOp === null
      ? `${servers}: CPU read in ${cpu.windows} of ${cpu.planned} measured windows (a node did not answer, or its CPU time went back: a restart), so no cost per op`
      : `${servers}: ${opsText(cpu.ms)} ms of CPU, ${perOp.toFixed(1)} µs per op${perOp > 0 ? `, ${opsText(1e6 / perOp)} ops per server CPU-second` : ''}`);
  }
  const memory = l.record.serverMemory;
  if (memory != null) {
    // A WORKLOAD's keys are of its data type, its values of its own sizes (said with its per-command table).
    const payload = l.settings.workload === undefined ? e.scenario.params['PAYLOAD_BYTES'] : undefined;
    const what = l.settings.workload !== undefined ? ' (the WORKLOAD\'s data type and values)' : '';
    lines.push(`${label} servers' memory (${unitOf(memory.source, memory.nodes)}, ${memory.source} before the preload and during the load): ` +
      `${opsText(memory.bytesPerKey)} bytes per key over the ${opsText(memory.keys)} keys they gained${payload !== undefined ? ` (${opsText(payload)}-byte values)` : what}`);
  }
  return lines;
}

/** Lines under the Throughput table: the settings, rate warnings, per-second sparklines, the per-node split, the workers. */
export function loadDetails(entries: readonly ResultEntry[], markdown: boolean): string[] {
  const loaded = entries.filter((e) => e.load !== null);
  const first = loaded[0]?.load;
  if (first == null) return [];
  const s = first.settings;
  const bullet = markdown ? '- ' : '  ';
  // Markdown: names (from a results file) made inert, the sparklines in a code block no name can close.
  const said = markdown ? mdText : (text: string): string => text;
  const lines: string[] = [];
  for (const e of loaded) {
    const r = (e.load as LoadResult).rate;
    const late = (e.load as LoadResult).record.lateStartMs ?? 0;
    if (late >= 100) lines.push(`${bullet}${markdown ? '**' : ''}${said(`${e.target.name}${shardLabel(e)}`)}: started ${(late / 1000).toFixed(2)} s after its start time (connecting or preloading took longer): its seconds are not aligned with the other shards'${markdown ? '**' : ''}`);
    if (r.achieved === false) lines.push(`${bullet}${markdown ? '**' : ''}${said(e.target.name)}: rate not achieved: ${opsText(r.achievedOpsPerSec)} of ${opsText(r.targetOpsPerSec)} ops/s${markdown ? '**' : ''}`);
  }
  const label = (e: ResultEntry): string => `${e.target.name}${shardLabel(e)}`;
  const width = maxOf(loaded.map((e) => label(e).length));
  const block: string[] = [];
  block.push(`Ops per second over the ${s.durationSeconds} measured seconds (× = a failed op in that second), and ${first.latency.view === 'intended' ? 'CO-corrected ' : ''}p99 per second:`);
  for (const e of loaded) {
    const l = e.load as LoadResult;
    const p99 = l.series.map((x) => x.p99Us ?? 0);
    block.push(codeLine(`${label(e).padEnd(width)}  ops ${sparkline({ ok: l.series.map((x) => x.ops), failed: l.series.map((x) => x.errors) })}  ${opsText(l.throughput.min)}–${opsText(l.throughput.max)}/s`));
    block.push(`${''.padEnd(width)}  p99 ${sparkline({ ok: p99, failed: [] }, 60, 'mean')}  ${msText(minOf(p99))}–${msText(maxOf(p99))} ms`);
  }
  const fence = fenceFor(block);
  lines.push(...(markdown ? [`${fence}text`, ...block, fence] : ['', ...block]), '');
  for (const e of loaded) {
    const l = e.load as LoadResult;
    if (l.nodes !== null && l.nodes.length > 0) {
      lines.push(`${bullet}${said(`${label(e)} per primary (by each key's slot): ${l.nodes.map((n) => `${n.node} [${n.slots}] ${(100 * n.share).toFixed(1)}% of ops, p50/p99 ${msText(n.p50Us)}/${msText(n.p99Us)} ms${n.errors > 0 ? `, ${n.errors} failed` : ''}`).join('; ')}`)}`);
    }
    if (l.latency.intended !== null) {
      const i = l.latency.intended.get;
      const sv = l.latency.service.get;
      lines.push(`${bullet}${said(label(e))} GET latency from the intended send time p50/p99/p99.9/max ${msText(i.p50Us)}/${msText(i.p99Us)}/${msText(i.p999Us)}/${msText(i.maxUs)} ms; service time ${msText(sv.p50Us)}/${msText(sv.p99Us)}/${msText(sv.p999Us)}/${msText(sv.maxUs)} ms`);
    }
    lines.push(...serverCostLines(e, label(e)).map((line) => `${bullet}${said(line)}`));
    const client = clientLoadOf(e);
    if (client !== null) {
      const mbps = wireMBps(e);
      const what = `${label(e)} load generator (${client.workers === 1 ? 'its worker' : `busiest of ${client.workers} workers`}, over its target's seconds): event loop busy ` +
        `${Math.floor(100 * client.busy)}%, ${client.cpuUsPerOp === null ? 'CPU per op unknown' : `${client.cpuUsPerOp.toFixed(1)} µs CPU per op`}, event-loop delay p99 up to ` +
        `${client.loopDelayP99Ms.toFixed(1)} ms, GC ${client.gcMsPerSecond.toFixed(0)} ms per second` +
        (client.wireBytesPerOp === null ? '' : `, ${(client.wireBytesPerOp / 1000).toFixed(1)} KB on the wire per op (requests and replies)` +
          `${mbps === null ? '' : `: ${mbps.toFixed(1)} MB/s`}`) +
          (client.cpuShare !== null && client.cores !== null
            ? `; ${client.workers === 1 ? 'it' : 'its workers together'} used ${Math.floor(100 * client.cpuShare)}% of the ${client.cores} CPU${client.cores === 1 ? '' : 's'} ${client.workers === 1 ? 'it' : 'they'} may run on`
            : '');
      lines.push(`${bullet}${said(what)}`);
      if (client.bound) {
        const why = client.by === 'CPU'
          ? `its load generator's workers together used ${Math.floor(100 * (client.cpuShare ?? 0))}% of the ${client.cores ?? '?'} CPU${client.cores === 1 ? '' : 's'} they may run on`
          : `its load generator's event loop was busy ${Math.floor(100 * client.busy)}%`;
        const fix = client.by === 'CPU'
          ? 'Fix: give the load generator more CPUs (another --cpu-layout, or a machine of its own; WORKERS up to its CPUs), more --shard machines, or a leaner client set-up'
          : 'Fix: more WORKERS (one per free core), more --shard machines, or a leaner client set-up (PIPELINE, fewer CLIENTS per connection)';
        lines.push(`${bullet}${markdown ? '**' : ''}${said(`${label(e)} is client-bound: ${why} (${(100 * CLIENT_BOUND_BUSY).toFixed(0)}% or more), so these ops/s and ` +
          `latencies measure cachebench, not the servers. ${fix}`)}${markdown ? '**' : ''}`);
      }
    }
    if (l.workers.length > 1) lines.push(`${bullet}${said(`${label(e)} workers: ${l.workers.map((w) => `${w.worker} ${opsText(w.ops)} ops, peak RSS ${mib(w.peakRssBytes)}`).join('; ')}`)}`);
  }
  // A Percent whose either side was client-bound compares the load generator, at least in part, not the clusters.
  const baseline = loaded.find((e) => e.baseline);
  const bound = (e: ResultEntry): boolean => clientLoadOf(e)?.bound === true;
  const suspect = baseline === undefined ? [] : loaded.filter((e) => !e.baseline && e.load?.throughput.percent != null && (bound(e) || bound(baseline)));
  if (baseline !== undefined && suspect.length > 0) {
    const who = bound(baseline) && suspect.every(bound) ? 'both sides were' : bound(baseline) ? `the baseline ${label(baseline)} was` : 'the compared target was';
    lines.push(`${bullet}${markdown ? '**' : ''}${said(`The Percent of ${suspect.map(label).join(', ')} against ${label(baseline)} compares the harness, not the clusters: ` +
      `${who} client-bound`)}${markdown ? '**' : ''}`);
  }
  return lines;
}

/** One line describing a throughput run's set-up. */
export function loadSetup(entries: readonly ResultEntry[]): string | undefined {
  const l = entries.find((e) => e.load !== null)?.load;
  if (l == null) return undefined;
  const s = l.settings;
  const loop = s.rate === null ? 'closed loop' : `open loop at ${opsText(s.rate)} ops/s${l.shard !== null ? ` (this shard: ${opsText(l.rate.targetOpsPerSec)})` : ''}, latency from each op's intended send time`;
  const keys = s.keyspace === 0 ? 'fresh keys (SET, READ_RATIO verified GETs, DEL)'
    : l.trace !== undefined ? `the trace's ${s.keyspace.toLocaleString('en-US')} keys (none preloaded: the replay starts from an empty cache), ${s.workload ?? 'a trace'} (each key written by one client; every reply verified)`
      : `${s.keyspace.toLocaleString('en-US')} preloaded keys, ${s.distribution}${s.workload !== undefined ? `, WORKLOAD ${s.workload} (each key written by one client; every reply verified)` : ''}`;
  const slices = s.sliceSeconds != null
    ? `the targets taking turns in ${s.sliceSeconds}-s slices, the order rotated each stretch (Percent's interval pairs measured second j of each target: they lie in the same stretch)`
    : 'each target in turn';
  // Why a target's client is cachebench's own: said where a reader meets it (see config/resolve.ts loadRunClients).
  const resp = entries.some((e) => e.target.client === 'resp')
    ? ' `resp` is cachebench\'s own RESP client, the default of throughput and capacity runs where a target names no client: it costs the load generator the least CPU per op, so the numbers are the servers\' more than a driver\'s.'
    : '';
  if (l.capacity !== undefined) {
    const steps = s.startAt !== null
      ? `a planned staircase from START_AT ${s.startAt}: ×${l.capacity.growth} per step, at most ${l.capacity.maxSteps} steps, the same on every shard${l.shard !== null ? ` (this is shard ${l.shard.index}/${l.shard.of}: it offered 1/${l.shard.of} of each rate)` : ''}`
      : `×${l.capacity.growth} per step until the objective fails, then bisection to ${Math.round(100 * l.capacity.precision)}%, at most ${l.capacity.maxSteps} steps`;
    return `Capacity run, each target in turn: open-loop steps of ${s.warmupSeconds} s warm-up + ${s.durationSeconds} s measured from ${opsText(l.capacity.startRate)} ops/s (${steps}); ${s.workers} worker${s.workers === 1 ? '' : 's'} × ${s.clients} clients on ${s.connections} connection${s.connections === 1 ? '' : 's'} (pipeline ${s.pipeline}); ${keys}.${resp}`;
  }
  return `Throughput run, ${slices}: ${s.warmupSeconds} s warm-up + ${s.durationSeconds} s measured per target; ${s.workers} worker${s.workers === 1 ? '' : 's'} × ${s.clients} clients on ${s.connections} connection${s.connections === 1 ? '' : 's'} (pipeline ${s.pipeline}); ${loop}; ${keys}${s.startAt !== null ? `; started at ${s.startAt}` : ''}. Ops/s statistics are over the 1-second intervals.${resp}`;
}

/** The parameters that apply to a throughput run (WRITE_COUNT does not: clients write keys as they go). */
export function loadParams(params: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(params).filter(([k]) => k !== 'WRITE_COUNT'));
}
