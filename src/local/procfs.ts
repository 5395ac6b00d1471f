import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { requireBinary } from './binaries.js';

/** The programs a recorded process may be: nothing else is ever signalled. */
export const SERVER_BINARIES = ['redis-server', 'memcached', 'nutcracker'] as const;
export type ServerBinary = (typeof SERVER_BINARIES)[number];

/** A process as recorded in a state or ownership file: enough to recognise it later. */
export interface RecordedProcess {
  readonly pid: number;
  /** `<binary>:<port>`, e.g. `redis-server:12345` (see parseProcessName). */
  readonly name: string;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); a reused PID has another one. */
  readonly startTime: string;
}

/** Largest PID Linux hands out (PID_MAX_LIMIT). */
const PID_MAX = 4_194_304;

/** `<binary>:<port>` parsed: one of SERVER_BINARIES and a port 1–65535 written in plain digits; undefined otherwise. */
export function parseProcessName(name: string): { readonly binary: ServerBinary; readonly port: number } | undefined {
  const match = /^(redis-server|memcached|nutcracker):([1-9]\d{0,4})$/.exec(name);
  if (match === null) return undefined;
  const port = Number(match[2]);
  return port <= 65_535 ? { binary: match[1] as ServerBinary, port } : undefined;
}

/** Why `value` (from a JSON file) is not a RecordedProcess, or undefined when it is one. */
export function recordedProcessProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not an object';
  const p = value as Record<string, unknown>;
  if (typeof p.pid !== 'number' || !Number.isInteger(p.pid) || p.pid < 2 || p.pid > PID_MAX) return 'pid is not a process ID (a whole number 2–4194304)';
  if (typeof p.name !== 'string' || parseProcessName(p.name) === undefined) {
    return `name is not <binary>:<port> with binary one of ${SERVER_BINARIES.join(', ')} and a port 1–65535`;
  }
  if (typeof p.startTime !== 'string' || !/^\d{1,20}$/.test(p.startTime)) return 'startTime is not a start time from /proc (digits)';
  return undefined;
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

/** What a recorded process is now. `foreign`: its PID and start time are the recorded ones, but it is not that server. */
export type ProcessCheck = { readonly kind: 'ours' } | { readonly kind: 'gone' } | { readonly kind: 'foreign'; readonly why: string };

/** The executable a server binary found on PATH runs (symlinks resolved, as /proc/<pid>/exe shows it); undefined if none. */
function serverExecutable(binary: ServerBinary): string | undefined {
  try {
    return realpathSync(requireBinary(binary));
  } catch (error: unknown) {
    void error; // not installed (any more): no process can be proven to be that server
    return undefined;
  }
}

/**
 * Recognises a recorded process before it is signalled: `gone` when its PID is free, a zombie or another process (other
 * start time); `ours` only when the start time is the recorded one, /proc/<pid>/exe is exactly the executable of the
 * recorded binary on PATH (not a command line that merely mentions it), and the recorded port is a whole number in
 * its command line. Anything else is `foreign`, with the reason.
 */
export function checkRecorded(p: RecordedProcess): ProcessCheck {
  const stat = procStat(p.pid);
  if (stat === undefined || stat.state === 'Z' || stat.state === 'X' || stat.startTime !== p.startTime) return { kind: 'gone' };
  const parsed = parseProcessName(p.name);
  if (parsed === undefined) return { kind: 'foreign', why: `pid ${p.pid}: ${JSON.stringify(p.name)} is not <binary>:<port> of a server cachebench starts` };
  const expected = serverExecutable(parsed.binary);
  if (expected === undefined) return { kind: 'foreign', why: `pid ${p.pid}: ${parsed.binary} is not on PATH, so the process cannot be proven to be it` };
  let exe: string;
  let cmdline: string;
  try {
    exe = readlinkSync(`/proc/${p.pid}/exe`);
    cmdline = readFileSync(`/proc/${p.pid}/cmdline`, 'latin1');
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return { kind: 'gone' };
    return { kind: 'foreign', why: `pid ${p.pid}: its program cannot be read (${code ?? String(error)}; another user's process?)` };
  }
  if (exe !== expected) return { kind: 'foreign', why: `pid ${p.pid} runs ${exe}, not ${parsed.binary} (${expected})` };
  const numbers = cmdline.split(/\D+/);
  if (!numbers.includes(String(parsed.port))) return { kind: 'foreign', why: `pid ${p.pid} is a ${parsed.binary}, but not the one of port ${parsed.port}` };
  return { kind: 'ours' };
}

/** True when the recorded process is still the server we started (see checkRecorded), so it may be signalled. */
export function isOurProcess(pid: number, name: string, startTime: string): boolean {
  return checkRecorded({ pid, name, startTime }).kind === 'ours';
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

/**
 * CPU time (user + system) a process has used so far, in ms; undefined when it is gone. /proc counts it in clock ticks
 * of USER_HZ, which Linux fixes at 100 for user space on every mainstream architecture (10 ms each; `getconf CLK_TCK`).
 */
export function cpuTimeMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch (error: unknown) {
    void error; // gone (or not ours to read)
    return undefined;
  }
}
