import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ResultEntry, ResultsDocument } from '../../src/report/document.js';
import { processesMentioning } from './procs.js';

/**
 * A fresh TMPDIR and working folder below `root` for a CLI run with local topologies: every local server's files (and
 * so its command line) live below the TMPDIR, which is how assertNothingLeft finds what outlived the run.
 */
export function sandbox(root: string, name: string): { tmp: string; cwd: string } {
  const tmp = join(root, name, 'tmp');
  const cwd = join(root, name, 'cwd');
  mkdirSync(tmp, { recursive: true });
  mkdirSync(cwd, { recursive: true });
  return { tmp, cwd };
}

/** The run's results.json; the printed report path is relative to the CLI's working directory `cwd`. */
export function docOf(stdout: string, cwd: string): ResultsDocument {
  const dir = /Report: (.*)report\.md/.exec(stdout)?.[1];
  assert.ok(dir, stdout);
  return JSON.parse(readFileSync(resolve(cwd, dir, 'results.json'), 'utf8')) as ResultsDocument;
}

/** No live process mentions the sandbox's TMPDIR (zombies ignored) and no temporary folder is left in it. */
export function assertNothingLeft(tmp: string): void {
  assert.deepEqual(processesMentioning(tmp), [], 'a server process outlived the run');
  assert.deepEqual(readdirSync(tmp), [], 'a temporary folder outlived the run');
}

/** A result's fault section (asserting it has one). */
export function faultOf(e: ResultEntry | undefined): NonNullable<ResultEntry['fault']> {
  assert.ok(e?.fault, 'no fault result');
  return e.fault;
}

/** The fault tests' load: small values and a moderate read ratio (thousands of ops per second, a few hundred SETs). */
export const FAULT_LOAD = { READ_RATIO: '10', PAYLOAD_BYTES: '100' };
