/** What every run kind measures of one target, whatever else its kind adds (run/result.ts unions the kinds). */
import type { OpStats } from './histogram.js';

/** Reads checked against what the harness wrote: every read is exactly one of verified, missing or mismatched. */
export interface Verification {
  readonly reads: number;
  readonly verified: number;
  readonly missing: number;
  readonly mismatched: number;
}

/** One target's outcome in one parameter combination, the part every run kind has. */
export interface TargetOutcome {
  readonly name: string;
  /** completed: measured until the combination stopped; errored: dropped after failures or never measured; aborted: Ctrl-C. */
  readonly state: 'completed' | 'errored' | 'aborted';
  /** Why it errored (credentials masked). */
  readonly error?: string;
  readonly ops: { readonly set: OpStats; readonly get: OpStats };
  readonly verification: Verification;
  /** Distinct failure messages with counts. */
  readonly errors: Readonly<Record<string, number>>;
  /** Keys whose deletion failed (they expire by TTL). */
  readonly undeletedKeys: number;
}

/** A target that measured nothing, with why (the caller masks credentials in `error`). */
export function unmeasured(name: string, state: TargetOutcome['state'], error: string): TargetOutcome {
  return {
    name, state, error,
    ops: { set: { count: 0, errors: 0 }, get: { count: 0, errors: 0 } },
    verification: { reads: 0, verified: 0, missing: 0, mismatched: 0 },
    errors: {}, undeletedKeys: 0,
  };
}
