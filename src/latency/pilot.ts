/**
 * BenchmarkDotNet's pilot stage for the latency rounds: how many invocations of the seed loop make an iteration of about
 * ITERATION_TIME_MS, per target, bounded by memory.
 */
import type { CaseParams, RunControls } from '../config/resolve.js';
import { PILOT_MAX_BYTES, PILOT_MAX_KEYS } from '../config/limits.js';
import { minOf } from '../stats/extent.js';
import type { TargetRun } from './target-run.js';

/**
 * BenchmarkDotNet's pilot stage: how many invocations make an iteration of about
 * ITERATION_TIME_MS, from the fastest target's single-invocation time (every target runs the same
 * count, so a round compares equal work). Bounded by memory for the payloads and the keys (of all targets at
 * once with INTERLEAVE=key): PILOT_MAX_BYTES, PILOT_MAX_KEYS.
 */
export function pilotInvocations(pilotMs: number, params: CaseParams, iterationTimeMs: number, targetsInMemory = 1): number {
  const byTime = Math.max(1, Math.round(iterationTimeMs / Math.max(pilotMs, 1e-6)));
  return Math.min(byTime, pilotMemoryBound(params, targetsInMemory));
}

/** The most invocations an iteration may hold for its payloads (INTERLEAVE=key holds every target's iteration at once: the bound is shared). */
function pilotMemoryBound(params: CaseParams, targetsInMemory: number): number {
  const byBytes = Math.max(1, Math.floor(PILOT_MAX_BYTES / targetsInMemory / Math.max(1, params.WRITE_COUNT * params.PAYLOAD_BYTES)));
  // Each key's name and Buffer object live on the JS heap until the iteration's keys are deleted (see config/memory.ts).
  const byKeys = Math.max(1, Math.floor(PILOT_MAX_KEYS / targetsInMemory / Math.max(1, params.WRITE_COUNT)));
  return Math.min(byBytes, byKeys);
}

/** A pilot round counts as having reached ITERATION_TIME_MS from this fraction of it on. */
export const PILOT_REACHED = 0.8;
/** Pilot rounds at most (the count at least doubles in each after the first, so 8 rounds reach 128× the first estimate). */
export const PILOT_MAX_ROUNDS = 8;

/**
 * The pilot's next count for one target after a round at `count` invocations that took `perInvocationMs`
 * each: after the round at one invocation, the estimate for ITERATION_TIME_MS; after a later round, the
 * same count if the iteration reached PILOT_REACHED of that time (or the memory bound), else at least
 * double. Never lower than `count` after the first round: a noisy fast round must not shrink it again.
 */
export function nextPilotCount(count: number, perInvocationMs: number, first: boolean, params: CaseParams, iterationTimeMs: number,
  targetsInMemory = 1): number {
  const estimate = pilotInvocations(perInvocationMs, params, iterationTimeMs, targetsInMemory);
  if (first) return estimate;
  if (count * perInvocationMs >= PILOT_REACHED * iterationTimeMs) return count;
  return Math.min(pilotMemoryBound(params, targetsInMemory), Math.max(2 * count, estimate));
}

/**
 * The pilot stage, as BenchmarkDotNet's: a round at one invocation estimates how many make an iteration of
 * ITERATION_TIME_MS; then, while a target's iteration stays short of PILOT_REACHED of that time (the first estimate came
 * from one noisy invocation), its count at least doubles and the round runs again. Pilot rounds are warm-up rounds
 * (discarded), run by `round` (which returns each target's time per invocation; `stopped` says the case must end). Each
 * target gets its own count, as each benchmark does in BenchmarkDotNet: a client cache that is 10x faster than the
 * network would otherwise make every other target's iteration 10x longer than ITERATION_TIME_MS. INTERLEAVE=key runs
 * every target through the same keys, so there all take the fastest target's count. Returns the case's count (the
 * fastest target's) and its pilot time; sets each run's own.
 */
export async function pilotStage(runs: readonly TargetRun[], params: CaseParams, controls: RunControls, sharing: number,
  round: () => Promise<Map<TargetRun, number>>, stopped: () => boolean): Promise<{ invocations: number; pilotMs: number | null }> {
  let pilotMs: number | null = null;
  for (let r = 0; r < PILOT_MAX_ROUNDS && !stopped(); r++) {
    const times = await round();
    if (times.size === 0) break;
    pilotMs = minOf(times.values());
    let short = false;
    for (const run of runs) {
      const own = controls.interleave === 'key' ? pilotMs : times.get(run);
      if (own === undefined) continue;
      const next = nextPilotCount(run.invocations, own, r === 0, params, controls.iterationTimeMs, sharing);
      short ||= next !== run.invocations;
      run.pilotMs = own;
      run.invocations = next;
    }
    if (!short) break;
  }
  // The case's count is the fastest target's; a target without a pilot time (its pilot iterations failed) takes it.
  const fastest = runs.filter((r) => r.pilotMs !== null).sort((a, b) => (a.pilotMs as number) - (b.pilotMs as number))[0];
  const invocations = fastest?.invocations ?? Math.max(1, controls.invocationCount);
  for (const run of runs) if (run.pilotMs === null) run.invocations = invocations;
  return { invocations, pilotMs };
}
