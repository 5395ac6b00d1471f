import { randomFillSync, randomUUID } from 'node:crypto';
import type { CaseParams, LoadPlan, RunControls, TargetConfig } from '../config/resolve.js';
import { OpHistogram } from '../measure/histogram.js';
import { seededRandom } from '../measure/random.js';
import type { TargetProbe } from '../targets/client.js';
import { driverFor, type CacheClient } from '../targets/index.js';
import { Tally, chunks, readVerdict, deleteInBatches, type DeleteOutcome, type DeleteProgress } from '../workload/index.js';
import { PRELOAD_IN_FLIGHT } from '../config/limits.js';
import { KeyspaceValues, keyPicker, keyspaceBatches, keyspaceKey, shareCount } from './keys.js';
import { SlotMap, rangesText, type SlotOwner } from './nodes.js';
import type { LoadRecord, NodeRecord } from './record.js';
import type { LoadWindow } from './timeline.js';
import { Schedule, REAL_TIMER, type Slot, type Timer } from './schedule.js';
import { Seconds, Slots } from './recording.js';

/** After a failed op a virtual client waits this long before its next op (a refused connection fails at once). */
export const LOAD_FAILURE_PAUSE_MS = 10;

/** Everything one load-generating process needs for one target and parameter combination (plain data: sent to child processes). */
export interface LoadJob {
  readonly target: TargetConfig;
  readonly probe?: TargetProbe;
  /** The scenario's controls merged with the run's connection settings. */
  readonly controls: RunControls;
  readonly params: CaseParams;
  /** `cachebench:<runId>:` */
  readonly keyPrefix: string;
  /** Seeds the workers' random choices and the KEYSPACE values. */
  readonly seed: number;
  readonly worker: { readonly index: number; readonly of: number };
  readonly shard: { readonly index: number; readonly of: number };
  /** The cluster's primaries and their slots when the run started; null: not a cluster. */
  readonly slotOwners: readonly SlotOwner[] | null;
  /** When this target sends, in ms from the run's start (load/timeline.ts): warm-up, then DURATION whole or in slices. */
  readonly windows: readonly LoadWindow[];
  /** SLICE_SECONDS when the targets take turns in slices; null: each target in turn. */
  readonly sliceSeconds: number | null;
  /** The end of every target's windows, in ms from the run's start: the clean-up waits for it. */
  readonly endMs: number;
}

/** The KEYSPACE one process works on: KEYSPACE / shards keys (each --shard process has its own, under its own run id). */
export function processKeyspace(load: LoadPlan, shards: number): number {
  return load.keyspace === 0 ? 0 : Math.max(1, Math.floor(load.keyspace / shards));
}

/** A worker's share of RATE (ops/s). */
export function workerRate(load: LoadPlan, job: Pick<LoadJob, 'worker' | 'shard'>): number {
  return load.rate / (job.worker.of * job.shard.of);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));


const nsOf = (ms: number): number => Math.max(1, Math.round(ms * 1e6));

/** How far a worker's KEYSPACE preload got: SETs sent of its share. */
export interface PreloadProgress {
  readonly written: number;
  readonly total: number;
}

/** One worker's second of live progress (never part of the results: those come from the record). */
export interface LoadTick {
  readonly ok: number;
  readonly failed: number;
  readonly phase: 'warm-up' | 'measured';
  /** Since this worker's start, and the run's whole length (warm-up and DURATION). */
  readonly atMs: number;
  readonly runMs: number;
}

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
    return keyspaceKey(this.#job.keyPrefix, index);
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
    this.#values = new KeyspaceValues(this.#job.params.PAYLOAD_BYTES, this.#job.seed);
    const { index, of } = this.#job.worker;
    let next = index;
    this.#preloadEnd = () => Math.min(next, this.#keyspace);
    // This worker's share: the indexes ≡ index mod of below KEYSPACE. SETs sent so far are told about once a second.
    const total = shareCount(index, of, this.#keyspace);
    const timer = onPreload === undefined ? undefined : setInterval(() => onPreload({ written: shareCount(index, of, Math.min(next, this.#keyspace)),
      total }), 1000);
    const lanes = this.#connections.flatMap((c) => Array.from({ length: PRELOAD_IN_FLIGHT }, () => c));
    const outcomes = await Promise.allSettled(lanes.map(async (client) => {
      const value = Buffer.allocUnsafe(this.#job.params.PAYLOAD_BYTES);
      while (next < this.#keyspace && !this.#aborted) {
        const i = next;
        next += of;
        try {
          await client.set(this.keyspaceKey(i), (this.#values as KeyspaceValues).fill(value, i), controls.keyTtlSeconds);
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
    const params = job.params;
    const seconds = load.durationMs / 1000;
    const open = load.rate > 0;
    const rate = workerRate(load, job);
    const intervalMs = open ? 1000 / rate : 0;
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
    const schedule = new Schedule(job.windows, startPerf, { intervalMs, phase, yields: job.target.cache === 'tracking', timer });
    this.#schedule = schedule;
    if (this.#aborted) schedule.abort();
    const clock = schedule.clock;
    const firstMeasured = job.windows.find((w) => w.measured)?.fromMs ?? 0;
    const ended = (slot: Slot): boolean => schedule.ended(slot);
    const scheduled = (): Promise<Slot | null> => schedule.next();
    const tally = new Tally();
    const hist = { set: new OpHistogram(), get: new OpHistogram(), setIntended: new OpHistogram(), getIntended: new OpHistogram() };
    const perSecond = new Seconds(seconds);
    const slotMap = job.slotOwners === null ? undefined : new SlotMap(job.slotOwners);
    const nodes = (job.slotOwners ?? []).map(() => ({ ops: 0, errors: 0, latency: new OpHistogram() }));
    let hits = 0;
    let misses = 0;
    let deletes = 0;
    let sentOps = 0; // open loop: scheduled ops of the measured part that were sent
    let peakRss = process.memoryUsage.rss();
    // Live progress: ops completed (warm-up included) and failed since the last tick, told once a second.
    let liveOk = 0;
    let liveFailed = 0;
    let liveActive = 0;
    const rssTimer = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      const at = timer.now();
      // Told for the seconds this target had a turn in, as ops per second of its turn (not of the wall second).
      const active = clock.activeAt(at - startPerf);
      const turnMs = active - liveActive;
      liveActive = active;
      if (at >= startPerf && turnMs >= 50) {
        const per = (n: number): number => Math.round((n * 1000) / turnMs);
        onSecond?.({ ok: per(liveOk), failed: per(liveFailed), phase: clock.windowAt(at - startPerf - 1)?.measured === false ? 'warm-up' : 'measured', atMs: Math.round(active), runMs: clock.activeMs });
      }
      liveOk = 0;
      liveFailed = 0;
    }, 1000);
    const slots = this.#connections.map(() => new Slots(load.pipeline));
    const random = seededRandom((job.seed + 7919 * (job.worker.index + 1) + 104729 * (job.shard.index + 1)) >>> 0);
    const setShare = 1 / (params.READ_RATIO + 1);

    /**
     * Times one op on connection `c`; records it when it belongs to the measured part. Returns its result or the error;
     * `skipped`: its window ended while it waited for a pipeline slot, and it was not sent.
     */
    type Outcome<T> = ({ ok: true; value: T } | { ok: false; skipped?: true }) & { counted: boolean };
    /** The primary serving a key's slot (per-node breakdown); -1 for targets that are not clusters. Once per key, not per op. */
    const nodeOf = (key: string): number => (slotMap === undefined ? -1 : slotMap.ownerOf(key));
    const timed = async <T>(c: number, kind: 'set' | 'get', node: number, slot: Slot, op: (client: CacheClient) => Promise<T>): Promise<Outcome<T>> => {
      const intended = slot.intended;
      // An op belongs to the window in which it was due: its intended time (open loop), or when its client decided to
      // send it (closed loop; before any wait for a pipeline slot). It is sent only while that window lasts.
      const wait = slots[c]?.acquire();
      if (wait !== undefined) await wait;
      if (ended(slot)) {
        slots[c]?.release();
        return { ok: false, skipped: true, counted: false };
      }
      const counted = slot.measured;
      if (counted && intended !== undefined) sentOps++;
      const sent = timer.now();
      let outcome: Outcome<T>;
      try {
        outcome = { ok: true, value: await op(this.#connections[c] as CacheClient), counted };
      } catch (error: unknown) {
        outcome = { ok: false, counted };
        if (counted) tally.fail(kind, error);
      } finally {
        slots[c]?.release();
      }
      const done = timer.now();
      if (outcome.ok) liveOk++;
      else liveFailed++;
      if (!counted) return outcome;
      // By completion time within the measured part; an op that completes after its window ended counts in its last second.
      const second = Math.min(seconds - 1, Math.max(0, Math.floor(clock.measuredOffset(done - startPerf, 1) / 1000)));
      if (kind === 'set') tally.sets++;
      else tally.gets++;
      if (outcome.ok) {
        const service = nsOf(done - sent);
        hist[kind].record(service);
        // From the intended send time; an op sent early (a due time under Node's ~1 ms timer resolution) from its actual send.
        const corrected = intended !== undefined ? nsOf(done - Math.min(intended, sent)) : service;
        if (intended !== undefined) (kind === 'set' ? hist.setIntended : hist.getIntended).record(corrected);
        perSecond.ok(second, kind, corrected);
        const n = nodes[node];
        if (n !== undefined) {
          n.ops++;
          n.latency.record(service);
        }
      } else {
        perSecond.failed(second, kind);
        const n = nodes[node];
        if (n !== undefined) n.errors++;
      }
      return outcome;
    };

    /** Deletes a fresh key by name (not timed, not an op); one whose DEL fails stays in #pending for close(). */
    const deleteFresh = async (c: number, key: string): Promise<void> => {
      try {
        await this.#connections[c]?.del(key);
        deletes++;
        this.#pending.delete(key);
      } catch (error: unknown) {
        void error; // left in #pending: deleted again at close, else it expires by KEY_TTL
      }
    };

    const freshClient = async (c: number): Promise<void> => {
      const payload = Buffer.allocUnsafe(params.PAYLOAD_BYTES);
      let next: Slot | null = null; // a slot already taken from the schedule (a GET's, when its key's window ended)
      let leftover: string | undefined; // a key whose DEL waits for this target's next turn
      while (!this.#aborted) {
        let slot: Slot | null = next ?? (await scheduled());
        next = null;
        if (slot === null || this.#aborted) break;
        if (leftover !== undefined) {
          await deleteFresh(c, leftover);
          leftover = undefined;
        }
        const key = job.keyPrefix + randomUUID();
        randomFillSync(payload);
        this.#pending.add(key);
        const node = nodeOf(key);
        const set = await timed(c, 'set', node, slot, (client) => client.set(key, payload, job.controls.keyTtlSeconds));
        let failed = !set.ok && set.skipped !== true;
        const window = slot.window;
        for (let r = 0; r < params.READ_RATIO && set.ok && !this.#aborted; r++) {
          slot = await scheduled();
          if (slot === null) break;
          // A key's reads stay in the turn it was written in: one that would wait through other targets' turns (and
          // could expire meanwhile) is given up, and the GET's slot writes a fresh key in the next turn.
          if (slot.window !== window) {
            next = slot;
            break;
          }
          const got = await timed(c, 'get', node, slot, (client) => client.get(key));
          if (!got.ok) {
            failed = got.skipped !== true;
            break;
          }
          if (got.counted) tally.read(readVerdict(got.value, payload));
        }
        // The DEL goes in this turn while it lasts; else at the start of the next (no traffic in another target's turn).
        if (ended({ window, measured: false })) leftover = key;
        else await deleteFresh(c, key);
        if (failed) await sleep(LOAD_FAILURE_PAUSE_MS);
      }
      if (leftover !== undefined) await deleteFresh(c, leftover);
    };

    const keyspaceClient = async (c: number, client: number): Promise<void> => {
      const values = this.#values as KeyspaceValues;
      const value = Buffer.allocUnsafe(params.PAYLOAD_BYTES);
      // sequential: the clients of all workers start spread over the key space, not in lockstep.
      const walker = client * job.worker.of + job.worker.index;
      const pick = keyPicker(load.distribution, this.#keyspace, random, Math.floor((walker * this.#keyspace) / (load.clients * job.worker.of)));
      while (!this.#aborted) {
        const slot = await scheduled();
        if (slot === null || this.#aborted) return;
        const index = pick();
        const key = this.keyspaceKey(index);
        const node = nodeOf(key);
        let ok: boolean;
        if (random() < setShare) {
          const set = await timed(c, 'set', node, slot, (cl) => cl.set(key, values.fill(value, index), job.controls.keyTtlSeconds));
          ok = set.ok || set.skipped === true;
        } else {
          const got = await timed(c, 'get', node, slot, (cl) => cl.get(key));
          ok = got.ok || got.skipped === true;
          const counted = got.counted;
          if (got.ok && got.value === null) {
            if (counted) misses++;
            // A miss refills the key, as a cache-aside application would (a SET, timed and counted like any other).
            // Due with the GET that missed, in its window; in open loop timed from its own send (not on the schedule).
            const refill = await timed(c, 'set', node, { window: slot.window, measured: slot.measured }, (cl) => cl.set(key, values.fill(value, index), job.controls.keyTtlSeconds));
            ok = refill.ok || refill.skipped === true;
          } else if (got.ok && got.value !== null && counted) {
            hits++;
            if (values.matches(got.value, index)) tally.verified++;
            else tally.mismatched++;
          }
        }
        if (!ok) await sleep(LOAD_FAILURE_PAUSE_MS);
      }
    };

    // Waiting for the start (START_AT may be a minute away) stops at once on abort: the clients then send nothing.
    await schedule.until(startPerf);
    try {
      await Promise.all(Array.from({ length: load.clients }, (_, i) => (this.#keyspace > 0 ? keyspaceClient(i % this.#connections.length,
        i) : freshClient(i % this.#connections.length))));
      // The clean-up (close) waits for the end of every target's turns: deleting keys is load too.
      await schedule.until(startPerf + job.endMs);
    } finally {
      clearInterval(rssTimer);
    }
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    const measuredStartMs = startAtMs + firstMeasured;
    const owners = job.slotOwners;
    const nodeRecords: NodeRecord[] | null = owners === null ? null : owners.map((o, i) => ({
      node: o.node, slots: rangesText(o.slots), ops: nodes[i]?.ops ?? 0, errors: nodes[i]?.errors ?? 0,
      latency: (nodes[i]?.latency ?? new OpHistogram()).encode(),
    }));
    const okOps = hist.set.count + hist.get.count;
    return {
      target: job.target.name, startMs: measuredStartMs, durationMs: load.durationMs, view: open ? 'intended' : 'service',
      sets: tally.sets, gets: tally.gets, setErrors: tally.setErrors, getErrors: tally.getErrors,
      scheduled: open ? Math.round((load.durationMs / 1000) * rate) : null,
      sent: open ? sentOps : null,
      lateStartMs,
      verified: tally.verified, missing: tally.missing, mismatched: tally.mismatched,
      hits: this.#keyspace > 0 ? hits : null, misses: this.#keyspace > 0 ? misses : null,
      deletes, undeletedKeys: 0, errorMessages: Object.fromEntries(tally.errorMessages),
      histograms: {
        set: hist.set.encode(), get: hist.get.encode(),
        setIntended: open ? hist.setIntended.encode() : null, getIntended: open ? hist.getIntended.encode() : null,
      },
      series: perSecond.records((second) => startAtMs + clock.wallOfMeasured(second * 1000)),
      nodes: nodeRecords,
      sliceSeconds: job.sliceSeconds,
      workers: [{ worker: `shard ${job.shard.index}/${job.shard.of} worker ${job.worker.index}/${job.worker.of}`, ops: okOps, peakRssBytes: peakRss }],
    };
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
      const batches = (function* () {
        yield* chunks(pending);
        yield* keyspaceBatches(prefix, index, of, upTo);
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
