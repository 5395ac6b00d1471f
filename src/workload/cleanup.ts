import { DELETE_BATCH_KEYS } from '../config/limits.js';
import type { CacheClient } from '../targets/client.js';

/** How far a deletion got: keys deleted, deletes that failed (those keys expire by KEY_TTL), and of how many. */
export interface DeleteProgress {
  readonly deleted: number;
  readonly failed: number;
  readonly total: number;
}

/** What a deletion ended with: `left` keys were not tried (stopped early); they, and the failed ones, expire by KEY_TTL. */
export interface DeleteOutcome extends DeleteProgress {
  readonly left: number;
}

export interface DeleteOptions {
  /** Asked before each batch: true stops the deletion (the rest is left to expire). */
  readonly shouldStop?: () => boolean;
  /**
   * Hears how far the deletion got: when it starts, at most every `progressEveryMs`, and when it ends; only for
   * deletions of more than one batch (a few keys are deleted in a blink).
   */
  readonly onProgress?: (progress: DeleteProgress) => void;
  readonly progressEveryMs?: number;
  /** Monotonic ms clock; injectable for tests. */
  readonly now?: () => number;
}

/** Slices of `items`, each at most `size` long, without copying more than one slice at a time. */
export function* chunks<T>(items: readonly T[], size = DELETE_BATCH_KEYS): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/**
 * Deletes keys by exact name (DEL/UNLINK through the driver, never KEYS, SCAN or FLUSH), one batch at a time: the keys
 * of a batch are sent at once over `clients` (round-robin, so the drivers pipeline them) and all settle before the next
 * batch is taken from `batches`. Memory is one batch whatever `total` is, as long as `batches` generates its names.
 */
export async function deleteInBatches(clients: readonly CacheClient[], batches: Iterable<readonly string[]>, total: number,
  options: DeleteOptions = {}): Promise<DeleteOutcome> {
  const now = options.now ?? (() => performance.now());
  const every = options.progressEveryMs ?? 1000;
  let deleted = 0;
  let failed = 0;
  let lastReport = now();
  if (clients.length === 0) return { deleted, failed, total, left: total };
  const onProgress = total > DELETE_BATCH_KEYS ? options.onProgress : undefined;
  onProgress?.({ deleted, failed, total });
  for (const batch of batches) {
    if (options.shouldStop?.() === true) break;
    const results = await Promise.allSettled(batch.map((key, i) => (clients[i % clients.length] as CacheClient).del(key)));
    for (const r of results) {
      if (r.status === 'fulfilled') deleted++;
      else failed++;
    }
    if (onProgress !== undefined && now() - lastReport >= every) {
      lastReport = now();
      onProgress({ deleted, failed, total });
    }
  }
  onProgress?.({ deleted, failed, total });
  return { deleted, failed, total, left: Math.max(0, total - deleted - failed) };
}
