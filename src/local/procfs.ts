import { readFileSync } from 'node:fs';

/** A process as recorded in a state or ownership file: enough to recognise it later. */
export interface RecordedProcess {
  readonly pid: number;
  /** `<binary>:<port>`, e.g. `redis-server:12345`. */
  readonly name: string;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); a reused PID has another one. */
  readonly startTime?: string;
}

/** State letter and start time from /proc/<pid>/stat, or undefined when there is no such process. */
export function procStat(pid: number): { state: string; startTime: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error: unknown) {
    void error; // no /proc entry: the process is gone
    return undefined;
  }
  // "pid (comm) state ppid ..." — comm may hold spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined) return undefined;
  return { state, startTime };
}

/** Start time of a live process (see RecordedProcess.startTime); undefined if it is gone. */
export function startTimeOf(pid: number): string | undefined {
  return procStat(pid)?.startTime;
}

/** True when `pid` runs (not a zombie) and, if `startTime` is given, is still the same process. */
export function isAlive(pid: number, startTime?: string): boolean {
  const stat = procStat(pid);
  if (stat === undefined || stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || stat.startTime === startTime;
}

/**
 * True when `pid` is alive and is still the process we started: same start time (when recorded)
 * and a command line naming the recorded binary and port, so a reused PID is never signalled.
 */
export function isOurProcess(pid: number, name: string, startTime?: string): boolean {
  if (!isAlive(pid, startTime)) return false;
  const [binary, port] = name.split(':');
  if (!binary || !port) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch (error: unknown) {
    void error; // no /proc entry: the process is gone
    return false;
  }
  return cmdline.includes(binary) && new RegExp(`(^|\\D)${port}(\\D|$)`).test(cmdline);
}

/** Sends a signal to a PID we recorded earlier; false if it is gone. */
export function signalPid(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * Stops recorded processes by PID, each only if isOurProcess still recognises it: SIGTERM, then
 * SIGKILL after `graceMs`. Resolves with how many were ours once they are gone (zombies count as gone).
 */
export async function stopRecorded(processes: readonly RecordedProcess[], graceMs = 5000): Promise<number> {
  const ours = processes.filter((p) => isOurProcess(p.pid, p.name, p.startTime));
  const alive = (): RecordedProcess[] => ours.filter((p) => isOurProcess(p.pid, p.name, p.startTime));
  for (const p of ours) signalPid(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  for (const p of alive()) signalPid(p.pid, 'SIGKILL');
  const killDeadline = Date.now() + 2000;
  while (alive().length > 0 && Date.now() < killDeadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return ours.length;
}
