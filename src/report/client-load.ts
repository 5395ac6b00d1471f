/** The load generator's own saturation in a throughput row (load.workers[].client), read the same way by every format. */
import { saturationOf, type Saturation } from '../load/record.js';
import type { ResultEntry } from './document.js';

export interface ClientLoadSummary {
  /** The busiest worker's event-loop utilisation over its target's seconds (0–1). */
  readonly busy: number;
  /** CPU µs per op, over every worker that measured it (weighted by its ops). */
  readonly cpuUsPerOp: number | null;
  readonly loopDelayP99Ms: number;
  readonly gcMsPerSecond: number;
  readonly workers: number;
  /** CPU seconds per second of every worker together, over the CPUs they may run on (0–1); null in files without it. */
  readonly cpuShare: number | null;
  readonly cores: number | null;
  /** Bytes on the wire per op (requests and replies), over the workers (weighted by ops); null unless every worker's client counted them. */
  readonly wireBytesPerOp: number | null;
  /**
   * The busiest worker's event loop, or the workers' CPU use together, reached CLIENT_BOUND_BUSY: the row measured the
   * load generator, not the servers. `by` says which.
   */
  readonly bound: boolean;
  readonly by: 'event loop' | 'CPU' | null;
}

/** null: not a throughput row, or a file written before workers measured themselves. */
export function clientLoadOf(e: ResultEntry): ClientLoadSummary | null {
  const measured = (e.load?.workers ?? []).flatMap((w) => (w.client != null ? [{ ops: w.ops, worker: w.worker, input: w.input, ...w.client }] : []));
  if (measured.length === 0) return null;
  const sat = saturationOf(e.load?.workers ?? []) as Saturation;
  const withCpu = measured.filter((w) => w.cpuUsPerOp !== null && w.ops > 0);
  const ops = withCpu.reduce((n, w) => n + w.ops, 0);
  const wireOps = measured.reduce((n, w) => n + w.ops, 0);
  const wire = measured.every((w) => w.wireBytesPerOp !== undefined) && wireOps > 0
    ? measured.reduce((n, w) => n + (w.wireBytesPerOp as number) * w.ops, 0) / wireOps : null;
  return {
    busy: sat.busy,
    cpuUsPerOp: ops > 0 ? withCpu.reduce((n, w) => n + (w.cpuUsPerOp as number) * w.ops, 0) / ops : null,
    loopDelayP99Ms: Math.max(...measured.map((w) => w.loopDelayP99Ms)),
    gcMsPerSecond: Math.max(...measured.map((w) => w.gcMsPerSecond)),
    workers: measured.length,
    cpuShare: sat.cpuShare,
    cores: sat.cores,
    wireBytesPerOp: wire,
    bound: sat.by !== null,
    by: sat.by,
  };
}
