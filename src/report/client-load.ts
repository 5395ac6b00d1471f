/** The load generator's own saturation in a throughput row (load.workers[].client), read the same way by every format. */
import { CLIENT_BOUND_BUSY } from '../load/record.js';
import type { ResultEntry } from './document.js';

export interface ClientLoadSummary {
  /** The busiest worker's event-loop utilisation over its target's seconds (0–1). */
  readonly busy: number;
  /** CPU µs per op, over every worker that measured it (weighted by its ops). */
  readonly cpuUsPerOp: number | null;
  readonly loopDelayP99Ms: number;
  readonly gcMsPerSecond: number;
  readonly workers: number;
  /** The busiest worker reached CLIENT_BOUND_BUSY: the row measured the load generator, not the servers. */
  readonly bound: boolean;
}

/** null: not a throughput row, or a file written before workers measured themselves. */
export function clientLoadOf(e: ResultEntry): ClientLoadSummary | null {
  const measured = (e.load?.workers ?? []).flatMap((w) => (w.client != null ? [{ ops: w.ops, ...w.client }] : []));
  if (measured.length === 0) return null;
  const busy = Math.max(...measured.map((w) => w.busy));
  const withCpu = measured.filter((w) => w.cpuUsPerOp !== null && w.ops > 0);
  const ops = withCpu.reduce((n, w) => n + w.ops, 0);
  return {
    busy,
    cpuUsPerOp: ops > 0 ? withCpu.reduce((n, w) => n + (w.cpuUsPerOp as number) * w.ops, 0) / ops : null,
    loopDelayP99Ms: Math.max(...measured.map((w) => w.loopDelayP99Ms)),
    gcMsPerSecond: Math.max(...measured.map((w) => w.gcMsPerSecond)),
    workers: measured.length,
    bound: busy >= CLIENT_BOUND_BUSY,
  };
}
