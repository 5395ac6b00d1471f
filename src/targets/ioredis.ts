import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { redactSecrets, registerSecret } from '../config/redact.js';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import { displayAddress, type ServerAddress } from '../config/servers.js';
import {
  ClusterRedirectError, ConnectionLostError, OpTimeoutError, TargetMismatchError, TargetUnreachableError,
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

/** The user name and password a connection to `server` logs in with: `<NAME>_USERNAME`/`<NAME>_PASSWORD`, else the URL's. */
function credentialsFor(config: TargetConfig, server: ServerAddress): { username?: string; password?: string } {
  const username = config.username ?? server.username;
  const password = config.password ?? server.password;
  return { ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

/** Where the password for `server` comes from, for the fix of a refused login (see diagnose.ts). */
function passwordFrom(config: TargetConfig, server: ServerAddress): 'option' | 'url' | undefined {
  if (config.password !== undefined) return 'option';
  return (server.password ?? config.servers[0]?.password) !== undefined ? 'url' : undefined;
}

/**
 * How long close() waits for QUIT's reply before it drops the connection. QUIT is a courtesy to a healthy
 * server (answered in about a round trip); a slow or dead one must not hold the process after its output.
 */
export const QUIT_WAIT_MS = 500;

/**
 * Options shared by every connection of a target. `server` gives URL credentials and the TLS name;
 * for a cluster's shared `redisOptions` pass undefined for `tlsHost` (each node then gets its own, see clusterTlsOptions).
 * `login: false` leaves the credentials out (the probe sends AUTH itself; see probe()).
 */
function baseOptions(config: TargetConfig, server: ServerAddress, controls: RunControls, tlsHost: string | undefined = server.host, login = true): RedisOptions {
  const { username, password } = login ? credentialsFor(config, server) : {};
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
    // disconnect() ends the socket and destroys it if the server has not closed it after this long; ioredis's
    // default (2000 ms) timer keeps the process alive after a slow or dead server's run. Nothing is lost:
    // disconnect() is called only once QUIT was answered or given up on.
    disconnectTimeout: 0,
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

/**
 * A server's or ioredis's message with credentials masked by the central redactor. The target's passwords are
 * registered first: configuration does so too, but a driver may be used without it (API, tests).
 */
function redact(text: string, config: TargetConfig): string {
  for (const secret of [config.password, ...config.servers.map((s) => s.password)]) registerSecret(secret);
  return redactSecrets(text);
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
  const from = passwordFrom(config, server);
  const { reason, fix } = diagnoseConnectError(error, server, { ...config, ...(from !== undefined ? { passwordFrom: from } : {}) }, speaks);
  return new TargetUnreachableError(config.name, server.display, redact(reason, config), fix, { cause: error });
}

interface Probe {
  readonly server: ServerAddress;
  readonly info: Map<string, string>;
  readonly clusterNodes?: string;
  /** A password was given but the server has none (AUTH answered "no password is set" or similar). */
  readonly passwordUnneeded?: boolean;
}

/** AUTH replies that mean the server has no password to check (Redis, and twemproxy without redis_auth). */
const NO_PASSWORD_SET = /no password is set|without any password configured/i;

/**
 * Logs in with the target's credentials, if any. Sent here rather than by ioredis on connect: ioredis answers
 * "no password is set" with a console.warn of its own; here it becomes `passwordUnneeded` (a warning in the
 * target's info), and the measured connection then leaves the password out.
 */
async function login(redis: Redis, config: TargetConfig, server: ServerAddress): Promise<boolean> {
  const { username, password } = credentialsFor(config, server);
  if (password === undefined) return false;
  try {
    await (username !== undefined ? redis.call('AUTH', username, password) : redis.call('AUTH', password));
    return false;
  } catch (error: unknown) {
    if (username === undefined && error instanceof Error && NO_PASSWORD_SET.test(error.message)) return true;
    throw error;
  }
}

/**
 * Connects to one listed server alone, logs in, reads INFO (and CLUSTER NODES when cluster-enabled), disconnects.
 * In proxy mode only PING is sent: proxies such as twemproxy close the connection on INFO.
 */
async function probe(config: TargetConfig, server: ServerAddress, controls: RunControls): Promise<Probe> {
  const redis = new Redis({
    ...baseOptions(config, server, controls, server.host, false),
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
    const passwordUnneeded = await login(redis, config, server);
    const unneeded = passwordUnneeded ? { passwordUnneeded } : {};
    if (config.mode === 'proxy') {
      const pong = await redis.ping();
      if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
      return { server, info: new Map(), ...unneeded };
    }
    const info = parseInfo(await redis.info());
    let clusterNodes: string | undefined;
    if (info.get('cluster_enabled') === '1') {
      const state = parseInfo(String(await redis.call('CLUSTER', 'INFO'))).get('cluster_state');
      if (state !== 'ok') throw new Error(`cluster_state is ${state ?? 'unknown'}, not ok`);
      clusterNodes = String(await redis.call('CLUSTER', 'NODES'));
    }
    return { server, info, ...(clusterNodes !== undefined ? { clusterNodes } : {}), ...unneeded };
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

/**
 * QUIT on a ready connection (waiting at most QUIT_WAIT_MS, or OP_TIMEOUT_MS if shorter), then drop it.
 * A lost connection gets no QUIT. Returns promptly and leaves no timer behind: the wait is cleared,
 * and disconnect() destroys the socket at once (disconnectTimeout: 0), which also rejects a pending QUIT
 * and so clears its command timer.
 */
async function closeQuietly(client: Redis | Cluster, opTimeoutMs: number): Promise<void> {
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
/** Socket and stream codes of a lost connection. */
const LOST_CODES = new Set([
  'ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTCONN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN',
  'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END',
]);

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
  const code = (error as { code?: unknown }).code;
  if (LOST_MESSAGES.some((m) => error.message.startsWith(m)) || LOST_NAMES.has(error.name)
    || (typeof code === 'string' && LOST_CODES.has(code)) || /^(connect|read|write) E[A-Z]+\b/.test(error.message)) {
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
      `list one server in ${name}_SERVERS and give each other server a target of its own (<OTHER>_SERVERS=host:port)`);
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
    // Both are rejected by configuration validation (exit 2, before any traffic); checked here again, before
    // this target is probed, for callers that skip validation. Never a ConfigError: other targets may have been probed.
    const name = config.name;
    if ((config.mode === 'standalone' || config.mode === 'proxy') && config.servers.length > 1) {
      throw new TargetMismatchError(name, config.servers.map((s) => s.display).join(','), `${name}_MODE=${config.mode} takes one server but ${name}_SERVERS lists ${config.servers.length}`,
        `list one server in ${name}_SERVERS and give each other server a target of its own, or set ${name}_MODE=cluster (or auto) for a Redis Cluster`);
    }
    const first = config.servers[0];
    if (first === undefined) throw new TargetMismatchError(name, '(none)', `${name}_SERVERS lists no server`, `list at least one server in ${name}_SERVERS`);
    const probes = await Promise.all(config.servers.map((server) => probe(config, server, controls)));
    const mode = checkMode(config, probes);
    // A password the servers do not need is not sent (ioredis would print its own warning); the user is told instead.
    const passwordUnneeded = probes.every((p) => p.passwordUnneeded === true);
    const warnings = passwordUnneeded
      ? [config.password !== undefined
        ? `target ${name}: ${name}_PASSWORD is set but ${probes.map((p) => p.server.display).join(',')} requires no password, so none was sent (unset ${name}_PASSWORD)`
        : `target ${name}: the URL in ${name}_SERVERS holds a password but ${probes.map((p) => p.server.display).join(',')} requires none, so none was sent (drop it from the URL)`]
      : [];
    const firstProbe = probes[0];
    let roles = { primaries: mode === 'proxy' ? 0 : 1, replicas: Number(firstProbe?.info.get('connected_slaves') ?? 0) };
    if (mode === 'cluster' && firstProbe?.clusterNodes !== undefined) roles = countClusterRoles(firstProbe.clusterNodes);

    let redis: Redis | Cluster;
    let nodeError: { error: unknown; key: string } | undefined;
    if (mode === 'cluster') {
      // TLS options are set per node (startup nodes here, discovered nodes by natMap): a node's name is its own host.
      redis = new Cluster(config.servers.map((s) => ({ host: s.host, port: s.port, ...(config.tls ? { tls: tlsOptionsFor(config, s.host) } : {}) })), {
        redisOptions: baseOptions(config, first, controls, undefined, !passwordUnneeded),
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
        ...baseOptions(config, first, controls, first.host, !passwordUnneeded),
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
      const reason = redact(error instanceof Error ? error.message : String(error), config);
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
        ...(warnings.length > 0 ? { warnings } : {}),
      },
    };
  },
};
