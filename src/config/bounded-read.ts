import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** A file that is not read: missing, a link, not a regular file, too large, or unreadable. `code` is the errno, if any. */
export class UnreadableFileError extends Error {
  override readonly name = 'UnreadableFileError';
  constructor(message: string, readonly code: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads a small file that comes from outside (a state file, an ownership file, a password file): only a regular file,
 * never through a symbolic link (the last part of the path), at most `maxBytes`. Opened without blocking and checked
 * before any byte is read, so a FIFO or /dev/zero is refused at once instead of hanging or filling memory.
 * Throws UnreadableFileError whose message says why (e.g. `is a FIFO, not a regular file`).
 */
export function readBoundedFile(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new UnreadableFileError('is a symbolic link, not a regular file', code, { cause: error });
    throw new UnreadableFileError(`cannot be read (${code ?? String(error)})`, code, { cause: error });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new UnreadableFileError(`is ${kindOf(stat)}, not a regular file`, undefined);
    if (stat.size > maxBytes) throw new UnreadableFileError(`is ${stat.size} bytes, more than the ${maxBytes} allowed`, undefined);
    // Read one byte more than allowed: a file that grew meanwhile is refused too.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) throw new UnreadableFileError(`is more than the ${maxBytes} bytes allowed`, undefined);
    }
    return buffer.subarray(0, length);
  } catch (error: unknown) {
    if (error instanceof UnreadableFileError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new UnreadableFileError(`cannot be read (${code ?? String(error)})`, code, { cause: error });
  } finally {
    closeSync(fd);
  }
}
