export { PACKAGE_OF, requireBinary } from './binaries.js';
export { LocalSetupError } from './errors.js';
export { findFreePorts, isPortFree } from './ports.js';
export { signalPid, startProcess, type ManagedProcess } from './process.js';
export { adminCommand, startRedisCluster, startRedisServer, type RedisCluster, type RedisServer, type StartRedisOptions } from './redis.js';
