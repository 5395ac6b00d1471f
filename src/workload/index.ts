export { deleteKeys, keyPrefix, prepareIteration, runSeedIteration, YIELD_INTERVAL_NS, yieldOnce, type IterationOutcome, type ReadCheck, type IterationPlan, type OpRecorder, type StopCheck } from './seed-loop.js';
export { Overwriter, VERSION_BYTES, judgeRead, versionOf, VersionedKey, type OverwriteStats, type ReadVerdict } from './overwriter.js';
export { Tally, readVerdict, type PlainVerdict } from './tally.js';
export { chunks, deleteInBatches, type DeleteOptions, type DeleteOutcome, type DeleteProgress } from './cleanup.js';
