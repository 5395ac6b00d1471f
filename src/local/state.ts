import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalSetupError } from './errors.js';
import { signalPid } from './process.js';
import type { LocalDeployment, TopologyName } from './topologies.js';

/** Where `cachebench up` records what it started, relative to the working directory. */
export const STATE_FILE = join('.cachebench', 'local.json');

export interface LocalState {
  readonly version: 1;
  readonly createdAt: string;
  readonly dir: string;
  readonly topologies: readonly {
    readonly name: TopologyName;
    readonly settings: Readonly<Record<string, string>>;
    readonly processes: readonly { readonly pid: number; readonly name: string }[];
  }[];
}

export function writeState(cwd: string, deployment: LocalDeployment): LocalState {
  const state: LocalState = {
    version: 1,
    createdAt: new Date().toISOString(),
    dir: deployment.dir,
    topologies: deployment.topologies.map((t) => ({ name: t.name, settings: t.settings, processes: t.processes.map((p) => ({ pid: p.pid, name: p.name })) })),
  };
  mkdirSync(join(cwd, '.cachebench'), { recursive: true });
  writeFileSync(join(cwd, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  return state;
}

/** The recorded state, or undefined when nothing is up. */
export function readState(cwd: string): LocalState | undefined {
  let text: string;
  try {
    text = readFileSync(join(cwd, STATE_FILE), 'utf8');
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LocalSetupError(`cannot read ${STATE_FILE}: ${String(error)}`, { cause: error });
  }
  const state = JSON.parse(text) as LocalState;
  if (state.version !== 1 || !Array.isArray(state.topologies)) throw new LocalSetupError(`${STATE_FILE} is not a cachebench state file. Fix: remove it`);
  return state;
}

/**
 * True when `pid` is alive and is still the process we started (its command line names the
 * binary and port we recorded), so a reused PID is never signalled.
 */
export function isOurProcess(pid: number, name: string): boolean {
  if (!signalPid(pid, 0)) return false;
  const [binary, port] = name.split(':');
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return cmdline.includes(binary ?? '') && cmdline.includes(port ?? '');
  } catch (error: unknown) {
    void error; // no /proc entry: the process is gone
    return false;
  }
}

/** Stops every recorded process by PID (TERM, then KILL after 5 s), removes the folder and the state file. */
export async function stopState(cwd: string, state: LocalState): Promise<number> {
  const ours = state.topologies.flatMap((t) => t.processes).filter((p) => isOurProcess(p.pid, p.name));
  for (const p of ours) signalPid(p.pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (ours.some((p) => isOurProcess(p.pid, p.name)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const p of ours) if (isOurProcess(p.pid, p.name)) signalPid(p.pid, 'SIGKILL');
  rmSync(state.dir, { recursive: true, force: true });
  rmSync(join(cwd, STATE_FILE), { force: true });
  return ours.length;
}
