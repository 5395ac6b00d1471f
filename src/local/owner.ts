import { lstatSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { readInputFile } from '../config/input-file.js';
import { LocalSetupError } from './errors.js';
import type { ManagedProcess, ProcessRecorder } from './process.js';
import { networkRecordProblem, removeNetwork, type NetworkRecord } from './netns.js';
import { isAlive, recordedProcessProblem, startTimeOf, stopRecorded, type RecordedProcess } from './procfs.js';

/** Prefix of every deployment folder in the temporary directory. */
export const LOCAL_DIR_PREFIX = 'cachebench-local-';
/** Name of the ownership file inside a deployment folder. */
export const OWNER_FILE = 'owner.json';

/** Contents of `<deployment folder>/owner.json`. */
export interface OwnerRecord {
  readonly version: 1;
  /** `run`: dies with its owner. `up`: outlives it while `stateFile` names this folder. */
  readonly kind: 'run' | 'up';
  readonly owner: { readonly pid: number; readonly startTime: string | undefined };
  /** Absolute path of the state file that records an `up` deployment. */
  readonly stateFile?: string;
  readonly createdAt: string;
  /** The servers currently running (each removed when it exits). */
  readonly processes: readonly RecordedProcess[];
  /** The private network (bridge and namespaces) of `--network namespaces`, named before each part is made. */
  readonly network?: NetworkRecord;
}

/**
 * The ownership file of one deployment: written when the folder is made, rewritten (atomically)
 * as each server starts and exits, so a folder left by a dead owner tells which PIDs to stop.
 */
export class OwnerFile implements ProcessRecorder {
  private readonly processes = new Map<number, RecordedProcess>();
  private readonly base: Omit<OwnerRecord, 'processes' | 'network'>;
  private network: NetworkRecord | undefined;

  constructor(readonly dir: string, kind: 'run' | 'up', stateFile?: string) {
    this.base = {
      version: 1,
      kind,
      owner: { pid: process.pid, startTime: startTimeOf(process.pid) },
      ...(stateFile !== undefined ? { stateFile } : {}),
      createdAt: new Date().toISOString(),
    };
    this.write();
  }

  add(p: ManagedProcess): void {
    // No start time: it exited before /proc could be read, and an unrecognisable PID is never signalled anyway.
    if (p.startTime === undefined) return;
    this.processes.set(p.pid, { pid: p.pid, name: p.name, startTime: p.startTime });
    this.write();
  }

  /** Records the deployment's private network as it is about to be (names only cachebench's patterns allow). */
  setNetwork(network: NetworkRecord): void {
    this.network = { bridge: network.bridge, namespaces: [...network.namespaces] };
    this.write();
  }

  /** Never throws (it runs when a process exits, e.g. after the folder is gone). */
  remove(p: ManagedProcess): void {
    if (!this.processes.delete(p.pid)) return;
    try {
      this.write();
    } catch (error: unknown) {
      void error; // a stale entry is harmless: reaping checks each PID's start time and command line first
    }
  }

  private write(): void {
    const record: OwnerRecord = { ...this.base, processes: [...this.processes.values()], ...(this.network !== undefined ? { network: this.network } : {}) };
    const temp = join(this.dir, `${OWNER_FILE}.${process.pid}.tmp`);
    try {
      writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`);
      renameSync(temp, join(this.dir, OWNER_FILE));
    } catch (error: unknown) {
      throw new LocalSetupError(`cannot write ${join(this.dir, OWNER_FILE)}: ${String(error)}. Fix: make the temporary folder (TMPDIR) writable and not full`, { cause: error });
    }
  }
}

/** An ownership file is a few KB (one entry per server); anything larger is not one of ours. */
const MAX_OWNER_BYTES = 256 * 1024;
/** A state file (`.cachebench/local.json`) is read only up to this size (state.ts's MAX_STATE_BYTES). */
const MAX_STATE_FILE_BYTES = 256 * 1024;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The record if every field checks, else undefined. */
function ownerRecordOf(doc: unknown): OwnerRecord | undefined {
  if (!isObject(doc) || doc.version !== 1 || (doc.kind !== 'run' && doc.kind !== 'up') || typeof doc.createdAt !== 'string') return undefined;
  const owner = doc.owner;
  if (!isObject(owner) || typeof owner.pid !== 'number' || !Number.isInteger(owner.pid) || owner.pid < 1) return undefined;
  if (owner.startTime !== undefined && (typeof owner.startTime !== 'string' || !/^\d{1,20}$/.test(owner.startTime))) return undefined;
  if (doc.stateFile !== undefined && (typeof doc.stateFile !== 'string' || !isAbsolute(doc.stateFile) || doc.stateFile.length > 4096)) return undefined;
  if (!Array.isArray(doc.processes) || doc.processes.length > 1024 || doc.processes.some((p) => recordedProcessProblem(p) !== undefined)) return undefined;
  if (doc.network !== undefined && networkRecordProblem(doc.network) !== undefined) return undefined;
  return doc as unknown as OwnerRecord;
}

/**
 * Reads an ownership file; undefined when missing or not one of ours (not a regular file, larger than 256 KiB, not
 * JSON, or any field of the wrong shape).
 */
export function readOwner(dir: string): OwnerRecord | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(readInputFile(join(dir, OWNER_FILE), MAX_OWNER_BYTES, { followLinks: false }).toString('utf8'));
  } catch (error: unknown) {
    void error; // no ownership file (a folder being created, or an older cachebench), or not one we wrote: not ours to judge
    return undefined;
  }
  return ownerRecordOf(doc);
}

/**
 * True when an `up` deployment's state file still names `dir` (so `cachebench down` owns it). The path comes from the
 * ownership file: only a `.cachebench/local.json` is read, and only if it is a small regular file.
 */
function recordedAsUp(record: OwnerRecord, dir: string): boolean {
  const file = record.stateFile;
  if (record.kind !== 'up' || file === undefined || basename(file) !== 'local.json' || basename(dirname(file)) !== '.cachebench') return false;
  try {
    const state = JSON.parse(readInputFile(file, MAX_STATE_FILE_BYTES, { followLinks: false }).toString('utf8')) as { dir?: unknown };
    return state.dir === dir;
  } catch (error: unknown) {
    // Deleted, unreadable or garbled: a state file still being written (up is alive) was excluded before.
    void error;
    return false;
  }
}

export interface ReapReport {
  /** Processes stopped (each checked by PID, start time and command line first). */
  readonly stopped: number;
  /** Deployment folders removed. */
  readonly folders: readonly string[];
  /** Private networks (bridges with their namespaces) removed. */
  readonly networks: number;
}

/**
 * Finds deployment folders (`<tmpdir>/cachebench-local-*`) left by a dead owner — not a live
 * run, not an `up` deployment its state file still records — stops their servers by PID (only
 * those whose /proc entry still shows the recorded start time, binary and port) and removes the
 * folders. Folders of other users and folders without an ownership file are left alone.
 */
export async function reapLeftovers(options: { tmpDir?: string; graceMs?: number } = {}): Promise<ReapReport> {
  const root = options.tmpDir ?? tmpdir();
  let entries: string[];
  try {
    entries = readdirSync(root).filter((name) => name.startsWith(LOCAL_DIR_PREFIX));
  } catch (error: unknown) {
    throw new LocalSetupError(`cannot list ${root} for leftover local servers: ${String(error)}. Fix: point TMPDIR at a readable folder`, { cause: error });
  }
  const uid = process.getuid?.();
  const dead: { dir: string; record: OwnerRecord }[] = [];
  for (const name of entries) {
    const dir = join(root, name);
    try {
      const stat = lstatSync(dir);
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) continue;
    } catch (error: unknown) {
      void error; // removed meanwhile
      continue;
    }
    const record = readOwner(dir);
    if (record === undefined) continue;
    if (isAlive(record.owner.pid, record.owner.startTime)) continue;
    if (recordedAsUp(record, dir)) continue;
    dead.push({ dir, record });
  }
  const stopped = await stopRecorded(dead.flatMap((d) => d.record.processes), options.graceMs);
  // A network goes after its servers: a namespace with a process still in it would linger until that process ends.
  let networks = 0;
  for (const d of dead) {
    if (d.record.network !== undefined) {
      removeNetwork(d.record.network);
      networks++;
    }
    rmSync(d.dir, { recursive: true, force: true });
  }
  return { stopped, folders: dead.map((d) => d.dir), networks };
}
