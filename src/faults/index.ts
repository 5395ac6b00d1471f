export { runFaultCase, type FaultCaseOptions, type FaultCaseOutcome, type FaultProgressEvent, type LocalInjectors } from './case.js';
export { runFaultTarget, FAILURE_PAUSE_MS, type FaultResult } from './loop.js';
export { judge, timeline, QUIET_MS, RECOVERED_SHARE, type FaultVerdict, type PhaseLatency, type Timeline } from './judge.js';
export { FaultHistory, BUCKET_MS } from './history.js';
export { AckedWrites, ROLL_AGE_MS, digest, type WriteCheck } from './checker.js';
export { commandInjector, type CommandOutcome, type FaultEvent, type FaultInjector } from './nemesis.js';
export { failoverInjector } from './failover.js';
export { HEAL_WAIT_MS, localInjector, redirectionProbe, topologyMemory } from './local.js';
