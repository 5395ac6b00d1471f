import type { RunControls, RunPlan, ScenarioPlan, TargetConfig } from '../config/resolve.js';
import { localItemSizeMax } from '../config/target.js';
import { ITEM_OVERHEAD_BYTES } from '../config/keys.js';
import { ConfigError } from '../config/errors.js';
import { probeCapabilities, requireCapabilities } from '../targets/capabilities.js';
import { probeTarget } from '../targets/probe.js';
import { driverFor } from '../targets/drivers.js';
import type { CacheClient, ConnectedTarget } from '../targets/client.js';
import { keyPrefix } from '../workload/seed-loop.js';
import { loadavg } from 'node:os';
import { seededRandom } from '../measure/random.js';
import { runCase } from '../latency/runner.js';
import { capacityCase, faultCase, latencyCase, loadCase } from './kinds.js';
import type { CaseResult, ProgressEvent } from './result.js';
import { runFaultCase, type FaultCaseOptions, type LocalInjectors } from '../faults/case.js';
import { caseSpacingMs, runLoadCase, type LoadCaseOptions } from '../load/case.js';
import { capacitySpanMs, runCapacityCase } from '../load/capacity-case.js';

export interface ScenarioResult {
  readonly scenario: ScenarioPlan;
  readonly cases: readonly CaseResult[];
}

export interface RunResult {
  readonly runId: string;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly targets: readonly ConnectedTarget[];
  readonly scenarios: readonly ScenarioResult[];
  readonly aborted: boolean;
  /** Seed of the round shuffles (`--seed` repeats them). */
  readonly seed: number;
  /** The machine's 1/5/15-minute load averages just before the first and after the last iteration. */
  readonly loadAverage: { readonly before: readonly number[]; readonly after: readonly number[] };
  /** `--shard i/N` of a distributed throughput run; null: not sharded. */
  readonly shard?: { readonly index: number; readonly of: number } | null;
}

export type RunProgressEvent =
  | ProgressEvent
  | { readonly kind: 'connected'; readonly targets: readonly ConnectedTarget[] }
  | { readonly kind: 'case-start'; readonly scenario: string; readonly index: number; readonly of: number; readonly params: ScenarioPlan['cases'][number] };

export interface ExecuteOptions {
  readonly runId: string;
  /** Seed of the round shuffles: the same seed gives the same target order in every round. */
  readonly seed: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: RunProgressEvent) => void;
  /** Injectors of destructive faults for targets on local topologies (see src/faults). */
  readonly localInjectors?: LocalInjectors;
  /** Resident memory of a local target's servers (see FaultCaseOptions.localMemory). */
  readonly localMemory?: FaultCaseOptions['localMemory'];
  /** The processes of a local target's topology (see LoadCaseOptions.localPids). */
  readonly localPids?: LoadCaseOptions['localPids'];
  /** `--shard i/N`: this process is one of N running the throughput scenarios together. */
  readonly shard?: { readonly index: number; readonly of: number };
}

/**
 * Asks the first server what it supports (capabilities.ts; nothing is written), refuses a set-up it cannot serve
 * (e.g. CACHE=tracking without RESP3 or CLIENT TRACKING: exit 3, naming the capability), then connects the driver.
 */
async function connectTarget(config: TargetConfig, controls: RunControls): Promise<ConnectedTarget> {
  // memcached answers none of RESP's INFO, HELLO or CLUSTER: its driver asks each server for its version itself.
  if (config.protocol === 'memcache') return (await driverFor(config.client)).connect(config, controls);
  // The servers' probe first, handed to the driver: a wrong address, password or mode is then reported as plainly as
  // ever (INFO's "NOAUTH Authentication required", not HELLO's longer answer), whatever the driver.
  const probe = await probeTarget(config, controls);
  const capabilities = await probeCapabilities(config, probe.mode, controls, probe.first);
  requireCapabilities(config, capabilities);
  const connected = await (await driverFor(config.client)).connect(config, controls, probe);
  return { ...connected, info: { ...connected.info, capabilities }, probe };
}

/**
 * Connects every target; on any failure closes those already connected and rethrows.
 * Connection deadlines (CONNECT_TIMEOUT_MS, OP_TIMEOUT_MS) are run-level: every scenario agrees on them.
 */
export async function connectAll(plan: RunPlan): Promise<ConnectedTarget[]> {
  const first = plan.scenarios[0]?.controls;
  if (first === undefined) return [];
  const controls = { ...first, ...plan.connection };
  const attempts = await Promise.allSettled(plan.targets.map((t) => connectTarget(t, controls)));
  const failed = attempts.find((a): a is PromiseRejectedResult => a.status === 'rejected');
  const connected = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
  if (failed !== undefined) {
    await Promise.all(connected.map((c) => c.client.close()));
    throw failed.reason;
  }
  return connected;
}

/**
 * OVERWRITE_RATE's writers: one more connection per target, through the same driver with the cache off and reads
 * from primaries (a writer only writes). None when no scenario overwrites.
 */
async function connectWriters(plan: RunPlan, targets: readonly ConnectedTarget[]): Promise<Map<string, CacheClient>> {
  const writers = new Map<string, CacheClient>();
  if (!plan.scenarios.some((s) => s.controls.overwriteRate > 0)) return writers;
  const first = plan.scenarios[0]?.controls;
  if (first === undefined) return writers;
  const controls = { ...first, ...plan.connection };
  const attempts = await Promise.allSettled(targets.map(async (t) => {
    const writer = await (await driverFor(t.config.client)).connect({ ...t.config, cache: 'off', readFrom: 'primary' }, controls, t.probe);
    writers.set(t.config.name, writer.client);
  }));
  const failed = attempts.find((a): a is PromiseRejectedResult => a.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all([...writers.values()].map((w) => w.close()));
    throw failed.reason;
  }
  return writers;
}

/**
 * FAULT=failover needs a Redis Cluster with a replica to hand over to; whether a remote target is one is known only once
 * it was probed. Refused then, before anything is written (exit 2).
 */
function checkFaultServers(plan: RunPlan, targets: readonly ConnectedTarget[]): void {
  if (!plan.scenarios.some((s) => s.controls.fault.kind === 'failover')) return;
  // A Sentinel target fails over with SENTINEL FAILOVER (faults/sentinel.ts), which needs a replica too.
  const unfit = targets.filter((t) => (t.info.mode !== 'cluster' && t.info.mode !== 'sentinel') || t.info.replicas === 0);
  if (unfit.length === 0) return;
  throw new ConfigError(`FAULT=failover sends CLUSTER FAILOVER to a replica (SENTINEL FAILOVER to a Sentinel deployment's sentinels), and ${unfit.map((t) => `${t.config.name} is ${t.info.mode === 'cluster' ? 'a cluster without replicas' : `${t.info.mode} (${t.info.servers.join(',')})`}`).join('; ')}. ` +
    'Fix: run FAULT=failover against Redis Clusters or Sentinel deployments with replicas only (--targets), or use FAULT=command with your own FAULT_COMMAND');
}

/**
 * A memcache target's item size limit as its servers report it (`stats settings`, the smallest in a pool) is the one
 * that counts: a value that does not fit is refused before anything is written (exit 2), and a `<NAME>_ITEM_SIZE_MAX`
 * that says otherwise is a warning. Servers that do not tell (a proxy) keep the configured limit, checked before.
 */
function checkServerItemSizes(plan: RunPlan, targets: readonly ConnectedTarget[]): ConnectedTarget[] {
  return targets.map((t) => {
    const reported = t.info.itemSizeMax;
    if (t.config.protocol !== 'memcache' || reported === undefined) return t;
    const name = t.config.name;
    const set = t.config.sources.ITEM_SIZE_MAX !== undefined;
    for (const scenario of plan.scenarios) {
      const largest = scenario.cases.reduce((m, c) => Math.max(m, c.PAYLOAD_BYTES), 0);
      if (largest + ITEM_OVERHEAD_BYTES <= reported) continue;
      const needed = `${localItemSizeMax(largest) / (1024 * 1024)}m`;
      throw new ConfigError(`target ${name}: the memcached servers (${t.info.servers.join(',')}) report item_size_max ${reported} (stats settings)` +
        `${set ? `, not the ${t.config.itemSizeMax} of ${name}_ITEM_SIZE_MAX` : ''}: values up to ${reported - ITEM_OVERHEAD_BYTES} bytes fit, and scenario ${scenario.name} writes ${largest}. ` +
        `Fix: lower PAYLOAD_BYTES to ${reported - ITEM_OVERHEAD_BYTES} or less, or restart memcached with a larger item size (memcached -I ${needed})`);
    }
    if (!set || reported === t.config.itemSizeMax) return t;
    const warning = `target ${name}: ${name}_ITEM_SIZE_MAX is ${t.config.itemSizeMax} but the servers report item_size_max ${reported} (stats settings): the servers' value is the one that counts; unset ${name}_ITEM_SIZE_MAX or make it ${reported}`;
    return { ...t, info: { ...t.info, warnings: [...(t.info.warnings ?? []), warning] } };
  });
}

/**
 * Runs every scenario and parameter combination against every target, in interleaved rounds.
 * Connects first (nothing is written before all targets answer), always closes the clients.
 */
export async function executeRun(plan: RunPlan, options: ExecuteOptions): Promise<RunResult> {
  const startedAt = new Date();
  const before = loadavg();
  const random = seededRandom(options.seed);
  const connected = await connectAll(plan);
  let targets: ConnectedTarget[];
  try {
    checkFaultServers(plan, connected);
    targets = checkServerItemSizes(plan, connected);
  } catch (error: unknown) {
    await Promise.all(connected.map((t) => t.client.close()));
    throw error;
  }
  options.onProgress?.({ kind: 'connected', targets });
  const scenarios: ScenarioResult[] = [];
  let writers = new Map<string, CacheClient>();
  try {
    writers = await connectWriters(plan, targets);
    const total = plan.scenarios.reduce((n, s) => n + s.cases.length, 0);
    let index = 0;
    let loadOffsetMs = 0; // under START_AT: where the next throughput (or capacity) combination's slot begins
    for (const scenario of plan.scenarios) {
      const cases: CaseResult[] = [];
      for (const params of scenario.cases) {
        if (options.signal?.aborted) break;
        index++;
        options.onProgress?.({ kind: 'case-start', scenario: scenario.name, index, of: total, params });
        const loadOptions: LoadCaseOptions = {
          keyPrefix: keyPrefix(options.runId), seed: options.seed, shard: options.shard ?? { index: 0, of: 1 }, startOffsetMs: loadOffsetMs,
          ...(options.signal !== undefined ? { signal: options.signal } : {}),
          ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
          ...(options.localPids !== undefined ? { localPids: options.localPids } : {}),
        };
        if (scenario.controls.load.mode === 'capacity') {
          cases.push(capacityCase(params, await runCapacityCase(targets, params, { ...scenario.controls, ...plan.connection }, loadOptions)));
          loadOffsetMs += capacitySpanMs(scenario.controls.load, targets.length, options.shard?.of ?? 1);
          continue;
        }
        if (scenario.controls.load.mode === 'throughput') {
          cases.push(loadCase(params, await runLoadCase(targets, params, { ...scenario.controls, ...plan.connection }, loadOptions)));
          loadOffsetMs += caseSpacingMs(scenario.controls.load, targets.length, options.shard?.of ?? 1);
          continue;
        }
        if (scenario.controls.fault.kind !== 'none') {
          cases.push(faultCase(params, await runFaultCase(targets, params, { ...scenario.controls, ...plan.connection }, {
            keyPrefix: keyPrefix(options.runId), seed: options.seed,
            ...(options.signal !== undefined ? { signal: options.signal } : {}),
            ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
            ...(options.localInjectors !== undefined ? { localInjectors: options.localInjectors } : {}),
            ...(options.localMemory !== undefined ? { localMemory: options.localMemory } : {}),
          })));
          continue;
        }
        cases.push(latencyCase(await runCase(targets, params, scenario.controls, {
          keyPrefix: keyPrefix(options.runId),
          random,
          writers,
          ...(plan.baseline !== undefined ? { baseline: plan.baseline } : {}),
          ...(options.signal !== undefined ? { signal: options.signal } : {}),
          ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
        })));
      }
      scenarios.push({ scenario, cases });
    }
  } finally {
    await Promise.all([...targets.map((t) => t.client.close()), ...[...writers.values()].map((w) => w.close())]);
  }
  return {
    runId: options.runId, startedAt, finishedAt: new Date(), targets, scenarios, aborted: options.signal?.aborted === true,
    seed: options.seed, loadAverage: { before, after: loadavg() }, shard: options.shard ?? null,
  };
}
