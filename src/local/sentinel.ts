import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from './binaries.js';
import { findFreePorts } from './ports.js';
import { adminCommand, localCall } from '../targets/admin.js';
import { startLocalServer, startRedisServer, waitUntil, type RedisServer, type StartRedisOptions } from './redis.js';

/** The master name the local sentinels monitor the primary by. */
export const LOCAL_SENTINEL_MASTER = 'cachebench';

/** What the local REDIS_SENTINEL topology is made of: its data servers (the primary first, as started) and its sentinels. */
export interface SentinelDeployment {
  readonly servers: RedisServer[];
  readonly sentinels: RedisServer[];
  readonly downAfterMs: number;
  readonly failoverTimeoutMs: number;
}

/** The sentinels' failover timeout for a failure-detection time: long enough for a replica's resync here, as short as a test wants. */
export const failoverTimeoutFor = (downAfterMs: number): number => Math.max(2 * downAfterMs, 5000);

/**
 * Starts one sentinel (Debian's redis-server in sentinel mode: `redis-sentinel` is the same executable) on a free port,
 * with a config file of its own it may rewrite, monitoring `primary` with quorum 2.
 */
async function startSentinel(options: StartRedisOptions, primary: RedisServer, downAfterMs: number): Promise<RedisServer> {
  const binary = requireBinary('redis-server');
  const node = options.network?.addNode();
  const host = node?.address ?? '127.0.0.1';
  return startLocalServer({ ...options, ...(node !== undefined ? { namespace: node.namespace, host } : {}) }, (port) => {
    const conf = join(options.dir, `sentinel-${port}.conf`);
    const log = join(options.dir, `sentinel-${port}.log`);
    writeFileSync(conf, [
      `port ${port}`, `bind ${host}`, 'protected-mode no', 'daemonize no', `logfile ${log}`, `dir ${options.dir}`,
      `sentinel monitor ${LOCAL_SENTINEL_MASTER} ${primary.host} ${primary.port} 2`,
      `sentinel down-after-milliseconds ${LOCAL_SENTINEL_MASTER} ${downAfterMs}`,
      `sentinel failover-timeout ${LOCAL_SENTINEL_MASTER} ${failoverTimeoutFor(downAfterMs)}`,
      `sentinel parallel-syncs ${LOCAL_SENTINEL_MASTER} 1`,
      '',
    ].join('\n'));
    return {
      kind: 'redis-server', binary, args: [conf, '--sentinel'],
      ready: async () => (await adminCommand({ host, port }, 'PING')) === 'PONG',
      exitReason: () => `see ${log}`,
    };
  });
}

/**
 * REDIS_SENTINEL: a primary, two replicas (replicaof it) and three sentinels (quorum 2) that promote a replica when the
 * primary is down for `downAfterMs` (cluster-node-timeout's flag), each in a namespace of its own with `network`.
 * Ready when every sentinel knows both replicas and the other two sentinels.
 */
export async function startSentinelTopology(options: Omit<StartRedisOptions, 'port' | 'avoid' | 'cluster'>, downAfterMs: number): Promise<SentinelDeployment> {
  const servers: RedisServer[] = [];
  const sentinels: RedisServer[] = [];
  try {
    const ports = await findFreePorts(6);
    const primary = await startRedisServer({ ...options, port: ports[0] as number, avoid: new Set(ports) });
    servers.push(primary);
    servers.push(...await Promise.all(ports.slice(1, 3).map((port) => startRedisServer({ ...options, port, avoid: new Set(ports),
      replicaOf: primary }))));
    await Promise.all(servers.slice(1).map((r) => waitUntil(`replica ${r.host}:${r.port} to sync`, 20_000,
      async () => (await adminCommand(r, 'INFO', 'replication')).includes('master_link_status:up'))));
    sentinels.push(...await Promise.all(ports.slice(3).map((port) => startSentinel({ ...options, port, avoid: new Set(ports) }, primary, downAfterMs))));
    await Promise.all(sentinels.map((s) => waitUntil(`sentinel ${s.host}:${s.port} to know the replicas and the other sentinels`, 20_000, async () => {
      const master = sentinelFields(await localCall(s, 'SENTINEL', 'MASTER', LOCAL_SENTINEL_MASTER));
      return master.get('num-slaves') === '2' && master.get('num-other-sentinels') === '2' && master.get('flags') === 'master';
    })));
    return { servers, sentinels, downAfterMs, failoverTimeoutMs: failoverTimeoutFor(downAfterMs) };
  } catch (error: unknown) {
    await Promise.all([...servers, ...sentinels].map((s) => s.process.stop()));
    throw error;
  }
}

/** SENTINEL MASTER's reply (a flat list of field, value) as a map. */
export function sentinelFields(reply: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  if (!Array.isArray(reply)) return fields;
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), String(reply[i + 1]));
  return fields;
}

/** The primary the sentinels name now (the first that answers), as `host:port`; undefined when none answers. */
export async function sentinelPrimary(sentinels: readonly RedisServer[]): Promise<string | undefined> {
  for (const s of sentinels) {
    try {
      const reply = await localCall(s, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', LOCAL_SENTINEL_MASTER);
      if (Array.isArray(reply) && reply.length === 2) return `${String(reply[0])}:${String(reply[1])}`;
    } catch (error: unknown) {
      void error; // killed, paused or cut: the next one answers
    }
  }
  return undefined;
}
