import type { ResultsDocument } from '../report/document.js';

/** Limits of a fault run's gate (`--max-lost-writes`, `--max-window`). */
export interface FaultLimits {
  /** Acknowledged writes a target may lose (per target and parameter combination). */
  readonly maxLostWrites?: number;
  /** Longest failure window allowed, in ms; a window that never closed always exceeds it. */
  readonly maxWindowMs?: number;
}

/** Each target of a fault run that exceeds a limit, in words; empty when all pass (or no limit was given). */
export function faultGate(doc: ResultsDocument, limits: FaultLimits): string[] {
  const out: string[] = [];
  for (const e of doc.results) {
    const f = e.fault;
    if (f == null) continue;
    const where = `${e.target.name} (${e.scenario.name})`;
    if (limits.maxLostWrites !== undefined && f.lostAckedWrites > limits.maxLostWrites) {
      out.push(`${where}: ${f.lostAckedWrites} acknowledged writes lost, more than --max-lost-writes ${limits.maxLostWrites}`);
    }
    if (limits.maxLostWrites !== undefined && f.ackedWritesUnchecked > 0) {
      out.push(`${where}: ${f.ackedWritesUnchecked} acknowledged writes could not be read back, so --max-lost-writes cannot be judged`);
    }
    if (limits.maxWindowMs !== undefined) {
      const limit = `--max-window ${limits.maxWindowMs / 1000}`;
      if (f.windowStartMs !== null && f.windowMs === null) out.push(`${where}: the failure window never closed within the run, longer than ${limit}`);
      else if (f.windowMs !== null && f.windowMs > limits.maxWindowMs) out.push(`${where}: failure window ${(f.windowMs / 1000).toFixed(2)} s, longer than ${limit}`);
    }
  }
  return out;
}
