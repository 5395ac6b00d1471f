export { caseSpacingMs, runLoadCase, TARGET_GAP_MS, type LoadCaseOptions, type LoadCaseOutcome, type LoadProgressEvent } from './case.js';
export { mergeRecords, mergeEncoded, type LoadRecord, type SecondRecord, type NodeRecord, type WorkerRecord } from './record.js';
export { summarizeLoad, withPercent, opsPerSecond, RATE_ACHIEVED_SHARE, type LoadResult, type ThroughputStats, type NodeSummary, type SecondSummary } from './summary.js';
export { slotOwners, SlotMap, type SlotOwner } from './nodes.js';
export { ZipfSampler, keyPicker, KeyspaceValues } from './keys.js';
export { LoadWorker } from './worker.js';
export { processKeyspace, workerRate, type LoadJob } from './job.js';
