import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, lstatSync, mkdirSync, openSync, statSync, statfsSync, unlinkSync } from 'node:fs';
import { dirname, join, parse as parsePath, resolve } from 'node:path';
import { ConfigError } from '../config/errors.js';
import { EXPORT_FILE_NAMES, type ExportFormat } from '../report/export.js';
import { appendOutput, refuseSpecialFile, writeOutput } from './output.js';

/**
 * Output files of `run` and `compare`: resolved and checked before any traffic (an unwritable
 * path is exit 2 at once), written after the run without ever losing the console table.
 */

/** What went wrong with a path, in words. */
export function explainPath(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOTDIR':
      return 'ENOTDIR: a part of the path is a file, not a folder';
    case 'EISDIR':
      return 'EISDIR: it is a folder';
    case 'EACCES':
    case 'EPERM':
      return `${code}: no permission to write there`;
    case 'EROFS':
      return 'EROFS: the file system is read-only';
    case 'ENOENT':
      return 'ENOENT: a folder of the path does not exist';
    case 'ELOOP':
      return 'ELOOP: it is a symbolic link, and cachebench never writes through one';
    case 'ENOSPC':
      return 'ENOSPC: the disk is full';
    case 'ENOTREG':
      return 'it is a device, FIFO or socket, not a regular file';
    case 'ENXIO':
      return 'ENXIO: it is a FIFO nothing reads or a socket, not a regular file';
    case 'EPSEUDOFS':
      return 'it is on a kernel file system (/proc, /sys), which holds no files of ours';
    default:
      return code ?? String(error);
  }
}

/**
 * An absolute path; a working directory that no longer exists is a ConfigError, not a stack trace.
 */
export function absolutePath(path: string, flag: string): string {
  try {
    return resolve(path);
  } catch (error: unknown) {
    throw new ConfigError(`${flag} ${path}: the working directory no longer exists (${explainPath(error)}). Fix: cd to an existing folder, or give an absolute path`, { cause: error });
  }
}

/**
 * mkdir -p, one level at a time, so every failure is an error at once. (Node's recursive mkdir
 * can spin forever on some paths, e.g. below /proc, or when the working directory was deleted.)
 * Returns the folders it created, deepest last.
 */
export function makeDirs(path: string): string[] {
  const root = parsePath(path).root;
  const parts = path.slice(root.length).split(/[\\/]+/).filter((p) => p !== '');
  const created: string[] = [];
  let current = root;
  for (const part of parts) {
    current = join(current, part);
    try {
      mkdirSync(current);
      created.push(current);
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!statSync(current).isDirectory()) throw Object.assign(new Error(`${current} is not a folder`), { code: 'ENOTDIR' });
    }
  }
  return created;
}

/**
 * `root/name`, a run's folder below the folder the user chose: `root` is made as makeDirs does (links in it are the
 * user's own), `name` (a runId, read from a results file by `report --out`) must be a real folder, never a symbolic
 * link: a link planted under the name a file chooses would carry every output elsewhere.
 */
export function makeRunDir(root: string, name: string): string {
  makeDirs(root);
  const dir = join(root, name);
  try {
    mkdirSync(dir);
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const stat = lstatSync(dir);
    if (stat.isSymbolicLink()) throw Object.assign(new Error(`${dir} is a symbolic link`), { code: 'ELOOP' });
    if (!stat.isDirectory()) throw Object.assign(new Error(`${dir} is not a folder`), { code: 'ENOTDIR' });
  }
  return dir;
}

/**
 * Checks that `file` can be written: its folder is made if missing; an existing file must be a
 * writable file, not a folder or a symbolic link. Nothing is created but folders. Throws ConfigError.
 */
export function checkWritable(file: string, what: string, mode: 'replace' | 'append' = 'replace'): void {
  try {
    makeDirs(dirname(file));
    const stat = lstatSync(file, { throwIfNoEntry: false });
    if (stat?.isSymbolicLink() === true) throw Object.assign(new Error('is a symbolic link'), { code: 'ELOOP' });
    refuseSpecialFile(file);
    if (PSEUDO_FILE_SYSTEMS.has(statfsSync(dirname(file)).type)) throw Object.assign(new Error('kernel file system'), { code: 'EPSEUDOFS' });
    // The write itself is what is checked: access(2) says yes to root almost everywhere. Outputs are written into a
    // new file beside their path and renamed (replace), or appended to (append: the existing file must take it).
    if (mode === 'append' && stat !== undefined) accessSync(file, constants.W_OK);
    else probeCreate(dirname(file));
  } catch (error: unknown) {
    throw new ConfigError(`${what}: cannot write ${file} (${explainPath(error)}). Fix: give the path of a file (not a symbolic link) in a folder you can write to`, { cause: error });
  }
}

/** Kernel file systems an output can never be meant for (statfs f_type): proc, sysfs, cgroup v1 and v2, debugfs, tracefs, securityfs, bpf. */
const PSEUDO_FILE_SYSTEMS = new Set([0x9fa0, 0x62656572, 0x27e0eb, 0x63677270, 0x64626720, 0x74726163, 0x73636673, 0xcafe4a11]);

/** Creates and removes an empty file in `dir` (O_EXCL | O_NOFOLLOW, a random name): the folder takes new files. */
function probeCreate(dir: string): void {
  const probe = join(dir, `.cachebench-probe-${randomBytes(6).toString('hex')}`);
  closeSync(openSync(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
  unlinkSync(probe);
}

/** An export to write: format and absolute file. */
export interface ExportTarget {
  readonly format: ExportFormat;
  readonly file: string;
}

/** `gab`, `bmf`, `gab=path/file.json`: parsed, resolved against `defaultDir`, and checked writable. */
export function prepareExports(items: readonly string[], defaultDir: string): ExportTarget[] {
  return items.map((item) => {
    const [format, file] = item.split(/=(.*)/s, 2) as [string, string | undefined];
    if (format !== 'gab' && format !== 'bmf') {
      throw new ConfigError(`--export ${JSON.stringify(item)} is not a format. Fix: --export gab (github-action-benchmark) or --export bmf (Bencher), optionally =FILE`);
    }
    const target = file ? absolutePath(file, `--export ${format}`) : join(defaultDir, EXPORT_FILE_NAMES[format]);
    checkWritable(target, `--export ${item}`);
    return { format, file: target };
  });
}

/** Writes (or appends to) an output file; a failure is recorded in `unwritten`, never thrown. */
export function tryWrite(file: string, text: string, unwritten: string[], append = false): boolean {
  try {
    (append ? appendOutput : writeOutput)(file, text);
    return true;
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    unwritten.push(`${file} (${code === 'ELOOP' || code === 'ENOSPC' || code === 'ENOTREG' || code === 'ENXIO' ? explainPath(error) : code ?? String(error)})`);
    return false;
  }
}
