/**
 * The load generator measuring itself (load/generator.ts): event-loop utilisation, CPU, event-loop delay, GC and bytes
 * on the wire, second by second, over the CPUs this process may run on.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { PerformanceObserver, monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';
import { allowedCpus } from '../local/placement.js';
import type { ClientLoad } from './record.js';

/**
 * The CPUs this process may run on: its affinity (e.g. the client's core under --cpu-layout split), or fewer under a
 * container's CPU quota (cgroup v2 cpu.max, v1 cpu.cfs_quota_us; a Kubernetes CPU limit), rounded up.
 */
function allowedCpuCount(): number {
  const affinity = allowedCpus().length;
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (error: unknown) {
      void error; // not this cgroup version, or no cgroup file system
      return undefined;
    }
  };
  const v2 = read('/sys/fs/cgroup/cpu.max')?.split(/\s+/);
  const [quota, period] = v2 !== undefined ? [Number(v2[0]), Number(v2[1])]
    : [Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')), Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us'))];
  const limit = quota > 0 && period > 0 ? Math.ceil(quota / period) : Infinity;
  return Math.max(1, Math.min(affinity > 0 ? affinity : availableParallelism(), limit));
}

/** A tick counts for the generator's own load when its target sent for at least this much of the second. */
export const SELF_SECOND_MS = 900;

/**
 * The load generator measuring itself, second by second (the worker's live tick): event-loop utilisation, process CPU
 * time, event-loop delay and GC time of each second, kept for the measured seconds its target sent throughout. Each
 * worker is a process of its own (load/pool.ts), so these process-wide figures are its own.
 */
export class SelfMeter {
  #elu: EventLoopUtilization = performance.eventLoopUtilization();
  #cpu = process.cpuUsage();
  readonly #delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  #gcMs = 0;
  readonly #gc: PerformanceObserver;
  #active = 0;
  #idle = 0;
  #cpuUs = 0;
  #ops = 0;
  #maxDelayP99Ms = 0;
  #gcInSeconds = 0;
  #seconds = 0;
  #cores = allowedCpuCount();
  /** Bytes on the wire: the clients' total at the last second's end (undefined: a client does not count them), and over the counted seconds. */
  #wire: number | undefined;
  #wireInSeconds = 0;

  constructor(private readonly wireBytes: () => number | undefined) {
    this.#wire = wireBytes();
    this.#delay.enable();
    this.#gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.#gcMs += entry.duration;
    });
    this.#gc.observe({ entryTypes: ['gc'] });
  }

  /** One second ends: `counted` when its target sent throughout, with the ops completed in it. */
  second(counted: boolean, ops: number): void {
    const elu = performance.eventLoopUtilization(this.#elu);
    this.#elu = performance.eventLoopUtilization();
    const cpu = process.cpuUsage(this.#cpu);
    this.#cpu = process.cpuUsage();
    const delayP99Ms = this.#delay.percentile(99) / 1e6;
    this.#delay.reset();
    const gcMs = this.#gcMs;
    this.#gcMs = 0;
    const wire = this.wireBytes();
    const wireBytes = wire === undefined || this.#wire === undefined ? undefined : wire - this.#wire;
    this.#wire = wire;
    if (!counted) return;
    if (wireBytes !== undefined) this.#wireInSeconds += wireBytes;
    this.#active += elu.active;
    this.#idle += elu.idle;
    this.#cpuUs += cpu.user + cpu.system;
    this.#ops += ops;
    this.#maxDelayP99Ms = Math.max(this.#maxDelayP99Ms, delayP99Ms);
    this.#gcInSeconds += gcMs;
    this.#seconds++;
  }

  stop(): void {
    this.#delay.disable();
    this.#gc.disconnect();
  }

  result(): ClientLoad | null {
    if (this.#seconds === 0 || this.#active + this.#idle <= 0) return null;
    const round = (x: number, digits: number): number => Number(x.toFixed(digits));
    return {
      busy: round(this.#active / (this.#active + this.#idle), 3),
      cpuUsPerOp: this.#ops > 0 ? round(this.#cpuUs / this.#ops, 2) : null,
      loopDelayP99Ms: round(this.#maxDelayP99Ms, 2),
      gcMsPerSecond: round(this.#gcInSeconds / this.#seconds, 2),
      seconds: this.#seconds,
      cpuPerSecond: round(this.#cpuUs / 1000 / (this.#active + this.#idle), 3),
      cores: this.#cores,
      ...(this.#wire !== undefined && this.#ops > 0 ? { wireBytesPerOp: round(this.#wireInSeconds / this.#ops, 1) } : {}),
    };
  }
}
