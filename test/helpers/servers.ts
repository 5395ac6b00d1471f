import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from '../../src/local/redis.js';

export function tempDir(prefix = 'cachebench-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A standalone server for a test file (with a password when `requirepass` is given); `stop` stops it by PID and removes its folder. */
export async function standalone(options: { requirepass?: string } = {}): Promise<{ server: RedisServer; address: string; stop: () => Promise<void> }> {
  const tmp = tempDir();
  const server = await startRedisServer({ dir: tmp.dir });
  if (options.requirepass !== undefined) {
    const admin = connect(server.port);
    await admin.call('CONFIG', 'SET', 'requirepass', options.requirepass);
    admin.disconnect();
  }
  return {
    server,
    address: `127.0.0.1:${server.port}`,
    stop: async () => {
      await server.process.stop();
      tmp.remove();
    },
  };
}

/** A 3 primary + 3 replica cluster for a test file. */
export async function cluster(): Promise<{ cluster: RedisCluster; addresses: string; stop: () => Promise<void> }> {
  const tmp = tempDir();
  const c = await startRedisCluster({ dir: tmp.dir });
  return {
    cluster: c,
    addresses: c.nodes.slice(0, 3).map((n) => `127.0.0.1:${n.port}`).join(','),
    stop: async () => {
      await c.stop();
      tmp.remove();
    },
  };
}

/** A plain connection to one of the test's own servers. */
export function connect(port: number): Redis {
  const redis = new Redis({ host: '127.0.0.1', port, protocol: 2, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined); // failures surface as rejected commands
  return redis;
}

/** How many keys one of the test's own servers holds (DBSIZE). */
export async function keyCount(port: number): Promise<number> {
  const redis = connect(port);
  try {
    return await redis.dbsize();
  } finally {
    redis.disconnect();
  }
}

/** All keys matching a pattern on one server (SCAN; fine on the test's own servers). */
export async function scanKeys(port: number, pattern: string): Promise<string[]> {
  const redis = connect(port);
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  } finally {
    redis.disconnect();
  }
}

/** Count of a command in INFO commandstats (0 when never called). */
export async function commandCount(port: number, command: string): Promise<number> {
  const redis = connect(port);
  try {
    const info = await redis.info('commandstats');
    const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
    return m ? Number(m[1]) : 0;
  } finally {
    redis.disconnect();
  }
}

/**
 * Connections the server has accepted so far (INFO stats total_connections_received), this call's own included:
 * two calls with nothing in between differ by exactly 1. "No traffic" means no connection, not even a probe.
 */
export async function connectionsReceived(port: number): Promise<number> {
  const redis = connect(port);
  try {
    const m = /total_connections_received:(\d+)/.exec(await redis.info('stats'));
    return m ? Number(m[1]) : Number.NaN;
  } finally {
    redis.disconnect();
  }
}

/**
 * Another client of a test's own server that spoils harness keys as they are written: on every SET of a `cachebench:`
 * key (keyspace notification) it flips the start of every 2nd key (only if it still exists: a late SETRANGE must not
 * re-create a key the harness deleted) and deletes every 3rd. `stop()` turns the notifications off and disconnects.
 */
export async function attackHarnessKeys(port: number): Promise<{ stop: () => Promise<void> }> {
  const admin = connect(port);
  await admin.config('SET', 'notify-keyspace-events', 'E$');
  const subscriber = connect(port);
  const attacker = connect(port);
  let seen = 0;
  subscriber.on('message', (_channel: string, key: string) => {
    if (!key.startsWith('cachebench:')) return;
    seen++;
    if (seen % 3 === 0) void attacker.del(key);
    else if (seen % 2 === 0) void attacker.eval("if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('SETRANGE', KEYS[1], 0, ARGV[1]) end", 1, key, '\u0000\u0001corrupt');
  });
  await subscriber.subscribe('__keyevent@0__:set');
  return {
    stop: async () => {
      await admin.config('SET', 'notify-keyspace-events', '');
      for (const c of [admin, subscriber, attacker]) c.disconnect();
    },
  };
}

/** A standalone server and a cluster for a test file's suite, started before its tests and always stopped after them. */
export function suiteServers(hooks: { before: (fn: () => Promise<void>) => void; after: (fn: () => Promise<void>) => void }): {
  readonly server: Awaited<ReturnType<typeof standalone>>; readonly cluster: Awaited<ReturnType<typeof cluster>>;
} {
  let started: [Awaited<ReturnType<typeof standalone>>, Awaited<ReturnType<typeof cluster>>] | undefined;
  hooks.before(async () => {
    started = await Promise.all([standalone(), cluster()]);
  });
  hooks.after(async () => {
    await Promise.all((started ?? []).map((s) => s.stop()));
  });
  const get = (): NonNullable<typeof started> => {
    if (started === undefined) throw new Error('the suite\'s servers are not started');
    return started;
  };
  return { get server() { return get()[0]; }, get cluster() { return get()[1]; } };
}

/** The environment of one target per driver on the same servers: `<NAME>_SERVERS`, `<NAME>_CLIENT` and any options more. */
export function driverTargets(addresses: string, drivers: readonly (readonly [string, string])[],
  options: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = { CI: 'true' };
  for (const [name, client] of drivers) {
    env[`${name}_SERVERS`] = addresses;
    env[`${name}_CLIENT`] = client;
    for (const [key, value] of Object.entries(options)) env[`${name}_${key}`] = value;
  }
  return env;
}
