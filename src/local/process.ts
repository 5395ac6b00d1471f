import { spawn, type ChildProcess } from 'node:child_process';
import { requireBinary } from './binaries.js';
import { LocalSetupError } from './errors.js';
import { startTimeOf } from './procfs.js';

/** A child process we started, stopped only by its own PID. */
export interface ManagedProcess {
  readonly pid: number;
  /** `<binary>:<port>`, as recorded in state and ownership files. */
  readonly name: string;
  /** Start time from /proc/<pid>/stat, so a reused PID is recognised; undefined if it died at once. */
  readonly startTime: string | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  hasExited(): boolean;
  /** How it ended (exit code or signal), once it has; `intended` when we stopped it or a planned fault killed it. */
  exitStatus(): ProcessExit | undefined;
  /** Says that the exit about to come is ours (a fault that kills it): it is not reported as a server that died. */
  intendExit(): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** How a process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Stopped by us (stop(), or intendExit() before a fault's kill). */
  readonly intended: boolean;
}

/** `exited with code 1`, `was killed by SIGKILL`. */
export function exitText(exit: ProcessExit): string {
  return exit.signal !== null ? `was killed by ${exit.signal}` : exit.code !== null ? `exited with code ${exit.code}` : 'exited';
}

/** Told about every process as it starts and exits (the ownership file of a deployment). */
export interface ProcessRecorder {
  add(process: ManagedProcess): void;
  remove(process: ManagedProcess): void;
}

export interface ProcessOptions {
  /** Working directory (the deployment's folder). */
  readonly cwd: string;
  /**
   * Own process group: a Ctrl-C in the terminal does not reach the server (its owner stops it
   * after cleaning up), and the child does not keep Node's event loop alive. @default false
   */
  readonly detached?: boolean;
  /**
   * Let the process outlive this one (`cachebench up`). Otherwise it is started through
   * `setpriv --pdeathsig SIGKILL`, so the kernel kills it when this process dies, also on
   * SIGKILL or a crash. @default false
   */
  readonly persist?: boolean;
  readonly recorder?: ProcessRecorder;
  /**
   * Run inside this network namespace (its name under /run/netns, one cachebench made: see netns.ts), entered with
   * `nsenter --net`, which execs the command: the PID is the server's.
   */
  readonly namespace?: string;
}

/**
 * Starts a server process. Unless `persist` is set it dies with this process: the parent-death
 * signal is tied to the thread that spawns it, so call this from the main thread (Node's
 * child_process does), not from a worker thread that may end first.
 */
export function startProcess(name: string, command: string, args: readonly string[], options: ProcessOptions): ManagedProcess {
  const inner = options.namespace !== undefined ? [requireBinary('nsenter'), `--net=/run/netns/${options.namespace}`, '--', command, ...args] : [command, ...args];
  const [file, argv] = options.persist === true ? [inner[0] as string, inner.slice(1)] : [requireBinary('setpriv'), ['--pdeathsig', 'SIGKILL', '--', ...inner]];
  const child: ChildProcess = spawn(file, argv, { cwd: options.cwd, stdio: 'ignore', detached: options.detached === true });
  if (options.detached === true) child.unref();
  if (child.pid === undefined) throw new LocalSetupError(`could not start ${command}. Fix: check that it is installed and executable (npm run setup installs it)`);
  const pid = child.pid;
  let done = false;
  let intended = false;
  let status: ProcessExit | undefined;
  let onDone: (code?: number | null, signal?: NodeJS.Signals | null) => void = () => undefined;
  const exited = new Promise<void>((resolve) => {
    onDone = (code = null, signal = null) => {
      if (done) return;
      done = true;
      status = { code: typeof code === 'number' ? code : null, signal: typeof signal === 'string' ? signal : null, intended };
      resolve();
    };
    child.once('exit', (code, signal) => onDone(code, signal));
    child.once('error', () => onDone());
  });
  const managed: ManagedProcess = {
    pid,
    name,
    startTime: startTimeOf(pid),
    exited,
    hasExited: () => done,
    exitStatus: () => status,
    intendExit: () => {
      intended = true;
    },
    async stop(graceMs = 5000) {
      intended = true;
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!done) child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  if (options.recorder !== undefined) {
    const recorder = options.recorder;
    try {
      recorder.add(managed);
    } catch (error: unknown) {
      child.kill('SIGKILL'); // unrecorded, nothing could find it later
      throw error;
    }
    void exited.then(() => recorder.remove(managed));
  }
  return managed;
}
