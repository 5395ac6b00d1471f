import { createRequire } from 'node:module';
import { Cluster, Command, Redis, type ClusterOptions } from 'ioredis';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import { displayAddress } from '../config/servers.js';
import {
  ClusterRedirectError, CommandReplyError, ConnectionLostError, isLostSocketError, OpTimeoutError, TargetUnreachableError, WaitShortfallError,
  waitTimeoutMs, type CacheClient, type CommandReply, type ConnectedTarget, type Driver, type TargetProbe,
} from './client.js';
import { CHECK_ADDRESS } from './diagnose.js';
import { dropCredentials, ioredisOptions, probeTarget, redactFor, targetInfo, unreachableError } from './probe.js';
import { tlsOptionsFor } from './tls.js';
import { withDeadline } from './deadline.js';
import { keySlot } from './cluster-nodes.js';

export { tlsOptionsFor, tlsServernameFor } from './tls.js';
export { parseInfo } from './probe.js';

const IOREDIS_VERSION = (createRequire(import.meta.url)('ioredis/package.json') as { version: string }).version;

/**
 * How long close() waits for QUIT's reply before it drops the connection. QUIT is a courtesy to a healthy
 * server (answered in about a round trip); a slow or dead one must not hold the process after its output.
 */
export const QUIT_WAIT_MS = 500;

/**
 * QUIT on a ready connection (waiting at most QUIT_WAIT_MS, or OP_TIMEOUT_MS if shorter), then drop it.
 * A lost connection gets no QUIT. Returns promptly and leaves no timer behind: the wait is cleared,
 * and disconnect() destroys the socket at once (disconnectTimeout: 0), which also rejects a pending QUIT
 * and so clears its command timer.
 */
async function closeQuietly(client: Redis | Cluster, opTimeoutMs: number): Promise<void> {
  closing.add(client);
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.min(opTimeoutMs, QUIT_WAIT_MS));
    });
    try {
      // quit rejects on a connection lost meanwhile; disconnect below still releases the socket.
      await Promise.race([client.quit().then(() => undefined, () => undefined), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
  client.disconnect();
}

/** Clients close() (or a failed connect) ended: followSentinels leaves them ended. */
const closing = new WeakSet<Redis | Cluster>();

/**
 * Keeps a Sentinel client reconnecting. ioredis's failover detector calls SentinelConnector.disconnect() on every
 * +switch-master (each sentinel publishes one, the late ones after the client already moved); when that lands while a
 * reconnect is asking the sentinels for the master (or waiting sentinelRetryStrategy's delay), SentinelConnector.connect
 * finds `connecting` false and throws "Connection is closed.", and Redis#connect then sets the status to 'end' with no
 * reconnect scheduled: every later op fails at once. So an 'end' we did not ask for is followed by a new connect().
 */
function followSentinels(redis: Redis): void {
  redis.on('end', () => {
    if (closing.has(redis)) return;
    setTimeout(() => {
      if (!closing.has(redis) && redis.status === 'end') redis.connect().catch(() => undefined);
    }, 100).unref();
  });
}

/**
 * ioredis messages (beginnings) that mean the connection behind an op is gone: the op was not sent,
 * or its reply will never come.
 */
const LOST_MESSAGES = [
  // Not connected (reconnecting, or closed) and no offline queue.
  "Stream isn't writeable",
  // The op waited while the connection closed.
  'Connection is closed',
  // MaxRetriesPerRequestError: the op was in flight when the connection dropped (maxRetriesPerRequest: 0).
  'Reached the max retries per request limit',
  // Cluster: not (or no longer) connected, no node answers, the slot map cannot be read.
  "Cluster isn't ready",
  'Cluster is disconnected',
  'None of startup nodes is available',
  'Failed to refresh slots cache',
];
/** ioredis error classes behind the messages above (matched by name too, should a message change). */
const LOST_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);

/**
 * Turns ioredis internals ("Stream isn't writeable and enableOfflineQueue options is false",
 * "Connection is closed.", "Reached the max retries per request limit ...", "Command timed out",
 * "Too many Cluster redirections ...") into short messages naming the server; other errors
 * (server replies such as OOM) pass unchanged. Messages are counted per distinct text, so no key in them.
 */
export function translateOpError(error: unknown, server: string, opTimeoutMs: number): unknown {
  if (!(error instanceof Error)) return error;
  if (error.message === 'Command timed out') return new OpTimeoutError(server, opTimeoutMs, { cause: error });
  if (error.message.startsWith('Too many Cluster redirections')) return new ClusterRedirectError(server, { cause: error });
  if (LOST_MESSAGES.some((m) => error.message.startsWith(m)) || LOST_NAMES.has(error.name) || isLostSocketError(error)) {
    return new ConnectionLostError(server, { cause: error });
  }
  return error;
}

/** The server an op on `key` goes to: the one server, or the cluster node serving the key's slot. */
function serverOf(redis: Redis | Cluster, key: string, fallback: string): string {
  if (!(redis instanceof Cluster)) return fallback;
  const nodeKey = redis.slots[keySlot(key)]?.[0];
  if (nodeKey === undefined) return fallback;
  const colon = nodeKey.lastIndexOf(':');
  return colon > 0 ? displayAddress(nodeKey.slice(0, colon), Number(nodeKey.slice(colon + 1))) : fallback;
}

/**
 * An ioredis reply as a CommandReply. The driver speaks RESP2 and asks for Buffers (replyEncoding null), so bulk and
 * simple strings arrive as Buffers, integers as numbers; a string (should a reply still be one) becomes its UTF-8 bytes.
 */
function ioredisReply(reply: unknown): CommandReply {
  if (reply === null || typeof reply === 'number' || Buffer.isBuffer(reply)) return reply;
  if (typeof reply === 'string') return Buffer.from(reply, 'utf8');
  if (Array.isArray(reply)) return reply.map(ioredisReply);
  // EXEC's replies hold the error of a command that failed inside the transaction.
  if (reply instanceof Error) throw new CommandReplyError(reply.message, { cause: reply });
  throw new TypeError(`a command answered a ${typeof reply} ioredis does not give in RESP2`);
}

/**
 * A command() as an ioredis Command, sent as callBuffer() sends it (replyEncoding null: Buffers) but built here, so that
 * - its name is upper case: ioredis looks up reply transformers by the lower-case name (`hgetall` becomes an object,
 *   `zrange … WITHSCORES` pairs under RESP3), and none must reshape what the server said;
 * - `readOnly` is the caller's (ioredis would only know it for lower-case names), so READ_FROM=replica sends reads to replicas;
 * - its slot is route.key's: ioredis would take the first key it finds by the command's key specs, the same slot for
 *   a command whose keys share one, but none for a command it does not know. `slot` is private in ioredis's types
 *   (Command.getSlot() returns it once set); the cluster follows MOVED/ASK from there as for get/set.
 */
function newCommand(args: readonly (string | Buffer)[], route: { readonly key: string; readonly readOnly: boolean }, cluster: boolean): Command {
  const [name, ...rest] = args;
  if (name === undefined) throw new TypeError('command() needs a command name');
  const command = new Command(name.toString().toUpperCase(), rest, { replyEncoding: null, readOnly: route.readOnly });
  if (cluster) (command as unknown as { slot: number }).slot = keySlot(route.key);
  return command;
}

/** Times a SET+WAIT pair is sent again after MOVED/ASK (with the slot map refreshed in between). */
const MAX_WAIT_REDIRECTS = 5;

function wrap(redis: Redis | Cluster, config: TargetConfig, controls: RunControls): CacheClient {
  const fallback = config.servers.map((s) => s.display).join(',');
  const waitFor = config.waitReplicas;
  const waitMs = waitTimeoutMs(controls.opTimeoutMs);
  const failed = (key: string) => (error: unknown): never => {
    throw translateOpError(error, serverOf(redis, key, fallback), controls.opTimeoutMs);
  };
  const bounded = controls.resilient === true
    ? <T>(op: Promise<T>, key: string): Promise<T> => withDeadline(op, controls.opTimeoutMs, () => new OpTimeoutError(serverOf(redis, key, fallback),
        controls.opTimeoutMs))
    : <T>(op: Promise<T>): Promise<T> => op;
  return {
    async set(key, value, ttlSeconds) {
      if (waitFor === 0) {
        await bounded(redis.set(key, value, 'EX', ttlSeconds), key).catch(failed(key));
        return;
      }
      // WAIT on the SET's own connection: a pipeline goes to the key's node (WAIT has no key of its own).
      let results: [Error | null, unknown][] | null = null;
      const giveUpAt = performance.now() + controls.opTimeoutMs;
      for (let attempt = 1; ; attempt++) {
        results = await bounded(redis.pipeline().set(key, value, 'EX', ttlSeconds).call('WAIT', waitFor, waitMs).exec(), key).catch(failed(key));
        if (!(redis instanceof Cluster)) break;
        // ioredis follows MOVED/ASK in a pipeline only when every command got it, and retries nothing else; WAIT has no
        // key and answers from the node it reached. So a stale slot map (after a failover or a slot migration) is
        // refreshed here and the pair sent again; in a fault run CLUSTERDOWN and TRYAGAIN are retried every 100 ms, as
        // the cluster client retries a single command, until the op's deadline.
        const message = results?.[0]?.[0]?.message ?? '';
        if (/^(MOVED|ASK) /.test(message) && attempt < MAX_WAIT_REDIRECTS && performance.now() < giveUpAt) {
          await new Promise<void>((resolve) => {
            redis.refreshSlotsCache(() => resolve());
          });
        } else if (controls.resilient === true && /^(CLUSTERDOWN|TRYAGAIN) /.test(message) && performance.now() + 100 < giveUpAt) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        } else break;
      }
      for (const [error] of results ?? []) if (error !== null) failed(key)(error);
      const acknowledged = Number(results?.[1]?.[1]);
      if (!(acknowledged >= waitFor)) throw new WaitShortfallError(serverOf(redis, key, fallback), acknowledged, waitFor, waitMs);
    },
    get: (key) => bounded(redis.getBuffer(key), key).catch(failed(key)),
    async del(key) {
      await bounded(redis.del(key), key).catch(failed(key));
    },
    async command(args, route) {
      const command = newCommand(args, route, redis instanceof Cluster);
      redis.sendCommand(command);
      const reply: unknown = await bounded(command.promise as Promise<unknown>, route.key).catch((error: unknown) => {
        const translated = translateOpError(error, serverOf(redis, route.key, fallback), controls.opTimeoutMs);
        // A server's error reply (redis-errors' ReplyError); MOVED/ASK the cluster followed never reach here.
        throw translated instanceof Error && translated.name === 'ReplyError' ? new CommandReplyError(translated.message, { cause: translated }) : translated;
      });
      return ioredisReply(reply);
    },
    async transaction(commands, route) {
      // ioredis's MULTI pipeline: MULTI, the commands and EXEC in one write to the node of their slot (a MOVED for the
      // whole transaction sends it all again there); each reply as its Command leaves it (Buffers, no transformer).
      const tx = redis.multi() as unknown as { sendCommand(c: Command): void; exec(): Promise<[Error | null, unknown][] | null> };
      for (const args of commands) tx.sendCommand(newCommand(args, { key: route.key, readOnly: false }, redis instanceof Cluster));
      const results = await bounded(tx.exec(), route.key).catch((error: unknown) => {
        const translated = translateOpError(error, serverOf(redis, route.key, fallback), controls.opTimeoutMs);
        throw translated instanceof Error && translated.name === 'ReplyError' ? new CommandReplyError(translated.message, { cause: translated }) : translated;
      });
      if (results === null) throw new CommandReplyError('EXEC answered nil (the transaction was not run)');
      return results.map(([error, reply]) => {
        if (error !== null) throw new CommandReplyError(error.message, { cause: error });
        return ioredisReply(reply);
      });
    },
    close: () => closeQuietly(redis, controls.opTimeoutMs),
  };
}

/**
 * Cluster options that check every node's certificate against its own host (or `<NAME>_TLS_SERVERNAME`).
 * ioredis gives every node `redisOptions.tls` as is, but a node's own options win (`defaults(node, redisOptions)`),
 * and startup nodes and `natMap` results keep extra fields: so each node gets its own `tls` there.

/** What probing a target's servers found; every driver connects from this. */
export function clusterTlsOptions(config: Pick<TargetConfig, 'tlsCa' | 'tlsServername'>): Pick<ClusterOptions, 'natMap' | 'dnsLookup'> {
  return {
    dnsLookup: (address, callback) => callback(null, address),
    natMap: (nodeKey) => {
      const colon = nodeKey.lastIndexOf(':');
      if (colon <= 0) return null;
      const host = nodeKey.slice(0, colon);
      const node = { host, port: Number(nodeKey.slice(colon + 1)), tls: tlsOptionsFor(config, host) };
      return node;
    },
  };
}

/**
 * A fault run's Cluster options: what an application would use to ride out a failover. Commands on a node whose
 * connection closed, CLUSTERDOWN and TRYAGAIN are retried every 100 ms with a slot refresh (ioredis's handleError),
 * MOVED/ASK are followed, and the number of retries is not what stops an op: OP_TIMEOUT_MS is (withDeadline). The
 * cluster keeps reconnecting (at most 1 s apart) and queues ops meanwhile.
 */
function resilientCluster(opTimeoutMs: number): Partial<ClusterOptions> {
  return {
    enableOfflineQueue: true,
    // Enough 100 ms retries to last the op's deadline (so a given-up op does not go on retrying long after it), plus ioredis's 16 redirections.
    maxRedirections: Math.ceil(opTimeoutMs / 100) + 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    clusterRetryStrategy: (times: number) => Math.min(100 * times, 1000),
  };
}

/** A fault run's standalone options: ioredis's application defaults (offline queue, 20 retries per op), reconnecting at most 1 s apart. */
const RESILIENT_STANDALONE = { enableOfflineQueue: true, maxRetriesPerRequest: 20 };

function retriesText(cluster: boolean, controls: RunControls): string {
  if (controls.resilient !== true) return 'none: an op fails at once when its connection is down (reconnects every ≤1 s)';
  const exact = controls.exactWrites === true;
  return cluster
    ? `failover-ready: ${exact ? 'no retry on closed connection (a WORKLOAD judges every write once), ' : 'retry on closed connection, '}CLUSTERDOWN and TRYAGAIN every 100 ms with slot refresh for as long as the op's deadline, follow MOVED/ASK, queue while reconnecting (every ≤1 s); each op bounded by OP_TIMEOUT_MS=${controls.opTimeoutMs}`
    : `failover-ready: queue while reconnecting (every ≤1 s), up to 20 retries per op${exact ? ', none resent after its connection closed (a WORKLOAD judges every write once)' : ''}; each op bounded by OP_TIMEOUT_MS=${controls.opTimeoutMs}`;
}

/** The ioredis driver: `Redis` for standalone servers, `Cluster` for Redis Cluster. */
export const ioredisDriver: Driver = {
  name: 'ioredis',
  version: IOREDIS_VERSION,
  async connect(config: TargetConfig, controls: RunControls, probe?: TargetProbe): Promise<ConnectedTarget> {
    const probed = probe ?? await probeTarget(config, controls);
    const { mode, first, passwordUnneeded } = probed;

    let redis: Redis | Cluster;
    let nodeError: { error: unknown; key: string } | undefined;
    if (mode === 'cluster') {
      // TLS options are set per node (startup nodes here, discovered nodes by natMap): a node's name is its own host.
      redis = new Cluster(config.servers.map((s) => ({ host: s.host, port: s.port, ...(config.tls ? { tls: tlsOptionsFor(config, s.host) } : {}) })), {
        redisOptions: ioredisOptions(config, first, controls, undefined, !passwordUnneeded),
        ...(config.tls ? clusterTlsOptions(config) : {}),
        lazyConnect: true,
        enableOfflineQueue: false,
        slotsRefreshTimeout: controls.connectTimeoutMs,
        // READ_FROM=replica: GETs go to a replica of the key's slot (READONLY is sent on those connections).
        ...(config.readFrom === 'replica' ? { scaleReads: 'slave' as const } : {}),
        // Do not keep retrying a dead cluster while an op waits: the op deadline decides.
        clusterRetryStrategy: (times) => (times > 3 ? null : 100 * times),
        ...(controls.resilient === true ? resilientCluster(controls.opTimeoutMs) : {}),
        // A WORKLOAD's fault run: no command resent after its node's connection closed (it may have run).
        ...(controls.exactWrites === true ? { retryDelayOnFailover: 0 } : {}),
      });
      redis.on('node error', (error: unknown, key: string) => {
        nodeError ??= { error, key };
      });
    } else if (mode === 'sentinel') {
      // ioredis asks the sentinels for the master (and checks its role), connects to it, and asks again whenever the
      // connection is lost; failoverDetector also watches the sentinels' +switch-master to move at once.
      redis = new Redis({
        ...ioredisOptions(config, first, controls, first.host, !passwordUnneeded),
        sentinels: config.servers.map((s) => ({ host: s.host, port: s.port })),
        name: config.sentinel?.master ?? '',
        role: 'master',
        ...(config.sentinel?.username !== undefined ? { sentinelUsername: config.sentinel.username } : {}),
        ...(config.sentinel?.password !== undefined ? { sentinelPassword: config.sentinel.password } : {}),
        sentinelCommandTimeout: controls.opTimeoutMs,
        sentinelRetryStrategy: (times) => Math.min(100 * times, 1000),
        failoverDetector: true,
        lazyConnect: true,
        retryStrategy: (times) => Math.min(100 * times, 1000),
        ...(controls.resilient === true ? RESILIENT_STANDALONE : {}),
        ...(controls.exactWrites === true ? { autoResendUnfulfilledCommands: false } : {}),
      });
    } else {
      redis = new Redis({
        ...ioredisOptions(config, first, controls, first.host, !passwordUnneeded),
        host: first.host,
        port: first.port,
        lazyConnect: true,
        retryStrategy: (times) => Math.min(100 * times, 1000),
        // The ready check sends INFO, which proxies do not support.
        enableReadyCheck: mode !== 'proxy',
        ...(controls.resilient === true ? RESILIENT_STANDALONE : {}),
        ...(controls.exactWrites === true ? { autoResendUnfulfilledCommands: false } : {}),
      });
    }
    redis.on('error', () => undefined); // op failures are counted where the op is awaited
    try {
      await redis.connect();
    } catch (error: unknown) {
      closing.add(redis);
      redis.disconnect();
      if (nodeError !== undefined) {
        const colon = nodeError.key.lastIndexOf(':');
        const node = config.servers.find((s) => `${s.host}:${s.port}` === nodeError?.key)
          ?? { host: nodeError.key.slice(0, colon), port: Number(nodeError.key.slice(colon + 1)), tls: config.tls,
            display: displayAddress(nodeError.key.slice(0, colon), Number(nodeError.key.slice(colon + 1))) };
        throw await unreachableError(config, node, nodeError.error, controls);
      }
      dropCredentials(error);
      const reason = redactFor(error instanceof Error ? error.message : String(error), config);
      throw new TargetUnreachableError(config.name, config.servers.map((s) => s.display).join(','), reason, CHECK_ADDRESS, { cause: error });
    }
    if (redis instanceof Redis && mode === 'sentinel') followSentinels(redis);
    return {
      config,
      client: wrap(redis, config, controls),
      info: { ...targetInfo(config, probed, 'ioredis', IOREDIS_VERSION), retries: retriesText(mode === 'cluster', controls) },
    };
  },
};
