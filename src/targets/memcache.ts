import { readFileSync } from 'node:fs';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import { TargetUnreachableError, type CacheClient, type ConnectedTarget, type Driver, type TargetInfo } from './client.js';
import { KetamaRing } from './ketama.js';
import { MemcacheConnection, MemcacheReplyError } from './memcache-protocol.js';
import { memcacheCommand } from './memcache-commands.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** How the client shards, for the report: said once, where the target's client set-up is described. */
export const MEMCACHE_SHARDING = 'ketama consistent hashing (libketama: MD5, 160 points per server)';

/**
 * The memcache driver: cachebench's own client for memcached's text protocol (memcache-protocol.ts), one connection
 * per listed server. Several servers form a pool sharded by the client with ketama consistent hashing; one server is
 * a standalone memcached or a proxy that shards itself (twemproxy in memcache mode, `<NAME>_MODE=proxy`).
 * Connecting asks each server for its version (a proxy that does not answer `version` is told apart by its mode).
 */
export const memcacheDriver: Driver = {
  name: 'memcache',
  version: VERSION,
  async connect(config: TargetConfig, controls: RunControls): Promise<ConnectedTarget> {
    const proxy = config.mode === 'proxy';
    const connections = config.servers.map((s) => new MemcacheConnection({
      host: s.host, port: s.port, display: s.display, connectTimeoutMs: controls.connectTimeoutMs, opTimeoutMs: controls.opTimeoutMs,
      maxValueBytes: config.itemSizeMax,
    }));
    const closeAll = (): void => connections.forEach((c) => c.close());
    const versions: string[] = [];
    const limits: number[] = [];
    for (const [i, c] of connections.entries()) {
      try {
        await c.open();
        // twemproxy does not forward `version`: a proxy is checked with a get of a key nobody writes instead.
        versions.push(proxy ? 'unknown (proxy)' : `memcached ${await c.version()}`);
        if (proxy) await c.get(`cachebench:probe:${process.pid}`);
        else {
          const limit = await itemSizeOf(c);
          if (limit !== undefined) {
            c.limitValues(limit);
            limits.push(limit);
          }
        }
      } catch (error: unknown) {
        closeAll();
        const server = config.servers[i]?.display ?? '?';
        const reason = error instanceof MemcacheReplyError ? `it does not speak memcached's text protocol as expected (${error.reply})`
          : error instanceof Error ? error.message : String(error);
        throw new TargetUnreachableError(config.name, server, reason,
          `check that ${server} is a memcached server${proxy ? ' or a memcache proxy' : ''} and reachable from here, or fix ${config.name}_SERVERS${proxy ? '' : `; a proxy (twemproxy) does not answer version: set ${config.name}_MODE=proxy for it`}`, { cause: error });
      }
    }
    const ring = new KetamaRing(config.servers.map((s) => `${s.host}:${s.port}`));
    const on = (key: string): MemcacheConnection => connections[connections.length === 1 ? 0 : ring.indexOf(key)] as MemcacheConnection;
    const client: CacheClient = {
      set: (key, value, ttlSeconds) => on(key).set(key, value, ttlSeconds),
      get: (key) => on(key).get(key),
      del: (key) => on(key).delete(key),
      // A WORKLOAD's or TRACE's commands where memcached has them (memcache-commands.ts).
      command: (args) => memcacheCommand(args, on),
      close: async () => closeAll(),
      wireBytes: () => connections.reduce((n, c) => n + c.wireBytes, 0),
    };
    const distinct = [...new Set(versions)];
    const info: TargetInfo = {
      mode: proxy ? 'proxy' : config.servers.length > 1 ? 'pool' : 'standalone',
      modeDetected: false,
      serverVersion: distinct.join(', '),
      primaries: proxy ? 0 : config.servers.length,
      replicas: 0,
      client: 'memcache',
      clientVersion: VERSION,
      servers: config.servers.map((s) => s.display),
      tls: false,
      ...(limits.length > 0 ? { itemSizeMax: Math.min(...limits) } : {}),
      cache: 'off',
      readFrom: 'primary',
      retries: `no retries: a failed op fails; a lost connection is opened again by the next op on that server${config.servers.length > 1 ? `; keys sharded by ${MEMCACHE_SHARDING}, never moved off a dead server` : ''}`,
    };
    return { config, info, client };
  },
};

/** The server's item size limit (`stats settings` item_size_max), or undefined when it does not say. */
async function itemSizeOf(connection: MemcacheConnection): Promise<number | undefined> {
  try {
    const value = Number((await connection.statsSettings()).get('item_size_max'));
    return Number.isSafeInteger(value) && value >= 1024 ? value : undefined;
  } catch (error: unknown) {
    if (error instanceof MemcacheReplyError) return undefined; // a server without `stats settings`: the configured limit stands
    throw error;
  }
}
