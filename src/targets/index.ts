import type { ClientName } from '../config/keys.js';
import type { Driver } from './client.js';
import { glideDriver } from './glide.js';
import { ioredisDriver } from './ioredis.js';
import { memcacheDriver } from './memcache.js';
import { nodeRedisDriver } from './node-redis.js';

export { ClusterRedirectError, ConnectionLostError, OpTimeoutError, TargetMismatchError, TargetUnreachableError, type CacheClient, type CacheCounters, type Capabilities, type ConnectedTarget, type Driver, type TargetInfo } from './client.js';

const DRIVERS: Readonly<Record<ClientName, Driver>> = { ioredis: ioredisDriver, 'node-redis': nodeRedisDriver, glide: glideDriver, memcache: memcacheDriver };

/** The driver for a `<NAME>_CLIENT` value. */
export function driverFor(client: ClientName): Driver {
  return DRIVERS[client];
}
