import { randomBytes } from 'node:crypto';
import { redactedMessage } from '../config/redact.js';
import { OpHistogram } from '../measure/histogram.js';
import { countersSince, type CacheClient, type CacheCounters, type CacheFlushes } from '../targets/client.js';
import { keySlot } from '../targets/cluster-nodes.js';
import { judgeRead, MIN_VERSIONED_PAYLOAD_BYTES, VersionedKey, versionOf } from '../workload/overwriter.js';
import type { FaultClock } from './clock.js';

/**
 * What a client-side cache (`<NAME>_CACHE=tracking`) serves across a fault. The seed loop reads each key only just
 * after writing it, so it cannot see a cache that keeps an entry the servers replaced: this watch keeps WATCH_KEYS keys
 * (spread over the slot range, so every primary of a cluster holds some) that the measured client reads in turn, one
 * every READ_EVERY_MS (a key whose read has not come back is skipped), while a writer on the checker's connection (no
 * cache, primaries) rewrites one every WRITE_EVERY_MS with the next version (workload/overwriter.ts's versioned values). A read older than a version
 * acknowledged before it was sent is stale; the key is then read at once on the writer's connection (no write of that
 * key in between): if the servers have the newer version, the stale value came from the client's cache; if not, the
 * servers themselves lost the overwrite (a failover's lost write), which is not the cache's doing.
 */
export const WATCH_KEYS = 12;
export const READ_EVERY_MS = 5;
export const WRITE_EVERY_MS = 50;
/** The watch's values: a version header and random bytes (not PAYLOAD_BYTES: these keys are not the loop's). */
const WATCH_VALUE_BYTES = MIN_VERSIONED_PAYLOAD_BYTES + 40;
/** Driver cache flushes kept for the report, at most. */
const MAX_FLUSHES = 100;
const SLOTS = 16384;

/** results.json `fault.cache`: what the client's cache served across the fault, and what the driver did. */
export interface CacheWatchOutcome {
  readonly keys: number;
  readonly readEveryMs: number;
  readonly writeEveryMs: number;
  /** Watch reads answered, before and after the fault (injection). */
  readonly readsBefore: number;
  readonly readsAfter: number;
  readonly failedReads: number;
  /** Overwrites acknowledged and failed. */
  readonly writes: number;
  readonly failedWrites: number;
  /** Stale reads the client's cache served (the servers had the newer version), before and after the fault. */
  readonly staleBefore: number;
  readonly staleAfter: number;
  /** Ages of the stale reads after the fault: how long the newer version had been acknowledged when each was sent (ms). */
  readonly staleAgeMs: { readonly p50: number; readonly p99: number; readonly max: number } | null;
  /** When the last stale read from the cache was sent (ms after the run started); null: none after the fault. */
  readonly lastStaleAtMs: number | null;
  /**
   * Stale reads whose newer version the servers no longer held either (they answered the older one, or nothing: an
   * acknowledged overwrite, or the key, lost): not the cache's doing.
   */
  readonly serverStale: number;
  /** Reads that returned nothing (the key itself lost, e.g. a primary restarted empty before its replica took over). */
  readonly missing: number;
  /** Values that were no version of the key, read through the cache or on the other connection (never expected). */
  readonly mismatched: number;
  /** Stale reads whose source could not be told (the read on the writer's connection failed). */
  readonly unattributed: number;
  /**
   * When the driver emptied its cache (not empty) during the run: how often, why (a connection failed or closed, which
   * is also how a Sentinel master switch reaches it; a cluster read its slot map again; the server said to drop
   * everything), and when (ms after the run started: the first MAX_FLUSHES of those the driver still kept); null: the
   * driver does not say (GLIDE's cache lives in its core).
   */
  readonly flushes: {
    readonly count: number; readonly onConnection: number; readonly onSlotMap: number; readonly onServer: number; readonly atMs: readonly number[];
  } | null;
  /** The cache's own lookups and hits over the fault run (the seed loop's reads and the watch's); null: not counted. */
  readonly lookups: number | null;
  readonly hits: number | null;
  /** The last error of a watch read or write, if any. */
  readonly lastError: string | null;
}

/** Key names spread evenly over the cluster's slot range (key i lands in the i-th of WATCH_KEYS equal stretches). */
export function watchKeyNames(prefix: string, count = WATCH_KEYS): string[] {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const low = Math.floor((i * SLOTS) / count);
    const high = Math.floor(((i + 1) * SLOTS) / count);
    // The tag decides the slot when the prefix has no hash tag of its own; otherwise any name will do.
    let name = `${prefix}cache-watch-${i}`;
    for (let n = 0; n < 100_000; n++) {
      const candidate = `${prefix}cache-watch-${i}-{w${n}}`;
      const slot = keySlot(candidate);
      if (slot >= low && slot < high) {
        name = candidate;
        break;
      }
    }
    names.push(name);
  }
  return names;
}

export class CacheWatch {
  readonly #keys: VersionedKey[] = [];
  readonly #checking = new Set<number>();
  readonly #ages = new OpHistogram();
  readonly #cancels: (() => void)[] = [];
  #startNs = 0n;
  #faultNs: bigint | null = null;
  #readAt = 0;
  #writeAt = 0;
  /** Reads and writes in flight (at most one per key: a key being read, checked or written is skipped). */
  readonly #inFlight = new Set<Promise<void>>();
  #counts = {
    readsBefore: 0, readsAfter: 0, failedReads: 0, writes: 0, failedWrites: 0, staleBefore: 0, staleAfter: 0,
    serverStale: 0, missing: 0, mismatched: 0, unattributed: 0,
  };

  #lastStaleNs: bigint | null = null;
  #lastError: string | null = null;
  #countersBefore: CacheCounters | undefined;
  #flushesBefore = 0;
  #countersAfter: CacheCounters | undefined;

  constructor(
    private readonly cached: CacheClient,
    private readonly writer: CacheClient,
    private readonly names: readonly string[],
    private readonly ttlSeconds: number,
    private readonly clock: FaultClock,
  ) {}

  get keys(): number {
    return this.names.length;
  }

  /** Writes version 0 of every key on the writer's connection and reads each once through the cache (which keeps it). */
  async prepare(): Promise<void> {
    for (const name of this.names) {
      const base = Buffer.concat([Buffer.alloc(8), randomBytes(WATCH_VALUE_BYTES - 8)]);
      await this.writer.set(name, base, this.ttlSeconds);
      this.#keys.push(new VersionedKey(name, base, this.clock.now()));
      await this.cached.get(name);
    }
    this.#countersBefore = await this.cached.cacheCounters?.().catch(() => undefined);
  }

  /** Starts reading and writing; `startNs` is the run's start (times are reported from it). */
  start(startNs: bigint): void {
    this.#startNs = startNs;
    this.#flushesBefore = this.cached.cacheFlushes?.().total ?? 0;
    this.#cancels.push(this.clock.every(READ_EVERY_MS, () => this.#read()));
    this.#cancels.push(this.clock.every(WRITE_EVERY_MS, () => this.#write()));
  }

  /** The fault was injected now: reads from here on are "after the fault". */
  markFault(): void {
    this.#faultNs = this.clock.now();
  }

  /** Stops both timers and waits for the read and write in flight. */
  async stop(): Promise<void> {
    for (const cancel of this.#cancels.splice(0)) cancel();
    await Promise.all([...this.#inFlight]);
    this.#countersAfter = await this.cached.cacheCounters?.().catch(() => undefined);
  }

  /** Deletes the watched keys on the writer's connection; how many could not be (they expire by KEY_TTL). */
  async cleanup(): Promise<number> {
    const results = await Promise.allSettled(this.names.map((k) => this.writer.del(k)));
    return results.filter((r) => r.status === 'rejected').length;
  }

  /** The outcome; `flushes` are the driver's cache flushes, undefined when it does not say. */
  result(flushes: CacheFlushes | undefined): CacheWatchOutcome {
    const ms = (ns: bigint): number => Math.round(Number(ns - this.#startNs) / 1e6);
    // Ages in ms to the µs (the histogram's values are bucketed anyway).
    const ageMs = (ns: number): number => Math.round(ns / 1e3) / 1e3;
    const c = this.#counts;
    const ages = this.#ages;
    const during = flushes?.recent.filter((f) => f.ns >= this.#startNs);
    return {
      keys: this.names.length, readEveryMs: READ_EVERY_MS, writeEveryMs: WRITE_EVERY_MS, ...c,
      staleAgeMs: ages.count === 0 ? null : { p50: ageMs(ages.valueAt(50)), p99: ageMs(ages.valueAt(99)), max: ageMs(ages.max) },
      lastStaleAtMs: this.#lastStaleNs === null ? null : ms(this.#lastStaleNs),
      // The driver counts since it connected: less its count when the run started.
      flushes: flushes === undefined || during === undefined ? null : {
        count: flushes.total - this.#flushesBefore,
        onConnection: during.filter((f) => f.reason === 'connection').length,
        onSlotMap: during.filter((f) => f.reason === 'slots').length,
        onServer: during.filter((f) => f.reason === 'server').length,
        atMs: during.slice(0, MAX_FLUSHES).map((f) => ms(f.ns)),
      },
      ...this.#lookupsAndHits(),
      lastError: this.#lastError,
    };
  }

  /** The cache's lookups and hits over the run; null when a reading of its counters is missing. */
  #lookupsAndHits(): { lookups: number | null; hits: number | null } {
    if (this.#countersBefore === undefined || this.#countersAfter === undefined) return { lookups: null, hits: null };
    // Never below 0 (the schema's counts): a driver whose counters restarted gives 0, not a negative count.
    const { lookups, hits } = countersSince(this.#countersAfter, this.#countersBefore);
    return { lookups: Math.max(0, lookups), hits: Math.max(0, hits) };
  }

  /** The next key (round robin from `at`) not being read, checked or written; -1 when all are. */
  #nextFree(at: 'read' | 'write'): number {
    for (let tries = 0; tries < this.#keys.length; tries++) {
      const i = (at === 'read' ? this.#readAt++ : this.#writeAt++) % this.#keys.length;
      if (!this.#checking.has(i)) return i;
    }
    return -1;
  }

  #track(index: number, work: Promise<void>): void {
    this.#checking.add(index);
    const done = work.finally(() => {
      this.#checking.delete(index);
      this.#inFlight.delete(done);
    });
    this.#inFlight.add(done);
  }

  /** One overwrite: the next version of the next free key (a check must see the servers as the stale read did). */
  #write(): void {
    const index = this.#nextFree('write');
    if (index === -1) return;
    const key = this.#keys[index] as VersionedKey;
    const version = key.sent + 1;
    key.sent = version;
    this.#track(index, this.writer.set(key.key, key.valueOf(version), this.ttlSeconds).then(
      () => {
        key.ackedAtNs[version] = this.clock.now();
        key.acked = Math.max(key.acked, version);
        this.#counts.writes++;
      },
      (error: unknown) => {
        this.#counts.failedWrites++;
        this.#lastError = redactedMessage(error);
      },
    ));
  }

  /** One read through the cache of the next free key (a key whose read waits on a cut or dead node holds up no other). */
  #read(): void {
    const index = this.#nextFree('read');
    if (index === -1) return;
    const key = this.#keys[index] as VersionedKey;
    this.#track(index, this.#readAndJudge(key, key.acked, this.clock.now()));
  }

  async #readAndJudge(key: VersionedKey, ackedAtIssue: number, issuedNs: bigint): Promise<void> {
    let value: Buffer | null;
    try {
      // Judged before the next await: the driver's bytes need no copy.
      value = await this.cached.get(key.key);
    } catch (error: unknown) {
      this.#counts.failedReads++;
      this.#lastError = redactedMessage(error);
      return;
    }
    const after = this.#faultNs !== null && issuedNs >= this.#faultNs;
    if (after) this.#counts.readsAfter++;
    else this.#counts.readsBefore++;
    const verdict = judgeRead(key, value, ackedAtIssue, issuedNs, false);
    if (verdict.kind === 'mismatched') this.#counts.mismatched++;
    if (verdict.kind === 'missing') this.#counts.missing++;
    if (verdict.kind !== 'stale') return;
    // Where the old value came from: the servers now, with no write of this key since the read was sent.
    const server = await this.writer.get(key.key).catch(() => undefined);
    if (server === undefined) {
      this.#counts.unattributed++;
      return;
    }
    if (server !== null && !key.sameKey(server)) {
      this.#counts.mismatched++;
      return;
    }
    if (server === null || versionOf(server) < ackedAtIssue) {
      this.#counts.serverStale++;
      return;
    }
    if (!after) {
      this.#counts.staleBefore++;
      return;
    }
    this.#counts.staleAfter++;
    this.#ages.record(Math.max(1, verdict.ageNs));
    if (this.#lastStaleNs === null || issuedNs > this.#lastStaleNs) this.#lastStaleNs = issuedNs;
  }
}
