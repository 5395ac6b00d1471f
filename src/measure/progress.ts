/** Progress shapes every run kind tells (run/results.ts unions each kind's events). */

/** A target dropped from the run (after repeated failures, or one that could not be measured at all). */
export interface TargetErroredEvent {
  readonly kind: 'target-errored';
  readonly target: string;
  readonly error: string;
  /** `setup`: it failed before any measurement (a WORKLOAD's preload), not after repeated failures. */
  readonly at?: 'setup';
}

/** A time-based run's last second (throughput and fault runs): ops that succeeded and failed, the phase, how far. */
export interface SecondEvent {
  readonly kind: 'second';
  readonly target: string;
  readonly ok: number;
  readonly failed: number;
  readonly phase: string;
  readonly atMs: number;
  readonly runMs: number;
}
