import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { redactSecrets } from '../config/redact.js';

/**
 * Every byte cachebench prints or writes goes through here. Console text (tables, progress, warnings, errors) is
 * masked once more on its way out; files are written as rendered: they come from a results document that holds no
 * credential (outside text is masked where it enters, see config/redact.ts), and a substring pass would edit their
 * structure (a password `true` or `2000` inside results.json).
 */

/** C0 and C1 control characters but tab and line feed, and bidirectional overrides. */
const TERMINAL_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Console text made inert for a terminal: control characters (an escape sequence in a server's reply, a name or a
 * results file could move the cursor, rewrite lines, retitle the window or hide text) and bidirectional overrides
 * become U+FFFD; tab and line feed stay. Our own cursor moves (the progress bar) are written around it, never through.
 */
export function inertConsole(text: string): string {
  return text.replace(TERMINAL_CONTROL, '\uFFFD');
}

/** Data (tables, report paths) to stdout. */
export function print(text: string): void {
  process.stdout.write(inertConsole(redactSecrets(text)));
}

/** Progress, warnings and errors to stderr. */
export function say(text: string): void {
  process.stderr.write(inertConsole(redactSecrets(text)));
}

/** A `cachebench: warning: ...` line on stderr. */
export function warn(message: string): void {
  say(`cachebench: warning: ${message}\n`);
}

/**
 * A device, FIFO, socket or folder at an output path is never replaced (as root, a rename over /dev/full would
 * swap the device node for a file). Thrown with code ENOTREG.
 */
export function refuseSpecialFile(file: string): void {
  const stat = lstatSync(file, { throwIfNoEntry: false });
  if (stat !== undefined && !stat.isFile() && !stat.isSymbolicLink()) {
    throw Object.assign(new Error(`${file} is not a regular file`), { code: stat.isDirectory() ? 'EISDIR' : 'ENOTREG' });
  }
}

/** Writes all of `data` to `fd` (writeSync may write less than asked), then flushes it to the disk. */
function writeAll(fd: number, data: Buffer): void {
  for (let at = 0; at < data.length;) at += writeSync(fd, data, at, data.length - at);
  fsyncSync(fd);
}

/**
 * Writes a whole output file as rendered, atomically (no folder is created here: outputs are created before the run): into a new
 * temporary file beside it (O_EXCL | O_NOFOLLOW: never an existing file, never through a link), flushed, then renamed
 * over `file`. A symbolic link at `file` is replaced by the file, never followed. On any failure (ENOSPC, EACCES…)
 * the temporary file is removed and `file` is as it was: complete or absent, never empty or cut short.
 */
export function writeOutput(file: string, text: string): void {
  refuseSpecialFile(file);
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    try {
      writeAll(fd, Buffer.from(text));
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (error: unknown) {
    try {
      unlinkSync(temp);
    } catch (cleanup: unknown) {
      void cleanup; // the temporary file is already gone (or its folder is): nothing is left to remove
    }
    throw error;
  }
}

/**
 * Appends to an output file as rendered ($GITHUB_STEP_SUMMARY): an append cannot be atomic, but it never follows a symbolic link
 * (the runner's summary file is a regular file it creates for each step).
 */
export function appendOutput(file: string, text: string): void {
  // O_NONBLOCK: a FIFO with no reader fails at once (ENXIO) instead of waiting forever; whatever opened, only a regular
  // file is written (no reader left waiting on a FIFO, no device).
  const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: stat.isDirectory() ? 'EISDIR' : 'ENOTREG' });
    writeAll(fd, Buffer.from(text));
  } finally {
    closeSync(fd);
  }
}
