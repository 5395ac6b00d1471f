import { userInfo } from 'node:os';
import { MemcacheConnection } from '../targets/memcache-protocol.js';
import { requireBinary } from './binaries.js';
import { LocalSetupError } from './errors.js';
import { findFreePorts } from './ports.js';
import { startProcess } from './process.js';
import { waitUntil, type RedisServer, type StartRedisOptions } from './redis.js';

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
  const avoid = new Set(options.avoid ?? []);
  for (let attempt = 1; ; attempt++) {
    const [port] = attempt === 1 && options.port !== undefined ? [options.port] : await findFreePorts(1, avoid);
    if (port === undefined) throw new LocalSetupError('no free loopback port in 10000-19999. Fix: stop servers you no longer need');
    avoid.add(port);
    // -u: memcached refuses to run as root without naming a user (ignored when not root).
    const itemMb = Math.max(1, Math.ceil((options.itemSize ?? 1024 * 1024) / (1024 * 1024)));
    // memcached wants -I at most half of -m.
    const memoryMb = Math.max(MEMCACHED_MEMORY_MB, 4 * itemMb);
    const args = ['-p', String(port), '-l', '127.0.0.1', '-U', '0', '-t', '1', '-m', String(memoryMb), '-I', `${itemMb}m`, '-c', '4096', '-u', userInfo().username];
    const launch = async (): Promise<RedisServer> => {
      const proc = startProcess(`memcached:${port}`, binary, args, {
        cwd: options.dir, detached: options.detached === true, persist: options.persist === true,
        ...(options.recorder !== undefined ? { recorder: options.recorder } : {}),
      });
      try {
        await waitUntil(`memcached on port ${port}`, 10_000, () => memcacheServes(port), () => (proc.hasExited() ? `exited (run ${binary} ${args.join(' ')} to see why)` : undefined));
      } catch (error: unknown) {
        await proc.stop();
        throw error;
      }
      return {
        host: '127.0.0.1', port, process: proc,
        ready: () => memcacheServes(port),
        respawn: async () => {
          await proc.exited;
          return launch();
        },
      };
    };
    try {
      return await launch();
    } catch (error: unknown) {
      if (attempt >= 3) throw error;
    }
  }
}

/** Starts one memcached per port in parallel; if any fails, stops those that started and rethrows. */
export async function startMemcacheds(ports: readonly number[], options: Omit<StartMemcachedOptions, 'port' | 'avoid'>): Promise<RedisServer[]> {
  const avoid = new Set(ports);
  const starts = await Promise.allSettled(ports.map((port) => startMemcached({ ...options, port, avoid })));
  const started = starts.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = starts.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(started.map((s) => s.process.stop()));
    throw failed.reason;
  }
  return started;
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
