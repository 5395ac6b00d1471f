/**
 * A latency run with a WORKLOAD: each target's one client runs the mix on a KEYSPACE of keys it preloaded and owns
 * (workload/mix-keyspace.ts), every reply judged by the model. The client runs for the whole combination and is given
 * turns: an iteration is a turn of `invocations` ops (a command of a sequence, a transaction or a script each), and with
 * INTERLEAVE=key each target's turn is one op, the targets alternating op by op. Between turns the client waits, so
 * what it picked, where a sequence stands and what the model knows carry over from one iteration to the next.
 */
import type { CaseParams, RunControls } from '../config/resolve.js';
import { redactedMessage } from '../config/redact.js';
import { readOnlyCommand, type WorkloadPlan } from '../config/workload.js';
import { seededRandom } from '../measure/random.js';
import type { CacheClient, ConnectedTarget } from '../targets/client.js';
import { CommandStats, summarizeCommands, valueSizesOf, type CommandRecord, type CommandSummary, type ValueSizes } from '../workload/command-stats.js';
import { mixClient, type MixHost, type Slot } from '../workload/mix-client.js';
import { MixKeyspace } from '../workload/mix-keyspace.js';
import type { IterationOutcome, OpRecorder, StopCheck } from '../workload/seed-loop.js';
import type { Tally } from '../workload/tally.js';

/** What a latency run with a WORKLOAD measured per command, for one target (results.json `mix`). */
export interface LatencyMixResult {
  /** The WORKLOAD (a built-in's name, or the mix), its keys' data type and how many keys it ran on. */
  readonly workload: string;
  readonly keyType: WorkloadPlan['keyType'];
  readonly keys: number;
  /** Ops of the discarded warm-up and pilot iterations (sent and judged, not in `commands`). */
  readonly warmupOps: number;
  /** Each command's ops, latency and verdicts over the measured iterations (ops/s over their summed time), the most sent first. */
  readonly commands: readonly CommandSummary[];
  /** Commands sent besides the ops (an EXPIRE after a write, a key put back in a known state, EVAL after NOSCRIPT, WAIT), warm-up included. */
  readonly housekeeping: Readonly<Record<string, number>>;
  /** Each command's counts and encoded latency histogram over the measured iterations (for charts). */
  readonly record: Readonly<Record<string, CommandRecord>>;
  /** Sizes of the values the measured ops wrote; absent when none was written. */
  readonly values?: ValueSizes;
}

/**
 * With READ_FROM=replica, how long after a write the state it replaced is still taken for a replica's answer (a stale
 * read, with its age); a reply of a state replaced longer ago is mismatched.
 */
export const STALE_HORIZON_MS = 10_000;

const MEASURED: Slot = { window: 0, measured: true };
const WARMUP: Slot = { window: 0, measured: false };

export class LatencyMix {
  readonly keyspace: MixKeyspace;
  readonly #commands: CommandStats;
  readonly #target: ConnectedTarget;
  readonly #tally: Tally;
  readonly #seed: number;
  /** Ops left in the current turn, and whether it is measured. */
  #left = 0;
  #slot: Slot = WARMUP;
  /** The current turn's first failure (it ends the turn); its ops so far. */
  #failure: string | undefined;
  #ops = 0;
  #warmupOps = 0;
  #measuredMs = 0;
  /** Time (ns, cumulative) the client spent on what it sends besides the ops (housekeeping), left out of the turns' times. */
  #asideNs = 0;
  /** The last turn's time (ms) that was not the ops': housekeeping and the model's bookkeeping of earlier states. */
  lastTurnAsideMs = 0;
  /** Replies of read-only commands judged (warm-up included): the reads a replica may have answered. */
  #reads = 0;
  #recorder: OpRecorder | undefined;
  /** The client waiting for its next turn (null: none), and the end of the current turn. */
  #wake: ((slot: Slot | null) => void) | undefined;
  #turnEnd: (() => void) | undefined;
  #closed = false;
  #loop: Promise<void> | undefined;

  constructor(target: ConnectedTarget, plan: WorkloadPlan, params: CaseParams, controls: RunControls, keyPrefix: string, seed: number, tally: Tally) {
    this.#target = target;
    this.#tally = tally;
    this.#seed = seed;
    this.keyspace = new MixKeyspace(plan, controls.load.keyspace, controls.load.distribution, params, controls, keyPrefix, {
      semantics: target.config.protocol === 'memcache' ? 'memcache' : 'redis', seed, waitReplicas: target.config.waitReplicas,
    });
    // Reads from replicas may answer with a state the primary has replaced: the model keeps those to judge them stale.
    const replicas = target.config.readFrom === 'replica';
    if (replicas) this.keyspace.run.model.keepHistory(STALE_HORIZON_MS);
    this.#commands = new CommandStats(false, replicas);
  }

  /**
   * Preloads the keys and starts the client (it waits for its first turn); the preload's failure is thrown, after the
   * keys it wrote are deleted (the count of those that could not be is in the message).
   */
  async start(shouldStop: StopCheck, signal?: AbortSignal, progress?: (written: number) => void): Promise<void> {
    const client = this.#target.client;
    await this.keyspace.preloadOrClean(client, client, () => performance.now(), signal, progress);
    const host = this.#host(client, seededRandom(this.#seed), shouldStop);
    this.#loop = mixClient(host, this.keyspace.run, 0, 0).catch((error: unknown) => {
      this.#failure ??= redactedMessage(error);
    }).finally(() => {
      this.#closed = true;
      this.#endTurn();
    });
  }

  /**
   * One turn of `ops` ops (an iteration, or one op of an interleaved round), recorded when `recorder` is given (a
   * measured iteration); `elapsedMs` is added to the measured time the per-command ops/s is over. It ends early at the
   * first failed op (state failed), or when the run stops (aborted).
   */
  async turn(ops: number, recorder: OpRecorder | undefined, shouldStop: StopCheck): Promise<IterationOutcome> {
    if (this.#closed || this.#wake === undefined) return { state: 'aborted', attempted: 0 };
    this.#left = ops;
    this.#ops = 0;
    this.#failure = undefined;
    this.#recorder = recorder;
    this.#slot = recorder !== undefined ? MEASURED : WARMUP;
    const ended = new Promise<void>((resolve) => {
      this.#turnEnd = resolve;
    });
    const model = this.keyspace.run.model;
    const aside = this.#asideNs + model.bookkeepingNs;
    const wake = this.#wake;
    this.#wake = undefined;
    wake(this.#take());
    await ended;
    this.lastTurnAsideMs = (this.#asideNs + model.bookkeepingNs - aside) / 1e6;
    const attempted = this.#ops;
    if (recorder === undefined) this.#warmupOps += attempted;
    if (this.#failure !== undefined) return { state: 'failed', attempted, error: this.#failure };
    return this.#closed || shouldStop() ? { state: 'aborted', attempted } : { state: 'completed', attempted };
  }

  /** Replies of read-only commands judged so far (warm-up included): what a stale share is out of. */
  get reads(): number {
    return this.#reads;
  }

  /** Adds a measured turn's time (ms, without its aside time) to the time the per-command ops/s is over. */
  measured(ms: number): void {
    this.#measuredMs += ms;
  }

  /** Ends the client (it is waiting for a turn, or stops before its next op) and deletes every key. Returns how many were not deleted. */
  async stop(): Promise<number> {
    this.#closed = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.(null);
    await this.#loop;
    return this.keyspace.cleanup(this.#target.client).catch(() => this.keyspace.preloaded);
  }

  result(): LatencyMixResult {
    const plan = this.keyspace.plan;
    const values = valueSizesOf(this.#commands.encodeSizes());
    const record = this.#commands.encode();
    return {
      workload: plan.name === 'custom' ? plan.text : plan.name, keyType: plan.keyType, keys: this.keyspace.preloaded, warmupOps: this.#warmupOps,
      commands: summarizeCommands(record, this.#measuredMs), housekeeping: this.#commands.encodeHousekeeping(), record,
      ...(values !== undefined ? { values } : {}),
    };
  }

  /** The current turn's next slot, counted; undefined when the turn is used up or failed. */
  #take(): Slot | null {
    this.#left--;
    this.#ops++;
    return this.#slot;
  }

  #endTurn(): void {
    const end = this.#turnEnd;
    this.#turnEnd = undefined;
    end?.();
  }

  /** What the mix client runs on: its turns as the schedule, each op timed and each verdict counted. */
  #host(client: CacheClient, random: () => number, shouldStop: StopCheck): MixHost {
    const commands = this.#commands;
    const tally = this.#tally;
    return {
      schedule: {
        next: (): Promise<Slot | null> => {
          if (this.#left > 0 && this.#failure === undefined && !this.#closed) return Promise.resolve(this.#take());
          if (this.#closed) {
            this.#endTurn();
            return Promise.resolve(null);
          }
          const next = new Promise<Slot | null>((resolve) => {
            this.#wake = resolve;
          });
          this.#endTurn();
          return next;
        },
      },
      aborted: () => this.#closed || shouldStop(),
      // The model's clock is performance.now()'s, as the preload's was.
      random, now: () => performance.now(), nodeOf: () => -1,
      timed: async (_c, kind, _node, slot, op, command) => {
        // The model's bookkeeping of earlier states (replica reads), done as the op is prepared, is not the op's time.
        const model = this.keyspace.run.model;
        const bookkept = model.bookkeepingNs;
        const t0 = process.hrtime.bigint();
        try {
          const value = await op(client);
          const t1 = process.hrtime.bigint();
          const ns = Number(t1 - t0) - (model.bookkeepingNs - bookkept);
          tally[kind === 'set' ? 'sets' : 'gets']++;
          if (slot.measured) {
            this.#recorder?.[kind](ns, t0, t1);
            commands.op(command, true, ns, undefined);
          }
          return { ok: true, value, counted: true };
        } catch (error: unknown) {
          this.#failure ??= tally.fail(kind, error, command);
          if (slot.measured) commands.op(command, false, 0, undefined);
          return { ok: false, counted: true };
        }
      },
      untimed: async (_c, args, key) => {
        commands.housekeeping(String(args[0]));
        const t0 = process.hrtime.bigint();
        try {
          return await (client.command as NonNullable<CacheClient['command']>)(args, { key, readOnly: false }).catch(() => undefined);
        } finally {
          this.#asideNs += Number(process.hrtime.bigint() - t0);
        }
      },
      extra: (_c, command) => commands.housekeeping(command),
      // Every reply is counted in the target's verification (warm-up included, as the seed loop's), and per command when measured.
      verdict: (command, verdict, sent, read, sizes, staleAgeMs) => {
        if (verdict === 'stale') tally.staleRead(Math.round(staleAgeMs * 1e6));
        else if (verdict !== 'unverified') tally.read(verdict);
        if (verdict !== 'unverified' && readOnlyCommand(command)) this.#reads++;
        if (this.#slot.measured) commands.verdict(command, verdict, sent, read, sizes);
      },
      pause: () => Promise.resolve(),
    };
  }
}

/** A seed for every target's client: the same for all, so that they pick the same entries and keys in the same order. */
export function mixSeed(random: () => number): number {
  return Math.floor(random() * 2 ** 32) >>> 0;
}

/** The mix clients of a combination by target, or undefined without a WORKLOAD. */
export function latencyMixes(targets: readonly ConnectedTarget[], tallies: readonly Tally[], params: CaseParams, controls: RunControls, keyPrefix: string,
  seed: number): LatencyMix[] | undefined {
  const plan = controls.load.workload;
  if (plan === null) return undefined;
  return targets.map((t, i) => new LatencyMix(t, plan, params, controls, targets.length > 1 ? `${keyPrefix}t${i}:` : keyPrefix, seed, tallies[i] as Tally));
}
