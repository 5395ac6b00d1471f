import { Redis, type RedisOptions } from 'ioredis';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import type { ServerAddress } from '../config/servers.js';
import { parseClusterNodes, type ClusterNode } from './cluster-nodes.js';
import { ioredisOptions } from './probe.js';

/**
 * One admin command on a fresh connection of its own (no retries, no ready check), closed at once: for our own local
 * servers (`adminCommand`) and for a target's servers, logged in as the target is (`targetCommand`). The reply is
 * returned as parsed (arrays stay arrays); any failure rejects.
 */
export async function adminCall(options: RedisOptions & { readonly host: string; readonly port: number }, ...args: string[]): Promise<unknown> {
  // disconnectTimeout: ioredis half-closes the socket and keeps a timer (2 s by default) until it closes, which held
  // `cachebench up` open for 2 s after it was done.
  const redis = new Redis({ ...options, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableReadyCheck: false,
    disconnectTimeout: 100 });
  redis.on('error', () => undefined); // the command's own rejection reports it
  try {
    await redis.connect();
    const [command, ...rest] = args;
    return await redis.call(command as string, ...rest);
  } finally {
    redis.disconnect();
  }
}

/** Where a local server listens: a port on 127.0.0.1, or an address and port (a server in a network namespace). */
export type LocalEndpoint = number | { readonly host: string; readonly port: number };

/** One command to a local server cachebench started (no login), its reply as parsed. */
export async function localCall(at: LocalEndpoint, ...args: string[]): Promise<unknown> {
  const [host, port] = typeof at === 'number' ? ['127.0.0.1', at] : [at.host, at.port];
  return await adminCall({ host, port, connectTimeout: 1000, commandTimeout: 2000, protocol: 2, disableClientInfo: true }, ...args);
}

/** localCall, its reply as text. */
export async function adminCommand(at: LocalEndpoint, ...args: string[]): Promise<string> {
  return String(await localCall(at, ...args));
}

/** One command to one of a target's servers, logged in (and over TLS) as the target's connections are. */
export async function targetCommand(config: TargetConfig, server: ServerAddress, controls: RunControls, ...args: string[]): Promise<unknown> {
  return await adminCall({ ...ioredisOptions(config, server, controls), host: server.host, port: server.port }, ...args);
}

/** The cluster's nodes as the first listed server that answers sees them. */
export async function clusterNodesOf(config: TargetConfig, controls: RunControls): Promise<ClusterNode[]> {
  let lastError: unknown;
  for (const server of config.servers) {
    try {
      return parseClusterNodes(String(await targetCommand(config, server, controls, 'CLUSTER', 'NODES')));
    } catch (error: unknown) {
      lastError = error;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
