import type { ClientName } from '../config/keys.js';
import type { Driver } from './client.js';

/**
 * Each driver is loaded when a target first asks for it: a process (the CLI, or a load worker) that uses ioredis
 * does not pay for loading node-redis and GLIDE (130–160 ms each), and `report`, `merge` or a refused run load none.
 */
const LOADERS: Readonly<Record<ClientName, () => Promise<Driver>>> = {
  ioredis: async () => (await import('./ioredis.js')).ioredisDriver,
  'node-redis': async () => (await import('./node-redis.js')).nodeRedisDriver,
  glide: async () => (await import('./glide.js')).glideDriver,
  resp: async () => (await import('./resp-driver.js')).respDriver,
  memcache: async () => (await import('./memcache.js')).memcacheDriver,
};

/** The driver for a `<NAME>_CLIENT` value. */
export async function driverFor(client: ClientName): Promise<Driver> {
  return LOADERS[client]();
}
