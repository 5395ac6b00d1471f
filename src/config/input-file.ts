import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/**
 * Files the user hands cachebench (scenario files, TLS CA files, results.json) are input like a flag: only a regular
 * file is read, and never more than a limit. A FIFO, a device (`/dev/zero`), a folder or a socket is refused at once,
 * before a byte is read, so no input can block or exhaust the process.
 */

/** Why an input file cannot be used; `reason` is the words for a message ("it is a FIFO …", "ENOENT"); `code` the errno, if any. */
export class InputFileError extends Error {
  override readonly name = 'InputFileError';
  readonly code: string | undefined;
  constructor(readonly reason: string, options?: { cause?: unknown; code?: string }) {
    super(reason, options);
    this.code = options?.code;
  }
}

/** What a file that is not a regular file is, in words. */
function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Bytes in words: `1 MiB`, `300 KiB`, `12 B`. */
export function formatBytes(n: number): string {
  if (n >= 2 ** 20) return `${Math.round((n / 2 ** 20) * 10) / 10} MiB`;
  if (n >= 2 ** 10) return `${Math.round((n / 2 ** 10) * 10) / 10} KiB`;
  return `${n} B`;
}

const CHUNK = 1 << 16;

/**
 * The bytes of `file`, a regular file of at most `maxBytes`. Opened without blocking (a FIFO with no writer would
 * otherwise hang the open), then the open file itself is checked (fstat: no race between a check and the read), and
 * reading stops past `maxBytes` even when the size said less (a file that grows, or one of /proc). Symbolic links are
 * followed (what they point at must be a regular file too) unless `followLinks` is false: files cachebench wrote itself
 * (local state, ownership files) are never read through a link. Throws InputFileError.
 */
export function readInputFile(file: string, maxBytes: number, { followLinks = true }: { followLinks?: boolean } = {}): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | (followLinks ? 0 : constants.O_NOFOLLOW));
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' && !followLinks) throw new InputFileError('it is a symbolic link, not a regular file', { cause: error, code });
    throw new InputFileError(code ?? String(error), { cause: error, code });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new InputFileError(`it is ${kindOf(stat)}, not a regular file`);
    const tooBig = (): InputFileError => new InputFileError(`it is larger than the limit of ${formatBytes(maxBytes)}${stat.size > maxBytes ? ` (${formatBytes(stat.size)})` : ''}`);
    if (stat.size > maxBytes) throw tooBig();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      let n: number;
      try {
        n = readSync(fd, chunk, 0, CHUNK, null);
      } catch (error: unknown) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new InputFileError(code ?? String(error), { cause: error, code });
      }
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw tooBig();
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** A scenario file: a few dozen keys of YAML. */
export const MAX_SCENARIO_FILE_BYTES = 1 << 20;
/** A TLS CA file: a PEM bundle (a system bundle of every public CA is about 200 KiB). */
export const MAX_CA_FILE_BYTES = 4 << 20;
/** A password file (`<NAME>_PASSWORD_FILE`): the password on one line. */
export const MAX_PASSWORD_FILE_BYTES = 4096;
/** A results.json: a six-hour throughput run of several targets with a histogram per second stays well below. */
export const MAX_RESULTS_FILE_BYTES = 128 << 20;
