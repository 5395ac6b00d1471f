import type { ConnectionOptions } from 'node:tls';
import { displayAddress, type ServerAddress } from '../config/servers.js';
import { ClusterRedirectError, ConnectionLostError } from './client.js';
import { keySlot, parseClusterNodes } from './cluster-nodes.js';
import { RespConnection, type Look, type RespConnectionOptions } from './resp-connection.js';
import { WireError, type Wire } from './resp-wire.js';

/**
 * Where each command of cachebench's own RESP client goes: the one server (standalone, or a proxy that routes by
 * itself), or, on a Redis Cluster, the primary serving the key's slot. The slot map starts from the probe's CLUSTER
 * NODES; a MOVED moves one slot to the node it names (as the cluster specification asks of a client) and the command
 * is sent there; an ASK sends ASKING and the command to the importing node without touching the map. At most
 * MAX_REDIRECTIONS hops per op, then ClusterRedirectError.
 */

/** Redirections one op may follow (ioredis's and node-redis's default). */
export const MAX_REDIRECTIONS = 16;
const SLOTS = 16384;
/** Nodes a router connects to at most: a cluster's replies (MOVED, CLUSTER NODES) cannot make it open more. */
export const MAX_NODES = 1000;

type Args = readonly (string | number | Buffer)[];

export interface RouterOptions {
  readonly cluster: boolean;
  /** The listed servers (the first is the standalone server or proxy; a cluster's startup nodes). */
  readonly servers: readonly ServerAddress[];
  /** Connection options but the address: deadlines, credentials, reply limit. */
  readonly connection: Omit<RespConnectionOptions, 'host' | 'port' | 'display' | 'tls'>;
  /** TLS options for a server's host, or undefined without TLS. */
  readonly tlsFor: (host: string) => ConnectionOptions | undefined;
}

/** Where a MOVED or ASK sends an op. */
export interface Redirect { readonly ask: boolean; readonly slot: number; readonly host: string; readonly port: number }

/** A host a redirection may name: an IPv4 or IPv6 address or a DNS name (at most 253 characters); '' is the replying node's own host. */
const REDIRECT_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|[0-9A-Fa-f:.]{2,45})?$/;

/**
 * `MOVED 3999 127.0.0.1:6381` / `ASK 3999 [::1]:6381`: the slot and the node, or undefined for any other reply (an
 * endpoint `?`, unknown to the node, or a host that is not an address or a name, is not followed: the op fails with
 * the reply). An empty host means the replying node's own (the cluster specification's `cluster-preferred-endpoint-type
 * unknown-endpoint`).
 */
export function redirectOf(reply: WireError, from: string): Redirect | undefined {
  const m = /^(MOVED|ASK) (\d{1,5}) (\S{0,260}):(\d{1,5})$/.exec(reply.message);
  if (m === null) return undefined;
  const slot = Number(m[2]);
  const port = Number(m[4]);
  const named = (m[3] as string).replace(/^\[(.*)\]$/, '$1');
  if (!(slot < SLOTS) || !(port > 0 && port < 65536) || !REDIRECT_HOST.test(named)) return undefined;
  return { ask: m[1] === 'ASK', slot, host: named === '' ? from : named, port };
}

/** The host a connection's server is named by (`[::1]:6379` → `::1`). */
function hostOf(connection: RespConnection): string {
  const colon = connection.server.lastIndexOf(':');
  return connection.server.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
}

export class RespRouter {
  readonly #options: RouterOptions;
  readonly #nodes: RespConnection[] = [];
  readonly #byAddress = new Map<string, number>();
  /** Node index + 1 serving each slot; 0: unknown (the first listed node is asked, and its MOVED teaches). */
  readonly #slots = new Uint16Array(SLOTS);
  #moved = 0;
  #ask = 0;

  constructor(options: RouterOptions) {
    this.#options = options;
    for (const s of options.servers) this.#node(s.host, s.port, s.display);
  }

  /** MOVED and ASK replies followed since connecting. */
  get redirections(): { readonly moved: number; readonly ask: number } {
    return { moved: this.#moved, ask: this.#ask };
  }

  /** Bytes on the wire so far, every node's connection together. */
  get wireBytes(): number {
    return this.#nodes.reduce((n, c) => n + c.wireBytes, 0);
  }

  /** The connections, one per node (the listed servers first). */
  get connections(): readonly RespConnection[] {
    return this.#nodes;
  }

  /** Takes the slot map from CLUSTER NODES text: each slot to its primary (failing nodes left out). Returns the primaries' connections. */
  learn(clusterNodes: string): RespConnection[] {
    const primaries: RespConnection[] = [];
    for (const n of parseClusterNodes(clusterNodes)) {
      if (!n.primary || n.failing || n.slots.length === 0 || n.host === '' || !(n.port > 0 && n.port < 65536)) continue;
      // Past MAX_NODES a node's slots stay unknown (its MOVED then fails the op): a reply cannot open more connections.
      if (this.#nodes.length >= MAX_NODES && !this.#byAddress.has(`${n.host}:${n.port}`)) break;
      const index = this.#node(n.host, n.port, displayAddress(n.host, n.port));
      primaries.push(this.#nodes[index] as RespConnection);
      for (const [a, b] of n.slots) this.#slots.fill(index + 1, a, Math.min(b, SLOTS - 1) + 1);
    }
    return primaries;
  }

  /** The connection a command on `key` goes to first. */
  connectionFor(key: string): RespConnection {
    if (!this.#options.cluster) return this.#nodes[0] as RespConnection;
    const index = this.#slots[keySlot(key)] as number;
    return this.#nodes[index === 0 ? 0 : index - 1] as RespConnection;
  }

  /**
   * Sends a command on `key` and follows MOVED/ASK; resolves with the final reply (an error reply as WireError). The
   * op's one deadline (OP_TIMEOUT_MS from now) bounds every hop. With `look`: what look returned for the final reply
   * that is not an error (see RespConnection.send).
   */
  send(key: string, args: Args, look?: Look): Promise<Wire> {
    const connection = this.connectionFor(key);
    const deadline = performance.now() + this.#options.connection.opTimeoutMs;
    if (!this.#options.cluster) return connection.send(args, deadline, look);
    return connection.send(args, deadline, look)
      .then((reply) => (reply instanceof WireError ? this.#follow(reply, key, args, 0, connection, deadline, look) : reply));
  }

  /** Sends `args` then `next` on the connection of `key`'s slot, following MOVED/ASK for the pair; both replies. */
  async sendPair(key: string, args: Args, next: Args): Promise<readonly [Wire, Wire]> {
    const [a, b] = await this.sendGroup(key, [args, next]);
    return [a as Wire, b as Wire];
  }

  /**
   * Sends `commands` in one write on the connection of `key`'s slot, nothing between them (a transaction: MULTI … EXEC),
   * and the whole group again where a reply redirects it: MOVED, or ASK with ASKING first (the server keeps its flag for
   * a whole MULTI … EXEC); every reply.
   */
  async sendGroup(key: string, commands: readonly Args[]): Promise<Wire[]> {
    let connection = this.connectionFor(key);
    const deadline = performance.now() + this.#options.connection.opTimeoutMs;
    for (let hop = 0; ; hop++) {
      const replies = await connection.sendAll(commands, deadline);
      const redirects = this.#options.cluster ? replies.map((r) => (r instanceof WireError ? redirectOf(r, hostOf(connection)) : undefined)) : [];
      const redirect = redirects.find((r) => r !== undefined);
      if (redirect === undefined) return replies;
      if (hop >= MAX_REDIRECTIONS) throw new ClusterRedirectError(connection.server);
      connection = this.#redirected(redirect, key);
      // ASKING first, in the same write; its own failure shows in the group's.
      if (redirect.ask) void connection.send(['ASKING'], deadline).catch(() => undefined);
    }
  }

  async #follow(reply: WireError, key: string, args: Args, hops: number, from: RespConnection, deadline: number, look: Look | undefined): Promise<Wire> {
    const redirect = redirectOf(reply, hostOf(from));
    if (redirect === undefined) return reply;
    if (hops >= MAX_REDIRECTIONS) throw new ClusterRedirectError(from.server);
    const connection = this.#redirected(redirect, key);
    // ASKING and the command go out in the same write, in this order, on the importing node's connection.
    const asking = redirect.ask ? connection.send(['ASKING'], deadline).catch(() => undefined) : undefined;
    const next = await connection.send(args, deadline, look);
    await asking;
    return next instanceof WireError ? this.#follow(next, key, args, hops + 1, connection, deadline, look) : next;
  }

  /** The connection a redirection names; a MOVED for the key's own slot also moves that slot in the map. */
  #redirected(redirect: Redirect, key: string): RespConnection {
    const index = this.#node(redirect.host, redirect.port, displayAddress(redirect.host, redirect.port));
    if (redirect.ask) this.#ask++;
    else {
      this.#moved++;
      if (redirect.slot === keySlot(key)) this.#slots[redirect.slot] = index + 1;
    }
    return this.#nodes[index] as RespConnection;
  }

  /** Asks the nodes in turn for CLUSTER NODES and learns the slot map from the first that answers; false when none did. */
  async refresh(): Promise<boolean> {
    for (const node of [...this.#nodes]) {
      try {
        const reply = await node.send(['CLUSTER', 'NODES']);
        if (Buffer.isBuffer(reply)) {
          this.learn(reply.toString('utf8'));
          return true;
        }
      } catch (error: unknown) {
        if (!(error instanceof ConnectionLostError) && !(error instanceof Error && error.name === 'OpTimeoutError')) throw error;
      }
    }
    return false;
  }

  close(): void {
    for (const c of this.#nodes) c.close();
  }

  /** The index of the node at host:port, its connection made (not opened) the first time. */
  #node(host: string, port: number, display: string): number {
    const key = `${host}:${port}`;
    const known = this.#byAddress.get(key);
    if (known !== undefined) return known;
    if (this.#nodes.length >= MAX_NODES) throw new ClusterRedirectError(display);
    const tls = this.#options.tlsFor(host);
    this.#nodes.push(new RespConnection({ ...this.#options.connection, host, port, display, ...(tls !== undefined ? { tls } : {}) }));
    this.#byAddress.set(key, this.#nodes.length - 1);
    return this.#nodes.length - 1;
  }
}
