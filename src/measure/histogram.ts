import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';

/** Percentiles of one op type on one target, in microseconds. Empty when no op was recorded. */
export interface OpStats {
  readonly count: number;
  readonly errors: number;
  readonly meanUs?: number;
  readonly p50Us?: number;
  readonly p90Us?: number;
  readonly p99Us?: number;
  readonly p999Us?: number;
  readonly maxUs?: number;
  /**
   * The whole histogram (ns), HdrHistogram's compressed base64 V2 encoding, for latency percentile curves and other
   * tools (latency and fault runs; a throughput run keeps its histograms in `load.record`). Absent when empty.
   */
  readonly histogram?: string;
}

/** ns → µs with two decimals, as every reported latency. */
export const usOf = (ns: number): number => Math.round(ns / 10) / 100;

/**
 * Op latencies in an HDR histogram (3 significant digits, nanosecond input):
 * constant memory whatever the run length.
 */
export class OpHistogram {
  readonly #histogram: Histogram;

  constructor(from?: Histogram) {
    this.#histogram = from ?? build({
      bitBucketSize: 32,
      lowestDiscernibleValue: 1,
      highestTrackableValue: 2 ** 36, // ~69 s; autoResize covers anything longer
      numberOfSignificantValueDigits: 3,
      autoResize: true,
    });
  }

  /** A histogram from `encode()`'s text (HdrHistogram's compressed base64 V2 encoding, readable by every HdrHistogram port). */
  static decode(text: string): OpHistogram {
    return new OpHistogram(decodeFromCompressedBase64(text, 32, false));
  }

  /** HdrHistogram's compressed base64 encoding: exact, mergeable elsewhere (`cachebench merge`, HdrHistogram tools). */
  encode(): string {
    return encodeIntoCompressedBase64(this.#histogram);
  }

  /** Adds every value recorded in `other` (exact: histograms merge, percentiles never do). */
  add(other: OpHistogram): void {
    this.#histogram.add(other.#histogram);
  }

  /** The value at `percentile` (0–100) in ns; 0 when empty. */
  valueAt(percentile: number): number {
    return this.#histogram.getValueAtPercentile(percentile);
  }

  /** Forgets every value (the counts array is kept for the next ones). */
  reset(): void {
    this.#histogram.reset();
  }

  /** Records one latency in nanoseconds. */
  record(ns: number): void {
    this.#histogram.recordValue(ns);
  }

  get count(): number {
    return this.#histogram.totalCount;
  }

  /** The mean of the values recorded; 0 when empty. */
  get mean(): number {
    return this.#histogram.totalCount === 0 ? 0 : this.#histogram.mean;
  }

  /** The largest value recorded (ns); 0 when empty. */
  get max(): number {
    return this.#histogram.maxValue;
  }

  /** Percentiles; `keep`: also the encoded histogram (OpStats.histogram). */
  summarize(errors: number, keep = false): OpStats {
    const h = this.#histogram;
    if (h.totalCount === 0) return { count: 0, errors };
    return {
      count: h.totalCount,
      errors,
      meanUs: usOf(h.mean),
      p50Us: usOf(h.getValueAtPercentile(50)),
      p90Us: usOf(h.getValueAtPercentile(90)),
      p99Us: usOf(h.getValueAtPercentile(99)),
      p999Us: usOf(h.getValueAtPercentile(99.9)),
      maxUs: usOf(h.maxValue),
      ...(keep ? { histogram: this.encode() } : {}),
    };
  }
}
