import { say } from './output.js';

/** Exit codes, as documented in the README. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, interrupted: 130 } as const;

/** Writes an error to stderr (credentials masked, terminal controls made inert: a message may quote a file) and exits with `code`. */
export function fail(message: string, code: number): never {
  say(`cachebench: error: ${message}\n`);
  process.exit(code);
}
