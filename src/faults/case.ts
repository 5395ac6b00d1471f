import type { CaseParams, FaultPlan, RunControls } from '../config/resolve.js';
import type { SecondEvent, TargetErroredEvent } from '../measure/progress.js';
import type { TargetOutcome } from '../measure/outcome.js';
import { driverFor } from '../targets/drivers.js';
import type { CacheClient, ConnectedTarget } from '../targets/client.js';
import { failoverInjector } from './failover.js';
import { sentinelFailoverInjector } from './sentinel.js';
import { runFaultTarget, type FaultLoopOptions, type FaultResult } from './loop.js';
import { commandInjector, type FaultEvent, type FaultInjector } from './nemesis.js';
import { FaultMix } from './mix.js';
import { redactedMessage } from '../config/redact.js';
import { CacheWatch, watchKeyNames } from './cache-watch.js';
import { REAL_CLOCK } from './clock.js';

/** Supplies the injector of a destructive fault for a target on a local topology (the CLI knows the processes). */
export type LocalInjectors = (target: ConnectedTarget, plan: FaultPlan) => FaultInjector | undefined;

/** What a fault run tells while it goes. */
export type FaultProgressEvent =
  /** A target's timed part starts. */
  | { readonly kind: 'fault-target'; readonly target: string; readonly index: number; readonly of: number; readonly runMs: number }
  /** The nemesis did something. */
  | { readonly kind: 'fault-event'; readonly target: string; readonly event: FaultEvent }
  | SecondEvent
  | TargetErroredEvent;

/** What one target's fault run measured: the shared part (measure/outcome.ts) and the fault's own. */
export interface FaultMeasured extends Omit<TargetOutcome, 'name' | 'state' | 'error'> {
  readonly fault: FaultResult;
}

/** One target's part of a fault combination: what it measured, or why it could not be measured. */
export type FaultTargetOutcome =
  | { readonly name: string; readonly state: 'completed' | 'aborted'; readonly measured: FaultMeasured }
  | { readonly name: string; readonly state: 'errored'; readonly error: string };

export interface FaultCaseOutcome {
  /** Ctrl-C ended it. */
  readonly aborted: boolean;
  readonly elapsedMs: number;
  readonly targets: readonly FaultTargetOutcome[];
}

export interface FaultCaseOptions {
  readonly keyPrefix: string;
  /** The run's seed (a WORKLOAD's values); random when absent. */
  readonly seed?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: FaultProgressEvent) => void;
  readonly localInjectors?: LocalInjectors;
  /** Resident memory of a local target's servers, for faults that need no local injector (failover, command). */
  readonly localMemory?: (target: ConnectedTarget) => FaultInjector['memory'];
}

/** The injector of `plan` for one target: failover and command work anywhere; kill, pause, restart only locally. */
function injectorFor(target: ConnectedTarget, plan: FaultPlan, controls: RunControls, options: FaultCaseOptions): FaultInjector {
  const local = options.localInjectors;
  const memory = options.localMemory?.(target);
  switch (plan.kind) {
    case 'failover':
      return { ...(target.config.mode === 'sentinel' ? sentinelFailoverInjector : failoverInjector)(target.config, controls), ...(memory !== undefined ? { memory } : {}) };
    case 'command':
      return { ...commandInjector(plan), ...(memory !== undefined ? { memory } : {}) };
    default: {
      const injector = local?.(target, plan);
      // Validation allows destructive faults only on local topologies, whose injectors the CLI supplies.
      if (injector === undefined) throw new Error(`FAULT=${plan.kind}: no local topology to inject it into for target ${target.config.name}`);
      return injector;
    }
  }
}

/** Consecutive SET/GET/DEL rounds that must succeed before a target's clock starts. */
export const READY_ROUNDS = 10;
/** How long a target may take to get there. */
export const READY_WAIT_MS = 30_000;

/**
 * Waits until the target serves READY_ROUNDS SET/GET/DEL rounds in a row (its servers may still be recovering from the
 * previous target's fault, e.g. after a FAULT_COMMAND, which cachebench cannot heal): that recovery must not land in
 * this target's "before" phase. Also warms the connections. Returns why not, or undefined when ready.
 */
async function untilReady(client: CacheClient, prefix: string, controls: RunControls): Promise<string | undefined> {
  const end = performance.now() + READY_WAIT_MS;
  const value = Buffer.from('cachebench readiness check');
  let streak = 0;
  let last = '';
  for (let i = 0; performance.now() < end; i++) {
    const key = `${prefix}${i}`;
    try {
      await client.set(key, value, controls.keyTtlSeconds);
      const read = await client.get(key);
      await client.del(key);
      if (read === null || !read.equals(value)) throw new Error('a value just written read back wrong');
      if (++streak >= READY_ROUNDS) return undefined;
    } catch (error: unknown) {
      streak = 0;
      last = error instanceof Error ? error.message : String(error);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return `not serving ${READY_ROUNDS} rounds in a row within ${READY_WAIT_MS / 1000} s before its fault run (last: ${last}); its servers may not have recovered from the previous target's fault`;
}

/** How long each target runs the workload's shape, unrecorded, before its clock starts. */
export const FAULT_WARMUP_MS = 1000;

/**
 * Warms a ready target with the run's own shape (SET of PAYLOAD_BYTES, up to READ_RATIO GETs, DEL) for
 * FAULT_WARMUP_MS, unrecorded: the readiness check's small values leave a first target cold (JIT, buffers, server
 * allocations), and its "before" phase would be slower than its "during" phase. A failure here is left to the timed
 * part (which records it), so nothing is decided on it.
 */
async function warmUp(client: CacheClient, prefix: string, params: CaseParams, controls: RunControls, signal?: AbortSignal): Promise<void> {
  const value = Buffer.alloc(params.PAYLOAD_BYTES, 0x61);
  const reads = Math.max(1, Math.min(params.READ_RATIO, 20));
  const end = performance.now() + FAULT_WARMUP_MS;
  for (let i = 0; performance.now() < end && signal?.aborted !== true; i++) {
    const key = `${prefix}${i}`;
    try {
      await client.set(key, value, controls.keyTtlSeconds);
      for (let r = 0; r < reads; r++) await client.get(key);
      await client.del(key);
    } catch (error: unknown) {
      void error; // the key expires by its TTL; the timed part will see the failure for itself
      return;
    }
  }
}

/**
 * A WORKLOAD's keys preloaded for a target's fault run (undefined: no WORKLOAD); a preload that fails deletes what it
 * wrote and says why (the target is not measured).
 */
async function preloadMix(target: ConnectedTarget, checker: CacheClient, params: CaseParams, controls: RunControls,
  options: FaultCaseOptions): Promise<FaultMix | string | undefined> {
  const plan = controls.load.workload;
  if (plan === null) return undefined;
  const mix = new FaultMix(plan, controls.load.keyspace, controls.load.distribution, params, controls, options.keyPrefix,
    target.config.protocol === 'memcache' ? 'memcache' : 'redis', options.seed ?? Math.floor(Math.random() * 2 ** 31), target.config.waitReplicas,
    target.config.client !== 'resp' && target.config.client !== 'memcache');
  try {
    await mix.preloadOrClean(target.client, checker, () => performance.now(), options.signal);
    return mix;
  } catch (error: unknown) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * The cache watch of a target with a client cache (undefined: none), its keys written and read once through the cache;
 * one that cannot be prepared deletes what it wrote and says why (the target is not measured).
 */
async function prepareWatch(target: ConnectedTarget, checker: CacheClient, controls: RunControls, prefix: string): Promise<CacheWatch | string | undefined> {
  if (target.config.cache !== 'tracking' || controls.load.workload !== null) return undefined;
  const watch = new CacheWatch(target.client, checker, watchKeyNames(prefix), controls.keyTtlSeconds, REAL_CLOCK);
  try {
    await watch.prepare();
    return watch;
  } catch (error: unknown) {
    await watch.cleanup();
    return `the cache watch could not write and read its ${watch.keys} keys before the fault run: ${redactedMessage(error)}`;
  }
}

/**
 * A fault run of one parameter combination: each target in turn runs for DURATION with its own fault at FAULT_AT, and
 * its servers are healed before the next starts (targets sharing a topology each get their fault). Targets are not
 * interleaved here: a failure window is a stretch of time and needs the loop to itself.
 */
export async function runFaultCase(targets: readonly ConnectedTarget[], params: CaseParams, controls: RunControls,
  options: FaultCaseOptions): Promise<FaultCaseOutcome> {
  const started = performance.now();
  const results: FaultTargetOutcome[] = [];
  for (const [index, target] of targets.entries()) {
    if (options.signal?.aborted === true) break;
    const name = target.config.name;
    options.onProgress?.({ kind: 'fault-target', target: name, index: index + 1, of: targets.length, runMs: controls.fault.runMs });
    // The checker reads acknowledged writes back on a connection of its own: same driver, cache off, primaries.
    let checker: CacheClient;
    try {
      checker = (await (await driverFor(target.config.client)).connect({ ...target.config, cache: 'off', readFrom: 'primary' }, controls, target.probe)).client;
    } catch (error: unknown) {
      // The servers did not come back whole from the previous target's fault: this target cannot be measured.
      const message = `could not connect the checker: ${error instanceof Error ? error.message : String(error)}`;
      options.onProgress?.({ kind: 'target-errored', target: name, error: message });
      results.push({ name, state: 'errored', error: message });
      continue;
    }
    try {
      const notReady = await untilReady(target.client, `${options.keyPrefix}ready-`, controls);
      if (notReady !== undefined) {
        options.onProgress?.({ kind: 'target-errored', target: name, error: notReady });
        results.push({ name, state: 'errored', error: notReady });
        continue;
      }
      await warmUp(target.client, `${options.keyPrefix}warm-`, params, controls, options.signal);
      const mix = await preloadMix(target, checker, params, controls, options);
      if (typeof mix === 'string') {
        options.onProgress?.({ kind: 'target-errored', target: name, error: mix });
        results.push({ name, state: 'errored', error: mix });
        continue;
      }
      const watch = mix === undefined ? await prepareWatch(target, checker, controls, options.keyPrefix) : undefined;
      if (typeof watch === 'string') {
        options.onProgress?.({ kind: 'target-errored', target: name, error: watch });
        results.push({ name, state: 'errored', error: watch });
        continue;
      }
      const run = await runFaultTarget(target, params, controls, {
        ...(mix !== undefined ? { mix } : {}),
        ...(watch !== undefined ? { cacheWatch: watch } : {}),
        keyPrefix: options.keyPrefix,
        checker,
        injector: injectorFor(target, controls.fault, controls, options),
        onEvent: (event) => options.onProgress?.({ kind: 'fault-event', target: name, event }),
        ...(options.onProgress !== undefined ? { onSecond: (s: Parameters<NonNullable<FaultLoopOptions['onSecond']>>[0]) => options.onProgress?.({ kind: 'second', target: name, ...s }) } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
      const t = run.tally;
      results.push({
        name,
        state: run.aborted ? 'aborted' : 'completed',
        measured: {
          ops: run.ops,
          // A WORKLOAD judges the reply of every command, writes too.
          verification: {
            reads: mix !== undefined ? t.verified + t.missing + t.mismatched : t.gets, verified: t.verified, missing: t.missing, mismatched: t.mismatched,
          },
          errors: Object.fromEntries(t.errorMessages),
          undeletedKeys: run.undeletedKeys,
          fault: run.fault,
        },
      });
    } finally {
      await checker.close();
    }
  }
  return { aborted: options.signal?.aborted === true, elapsedMs: performance.now() - started, targets: results };
}
