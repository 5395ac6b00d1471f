import { createRequire } from 'node:module';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from '../config/errors.js';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import type { ServerAddress } from '../config/servers.js';
import { TargetUnreachableError, type CacheClient, type ConnectedTarget, type Driver } from './client.js';

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

function baseOptions(config: TargetConfig, server: ServerAddress, controls: RunControls): RedisOptions {
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
    ...(config.tls ? { tls: { servername: server.host } } : {}),
  };
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
    const cause = socketError ?? error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new TargetUnreachableError(config.name, server.display, reason, { cause });
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

function wrap(redis: Redis | Cluster, closeTimeoutMs: number): CacheClient {
  return {
    async set(key, value, ttlSeconds) {
      await redis.set(key, value, 'EX', ttlSeconds);
    },
    get: (key) => redis.getBuffer(key),
    async del(key) {
      await redis.del(key);
    },
    close: () => closeQuietly(redis, closeTimeoutMs),
  };
}

/** The ioredis driver: `Redis` for standalone servers, `Cluster` for Redis Cluster. */
export const ioredisDriver: Driver = {
  name: 'ioredis',
  version: IOREDIS_VERSION,
  async connect(config: TargetConfig, controls: RunControls): Promise<ConnectedTarget> {
    const probes = await Promise.all(config.servers.map((server) => probe(config, server, controls)));
    const clusterEnabled = probes.filter((p) => p.info.get('cluster_enabled') === '1');
    if (config.mode === 'auto' && clusterEnabled.length > 0 && clusterEnabled.length < probes.length) {
      const odd = probes.find((p) => p.info.get('cluster_enabled') !== '1');
      throw new ConfigError(`${config.name}_SERVERS mixes cluster nodes and a standalone server (${odd?.server.display}). Fix: list servers of one deployment per target`);
    }
    const mode = config.mode === 'auto' ? (clusterEnabled.length > 0 ? 'cluster' : 'standalone') : config.mode;
    if (mode === 'cluster' && clusterEnabled.length < probes.length) {
      throw new ConfigError(`${config.name}_MODE=cluster but ${probes.find((p) => p.info.get('cluster_enabled') !== '1')?.server.display} reports cluster_enabled:0. Fix: set ${config.name}_MODE=standalone or auto`);
    }
    if (mode === 'standalone' && clusterEnabled.length > 0) {
      throw new ConfigError(`${config.name}_MODE=standalone but ${clusterEnabled[0]?.server.display} is a Redis Cluster node (it would answer MOVED). Fix: set ${config.name}_MODE=cluster or auto`);
    }
    if (mode !== 'cluster' && probes.length > 1) {
      throw new ConfigError(`${config.name}_SERVERS lists ${probes.length} ${mode} servers; a ${mode} target is one server. Fix: list one server, or use a Redis Cluster or a proxy in front of them`);
    }
    const first = probes[0];
    if (first === undefined) throw new ConfigError(`${config.name}_SERVERS is empty. Fix: list at least one server`);
    let roles = { primaries: mode === 'proxy' ? 0 : 1, replicas: Number(first.info.get('connected_slaves') ?? 0) };
    if (mode === 'cluster' && first.clusterNodes !== undefined) roles = countClusterRoles(first.clusterNodes);

    const server = first.server;
    let redis: Redis | Cluster;
    if (mode === 'cluster') {
      redis = new Cluster(config.servers.map((s) => ({ host: s.host, port: s.port })), {
        redisOptions: baseOptions(config, server, controls),
        lazyConnect: true,
        enableOfflineQueue: false,
        slotsRefreshTimeout: controls.connectTimeoutMs,
        // Do not keep retrying a dead cluster while an op waits: the op deadline decides.
        clusterRetryStrategy: (times) => (times > 3 ? null : 100 * times),
      });
    } else {
      redis = new Redis({
        ...baseOptions(config, server, controls),
        host: server.host,
        port: server.port,
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
      throw new TargetUnreachableError(config.name, config.servers.map((s) => s.display).join(','), error instanceof Error ? error.message : String(error), { cause: error });
    }
    return {
      config,
      client: wrap(redis, controls.opTimeoutMs),
      info: {
        mode,
        modeDetected: config.mode === 'auto',
        serverVersion: first.info.get('redis_version') ?? (mode === 'proxy' ? 'unknown (proxy)' : 'unknown'),
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
