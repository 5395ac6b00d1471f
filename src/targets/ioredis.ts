import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ConfigError } from '../config/errors.js';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import { displayAddress, type ServerAddress } from '../config/servers.js';
import {
  ConnectionLostError, OpTimeoutError, TargetMismatchError, TargetUnreachableError,
  type CacheClient, type ConnectedTarget, type Driver,
} from './client.js';
import { CHECK_ADDRESS, detectProtocol, diagnoseConnectError } from './diagnose.js';

const IOREDIS_VERSION = (createRequire(import.meta.url)('ioredis/package.json') as { version: string }).version;

/** Parses INFO output into a map of field -> value. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/**
 * The name a server's certificate is checked against (and sent as SNI): `<NAME>_TLS_SERVERNAME` when
 * set, else the server's own host. For an IP address it is undefined: Node then sends no SNI
 * (RFC 6066 forbids IP addresses there) and checks the IP against the certificate's IP SANs.
 */
export function tlsServernameFor(config: Pick<TargetConfig, 'tlsServername'>, host: string | undefined): string | undefined {
  if (config.tlsServername !== undefined) return config.tlsServername;
  return host !== undefined && isIP(host) === 0 ? host : undefined;
}

/**
 * Node TLS options for one server: the target's private CA (if any) and that server's name.
 * Without a host, only `<NAME>_TLS_SERVERNAME` (if set) is given: Node then checks each connection's own host.
 */
export function tlsOptionsFor(config: Pick<TargetConfig, 'tlsCa' | 'tlsServername'>, host: string | undefined): ConnectionOptions {
  const servername = tlsServernameFor(config, host);
  return {
    ...(config.tlsCa !== undefined ? { ca: config.tlsCa.pem } : {}),
    ...(servername !== undefined ? { servername } : {}),
  };
}

/**
 * Options shared by every connection of a target. `server` gives URL credentials and the TLS name;
 * for a cluster's shared `redisOptions` pass undefined for `tlsHost` (each node then gets its own, see clusterTlsOptions).
 */
function baseOptions(config: TargetConfig, server: ServerAddress, controls: RunControls, tlsHost: string | undefined = server.host): RedisOptions {
  const username = config.username ?? server.username;
  const password = config.password ?? server.password;
  return {
    // RESP2 on the wire: what proxies (twemproxy) understand, and one round trip less than HELLO 3.
    protocol: 2,
    // CLIENT SETINFO on connect would make a proxy (twemproxy) close the connection.
    disableClientInfo: true,
    connectTimeout: controls.connectTimeoutMs,
    commandTimeout: controls.opTimeoutMs,
    // A failed op is reported, not retried behind our back (retries would hide errors and skew timings).
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(config.tls ? { tls: tlsOptionsFor(config, tlsHost) } : {}),
  };
}

/** ioredis attaches the failed command to reply errors; AUTH and HELLO carry the password. */
function dropCredentials(error: unknown): void {
  const command = (error as { command?: { name?: unknown } } | null)?.command;
  if (typeof command?.name === 'string' && ['auth', 'hello'].includes(command.name.toLowerCase())) {
    delete (error as { command?: unknown }).command;
  }
}

/** Replaces any occurrence of the target's passwords in a server's message (belt and braces). */
function redactPasswords(text: string, config: TargetConfig): string {
  let out = text;
  for (const secret of [config.password, ...config.servers.map((s) => s.password)]) {
    if (secret !== undefined && secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}

/** Codes and messages after which it is worth asking whether the server speaks the other protocol. */
function mayBeProtocolMismatch(error: unknown, tls: boolean): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  if (tls) return code === 'ETIMEDOUT' || code === 'ECONNRESET' || message === 'Connection is closed.';
  return code === 'ECONNRESET' || code === 'EPIPE' || message === 'Connection is closed.';
}

/** Builds the TargetUnreachableError for a failed connection to one server, with the fix that applies. */
async function unreachable(config: TargetConfig, server: ServerAddress, error: unknown, controls: RunControls): Promise<TargetUnreachableError> {
  dropCredentials(error);
  const speaks = mayBeProtocolMismatch(error, config.tls)
    ? await detectProtocol(server, config.tls, Math.min(controls.connectTimeoutMs, 1000))
    : undefined;
  const { reason, fix } = diagnoseConnectError(error, server, config, speaks);
  return new TargetUnreachableError(config.name, server.display, redactPasswords(reason, config), fix, { cause: error });
}

interface Probe {
  readonly server: ServerAddress;
  readonly info: Map<string, string>;
  readonly clusterNodes?: string;
}

/**
 * Connects to one listed server alone, reads INFO (and CLUSTER NODES when cluster-enabled), disconnects.
 * In proxy mode only PING is sent: proxies such as twemproxy close the connection on INFO.
 */
async function probe(config: TargetConfig, server: ServerAddress, controls: RunControls): Promise<Probe> {
  const redis = new Redis({
    ...baseOptions(config, server, controls),
    host: server.host,
    port: server.port,
    lazyConnect: true,
    retryStrategy: () => null,
    enableReadyCheck: false,
  });
  // ioredis rejects connect() with a generic "Connection is closed."; the cause comes as an 'error' event.
  let socketError: Error | undefined;
  redis.on('error', (error: Error) => {
    socketError ??= error;
  });
  try {
    await redis.connect();
    if (config.mode === 'proxy') {
      const pong = await redis.ping();
      if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
      return { server, info: new Map() };
    }
    const info = parseInfo(await redis.info());
    let clusterNodes: string | undefined;
    if (info.get('cluster_enabled') === '1') {
      const state = parseInfo(String(await redis.call('CLUSTER', 'INFO'))).get('cluster_state');
      if (state !== 'ok') throw new Error(`cluster_state is ${state ?? 'unknown'}, not ok`);
      clusterNodes = String(await redis.call('CLUSTER', 'NODES'));
    }
    return { server, info, ...(clusterNodes !== undefined ? { clusterNodes } : {}) };
  } catch (error: unknown) {
    throw await unreachable(config, server, socketError ?? error, controls);
  } finally {
    redis.disconnect();
  }
}

function countClusterRoles(nodes: string): { primaries: number; replicas: number } {
  let primaries = 0;
  let replicas = 0;
  for (const line of nodes.split('\n')) {
    const flags = line.split(' ')[2] ?? '';
    if (flags.includes('fail') || flags.includes('noaddr')) continue;
    if (flags.includes('master')) {
      // A primary without slots is not serving data.
      if (line.trim().split(' ').length > 8) primaries++;
    } else if (flags.includes('slave')) replicas++;
  }
  return { primaries, replicas };
}

async function closeQuietly(client: Redis | Cluster, timeoutMs: number): Promise<void> {
  const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
  try {
    await Promise.race([client.quit().then(() => undefined), timer]);
  } catch (error: unknown) {
    // quit fails on a dead connection; disconnect below still releases the socket.
    void error;
  } finally {
    client.disconnect();
  }
}

/**
 * The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its {hash tag}, mod 16384.
 * Used only to name the node behind a failed op.
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key);
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc ^= (bytes[i] ?? 0) << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** ioredis messages (and socket codes) that mean the connection behind an op is gone. */
const LOST_MESSAGES = [
  "Stream isn't writeable",
  'Connection is closed',
  "Cluster isn't ready",
  'Failed to refresh slots cache',
  'None of startup nodes is available',
  'Too many Cluster redirections',
];
const LOST_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTCONN', 'ECONNABORTED']);

/**
 * Turns ioredis internals ("Stream isn't writeable and enableOfflineQueue options is false",
 * "Connection is closed.", "Command timed out") into short messages naming the server; other errors
 * (server replies such as OOM) pass unchanged. Messages are counted per distinct text, so no key in them.
 */
export function translateOpError(error: unknown, server: string, opTimeoutMs: number): unknown {
  if (!(error instanceof Error)) return error;
  if (error.message === 'Command timed out') return new OpTimeoutError(server, opTimeoutMs, { cause: error });
  const code = (error as { code?: unknown }).code;
  if (LOST_MESSAGES.some((m) => error.message.startsWith(m)) || (typeof code === 'string' && LOST_CODES.has(code)) || /^connect E[A-Z]+ /.test(error.message)) {
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

function wrap(redis: Redis | Cluster, config: TargetConfig, controls: RunControls): CacheClient {
  const fallback = config.servers.map((s) => s.display).join(',');
  const failed = (key: string) => (error: unknown): never => {
    throw translateOpError(error, serverOf(redis, key, fallback), controls.opTimeoutMs);
  };
  return {
    async set(key, value, ttlSeconds) {
      await redis.set(key, value, 'EX', ttlSeconds).catch(failed(key));
    },
    get: (key) => redis.getBuffer(key).catch(failed(key)),
    async del(key) {
      await redis.del(key).catch(failed(key));
    },
    close: () => closeQuietly(redis, controls.opTimeoutMs),
  };
}

/** Servers that answered in a way the target's configuration does not allow: exit 3, with the fix. */
function checkMode(config: TargetConfig, probes: readonly Probe[]): 'cluster' | 'standalone' | 'proxy' {
  const name = config.name;
  const clusterEnabled = probes.filter((p) => p.info.get('cluster_enabled') === '1');
  const notCluster = probes.find((p) => p.info.get('cluster_enabled') !== '1');
  if (config.mode === 'auto' && clusterEnabled.length > 0 && notCluster !== undefined) {
    throw new TargetMismatchError(name, notCluster.server.display, `it is a standalone server while ${clusterEnabled[0]?.server.display ?? 'another server'} of ${name}_SERVERS is a Redis Cluster node`,
      `list the servers of one deployment per target in ${name}_SERVERS`);
  }
  const mode = config.mode === 'auto' ? (clusterEnabled.length > 0 ? 'cluster' : 'standalone') : config.mode;
  if (mode === 'cluster' && notCluster !== undefined) {
    throw new TargetMismatchError(name, notCluster.server.display, `${name}_MODE=cluster but the server reports cluster_enabled:0`, `set ${name}_MODE=standalone or auto`);
  }
  const clusterNode = clusterEnabled[0];
  if (mode === 'standalone' && clusterNode !== undefined) {
    throw new TargetMismatchError(name, clusterNode.server.display, `${name}_MODE=standalone but the server is a Redis Cluster node (it would answer MOVED)`, `set ${name}_MODE=cluster or auto`);
  }
  if (mode !== 'cluster' && probes.length > 1) {
    throw new TargetMismatchError(name, probes.map((p) => p.server.display).join(','), `${name}_SERVERS lists ${probes.length} ${mode} servers; a ${mode} target is one server`,
      'list one server, or use a Redis Cluster or a proxy in front of them');
  }
  return mode;
}

/**
 * Cluster options that check every node's certificate against its own host (or `<NAME>_TLS_SERVERNAME`).
 * ioredis gives every node `redisOptions.tls` as is, but a node's own options win (`defaults(node, redisOptions)`),
 * and startup nodes and `natMap` results keep extra fields: so each node gets its own `tls` there.
 * Host names are not resolved to IPs first (identity `dnsLookup`), else a certificate naming the host fails.
 */
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

/** The ioredis driver: `Redis` for standalone servers, `Cluster` for Redis Cluster. */
export const ioredisDriver: Driver = {
  name: 'ioredis',
  version: IOREDIS_VERSION,
  async connect(config: TargetConfig, controls: RunControls): Promise<ConnectedTarget> {
    if ((config.mode === 'standalone' || config.mode === 'proxy') && config.servers.length > 1) {
      // Known before any traffic: a usage error (exit 2).
      throw new ConfigError(`${config.name}_SERVERS lists ${config.servers.length} servers but ${config.name}_MODE=${config.mode} is one server. ` +
        'Fix: list one server, or use a Redis Cluster or a proxy in front of them');
    }
    const first = config.servers[0];
    if (first === undefined) throw new ConfigError(`${config.name}_SERVERS is empty. Fix: list at least one server`);
    const probes = await Promise.all(config.servers.map((server) => probe(config, server, controls)));
    const mode = checkMode(config, probes);
    const firstProbe = probes[0];
    let roles = { primaries: mode === 'proxy' ? 0 : 1, replicas: Number(firstProbe?.info.get('connected_slaves') ?? 0) };
    if (mode === 'cluster' && firstProbe?.clusterNodes !== undefined) roles = countClusterRoles(firstProbe.clusterNodes);

    let redis: Redis | Cluster;
    let nodeError: { error: unknown; key: string } | undefined;
    if (mode === 'cluster') {
      // TLS options are set per node (startup nodes here, discovered nodes by natMap): a node's name is its own host.
      redis = new Cluster(config.servers.map((s) => ({ host: s.host, port: s.port, ...(config.tls ? { tls: tlsOptionsFor(config, s.host) } : {}) })), {
        redisOptions: baseOptions(config, first, controls, undefined),
        ...(config.tls ? clusterTlsOptions(config) : {}),
        lazyConnect: true,
        enableOfflineQueue: false,
        slotsRefreshTimeout: controls.connectTimeoutMs,
        // Do not keep retrying a dead cluster while an op waits: the op deadline decides.
        clusterRetryStrategy: (times) => (times > 3 ? null : 100 * times),
      });
      redis.on('node error', (error: unknown, key: string) => {
        nodeError ??= { error, key };
      });
    } else {
      redis = new Redis({
        ...baseOptions(config, first, controls),
        host: first.host,
        port: first.port,
        lazyConnect: true,
        retryStrategy: (times) => Math.min(100 * times, 1000),
        // The ready check sends INFO, which proxies do not support.
        enableReadyCheck: mode !== 'proxy',
      });
    }
    redis.on('error', () => undefined); // op failures are counted where the op is awaited
    try {
      await redis.connect();
    } catch (error: unknown) {
      redis.disconnect();
      if (nodeError !== undefined) {
        const colon = nodeError.key.lastIndexOf(':');
        const node = config.servers.find((s) => `${s.host}:${s.port}` === nodeError?.key)
          ?? { host: nodeError.key.slice(0, colon), port: Number(nodeError.key.slice(colon + 1)), tls: config.tls, display: displayAddress(nodeError.key.slice(0, colon), Number(nodeError.key.slice(colon + 1))) };
        throw await unreachable(config, node, nodeError.error, controls);
      }
      dropCredentials(error);
      const reason = redactPasswords(error instanceof Error ? error.message : String(error), config);
      throw new TargetUnreachableError(config.name, config.servers.map((s) => s.display).join(','), reason, CHECK_ADDRESS, { cause: error });
    }
    return {
      config,
      client: wrap(redis, config, controls),
      info: {
        mode,
        modeDetected: config.mode === 'auto',
        serverVersion: firstProbe?.info.get('redis_version') ?? (mode === 'proxy' ? 'unknown (proxy)' : 'unknown'),
        primaries: roles.primaries,
        replicas: roles.replicas,
        client: 'ioredis',
        clientVersion: IOREDIS_VERSION,
        servers: config.servers.map((s) => s.display),
        tls: config.tls,
      },
    };
  },
};
