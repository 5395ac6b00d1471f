/** The fault loop's time: ns readings, the pause after a failed op, and its timers. Tests drive it in virtual time. */
export interface FaultClock {
  /** Monotonic time in ns. Function properties, not methods: they are passed on unbound (e.g. as the seed step's clock). */
  readonly now: () => bigint;
  readonly sleep: (ms: number) => Promise<void>;
  /** Calls `fn` once after `ms`; returns what cancels it. */
  readonly after: (ms: number, fn: () => void) => () => void;
  /** Calls `fn` every `ms`; returns what cancels it. */
  readonly every: (ms: number, fn: () => void) => () => void;
}

export const REAL_CLOCK: FaultClock = {
  now: () => process.hrtime.bigint(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
  every: (ms, fn) => {
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  },
};

/**
 * The wait of a fault's FAULT_DURATION (a pause, a restart, a partition) that healing ends at once: also Ctrl-C, and
 * also before the wait began (then it does not wait at all).
 */
export class FaultWait {
  #ended = false;
  #end: (() => void) | undefined;

  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#ended) {
        resolve();
        return;
      }
      const timer = setTimeout(resolve, ms);
      this.#end = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  end(): void {
    this.#ended = true;
    this.#end?.();
  }
}
