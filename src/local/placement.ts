import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { requireBinary } from './binaries.js';
import { LocalSetupError } from './errors.js';

const run = promisify(execFile);

/**
 * Where the client (cachebench) and the local servers run. On loopback this decides the result as
 * much as the topology does (a request and its reply cross cores or not), so every target of a run
 * is measured under the same layout, and the layout is recorded in the report.
 * - `none`: no pinning; the scheduler places and moves processes as it likes.
 * - `shared`: the client and every local server on one core (cpu 0): nothing crosses cores.
 * - `split`: the client on cpu 0, every local server on the other cores.
 */
export const CPU_LAYOUTS = ['auto', 'none', 'shared', 'split'] as const;
export type CpuLayout = (typeof CPU_LAYOUTS)[number];

export interface Placement {
  /** The layout in effect (`auto` resolved). */
  readonly layout: Exclude<CpuLayout, 'auto'>;
  /** taskset CPU lists, or null for "not pinned". */
  readonly clientCpus: string | null;
  readonly serverCpus: string | null;
  readonly cores: number;
  /** One line for the report. */
  readonly description: string;
}

/**
 * The layout used when `--cpu-layout` is `auto`, per core count: measured with
 * `npm run bench:noise` (see README, "Placement"), the layout whose iterations were steadiest.
 */
export function defaultLayout(cores: number): Exclude<CpuLayout, 'auto'> {
  // 2 cores, 4 runs of 40 rounds × 3 topologies: CV of iteration times split 8–17%, none 17–25%,
  // shared 11–27% (its GC pauses land on the servers' core). Split is also DESIGN.md's rule.
  return cores >= 2 ? 'split' : 'none';
}

/** Parses a CPU list such as `0-3,6` into CPU numbers. */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',').filter((p) => p !== '')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a); c++) cpus.push(c);
  }
  return cpus;
}

/** The CPUs this process may run on (its affinity, e.g. a container's cpuset), from /proc. */
export function allowedCpus(): number[] {
  try {
    const list = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (list !== undefined) return parseCpuList(list);
  } catch (error: unknown) {
    void error; // no /proc: assume CPUs 0..n-1
  }
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}

const cpuList = (cpus: readonly number[]): string => cpus.join(',');

/**
 * Plans a layout within the CPUs this process may use (never outside them: a cpuset or a
 * `taskset` the user ran cachebench under is respected). `auto` with a single allowed CPU is `none`.
 */
export function planPlacement(layout: CpuLayout, cpus: readonly number[] = allowedCpus()): Placement {
  const cores = cpus.length;
  const resolved = layout === 'auto' ? defaultLayout(cores) : layout;
  const first = cpus[0] ?? 0;
  switch (resolved) {
    case 'none':
      return { layout: resolved, clientCpus: null, serverCpus: null, cores, description: 'not pinned: the scheduler places the client and the servers' };
    case 'shared':
      return { layout: resolved, clientCpus: String(first), serverCpus: String(first), cores, description: `client and every local server on cpu ${first} (nothing crosses cores)` };
    case 'split': {
      if (cores < 2) throw new LocalSetupError(`--cpu-layout split needs 2 usable CPUs, this process may use only cpu ${cpuList(cpus)}. Fix: use --cpu-layout shared or none`);
      const servers = cpuList(cpus.slice(1));
      return { layout: resolved, clientCpus: String(first), serverCpus: servers, cores, description: `client on cpu ${first}, every local server on cpu ${servers}` };
    }
  }
}

/** Pins every thread of a process to a CPU list (`taskset -a -p -c`). */
export async function pinProcess(pid: number, cpus: string): Promise<void> {
  const taskset = requireBinary('taskset');
  try {
    await run(taskset, ['-a', '-p', '-c', cpus, String(pid)], { timeout: 5000 });
  } catch (error: unknown) {
    const detail = (error instanceof Error ? error.message : String(error)).trim().replace(/\s*\n\s*/g, ' ').replace(/[.:]+$/, '');
    throw new LocalSetupError(`cannot pin process ${pid} to cpu ${cpus}: ${detail}. Fix: use --cpu-layout none`, { cause: error });
  }
}

/** Applies a placement to the local servers' PIDs and to this process (the client). */
export async function applyPlacement(placement: Placement, serverPids: readonly number[], clientPid = process.pid): Promise<void> {
  if (placement.serverCpus !== null) await Promise.all(serverPids.map((pid) => pinProcess(pid, placement.serverCpus as string)));
  if (placement.clientCpus !== null) await pinProcess(clientPid, placement.clientCpus);
}
