import { randomFillSync, randomUUID } from 'node:crypto';
import type { CaseParams } from '../config/resolve.js';
import type { CacheClient } from '../targets/client.js';
import type { Tally } from './tally.js';

/** Prefix of every key the harness writes: `cachebench:<runId>:`. */
export function keyPrefix(runId: string): string {
  return `cachebench:${runId}:`;
}

/** Keys and payloads of one iteration, made before it is timed. */
export interface IterationPlan {
  readonly keys: readonly string[];
  readonly payloads: readonly Buffer[];
}

/**
 * Fresh UUID keys and fresh random payloads (one per key), so a stale or misrouted value cannot pass.
 * `invocations` seed loops back to back are one loop over `invocations` × WRITE_COUNT keys.
 */
export function prepareIteration(prefix: string, params: CaseParams, invocations = 1): IterationPlan {
  const keys: string[] = [];
  const payloads: Buffer[] = [];
  for (let i = 0; i < params.WRITE_COUNT * invocations; i++) {
    keys.push(prefix + randomUUID());
    payloads.push(randomFillSync(Buffer.allocUnsafe(params.PAYLOAD_BYTES)));
  }
  return { keys, payloads };
}

/** Receives each op's latency in nanoseconds. */
export interface OpRecorder {
  set(ns: number): void;
  get(ns: number): void;
}

export type IterationOutcome =
  | { readonly state: 'completed'; readonly attempted: number }
  | { readonly state: 'failed'; readonly attempted: number; readonly error: string }
  | { readonly state: 'aborted'; readonly attempted: number };

const now = process.hrtime.bigint;

/**
 * Asked before every op: true ends the iteration at once (state `aborted`), e.g. on Ctrl-C or when
 * the time budget runs out, so neither waits for the rest of a long iteration.
 */
export type StopCheck = () => boolean;

/**
 * The seed loop: for each key, one SET key payload EX ttl, then READ_RATIO GETs, each verified
 * byte for byte. Stops at the first failed op (the iteration's time is then not a valid sample).
 * `attempted` is how many keys may exist on the server (for exact-name cleanup).
 */
export async function runSeedIteration(
  client: CacheClient,
  plan: IterationPlan,
  readRatio: number,
  ttlSeconds: number,
  tally: Tally,
  recorder: OpRecorder | undefined,
  shouldStop: StopCheck,
): Promise<IterationOutcome> {
  const { keys, payloads } = plan;
  for (let w = 0; w < keys.length; w++) {
    if (shouldStop()) return { state: 'aborted', attempted: w };
    const key = keys[w] as string;
    const payload = payloads[w] as Buffer;
    let t0 = now();
    try {
      await client.set(key, payload, ttlSeconds);
    } catch (error: unknown) {
      return { state: 'failed', attempted: w + 1, error: tally.fail('set', error) };
    }
    recorder?.set(Number(now() - t0));
    tally.sets++;
    for (let r = 0; r < readRatio; r++) {
      if (shouldStop()) return { state: 'aborted', attempted: w + 1 };
      t0 = now();
      let value: Buffer | null;
      try {
        value = await client.get(key);
      } catch (error: unknown) {
        return { state: 'failed', attempted: w + 1, error: tally.fail('get', error) };
      }
      recorder?.get(Number(now() - t0));
      tally.gets++;
      if (value === null) tally.missing++;
      else if (value.length !== payload.length || !value.equals(payload)) tally.mismatched++;
      else tally.verified++;
    }
  }
  return { state: 'completed', attempted: keys.length };
}

/** Deletes the given keys by exact name; returns how many deletes failed (keys then expire by TTL). */
export async function deleteKeys(client: CacheClient, keys: readonly string[]): Promise<number> {
  const results = await Promise.allSettled(keys.map((key) => client.del(key)));
  return results.filter((r) => r.status === 'rejected').length;
}
