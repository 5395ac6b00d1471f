import type { ClientName } from '../config/keys.js';
import type { Driver } from './client.js';
import { ioredisDriver } from './ioredis.js';

export { ClusterRedirectError, ConnectionLostError, OpTimeoutError, TargetMismatchError, TargetUnreachableError, type CacheClient, type ConnectedTarget, type Driver, type TargetInfo } from './client.js';

const DRIVERS: Readonly<Record<ClientName, Driver>> = { ioredis: ioredisDriver };

/** The driver for a `<NAME>_CLIENT` value. */
export function driverFor(client: ClientName): Driver {
  return DRIVERS[client];
}
