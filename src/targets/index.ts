export { ClusterRedirectError, ConnectionLostError, OpTimeoutError, TargetMismatchError, TargetUnreachableError, type CacheClient, type CacheCounters, type Capabilities, type ConnectedTarget, type Driver, type TargetInfo } from './client.js';

export { driverFor } from './drivers.js';
