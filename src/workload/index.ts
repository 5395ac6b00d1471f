export { deleteKeys, keyPrefix, prepareIteration, runSeedIteration, type IterationOutcome, type IterationPlan, type OpRecorder, type StopCheck } from './seed-loop.js';
export { Tally } from './tally.js';
