export { compareInRun, compareRuns, gateExitCode, loadResults, type Comparison, type ComparisonRow } from './compare.js';
export { compareIndependent, comparePaired, MIN_SAMPLES, type GateOptions, type GateResult, type Verdict } from './gate.js';
export { renderComparison } from './render.js';
export { hodgesLehmannLocation, hodgesLehmannShift, mannWhitney, signedRank } from './ranktests.js';
