import { createHash } from 'node:crypto';
import type { CacheClient } from '../targets/client.js';

/** An acknowledged write is read back (and deleted) once it is this old: replicated by then on any sane link. */
export const ROLL_AGE_MS = 1000;
/** How often the rolling check runs while the loop does. */
export const ROLL_EVERY_MS = 200;
/** Lost keys named in the results (the rest are counted only). */
export const LOST_KEYS_KEPT = 1000;
/** Reads the checker keeps in flight at once. */
const CONCURRENCY = 16;
/** How long the final check keeps retrying keys whose reads fail (a server still coming back). */
export const FINAL_CHECK_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const realAfter = (ms: number, fn: () => void): (() => void) => {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
};

/** SHA-1 of a value: what the checker keeps of each write instead of the value itself. */
export function digest(value: Buffer): Buffer {
  return createHash('sha1').update(value).digest();
}

interface Written {
  readonly key: string;
  readonly digest: Buffer;
  readonly atMs: number;
  /** Acknowledged while a partition had its slot on the minority side (see AckedWrites.classify). */
  readonly minority?: true;
}

/** The checker's counts (consistency-test.rb's "lost" and "noack", per key). */
export interface WriteCheck {
  /** Acknowledged writes read back (rolling, and at the end). */
  readonly ackedWritesChecked: number;
  /** Acknowledged writes read back as missing or with other bytes. */
  readonly lostAckedWrites: number;
  readonly lostMissing: number;
  readonly lostDifferent: number;
  /** The first LOST_KEYS_KEPT lost keys, by name (to trace them: slot, server, time). */
  readonly lostKeys: readonly string[];
  /** Acknowledged writes that could not be read back at all (the server never answered again). */
  readonly ackedWritesUnchecked: number;
  /** Acknowledged writes not yet read back when the fault came: the ones the fault could take. */
  readonly pendingAtFault: number | null;
  /** Failed or timed-out SETs read back at the end, and how many of them the server had applied after all. */
  readonly unackedWritesChecked: number;
  readonly appliedUnackedWrites: number;
  /** Most writes held at once (memory bound: ROLL_AGE_MS of writes, plus those a failure keeps from being read). */
  readonly peakPending: number;
  /** Checker reads that failed and were retried later. */
  readonly failedChecks: number;
  /** Keys whose DEL failed (they expire by KEY_TTL). */
  readonly undeletedKeys: number;
}

/**
 * Keeps the digest of every acknowledged write and reads it back on a connection of its own: in a rolling way while
 * the loop runs (writes older than ROLL_AGE_MS, then deleted, so servers hold about a second of writes), and
 * everything left after the run. Failed SETs are read back at the end: a value that is there was applied without an
 * acknowledgement. Reads that fail are retried later; a write is judged lost only on an answer (nothing, or other bytes).
 */
export class AckedWrites {
  readonly #client: CacheClient;
  readonly #now: () => number;
  #pending: Written[] = [];
  readonly #unacked: Written[] = [];
  #checked = 0;
  #lostMissing = 0;
  #lostDifferent = 0;
  #unchecked = 0;
  #unackedChecked = 0;
  #applied = 0;
  #peak = 0;
  #failedChecks = 0;
  #undeleted = 0;
  #pendingAtFault: number | null = null;
  readonly #lostKeys: string[] = [];
  #reading: string | undefined;
  /** Partitions: says whether a write acknowledged now went to a minority primary. */
  #classify: ((key: string) => boolean) | undefined;
  /** Set while a partition lasts (until `#over` says the sides agree again): the rolling check pauses. */
  #held = false;
  #over: (() => boolean) | undefined;
  #minorityAcked = 0;
  #minorityLost = 0;
  readonly #after: (ms: number, fn: () => void) => () => void;
  #cancel: (() => void) | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #stopped = false;

  /** `now`: ms on the fault history's clock; `after`: its timer, for the rolling check (the fault loop's clock). */
  constructor(client: CacheClient, now: () => number, after: (ms: number, fn: () => void) => () => void = realAfter) {
    this.#client = client;
    this.#now = now;
    this.#after = after;
  }

  acked(key: string, value: Buffer): void {
    const minority = this.#classify?.(key) === true;
    if (minority) this.#minorityAcked++;
    this.#pending.push({ key, digest: digest(value), atMs: this.#now(), ...(minority ? { minority } : {}) });
    if (this.#pending.length > this.#peak) this.#peak = this.#pending.length;
  }

  unacked(key: string, value: Buffer): void {
    this.#unacked.push({ key, digest: digest(value), atMs: this.#now() });
  }

  /**
   * The key the loop is still reading (its GETs may be retried long after the SET): the rolling check stops short of
   * it, so a read of the loop never finds a key the checker deleted. undefined once the loop moved on.
   */
  reading(key: string | undefined): void {
    this.#reading = key;
  }

  /** Notes how many acknowledged writes were not yet read back when the fault came. */
  markFault(): void {
    this.#pendingAtFault = this.#pending.length;
  }

  /**
   * A partition from now on: the rolling check pauses until `over()` says the links are back and the sides agree
   * again (then every write held is read from the side that won), or the final check comes first. Meanwhile it would
   * read them from a minority primary that still holds them (and delete them) before the majority's promotion undoes
   * them, and its DELs would count as writes the minority applied. `classify` tells which writes
   * acknowledged from now on went to a minority primary.
   */
  holdFromNow(classify: (key: string) => boolean, over: () => boolean): void {
    this.#held = true;
    this.#classify = classify;
    this.#over = over;
  }

  /** Writes acknowledged by a minority primary while cut, and how many of them were lost (partitions). */
  minority(): { readonly acked: number; readonly lost: number } {
    return { acked: this.#minorityAcked, lost: this.#minorityLost };
  }

  /** Starts the rolling check. */
  start(): void {
    const tick = (): void => {
      this.#cancel = undefined;
      this.#ticking = this.#roll().finally(() => {
        if (!this.#stopped) this.#cancel = this.#after(ROLL_EVERY_MS, tick);
      });
    };
    this.#cancel = this.#after(ROLL_EVERY_MS, tick);
  }

  /** Stops the rolling check and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#ticking;
  }

  /** Reads back one write; true when it was judged (then deleted), false when the read failed (kept for later). */
  async #check(w: Written): Promise<boolean> {
    let value: Buffer | null;
    try {
      value = await this.#client.get(w.key);
    } catch {
      this.#failedChecks++; // counted; the write is kept and read again later
      return false;
    }
    this.#checked++;
    const lost = value === null || !digest(value).equals(w.digest);
    if (value === null) this.#lostMissing++;
    else if (lost) this.#lostDifferent++;
    if (lost && this.#lostKeys.length < LOST_KEYS_KEPT) this.#lostKeys.push(w.key);
    if (lost && w.minority === true) this.#minorityLost++;
    await this.#delete(w.key);
    return true;
  }

  async #delete(key: string): Promise<void> {
    try {
      await this.#client.del(key);
    } catch {
      this.#undeleted++; // the key expires by KEY_TTL
    }
  }

  /**
   * Reads back `batch` with CONCURRENCY reads in flight; returns the writes not judged (their reads failed, or they
   * were not tried), oldest first. A pass stops taking writes once `halt()` says so — in the rolling check after the
   * first failed read (the server is not answering: trying hundreds of writes at an op deadline each would hold up
   * Ctrl-C and healing), at the final check's deadline, or when the check is stopped.
   */
  async #checkAll(batch: readonly Written[], check: (w: Written) => Promise<boolean>, halt: (failedAny: boolean) => boolean): Promise<Written[]> {
    const failed: Written[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < batch.length && !halt(failed.length > 0)) {
        const w = batch[next++] as Written;
        if (!(await check(w))) failed.push(w);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, batch.length) }, worker));
    return [...failed, ...batch.slice(next)];
  }

  async #roll(): Promise<void> {
    if (this.#held) {
      if (this.#over?.() !== true) return;
      this.#held = false;
    }
    const cutoff = this.#now() - ROLL_AGE_MS;
    let due = 0;
    while (due < this.#pending.length && (this.#pending[due] as Written).atMs <= cutoff && (this.#pending[due] as Written).key !== this.#reading) due++;
    if (due === 0) return;
    const batch = this.#pending.slice(0, due);
    this.#pending = this.#pending.slice(due);
    const failed = await this.#checkAll(batch, (w) => this.#check(w), (failedAny) => failedAny || this.#stopped || this.#held);
    // Writes whose reads failed (or were not tried) go back to the front and are read again on a later pass.
    if (failed.length > 0) this.#pending = [...failed, ...this.#pending];
  }

  /**
   * After the run: reads back every write left, retrying failed reads for up to FINAL_CHECK_MS; then every failed
   * SET (applied or not) and deletes it. Returns the counts.
   */
  async finish(): Promise<WriteCheck> {
    await this.stop();
    const end = Date.now() + FINAL_CHECK_MS;
    let left = this.#pending;
    this.#pending = [];
    while (left.length > 0) {
      left = await this.#checkAll(left, (w) => this.#check(w), () => Date.now() >= end);
      if (left.length === 0 || Date.now() >= end) break;
      await sleep(200);
    }
    this.#unchecked = left.length;
    await Promise.all(left.map((w) => this.#delete(w.key)));
    let unacked: readonly Written[] = this.#unacked;
    while (unacked.length > 0) {
      unacked = await this.#checkAll(unacked, async (w) => {
        let value: Buffer | null;
        try {
          value = await this.#client.get(w.key);
        } catch {
          this.#failedChecks++;
          return false;
        }
        this.#unackedChecked++;
        if (value !== null && digest(value).equals(w.digest)) this.#applied++;
        await this.#delete(w.key);
        return true;
      }, () => Date.now() >= end);
      if (unacked.length === 0 || Date.now() >= end) break;
      await sleep(200);
    }
    await Promise.all(unacked.map((w) => this.#delete(w.key)));
    return {
      ackedWritesChecked: this.#checked,
      lostAckedWrites: this.#lostMissing + this.#lostDifferent,
      lostMissing: this.#lostMissing,
      lostDifferent: this.#lostDifferent,
      lostKeys: this.#lostKeys,
      ackedWritesUnchecked: this.#unchecked,
      pendingAtFault: this.#pendingAtFault,
      unackedWritesChecked: this.#unackedChecked,
      appliedUnackedWrites: this.#applied,
      peakPending: this.#peak,
      failedChecks: this.#failedChecks,
      undeletedKeys: this.#undeleted,
    };
  }
}
