import { spawn } from 'node:child_process';
import type { FaultPlan } from '../config/resolve.js';
import { redactSecrets } from '../config/redact.js';

/** One thing the nemesis did, at a time on the fault history's clock (ms after the measurement started). */
export interface FaultEvent {
  readonly atMs: number;
  /** e.g. `SIGKILL redis-server 127.0.0.1:7001 (pid 1234), primary of slots 0-5460`. */
  readonly what: string;
  readonly ok: boolean;
}

/** What a scaling event (add-node, remove-node) did. */
export interface ScalingResult {
  readonly action: 'add-node' | 'remove-node';
  readonly node: string;
  readonly migrationMs: number;
  readonly slotsMoved: number;
  readonly balance: readonly { readonly node: string; readonly slots: number }[];
}

/** FAULT=command: how the user's command ended. */
export interface CommandOutcome {
  readonly command: string;
  /** null: still running at the end of the run (then killed) or could not start. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly durationMs: number;
  /** Its last lines of output (stdout and stderr together), credentials masked (as in `command`). */
  readonly lastLines: readonly string[];
}

/**
 * Makes the fault (Jepsen's nemesis): injected on schedule while the loop runs, healed after the timed part so the
 * next target finds its servers as they were. Measurement and judgement happen elsewhere.
 */
export interface FaultInjector {
  /** Makes the fault now (for pause and restart also the undoing after FAULT_DURATION); resolves when it is done. */
  inject(log: (what: string, ok: boolean) => void): Promise<void>;
  /** Puts the servers back (restarts what was killed) and waits until they serve; returns what it did, if anything. */
  heal(): Promise<string | null>;
  /** Resident memory of the servers (bytes), total and the largest single one; null where not known (remote servers). */
  memory?(): { readonly totalBytes: number; readonly maxBytes: number } | null;
  /** FAULT=command's outcome, once known. */
  readonly command?: () => CommandOutcome | null;
  /**
   * Takes a snapshot of the MOVED/ASK replies the servers have sent so far; calling the returned function later gives
   * how many were sent in between (all clients of the servers). Local clusters only.
   */
  redirections?(): Promise<() => Promise<{ readonly moved: number; readonly ask: number }>>;
  /** A scaling event's outcome (migration time, slots moved, balance), once done. */
  readonly scaling?: () => ScalingResult | null;
  /** Stops anything still running (a fault command at the end of the run). */
  dispose?(): Promise<void>;
}

/** How long output is still read after a fault command exited. */
const OUTPUT_GRACE_MS = 100;
/** Lines of a fault command's output kept. */
const KEEP_LINES = 10;

/**
 * FAULT=command: runs FAULT_COMMAND with `sh -c` in its own process group. The run does not wait for it: its exit
 * status and last output lines are recorded when it exits; at the end of the run its process group is killed (the
 * command if still running, and what it left in the background). A failing command is reported, not fatal.
 */
export function commandInjector(plan: FaultPlan): FaultInjector {
  let outcome: CommandOutcome | null = null;
  let kill: (() => void) | undefined;
  let finished: Promise<void> = Promise.resolve();
  return {
    inject(log) {
      const started = performance.now();
      const lines: string[] = [];
      let partial = '';
      const take = (chunk: Buffer): void => {
        const text = partial + chunk.toString('utf8');
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        lines.push(...parts);
        if (lines.length > KEEP_LINES) lines.splice(0, lines.length - KEEP_LINES);
      };
      const child = spawn('sh', ['-c', plan.command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      // The command runs in a process group of its own; at the end of the run the whole group is stopped, the command
      // if it still runs and whatever it left in the background (ESRCH: nothing left).
      kill = () => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch (error: unknown) {
          if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
        }
      };
      finished = new Promise<void>((resolve) => {
        let endedAt: number | undefined;
        const done = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
          if (outcome !== null) return;
          if (partial !== '') lines.push(partial);
          partial = '';
          outcome = {
            command: redactSecrets(plan.command), exitCode: code, signal, durationMs: Math.round((endedAt ?? performance.now()) - started),
            lastLines: (error !== undefined ? [`could not start: ${error.message}`] : lines.slice(-KEEP_LINES)).map(redactSecrets),
          };
          log(`FAULT_COMMAND ${error !== undefined ? 'could not start' : signal !== null ? `ended by ${signal}` : `exited with status ${String(code)}`}`, code === 0);
          resolve();
        };
        child.once('error', (error) => done(null, null, error));
        // 'exit', not 'close': a process the command left in the background may hold its output pipes for ever.
        // Output still buffered is read for a moment more, then the pipes are let go.
        child.once('exit', (code, signal) => {
          endedAt = performance.now();
          setTimeout(() => {
            done(code, signal);
            child.stdout.destroy();
            child.stderr.destroy();
          }, OUTPUT_GRACE_MS);
        });
      });
      log(`started FAULT_COMMAND (pid ${child.pid ?? '?'})`, child.pid !== undefined);
      return Promise.resolve();
    },
    heal: () => Promise.resolve(null),
    command: () => outcome,
    async dispose() {
      kill?.();
      await finished;
    },
  };
}
