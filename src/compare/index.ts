export { compareInRun, compareRuns, detectDrift, gateExitCode, loadResults, matchEntries, type Comparison, type ComparisonRow, type Drift } from './compare.js';
export {
  FAILING_VERDICTS, MIN_SAMPLES, failsGate, reach, checkCompareDesign, checkGateDesign, compareIndependent, comparePaired, holmAdjust, judge,
  requiredIterations, requiredPairs,
  testIndependent, testPaired, type GateOptions, type GateResult, type RowTest, type Verdict,
} from './gate.js';
export { renderComparison } from './render.js';
export { hodgesLehmannLocation, hodgesLehmannShift, mannWhitney, mannWhitneyMinP, signedRank, signedRankMinP } from './ranktests.js';
export { faultGate, type FaultLimits } from './faults.js';
