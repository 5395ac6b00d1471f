import { readFileSync } from 'node:fs';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import { displayAddress, type ServerAddress } from '../config/servers.js';
import {
  CommandReplyError, ConnectionLostError, OpTimeoutError, WaitShortfallError, waitTimeoutMs, type CacheClient, type CommandReply, type ConnectedTarget,
  type CommandRoute, type Driver, type TargetProbe,
} from './client.js';
import { withDeadline } from './deadline.js';
import { credentialsFor, probeTarget, targetInfo, unreachableError } from './probe.js';
import { RespAuthError, ownBuffer, type RespConnection } from './resp-connection.js';
import { RespRouter } from './resp-router.js';
import { WireError, type Wire } from './resp-wire.js';
import { tlsOptionsFor } from './tls.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The smallest reply limit: room for CLUSTER NODES of a large cluster; a run's largest value adds to it. */
const MIN_REPLY_BYTES = 16 * 1024 * 1024;
/** Longest server error text kept in an op's error (errors are counted per distinct message). */
const MAX_ERROR_TEXT = 200;
/** Pause between a fault run's retries of an op (ioredis's retryDelayOnFailover). */
const RETRY_MS = 100;
/** Error replies a fault run retries until the op's deadline, as cluster clients do during a failover. */
const RETRIED_REPLIES = /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN) /;

/** A server's error reply to an op (OOM, WRONGTYPE, NOAUTH, ...), its text bounded. */
export class RespReplyError extends Error {
  override readonly name = 'ReplyError';
  constructor(text: string) {
    super(text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text);
  }
}

/** A reply of a type the command never gets (out of step with the server, or not Redis). */
export class RespUnexpectedReplyError extends Error {
  override readonly name = 'RespUnexpectedReplyError';
}

function describe(reply: Wire): string {
  if (reply === null) return 'a null reply';
  if (Buffer.isBuffer(reply)) return `a bulk string of ${reply.length} bytes`;
  if (Array.isArray(reply)) return `an array of ${reply.length}`;
  return typeof reply === 'number' ? 'an integer' : 'a simple string';
}

function ok(command: string) {
  return (reply: Wire): void => {
    if (reply === 'OK') return;
    if (reply instanceof WireError) throw new RespReplyError(reply.message);
    throw new RespUnexpectedReplyError(`${command} answered ${describe(reply)}, not OK`);
  };
}

function bulk(reply: Wire): Buffer | null {
  if (reply === null || Buffer.isBuffer(reply)) return reply;
  if (reply instanceof WireError) throw new RespReplyError(reply.message);
  throw new RespUnexpectedReplyError(`GET answered ${describe(reply)}, not a bulk string`);
}

function integer(command: string) {
  return (reply: Wire): number => {
    if (typeof reply === 'number') return reply;
    if (reply instanceof WireError) throw new RespReplyError(reply.message);
    throw new RespUnexpectedReplyError(`${command} answered ${describe(reply)}, not an integer`);
  };
}

const isSet = ok('SET');
const isDel = integer('DEL');
const isWait = integer('WAIT');

/**
 * A command()'s reply as a CommandReply: simple strings (OK) as their UTF-8 bytes, the rest as read (the connection
 * hands out bulk strings of their own, see resp-connection.ts). An error reply, also one inside an array (EXEC's),
 * fails the op with the server's text.
 */
function commandReply(reply: Wire): CommandReply {
  if (reply === null || typeof reply === 'number' || Buffer.isBuffer(reply)) return reply;
  if (typeof reply === 'string') return Buffer.from(reply, 'utf8');
  if (reply instanceof WireError) throw new CommandReplyError(reply.message);
  return reply.map(commandReply);
}

/**
 * A fault run's ops: retried every RETRY_MS on a lost connection and on CLUSTERDOWN, TRYAGAIN, LOADING or MASTERDOWN,
 * with the cluster's slot map read again, until OP_TIMEOUT_MS, which bounds the whole op. `repliesOnly`: retried on
 * those replies only (the server did not run the command), not on a lost connection, after which a write (INCR, LPUSH)
 * may or may not have been applied: sent again it could apply twice, which a model of what was written cannot judge.
 */
function resilience(router: RespRouter, cluster: boolean, opTimeoutMs: number, server: (key: string) => string) {
  let refreshing: Promise<unknown> | undefined;
  let lastRefresh = 0;
  const refresh = (): Promise<unknown> => {
    if (!cluster) return Promise.resolve();
    if (refreshing === undefined && performance.now() - lastRefresh >= RETRY_MS) {
      refreshing = router.refresh().catch(() => false).finally(() => {
        refreshing = undefined;
        lastRefresh = performance.now();
      });
    }
    return refreshing ?? Promise.resolve();
  };
  return <T>(key: string, op: () => Promise<T>, repliesOnly = false): Promise<T> => withDeadline((async () => {
    const giveUpAt = performance.now() + opTimeoutMs;
    for (;;) {
      try {
        return await op();
      } catch (error: unknown) {
        const retried = (error instanceof ConnectionLostError && !repliesOnly)
          || ((error instanceof RespReplyError || error instanceof CommandReplyError) && RETRIED_REPLIES.test(error.message));
        if (!retried || performance.now() + RETRY_MS >= giveUpAt) throw error;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        await refresh();
      }
    }
  })(), opTimeoutMs, () => new OpTimeoutError(server(key), opTimeoutMs));
}

function respClient(router: RespRouter, config: TargetConfig, controls: RunControls, cluster: boolean): CacheClient {
  const waitFor = config.waitReplicas;
  const waitMs = waitTimeoutMs(controls.opTimeoutMs);
  const server = (key: string): string => router.connectionFor(key).server;
  const set = (key: string, value: Buffer, ttlSeconds: number): Promise<void> => {
    const command = ['SET', key, value, 'EX', ttlSeconds];
    if (waitFor === 0) return router.send(key, command).then(isSet);
    return router.sendPair(key, command, ['WAIT', waitFor, waitMs]).then(([reply, waited]) => {
      isSet(reply);
      const acknowledged = isWait(waited);
      if (!(acknowledged >= waitFor)) throw new WaitShortfallError(server(key), acknowledged, waitFor, waitMs);
    });
  };
  const get = (key: string): Promise<Buffer | null> => router.send(key, ['GET', key]).then(bulk);
  // The value is looked at where it lies in the read buffer; the router's result is null then, or an error reply. A
  // look that returns the value itself gets a copy (the read buffer is overwritten by the next read).
  const read = <T>(key: string, look: (value: Buffer | null) => T): Promise<T> => {
    let result: T;
    return router.send(key, ['GET', key], (reply) => {
      result = ownBuffer(look(bulk(reply)));
      return null;
    }).then((reply) => {
      if (reply !== null) bulk(reply);
      return result;
    });
  };
  const del = async (key: string): Promise<void> => {
    isDel(await router.send(key, ['DEL', key]));
  };
  // A WAIT's reply after a write: fewer replicas than asked fail the op.
  const waited = (reply: Wire | undefined, route: Omit<CommandRoute, 'readOnly'>): void => {
    const wait = route.wait as NonNullable<CommandRoute['wait']>;
    const acknowledged = isWait(reply ?? null);
    if (!(acknowledged >= wait.replicas)) throw new WaitShortfallError(server(route.key), acknowledged, wait.replicas, wait.timeoutMs);
  };
  const waitArgs = (route: Omit<CommandRoute, 'readOnly'>): (readonly (string | number)[])[] => (route.wait === undefined ? [] : [['WAIT', route.wait.replicas, route.wait.timeoutMs]]);
  // Any command: to the node serving route.key's slot (MOVED/ASK followed by the router), the reply as a CommandReply;
  // with route.wait, WAIT in the same write (the pair redirected together).
  const command = (args: readonly (string | Buffer)[], route: CommandRoute): Promise<CommandReply> => (route.wait === undefined
    ? router.send(route.key, args).then(commandReply)
    : router.sendGroup(route.key, [args, ...waitArgs(route)]).then(([reply, wait]) => {
        const out = commandReply(reply ?? null);
        waited(wait, route);
        return out;
      }));
  // MULTI, the commands, EXEC (and WAIT) in one write on route.key's node; an error reply to any of them (EXECABORT follows) fails it.
  const transaction = async (commands: readonly (readonly (string | Buffer)[])[], route: Omit<CommandRoute, 'readOnly'>): Promise<CommandReply[]> => {
    const replies = await router.sendGroup(route.key, [['MULTI'], ...commands, ['EXEC'], ...waitArgs(route)]);
    const execAt = commands.length + 1;
    for (const r of replies.slice(0, execAt)) if (r instanceof WireError) throw new CommandReplyError(r.message);
    const exec = commandReply(replies[execAt] ?? null);
    if (!Array.isArray(exec)) throw new RespUnexpectedReplyError(`EXEC answered ${describe(replies[execAt] ?? null)}, not an array`);
    if (route.wait !== undefined) waited(replies[execAt + 1], route);
    return exec;
  };
  const close = async (): Promise<void> => router.close();
  const wireBytes = (): number => router.wireBytes;
  if (controls.resilient !== true) return { set, get, read, del, command, transaction, close, wireBytes, waitsInline: true };
  const retrying = resilience(router, cluster, controls.opTimeoutMs, server);
  return {
    set: (key, value, ttl) => retrying(key, () => set(key, value, ttl)),
    get: (key) => retrying(key, () => get(key)),
    read: (key, look) => retrying(key, () => read(key, look)),
    del: (key) => retrying(key, () => del(key)),
    // A read is retried as get() is; a write only on a reply that says it did not run (see resilience).
    command: (args, route) => retrying(route.key, () => command(args, route), !route.readOnly),
    transaction: (commands, route) => retrying(route.key, () => transaction(commands, route), true),
    waitsInline: true,
    close,
    wireBytes,
  };
}

/** Opens `connections`; on the first failure closes all and throws the probe's diagnosis of that server. */
async function openAll(router: RespRouter, connections: readonly RespConnection[], config: TargetConfig, controls: RunControls): Promise<void> {
  const opened = await Promise.allSettled(connections.map((c) => c.open()));
  const failed = opened.findIndex((o) => o.status === 'rejected');
  if (failed < 0) return;
  router.close();
  const connection = connections[failed] as RespConnection;
  const reason = (opened[failed] as PromiseRejectedResult).reason as unknown;
  const listed = config.servers.find((s) => s.display === connection.server);
  const colon = connection.server.lastIndexOf(':');
  const host = connection.server.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(connection.server.slice(colon + 1));
  const server: ServerAddress = listed ?? { host, port, tls: config.tls, display: displayAddress(host, port) };
  const cause = reason instanceof RespAuthError ? Object.assign(new Error(reason.message), { name: 'ReplyError' }) : reason;
  throw await unreachableError(config, server, cause instanceof ConnectionLostError && cause.cause !== undefined ? cause.cause : cause, controls);
}

function retriesText(cluster: boolean, controls: RunControls): string {
  const bounded = `each op bounded by OP_TIMEOUT_MS=${controls.opTimeoutMs} (connecting and redirections included)`;
  if (controls.resilient !== true) {
    return `none: an op fails when its connection is lost, and the next op connects again${cluster ? '; MOVED/ASK followed (16 at most)' : ''}; ${bounded}`;
  }
  return `failover-ready: retry every 100 ms on a lost connection and on CLUSTERDOWN, TRYAGAIN, LOADING or MASTERDOWN${cluster ? ', the slot map read again before each retry, MOVED/ASK followed' : ''}; ${bounded}`;
}

/**
 * cachebench's own RESP client (`<NAME>_CLIENT=resp`): one connection per server (per cluster primary), RESP2,
 * commands of one event-loop turn in one write, one deadline timer per connection, replies verified where they lie.
 * See resp-connection.ts and resp-router.ts.
 */
export const respDriver: Driver = {
  name: 'resp',
  version: VERSION,
  async connect(config: TargetConfig, controls: RunControls, probe?: TargetProbe): Promise<ConnectedTarget> {
    const probed = probe ?? await probeTarget(config, controls);
    const cluster = probed.mode === 'cluster';
    const { username, password } = probed.passwordUnneeded ? {} : credentialsFor(config, probed.first);
    const router = new RespRouter({
      cluster,
      servers: cluster ? config.servers : [probed.first],
      connection: {
        connectTimeoutMs: controls.connectTimeoutMs, opTimeoutMs: controls.opTimeoutMs,
        maxReplyBytes: MIN_REPLY_BYTES + 2 * (controls.largestPayloadBytes ?? 0),
        ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}),
      },
      tlsFor: (host) => (config.tls ? tlsOptionsFor(config, host) : undefined),
    });
    let first: readonly RespConnection[] = router.connections.slice(0, 1);
    if (cluster) {
      const nodes = probed.probes.find((p) => p.clusterNodes !== undefined)?.clusterNodes;
      const primaries = nodes !== undefined ? router.learn(nodes) : [];
      first = primaries.length > 0 ? primaries : first;
    }
    await openAll(router, first, config, controls);
    return {
      config,
      client: respClient(router, config, controls, cluster),
      info: { ...targetInfo(config, probed, 'resp', VERSION), retries: retriesText(cluster, controls) },
    };
  },
};
