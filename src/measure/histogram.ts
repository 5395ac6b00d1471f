import { build, type Histogram } from 'hdr-histogram-js';

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
}

/**
 * Op latencies in an HDR histogram (3 significant digits, nanosecond input):
 * constant memory whatever the run length.
 */
export class OpHistogram {
  readonly #histogram: Histogram = build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2 ** 36, // ~69 s; autoResize covers anything longer
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });

  /** Records one latency in nanoseconds. */
  record(ns: number): void {
    this.#histogram.recordValue(ns);
  }

  get count(): number {
    return this.#histogram.totalCount;
  }

  summarize(errors: number): OpStats {
    const h = this.#histogram;
    if (h.totalCount === 0) return { count: 0, errors };
    const us = (ns: number): number => Math.round(ns / 10) / 100;
    return {
      count: h.totalCount,
      errors,
      meanUs: us(h.mean),
      p50Us: us(h.getValueAtPercentile(50)),
      p90Us: us(h.getValueAtPercentile(90)),
      p99Us: us(h.getValueAtPercentile(99)),
      p999Us: us(h.getValueAtPercentile(99.9)),
      maxUs: us(h.maxValue),
    };
  }

}
