import { randomFillSync, randomUUID } from 'node:crypto';
import type { CaseParams } from '../config/resolve.js';
import { readWith, type CacheClient } from '../targets/client.js';
import { VersionedKey, judgeRead, stampVersion, type Overwriter } from './overwriter.js';
import { readVerdict, type PlainVerdict, type Tally } from './tally.js';
import { chunks, deleteInBatches } from './cleanup.js';

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
export function prepareIteration(prefix: string, params: CaseParams, invocations = 1, versioned = false): IterationPlan {
  const keys: string[] = [];
  const payloads: Buffer[] = [];
  for (let i = 0; i < params.WRITE_COUNT * invocations; i++) {
    keys.push(prefix + randomUUID());
    const payload = randomFillSync(Buffer.allocUnsafe(params.PAYLOAD_BYTES));
    // Versioned values (OVERWRITE_RATE > 0) carry their version in the first 8 bytes; the loop writes version 0.
    if (versioned) stampVersion(payload, 0);
    payloads.push(payload);
  }
  return { keys, payloads };
}

/**
 * The yield policy: a client cache answers a hit without I/O, so a loop of hits never lets the event loop read the
 * server's invalidation messages (nor run the overwriter's timer), and would serve a stale value for ever. With a
 * client cache the loop therefore yields to the event loop before a GET whenever this long has passed since its last
 * SET or yield. A yield is two setImmediate hops: resumed from an I/O callback, one hop runs in the same turn's check
 * phase without polling the sockets again; the second hop is in the next turn, after its poll phase, so waiting I/O
 * (the invalidation) has been read. A stale read through the cache is then at most about this old plus the time the
 * invalidation takes to arrive. Yield time counts in the iteration (an application has to yield too), not in the
 * GET's latency.
 */
export const YIELD_INTERVAL_NS = 1_000_000n;

/** How reads are judged beyond byte equality, for targets that can serve an old value (see overwriter.ts). */
export interface ReadCheck {
  /** A client cache serves hits without I/O: yield every YIELD_INTERVAL_NS. */
  readonly yieldToEventLoop: boolean;
  /** READ_FROM=replica: nothing at all for a key just written is a stale read (replication lag), not a missing one. */
  readonly nullIsStale: boolean;
  /** OVERWRITE_RATE > 0: payloads are versioned (prepareIteration(..., true)) and this writer rewrites the key being read. */
  readonly overwriter?: Overwriter;
}

/** Two setImmediate hops: the second runs after a poll phase (see YIELD_INTERVAL_NS). */
export const yieldOnce = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

/**
 * Receives each op as the seed step ends it: its latency in ns and when it started and ended on the loop's clock. The
 * latency loop records latencies only; the fault loop also keeps its history (failures with their times, acknowledged
 * writes to read back, bad reads on its timeline) through the optional hooks, which cost nothing where absent.
 */
export interface OpRecorder {
  set(ns: number, startNs: bigint, endNs: bigint): void;
  get(ns: number, startNs: bigint, endNs: bigint): void;
  /** An op that failed (counted in the tally already), with the key and payload it was for. */
  failed?(op: 'set' | 'get', startNs: bigint, endNs: bigint, key: string, payload: Buffer): void;
  /** A SET acknowledged: the key holds the payload now. */
  acked?(key: string, payload: Buffer): void;
  /** A plain read's verdict (counted in the tally already), at the read's end. */
  read?(verdict: PlainVerdict, endNs: bigint): void;
  /** The clock ops are timed on, monotonic ns (default: hrtime); tests drive a fault run's in virtual time. */
  readonly now?: () => bigint;
}

export type IterationOutcome =
  | { readonly state: 'completed'; readonly attempted: number }
  | { readonly state: 'failed'; readonly attempted: number; readonly error: string }
  | { readonly state: 'aborted'; readonly attempted: number };

const hrtimeNow = process.hrtime.bigint;

/**
 * Asked before every op: true ends the iteration at once (state `aborted`), e.g. on Ctrl-C or when
 * the time budget runs out, so neither waits for the rest of a long iteration.
 */
export type StopCheck = () => boolean;

/** A GET of the seed loop: its verdict (a plain read) or its value, and when its reply came. */
interface SeedRead {
  readonly verdict?: PlainVerdict;
  readonly value: Buffer | null;
  readonly t1: bigint;
}

/**
 * GET `key`. With `payload` (a plain read) the value is verified where it lies in the bytes received (no copy of it; see
 * CacheClient.read), after its time was taken: the comparison is not the op's latency. Else the value, to be judged.
 */
async function seedGet(client: CacheClient, key: string, payload: Buffer | undefined, now: () => bigint): Promise<SeedRead> {
  if (payload === undefined) {
    const value = await client.get(key);
    return { value, t1: now() };
  }
  let lookedAt: bigint | undefined;
  const verdict = await readWith(client, key, (v) => {
    lookedAt = now();
    return readVerdict(v, payload);
  });
  return { verdict, value: null, t1: lookedAt ?? now() };
}

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
  check?: ReadCheck,
): Promise<IterationOutcome> {
  const { keys, payloads } = plan;
  const overwriter = check?.overwriter;
  const nullIsStale = check?.nullIsStale === true;
  const yielding = check?.yieldToEventLoop === true;
  const now = recorder?.now ?? hrtimeNow;
  let lastYield = now();
  for (let w = 0; w < keys.length; w++) {
    if (shouldStop()) return { state: 'aborted', attempted: w };
    const key = keys[w] as string;
    const payload = payloads[w] as Buffer;
    let t0 = now();
    try {
      await client.set(key, payload, ttlSeconds);
    } catch (error: unknown) {
      const failedAt = now();
      const message = tally.fail('set', error);
      recorder?.failed?.('set', t0, failedAt, key, payload);
      return { state: 'failed', attempted: w + 1, error: message };
    }
    const ackedAt = now();
    recorder?.set(Number(ackedAt - t0), t0, ackedAt);
    tally.sets++;
    recorder?.acked?.(key, payload);
    lastYield = ackedAt;
    let versioned: VersionedKey | undefined;
    if (overwriter !== undefined) {
      versioned = new VersionedKey(key, payload, ackedAt);
      overwriter.follow(versioned);
    }
    const plain = versioned === undefined && !nullIsStale;
    for (let r = 0; r < readRatio; r++) {
      if (shouldStop()) return { state: 'aborted', attempted: w + 1 };
      if (yielding && now() - lastYield >= YIELD_INTERVAL_NS) {
        await yieldOnce();
        lastYield = now();
      }
      const ackedAtIssue = versioned?.acked ?? 0;
      t0 = now();
      let got: SeedRead;
      try {
        got = await seedGet(client, key, plain ? payload : undefined, now);
      } catch (error: unknown) {
        const failedAt = now();
        const message = tally.fail('get', error);
        recorder?.failed?.('get', t0, failedAt, key, payload);
        return { state: 'failed', attempted: w + 1, error: message };
      }
      const { value, t1 } = got;
      let verdict = got.verdict;
      recorder?.get(Number(t1 - t0), t0, t1);
      tally.gets++;
      if (verdict === undefined && versioned === undefined && !(value === null && nullIsStale)) verdict = readVerdict(value, payload);
      if (verdict !== undefined) {
        tally.read(verdict);
        recorder?.read?.(verdict, t1);
      } else if (versioned !== undefined) {
        const judged = judgeRead(versioned, value, ackedAtIssue, t0, nullIsStale);
        if (judged.kind === 'fresh') tally.verified++;
        else if (judged.kind === 'stale') tally.staleRead(judged.ageNs);
        else tally[judged.kind]++;
      } else {
        tally.staleRead(Number(t0 - ackedAt));
      }
    }
    overwriter?.follow(undefined);
  }
  return { state: 'completed', attempted: keys.length };
}

/** Deletes the given keys by exact name, DELETE_BATCH_KEYS at a time; returns how many deletes failed (keys then expire by TTL). */
export async function deleteKeys(client: CacheClient, keys: readonly string[]): Promise<number> {
  return (await deleteInBatches([client], chunks(keys), keys.length)).failed;
}
