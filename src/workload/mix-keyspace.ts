/**
 * A WORKLOAD's keys owned by one client (a fault run's, a latency run's): the mix's run state (keys, model, sizes,
 * TTLs, WAIT), the preload of every key with each reply verified, and the clean-up that deletes them by name.
 */
import type { KeyDistribution } from '../config/plan.js';
import type { CaseParams, RunControls } from '../config/resolve.js';
import { largestMixValue, mixListCap, mixMeanValue, type WorkloadPlan } from '../config/workload.js';
import { redactedMessage } from '../config/redact.js';
import { waitTimeoutMs, type CacheClient } from '../targets/client.js';
import { preloadKey, type MixRun } from './mix-client.js';
import { MixKeys } from './mix-keys.js';
import { MixModel, MixValues } from './mix-model.js';

/** Keys preloaded or deleted at once. */
export const KEYS_IN_FLIGHT = 16;
/** How often the preload tells its progress, in keys. */
const PROGRESS_KEYS = 5000;
/** How long the clean-up may take at most; keys it did not reach expire by their TTL. */
export const CLEANUP_MS = 10_000;

/** How the one client's keys are set up. */
export interface MixKeyspaceOptions {
  readonly semantics: 'redis' | 'memcache';
  /** Seeds the values' bytes (reproducible with --seed). */
  readonly seed: number;
  /** `<NAME>_WAIT`: replicas every write op waits for (0: none). */
  readonly waitReplicas: number;
  /** How long the keys of a failed write are kept from use (MixRun.quarantineMs); undefined: not at all. */
  readonly quarantineMs?: number;
}

export class MixKeyspace {
  readonly run: MixRun;
  readonly plan: WorkloadPlan;
  readonly keyspace: number;
  #preloaded = 0;

  constructor(plan: WorkloadPlan, keyspace: number, distribution: KeyDistribution, params: CaseParams, controls: RunControls, keyPrefix: string,
    options: MixKeyspaceOptions) {
    const payload = params.PAYLOAD_BYTES;
    const values = new MixValues(largestMixValue(plan, payload), options.seed);
    this.plan = plan;
    this.keyspace = keyspace;
    this.run = {
      plan, keys: new MixKeys(`${keyPrefix}mix:`, keyspace, 1, plan.width), distribution,
      model: new MixModel(values, mixListCap(keyspace, mixMeanValue(plan, payload)), options.semantics),
      sizes: plan.sizes ?? { kind: 'fixed', bytes: payload },
      ttl: { min: plan.ttl?.minSeconds ?? controls.keyTtlSeconds, max: plan.ttl?.maxSeconds ?? controls.keyTtlSeconds },
      ...(options.quarantineMs !== undefined ? { quarantineMs: options.quarantineMs } : {}),
      ...(options.waitReplicas > 0
        ? { wait: { replicas: options.waitReplicas, timeoutMs: waitTimeoutMs(controls.opTimeoutMs), opTimeoutMs: controls.opTimeoutMs } } : {}),
    };
  }

  /** Keys the preload reached (written, or tried): the clean-up deletes these. */
  get preloaded(): number {
    return this.#preloaded;
  }

  /**
   * Preloads every key (each reply verified); on the first that fails, every lane stops and that failure is thrown.
   * `progress`: told the keys written so far every PROGRESS_KEYS keys.
   */
  async preload(client: CacheClient, now: () => number, signal?: AbortSignal, progress?: (written: number) => void): Promise<void> {
    let next = 0;
    let written = 0;
    let failure: { error: unknown } | undefined;
    const lane = async (): Promise<void> => {
      while (next < this.keyspace && signal?.aborted !== true && failure === undefined) {
        const i = next++;
        this.#preloaded = Math.max(this.#preloaded, i + 1);
        try {
          await preloadKey(client, this.run, i, now);
          if (++written % PROGRESS_KEYS === 0) progress?.(written);
        } catch (error: unknown) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: KEYS_IN_FLIGHT }, lane));
    if (failure !== undefined) throw failure.error;
  }

  /**
   * preload(), and when it fails: the keys it wrote deleted on `cleaner`, and an Error saying why, with how many keys
   * could not be deleted (they expire by their TTL).
   */
  async preloadOrClean(client: CacheClient, cleaner: CacheClient, now: () => number, signal?: AbortSignal,
    progress?: (written: number) => void): Promise<void> {
    try {
      await this.preload(client, now, signal, progress);
    } catch (error: unknown) {
      const left = await this.cleanup(cleaner).catch(() => -1);
      const undeleted = left === 0 ? '' : left < 0 ? '; its keys could not be deleted (they expire by their TTL)' : `; ${left} of its keys could not be deleted (they expire by their TTL)`;
      throw new Error(`the WORKLOAD's preload failed: ${redactedMessage(error)}${undeleted}`, { cause: error });
    }
  }

  /**
   * Deletes every key the preload reached, by name, for at most CLEANUP_MS; how many were not deleted (a delete
   * failed, or the time was up: those keys expire by their TTL).
   */
  async cleanup(client: CacheClient): Promise<number> {
    let failed = 0;
    const giveUpAt = performance.now() + CLEANUP_MS;
    for (let at = 0; at < this.#preloaded; at += KEYS_IN_FLIGHT) {
      if (performance.now() >= giveUpAt) return failed + this.#preloaded - at;
      const batch = Array.from({ length: Math.min(KEYS_IN_FLIGHT, this.#preloaded - at) }, (_, k) => this.run.keys.name(at + k));
      const outcomes = await Promise.allSettled(batch.map((key) => client.del(key)));
      failed += outcomes.filter((o) => o.status === 'rejected').length;
    }
    return failed;
  }
}
