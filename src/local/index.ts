export { PACKAGE_OF, requireBinary } from './binaries.js';
export { LocalSetupError } from './errors.js';
export { LOCAL_DIR_PREFIX, OWNER_FILE, OwnerFile, readOwner, reapLeftovers, type OwnerRecord, type ReapReport } from './owner.js';
export { findFreePorts, isPortFree } from './ports.js';
export { isAlive, isOurProcess, signalPid, startTimeOf, stopRecorded, type RecordedProcess } from './procfs.js';
export { startProcess, type ManagedProcess, type ProcessOptions, type ProcessRecorder } from './process.js';
export { adminCommand, slotRange, startRedisCluster, startRedisServer, startRedisServers, type RedisCluster, type StartClusterOptions, type RedisServer, type StartRedisOptions } from './redis.js';
export { TOPOLOGIES, TOPOLOGY_DESCRIPTIONS, checkBinaries, startLocal, type LocalDeployment, type RunningTopology, type StartOptions, type TopologyName } from './topologies.js';
export { STATE_FILE, readState, stopState, writeState, type LocalState } from './state.js';
