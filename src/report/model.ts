import { arch, cpus, release, totalmem, type } from 'node:os';
import type { ScenarioPlan, Setting, TargetConfig } from '../config/resolve.js';
import type { TargetOption } from '../config/keys.js';
import { describeSource } from '../config/errors.js';
import { redactSecrets } from '../config/redact.js';
import type { RunResult } from '../run/execute.js';
import type { CaseResult, LatencyTarget, TargetCaseResult } from '../run/result.js';
import { summarizeLoad, withPercent, type LoadResult } from '../load/summary.js';
import { ERROR_CONFIDENCE } from '../stats/describe.js';
import { pairedRatioInterval, percentBoundOf } from '../stats/ratio.js';
import { SCHEMA_VERSION, TOOL_VERSION, type PlacementRecord, type ResultEntry, type ResultsDocument, type SettingRecord } from './document.js';

/** The effective value of a target option as shown in reports; passwords are hidden. */
function optionValue(config: TargetConfig, option: TargetOption): string {
  switch (option) {
    case 'SERVERS':
      return config.servers.map((s) => s.display).join(',');
    case 'MODE':
      return config.mode;
    case 'CLIENT':
      return config.client;
    case 'CACHE':
      return config.cache;
    case 'CACHE_ENTRIES':
      return config.cache === 'tracking' ? String(config.cacheEntries) : '';
    case 'READ_FROM':
      return config.readFrom;
    case 'WAIT':
      return String(config.waitReplicas);
    case 'USERNAME':
      return config.username ?? '';
    case 'PASSWORD':
      return '(hidden)';
    case 'PASSWORD_FILE':
      return config.passwordFile ?? '';
    case 'TLS':
      return String(config.tls);
    case 'TLS_CA':
      return config.tlsCa?.file ?? '';
    case 'TLS_SERVERNAME':
      return config.tlsServername ?? '';
    case 'PROTOCOL':
      return config.protocol;
    case 'ITEM_SIZE_MAX':
      return String(config.itemSizeMax);
    case 'SENTINELS':
      return config.sentinel !== undefined ? config.servers.map((s) => s.display).join(',') : '';
    case 'SENTINEL_MASTER':
      return config.sentinel?.master ?? '';
    case 'SENTINEL_USERNAME':
      return config.sentinel?.username ?? '';
    case 'SENTINEL_PASSWORD':
      return '(hidden)';
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
/** Rounds where both series have a value. */
const pairCount = (a: readonly (number | null)[], b: readonly (number | null)[]): number => a.filter((x, i) => x !== null && b[i] != null).length;
/** Per-round samples with upper outliers (beyond the target's own fence) turned into gaps. */
const withoutOutliers = (rounds: readonly (number | null)[], fence: number): (number | null)[] => rounds.map((x) => (x !== null && x > fence ? null : x));
const finite = (x: number | undefined): number | null => (x === undefined || !Number.isFinite(x) ? null : x);

/** Settings of free text, which may quote a password (`FAULT_COMMAND: redis-cli -a …`): masked as they enter the results. */
const FREE_TEXT_SETTINGS: ReadonlySet<string> = new Set(['DESCRIPTION', 'FAULT_COMMAND']);

function settingsRecord(settings: ReadonlyMap<string, Setting>): Record<string, SettingRecord> {
  const out: Record<string, SettingRecord> = {};
  for (const [key, setting] of settings) {
    const value = FREE_TEXT_SETTINGS.has(key) && typeof setting.value === 'string' ? redactSecrets(setting.value) : setting.value;
    out[key] = { value, source: describeSource(setting.source) };
  }
  return out;
}

/**
 * The baseline of one parameter combination: the explicit one if it completed, else the fastest
 * *completed* target. A target dropped after failures (errored) or interrupted is never the
 * baseline: its few early samples say nothing about its speed. No baseline: Percent is NA.
 */
function baselineOf(c: CaseResult, explicit: string | undefined): LatencyTarget | undefined {
  if (c.kind !== 'latency') return undefined; // a time-based kind compares ops/s (finishLoadEntries) or nothing
  // Completed targets; in an interrupted case (every running target was cut at the same round,
  // so they stay comparable) the aborted ones. Never an errored target.
  const completed = c.targets.filter((t) => t.summary !== undefined && t.state === 'completed');
  const measured = completed.length > 0 ? completed : c.targets.filter((t) => t.summary !== undefined && t.state === 'aborted');
  if (explicit !== undefined) return measured.find((t) => t.name === explicit);
  return measured.reduce<LatencyTarget | undefined>((best,
    t) => (best === undefined || (t.summary?.mean ?? Infinity) < (best.summary?.mean ?? Infinity) ? t : best), undefined);
}

/**
 * Fills in Percent (higher is better) and the baseline flag of the throughput entries of one parameter combination,
 * `entries[from...]`: against the explicit baseline, else the target with the highest mean ops/s. Entries that are
 * shards of a merged run are shown, not compared. Also used by `cachebench merge`.
 */
export function finishLoadEntries(entries: ResultEntry[], from: number, explicitBaseline: string | undefined): void {
  const group = entries.slice(from).map((e, i) => ({ index: from + i, e }));
  const loaded = group.filter((x) => x.e.load !== null);
  if (loaded.length === 0) return;
  const { results, baseline } = withPercent(loaded.map((x) => ({ name: x.e.target.name, load: x.e.load as LoadResult, eligible: x.e.state !== 'errored' && ((x.e.load as LoadResult).mergedFrom > 1 || (x.e.load as LoadResult).shard === null || loaded.every((y) => y.e.load?.shard !== null)), index: x.index, e: x.e })), explicitBaseline);
  for (const r of results) {
    entries[r.index] = { ...r.e, load: r.load, baseline: r.name === baseline && r.eligible };
  }
}

/** A combination's rounds, invocations and pilot: a latency run's; none for a time-based kind. */
function latencyCaseFields(c: CaseResult): { rounds: number; invocations: number; pilotMs: number | null } {
  return c.kind === 'latency' ? { rounds: c.rounds, invocations: c.invocations, pilotMs: c.pilotMs } : { rounds: 0, invocations: 0, pilotMs: null };
}

/** The Mean/Error/StdDev columns of a latency target, and Percent with its paired interval against the baseline. */
function statsOf(t: TargetCaseResult, base: LatencyTarget | undefined): ResultEntry['stats'] {
  const lat = t.kind === 'latency' ? t : undefined;
  const s = lat?.summary;
  const paired = lat !== undefined && s !== undefined && base?.summary !== undefined && base.name !== t.name && t.state !== 'errored'
    ? [withoutOutliers(base.roundSamplesMs, base.summary.upperFence), withoutOutliers(lat.roundSamplesMs, s.upperFence)] as const
    : undefined;
  const interval = paired !== undefined ? pairedRatioInterval(paired[0], paired[1], ERROR_CONFIDENCE) : undefined;
  // With an interval, Percent is its point estimate (same rounds, same data), so it always lies inside it.
  const percent = interval !== undefined ? 100 * interval.ratio
    : s !== undefined && base?.summary !== undefined ? 100 * (s.mean / base.summary.mean) : undefined;
  return {
    n: s?.n ?? 0,
    outliers: s?.outliers ?? 0,
    meanMs: finite(s?.mean),
    errorMs: finite(s?.error),
    stdDevMs: finite(s?.stdDev),
    medianMs: finite(s?.median),
    minMs: finite(s?.min),
    maxMs: finite(s?.max),
    ciLowerMs: finite(s?.ciLower),
    ciUpperMs: finite(s?.ciUpper),
    percent: finite(percent),
    percentLower: percentBoundOf(interval?.lower),
    percentUpper: percentBoundOf(interval?.upper),
    percentPairs: paired !== undefined ? pairCount(paired[0], paired[1]) : null,
    confidence: ERROR_CONFIDENCE,
  };
}

/** One target's row of one parameter combination: the fields of its own kind filled, the others empty. */
function entryOf(run: RunResult, scenario: ScenarioPlan, c: CaseResult, t: TargetCaseResult, base: LatencyTarget | undefined): ResultEntry {
  const info = run.targets.find((x) => x.config.name === t.name)?.info;
  const lat = t.kind === 'latency' ? t : undefined; // the fields only a latency run has
  return {
    scenario: { name: scenario.name, file: scenario.file ?? null, description: redactSecrets(scenario.description), params: { ...c.params } },
    target: {
      name: t.name,
      mode: info?.mode ?? 'unknown',
      servers: info?.servers ?? [],
      client: info?.client ?? 'unknown',
      cache: info?.cache ?? 'off',
      readFrom: info?.readFrom ?? 'primary',
      wait: info?.waitReplicas ?? 0,
      retries: info?.retries ?? null,
    },
    state: t.state,
    error: t.error ?? null,
    baseline: base?.name === t.name,
    stats: statsOf(t, base),
    samplesMs: lat?.samplesMs ?? [],
    roundSamplesMs: lat?.roundSamplesMs ?? [],
    ops: t.ops,
    verification: t.verification,
    iterations: {
      ...(lat?.iterations ?? { warmup: 0, measured: 0, failed: 0 }), rounds: latencyCaseFields(c).rounds, stopReason: c.stopReason,
      invocations: lat?.invocations ?? 0, pilotMs: lat?.pilotMs ?? null,
      ...(lat !== undefined ? { minIterations: scenario.controls.minIterations } : {}),
    },
    errors: t.errors,
    undeletedKeys: t.undeletedKeys,
    staleness: lat?.staleness ?? null,
    cache: lat?.cache ?? null,
    fault: (t.kind === 'fault' ? t.fault : undefined) ?? null,
    load: t.kind === 'load' && t.load !== undefined ? summarizeLoad(t.load, scenario.controls.load, {
      ...(run.shard != null ? { shard: run.shard } : {}),
      ...(t.capacity !== undefined && scenario.controls.load.capacity !== null
        ? { rate: t.rate ?? 0, capacity: { ...scenario.controls.load.capacity, ...t.capacity } } : {}),
    }) : null,
    harness: lat?.harness ?? null,
    ...(lat?.mix !== undefined ? { mix: lat.mix } : {}),
  };
}

/** Where the run ran: the tool, Node, the machine, the placement, the load averages, each target as connected and configured. */
function environmentOf(run: RunResult, context: DocumentContext): ResultsDocument['environment'] {
  const cpuList = cpus();
  return {
    tool: 'cachebench',
    toolVersion: TOOL_VERSION,
    node: process.version,
    os: `${type()} ${release()} ${arch()}`,
    cpu: cpuList[0]?.model.trim() ?? 'unknown',
    cpuCount: cpuList.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    placement: context.placement ?? null,
    ...(context.network !== undefined ? { network: context.network } : {}),
    loadAverage: { before: run.loadAverage.before.map(round2), after: run.loadAverage.after.map(round2) },
    targets: run.targets.map((t) => ({
      name: t.config.name,
      servers: t.info.servers,
      mode: t.info.mode,
      modeDetected: t.info.modeDetected,
      serverVersion: t.info.serverVersion,
      primaries: t.info.primaries,
      replicas: t.info.replicas,
      client: t.info.client,
      clientVersion: t.info.clientVersion,
      tls: t.info.tls,
      cache: t.info.cache,
      cacheEntries: t.info.cacheEntries ?? null,
      readFrom: t.info.readFrom,
      capabilities: t.info.capabilities ?? null,
      warnings: t.info.warnings ?? [],
      options: Object.fromEntries(Object.entries(t.config.sources).map(([option, source]) => [
        `${t.config.name}_${option}`,
        { value: optionValue(t.config, option as TargetOption), source: describeSource(source) },
      ])),
    })),
  };
}

/** Turns a run's raw results into the results document that every format is rendered from. */
/** What the CLI knows of where the run ran: the CPU placement and the local servers' network. */
export interface DocumentContext {
  readonly placement?: PlacementRecord;
  /** `--network namespaces`: how the local servers were placed on their private network. */
  readonly network?: string;
}

export function buildDocument(run: RunResult, explicitBaseline: string | undefined, context: DocumentContext = {}): ResultsDocument {
  const results: ResultEntry[] = [];
  for (const { scenario, cases } of run.scenarios) {
    for (const c of cases) {
      const base = baselineOf(c, explicitBaseline);
      for (const t of c.targets) results.push(entryOf(run, scenario, c, t, base));
      finishLoadEntries(results, results.length - c.targets.length, explicitBaseline);
    }
  }
  return {
    schemaVersion: SCHEMA_VERSION,
    runId: run.runId,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    aborted: run.aborted,
    environment: environmentOf(run, context),
    seed: run.seed,
    cases: run.scenarios.flatMap(({ scenario, cases }) => cases.map((c) => ({
      scenario: scenario.name, params: { ...c.params }, ...latencyCaseFields(c), stopReason: c.stopReason, elapsedMs: c.elapsedMs,
      roundOrders: c.kind === 'latency' ? c.roundOrders : [],
    }))),
    baseline: { rule: explicitBaseline !== undefined ? 'explicit' : 'fastest', name: explicitBaseline ?? null },
    scenarios: run.scenarios.map(({ scenario }) => ({
      name: scenario.name,
      file: scenario.file ?? null,
      description: redactSecrets(scenario.description),
      settings: settingsRecord(scenario.settings),
    })),
    results,
  };
}
