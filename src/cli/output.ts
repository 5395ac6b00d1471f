import { appendFileSync, writeFileSync } from 'node:fs';
import { redactSecrets } from '../config/redact.js';

/**
 * Every byte cachebench prints or writes goes through here. Console text (tables, progress, warnings, errors) is
 * masked once more on its way out; files are written as rendered: they come from a results document that holds no
 * credential (outside text is masked where it enters, see config/redact.ts), and a substring pass would edit their
 * structure (a password `true` or `2000` inside results.json).
 */

/** Data (tables, report paths) to stdout. */
export function print(text: string): void {
  process.stdout.write(redactSecrets(text));
}

/** Progress, warnings and errors to stderr. */
export function say(text: string): void {
  process.stderr.write(redactSecrets(text));
}

/** A `cachebench: warning: ...` line on stderr. */
export function warn(message: string): void {
  say(`cachebench: warning: ${message}\n`);
}

/** Writes a whole output file as rendered (no folder is created here: outputs are created before the run). */
export function writeOutput(file: string, text: string): void {
  writeFileSync(file, text);
}

/** Appends to an output file as rendered ($GITHUB_STEP_SUMMARY). */
export function appendOutput(file: string, text: string): void {
  appendFileSync(file, text);
}
