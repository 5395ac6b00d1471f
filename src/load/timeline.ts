/**
 * When each target of a throughput run is loaded. Every target's workers are alive for the whole run; the timeline
 * says when each sends. First a warm-up stretch (each target's WARMUP_SECONDS in turn), then the measured part: with
 * slices, stretch k gives every target one slice of SLICE_SECONDS, in an order rotated by one each stretch (target i
 * goes at position (i − k) mod T), so every target gets its share of every stretch of the run and none is always
 * first after another; without slices (SLICE_SECONDS 0, or one target), each target runs its warm-up and its whole
 * DURATION in turn. The layout depends only on its inputs: every --shard process sharing START_AT computes the same.
 */

/** One stretch of time in which a target sends, in ms from the run's start. */
export interface LoadWindow {
  readonly fromMs: number;
  readonly toMs: number;
  /** Part of the measured DURATION (else warm-up). */
  readonly measured: boolean;
  /** The measured stretch (slice round) it belongs to; -1 for warm-up. */
  readonly stretch: number;
}

export interface TimelineInput {
  readonly targets: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** 0: no slices (each target in turn). */
  readonly sliceMs: number;
}

/** Whether the targets take turns in slices (more than one target and a slice shorter than DURATION). */
export function isSliced(input: TimelineInput): boolean {
  return input.targets > 1 && input.sliceMs > 0 && input.sliceMs < input.durationMs;
}

/** How many measured stretches a sliced run has (1 when not sliced). */
export function stretchCount(input: TimelineInput): number {
  return isSliced(input) ? Math.ceil(input.durationMs / input.sliceMs) : 1;
}

/** The whole run's length: every target's warm-up and DURATION. */
export function timelineMs(input: TimelineInput): number {
  return input.targets * (input.warmupMs + input.durationMs);
}

/** The windows of target `index` (0-based), in time order. */
export function targetWindows(input: TimelineInput, index: number): LoadWindow[] {
  const { targets, warmupMs, durationMs, sliceMs } = input;
  if (!isSliced(input)) {
    const from = index * (warmupMs + durationMs);
    return [
      ...(warmupMs > 0 ? [{ fromMs: from, toMs: from + warmupMs, measured: false, stretch: -1 }] : []),
      { fromMs: from + warmupMs, toMs: from + warmupMs + durationMs, measured: true, stretch: 0 },
    ];
  }
  const windows: LoadWindow[] = warmupMs > 0 ? [{ fromMs: index * warmupMs, toMs: (index + 1) * warmupMs, measured: false, stretch: -1 }] : [];
  const measuredFrom = targets * warmupMs;
  for (let k = 0; k * sliceMs < durationMs; k++) {
    const length = Math.min(sliceMs, durationMs - k * sliceMs);
    const position = (((index - k) % targets) + targets) % targets;
    const from = measuredFrom + targets * k * sliceMs + position * length;
    windows.push({ fromMs: from, toMs: from + length, measured: true, stretch: k });
  }
  return windows;
}

/**
 * Maps between wall time (ms from the run's start) and a target's active time (ms of its windows, warm-up and measured,
 * laid end to end). Lookups walk a cursor: the load asks about times that grow, so each is O(1) on average.
 */
export class ActiveClock {
  readonly #windows: readonly LoadWindow[];
  /** Active ms before each window, and before its measured part: `#before[i]`, `#measuredBefore[i]`. */
  readonly #before: number[] = [];
  readonly #measuredBefore: number[] = [];
  /** Indexes of the measured windows. */
  readonly #measuredIndexes: number[] = [];
  #cursor = 0;
  readonly activeMs: number;
  readonly measuredMs: number;

  constructor(windows: readonly LoadWindow[]) {
    this.#windows = windows;
    let active = 0;
    let measured = 0;
    for (const w of windows) {
      this.#before.push(active);
      this.#measuredBefore.push(measured);
      active += w.toMs - w.fromMs;
      if (w.measured) {
        this.#measuredIndexes.push(this.#before.length - 1);
        measured += w.toMs - w.fromMs;
      }
    }
    this.activeMs = active;
    this.measuredMs = measured;
  }

  get windows(): readonly LoadWindow[] {
    return this.#windows;
  }

  /** The index of the last window starting at or before `t` (-1: before the first). */
  #locate(t: number): number {
    const w = this.#windows;
    while (this.#cursor + 1 < w.length && t >= (w[this.#cursor + 1] as LoadWindow).fromMs) this.#cursor++;
    while (this.#cursor > 0 && t < (w[this.#cursor] as LoadWindow).fromMs) this.#cursor--;
    return w.length === 0 || t < (w[0] as LoadWindow).fromMs ? -1 : this.#cursor;
  }

  /** The window `t` falls in, or undefined when it falls in idle time. */
  windowAt(t: number): LoadWindow | undefined {
    const i = this.#locate(t);
    const w = this.#windows[i];
    return w !== undefined && t < w.toMs ? w : undefined;
  }

  /** The first window that ends after `t` (the current one, or the next), or undefined when all have ended. */
  nextWindow(t: number): LoadWindow | undefined {
    const i = this.#locate(t);
    const w = this.#windows[i];
    if (w !== undefined && t < w.toMs) return w;
    return this.#windows[i + 1];
  }

  /** Wall time (ms from the start) of active time `a`; the end of the last window when `a` is beyond it. */
  wallOf(active: number): number {
    const w = this.#windows;
    // Ops ask in growing active time: walk forward from the cursor, back when asked earlier.
    while (this.#cursor + 1 < w.length && active >= (this.#before[this.#cursor + 1] as number)) this.#cursor++;
    while (this.#cursor > 0 && active < (this.#before[this.#cursor] as number)) this.#cursor--;
    const win = w[this.#cursor];
    if (win === undefined) return 0;
    return Math.min(win.toMs, win.fromMs + (active - (this.#before[this.#cursor] as number)));
  }

  /** Active ms spent by wall time `t` (inside a window, or at the end of the last one passed): a target's progress. */
  activeAt(t: number): number {
    const i = this.#locate(t);
    const w = this.#windows[i];
    return w === undefined ? 0 : (this.#before[i] as number) + Math.min(t, w.toMs) - w.fromMs;
  }

  /** Active time at the end of the window `t` falls in or last passed (what an op due in it may still use). */
  activeEndOf(t: number): number {
    const i = this.#locate(t);
    const w = this.#windows[i];
    return w === undefined ? 0 : (this.#before[i] as number) + (w.toMs - w.fromMs);
  }

  /**
   * Measured ms before wall time `t` (ms into the measured DURATION, for the per-second series): inside a measured
   * window its offset there; in idle time after one, its end less `endInsetMs` (an op that completes after its window
   * ended belongs to the window's last second); -1 before the first measured window.
   */
  measuredOffset(t: number, endInsetMs = 0): number {
    const i = this.#locate(t);
    for (let j = i; j >= 0; j--) {
      const w = this.#windows[j] as LoadWindow;
      if (!w.measured) continue;
      const base = this.#measuredBefore[j] as number;
      return t < w.toMs ? base + (t - w.fromMs) : base + (w.toMs - w.fromMs) - endInsetMs;
    }
    return -1;
  }

  /** Wall time (ms from the start) at which measured ms `m` was reached (the start of measured second m / 1000). */
  wallOfMeasured(m: number): number {
    const measured = this.#measuredIndexes;
    // The last measured window whose measured ms begin at or before m (binary search: a 6-hour run has thousands).
    let lo = 0;
    let hi = measured.length - 1;
    if (hi < 0) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#measuredBefore[measured[mid] as number] as number) <= m) lo = mid;
      else hi = mid - 1;
    }
    const j = measured[lo] as number;
    const w = this.#windows[j] as LoadWindow;
    return Math.min(w.toMs, w.fromMs + (m - (this.#measuredBefore[j] as number)));
  }
}
