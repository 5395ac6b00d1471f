import { appendFileSync, writeFileSync } from 'node:fs';
import { redactSecrets } from '../config/redact.js';

/**
 * Every byte cachebench prints or writes goes through here, so one redaction covers console
 * output, progress, error messages, report files, exports and the CI step summary.
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

/** Writes a whole output file (no folder is created here: outputs are created before the run). */
export function writeOutput(file: string, text: string): void {
  writeFileSync(file, redactSecrets(text));
}

/** Appends to an output file (report.md's gate section, $GITHUB_STEP_SUMMARY). */
export function appendOutput(file: string, text: string): void {
  appendFileSync(file, redactSecrets(text));
}
