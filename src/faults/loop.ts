import { randomFillSync, randomUUID } from 'node:crypto';
import type { CaseParams, FaultPlan, RunControls } from '../config/resolve.js';
import { redactSecrets, redactedMessage } from '../config/redact.js';
import { OpHistogram, type OpStats } from '../measure/histogram.js';
import type { CacheClient, ConnectedTarget } from '../targets/client.js';
import { Tally } from '../workload/tally.js';
import { runSeedIteration, type OpRecorder } from '../workload/seed-loop.js';
import { AckedWrites, type WriteCheck } from './checker.js';
import { BUCKET_MS, FaultHistory, type Bucket } from './history.js';
import { judgeFault, timeline, type FaultVerdict, type Timeline } from './judge.js';
import type { CommandOutcome, FaultEvent, FaultInjector, PartitionOutcome } from './nemesis.js';
import type { ScalingOutcome } from '../local/scaling.js';
import { REAL_CLOCK, type FaultClock } from './clock.js';
import type { FaultMix, MixFaultCheck } from './mix.js';
import type { MixHost, Slot } from '../workload/mix-client.js';
import { CommandStats, summarizeCommands, type CommandSummary } from '../workload/command-stats.js';
import type { CacheWatch, CacheWatchOutcome } from './cache-watch.js';

/**
 * After a failed op the loop waits this long before its next op, as an application's retry would: failures that come
 * at once (connection refused) are then counted at a bounded pace, comparable across targets.
 */
export const FAILURE_PAUSE_MS = 10;
/** How often server memory is sampled (local topologies). */
const MEMORY_EVERY_MS = 1000;

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
  /** Partitions: the sides, the minority's acknowledged and lost writes, the promotion and the time slots had two owners. */
  readonly partition: PartitionOutcome | null;
  /** `<NAME>_CACHE=tracking`: what the client's cache served across the fault (cache-watch.ts); null: no cache. */
  readonly cache: CacheWatchOutcome | null;
  /** The client's retry and reconnect settings for this run (they shape the window). */
  readonly clientRetries: string;
  readonly timeline: Timeline;
  /** A run with a WORKLOAD: what its replies and the final read of every key found (its lost writes are in lostAckedWrites too); else null. */
  readonly mix: MixFaultCheck | null;
  /** A run with a WORKLOAD: each command's ops, latency and verdicts over the whole run (the most sent first); absent otherwise. */
  readonly commands?: readonly CommandSummary[];
  /** A run with a WORKLOAD: commands sent besides the ops counted (EXPIRE after a write, DEL and preload for a key lost track of). */
  readonly housekeeping?: Readonly<Record<string, number>>;
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
  /** Time, the failure pause and the timers (fault, memory, progress); the real ones unless a test drives it. */
  readonly clock?: FaultClock;
  /** A WORKLOAD (preloaded): its mix instead of the seed loop, and its keys read back whole at the end. */
  readonly mix?: FaultMix;
  /** `<NAME>_CACHE=tracking`: the cache watch, prepared (its keys written and cached); started with the run. */
  readonly cacheWatch?: CacheWatch;
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
  // The servers' MOVED/ASK counts before the first op (a snapshot, on connections of its own).
  const redirectionsSince = await options.injector?.redirections?.().catch(() => undefined);
  const run = new FaultTargetRun(target, params, controls, options, options.cacheWatch);
  run.startTimers();
  try {
    await run.loop();
  } catch (error: unknown) {
    // Not an op's failure (those are caught in the loop): heal before giving up, so no server stays stopped or down.
    run.stopTimers();
    await run.abandon();
    throw error;
  } finally {
    run.stopTimers();
  }
  return run.finish(redirectionsSince);
}

/** One target's fault run as it goes: the timers beside the loop, the loop, and what is measured after it. */
class FaultTargetRun {
  readonly #target: ConnectedTarget;
  readonly #params: CaseParams;
  readonly #controls: RunControls;
  readonly #options: FaultLoopOptions;
  readonly #clock: FaultClock;
  readonly #startNs: bigint;
  readonly #history: FaultHistory;
  readonly #tally = new Tally();
  readonly #setHistogram = new OpHistogram();
  readonly #getHistogram = new OpHistogram();
  readonly #writes: AckedWrites;
  /** A WORKLOAD's ops per command (closed loop: service times only). */
  readonly #commands = new CommandStats(false);
  readonly #events: FaultEvent[] = [];
  readonly #cancels: (() => void)[] = [];
  #injection: Promise<void> | undefined;
  #actionEndMs: number | null = null;
  #peak: { totalBytes: number; maxBytes: number } | null = null;
  readonly #watch: CacheWatch | undefined;

  constructor(target: ConnectedTarget, params: CaseParams, controls: RunControls, options: FaultLoopOptions, watch?: CacheWatch) {
    this.#watch = watch;
    this.#target = target;
    this.#params = params;
    this.#controls = controls;
    this.#options = options;
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#startNs = this.#clock.now();
    this.#history = new FaultHistory(this.#startNs);
    this.#writes = new AckedWrites(options.checker, () => this.#elapsedMs(), (ms, fn) => this.#clock.after(ms, fn));
  }

  #elapsedMs(): number {
    return this.#history.ms(this.#clock.now());
  }

  /** What the nemesis says may quote a server or a command (credentials masked as it enters the results). */
  #log = (what: string, ok: boolean): void => {
    const event = { atMs: Math.round(this.#elapsedMs()), what: redactSecrets(what), ok };
    this.#events.push(event);
    this.#options.onEvent?.(event);
  };

  #sampleMemory(): void {
    const m = this.#options.injector?.memory?.();
    if (m === null || m === undefined) return;
    const peak = this.#peak;
    this.#peak = peak === null ? { ...m } : { totalBytes: Math.max(peak.totalBytes, m.totalBytes), maxBytes: Math.max(peak.maxBytes, m.maxBytes) };
  }

  /** The fault at FAULT_AT, server memory once a second, live progress once a second; the rolling read-back. */
  startTimers(): void {
    const { injector, signal, onSecond } = this.#options;
    const history = this.#history;
    this.#cancels.push(this.#clock.after(this.#controls.fault.atMs, () => {
      if (injector === undefined || signal?.aborted === true) return;
      history.faultAtMs = this.#elapsedMs();
      this.#writes.markFault();
      this.#watch?.markFault();
      if (injector.onMinority !== undefined) this.#writes.holdFromNow(injector.onMinority, injector.partitionOver ?? (() => false));
      this.#injection = injector.inject(this.#log)
        .catch((error: unknown) => this.#log(`the fault could not be made: ${error instanceof Error ? error.message : String(error)}`, false))
        .finally(() => {
          this.#actionEndMs = this.#elapsedMs();
        });
    }));
    this.#cancels.push(this.#clock.every(MEMORY_EVERY_MS, () => this.#sampleMemory()));
    this.#sampleMemory();
    // Live progress from the history's complete 100 ms buckets since the last second told.
    let told = 0;
    if (onSecond !== undefined) {
      this.#cancels.push(this.#clock.every(1000, () => {
        const upTo = Math.min(history.buckets.length, Math.floor(this.#elapsedMs() / BUCKET_MS));
        let ok = 0;
        let failed = 0;
        for (let i = told; i < upTo; i++) {
          ok += (history.buckets[i] as Bucket).ok;
          failed += (history.buckets[i] as Bucket).failed;
        }
        told = Math.max(told, upTo);
        const phase = history.faultAtMs === null ? 'before the fault' : this.#actionEndMs === null ? 'fault under way' : 'after the fault';
        onSecond({ ok, failed, phase, atMs: Math.round(this.#elapsedMs()), runMs: this.#controls.fault.runMs });
      }));
    }
    this.#writes.start();
    this.#watch?.start(this.#startNs);
  }

  stopTimers(): void {
    for (const cancel of this.#cancels.splice(0)) cancel();
  }

  /**
   * The seed step (workload/seed-loop.ts) on one fresh key at a time for DURATION (or until Ctrl-C); a failed op is
   * recorded with its times and paced, never the end of the loop. The recorder keeps the history and the read-back.
   */
  async loop(): Promise<void> {
    if (this.#options.mix !== undefined) return this.#mixLoop(this.#options.mix);
    const clock = this.#clock;
    const { keyPrefix, signal } = this.#options;
    const { READ_RATIO: readRatio, PAYLOAD_BYTES: payloadBytes } = this.#params;
    const [history, writes] = [this.#history, this.#writes];
    const endNs = this.#startNs + BigInt(this.#controls.fault.runMs) * 1_000_000n;
    const stop = (): boolean => signal?.aborted === true || clock.now() >= endNs;
    const recorder: OpRecorder = {
      now: () => clock.now(),
      set: (ns, t0, t1) => {
        history.ok(t0, t1);
        this.#setHistogram.record(ns);
      },
      get: (ns, t0, t1) => {
        history.ok(t0, t1);
        this.#getHistogram.record(ns);
      },
      failed: (op, t0, t1, key, payload) => {
        history.fail(op, t0, t1);
        if (op === 'set') writes.unacked(key, payload);
      },
      acked: (key, payload) => {
        writes.acked(key, payload);
        writes.reading(key);
      },
      read: (verdict, t1) => {
        if (verdict !== 'verified') history.badRead(verdict, t1);
      },
    };
    const check = { yieldToEventLoop: this.#target.config.cache === 'tracking', nullIsStale: false };
    while (!stop()) {
      const key = keyPrefix + randomUUID();
      const payload = randomFillSync(Buffer.allocUnsafe(payloadBytes));
      const outcome = await runSeedIteration(this.#target.client, { keys: [key], payloads: [payload] }, readRatio, this.#controls.keyTtlSeconds,
        this.#tally, recorder, stop, check);
      writes.reading(undefined);
      if (outcome.state === 'failed') await clock.sleep(FAILURE_PAUSE_MS);
    }
  }

  /**
   * The WORKLOAD's one client for DURATION (or until Ctrl-C): each op timed into the history (a write or a read by its
   * command), a failed one paced; a reply that finds an acknowledged write gone or changed is a bad read where it came.
   */
  async #mixLoop(mix: FaultMix): Promise<void> {
    const clock = this.#clock;
    const { signal } = this.#options;
    const endNs = this.#startNs + BigInt(this.#controls.fault.runMs) * 1_000_000n;
    const stop = (): boolean => signal?.aborted === true || clock.now() >= endNs;
    const client = this.#target.client;
    const [history, tally, commands] = [this.#history, this.#tally, this.#commands];
    const slot: Slot = { window: 0, measured: true };
    const host: MixHost = {
      schedule: { next: () => Promise.resolve(stop() ? null : slot) },
      // The model's time is performance.now()'s, as its preload's was (faults/case.ts).
      aborted: stop, random: Math.random, now: () => performance.now(), nodeOf: () => -1,
      timed: async (_c, kind, _node, _slot, op, command) => {
        const t0 = clock.now();
        try {
          const value = await op(client);
          const t1 = clock.now();
          history.ok(t0, t1);
          (kind === 'set' ? this.#setHistogram : this.#getHistogram).record(Number(t1 - t0));
          tally[kind === 'set' ? 'sets' : 'gets']++;
          commands.op(command, true, Number(t1 - t0), undefined);
          return { ok: true, value, counted: true };
        } catch (error: unknown) {
          history.fail(kind, t0, clock.now());
          tally.fail(kind, error, command);
          commands.op(command, false, 0, undefined);
          return { ok: false, counted: true };
        }
      },
      untimed: (_c, args, key) => {
        commands.housekeeping(String(args[0]));
        return (client.command as NonNullable<typeof client.command>)(args, { key, readOnly: false }).catch(() => undefined);
      },
      extra: (_c, command) => commands.housekeeping(command),
      verdict: (command, verdict, sent, read, sizes) => {
        commands.verdict(command, verdict, sent, read, sizes);
        // A fault run's model keeps no earlier states (its reads go to the primaries): no reply is judged stale.
        if (verdict !== 'unverified' && verdict !== 'stale') tally.read(verdict);
        if (mix.judged(verdict)) history.badRead(verdict as 'missing' | 'mismatched', clock.now());
      },
      pause: () => clock.sleep(FAILURE_PAUSE_MS),
    };
    await mix.loop(host);
  }

  /** After an unexpected error: the servers healed, the nemesis disposed of, every key written deleted by name. */
  async abandon(): Promise<void> {
    await this.#writes.stop();
    await this.#watch?.stop();
    await this.#options.injector?.heal().catch(() => null);
    await this.#options.injector?.dispose?.();
    await this.#writes.finish().catch(() => undefined);
    await this.#watch?.cleanup();
    await this.#options.mix?.cleanup(this.#options.checker).catch(() => undefined);
  }

  /** Heals the servers, reads back the writes left and judges the run. */
  async finish(redirectionsSince: (() => Promise<{ moved: number; ask: number }>) | undefined): Promise<FaultTargetResult> {
    const { injector, signal } = this.#options;
    const endMs = this.#elapsedMs();
    // Interrupted (Ctrl-C): heal at once (SIGCONT, restart) rather than wait out the fault's own schedule.
    if (signal?.aborted !== true) await this.#injection;
    this.#sampleMemory();
    // Counted before healing, which moves slots too.
    const redirections = redirectionsSince === undefined ? null : await redirectionsSince().catch(() => null);
    await this.#writes.stop();
    await this.#watch?.stop();
    const cache = this.#watch?.result(this.#target.client.cacheFlushes?.()) ?? null;
    let healed: string | null = null;
    if (injector !== undefined) {
      try {
        healed = await injector.heal();
      } catch (error: unknown) {
        healed = `healing failed: ${redactedMessage(error)}`;
        this.#log(healed, false);
      }
      await this.#injection;
      await injector.dispose?.();
    }
    const [check, mix] = await this.#finalCheck();
    const watchUndeleted = (await this.#watch?.cleanup()) ?? 0;
    const commands = mix === null ? {} : { commands: summarizeCommands(this.#commands.encode(), endMs), housekeeping: this.#commands.encodeHousekeeping() };
    return {
      fault: { ...this.#result(endMs, healed, check, redirections), mix, cache, ...commands },
      tally: this.#tally,
      ops: { set: this.#setHistogram.summarize(this.#tally.setErrors, true), get: this.#getHistogram.summarize(this.#tally.getErrors, true) },
      undeletedKeys: check.undeletedKeys + watchUndeleted,
      aborted: signal?.aborted === true,
      elapsedMs: endMs,
    };
  }

  /**
   * The writes left read back; with a WORKLOAD, every key's whole state read back (and then deleted): its lost writes,
   * during the run and at the end, are the run's lost acknowledged writes, counted per reply and per key.
   */
  async #finalCheck(): Promise<[WriteCheck, MixFaultCheck | null]> {
    const check = await this.#writes.finish();
    const { mix, checker } = this.#options;
    if (mix === undefined) return [check, null];
    // Interrupted (Ctrl-C): the keys are deleted at once, not read back.
    const m = this.#options.signal?.aborted === true ? mix.unread() : await mix.check(checker, () => performance.now());
    const undeleted = await mix.cleanup(checker);
    const lostMissing = m.inRunMissing + m.keysLostMissing;
    const lostDifferent = m.inRunMismatched + m.keysLostDifferent;
    return [{
      ...check, ackedWritesChecked: m.keysChecked, lostAckedWrites: lostMissing + lostDifferent, lostMissing, lostDifferent, lostKeys: m.lostKeys,
      ackedWritesUnchecked: m.keysUnchecked, undeletedKeys: check.undeletedKeys + undeleted,
    }, m];
  }

  /** The injector's view of a partition, with the acknowledged writes that went to the minority and how many were lost. */
  #partition(): PartitionOutcome | null {
    const server = this.#options.injector?.partition?.() ?? null;
    if (server === null) return null;
    const m = this.#writes.minority();
    const seed = this.#options.mix === undefined;
    return { ...server, minorityAckedWrites: seed ? m.acked : null, minorityLostWrites: seed ? m.lost : null };
  }

  #result(endMs: number, healed: string | null, check: WriteCheck, redirections: FaultResult['redirections']): Omit<FaultResult, 'mix' | 'cache'> {
    const plan = this.#controls.fault;
    const history = this.#history;
    const injector = this.#options.injector;
    const faultAtMs = history.faultAtMs;
    const actionEndMs = this.#actionEndMs;
    return {
      kind: plan.kind,
      plannedAtMs: plan.atMs,
      durationMs: plan.durationMs,
      runMs: Math.round(endMs),
      injectedAtMs: faultAtMs === null ? null : Math.round(faultAtMs),
      actionEndMs: actionEndMs === null || actionEndMs > endMs ? null : Math.round(actionEndMs),
      events: this.#events,
      healed,
      ...judgeFault(history.buckets, history.failureRuns, faultAtMs ?? endMs, endMs, Math.min(actionEndMs ?? endMs, endMs)),
      ...check,
      failedOps: { ...history.failed },
      stalledOps: history.stalled,
      peakServerMemory: this.#peak,
      command: injector?.command?.() ?? null,
      redirections,
      scaling: injector?.scaling?.() ?? null,
      partition: this.#partition(),
      clientRetries: this.#target.info.retries ?? 'not recorded',
      timeline: timeline(history.buckets),
    };
  }
}
