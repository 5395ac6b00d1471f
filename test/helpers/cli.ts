import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ResultsDocument } from '../../src/report/document.js';

export const CLI_PATH = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface CliOptions {
  /** Env vars on top of a minimal environment (PATH, HOME): the test runner's env never leaks in. */
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  readonly timeoutMs?: number;
  /** Run this program with `args` instead of the CLI under node (e.g. bash to set up a shell state first). */
  readonly command?: string;
  /** Called with the child and its accumulated stderr on every stderr chunk. */
  readonly onStderr?: (text: string, child: import('node:child_process').ChildProcess) => void;
}

/** Runs the real CLI as a child process; kills it (by its PID) if it outlives timeoutMs. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const started = Date.now();
  const child = spawn(options.command ?? process.execPath, options.command !== undefined ? [...args] : [CLI_PATH, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    options.onStderr?.(stderr, child);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** The folder of the report a run printed (`Report: <dir>report.md`); fails the test when there is none. */
export function reportDirOf(stdout: string): string {
  const dir = /Report: (.*)report\.md/.exec(stdout)?.[1];
  if (dir === undefined) throw new Error(`no report path in stdout: ${stdout}`);
  return dir;
}

/** The results.json of the run that printed `stdout`. */
export function resultsOf(stdout: string): ResultsDocument {
  return JSON.parse(readFileSync(join(reportDirOf(stdout), 'results.json'), 'utf8')) as ResultsDocument;
}
