/**
 * A fault run with a WORKLOAD (FAULT and WORKLOAD set): one client runs the mix on a KEYSPACE of preloaded keys
 * (workload/mix-client.ts), every reply judged by the model while the fault comes and goes; after healing, every key's
 * whole state is read back and compared with what its acknowledged writes left. A reply or a final read that finds an
 * acknowledged write gone is a lost write, whatever the data type: a counter that went back, a hash field or a list
 * element gone, a sorted set with an old score.
 */
import type { KeyDistribution } from '../config/plan.js';
import type { CaseParams, RunControls } from '../config/resolve.js';
import type { KeyType, MixCommand, WorkloadPlan } from '../config/workload.js';
import type { CacheClient, CommandReply } from '../targets/client.js';
import { mixClient, type MixHost } from '../workload/mix-client.js';
import { KEYS_IN_FLIGHT, MixKeyspace } from '../workload/mix-keyspace.js';
import type { Verdict } from '../workload/mix-model.js';
import { FINAL_CHECK_MS, LOST_KEYS_KEPT } from './checker.js';

/** Keys read back at once. */
const IN_FLIGHT = KEYS_IN_FLIGHT;
/** How long past OP_TIMEOUT_MS the keys of a failed write are kept from use (MixRun.quarantineMs). */
const QUARANTINE_MARGIN_MS = 3000;
/** The pause between rounds of final reads while some still fail (a server coming back). */
const RETRY_MS = 200;

const KEY = { kind: 'key' } as const;
const lit = (text: string): { kind: 'lit'; text: string } => ({ kind: 'lit', text });
/** The read of a key's whole state, per data type: its reply is compared with the model as any reply is. */
const WHOLE: Readonly<Record<KeyType, MixCommand>> = {
  string: { name: 'GET', args: [KEY] },
  counter: { name: 'GET', args: [KEY] },
  hash: { name: 'HGETALL', args: [KEY] },
  list: { name: 'LRANGE', args: [KEY, lit('0'), lit('-1')] },
  zset: { name: 'ZRANGE', args: [KEY, lit('0'), lit('-1'), lit('WITHSCORES')] },
};

/** What a fault run with a WORKLOAD found (results.json `fault.mix`). */
export interface MixFaultCheck {
  /** The WORKLOAD (a built-in's name, or the mix) and the data type of its keys. */
  readonly workload: string;
  readonly keyType: KeyType;
  readonly keys: number;
  /** Replies during the run that found what an acknowledged write left gone (missing) or changed (mismatched). */
  readonly inRunMissing: number;
  readonly inRunMismatched: number;
  /** Replies the model could not judge (a key's state unknown after a failed op, or within a second of its expiry). */
  readonly inRunUnverified: number;
  /** Keys whose whole state was read back after healing, and those of them gone or changed. */
  readonly keysChecked: number;
  readonly keysLostMissing: number;
  readonly keysLostDifferent: number;
  /** Keys not judged at the end: the model lost track of them (a failed op, applied or not; a bad reply, counted in the run) or they were near their expiry. */
  readonly keysUnknown: number;
  /** Keys whose final read never got an answer within the final check. */
  readonly keysUnchecked: number;
  /** The first LOST_KEYS_KEPT keys found lost at the end, by name. */
  readonly lostKeys: readonly string[];
}

export class FaultMix extends MixKeyspace {
  #unverified = 0;
  #missing = 0;
  #mismatched = 0;

  constructor(plan: WorkloadPlan, keyspace: number, distribution: KeyDistribution, params: CaseParams, controls: RunControls, keyPrefix: string,
    semantics: 'redis' | 'memcache', seed: number, waitReplicas = 0, lateRetries = true) {
    // A driver may retry a write past the op's deadline (ioredis's cluster: 100 ms apart, 16 redirections more);
    // cachebench's own client never sends a write again once its deadline passed.
    super(plan, keyspace, distribution, params, controls, keyPrefix, {
      semantics, seed, waitReplicas, ...(lateRetries ? { quarantineMs: controls.opTimeoutMs + QUARANTINE_MARGIN_MS } : {}),
    });
  }

  /** Counts a measured reply's verdict; true when it found an acknowledged write gone or changed. */
  judged(verdict: Verdict): boolean {
    if (verdict === 'unverified' || verdict === 'stale') this.#unverified++;
    else if (verdict === 'missing') this.#missing++;
    else if (verdict === 'mismatched') this.#mismatched++;
    return verdict === 'missing' || verdict === 'mismatched';
  }

  /** The one client's mix until the host's slot source ends. */
  loop(host: MixHost): Promise<void> {
    return mixClient(host, this.run, 0, 0);
  }

  /**
   * Reads every key's whole state back on `checker` (after healing) and judges it; reads that fail are tried again
   * every RETRY_MS until FINAL_CHECK_MS has passed.
   */
  async check(checker: CacheClient, now: () => number): Promise<MixFaultCheck> {
    const model = this.run.model;
    const whole = WHOLE[this.plan.keyType];
    const draw = { name: (i: number) => this.run.keys.name(i), group: () => [], random: () => 0, valueBytes: () => 0, ttl: () => 0 };
    const lost: string[] = [];
    let [checked, gone, different, unknown] = [0, 0, 0, 0];
    let left: number[] = [];
    for (let i = 0; i < this.preloaded; i++) {
      if (model.isUnknown(i)) unknown++;
      else left.push(i);
    }
    const giveUpAt = now() + FINAL_CHECK_MS;
    while (left.length > 0) {
      const failed: number[] = [];
      for (let at = 0; at < left.length; at += IN_FLIGHT) {
        // Servers that do not answer: what is left stays unchecked (each read may take OP_TIMEOUT_MS).
        if (now() >= giveUpAt) {
          failed.push(...left.slice(at));
          break;
        }
        await Promise.all(left.slice(at, at + IN_FLIGHT).map(async (i) => {
          const p = model.prepare(whole, i, now(), draw);
          if (p.expect.kind === 'unknown') {
            unknown++;
            return;
          }
          let reply: CommandReply;
          try {
            reply = await (checker.command as NonNullable<CacheClient['command']>)(p.args, { key: draw.name(i), readOnly: true });
          } catch {
            failed.push(i);
            return;
          }
          checked++;
          const verdict = model.verdict(p.expect, reply, now());
          if (verdict === 'verified') return;
          if (verdict === 'unverified') {
            checked--;
            unknown++;
            return;
          }
          if (verdict === 'missing') gone++;
          else different++;
          if (lost.length < LOST_KEYS_KEPT) lost.push(draw.name(i));
        }));
      }
      left = failed;
      if (left.length === 0 || now() >= giveUpAt) break;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
    return {
      ...this.#inRun(),
      keysChecked: checked, keysLostMissing: gone, keysLostDifferent: different, keysUnknown: unknown, keysUnchecked: left.length, lostKeys: lost,
    };
  }

  /** The run's WORKLOAD and what its replies found. */
  #inRun(): Pick<MixFaultCheck, 'workload' | 'keyType' | 'keys' | 'inRunMissing' | 'inRunMismatched' | 'inRunUnverified'> {
    return {
      workload: this.plan.name === 'custom' ? this.plan.text : this.plan.name, keyType: this.plan.keyType, keys: this.keyspace,
      inRunMissing: this.#missing, inRunMismatched: this.#mismatched, inRunUnverified: this.#unverified,
    };
  }

  /** What an interrupted run found: the replies' verdicts only (its keys are deleted, not read back). */
  unread(): MixFaultCheck {
    return {
      ...this.#inRun(),
      keysChecked: 0, keysLostMissing: 0, keysLostDifferent: 0, keysUnknown: 0, keysUnchecked: this.preloaded, lostKeys: [],
    };
  }
}
