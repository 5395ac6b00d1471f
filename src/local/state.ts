import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalSetupError } from './errors.js';
import { stopRecorded, type RecordedProcess } from './procfs.js';
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
    readonly processes: readonly RecordedProcess[];
  }[];
}

export function writeState(cwd: string, deployment: LocalDeployment): LocalState {
  const state: LocalState = {
    version: 1,
    createdAt: new Date().toISOString(),
    dir: deployment.dir,
    topologies: deployment.topologies.map((t) => ({ name: t.name, settings: t.settings, processes: t.processes.map((p) => ({ pid: p.pid, name: p.name, ...(p.startTime !== undefined ? { startTime: p.startTime } : {}) })) })),
  };
  try {
    mkdirSync(join(cwd, '.cachebench'));
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // Atomic: reapLeftovers reads it to tell a live `up` deployment from a leftover.
  const temp = join(cwd, `${STATE_FILE}.${process.pid}.tmp`);
  writeFileSync(temp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(temp, join(cwd, STATE_FILE));
  return state;
}

/** The recorded state, or undefined when nothing is up. */
export function readState(cwd: string): LocalState | undefined {
  let text: string;
  try {
    text = readFileSync(join(cwd, STATE_FILE), 'utf8');
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LocalSetupError(`cannot read ${STATE_FILE}: ${String(error)}. Fix: remove ${STATE_FILE} if nothing is up any more`, { cause: error });
  }
  const state = JSON.parse(text) as LocalState;
  if (state.version !== 1 || !Array.isArray(state.topologies)) throw new LocalSetupError(`${STATE_FILE} is not a cachebench state file. Fix: remove it`);
  return state;
}

/** Stops every recorded process by PID (TERM, then KILL after 5 s), removes the folder and the state file. */
export async function stopState(cwd: string, state: LocalState): Promise<number> {
  const stopped = await stopRecorded(state.topologies.flatMap((t) => t.processes));
  rmSync(state.dir, { recursive: true, force: true });
  rmSync(join(cwd, STATE_FILE), { force: true });
  return stopped;
}
