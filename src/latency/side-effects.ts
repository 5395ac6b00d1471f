import type { RunControls } from '../config/resolve.js';
import { countersSince, type CacheClient, type CacheCounters, type ConnectedTarget } from '../targets/client.js';
import { Overwriter, type OverwriteStats } from '../workload/overwriter.js';
import type { ReadCheck } from '../workload/seed-loop.js';
import type { OpHistogram, OpStats } from '../measure/histogram.js';

/** Stale reads of one target over a combination (see overwriter.ts); ages in µs. */
export interface StalenessResult {
  readonly reads: number;
  readonly ages: OpStats;
  /** The overwriter's own counts (OVERWRITE_RATE > 0). */
  readonly overwrites?: OverwriteStats;
  /** The overwriter's last failure, if any (its failures do not fail the target). */
  readonly overwriteError?: string;
  /**
   * The reads a stale one is out of, where not verification.reads: a WORKLOAD's replies of read-only commands judged
   * (its writes are judged too, and never stale).
   */
  readonly of?: number;
}

/**
 * What runs beside a combination's timed loops: each target's overwriter (OVERWRITE_RATE > 0, on its writer
 * connection) and the snapshots of each client cache's counters, and what each target's reads are judged by.
 */
export class CaseSideEffects {
  readonly #overwriters = new Map<string, Overwriter>();
  readonly #cacheBefore = new Map<string, CacheCounters | undefined>();

  private constructor(private readonly targets: readonly ConnectedTarget[]) {}

  /** Snapshots the cache counters and starts the overwriters. `writers` is required for every target when overwriting. */
  static async start(targets: readonly ConnectedTarget[], controls: RunControls,
    writers: ReadonlyMap<string, CacheClient> | undefined): Promise<CaseSideEffects> {
    const side = new CaseSideEffects(targets);
    if (controls.overwriteRate > 0) {
      for (const t of targets) {
        const writer = writers?.get(t.config.name);
        if (writer === undefined) throw new Error(`OVERWRITE_RATE is set but target ${t.config.name} has no writer connection`);
        side.#overwriters.set(t.config.name, new Overwriter(writer, controls.overwriteRate, controls.keyTtlSeconds));
      }
    }
    for (const t of targets) side.#cacheBefore.set(t.config.name, await t.client.cacheCounters?.().catch(() => undefined));
    for (const o of side.#overwriters.values()) o.start();
    return side;
  }

  /**
   * The read check a target needs: yield with a client cache whose hits need no I/O, null-is-stale on replicas,
   * versions with an overwriter. Undefined for a plain target (cache off, primaries, OVERWRITE_RATE 0): the seed loop
   * runs exactly as the seed's.
   */
  readCheckFor(target: ConnectedTarget): ReadCheck | undefined {
    const overwriter = this.#overwriters.get(target.config.name);
    const cached = target.config.cache === 'tracking';
    // GLIDE keeps its cache in its Rust core: every GET, hit or not, waits on its socket, so the loop yields anyway.
    const hitsWithoutIo = cached && target.config.client !== 'glide';
    const replica = target.config.readFrom === 'replica';
    if (!cached && !replica && overwriter === undefined) return undefined;
    return { yieldToEventLoop: hitsWithoutIo, nullIsStale: replica, ...(overwriter !== undefined ? { overwriter } : {}) };
  }

  /**
   * Staleness is reported only where a stale read could be seen: with overwrites, or nothing on a replica. (A client
   * cache alone, with every key fresh and written by the loop itself, has nothing to serve stale.)
   */
  staleness(target: ConnectedTarget, staleReads: number, ages: OpHistogram): StalenessResult | undefined {
    const overwriter = this.#overwriters.get(target.config.name);
    if (overwriter === undefined && target.config.readFrom !== 'replica') return undefined;
    return {
      reads: staleReads,
      ages: ages.summarize(0),
      ...(overwriter !== undefined ? { overwrites: overwriter.stats() } : {}),
      ...(overwriter?.lastError !== undefined ? { overwriteError: overwriter.lastError } : {}),
    };
  }

  /** Each client cache's counters since start (warm-up included); a target without a cache, or whose counters failed, has none. */
  async cacheCounters(): Promise<Map<string, CacheCounters>> {
    const out = new Map<string, CacheCounters>();
    for (const t of this.targets) {
      const before = this.#cacheBefore.get(t.config.name);
      const after = before !== undefined ? await t.client.cacheCounters?.().catch(() => undefined) : undefined;
      if (before !== undefined && after !== undefined) out.set(t.config.name, countersSince(after, before));
    }
    return out;
  }

  /**
   * Stops the overwriters; a failed overwrite may have re-created a key after the loop deleted it, so such keys are
   * deleted again on the writer's own connection. Returns the keys left undeleted per target (they expire by TTL).
   */
  async stop(): Promise<Map<string, number>> {
    const undeleted = new Map<string, number>();
    for (const [name, o] of this.#overwriters) {
      await o.stop();
      undeleted.set(name, await o.deleteLate());
    }
    return undeleted;
  }
}
