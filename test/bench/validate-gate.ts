/**
 * npm run validate:gate — how often the regression gate raises a false alarm and how often it
 * detects real regressions, by simulation with realistic noise. Prints one table.
 *
 * Noise model (per iteration, multiplicative, from what the local seed runs show):
 *  - a per-round machine factor shared by every target of a round: lognormal σ = 0.03;
 *  - an independent per-iteration factor: lognormal σ = 0.04 (total σ ≈ 0.05 per iteration);
 *  - slow drift over a run: a sine of amplitude 3% with a random phase;
 *  - hiccups: 2% of iterations are 25% slower;
 *  - for comparisons of two separate runs, optionally a run-to-run machine shift (lognormal σ_run),
 *    as between two CI machines or two times of day.
 * Each comparison uses N iterations per target (40: a typical converged run; 100: MAX_ITERATIONS), threshold 5%, α = 0.01.
 * Every cell compares one target with its baseline: a Holm family of one row, so α is the row's level.
 * Verdicts go through the same `judge` as `compare` and `run --fail-if-slower` (Holm, Undecided).
 */
import { compareIndependent, comparePaired, requiredIterations, requiredPairs, type GateOptions, type Verdict } from '../../src/compare/gate.js';
import { seededRandom } from '../../src/measure/random.js';

const TRIALS = Number(process.env.TRIALS ?? 2000);
const OPTIONS: GateOptions = { threshold: 0.05, alpha: 0.01 };

const rng = seededRandom;

function normal(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

interface Machine {
  readonly roundFactor: number[];
  readonly drift: number[];
}

function machine(random: () => number, runShiftSigma: number, N: number): Machine {
  const phase = random() * 2 * Math.PI;
  const shift = Math.exp(runShiftSigma * normal(random));
  return {
    roundFactor: Array.from({ length: N }, () => shift * Math.exp(0.03 * normal(random))),
    drift: Array.from({ length: N }, (_, r) => 1 + 0.03 * Math.sin(phase + (2 * Math.PI * r) / N)),
  };
}

function iterations(random: () => number, m: Machine, slowdown: number): number[] {
  return Array.from({ length: m.drift.length }, (_, r) => {
    const hiccup = random() < 0.02 ? 1.25 : 1;
    return 70 * (1 + slowdown) * (m.roundFactor[r] as number) * (m.drift[r] as number) * Math.exp(0.04 * normal(random)) * hiccup;
  });
}

type Design = 'two runs, same machine' | 'two runs, σ_run = 10%' | 'in-run paired (one run)';

function trial(design: Design, N: number, slowdown: number, random: () => number): Verdict {
  if (design === 'in-run paired (one run)') {
    const m = machine(random, 0, N);
    return comparePaired(iterations(random, m, 0), iterations(random, m, slowdown), OPTIONS).verdict;
  }
  const sigmaRun = design === 'two runs, σ_run = 10%' ? 0.1 : 0;
  const baseline = iterations(random, machine(random, sigmaRun, N), 0);
  const current = iterations(random, machine(random, sigmaRun, N), slowdown);
  return compareIndependent(baseline, current, OPTIONS).verdict;
}

function rate(design: Design, N: number, slowdown: number, verdict: Verdict, seed: number): number {
  const random = rng(seed);
  let hits = 0;
  for (let i = 0; i < TRIALS; i++) if (trial(design, N, slowdown, random) === verdict) hits++;
  return hits / TRIALS;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
console.log(`Regression gate by simulation: ${TRIALS} trials per cell, threshold 5%, α = 0.01`);
console.log('| design | N | A/A false alarm (Slower) | A/A Same | 5% slower → Slower | 10% slower → Slower | 20% slower → Slower |');
console.log('|---|--:|--:|--:|--:|--:|--:|');
const rows: [Design, number][] = [
  ['two runs, same machine', 40], ['two runs, same machine', 100],
  ['two runs, σ_run = 10%', 40], ['two runs, σ_run = 10%', 100],
  ['in-run paired (one run)', 40], ['in-run paired (one run)', 100],
];
rows.forEach(([design, N], i) => {
  const seed = 1000 * (i + 1);
  const cell = (slowdown: number, verdict: Verdict, k: number): string => pct(rate(design, N, slowdown, verdict, seed + k));
  console.log(`| ${design} | ${N} | ${cell(0, 'Slower', 0)} | ${cell(0, 'Same', 1)} | ${cell(0.05, 'Slower', 2)} | ${cell(0.1, 'Slower', 3)} | ${cell(0.2, 'Slower', 4)} |`);
});
console.log(`Undecided never occurs here: N ≥ ${requiredPairs(OPTIONS.alpha, 1)} pairs (in-run) and ≥ ${requiredIterations(OPTIONS.alpha, 1)} iterations per run (two runs) reach α.`);
console.log('Targets: false alarm ≤ 1%, 10% regression detected ≥ 95%. A 5% slowdown equals the threshold, so it is flagged at about the α rate by design.');
