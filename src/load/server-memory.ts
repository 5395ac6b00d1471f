/**
 * What a KEYSPACE costs the servers in memory: their memory and their key count read before the preload and again
 * halfway through the target's last measured window (the preload long done, the clients' buffers steady, the clean-up
 * not begun); the memory's growth over the keys' growth. Counting the keys the servers hold, not the keys cachebench
 * meant to write, keeps the figure right where the plan cannot know: targets that share servers (however they are
 * addressed), shards that preload on their own schedules, keys evicted by maxmemory or a full memcached.
 *
 * Every node of a cluster counts in the memory (replicas hold a copy of each key); keys are counted on primaries. RESP
 * servers answer INFO memory (used_memory without the clients' buffers, mem_clients_normal and mem_clients_slaves: the
 * workers connect between the two reads, and Redis counts their buffers on a timer that lags a preload's burst) and
 * INFO keyspace; memcached answers `stats` (bytes and curr_items, the items' own). A proxy answers neither: no figure.
 */
import type { RunControls } from '../config/resolve.js';
import type { ServerAddress } from '../config/servers.js';
import { targetCommand } from '../targets/admin.js';
import type { ConnectedTarget } from '../targets/client.js';
import { parseInfo } from '../targets/probe.js';
import type { ServerMemory } from './record.js';
import { memcachedStats, serverNodes } from './server-cpu.js';

/** Bytes the servers hold so far and the keys they hold, every node together. */
interface Holding {
  readonly bytes: number;
  readonly keys: number;
}

type HoldingReader = () => Promise<Holding>;

const sumOf = (xs: readonly Holding[]): Holding => ({ bytes: xs.reduce((n, x) => n + x.bytes, 0), keys: xs.reduce((n, x) => n + x.keys, 0) });

/** One RESP node's memory but its clients' buffers (INFO memory), and its keys when it is a primary (INFO keyspace, every db). */
async function respHolding(target: ConnectedTarget, server: ServerAddress, primary: boolean, controls: RunControls): Promise<Holding> {
  const memory = parseInfo(String(await targetCommand(target.config, server, controls, 'INFO', 'memory')));
  const used = Number(memory.get('used_memory'));
  if (!(used > 0)) throw new Error('no used_memory in INFO memory');
  const buffers = ['mem_clients_normal', 'mem_clients_slaves'].map((k) => Number(memory.get(k) ?? 0)).filter((x) => x > 0);
  let keys = 0;
  if (primary) {
    const keyspace = String(await targetCommand(target.config, server, controls, 'INFO', 'keyspace'));
    for (const m of keyspace.matchAll(/^db\d+:keys=(\d+)/gm)) keys += Number(m[1]);
  }
  return { bytes: used - buffers.reduce((a, b) => a + b, 0), keys };
}

/** Bytes and items one memcached holds (`stats`: bytes, curr_items). */
async function memcachedHolding(server: ServerAddress, controls: RunControls): Promise<Holding> {
  const stats = await memcachedStats(server, controls);
  const [bytes, keys] = [Number(stats.get('bytes')), Number(stats.get('curr_items'))];
  if (!Number.isFinite(bytes) || !Number.isFinite(keys)) throw new Error('no bytes/curr_items in stats');
  return { bytes, keys };
}

export class ServerMemoryMeter {
  #after: Promise<Holding | null> | undefined;
  #timer: NodeJS.Timeout | undefined;

  private constructor(readonly read: HoldingReader, readonly before: Holding, readonly nodes: number, readonly source: ServerMemory['source']) {}

  /** A meter for a target with a KEYSPACE (read once now, before the preload), or null without one or when its servers do not tell. */
  static async open(target: ConnectedTarget, controls: RunControls, keyspace: number): Promise<ServerMemoryMeter | null> {
    if (keyspace <= 0 || target.info.mode === 'proxy') return null;
    try {
      if (target.config.protocol === 'memcache') {
        const servers = target.config.servers;
        const read: HoldingReader = async () => sumOf(await Promise.all(servers.map((s) => memcachedHolding(s, controls))));
        return new ServerMemoryMeter(read, await read(), servers.length, 'stats');
      }
      const nodes = await serverNodes(target, controls);
      if (nodes.length === 0) return null;
      const read: HoldingReader = async () => sumOf(await Promise.all(nodes.map((n) => respHolding(target, n.server, n.primary, controls))));
      return new ServerMemoryMeter(read, await read(), nodes.length, 'INFO memory');
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

  /** Bytes per key; null when the second read was not made (the load ended first) or failed, or no key or byte was added. */
  async finish(): Promise<ServerMemory | null> {
    clearTimeout(this.#timer);
    const after = await this.#after;
    if (after == null) return null;
    const keys = after.keys - this.before.keys;
    const bytes = after.bytes - this.before.bytes;
    if (!(keys > 0) || !(bytes > 0)) return null;
    return { bytesPerKey: Number((bytes / keys).toFixed(1)), keys, nodes: this.nodes, source: this.source };
  }
}
