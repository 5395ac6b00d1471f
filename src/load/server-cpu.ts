/**
 * What the servers spent on a target's load: their CPU time read at the start and end of each of the target's measured
 * windows, summed over the windows. A local topology's processes are read from /proc (all of them: a proxy and its
 * backends, a cluster's replicas); remote RESP servers from INFO cpu (used_cpu_sys + used_cpu_user, every node of a
 * cluster, replicas included). Another client's load on the same servers in those windows counts too: the figure is
 * the servers' cost of that stretch of time; remote memcached from `stats` (rusage_user + rusage_system). A remote proxy
 * (no INFO cpu, no stats) tells nothing.
 */
import type { RunControls } from '../config/resolve.js';
import { targetCommand, clusterNodesOf } from '../targets/admin.js';
import type { ConnectedTarget } from '../targets/client.js';
import type { ServerAddress } from '../config/servers.js';
import { parseInfo } from '../targets/probe.js';
import { cpuTimeMs } from '../local/procfs.js';
import { MemcacheConnection } from '../targets/memcache-protocol.js';
import type { LoadWindow } from './timeline.js';
import type { ServerCpu } from './record.js';

/**
 * The nodes whose cost counts, each marked primary or not: every node of a cluster that is not failing (replicas
 * replicate every write and hold a copy of every key), else the listed server.
 */
export async function serverNodes(target: ConnectedTarget, controls: RunControls): Promise<{ server: ServerAddress; primary: boolean }[]> {
  const first = target.config.servers[0];
  if (first === undefined) return [];
  if (target.info.mode !== 'cluster') return [{ server: first, primary: true }];
  return (await clusterNodesOf(target.config, controls)).filter((n) => !n.failing)
    .map((n) => ({ server: { ...first, host: n.host, port: n.port, display: `${n.host}:${n.port}` }, primary: n.primary }));
}

/** CPU seconds of one node so far (INFO cpu). */
async function cpuSeconds(target: ConnectedTarget, server: ServerAddress, controls: RunControls): Promise<number> {
  const info = parseInfo(String(await targetCommand(target.config, server, controls, 'INFO', 'cpu')));
  const sys = Number(info.get('used_cpu_sys'));
  const user = Number(info.get('used_cpu_user'));
  if (!Number.isFinite(sys) || !Number.isFinite(user)) throw new Error('no used_cpu_sys/used_cpu_user in INFO cpu');
  return sys + user;
}

/** One memcached's general `stats`, on a connection of its own. */
export async function memcachedStats(server: ServerAddress, controls: RunControls): Promise<ReadonlyMap<string, string>> {
  const connection = new MemcacheConnection({ host: server.host, port: server.port, display: server.display, connectTimeoutMs: controls.connectTimeoutMs,
    opTimeoutMs: controls.opTimeoutMs, maxValueBytes: 1024 });
  try {
    await connection.open();
    return await connection.stats();
  } finally {
    connection.close();
  }
}

/** CPU seconds of one memcached so far (`stats`: rusage_user + rusage_system). */
async function memcachedCpuSeconds(server: ServerAddress, controls: RunControls): Promise<number> {
  const stats = await memcachedStats(server, controls);
  const seconds = Number(stats.get('rusage_user')) + Number(stats.get('rusage_system'));
  if (!Number.isFinite(seconds)) throw new Error('no rusage_user/rusage_system in stats');
  return seconds;
}

/** Reads the CPU seconds of each node (or local process) so far. */
type CpuReader = () => Promise<readonly number[]>;

/**
 * Reads a target's servers' CPU at each measured window's start and end, once started with the timeline's start;
 * `finish()` stops and sums. null when the target's servers do not tell (a proxy, memcached, INFO refused).
 */
export class ServerCpuMeter {
  /** Each node's CPU seconds at each read (null: a node did not answer). */
  readonly #reads: Promise<readonly number[] | null>[] = [];
  /** What each read still to come does at the end: fired at once (the load ended: it is due), or cancelled (Ctrl-C). */
  readonly #pending: ((fire: boolean) => void)[] = [];

  private constructor(readonly nodes: number, readonly source: ServerCpu['source'], readonly read: CpuReader,
    readonly windows: readonly LoadWindow[]) {}

  /** Schedules the reads: `start` is the timeline's start (Unix ms), as the workers got it. */
  start(start: number): void {
    for (const w of this.windows.filter((x) => x.measured)) {
      for (const at of [w.fromMs, w.toMs]) {
        this.#reads.push(new Promise((resolve) => {
          let fired = false;
          const read = (): void => {
            fired = true;
            this.read().then(resolve, () => resolve(null));
          };
          const timer = setTimeout(read, Math.max(0, start + at - Date.now()));
          this.#pending.push((fire) => {
            if (fired) return;
            clearTimeout(timer);
            if (fire) read();
            else resolve(null);
          });
        }));
      }
    }
  }

  /**
   * A meter for a target, or null when its servers cannot tell their CPU (one read of every node, before the load).
   * `localPids`: the processes of the local topology the target runs on (read from /proc), if it is one.
   */
  static async open(target: ConnectedTarget, controls: RunControls, windows: readonly LoadWindow[],
    localPids?: () => readonly number[]): Promise<ServerCpuMeter | null> {
    try {
      let meter: ServerCpuMeter;
      if (localPids !== undefined && localPids().length > 0) {
        const read: CpuReader = async () => localPids().map((pid) => {
          const ms = cpuTimeMs(pid);
          if (ms === undefined) throw new Error(`process ${pid} is gone`);
          return ms / 1000;
        });
        meter = new ServerCpuMeter(localPids().length, '/proc', read, windows);
      } else if (target.config.protocol === 'memcache') {
        // A memcache proxy (twemproxy) does not forward `stats`; a pool's servers are read one by one.
        if (target.info.mode === 'proxy') return null;
        const servers = target.config.servers;
        meter = new ServerCpuMeter(servers.length, 'stats', () => Promise.all(servers.map((n) => memcachedCpuSeconds(n, controls))), windows);
      } else {
        if (target.info.mode === 'proxy') return null;
        const nodes = await serverNodes(target, controls);
        if (nodes.length === 0) return null;
        meter = new ServerCpuMeter(nodes.length, 'INFO cpu', () => Promise.all(nodes.map((n) => cpuSeconds(target, n.server, controls))), windows);
      }
      await meter.read();
      return meter;
    } catch (error: unknown) {
      void error; // no cost figure: the load itself does not need it
      return null;
    }
  }

  /**
   * Stops and sums, per node, the windows both ends of which were read. A window with a node that did not answer, or
   * whose CPU time went back (a restarted node), is left out, and the figure says how many were read of how many:
   * a cost per op is only given when every window was. `aborted`: reads still to come are cancelled, not made.
   */
  async finish(aborted = false): Promise<ServerCpu | null> {
    for (const settle of this.#pending) settle(!aborted);
    const reads = await Promise.all(this.#reads);
    let ms = 0;
    let windows = 0;
    for (let i = 0; i + 1 < reads.length; i += 2) {
      const from = reads[i];
      const to = reads[i + 1];
      if (from == null || to == null || from.length !== to.length) continue;
      const deltas = to.map((t, n) => t - (from[n] as number));
      if (deltas.some((d) => !(d >= 0))) continue;
      ms += deltas.reduce((a, b) => a + b, 0) * 1000;
      windows++;
    }
    if (windows === 0) return null;
    return { ms: Number(ms.toFixed(3)), nodes: this.nodes, windows, planned: reads.length / 2, source: this.source };
  }
}
