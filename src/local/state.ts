import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, readlinkSync, realpathSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import { InputFileError, readInputFile } from '../config/input-file.js';
import { ConfigError } from '../config/errors.js';
import { LOCAL_DIR_PREFIX, OWNER_FILE, readOwner } from './owner.js';
import { checkRecorded, recordedProcessProblem, stopRecorded, type RecordedProcess } from './procfs.js';
import { TOPOLOGIES, type LocalDeployment, type TopologyName } from './topologies.js';

/** Where `cachebench up` records what it started, relative to the working directory. */
export const STATE_FILE = join('.cachebench', 'local.json');
/** A state file is a few KB; anything larger is not one of ours. */
export const MAX_STATE_BYTES = 256 * 1024;
/** Processes one topology records at most (REDIS_CLUSTER: 6, plus nodes a scaling run adds). */
const MAX_PROCESSES = 64;

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
    // A process without a start time had exited before it could be read: nothing to stop later.
    topologies: deployment.topologies.map((t) => ({ name: t.name, settings: t.settings,
      processes: t.processes.flatMap((p) => (p.startTime !== undefined ? [{ pid: p.pid, name: p.name, startTime: p.startTime }] : [])) })),
  };
  try {
    mkdirSync(join(cwd, '.cachebench'));
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  checkStateFolder(cwd);
  // Atomic: reapLeftovers reads it to tell a live `up` deployment from a leftover. The temporary file is new (O_EXCL,
  // a random name) and never a link (O_NOFOLLOW): a folder from a cloned repository may hold links at any name.
  const temp = join(cwd, `${STATE_FILE}.${randomBytes(8).toString('hex')}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      // Whole or not at all: a short write (a nearly full disk) goes on from where it stopped, and the data is on disk
      // before the rename makes it the state file.
      const bytes = Buffer.from(`${JSON.stringify(state, null, 2)}\n`);
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, join(cwd, STATE_FILE));
  } catch (error: unknown) {
    rmSync(temp, { force: true });
    throw error;
  }
  return state;
}

/** The fix every refusal of a state file names. */
function fixFor(file: string): string {
  return `Nothing was stopped or deleted. Fix: if you did not run cachebench up in this folder, delete ${file}; if you did, stop its servers yourself (kill <pid>) and delete it`;
}

function notOurs(file: string, problem: string): ConfigError {
  return new ConfigError(`${file} is not a state file of cachebench up: ${problem}. ${fixFor(file)}`);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
/** Printable ASCII only: values are printed on the terminal (status) and compared as paths. */
const PRINTABLE = /^[\x20-\x7e]*$/;

/** Checks every field of a parsed state file; throws naming the field. */
export function parseState(text: string, file: string): LocalState {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error: unknown) {
    throw new ConfigError(`${file} is not a state file of cachebench up: not valid JSON (${error instanceof Error ? error.message : String(error)}). ${fixFor(file)}`, { cause: error });
  }
  if (!isObject(doc)) throw notOurs(file, 'not a JSON object');
  if (doc.version !== 1) throw notOurs(file, 'version is not 1');
  if (typeof doc.createdAt !== 'string' || doc.createdAt.length > 64 || !PRINTABLE.test(doc.createdAt)) throw notOurs(file, 'createdAt is not a time');
  if (typeof doc.dir !== 'string' || doc.dir.length > 4096 || !PRINTABLE.test(doc.dir)) throw notOurs(file, 'dir is not a path');
  if (!Array.isArray(doc.topologies) || doc.topologies.length === 0 || doc.topologies.length > TOPOLOGIES.length) {
    throw notOurs(file, `topologies is not a list of 1 to ${TOPOLOGIES.length}`);
  }
  const seen = new Set<string>();
  for (const [i, t] of doc.topologies.entries()) {
    const at = `topologies[${i}]`;
    if (!isObject(t)) throw notOurs(file, `${at} is not an object`);
    if (typeof t.name !== 'string' || !(TOPOLOGIES as readonly string[]).includes(t.name) || seen.has(t.name)) throw notOurs(file, `${at}.name is not a local topology (or named twice)`);
    seen.add(t.name);
    if (!isObject(t.settings) || Object.keys(t.settings).length > 16) throw notOurs(file, `${at}.settings is not an object of at most 16 settings`);
    for (const [key, value] of Object.entries(t.settings)) {
      if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(key) || typeof value !== 'string' || value.length > 4096 || !PRINTABLE.test(value)) throw notOurs(file, `${at}.settings.${key.slice(0, 64)} is not a setting`);
    }
    if (!Array.isArray(t.processes) || t.processes.length > MAX_PROCESSES) throw notOurs(file, `${at}.processes is not a list of at most ${MAX_PROCESSES}`);
    for (const [j, p] of t.processes.entries()) {
      const problem = recordedProcessProblem(p);
      if (problem !== undefined) throw notOurs(file, `${at}.processes[${j}] ${problem}`);
    }
  }
  return doc as unknown as LocalState;
}

/**
 * `.cachebench` must be a folder of its own, never a link: a link (committed to a repository, say) would make
 * `down` and `status` in this folder act on another folder's deployment, and `up` write its state there.
 */
function checkStateFolder(cwd: string): void {
  const folder = resolve(cwd, dirname(STATE_FILE));
  let stat;
  try {
    stat = lstatSync(folder);
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ConfigError(`${folder} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}). ${fixFor(resolve(cwd, STATE_FILE))}`, { cause: error });
  }
  if (!stat.isDirectory()) {
    throw new ConfigError(`${folder} is ${stat.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}; cachebench keeps its state only in a folder of its own. Nothing was stopped or deleted. Fix: remove ${folder} (cachebench up makes the folder)`);
  }
}

/**
 * The recorded state, or undefined when nothing is up. The file is read only if it is a regular file of at most
 * MAX_STATE_BYTES (not a link, FIFO or device) and used only if every field checks; otherwise a ConfigError (exit 2).
 */
export function readState(cwd: string): LocalState | undefined {
  checkStateFolder(cwd);
  const file = resolve(cwd, STATE_FILE);
  let text: string;
  try {
    text = readInputFile(file, MAX_STATE_BYTES, { followLinks: false }).toString('utf8');
  } catch (error: unknown) {
    if (error instanceof InputFileError && error.code === 'ENOENT') return undefined;
    throw new ConfigError(`${file} cannot be read (${error instanceof InputFileError ? error.reason : String(error)}). ${fixFor(file)}`, { cause: error });
  }
  return parseState(text, file);
}

/** What `down` may stop and delete: proven to be what `up` started here. */
export interface StopPlan {
  /** The deployment folder, or undefined when it is gone already (e.g. the temporary folder was emptied at boot). */
  readonly folder: string | undefined;
  /** The recorded processes still running (the others are gone). */
  readonly processes: readonly RecordedProcess[];
}

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch (error: unknown) {
    void error; // missing: compared as not equal
    return undefined;
  }
}

/** The working folder of a process (as /proc shows it), undefined once it has exited; unreadable is not ours. */
function workingFolder(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    return `(unreadable: ${code ?? String(error)})`;
  }
}

/** Checks that the state's folder is a deployment folder `up` made for this state file; returns it, or undefined if gone. */
function checkFolder(cwd: string, state: LocalState, file: string): string | undefined {
  const dir = state.dir;
  const root = tmpdir();
  const where = `its folder ${JSON.stringify(dir)}`;
  const name = basename(dir);
  if (!isAbsolute(dir) || normalize(dir) !== dir || !new RegExp(`^${LOCAL_DIR_PREFIX}[A-Za-z0-9]{6}$`).test(name)) {
    throw notOurs(file, `${where} is not a ${LOCAL_DIR_PREFIX}* folder`);
  }
  const parent = realOrUndefined(dirname(dir));
  if (parent === undefined || parent !== realOrUndefined(root)) {
    throw new ConfigError(`${file}: ${where} is not in the temporary folder ${root} (TMPDIR). ${fixFor(file)}, or run cachebench down with the TMPDIR that cachebench up ran with`);
  }
  let stat;
  try {
    stat = lstatSync(dir);
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw notOurs(file, `${where} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const uid = process.getuid?.();
  if (!stat.isDirectory()) throw notOurs(file, `${where} is not a folder (a link or a file)`);
  if (uid !== undefined && stat.uid !== uid) throw notOurs(file, `${where} belongs to another user`);
  const owner = readOwner(dir);
  if (owner === undefined) throw notOurs(file, `${where} has no valid ${OWNER_FILE}`);
  const recorded = owner.stateFile;
  if (owner.kind !== 'up' || recorded === undefined || (recorded !== file && realOrUndefined(recorded) !== realOrUndefined(file))) {
    throw notOurs(file, `${where}/${OWNER_FILE} does not name this file as the cachebench up that made it`);
  }
  return dir;
}

/**
 * Proves that a state file describes what `cachebench up` started from this folder before anything is signalled or
 * deleted: its folder is a `cachebench-local-*` folder of this user directly in the temporary folder (links and `..`
 * resolved, the folder itself not a link) whose owner.json names this state file as an `up` deployment; each recorded
 * process still running is exactly the recorded server (see checkRecorded) and runs in that folder. Throws a ConfigError (exit 2) otherwise.
 */
export function planStop(cwd: string, state: LocalState): StopPlan {
  const file = resolve(cwd, STATE_FILE);
  const folder = checkFolder(cwd, state, file);
  const processes: RecordedProcess[] = [];
  const foreign: string[] = [];
  // Every server `up` starts runs in the deployment folder (`<dir> (deleted)` once the folder is gone): a server of
  // the right program and port that runs elsewhere is someone else's, also when the recorded folder is missing.
  const folders = new Set([state.dir, `${state.dir} (deleted)`, ...(folder !== undefined ? [realOrUndefined(folder) ?? folder] : [])]);
  for (const p of state.topologies.flatMap((t) => t.processes)) {
    const check = checkRecorded(p);
    if (check.kind === 'foreign') foreign.push(check.why);
    if (check.kind !== 'ours') continue;
    const cwdOf = workingFolder(p.pid);
    if (cwdOf === undefined) continue; // exited meanwhile
    if (folders.has(cwdOf)) processes.push(p);
    else foreign.push(`pid ${p.pid} runs in ${JSON.stringify(cwdOf.slice(0, 200))}, not in the deployment folder`);
  }
  if (foreign.length > 0) throw notOurs(file, `a recorded process is not the server it names (${foreign.slice(0, 3).join('; ')})`);
  return { folder, processes };
}

/** Stops the processes of a checked plan by PID (TERM, then KILL after 5 s), removes the folder and the state file. */
export async function stopState(cwd: string, plan: StopPlan): Promise<number> {
  const stopped = await stopRecorded(plan.processes);
  if (plan.folder !== undefined) rmSync(plan.folder, { recursive: true, force: true });
  rmSync(join(cwd, STATE_FILE), { force: true });
  return stopped;
}
