import { randomFillSync, randomUUID } from 'node:crypto';
import type { CaseParams, FaultPlan, RunControls } from '../config/resolve.js';
import { redactSecrets, redactedMessage } from '../config/redact.js';
import { OpHistogram, type OpStats } from '../measure/histogram.js';
import type { CacheClient, ConnectedTarget } from '../targets/client.js';
import { Tally, YIELD_INTERVAL_NS, readVerdict, yieldOnce } from '../workload/index.js';
import { AckedWrites, type WriteCheck } from './checker.js';
import { BUCKET_MS, FaultHistory, type Bucket } from './history.js';
import { judge, timeline, type FaultVerdict, type Timeline } from './judge.js';
import type { CommandOutcome, FaultEvent, FaultInjector } from './nemesis.js';
import type { ScalingOutcome } from '../local/scaling.js';

/**
 * After a failed op the loop waits this long before its next op, as an application's retry would: failures that come
 * at once (connection refused) are then counted at a bounded pace, comparable across targets.
 */
export const FAILURE_PAUSE_MS = 10;
/** How often server memory is sampled (local topologies). */
const MEMORY_EVERY_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const now = process.hrtime.bigint;

/** Everything a fault run measured for one target (results.json `fault`). */
export interface FaultResult extends FaultVerdict, WriteCheck {
  readonly kind: FaultPlan['kind'];
  /** FAULT_AT and FAULT_DURATION as planned, DURATION as run (ms). */
  readonly plannedAtMs: number;
  readonly durationMs: number;
  readonly runMs: number;
  /** When the fault was injected (ms after the measurement started); null if it never was (run cut short). */
  readonly injectedAtMs: number | null;
  /** When the nemesis's action was over (SIGCONT sent, server restarted, slots moved); null if it never ran or ended after the run. */
  readonly actionEndMs: number | null;
  /** What the nemesis did, in order. */
  readonly events: readonly FaultEvent[];
  /** How the servers were put back after the timed part (null: nothing to do). */
  readonly healed: string | null;
  readonly failedOps: { readonly set: number; readonly get: number };
  /** Ops that succeeded after STALL_MS or more (history.ts): unavailability the op deadline hid. */
  readonly stalledOps: number;
  /** Peak resident memory of the target's local servers while it ran (null: remote servers). */
  readonly peakServerMemory: { readonly totalBytes: number; readonly maxBytes: number } | null;
  /** FAULT=command: how the command ended. */
  readonly command: CommandOutcome | null;
  /** MOVED and ASK replies the cluster's nodes sent while the target ran (INFO errorstats; every client of this run); null: not a local cluster. */
  readonly redirections: { readonly moved: number; readonly ask: number } | null;
  /** add-node / remove-node: migration time, slots moved, slots per primary afterwards. */
  readonly scaling: ScalingOutcome | null;
  /** The client's retry and reconnect settings for this run (they shape the window). */
  readonly clientRetries: string;
  readonly timeline: Timeline;
}

export interface FaultTargetResult {
  readonly fault: FaultResult;
  readonly tally: Tally;
  readonly ops: { readonly set: OpStats; readonly get: OpStats };
  readonly undeletedKeys: number;
  readonly aborted: boolean;
  readonly elapsedMs: number;
}

export interface FaultLoopOptions {
  readonly keyPrefix: string;
  readonly signal?: AbortSignal;
  /** The target's second connection, for reading acknowledged writes back (same driver, cache off, primaries). */
  readonly checker: CacheClient;
  /** Makes and heals the fault; undefined: none can be made for this target (a fault-free control run). */
  readonly injector?: FaultInjector;
  /** Told about each nemesis event as it happens. */
  readonly onEvent?: (event: FaultEvent) => void;
  /** Told once a second: ops that succeeded and failed in the last second, and the phase (live progress only). */
  readonly onSecond?: (second: { readonly ok: number; readonly failed: number; readonly phase: string; readonly atMs: number; readonly runMs: number }) => void;
}

/**
 * One target's fault run: the seed loop's shape (a SET of a fresh key, then READ_RATIO verified GETs) for DURATION,
 * with the fault injected FAULT_AT into it. Unlike a latency run, a failed op does not end anything: it is recorded
 * with its time, the loop pauses FAILURE_PAUSE_MS and goes on with a new key (a failed SET's key is not read; after a
 * failed GET the key's remaining GETs are skipped). Acknowledged writes are read back on another connection (see
 * AckedWrites). After the timed part the nemesis heals the servers, and the writes left are read back.
 */
export async function runFaultTarget(target: ConnectedTarget, params: CaseParams, controls: RunControls,
  options: FaultLoopOptions): Promise<FaultTargetResult> {
  const plan = controls.fault;
  const client = target.client;
  // The servers' MOVED/ASK counts before the first op (a snapshot, on connections of its own).
  const redirectionsSince = await options.injector?.redirections?.().catch(() => undefined);
  const startNs = now();
  const history = new FaultHistory(startNs);
  const elapsedMs = (): number => history.ms(now());
  const tally = new Tally();
  const setHistogram = new OpHistogram();
  const getHistogram = new OpHistogram();
  const writes = new AckedWrites(options.checker, elapsedMs);
  const events: FaultEvent[] = [];
  // What the nemesis says may quote a server or a command (credentials masked as it enters the results).
  const log = (what: string, ok: boolean): void => {
    const event = { atMs: Math.round(elapsedMs()), what: redactSecrets(what), ok };
    events.push(event);
    options.onEvent?.(event);
  };
  const injector = options.injector;
  let injection: Promise<void> | undefined;
  let actionEndMs: number | null = null;
  let peak: { totalBytes: number; maxBytes: number } | null = null;
  const sample = (): void => {
    const m = injector?.memory?.();
    if (m === null || m === undefined) return;
    peak = peak === null ? { ...m } : { totalBytes: Math.max(peak.totalBytes, m.totalBytes), maxBytes: Math.max(peak.maxBytes, m.maxBytes) };
  };
  const faultTimer = setTimeout(() => {
    if (injector === undefined || options.signal?.aborted === true) return;
    history.faultAtMs = elapsedMs();
    writes.markFault();
    injection = injector.inject(log)
      .catch((error: unknown) => log(`the fault could not be made: ${error instanceof Error ? error.message : String(error)}`, false))
      .finally(() => {
        actionEndMs = elapsedMs();
      });
  }, plan.atMs);
  const memoryTimer = setInterval(sample, MEMORY_EVERY_MS);
  sample();
  // Live progress from the history's complete 100 ms buckets since the last second told.
  let told = 0;
  const secondTimer = options.onSecond === undefined ? undefined : setInterval(() => {
    const upTo = Math.min(history.buckets.length, Math.floor(elapsedMs() / BUCKET_MS));
    let ok = 0;
    let failed = 0;
    for (let i = told; i < upTo; i++) {
      ok += (history.buckets[i] as Bucket).ok;
      failed += (history.buckets[i] as Bucket).failed;
    }
    told = Math.max(told, upTo);
    const phase = history.faultAtMs === null ? 'before the fault' : actionEndMs === null ? 'fault under way' : 'after the fault';
    options.onSecond?.({ ok, failed, phase, atMs: Math.round(elapsedMs()), runMs: plan.runMs });
  }, 1000);
  writes.start();

  const endNs = startNs + BigInt(plan.runMs) * 1_000_000n;
  const stop = (): boolean => options.signal?.aborted === true || now() >= endNs;
  const yielding = target.config.cache === 'tracking';
  let lastYield = now();
  let healed: string | null = null;
  try {
    while (!stop()) {
      const key = options.keyPrefix + randomUUID();
      const payload = randomFillSync(Buffer.allocUnsafe(params.PAYLOAD_BYTES));
      let t0 = now();
      try {
        await client.set(key, payload, controls.keyTtlSeconds);
      } catch (error: unknown) {
        const t1 = now();
        history.fail('set', t0, t1);
        tally.fail('set', error);
        writes.unacked(key, payload);
        await sleep(FAILURE_PAUSE_MS);
        continue;
      }
      let t1 = now();
      history.ok(t0, t1);
      setHistogram.record(Number(t1 - t0));
      tally.sets++;
      writes.acked(key, payload);
      writes.reading(key);
      lastYield = t1;
      for (let r = 0; r < params.READ_RATIO && !stop(); r++) {
        if (yielding && now() - lastYield >= YIELD_INTERVAL_NS) {
          await yieldOnce();
          lastYield = now();
        }
        t0 = now();
        let value: Buffer | null;
        try {
          value = await client.get(key);
        } catch (error: unknown) {
          history.fail('get', t0, now());
          tally.fail('get', error);
          await sleep(FAILURE_PAUSE_MS);
          break;
        }
        t1 = now();
        history.ok(t0, t1);
        getHistogram.record(Number(t1 - t0));
        tally.gets++;
        const verdict = readVerdict(value, payload);
        tally.read(verdict);
        if (verdict !== 'verified') history.badRead(verdict, t1);
      }
      writes.reading(undefined);
    }
  } catch (error: unknown) {
    // Not an op's failure (those are caught above): heal before giving up, so no server stays stopped or down.
    clearTimeout(faultTimer);
    clearInterval(memoryTimer);
    await writes.stop();
    await injector?.heal().catch(() => null);
    await injector?.dispose?.();
    await writes.finish().catch(() => undefined); // deletes every key written, by name
    throw error;
  } finally {
    clearTimeout(faultTimer);
    clearInterval(memoryTimer);
    clearInterval(secondTimer);
  }
  const endMs = elapsedMs();
  // Interrupted (Ctrl-C): heal at once (SIGCONT, restart) rather than wait out the fault's own schedule.
  if (options.signal?.aborted !== true) await injection;
  sample();
  // Counted before healing, which moves slots too.
  const redirections = redirectionsSince === undefined ? null : await redirectionsSince().catch(() => null);
  await writes.stop();
  if (injector !== undefined) {
    try {
      healed = await injector.heal();
    } catch (error: unknown) {
      healed = `healing failed: ${redactedMessage(error)}`;
      log(healed, false);
    }
    await injection;
    await injector.dispose?.();
  }
  const check = await writes.finish();
  const faultAtMs = history.faultAtMs;
  const verdict = judge(history.buckets, history.failureRuns, faultAtMs ?? endMs, endMs, Math.min(actionEndMs ?? endMs, endMs));
  const fault: FaultResult = {
    kind: plan.kind,
    plannedAtMs: plan.atMs,
    durationMs: plan.durationMs,
    runMs: Math.round(endMs),
    injectedAtMs: faultAtMs === null ? null : Math.round(faultAtMs),
    actionEndMs: actionEndMs === null || actionEndMs > endMs ? null : Math.round(actionEndMs),
    events,
    healed,
    ...verdict,
    ...check,
    failedOps: { ...history.failed },
    stalledOps: history.stalled,
    peakServerMemory: peak,
    command: injector?.command?.() ?? null,
    redirections,
    scaling: injector?.scaling?.() ?? null,
    clientRetries: target.info.retries ?? 'not recorded',
    timeline: timeline(history.buckets),
  };
  return {
    fault,
    tally,
    ops: { set: setHistogram.summarize(tally.setErrors, true), get: getHistogram.summarize(tally.getErrors, true) },
    undeletedKeys: check.undeletedKeys,
    aborted: options.signal?.aborted === true,
    elapsedMs: endMs,
  };
}
