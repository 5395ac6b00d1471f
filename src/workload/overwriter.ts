import type { CacheClient } from '../targets/client.js';
import { redactedMessage } from '../config/redact.js';
import { MIN_VERSIONED_PAYLOAD_BYTES, VERSION_BYTES } from '../config/limits.js';

/**
 * Versioned values, for measuring staleness (`OVERWRITE_RATE` > 0).
 *
 * Every value written then carries its version in its first 8 bytes (unsigned, big-endian); the rest are
 * the key's random payload bytes, the same for every version. The seed loop writes version 0; the
 * overwriter writes 1, 2, ... of the key the loop is reading, on a connection of its own. A read is then:
 * - fresh: its version is at least the newest version acknowledged (its SET answered) before the read was sent;
 * - stale: an older version (or nothing, on a replica); its age is how long before the read the first
 *   newer version had been acknowledged;
 * - mismatched: other bytes, or a version never written.
 * "Acknowledged" is when this process saw the SET's reply: the check is the one a reader in this process could make.
 */
export { MIN_VERSIONED_PAYLOAD_BYTES, VERSION_BYTES };

const now = process.hrtime.bigint;

/** Writes `version` into the header of `value` (in place). */
export function stampVersion(value: Buffer, version: number): void {
  value.writeBigUInt64BE(BigInt(version), 0);
}

/** The version in a value's header. */
export function versionOf(value: Buffer): number {
  return Number(value.readBigUInt64BE(0));
}

/** The key the seed loop is reading now, with its versions: what the overwriter rewrites and reads are checked against. */
export class VersionedKey {
  /** Newest version sent (the loop's own SET is version 0). */
  sent = 0;
  /** Newest version whose SET was answered. */
  acked = 0;
  /** When each version's SET was answered (hrtime ns), by version. */
  readonly ackedAtNs: bigint[];

  constructor(
    readonly key: string,
    /** The loop's payload with version 0 in its header. */
    readonly base: Buffer,
    ackedAtNs: bigint,
  ) {
    this.ackedAtNs = [ackedAtNs];
  }

  /** The bytes of `version`: the base payload with that version in the header. */
  valueOf(version: number): Buffer {
    const value = Buffer.from(this.base);
    stampVersion(value, version);
    return value;
  }

  /** True when `value` is some version of this key: same length, same bytes after the header. */
  sameKey(value: Buffer): boolean {
    return value.length === this.base.length && value.compare(this.base, VERSION_BYTES, this.base.length, VERSION_BYTES, value.length) === 0;
  }
}

/** What a read returned, judged against what had been acknowledged when it was sent. */
export type ReadVerdict =
  | { readonly kind: 'fresh' }
  | { readonly kind: 'stale'; readonly ageNs: number }
  | { readonly kind: 'missing' }
  | { readonly kind: 'mismatched' };

/**
 * Judges one read of `key`. `ackedAtIssue` is key.acked when the GET was sent, `issuedAtNs` its hrtime.
 * `nullIsStale`: on a replica, nothing at all means the write has not arrived yet (stale, aged
 * from version 0's acknowledgement); on a primary it means the value was lost (missing).
 */
export function judgeRead(key: VersionedKey, value: Buffer | null, ackedAtIssue: number, issuedAtNs: bigint, nullIsStale: boolean): ReadVerdict {
  if (value === null) {
    return nullIsStale ? { kind: 'stale', ageNs: Math.max(0, Number(issuedAtNs - (key.ackedAtNs[0] as bigint))) } : { kind: 'missing' };
  }
  if (!key.sameKey(value)) return { kind: 'mismatched' };
  const version = versionOf(value);
  if (version > key.sent) return { kind: 'mismatched' };
  if (version >= ackedAtIssue) return { kind: 'fresh' };
  // The first newer version that was acknowledged (a failed overwrite has no acknowledgement time).
  let newer: bigint | undefined;
  for (let v = version + 1; v <= ackedAtIssue && newer === undefined; v++) newer = key.ackedAtNs[v];
  return { kind: 'stale', ageNs: newer === undefined ? 0 : Math.max(0, Number(issuedAtNs - newer)) };
}

/** What the overwriter did over its life, for the report. */
export interface OverwriteStats {
  /** Overwrites asked for by OVERWRITE_RATE while a key was being read. */
  readonly due: number;
  /** Overwrites sent (fewer than due when one SET was still in flight). */
  readonly sent: number;
  readonly acked: number;
  readonly failed: number;
}

/**
 * A writer on a connection of its own that overwrites the key the seed loop is reading, `ratePerSecond` times a
 * second (one SET in flight at a time; a tick that finds one in flight is skipped and counted). It runs on the
 * event loop: between the loop's I/O waits, or at the loop's yields when a client cache serves reads without I/O.
 */
export class Overwriter {
  #current: VersionedKey | undefined;
  #inFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #startedNs = 0n;
  #due = 0;
  #sent = 0;
  #acked = 0;
  #failed = 0;
  #lastError: string | undefined;
  /** Keys an overwrite of which failed: it may still land after the loop deleted the key (see deleteLate). */
  readonly #failedKeys = new Set<string>();
  /** Overwrites owed since the current key was followed (the schedule's own count). */
  #owed = 0;

  constructor(
    private readonly client: CacheClient,
    private readonly ratePerSecond: number,
    private readonly ttlSeconds: number,
  ) {}

  /**
   * The key the loop reads from now on (after its own SET was answered), or none. The schedule runs only while a key
   * is followed (no timer wakes the event loop while other targets are timed), and time without a key is not owed.
   */
  follow(key: VersionedKey | undefined): void {
    this.#current = key;
    if (key === undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (!this.#running || this.#timer !== undefined) return;
    this.#startedNs = now();
    this.#owed = 0;
    const periodMs = Math.max(1, Math.floor(1000 / this.ratePerSecond));
    const tick = (): void => {
      this.#tick();
      this.#timer = setTimeout(tick, periodMs);
    };
    this.#timer = setTimeout(tick, periodMs);
  }

  /** Waits for the SET in flight, if any: call before the loop deletes its keys, so no overwrite re-creates one. */
  async settle(): Promise<void> {
    this.follow(undefined);
    await this.#inFlight;
  }

  /** Lets follow() schedule overwrites (until stop). */
  start(): void {
    this.#running = true;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.settle();
  }

  /**
   * Deletes again, through the writer's own connection (so after any SET of it still on that connection), every key
   * an overwrite of which failed: a SET that timed out here may have reached the server after the loop's DEL.
   * Call after stop(). Returns how many deletes failed (those keys expire by TTL).
   */
  async deleteLate(): Promise<number> {
    const keys = [...this.#failedKeys];
    this.#failedKeys.clear();
    const results = await Promise.allSettled(keys.map((k) => this.client.del(k)));
    return results.filter((r) => r.status === 'rejected').length;
  }

  stats(): OverwriteStats {
    return { due: this.#due, sent: this.#sent, acked: this.#acked, failed: this.#failed };
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  #tick(): void {
    const key = this.#current;
    if (key === undefined) return;
    const elapsedS = Number(now() - this.#startedNs) / 1e9;
    const owed = Math.floor(elapsedS * this.ratePerSecond) - this.#owed;
    if (owed <= 0) return;
    this.#owed += owed;
    this.#due += owed;
    if (this.#inFlight !== undefined) return;
    const version = key.sent + 1;
    key.sent = version;
    this.#sent++;
    this.#inFlight = this.client.set(key.key, key.valueOf(version), this.ttlSeconds).then(
      () => {
        key.ackedAtNs[version] = now();
        key.acked = Math.max(key.acked, version);
        this.#acked++;
      },
      (error: unknown) => {
        this.#failed++;
        this.#failedKeys.add(key.key);
        this.#lastError = redactedMessage(error);
      },
    ).finally(() => {
      this.#inFlight = undefined;
    });
  }
}
