/**
 * When a load worker's clients send: its target's windows of the run's timeline (load/timeline.ts), in closed loop
 * (each client's next op when the last returned, while a window lasts) or open loop (RATE's fixed schedule over the
 * target's active time). Clients sleep through other targets' turns on one timer per window for all of them. The clock
 * is injectable: tests drive it in virtual time.
 */
import { ActiveClock, type LoadWindow } from './timeline.js';
import { yieldOnce } from '../workload/seed-loop.js';

/** The clock a schedule reads and sleeps on (ms, monotonic). */
export interface Timer {
  now(): number;
  /** Resolves after `ms` (at once for 0 or less, after the pending I/O). */
  sleep(ms: number): Promise<void>;
}

/**
 * performance.now and timers that do not keep the process alive: a worker sleeping through a long wait (START_AT, other
 * targets' turns) and aborted exits as soon as its clean-up is done, not when the wait would have ended (its IPC
 * channel and sockets keep it alive while it works).
 */
export const REAL_TIMER: Timer = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => {
    if (ms > 0) setTimeout(resolve, ms).unref();
    else setImmediate(resolve);
  }),
};

import type { Slot } from '../workload/mix-client.js';

export type { Slot };

/**
 * Wakes sleeping clients when a window starts: one wait per window for all of them (clients sleeping through other
 * targets' turns cost nothing), and at once on abort. Never early: timers may fire up to a millisecond before their
 * time, so the last millisecond is waited out without a timer.
 */
class Gates {
  readonly #open = new Map<number, Promise<void>>();
  readonly #waking = new Set<() => void>();
  #aborted = false;
  constructor(readonly timer: Timer) {}
  /** Resolves at `at` (timer ms), or on abort. */
  at(at: number): Promise<void> {
    if (this.#aborted || this.timer.now() >= at) return Promise.resolve();
    let gate = this.#open.get(at);
    if (gate === undefined) {
      gate = new Promise<void>((resolve) => {
        const done = (): void => {
          this.#waking.delete(done);
          this.#open.delete(at);
          resolve();
        };
        this.#waking.add(done);
        void (async () => {
          while (this.#waking.has(done)) {
            const left = at - this.timer.now();
            if (left <= 0) return done();
            await this.timer.sleep(left > 1 ? left - 1 : 0);
          }
        })();
      });
      this.#open.set(at, gate);
    }
    return gate;
  }

  abort(): void {
    this.#aborted = true;
    for (const wake of [...this.#waking]) wake();
  }
}

export interface ScheduleOptions {
  /** Open loop: ms between this worker's ops (1000 / its share of RATE); 0: closed loop. */
  readonly intervalMs: number;
  /** Open loop: this worker's offset in the interval (its workers and shards interleave), 0 ≤ phase < 1. */
  readonly phase: number;
  /** Closed loop through a client cache: yield to the event loop once a millisecond (hits need no I/O). */
  readonly yields: boolean;
  readonly timer?: Timer;
}

/** One worker's schedule over its target's windows, from `start` (timer ms; the run's start, shared by every worker). */
export class Schedule {
  readonly clock: ActiveClock;
  readonly timer: Timer;
  readonly #windows: readonly LoadWindow[];
  readonly #index: Map<LoadWindow, number>;
  readonly #gates: Gates;
  readonly #runEnd: number;
  #nextOp = 0;
  #lastYield: number;
  #aborted = false;

  constructor(windows: readonly LoadWindow[], readonly start: number, readonly options: ScheduleOptions) {
    this.timer = options.timer ?? REAL_TIMER;
    this.clock = new ActiveClock(windows);
    this.#windows = windows;
    this.#index = new Map(windows.map((w, i) => [w, i]));
    this.#gates = new Gates(this.timer);
    this.#runEnd = start + (windows[windows.length - 1]?.toMs ?? 0);
    this.#lastYield = this.timer.now();
  }

  /** Stops the schedule: next() gives null, sleepers wake at once. */
  abort(): void {
    this.#aborted = true;
    this.#gates.abort();
  }

  /** Resolves at `at` (timer ms; e.g. the start, or the end of the timeline), or on abort. */
  until(at: number): Promise<void> {
    return this.#gates.at(at);
  }

  /** Whether the window of `slot` has ended: nothing more is sent for it. */
  ended(slot: Slot): boolean {
    return this.timer.now() - this.start >= (this.#windows[slot.window] as LoadWindow).toMs;
  }

  #slotIn(w: LoadWindow, intended?: number): Slot {
    return { window: this.#index.get(w) as number, measured: w.measured, ...(intended !== undefined ? { intended } : {}) };
  }

  /**
   * A trace's op due `offsetMs` after the start of this target's first window (warm-up included): waited for as an open
   * loop's op is, in the window it falls in; null past the last window, or on abort. An op already late is given at
   * once (its latency counts from its intended time); #timed skips it when its window has ended.
   */
  async at(offsetMs: number): Promise<Slot | null> {
    const first = this.#windows[0];
    if (first === undefined || this.#aborted) return null;
    const rel = first.fromMs + offsetMs;
    const window = this.#windows.find((w) => rel >= w.fromMs && rel < w.toMs);
    if (window === undefined) return null;
    const intended = this.start + rel;
    await this.#gates.at(this.start + window.fromMs);
    // A timer may fire early (Node dates it from the loop's cached time): it is waited again until less than 1 ms is left.
    for (let wait = intended - this.timer.now(); wait > 1 && !this.#aborted; wait = intended - this.timer.now()) await this.timer.sleep(wait - 0.5);
    if (this.#aborted) return null;
    return this.#slotIn(window, intended);
  }

  /**
   * When the next op is due (open loop: its intended send time, waited for); null when the run is over. Between this
   * target's windows (another target's turn) the clients sleep.
   */
  async next(): Promise<Slot | null> {
    const { timer, clock, start } = this;
    if (this.options.intervalMs <= 0) {
      if (this.options.yields && timer.now() - this.#lastYield >= 1) {
        await yieldOnce();
        this.#lastYield = timer.now();
      }
      for (;;) {
        const window = clock.nextWindow(timer.now() - start);
        if (window === undefined || this.#aborted) return null;
        if (timer.now() - start >= window.fromMs) return this.#slotIn(window);
        await this.#gates.at(start + window.fromMs);
      }
    }
    // The schedule runs over this target's active time (its windows laid end to end): op k is due at active time
    // (k + phase) × interval, mapped onto the wall clock.
    const { intervalMs, phase } = this.options;
    for (;;) {
      const k = this.#nextOp++;
      const active = (k + phase) * intervalMs;
      if (active >= clock.activeMs || this.#aborted || timer.now() >= this.#runEnd) return null;
      const dueRel = clock.wallOf(active);
      const window = clock.windowAt(dueRel);
      // Nothing is sent after its window: ops still due when it ended (a backlog the clients could not keep up with)
      // are unsent, and the rate was not achieved. The schedule goes on at the next window.
      if (window === undefined || timer.now() - start >= window.toMs) {
        this.#nextOp = Math.max(this.#nextOp, Math.ceil(clock.activeEndOf(dueRel) / intervalMs - phase));
        continue;
      }
      const intended = start + dueRel;
      // Another target's turn first: sleep through it with the other clients.
      await this.#gates.at(start + window.fromMs);
      // Node's timers cannot wait less than ~1 ms: an op due within 1 ms is sent now (early, never late).
      const wait = intended - timer.now();
      if (wait > 1 && !this.#aborted) await timer.sleep(wait - 0.5);
      if (this.#aborted) return null;
      return this.#slotIn(window, intended);
    }
  }
}
