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
  const busy = Math.max(...measured.map((w) => w.busy));
  const withCpu = measured.filter((w) => w.cpuUsPerOp !== null && w.ops > 0);
  const ops = withCpu.reduce((n, w) => n + w.ops, 0);
  // The workers of one shard of one input (one machine) share its CPUs; other shards and inputs have their own: the busiest counts.
  const shards = new Map<string, typeof measured>();
  for (const w of measured) {
    const shard = `${w.input ?? ''}|${w.worker.split(' worker ')[0] ?? ''}`;
    shards.set(shard, [...(shards.get(shard) ?? []), w]);
  }
  const shares = [...shards.values()].map((list) => {
    const cpus = Math.max(0, ...list.map((w) => w.cores ?? 0));
    if (cpus === 0 || !list.every((w) => w.cpuPerSecond !== undefined)) return null;
    return { share: list.reduce((n, w) => n + (w.cpuPerSecond as number), 0) / cpus, cpus };
  });
  const known = shares.every((x) => x !== null) ? (shares as { share: number; cpus: number }[]) : [];
  const busiest = known.reduce<{ share: number; cpus: number } | null>((m, x) => (m === null || x.share > m.share ? x : m), null);
  const cpuShare = busiest === null ? null : Math.min(1, busiest.share);
  const cores = busiest?.cpus ?? 0;
  // The CPUs first: when they are full, more workers cannot help (the advice differs).
  const by = cpuShare !== null && cpuShare >= CLIENT_BOUND_BUSY ? 'CPU' : busy >= CLIENT_BOUND_BUSY ? 'event loop' : null;
  const wireOps = measured.reduce((n, w) => n + w.ops, 0);
  const wire = measured.every((w) => w.wireBytesPerOp !== undefined) && wireOps > 0
    ? measured.reduce((n, w) => n + (w.wireBytesPerOp as number) * w.ops, 0) / wireOps : null;
  return {
    busy,
    cpuUsPerOp: ops > 0 ? withCpu.reduce((n, w) => n + (w.cpuUsPerOp as number) * w.ops, 0) / ops : null,
    loopDelayP99Ms: Math.max(...measured.map((w) => w.loopDelayP99Ms)),
    gcMsPerSecond: Math.max(...measured.map((w) => w.gcMsPerSecond)),
    workers: measured.length,
    cpuShare,
    cores: cores > 0 ? cores : null,
    wireBytesPerOp: wire,
    bound: by !== null,
    by,
  };
}
