import { createRequire } from 'node:module';
import {
  BasicPooledClientSideCache, ClientClosedError, ClientOfflineError, ConnectionTimeoutError, DisconnectsClientError, ErrorReply,
  MaxCommandRedirectionsError, ReconnectStrategyError, RESP_TYPES, RootNodesUnavailableError, SocketClosedUnexpectedlyError,
  SocketTimeoutError, TimeoutError, createClient, createCluster, createSentinel, type RedisArgument, type TypeMapping,
} from '@redis/client';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import { displayAddress, type ServerAddress } from '../config/servers.js';
import {
  cachedClientName, ClusterRedirectError, CommandReplyError, ConnectionLostError, isLostSocketError, OpTimeoutError, WaitShortfallError, waitTimeoutMs,
  type CacheClient, type CacheCounters, type CacheFlushes, type FlushReason, type CommandReply, type ConnectedTarget, type Driver, type TargetProbe,
} from './client.js';
import { keySlot } from './cluster-nodes.js';
import { QUIT_WAIT_MS } from './ioredis.js';
import { credentialsFor, probeTarget, targetInfo, unreachableError } from './probe.js';
import { tlsOptionsFor } from './tls.js';
import { withDeadline } from './deadline.js';

/**
 * The node-redis driver (`<NAME>_CLIENT=node-redis`): `@redis/client`, the client of npm `redis`.
 * `createClient` for a standalone server or a proxy, `createCluster` for Redis Cluster; with `<NAME>_CACHE=tracking`
 * node-redis's own client-side cache (RESP3, CLIENT TRACKING) answers repeated GETs without a round trip.
 */

const NODE_REDIS_VERSION = (createRequire(import.meta.url)('@redis/client/package.json') as { version: string }).version;

/**
 * Bulk strings as Buffers, set at creation as the client's default: node-redis consults its client-side cache only
 * for a command whose type mapping is the client's own (`_executeCommand` in @redis/client/dist/lib/client/index.js),
 * so a `withTypeMapping` proxy would silently bypass the cache. A cluster gives it to every node client as well.
 */
const BUFFER_REPLIES = { [RESP_TYPES.BLOB_STRING]: Buffer };

/**
 * Default options of every command. `timeout: 0` turns off node-redis's own command timeout (5000 ms by default):
 * it only covers the time a command waits to be written (its timer is dropped once the command is on the socket),
 * costs an `AbortSignal.timeout` per command, and the driver's own deadline (withDeadline) covers the whole op.
 */
const COMMAND_OPTIONS = { typeMapping: BUFFER_REPLIES, timeout: 0 };

/**
 * command()'s options: every string type as bytes (bulk, simple such as OK, verbatim without its `txt:`), a RESP3 map
 * as node-redis's flat [key, value, …] array, a RESP3 set as an array. Raw sendCommand applies no reply transformer
 * (HGETALL stays the server's array) and never consults the client-side cache (only a command method's
 * `_executeCommand` does, in @redis/client/dist/lib/client/index.js), so it needs no type mapping of the cache's own.
 */
const COMMAND_REPLIES = {
  ...BUFFER_REPLIES, [RESP_TYPES.SIMPLE_STRING]: Buffer, [RESP_TYPES.VERBATIM_STRING]: Buffer, [RESP_TYPES.MAP]: Array, [RESP_TYPES.SET]: Array,
} as TypeMapping;
const RAW_COMMAND_OPTIONS = { typeMapping: COMMAND_REPLIES, timeout: 0 };

/**
 * A node-redis reply (under COMMAND_REPLIES) as a CommandReply: RESP3 booleans as 1/0 (what RESP2 sends), big numbers
 * as numbers; an error inside an array (EXEC's) fails the op with the server's text.
 */
function nodeRedisReply(reply: unknown): CommandReply {
  if (reply === null || typeof reply === 'number' || Buffer.isBuffer(reply)) return reply;
  if (Array.isArray(reply)) return reply.map(nodeRedisReply);
  if (typeof reply === 'boolean') return reply ? 1 : 0;
  if (typeof reply === 'bigint') return Number(reply);
  if (typeof reply === 'string') return Buffer.from(reply, 'utf8');
  if (reply instanceof Uint8Array) return Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
  if (reply instanceof ErrorReply) throw new CommandReplyError(reply.message, { cause: reply });
  throw new TypeError(`a command answered a ${typeof reply} node-redis should not give under its type mapping`);
}

/** Reconnect waits, after the connection was up once: 100, 200, ... ms, at most RECONNECT_MAX_MS. */
const RECONNECT_STEP_MS = 100;
/**
 * The longest wait between reconnect attempts. node-redis waits with an un-cancellable (ref'd) timer, so this is also
 * how long a client that was reconnecting when closed can keep the process alive.
 */
const RECONNECT_MAX_MS = 500;

/** node-redis errors of a connection that is gone (the op was not sent, or its reply will never come). */
const LOST_CLASSES = [
  ClientClosedError, ClientOfflineError, SocketClosedUnexpectedlyError, DisconnectsClientError, ConnectionTimeoutError,
  SocketTimeoutError, RootNodesUnavailableError, ReconnectStrategyError,
];

/**
 * Turns node-redis internals ("The client is offline", "Socket closed unexpectedly", "Too many Cluster redirections",
 * ...) into the shared short messages naming the server; server replies (OOM, WRONGPASS, ...) pass unchanged.
 * Messages are counted per distinct text, so no key in them.
 */
export function translateNodeRedisError(error: unknown, server: string, opTimeoutMs: number): unknown {
  if (!(error instanceof Error)) return error;
  if (error instanceof OpTimeoutError || error instanceof ConnectionLostError || error instanceof ClusterRedirectError) return error;
  if (error instanceof TimeoutError) return new OpTimeoutError(server, opTimeoutMs, { cause: error });
  // An ASK to a node the cluster does not know even after rediscovery: slots are moving.
  if (error instanceof MaxCommandRedirectionsError || error.message.startsWith('Cannot find node ')) return new ClusterRedirectError(server, { cause: error });
  if (LOST_CLASSES.some((c) => error instanceof c) || isLostSocketError(error)) {
    return new ConnectionLostError(server, { cause: error });
  }
  return error;
}

/**
 * node-redis's client-side cache with counters that last as long as the client: node-redis resets its statistics
 * whenever it empties the cache (on a connection error, on every cluster topology discovery, on close), and counts
 * entries dropped by a flush invalidation as evictions. One class serves both: a cluster needs a pooled cache (one
 * cache shared by every node client, so these counters cover all nodes); a standalone client uses it like a
 * BasicClientSideCache (enable/disable, the pooled additions, are only called by a cluster).
 */
/** Flushes kept (the most recent), with their count in all. */
const MAX_FLUSH_RECORDS = 1000;

class CountingCache extends BasicPooledClientSideCache {
  #carried = { hits: 0, misses: 0, evictions: 0 };
  #flushed = 0;
  #invalidations = 0;
  /**
   * When the cache was emptied while it held entries (a connection failed or closed, which is also how a Sentinel
   * master switch reaches it; a cluster read its slot map again; the server said to drop everything), the most recent
   * MAX_FLUSH_RECORDS. Private:
   * node-redis's Sentinel JSON-serializes its node options, this cache among them, and bigints do not serialize.
   */
  readonly #flushes: { ns: bigint; reason: FlushReason }[] = [];
  #flushTotal = 0;
  /**
   * Why the next clear() happens: onError/onClose (a connection) and invalidate(null) (the server) say so; the other
   * caller, while the client runs, is the cluster's #discover (the slot map read again).
   */
  #reason: FlushReason = 'slots';

  constructor(maxEntries: number) {
    super({ maxEntries });
    // Emitted once per invalidated key, or once (key null) for a flush.
    this.on('invalidate', () => {
      this.#invalidations++;
    });
  }

  /** Keeps the counters of a cache that node-redis empties with its statistics. */
  override clear(resetStats = true): void {
    // Emptying an empty cache (each failed reconnect attempt does) is not a flush.
    if (this.size() > 0) {
      this.#flushTotal++;
      this.#flushes.push({ ns: process.hrtime.bigint(), reason: this.#reason });
      if (this.#flushes.length > MAX_FLUSH_RECORDS) this.#flushes.shift();
    }
    this.#reason = 'slots';
    if (resetStats) {
      const s = this.stats();
      this.#carried = { hits: this.#carried.hits + s.hitCount, misses: this.#carried.misses + s.missCount,
        evictions: this.#carried.evictions + s.evictionCount };
    }
    super.clear(resetStats);
  }

  /** A flush (key null) drops every entry; node-redis counts them as evictions, here they are invalidated entries. */
  override invalidate(key: RedisArgument | null): void {
    if (key === null) {
      this.#flushed += this.size();
      this.#reason = 'server';
    }
    super.invalidate(key); // a null key clears (and clear() sets the reason back)
  }

  /** A lost connection may have missed invalidations: the entries go (as in node-redis), the counters stay. */
  override onError(): void {
    this.#reason = 'connection';
    this.clear();
  }

  override onClose(): void {
    this.#reason = 'connection';
    this.clear();
  }

  flushes(): CacheFlushes {
    return { total: this.#flushTotal, recent: this.#flushes };
  }

  counters(): CacheCounters {
    const s = this.stats();
    const hits = this.#carried.hits + s.hitCount;
    const misses = this.#carried.misses + s.missCount;
    return { lookups: hits + misses, hits, misses, invalidations: this.#invalidations, evictions: this.#carried.evictions + s.evictionCount - this.#flushed };
  }
}

/** Turns a GET reply into bytes: a Buffer as is; a cached reply (a structuredClone, so a Uint8Array) as a view, no copy. */
function asBuffer(reply: unknown): Buffer | null {
  if (reply === null || Buffer.isBuffer(reply)) return reply;
  if (reply instanceof Uint8Array) return Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
  throw new TypeError(`GET answered a ${typeof reply}, not bytes`);
}

/** The commands the driver sends, as node-redis's client and cluster both offer them (their generic types differ). */
interface Commands {
  set(key: string, value: Buffer, options: { expiration: { type: 'EX'; value: number } }): Promise<unknown>;
  get(key: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

type StandaloneClient = ReturnType<typeof newClient>;
type ClusterClient = ReturnType<typeof newCluster>;
type SentinelClient = ReturnType<typeof newSentinel>;
type Connection = { readonly kind: 'standalone'; readonly client: StandaloneClient } | { readonly kind: 'cluster'; readonly client: ClusterClient }
  | { readonly kind: 'sentinel'; readonly client: SentinelClient };

/**
 * Closes every ready connection gracefully (waiting at most QUIT_WAIT_MS, or OP_TIMEOUT_MS if shorter), then destroys
 * them all. Never throws, leaves no timer or socket behind.
 *
 * close(), not QUIT: node-redis's close() waits for the replies still due and then closes the socket, which Redis
 * takes as a clean goodbye (QUIT is deprecated since Redis 7.2). QUIT would hold every close for the whole wait
 * against twemproxy, which closes the connection on QUIT without replying, while node-redis waits for a reply.
 * The wait is cleared; destroy() closes every socket at once and rejects whatever is still pending (the replies of
 * a frozen server). A cluster's node clients are closed one by one, then the cluster is destroyed (node-redis's
 * cluster close() forgets the node clients before they have closed, so they could not be destroyed after the wait).
 */
async function closeQuietly(connection: Connection, opTimeoutMs: number): Promise<void> {
  if (connection.kind === 'sentinel') {
    // The sentinel object's close() closes its master and sentinel clients; destroy() ends whatever is left at once.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([connection.client.close().catch(() => undefined), new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.min(opTimeoutMs, QUIT_WAIT_MS));
    })]);
    clearTimeout(timer);
    await connection.client.destroy().catch(() => undefined);
    return;
  }
  const nodes = connection.kind === 'standalone'
    ? [connection.client]
    : [...connection.client.masters, ...connection.client.replicas].flatMap((n) => (n.client !== undefined ? [n.client] : []));
  const ready = nodes.filter((c) => c.isReady);
  if (ready.length > 0) {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.min(opTimeoutMs, QUIT_WAIT_MS));
    });
    try {
      // close() rejects on a client closed meanwhile; destroy() below still releases the socket.
      await Promise.race([Promise.allSettled(ready.map(async (c) => c.close())), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
  // Also safe on a client that gave up reconnecting: node-redis's destroy() is idempotent.
  connection.client.destroy();
}

/** The server an op on `key` goes to: the one server, or the primary serving the key's slot (for errors only). */
function serverOf(connection: Connection, key: string, fallback: string): string {
  if (connection.kind === 'standalone') return fallback;
  if (connection.kind === 'sentinel') {
    const master = connection.client.getMasterNode();
    return master !== undefined ? displayAddress(master.host, master.port) : fallback;
  }
  const master = connection.client.slots[keySlot(key)]?.master;
  return master !== undefined ? displayAddress(master.host, master.port) : fallback;
}

function wrap(connection: Connection, cache: CountingCache | undefined, config: TargetConfig, controls: RunControls): CacheClient {
  const commands = connection.client as unknown as Commands;
  const fallback = config.servers.map((s) => s.display).join(',');
  const ms = controls.opTimeoutMs;
  const failed = (key: string) => (error: unknown): never => {
    throw translateNodeRedisError(error, serverOf(connection, key, fallback), ms);
  };
  const late = (key: string) => (): Error => new OpTimeoutError(serverOf(connection, key, fallback), ms);
  const waitFor = config.waitReplicas;
  const waitMs = waitTimeoutMs(ms);
  const waitArgs = ['WAIT', String(waitFor), String(waitMs)];
  // In a cluster, the key's own node client: the cluster's sendCommand would apply WAIT's request policy
  // (all_shards) and wait on every primary.
  // Sentinel: its one master client (masterPoolSize 1) took the SET.
  const waitCommand = async (key: string): Promise<unknown> => (connection.kind === 'cluster'
    ? (await connection.client.getNodeClientForKey(key, false)).sendCommand(waitArgs)
    : connection.kind === 'sentinel' ? connection.client.sendCommand(false, waitArgs) : connection.client.sendCommand(waitArgs));
  return {
    async set(key, value, ttlSeconds) {
      const written = commands.set(key, value, { expiration: { type: 'EX', value: ttlSeconds } });
      if (waitFor === 0) {
        await withDeadline(written, ms, late(key)).catch(failed(key));
        return;
      }
      // WAIT on the SET's own connection (a cluster has one client per node), one deadline for both.
      const acknowledged = await withDeadline(written.then(() => waitCommand(key)), ms, late(key)).catch(failed(key));
      if (!(Number(acknowledged) >= waitFor)) throw new WaitShortfallError(serverOf(connection, key, fallback), Number(acknowledged), waitFor, waitMs);
    },
    get: (key) => withDeadline(commands.get(key), ms, late(key)).then(asBuffer, failed(key)),
    async del(key) {
      await withDeadline(commands.del(key), ms, late(key)).catch(failed(key));
    },
    async command(args, route) {
      // A cluster routes by firstKey (route.key's slot: the primary, or with READ_FROM=replica, for a read, the slot's
      // primary and replicas in turn) and follows MOVED/ASK (16 at most), as for get/set.
      // WAIT goes to route.key's node client: the cluster's sendCommand would apply WAIT's request policy (all_shards).
      const wait = connection.kind === 'cluster' && String(args[0]).toUpperCase() === 'WAIT';
      const sent: Promise<unknown> = connection.kind === 'cluster'
        ? (wait ? connection.client.getNodeClientForKey(route.key, false).then((node) => node.sendCommand([...args], RAW_COMMAND_OPTIONS))
            : connection.client.sendCommand(route.key, route.readOnly, [...args], RAW_COMMAND_OPTIONS))
        : connection.kind === 'sentinel' ? connection.client.sendCommand(false, [...args], RAW_COMMAND_OPTIONS) : connection.client.sendCommand(args, RAW_COMMAND_OPTIONS);
      const reply = await withDeadline(sent, ms, late(route.key)).catch((error: unknown) => {
        const translated = translateNodeRedisError(error, serverOf(connection, route.key, fallback), ms);
        throw translated instanceof ErrorReply ? new CommandReplyError(translated.message, { cause: translated }) : translated;
      });
      return nodeRedisReply(reply);
    },
    async transaction(commands, route) {
      // MULTI, the commands and EXEC queued on one node client in one go, as node-redis's own MULTI does (one chain),
      // but each with command()'s type mapping: node-redis's MULTI reads EXEC's reply with none (bulk strings as text).
      const chainId = Symbol('cachebench MULTI');
      const sent = (async () => {
        if (connection.kind === 'sentinel') {
          // A leased master client: the transaction's commands on one connection, nobody else's in between.
          const lease = await connection.client.acquire();
          try {
            const replies = [['MULTI'], ...commands, ['EXEC']].map((args) => lease.sendCommand(false, [...args], { ...RAW_COMMAND_OPTIONS, chainId }));
            return (await Promise.all(replies)).at(-1);
          } finally {
            void lease.release();
          }
        }
        const client = connection.kind === 'cluster' ? await connection.client.getNodeClientForKey(route.key) : connection.client;
        const replies = [['MULTI'], ...commands, ['EXEC']].map((args) => client.sendCommand([...args], { ...RAW_COMMAND_OPTIONS, chainId }));
        return (await Promise.all(replies)).at(-1);
      })();
      const reply = await withDeadline(sent, ms, late(route.key)).catch((error: unknown) => {
        const translated = translateNodeRedisError(error, serverOf(connection, route.key, fallback), ms);
        throw translated instanceof ErrorReply ? new CommandReplyError(translated.message, { cause: translated }) : translated;
      });
      const exec = nodeRedisReply(reply);
      if (!Array.isArray(exec)) throw new CommandReplyError(`EXEC answered ${exec === null ? 'nil' : typeof exec} (the transaction was not run)`);
      return exec;
    },
    close: () => closeQuietly(connection, ms),
    ...(cache !== undefined ? { cacheCounters: () => Promise.resolve(cache.counters()), cacheFlushes: () => cache.flushes() } : {}),
  };
}

/** node-redis's reconnectStrategy: the wait before reconnect attempt `retries`, or false to give up. */
type Reconnect = (retries: number) => number | false;

/** Socket options of one server: deadline, reconnects, TLS (checked against `tlsHost`, see tlsOptionsFor). */
function socketOptions(config: TargetConfig, controls: RunControls, tlsHost: string | undefined, reconnect: Reconnect) {
  return {
    connectTimeout: controls.connectTimeoutMs,
    reconnectStrategy: reconnect,
    ...(config.tls ? { tls: true as const, ...tlsOptionsFor(config, tlsHost) } : {}),
  };
}

/** Options every connection of a target shares (a cluster's node clients get them as `defaults`). */
function clientOptions(config: TargetConfig, server: ServerAddress, login: boolean, resp: 2 | 3, controls: RunControls) {
  const resilient = controls.resilient === true;
  const name = cachedClientName(config, controls);
  const { username, password } = login ? credentialsFor(config, server) : {};
  return {
    // RESP2 without a cache: what proxies (twemproxy) understand, and no HELLO round trip. RESP3 for the cache.
    RESP: resp,
    // CLIENT SETINFO on connect would make a proxy (twemproxy) close the connection.
    disableClientInfo: true,
    // No CLIENT MAINT_NOTIFICATIONS (Redis Enterprise only; a proxy would close the connection).
    maintNotifications: 'disabled' as const,
    // A failed op is reported, not queued until a reconnect (which would hide the failure and skew timings); a fault
    // run queues, as an application would, bounded by the op deadline.
    disableOfflineQueue: !resilient,
    // A cached client's connections in a partition-client run carry a name (CLIENT SETNAME at connect), by which the fault finds them.
    ...(name !== undefined ? { name } : {}),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}

/** A standalone server's or a proxy's client. */
function newClient(config: TargetConfig, controls: RunControls, server: ServerAddress, login: boolean, cache: CountingCache | undefined, reconnect: Reconnect) {
  return createClient({
    ...clientOptions(config, server, login, cache !== undefined ? 3 : 2, controls),
    commandOptions: COMMAND_OPTIONS,
    socket: { host: server.host, port: server.port, ...socketOptions(config, controls, server.host, reconnect) },
    ...(cache !== undefined ? { clientSideCache: cache } : {}),
  });
}

/**
 * A Redis Cluster's client. node-redis creates one client per node, from `defaults` (not from `rootNodes`, which only
 * serve to discover the cluster), all sharing the one cache: so the cache's counters cover every node.
 */
function newCluster(config: TargetConfig, controls: RunControls, first: ServerAddress, login: boolean, cache: CountingCache | undefined, reconnect: Reconnect) {
  const resp = cache !== undefined ? 3 : 2;
  // Node clients need the cluster's command options as their own default: a node client consults the cache only for
  // a command whose type mapping is its default one, and the cluster passes its own. node-redis's types leave
  // commandOptions out of `defaults`, but every node client is created from the defaults spread into its options
  // (#clientOptionsDefaults in cluster-slots.js); without them the cache would never be used in a cluster.
  const nodeCommandOptions = { commandOptions: COMMAND_OPTIONS };
  return createCluster({
    // TLS options per startup node: a node's certificate is checked against its own host; discovered nodes get
    // `defaults.socket`, whose TLS name is only <NAME>_TLS_SERVERNAME (Node then checks each node's own host).
    rootNodes: config.servers.map((s) => ({ socket: { host: s.host, port: s.port, ...socketOptions(config, controls, s.host, reconnect) } })),
    defaults: { ...clientOptions(config, first, login, resp, controls), ...nodeCommandOptions, socket: socketOptions(config, controls,
      undefined, reconnect) },
    RESP: resp,
    // The cluster's own command options: the same type mapping object as the node clients' (see BUFFER_REPLIES).
    commandOptions: COMMAND_OPTIONS,
    // READ_FROM=replica: node-redis connects to the replicas too (READONLY) and sends each read-only command to
    // the slot's primary and replicas in turn (getSlotRandomNode in cluster-slots.js); it has no replicas-only mode.
    ...(config.readFrom === 'replica' ? { useReplicas: true } : {}),
    ...(cache !== undefined ? { clientSideCache: cache } : {}),
  });
}

/**
 * A Redis Sentinel deployment's client: node-redis asks the sentinels for the master, connects one client to it
 * (masterPoolSize 1: a SET and its WAIT share a connection), and follows a failover the sentinels announce.
 */
function newSentinel(config: TargetConfig, controls: RunControls, first: ServerAddress, login: boolean, cache: CountingCache | undefined,
  reconnect: Reconnect) {
  const s = config.sentinel;
  const resp = cache !== undefined ? 3 : 2;
  return createSentinel({
    name: s?.master ?? '',
    sentinelRootNodes: config.servers.map((x) => ({ host: x.host, port: x.port })),
    nodeClientOptions: {
      ...clientOptions(config, first, login, resp, controls), socket: socketOptions(config, controls, undefined, reconnect),
      // With the cache, as a cluster's node clients (newCluster; left out of node-redis's types here too): the master
      // client consults the cache only for a command under its default type mapping, or the cache is never used.
      // Without the cache, the master client's options are node-redis's own, as before the cache came to Sentinel.
      ...(cache !== undefined ? { commandOptions: COMMAND_OPTIONS } : {}),
    },
    sentinelClientOptions: {
      disableClientInfo: true, socket: { connectTimeout: controls.connectTimeoutMs, reconnectStrategy: reconnect },
      ...(s?.username !== undefined ? { username: s.username } : {}), ...(s?.password !== undefined ? { password: s.password } : {}),
    },
    masterPoolSize: 1,
    RESP: resp,
    ...(cache !== undefined ? { clientSideCache: cache } : {}),
    commandOptions: COMMAND_OPTIONS,
  });
}

/**
 * Connects a cluster and every node it serves from. node-redis's cluster connect() can succeed with nodes it could
 * not connect to: when the nodes found through one startup node fail, it tries the next startup node, which finds
 * the same nodes already known and connects none of them (#discover and #initiateSlotNode in cluster-slots.js). Asking
 * for each node's client connects the missing ones now, while a failure still rejects at once (no reconnects yet).
 */
async function connectEveryNode(cluster: ClusterClient): Promise<void> {
  await cluster.connect();
  await Promise.all([...cluster.masters, ...cluster.replicas].map((node) => cluster.nodeClient(node)));
}

/** The node-redis driver: `createClient` for standalone servers and proxies, `createCluster` for Redis Cluster. */
export const nodeRedisDriver: Driver = {
  name: 'node-redis',
  version: NODE_REDIS_VERSION,
  async connect(config: TargetConfig, controls: RunControls, probe?: TargetProbe): Promise<ConnectedTarget> {
    const probed = probe ?? await probeTarget(config, controls);
    const { mode, first, passwordUnneeded, warnings } = probed;
    const tracking = config.cache === 'tracking';
    const cache = tracking ? new CountingCache(config.cacheEntries) : undefined;
    // No reconnect while connecting (a failure is reported at once); afterwards, reconnect with short, bounded waits.
    let connected = false;
    const reconnect: Reconnect = (retries) => (connected ? Math.min(RECONNECT_STEP_MS * Math.max(retries, 1), RECONNECT_MAX_MS) : false);

    let connection: Connection;
    let nodeError: { error: unknown; host: string; port: number } | undefined;
    let clusterError: unknown;
    // Connecting sends commands (AUTH/HELLO, CLIENT TRACKING, CLUSTER SLOTS, READONLY) node-redis gives no deadline.
    let connectMs = controls.connectTimeoutMs + controls.opTimeoutMs;
    if (mode === 'cluster') {
      const client = newCluster(config, controls, first, !passwordUnneeded, cache, reconnect);
      client.on('error', (error: unknown) => {
        clusterError ??= error;
      });
      client.on('node-error', (error: unknown, node: { host?: string; port?: number }) => {
        if (node.host !== undefined && node.port !== undefined) nodeError ??= { error, host: node.host, port: node.port };
      });
      connection = { kind: 'cluster', client };
      // Startup node, CLUSTER SLOTS, then every node in parallel.
      connectMs += controls.connectTimeoutMs;
    } else if (mode === 'sentinel') {
      const client = newSentinel(config, controls, first, !passwordUnneeded, cache, reconnect);
      client.on('error', () => undefined); // op failures are counted where the op is awaited
      connection = { kind: 'sentinel', client };
      // A sentinel, then the master it names.
      connectMs += controls.connectTimeoutMs;
    } else {
      const client = newClient(config, controls, first, !passwordUnneeded, cache, reconnect);
      client.on('error', () => undefined); // op failures are counted where the op is awaited
      connection = { kind: 'standalone', client };
    }
    try {
      const opening: Promise<unknown> = connection.kind === 'cluster' ? connectEveryNode(connection.client) : connection.client.connect();
      await withDeadline(opening, connectMs, () => new Error(`not connected within ${connectMs} ms`));
      connected = true;
    } catch (error: unknown) {
      void connection.client.destroy();
      if (connection.kind !== 'cluster') throw await unreachableError(config, first, error, controls);
      if (nodeError !== undefined) {
        const { host, port } = nodeError;
        const node = config.servers.find((s) => s.host === host && s.port === port) ?? { host, port, tls: config.tls, display: displayAddress(host, port) };
        throw await unreachableError(config, node, nodeError.error, controls);
      }
      // The startup nodes are tried in a random order and the failure does not say which one failed: name them all.
      throw await unreachableError(config, { ...first, display: config.servers.map((s) => s.display).join(',') }, clusterError ?? error, controls);
    }
    return {
      config,
      client: wrap(connection, cache, config, controls),
      info: {
        ...targetInfo(config, probed, 'node-redis', NODE_REDIS_VERSION, warnings),
        retries: controls.resilient === true
          ? `failover-ready: queue while reconnecting (every ≤${RECONNECT_MAX_MS} ms); node-redis's defaults for the slot map: rediscovered on MOVED/ASK (16 redirections) and after 5 s of failed reconnects to a node (topologyRefreshOnReconnectionAttempt); each op bounded by OP_TIMEOUT_MS=${controls.opTimeoutMs}`
          : `none: an op fails at once when its connection is down (reconnects every ≤${RECONNECT_MAX_MS} ms)`,
      },
    };
  },
};
