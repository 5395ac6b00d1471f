import { MemcacheConnection } from '../targets/memcache-protocol.js';
import { requireBinary } from './binaries.js';
import { startEach, startLocalServer, type RedisServer, type StartRedisOptions } from './redis.js';

/** Memory each local memcached may use for items (MB): the seed loop deletes its keys, a KEYSPACE run keeps them. */
export const MEMCACHED_MEMORY_MB = 256;

/** Asks a memcached (or a memcache proxy, with `probeKey`) on loopback whether it serves. */
export async function memcacheServes(port: number, probeKey?: string): Promise<boolean> {
  const c = new MemcacheConnection({ host: '127.0.0.1', port, display: `127.0.0.1:${port}`, connectTimeoutMs: 1000, opTimeoutMs: 2000 });
  try {
    if (probeKey !== undefined) {
      await c.get(probeKey);
      return true;
    }
    return (await c.version()).length > 0;
  } finally {
    c.close();
  }
}

/**
 * Starts one memcached on a free loopback port (TCP only, one worker thread as on a pinned core, item size limit
 * `itemSize` (default 1 MiB), MEMCACHED_MEMORY_MB of memory or 4 × the item size) and waits until it answers `version`. Same lifetime rules as a
 * redis-server: dies with cachebench unless it persists, recorded in the deployment's ownership file.
 */
export interface StartMemcachedOptions extends Omit<StartRedisOptions, 'cluster' | 'nodeTimeoutMs'> {
  /** Item size limit in bytes (-I, whole MiB); memory (-m) grows with it. @default 1 MiB */
  readonly itemSize?: number;
}

export async function startMemcached(options: StartMemcachedOptions): Promise<RedisServer> {
  const binary = requireBinary('memcached');
  const itemMb = Math.max(1, Math.ceil((options.itemSize ?? 1024 * 1024) / (1024 * 1024)));
  // memcached wants -I at most half of -m.
  const memoryMb = Math.max(MEMCACHED_MEMORY_MB, 4 * itemMb);
  return startLocalServer(options, (port) => {
    // -u root: memcached refuses to run as root without naming a user; not needed (nor always nameable) otherwise.
    const args = ['-p', String(port), '-l', '127.0.0.1', '-U', '0', '-t', '1', '-m', String(memoryMb), '-I', `${itemMb}m`, '-c', '4096', ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])];
    return { kind: 'memcached', binary, args, ready: () => memcacheServes(port), exitReason: () => `run ${binary} ${args.join(' ')} to see why` };
  });
}

/** Starts one memcached per port in parallel; if any fails, stops those that started and rethrows. */
export async function startMemcacheds(ports: readonly number[], options: Omit<StartMemcachedOptions, 'port' | 'avoid'>): Promise<RedisServer[]> {
  return startEach(ports, (port, avoid) => startMemcached({ ...options, port, avoid }));
}

/** The file twemproxy reads for a memcache pool: ketama over fnv1a_64, as for Redis; no Redis protocol. */
export function twemproxyMemcacheConf(port: number, backends: readonly RedisServer[]): string {
  return [
    'cachebench_memcache:',
    `  listen: 127.0.0.1:${port}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    '  redis: false',
    '  auto_eject_hosts: false',
    '  timeout: 5000',
    '  servers:',
    ...backends.map((b, i) => `    - 127.0.0.1:${b.port}:1 memcached${i + 1}`),
    '',
  ].join('\n');
}
