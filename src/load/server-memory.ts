/**
 * What a KEYSPACE costs the servers in memory: their memory read before the preload and again halfway through the
 * target's last measured window (the preload long done, the clients' buffers steady, the clean-up not begun), over
 * the keys written. Every node of a cluster counts (replicas hold a copy of each key):
 * RESP servers from INFO memory (used_memory without the clients' buffers, mem_clients_normal and mem_clients_slaves:
 * the workers connect between the two reads, and their query buffers are not the keys'; Redis counts them on a timer,
 * which lags a preload's burst), memcached from `stats`
 * (bytes, the items' own), and a local topology whose servers
 * cannot be asked (a proxy) from /proc (VmRSS of its processes, the proxy's backends included). Targets that share
 * servers (client set-ups of one cluster) preload side by side: the growth is shared out over all their keys.
 */
import type { RunControls } from '../config/resolve.js';
import type { ServerAddress } from '../config/servers.js';
import { rssBytes } from '../local/procfs.js';
import { targetCommand } from '../targets/admin.js';
import type { ConnectedTarget } from '../targets/client.js';
import { MemcacheConnection } from '../targets/memcache-protocol.js';
import { parseInfo } from '../targets/probe.js';
import type { ServerMemory } from './record.js';
import { nodesOf } from './server-cpu.js';

/** Bytes the servers hold so far, every node (or local process) together. */
type MemoryReader = () => Promise<number>;

/** used_memory of one RESP node but its clients' buffers (INFO memory). */
async function usedMemory(target: ConnectedTarget, server: ServerAddress, controls: RunControls): Promise<number> {
  const info = parseInfo(String(await targetCommand(target.config, server, controls, 'INFO', 'memory')));
  const used = Number(info.get('used_memory'));
  if (!(used > 0)) throw new Error('no used_memory in INFO memory');
  const buffers = ['mem_clients_normal', 'mem_clients_slaves'].map((k) => Number(info.get(k) ?? 0)).filter((x) => x > 0);
  return used - buffers.reduce((a, b) => a + b, 0);
}

/** Bytes of items one memcached holds (`stats`: bytes), on a connection of its own. */
async function memcachedBytes(server: ServerAddress, controls: RunControls): Promise<number> {
  const connection = new MemcacheConnection({ host: server.host, port: server.port, display: server.display, connectTimeoutMs: controls.connectTimeoutMs,
    opTimeoutMs: controls.opTimeoutMs, maxValueBytes: 1024 });
  try {
    await connection.open();
    const bytes = Number((await connection.stats()).get('bytes'));
    if (!Number.isFinite(bytes)) throw new Error('no bytes in stats');
    return bytes;
  } finally {
    connection.close();
  }
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

export class ServerMemoryMeter {
  #after: Promise<number | null> | undefined;
  #timer: NodeJS.Timeout | undefined;

  private constructor(readonly read: MemoryReader, readonly before: number, readonly keys: number, readonly nodes: number,
    readonly source: ServerMemory['source']) {}

  /**
   * A meter for a target's KEYSPACE (read once now, before the preload), or null without one or when the servers do not
   * tell. `keys`: the keys written on its servers by every target that shares them, every shard's together.
   */
  static async open(target: ConnectedTarget, controls: RunControls, keys: number, localPids?: () => readonly number[]): Promise<ServerMemoryMeter | null> {
    if (keys <= 0) return null;
    try {
      let read: MemoryReader;
      let nodes: number;
      let source: ServerMemory['source'];
      if (target.info.mode !== 'proxy' && target.config.protocol === 'memcache') {
        const servers = target.config.servers;
        read = async () => sum(await Promise.all(servers.map((s) => memcachedBytes(s, controls))));
        nodes = servers.length;
        source = 'stats';
      } else if (target.info.mode !== 'proxy') {
        const list = await nodesOf(target, controls);
        if (list.length === 0) return null;
        read = async () => sum(await Promise.all(list.map((n) => usedMemory(target, n, controls))));
        nodes = list.length;
        source = 'INFO memory';
      } else if (localPids !== undefined && localPids().length > 0) {
        read = async () => sum(localPids().map((pid) => {
          const bytes = rssBytes(pid);
          if (bytes === undefined) throw new Error(`process ${pid} is gone`);
          return bytes;
        }));
        nodes = localPids().length;
        source = '/proc';
      } else {
        return null;
      }
      return new ServerMemoryMeter(read, await read(), keys, nodes, source);
    } catch (error: unknown) {
      void error; // no memory figure: the load itself does not need it
      return null;
    }
  }

  /** Schedules the second read: `start` is the timeline's start (Unix ms), `atMs` when in it (halfway through the last measured window). */
  start(start: number, atMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#after = this.read().catch(() => null);
    }, Math.max(0, start + atMs - Date.now()));
  }

  /** Bytes per key; null when the second read was not made (the load ended first) or failed, or the memory did not grow. */
  async finish(): Promise<ServerMemory | null> {
    clearTimeout(this.#timer);
    const after = await this.#after;
    if (after == null || !(after > this.before)) return null;
    return { bytesPerKey: Number(((after - this.before) / this.keys).toFixed(1)), keys: this.keys, nodes: this.nodes, source: this.source };
  }
}
