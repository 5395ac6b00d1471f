import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

/**
 * Runs `script` (an ES module source) in a child process that connects a client, prints `connected`, waits for a
 * line on stdin, closes the client and prints `closed <ms>`, then must exit on its own. `beforeClose` runs between
 * (e.g. to freeze the server). Returns how long close() took in the child and how long the process lingered after it.
 * The child is killed (by its PID) if it outlives 15 s.
 */
export async function closeTimingOf(script: string, env: Record<string, string>,
  beforeClose: () => void | Promise<void>): Promise<{ closeMs: number; lingerMs: number }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  let stdout = '';
  let closedAt = 0;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('connected\n')) resolve();
        if (/closed \d+\n/.test(stdout) && closedAt === 0) closedAt = Date.now();
      });
      child.on('exit', () => reject(new Error(`child exited early: ${stdout}`)));
    });
    await beforeClose();
    child.stdin.write('go\n');
    const code = await exited;
    assert.equal(code, 0, stdout);
  } finally {
    clearTimeout(killer);
  }
  return { closeMs: Number(/closed (\d+)/.exec(stdout)?.[1]), lingerMs: Date.now() - closedAt };
}
