export { PACKAGE_OF, requireBinary } from './binaries.js';
export { LocalSetupError } from './errors.js';
export { findFreePorts, isPortFree } from './ports.js';
export { signalPid, startProcess, type ManagedProcess } from './process.js';
export { adminCommand, startRedisCluster, startRedisServer, startRedisServers, type RedisCluster, type RedisServer, type StartRedisOptions } from './redis.js';
export { TOPOLOGIES, TOPOLOGY_DESCRIPTIONS, checkBinaries, startLocal, type LocalDeployment, type RunningTopology, type StartOptions, type TopologyName } from './topologies.js';
export { STATE_FILE, isOurProcess, readState, stopState, writeState, type LocalState } from './state.js';
