import { spawn, type ChildProcess } from 'node:child_process';

/** A child process we started, stopped only by its own PID. */
export interface ManagedProcess {
  readonly pid: number;
  readonly name: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a server process. `detached` puts it in its own process group and lets it outlive
 * this process (for `cachebench up`); otherwise a Ctrl-C in the terminal reaches it too.
 */
export function startProcess(name: string, command: string, args: readonly string[], cwd: string, detached = false): ManagedProcess {
  const child: ChildProcess = spawn(command, args, { cwd, stdio: 'ignore', detached });
  if (detached) child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = child.pid;
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      done = true;
      resolve();
    });
    child.once('error', () => {
      done = true;
      resolve();
    });
  });
  return {
    pid,
    name,
    exited,
    hasExited: () => done,
    async stop(graceMs = 5000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!done) child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Sends a signal to a PID we recorded earlier (e.g. from a state file); false if it is gone. */
export function signalPid(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}
