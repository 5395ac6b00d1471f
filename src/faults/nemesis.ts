import { spawn } from 'node:child_process';
import type { FaultPlan } from '../config/resolve.js';
import { redactSecrets } from '../config/redact.js';
import { requireBinary } from '../local/binaries.js';
import { KEEP_LINES, MAX_LINE_CHARS, SUPERVISOR_PATH, type FromSupervisor, type ToSupervisor } from './supervisor.js';
import type { ScalingOutcome } from '../local/scaling.js';

/** One thing the nemesis did, at a time on the fault history's clock (ms after the measurement started). */
export interface FaultEvent {
  readonly atMs: number;
  /** e.g. `SIGKILL redis-server 127.0.0.1:7001 (pid 1234), primary of slots 0-5460`. */
  readonly what: string;
  readonly ok: boolean;
}

/** FAULT=command: how the user's command ended. */
export interface CommandOutcome {
  readonly command: string;
  /** null: still running at the end of the run (then killed) or could not start. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly durationMs: number;
  /** Its last lines of output (stdout and stderr together; at most KEEP_LINES of MAX_LINE_CHARS), credentials masked (as in `command`). */
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
  readonly scaling?: () => ScalingOutcome | null;
  /**
   * Partitions: true while the links are cut and `key`'s slot belongs to a minority primary (an acknowledgement now
   * may be undone). Acknowledged writes from the fault on are then read back only after healing: the minority side
   * would answer a read of what it is about to lose.
   */
  readonly onMinority?: (key: string) => boolean;
  /**
   * Partitions: true once the links are back and the sides agree again (no slot or role claimed twice): writes read
   * back from then on are read from the side that won, so the rolling read-back resumes.
   */
  readonly partitionOver?: () => boolean;
  /** Partitions: what the servers said (claims, promotion, writes the minority applied), once cut. */
  readonly partition?: () => PartitionServerSide | null;
  /** Stops anything still running (a fault command at the end of the run). */
  dispose?(): Promise<void>;
}

/** What a partition did and what the servers said about it: the injector's part of results.json `fault.partition`. */
export interface PartitionServerSide {
  /** slots: Redis Cluster nodes claim slots (CLUSTER NODES); role: a Sentinel deployment's servers claim the primary role (INFO). */
  readonly claims: 'slots' | 'role';
  /** The nodes on the minority side (`10.231.4.2:7001 (primary of slots 0-5460)`), or the server cut from the client. */
  readonly minority: readonly string[];
  /** The primaries on the minority side, whose acknowledged writes a promotion on the other side may undo. */
  readonly minorityPrimaries: readonly string[];
  /** Write commands those primaries executed while cut (INFO commandstats, commands of ACL category @write); null: not read. */
  readonly minorityAppliedWrites: number | null;
  /** How long the links stayed cut (blackhole routes in place). */
  readonly cutMs: number;
  /** From the cut to the minority primaries' cluster_state:fail (they refuse writes from then on); null: not seen. */
  readonly minorityStoppedAfterMs: number | null;
  /** From the cut to a replica on the other side claiming the minority primary's slots; null: no promotion seen. */
  readonly promotedAfterMs: number | null;
  /** How long two nodes both claimed the same slots as primary, each by its own CLUSTER NODES (sampled every CLAIM_EVERY_MS). */
  readonly dualOwnershipMs: number;
  /** The part of dualOwnershipMs in which the minority primary also still took writes (cluster_state:ok): two writable owners. */
  readonly dualWritableMs: number;
  /** From the links coming back to no slot claimed twice and every minority primary serving or stepped down; null: not within the run. */
  readonly convergedAfterHealMs: number | null;
}

/** What a partition did and what the servers said about it (results.json `fault.partition`). */
export interface PartitionOutcome extends PartitionServerSide {
  /**
   * Writes the client had acknowledged while cut for keys in the minority primaries' slots, and how many of them were
   * lost (read back after healing: gone or other bytes). null with a WORKLOAD (its lost writes are counted per key).
   */
  readonly minorityAckedWrites: number | null;
  readonly minorityLostWrites: number | null;
}

/** How long cachebench waits for the supervisor to start the command or to stop it. */
const SUPERVISOR_WAIT_MS = 10_000;

/** setpriv, if installed: gives the supervisor a parent-death signal (besides its IPC channel closing). */
function findSetpriv(): string | undefined {
  try {
    return requireBinary('setpriv');
  } catch (error: unknown) {
    void error; // without it the supervisor still notices cachebench's death by its IPC channel closing
    return undefined;
  }
}

/**
 * FAULT=command: runs FAULT_COMMAND with `sh -c` in its own process group, under a supervisor process (supervisor.ts)
 * started when the injector is made, so the command starts without delay at FAULT_AT. The run does not wait for the
 * command: its exit status and last output lines (a bounded tail, kept by the supervisor) are recorded when it exits;
 * at the end of the run, or when cachebench dies in any way, its process group is killed (the command if still
 * running, and what it left in the background). A failing command is reported, not fatal.
 */
export function commandInjector(plan: FaultPlan): FaultInjector {
  let outcome: CommandOutcome | null = null;
  const setpriv = findSetpriv();
  const [file, args] = setpriv !== undefined ? [setpriv, ['--pdeathsig', 'SIGTERM', '--', process.execPath, SUPERVISOR_PATH]] : [process.execPath, [SUPERVISOR_PATH]];
  const supervisor = spawn(file, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  // Neither the supervisor nor its channel keeps cachebench alive; when cachebench exits, the channel closes and the
  // supervisor kills the command's group.
  supervisor.unref();
  supervisor.channel?.unref();
  const gone = new Promise<void>((resolve) => {
    supervisor.once('exit', () => resolve());
    supervisor.once('error', () => resolve());
  });
  let log: ((what: string, ok: boolean) => void) | undefined;
  let injected = false;
  // Outside text is masked where it enters the results (config/redact.ts): the command and every line of its output.
  const record = (result: CommandOutcome, what: string): void => {
    if (outcome !== null) return;
    outcome = { ...result, command: redactSecrets(result.command), lastLines: result.lastLines.map(redactSecrets) };
    log?.(`FAULT_COMMAND ${what}`, result.exitCode === 0);
  };
  const finished = new Promise<void>((resolve) => {
    supervisor.on('message', (message: FromSupervisor) => {
      if (message.type !== 'exit') return;
      const base = { command: plan.command, exitCode: message.exitCode, signal: message.signal, durationMs: message.durationMs };
      if (message.error !== undefined) record({ ...base, lastLines: [`could not start: ${message.error}`] }, 'could not start');
      else record({ ...base, lastLines: message.lines.slice(-KEEP_LINES).map((l) => l.slice(0, MAX_LINE_CHARS + 1)) }, message.signal !== null ? `ended by ${message.signal}` : `exited with status ${String(message.exitCode)}`);
      resolve();
    });
    void gone.then(() => {
      if (injected) record({ command: plan.command, exitCode: null, signal: null, durationMs: 0, lastLines: ['could not start: its supervisor process ended'] }, 'could not start');
      resolve();
    });
  });
  return {
    inject(logEvent) {
      log = logEvent;
      injected = true;
      const started = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SUPERVISOR_WAIT_MS);
        const onMessage = (message: FromSupervisor): void => {
          if (message.type === 'started') logEvent(`started FAULT_COMMAND (pid ${message.pid})`, true);
          clearTimeout(timer);
          supervisor.off('message', onMessage);
          resolve();
        };
        supervisor.on('message', onMessage);
        void gone.then(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      supervisor.send({ type: 'start', command: plan.command } satisfies ToSupervisor, (error) => {
        if (error !== null) void error; // the supervisor is gone: `gone` records that the command could not start
      });
      return started;
    },
    heal: () => Promise.resolve(null),
    command: () => outcome,
    async dispose() {
      if (supervisor.connected) supervisor.send({ type: 'kill' } satisfies ToSupervisor, (error) => void error);
      // It kills the command's group and exits once the outcome is sent; SIGTERM does the same should it not answer.
      const timer = setTimeout(() => supervisor.kill('SIGTERM'), SUPERVISOR_WAIT_MS);
      await gone;
      await finished;
      clearTimeout(timer);
    },
  };
}
