/**
 * One load worker's run against its target, as it goes: the virtual clients (fresh keys or the KEYSPACE mix), each op
 * timed and recorded by the window it was due in, the live ticks, and the worker's record at the end (see LoadWorker).
 */
import { randomFillSync, randomUUID } from 'node:crypto';
import { OpHistogram } from '../measure/histogram.js';
import { seededRandom } from '../measure/random.js';
import { readWith, type CacheClient } from '../targets/client.js';
import { Tally, readVerdict } from '../workload/tally.js';
import type { KeyspaceValues } from './keys.js';
import { keyPicker } from '../workload/key-pickers.js';
import { SlotMap, rangesText } from './nodes.js';
import type { LoadRecord, NodeRecord } from './record.js';
import { SELF_SECOND_MS, SelfMeter } from './self-meter.js';
import type { Schedule, Slot, Timer } from './schedule.js';
import type { TraceRun } from './trace-run.js';
import { Seconds, Slots } from './recording.js';
import type { LoadJob, LoadTick } from './job.js';
import { CommandStats } from '../workload/command-stats.js';
import { mixClient, type MixHost, type MixRun } from '../workload/mix-client.js';
import { traceClient } from './trace-client.js';

/** After a failed op a virtual client waits this long before its next op (a refused connection fails at once). */
export const LOAD_FAILURE_PAUSE_MS = 10;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const nsOf = (ms: number): number => Math.max(1, Math.round(ms * 1e6));

/**
 * An op's result: its value or that it failed, and whether it belongs to the measured part; `skipped`: its window
 * ended while it waited for a pipeline slot, and it was not sent.
 */
type Outcome<T> = ({ ok: true; value: T } | { ok: false; skipped?: true }) & { counted: boolean };

/** What the generator uses of its worker: its connections, the fresh keys not yet deleted, the KEYSPACE, abort. */
export interface WorkerParts {
  readonly connections: readonly CacheClient[];
  /** Fresh keys written and not yet deleted (close() deletes what is left). */
  readonly pending: Set<string>;
  readonly aborted: () => boolean;
  readonly keyspace: number;
  readonly values: KeyspaceValues | undefined;
  readonly keyspaceKey: (index: number) => string;
  /** A WORKLOAD run's keys, model and plan; undefined: the seed loop or the KEYSPACE mix. */
  readonly mix: MixRun<TraceRun> | undefined;
}

export class LoadGenerator {
  readonly #job: LoadJob;
  readonly #worker: WorkerParts;
  readonly #schedule: Schedule;
  readonly #timer: Timer;
  /** performance-clock time of the timeline's start. */
  readonly #startPerf: number;
  readonly #seconds: number;
  readonly #tally = new Tally();
  readonly #hist = { set: new OpHistogram(), get: new OpHistogram(), setIntended: new OpHistogram(), getIntended: new OpHistogram() };
  readonly #perSecond: Seconds;
  readonly #slotMap: SlotMap | undefined;
  readonly #nodes: { ops: number; errors: number; latency: OpHistogram }[];
  readonly #slots: Slots[];
  readonly #random: () => number;
  #hits = 0;
  #misses = 0;
  #deletes = 0;
  /** Open loop: scheduled ops of the measured part that were sent. */
  #sentOps = 0;
  #peakRss = process.memoryUsage.rss();
  // Live progress: ops completed (warm-up included) and failed since the last tick.
  #liveOk = 0;
  #liveFailed = 0;
  #liveActive = 0;
  readonly #self: SelfMeter;
  readonly #commands: CommandStats | undefined;
  /** A trace replay at a factor: each op's send time against its intended one. */
  readonly #lag: { readonly hist: OpHistogram; earlyMs: number } | undefined;

  constructor(job: LoadJob, worker: WorkerParts, schedule: Schedule, timer: Timer, startPerf: number) {
    this.#job = job;
    this.#worker = worker;
    this.#schedule = schedule;
    this.#timer = timer;
    this.#startPerf = startPerf;
    this.#seconds = job.controls.load.durationMs / 1000;
    this.#perSecond = new Seconds(this.#seconds);
    this.#slotMap = job.slotOwners === null ? undefined : new SlotMap(job.slotOwners);
    this.#nodes = (job.slotOwners ?? []).map(() => ({ ops: 0, errors: 0, latency: new OpHistogram() }));
    this.#slots = worker.connections.map(() => new Slots(job.controls.load.pipeline));
    this.#commands = worker.mix === undefined ? undefined : new CommandStats(job.controls.load.rate > 0);
    this.#lag = worker.mix?.trace?.speed != null ? { hist: new OpHistogram(), earlyMs: 0 } : undefined;
    this.#random = seededRandom((job.seed + 7919 * (job.worker.index + 1) + 104729 * (job.shard.index + 1)) >>> 0);
    // Bytes on the wire of every connection of this worker, where each client counts them.
    this.#self = new SelfMeter(() => {
      let total = 0;
      for (const c of worker.connections) {
        if (c.wireBytes === undefined) return undefined;
        total += c.wireBytes();
      }
      return total;
    });
  }

  /** Once a second: the peak RSS, and the live tick for the seconds this target had a turn in (ops per second of its turn). */
  tick(onSecond: ((tick: LoadTick) => void) | undefined): void {
    this.#peakRss = Math.max(this.#peakRss, process.memoryUsage.rss());
    const clock = this.#schedule.clock;
    const at = this.#timer.now();
    const active = clock.activeAt(at - this.#startPerf);
    const turnMs = active - this.#liveActive;
    this.#liveActive = active;
    // The generator's own load counts for the measured seconds its target sent throughout (not warm-up, not the ones
    // it slept through).
    const measured = clock.windowAt(at - this.#startPerf - 1)?.measured === true;
    this.#self.second(turnMs >= SELF_SECOND_MS && at >= this.#startPerf && measured, this.#liveOk + this.#liveFailed);
    if (at >= this.#startPerf && turnMs >= 50) {
      const per = (n: number): number => Math.round((n * 1000) / turnMs);
      onSecond?.({ ok: per(this.#liveOk), failed: per(this.#liveFailed), phase: clock.windowAt(at - this.#startPerf - 1)?.measured === false ? 'warm-up' : 'measured',
        atMs: Math.round(active), runMs: clock.activeMs });
    }
    this.#liveOk = 0;
    this.#liveFailed = 0;
  }

  /** Stops measuring itself (the event-loop delay monitor and the GC observer). */
  stopMeters(): void {
    this.#self.stop();
  }

  /** Every virtual client of this worker until the schedule ends or the load is aborted. */
  clients(): Promise<void[]> {
    const connections = this.#worker.connections.length;
    const mix = this.#worker.mix;
    const { index, of } = this.#job.worker;
    const trace = mix?.trace;
    return Promise.all(Array.from({ length: this.#job.controls.load.clients }, (_, i) => (mix !== undefined
      ? trace !== undefined ? traceClient(this.#mixHost(), mix, trace, i % connections, i) : mixClient(this.#mixHost(), mix, i % connections, i * of + index)
      : this.#worker.keyspace > 0 ? this.#keyspaceClient(i % connections, i) : this.#freshClient(i % connections))));
  }

  /** What a WORKLOAD's clients use of this generator. */
  #mixHost(): MixHost<Schedule> {
    const tally = this.#tally;
    const commands = this.#commands as CommandStats;
    return {
      schedule: this.#schedule, aborted: this.#worker.aborted, random: this.#random, now: () => this.#timer.now(),
      timed: (c, kind, node, slot, op, command) => this.#timed(c, kind, node, slot, op, undefined, command),
      nodeOf: (key) => this.#nodeOf(key),
      untimed: async (c, args, key) => {
        const client = this.#worker.connections[c] as CacheClient;
        commands.housekeeping(String(args[0]));
        const slots = this.#slots[c];
        const wait = slots?.acquire();
        if (wait !== undefined) await wait;
        try {
          return await (client.command as NonNullable<CacheClient['command']>)(args, { key, readOnly: false });
        } catch {
          return undefined;
        } finally {
          slots?.release();
        }
      },
      extra: (_c, command) => commands.housekeeping(command),
      verdict: (command, verdict, sent, read, sizes) => {
        commands.verdict(command, verdict, sent, read, sizes);
        if (verdict !== 'unverified') tally[verdict]++;
      },
      pause: () => sleep(LOAD_FAILURE_PAUSE_MS),
    };
  }

  /** The primary serving a key's slot (per-node breakdown); -1 for targets that are not clusters. Once per key, not per op. */
  #nodeOf(key: string): number {
    return this.#slotMap === undefined ? -1 : this.#slotMap.ownerOf(key);
  }

  /**
   * Times one op on connection `c`; records it when it belongs to the measured part. `doneAt`: when the op's reply came
   * (a GET verified where it lies is timed up to its look, not through the comparison); else when `op` resolved.
   */
  async #timed<T>(c: number, kind: 'set' | 'get', node: number, slot: Slot, op: (client: CacheClient) => Promise<T>,
    doneAt?: () => number | undefined, command?: string): Promise<Outcome<T>> {
    const intended = slot.intended;
    // An op belongs to the window in which it was due: its intended time (open loop), or when its client decided to
    // send it (closed loop; before any wait for a pipeline slot). It is sent only while that window lasts.
    const slots = this.#slots[c];
    const wait = slots?.acquire();
    if (wait !== undefined) await wait;
    if (this.#schedule.ended(slot)) {
      slots?.release();
      return { ok: false, skipped: true, counted: false };
    }
    const counted = slot.measured;
    if (counted && intended !== undefined) this.#sentOps++;
    const timer = this.#timer;
    const sent = timer.now();
    // A trace's ops: how far from its intended time each was sent, late or early (the earliest early one apart).
    if (counted && intended !== undefined && this.#lag !== undefined) {
      this.#lag.hist.record(nsOf(Math.abs(sent - intended)));
      if (sent < intended) this.#lag.earlyMs = Math.max(this.#lag.earlyMs, intended - sent);
    }
    let outcome: Outcome<T>;
    try {
      outcome = { ok: true, value: await op(this.#worker.connections[c] as CacheClient), counted };
    } catch (error: unknown) {
      outcome = { ok: false, counted };
      if (counted) this.#tally.fail(kind, error, command);
    } finally {
      slots?.release();
    }
    const done = (outcome.ok ? doneAt?.() : undefined) ?? timer.now();
    if (outcome.ok) this.#liveOk++;
    else this.#liveFailed++;
    if (counted) this.#record(kind, node, outcome.ok, sent, done, intended, command);
    return outcome;
  }

  /** A measured op: counted by completion time within the measured part (one that completes after its window ended, in its last second). */
  #record(kind: 'set' | 'get', node: number, ok: boolean, sent: number, done: number, intended: number | undefined, command?: string): void {
    const second = Math.min(this.#seconds - 1, Math.max(0, Math.floor(this.#schedule.clock.measuredOffset(done - this.#startPerf, 1) / 1000)));
    if (kind === 'set') this.#tally.sets++;
    else this.#tally.gets++;
    const n = this.#nodes[node];
    if (ok) {
      const service = nsOf(done - sent);
      this.#hist[kind].record(service);
      // From the intended send time; an op sent early (a due time under Node's ~1 ms timer resolution) from its actual send.
      const corrected = intended !== undefined ? nsOf(done - Math.min(intended, sent)) : service;
      if (intended !== undefined) (kind === 'set' ? this.#hist.setIntended : this.#hist.getIntended).record(corrected);
      this.#perSecond.ok(second, kind, corrected);
      if (command !== undefined) this.#commands?.op(command, true, service, intended !== undefined ? corrected : undefined);
      if (n !== undefined) {
        n.ops++;
        n.latency.record(service);
      }
    } else {
      this.#perSecond.failed(second, kind);
      if (command !== undefined) this.#commands?.op(command, false, 0, undefined);
      if (n !== undefined) n.errors++;
    }
  }

  /** Deletes a fresh key by name (not timed, not an op); one whose DEL fails stays pending for close(). */
  async #deleteFresh(c: number, key: string): Promise<void> {
    try {
      await this.#worker.connections[c]?.del(key);
      this.#deletes++;
      this.#worker.pending.delete(key);
    } catch (error: unknown) {
      void error; // left pending: deleted again at close, else it expires by KEY_TTL
    }
  }

  /** The seed loop's shape on the schedule: SET a fresh key, READ_RATIO verified GETs of it in the same turn, DEL it. */
  async #freshClient(c: number): Promise<void> {
    const { job, params } = { job: this.#job, params: this.#job.params };
    const schedule = this.#schedule;
    const aborted = this.#worker.aborted;
    const payload = Buffer.allocUnsafe(params.PAYLOAD_BYTES);
    let next: Slot | null = null; // a slot already taken from the schedule (a GET's, when its key's window ended)
    let leftover: string | undefined; // a key whose DEL waits for this target's next turn
    while (!aborted()) {
      let slot: Slot | null = next ?? (await schedule.next());
      next = null;
      if (slot === null || aborted()) break;
      if (leftover !== undefined) {
        await this.#deleteFresh(c, leftover);
        leftover = undefined;
      }
      const key = job.keyPrefix + randomUUID();
      randomFillSync(payload);
      this.#worker.pending.add(key);
      const node = this.#nodeOf(key);
      const set = await this.#timed(c, 'set', node, slot, (client) => client.set(key, payload, job.controls.keyTtlSeconds));
      let failed = !set.ok && set.skipped !== true;
      const window = slot.window;
      for (let r = 0; r < params.READ_RATIO && set.ok && !aborted(); r++) {
        slot = await schedule.next();
        if (slot === null) break;
        // A key's reads stay in the turn it was written in: one that would wait through other targets' turns (and
        // could expire meanwhile) is given up, and the GET's slot writes a fresh key in the next turn.
        if (slot.window !== window) {
          next = slot;
          break;
        }
        // Verified where the value lies in the bytes received (no copy of it; see CacheClient.read), after its time was taken.
        let lookedAt: number | undefined;
        const got = await this.#timed(c, 'get', node, slot, (client) => readWith(client, key, (value) => {
          lookedAt = this.#timer.now();
          return readVerdict(value, payload);
        }), () => lookedAt);
        if (!got.ok) {
          failed = got.skipped !== true;
          break;
        }
        if (got.counted) this.#tally.read(got.value);
      }
      // The DEL goes in this turn while it lasts; else at the start of the next (no traffic in another target's turn).
      if (schedule.ended({ window, measured: false })) leftover = key;
      else await this.#deleteFresh(c, key);
      if (failed) await sleep(LOAD_FAILURE_PAUSE_MS);
    }
    if (leftover !== undefined) await this.#deleteFresh(c, leftover);
  }

  /** The KEYSPACE mix on the schedule: a SET (1 in READ_RATIO + 1) or a verified GET of a picked key; a miss is refilled. */
  async #keyspaceClient(c: number, client: number): Promise<void> {
    const job = this.#job;
    const load = job.controls.load;
    const { keyspace, keyspaceKey, aborted } = this.#worker;
    const values = this.#worker.values as KeyspaceValues;
    const value = Buffer.allocUnsafe(job.params.PAYLOAD_BYTES);
    const ttl = job.controls.keyTtlSeconds;
    const setShare = 1 / (job.params.READ_RATIO + 1);
    const random = this.#random;
    // sequential: the clients of all workers start spread over the key space, not in lockstep.
    const walker = client * job.worker.of + job.worker.index;
    const pick = keyPicker(load.distribution, keyspace, random, Math.floor((walker * keyspace) / (load.clients * job.worker.of)));
    while (!aborted()) {
      const slot = await this.#schedule.next();
      if (slot === null || aborted()) return;
      const index = pick();
      const key = keyspaceKey(index);
      const node = this.#nodeOf(key);
      let ok: boolean;
      if (random() < setShare) {
        const set = await this.#timed(c, 'set', node, slot, (cl) => cl.set(key, values.fill(value, index), ttl));
        ok = set.ok || set.skipped === true;
      } else {
        // null: a miss; else whether the value is the one this index holds, verified where it lies after its time was taken.
        let lookedAt: number | undefined;
        const got = await this.#timed(c, 'get', node, slot, (cl) => readWith(cl, key, (v) => {
          lookedAt = this.#timer.now();
          return v === null ? null : values.matches(v, index);
        }), () => lookedAt);
        ok = got.ok || got.skipped === true;
        if (got.ok && got.value === null) {
          if (got.counted) this.#misses++;
          // A miss refills the key, as a cache-aside application would (a SET, timed and counted like any other).
          // Due with the GET that missed, in its window; in open loop timed from its own send (not on the schedule).
          const refill = await this.#timed(c, 'set', node, { window: slot.window, measured: slot.measured }, (cl) => cl.set(key, values.fill(value, index), ttl));
          ok = refill.ok || refill.skipped === true;
        } else if (got.ok && got.value !== null && got.counted) {
          this.#hits++;
          if (got.value) this.#tally.verified++;
          else this.#tally.mismatched++;
        }
      }
      if (!ok) await sleep(LOAD_FAILURE_PAUSE_MS);
    }
  }

  /** This worker's record: counts, histograms, the per-second series and per-node breakdown. */
  record(startAtMs: number, lateStartMs: number, rate: number): LoadRecord {
    const job = this.#job;
    const load = job.controls.load;
    const open = load.rate > 0;
    const tally = this.#tally;
    const hist = this.#hist;
    const clock = this.#schedule.clock;
    this.#peakRss = Math.max(this.#peakRss, process.memoryUsage.rss());
    const owners = job.slotOwners;
    const nodes = this.#nodes;
    const nodeRecords: NodeRecord[] | null = owners === null ? null : owners.map((o, i) => ({
      node: o.node, slots: rangesText(o.slots), ops: nodes[i]?.ops ?? 0, errors: nodes[i]?.errors ?? 0,
      latency: (nodes[i]?.latency ?? new OpHistogram()).encode(),
    }));
    const keyspace = this.#worker.keyspace > 0 && this.#commands === undefined;
    const trace = this.#worker.mix?.trace;
    return {
      target: job.target.name, startMs: startAtMs + (job.windows.find((w) => w.measured)?.fromMs ?? 0), durationMs: load.durationMs,
      view: open ? 'intended' : 'service',
      sets: tally.sets, gets: tally.gets, setErrors: tally.setErrors, getErrors: tally.getErrors,
      scheduled: trace?.scheduled ?? (open ? Math.round((load.durationMs / 1000) * rate) : null),
      sent: open ? this.#sentOps : null,
      lateStartMs,
      verified: tally.verified, missing: tally.missing, mismatched: tally.mismatched,
      hits: keyspace ? this.#hits : trace !== undefined ? trace.tally.hits : null,
      misses: keyspace ? this.#misses : trace !== undefined ? trace.tally.misses : null,
      deletes: this.#deletes, undeletedKeys: 0, errorMessages: Object.fromEntries(tally.errorMessages),
      histograms: {
        set: hist.set.encode(), get: hist.get.encode(),
        setIntended: open ? hist.setIntended.encode() : null, getIntended: open ? hist.getIntended.encode() : null,
      },
      series: this.#perSecond.records((second) => startAtMs + clock.wallOfMeasured(second * 1000)),
      nodes: nodeRecords,
      sliceSeconds: job.sliceSeconds,
      workers: [{
        worker: `shard ${job.shard.index}/${job.shard.of} worker ${job.worker.index}/${job.worker.of}`, ops: hist.set.count + hist.get.count,
        peakRssBytes: this.#peakRss, client: this.#self.result(),
      }],
      ...(this.#commands === undefined ? {} : {
        commands: this.#commands.encode(), unverified: this.#commands.unverified, ...sizesOf(this.#commands), housekeeping: this.#commands.encodeHousekeeping(),
      }),
      ...(trace === undefined ? {} : {
        trace: {
          lag: this.#lag === undefined ? null : this.#lag.hist.encode(), earlyMs: this.#lag?.earlyMs ?? 0, refills: trace.tally.refills, lost: trace.tally.lost,
          skipped: { ...trace.tally.skipped },
        },
      }),
    };
  }
}

/** A WORKLOAD record's value sizes, where its measured ops wrote any. */
function sizesOf(commands: CommandStats): { valueSizes?: string } {
  const encoded = commands.encodeSizes();
  return encoded === undefined ? {} : { valueSizes: encoded };
}
