import type { LoadPlan } from '../config/resolve.js';
import { driverFor } from '../targets/drivers.js';
import { waitTimeoutMs, type CacheClient } from '../targets/client.js';
import { chunks, deleteInBatches, type DeleteOutcome, type DeleteProgress } from '../workload/cleanup.js';
import { PRELOAD_IN_FLIGHT } from '../config/limits.js';
import { KeyspaceValues, keyspaceBatches, keyspaceKey } from './keys.js';
import { shareCount } from '../workload/key-pickers.js';
import type { LoadRecord } from './record.js';
import { Schedule, REAL_TIMER, type Timer } from './schedule.js';
import { LoadGenerator } from './generator.js';
import { processKeyspace, workerRate, type LoadJob, type LoadTick, type PreloadProgress } from './job.js';
import { ConfigError } from '../config/errors.js';
import { MixModel, MixValues } from '../workload/mix-model.js';
import { MixKeys } from '../workload/mix-keys.js';
import { preloadKey, type MixRun } from '../workload/mix-client.js';
import { largestMixValue, mixListCap, mixMeanValue, type WorkloadPlan } from '../config/workload.js';
import type { TracePlan } from '../config/plan.js';
import { readTraceFile } from '../config/trace-plan.js';
import { traceRun, type TraceRun } from './trace-run.js';

/**
 * One load-generating process's part of a throughput run against one target: CONNECTIONS clients of the target's
 * driver, CLIENTS virtual clients over them (client i on connection i mod CONNECTIONS, at most PIPELINE ops in flight
 * per connection), closed loop or on RATE's schedule. `prepare` connects and preloads, `run` generates the load from a
 * wall-clock start, `close` deletes what is left and disconnects.
 */
export class LoadWorker {
  readonly #job: LoadJob;
  readonly #load: LoadPlan;
  #connections: CacheClient[] = [];
  #values: KeyspaceValues | undefined;
  /** A WORKLOAD run's keys and model (this worker's clients' keys). */
  #mix: MixRun<TraceRun> | undefined;
  readonly #keyspace: number;
  #aborted = false;
  #undeleted = 0;
  #closing: Promise<number> | undefined;
  /** How far the KEYSPACE preload got (exclusive): what close() deletes. */
  #preloadEnd: () => number = () => 0;
  readonly #pending = new Set<string>();
  #cleanupStopped = false;
  #cleanupOutcome: DeleteOutcome | undefined;
  #schedule: Schedule | undefined;
  readonly #timer: Timer;

  /** `timer`: the clock the load is scheduled and timed on (tests drive it in virtual time). */
  constructor(job: LoadJob, timer: Timer = REAL_TIMER) {
    this.#job = job;
    this.#timer = timer;
    this.#load = job.controls.load;
    this.#keyspace = processKeyspace(this.#load, job.shard.of);
  }

  /** The name of KEYSPACE key `index`. */
  keyspaceKey(index: number): string {
    return this.#mix !== undefined ? this.#mix.keys.name(index) : keyspaceKey(this.#job.keyPrefix, index);
  }

  /** Whose command semantics the model follows: the target's protocol. */
  #semantics(): 'redis' | 'memcache' {
    return this.#job.target.protocol === 'memcache' ? 'memcache' : 'redis';
  }

  /** A TRACE's keys, model and ops for this worker: the file read again, and refused if it changed since the run was planned. */
  #traceRun(plan: WorkloadPlan, tracePlan: TracePlan): MixRun<TraceRun> {
    const { load } = this.#job.controls;
    const trace = readTraceFile(tracePlan.file);
    if (trace.digest !== tracePlan.digest) throw new Error(`the trace file ${tracePlan.name} changed after the run was planned (its sha256 differs): replay a file that stays as it is`);
    const payload = tracePlan.fallbackBytes;
    const window = { warmupMs: load.warmupMs, durationMs: load.durationMs };
    const tr = traceRun(trace, tracePlan, load.clients, this.#job.worker, window, payload, tracePlan.noTtlSeconds, load.connections);
    return {
      plan, keys: new MixKeys(this.#job.keyPrefix, this.#keyspace, load.clients * this.#job.worker.of, 1, trace.keyBytes),
      model: new MixModel(new MixValues(Math.max(trace.largestValue, payload), this.#job.seed), undefined, this.#semantics()), distribution: load.distribution,
      sizes: { kind: 'fixed', bytes: payload }, ttl: { min: tracePlan.noTtlSeconds, max: tracePlan.noTtlSeconds }, trace: tr, ...this.#wait(),
    };
  }

  /** A WORKLOAD's keys and model for this worker; undefined without one. */
  #mixRun(): MixRun<TraceRun> | undefined {
    const { load, keyTtlSeconds } = this.#job.controls;
    const plan = load.workload;
    if (plan === null) return undefined;
    if (load.trace !== null) return this.#traceRun(plan, load.trace);
    const owners = load.clients * this.#job.worker.of;
    if (this.#keyspace < owners * plan.width) {
      throw new ConfigError(`KEYSPACE: this --shard process's ${this.#keyspace} keys are fewer than its CLIENTS × WORKERS = ${owners} clients${plan.width > 1 ? ` × ${plan.width} keys per group` : ''} (each key of a WORKLOAD has one writer). Fix: raise KEYSPACE or lower CLIENTS`);
    }
    const sizes = plan.sizes ?? { kind: 'fixed', bytes: this.#job.params.PAYLOAD_BYTES };
    const payload = this.#job.params.PAYLOAD_BYTES;
    const values = new MixValues(largestMixValue(plan, payload), this.#job.seed);
    const model = new MixModel(values, mixListCap(load.keyspace, mixMeanValue(plan, payload)), this.#semantics());
    return {
      plan, keys: new MixKeys(this.#job.keyPrefix, this.#keyspace, owners, plan.width), model,
      distribution: load.distribution, sizes,
      ttl: { min: plan.ttl?.minSeconds ?? keyTtlSeconds, max: plan.ttl?.maxSeconds ?? keyTtlSeconds }, ...this.#wait(),
    };
  }

  /** `<NAME>_WAIT`: what a WORKLOAD's writes wait for (see MixRun.wait). */
  #wait(): Pick<MixRun, 'wait'> {
    const replicas = this.#job.target.waitReplicas;
    const opTimeoutMs = this.#job.controls.opTimeoutMs;
    return replicas > 0 ? { wait: { replicas, timeoutMs: waitTimeoutMs(opTimeoutMs), opTimeoutMs } } : {};
  }

  /** Preloads key `i` of a WORKLOAD (workload/mix-client.ts preloadKey). */
  async #preloadMix(client: CacheClient, mix: MixRun, i: number): Promise<void> {
    if (client.command === undefined) throw new Error(`the ${this.#job.target.client} driver cannot send a WORKLOAD's commands`);
    await preloadKey(client, mix, i, () => this.#timer.now());
  }

  /** Connects CONNECTIONS clients (all or none) and preloads this worker's share of the KEYSPACE (indexes ≡ worker mod workers). */
  async prepare(onPreload?: (progress: PreloadProgress) => void): Promise<void> {
    const { target, controls, probe } = this.#job;
    const driver = await driverFor(target.client);
    const attempts = await Promise.allSettled(Array.from({ length: this.#load.connections }, () => driver.connect(target, controls, probe)));
    this.#connections = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value.client] : []));
    const failed = attempts.find((a): a is PromiseRejectedResult => a.status === 'rejected');
    if (failed !== undefined) {
      await this.close();
      throw failed.reason;
    }
    if (this.#keyspace === 0) return;
    this.#mix = this.#mixRun();
    // A WORKLOAD makes its own values (MixValues); the GET/SET mix's block is not needed then.
    if (this.#mix === undefined) this.#values = new KeyspaceValues(this.#job.params.PAYLOAD_BYTES, this.#job.seed);
    const { index, of } = this.#job.worker;
    // A trace starts from an empty cache: nothing is preloaded, and every key of this worker's share is deleted at the end.
    if (this.#mix?.trace !== undefined) {
      this.#preloadEnd = () => this.#keyspace;
      return;
    }
    let next = index;
    this.#preloadEnd = () => Math.min(next, this.#keyspace);
    // This worker's share: the indexes ≡ index mod of below KEYSPACE. SETs sent so far are told about once a second.
    const total = shareCount(index, of, this.#keyspace);
    const timer = onPreload === undefined ? undefined : setInterval(() => onPreload({ written: shareCount(index, of, Math.min(next, this.#keyspace)),
      total }), 1000);
    const lanes = this.#connections.flatMap((c) => Array.from({ length: PRELOAD_IN_FLIGHT }, () => c));
    const outcomes = await Promise.allSettled(lanes.map(async (client) => {
      const value = Buffer.allocUnsafe(this.#mix === undefined ? this.#job.params.PAYLOAD_BYTES : 0);
      while (next < this.#keyspace && !this.#aborted) {
        const i = next;
        next += of;
        try {
          if (this.#mix !== undefined) await this.#preloadMix(client, this.#mix, i);
          else await client.set(this.keyspaceKey(i), (this.#values as KeyspaceValues).fill(value, i), controls.keyTtlSeconds);
        } catch (error: unknown) {
          // One failed SET stops every lane, and all have settled before close() deletes what was written.
          this.#aborted = true;
          throw error;
        }
      }
    }));
    clearInterval(timer);
    const preloadFailed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (preloadFailed !== undefined) throw preloadFailed.reason;
  }

  /** Stops the load early (Ctrl-C): virtual clients finish their op in flight and stop; sleeping ones wake at once. */
  abort(): void {
    this.#aborted = true;
    this.#schedule?.abort();
  }

  /**
   * Generates the load from `startAtMs` (Unix ms) in the job's windows: warm-up, then DURATION measured seconds (whole,
   * or in slices between the other targets' turns, when this worker sleeps). Returns this worker's record.
   */
  async run(startAtMs: number, onSecond?: (tick: LoadTick) => void): Promise<LoadRecord> {
    const job = this.#job;
    const load = this.#load;
    const rate = workerRate(load, job);
    // The timeline is fixed to the start time, shared by every target's workers and every --shard process: a worker
    // ready after it (a long preload, a late START_AT) joins where the timeline is, never shifting its windows into
    // another target's turn; what it missed is recorded (lateStartMs, seconds without ops).
    const timer = this.#timer;
    const startPerf = timer.now() + (startAtMs - Date.now());
    const lateStartMs = Math.max(0, Math.round(timer.now() - startPerf));
    // The workers (and shards) of one target interleave their schedules: worker w of W, shard s of S sends at phase
    // (w + s·W) / (W·S) of the interval, so together they send evenly, not in bursts of W·S.
    const phase = (job.worker.index + job.shard.index * job.worker.of) / (job.worker.of * job.shard.of);
    // A client cache answers hits without I/O: a closed loop of hits would never give the event loop a turn (no
    // invalidation read, no timer run). As in the seed loop, each client then yields once a millisecond has passed.
    const schedule = new Schedule(job.windows, startPerf, { intervalMs: load.rate > 0 ? 1000 / rate : 0, phase, yields: job.target.cache === 'tracking', timer });
    this.#schedule = schedule;
    if (this.#aborted) schedule.abort();
    const generator = new LoadGenerator(job, {
      connections: this.#connections, pending: this.#pending, aborted: () => this.#aborted, keyspace: this.#keyspace, values: this.#values,
      keyspaceKey: (index) => this.keyspaceKey(index), mix: this.#mix,
    }, schedule, timer, startPerf);
    const ticker = setInterval(() => generator.tick(onSecond), 1000);
    // Waiting for the start (START_AT may be a minute away) stops at once on abort: the clients then send nothing.
    await schedule.until(startPerf);
    try {
      await generator.clients();
      // The clean-up (close) waits for the end of every target's turns: deleting keys is load too.
      await schedule.until(startPerf + job.endMs);
    } finally {
      clearInterval(ticker);
      generator.stopMeters();
    }
    return generator.record(startAtMs, lateStartMs, rate);
  }

  /**
   * Deletes keys this worker left (fresh keys whose DEL failed, its share of the KEYSPACE as far as the preload got),
   * then disconnects. Returns the keys it could not delete (they expire by KEY_TTL). Safe to call more than once.
   * The KEYSPACE names are generated in batches (memory independent of the key count); `onProgress` hears how far it
   * got about once a second, and stopCleanup() ends it after the batch in flight.
   */
  close(onProgress?: (progress: DeleteProgress) => void): Promise<number> {
    this.#closing ??= this.#close(onProgress);
    return this.#closing;
  }

  /** Ends a clean-up in progress after its current batch: the keys not yet deleted are left to expire by KEY_TTL. */
  stopCleanup(): void {
    this.#cleanupStopped = true;
  }

  /** How the last clean-up ended (undefined before one ran): `left` keys were not tried. */
  get cleanup(): DeleteOutcome | undefined {
    return this.#cleanupOutcome;
  }

  async #close(onProgress?: (progress: DeleteProgress) => void): Promise<number> {
    const connections = this.#connections;
    if (connections.length > 0) {
      const pending = [...this.#pending];
      const { index, of } = this.#job.worker;
      const upTo = this.#preloadEnd();
      const prefix = this.#job.keyPrefix;
      const mix = this.#mix;
      const name = mix === undefined ? undefined : (i: number): string => mix.keys.name(i);
      const batches = (function* () {
        yield* chunks(pending);
        yield* keyspaceBatches(prefix, index, of, upTo, undefined, name);
      })();
      const total = pending.length + shareCount(index, of, upTo);
      this.#cleanupOutcome = await deleteInBatches(connections, batches, total, {
        shouldStop: () => this.#cleanupStopped,
        ...(onProgress !== undefined ? { onProgress } : {}),
      });
      this.#undeleted += this.#cleanupOutcome.failed + this.#cleanupOutcome.left;
      this.#pending.clear();
    }
    await Promise.all(connections.map((c) => c.close()));
    this.#connections = [];
    return this.#undeleted;
  }
}
