import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** True for a zombie (state Z in /proc/<pid>/stat): it has exited and only waits to be reaped. */
function isZombie(pid: string): boolean {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

/**
 * PIDs of live processes whose command line or working directory contains `needle` (e.g. a
 * test's own temp folder: redis-server rewrites its title, but runs in its --dir). Zombies are
 * left out: they have exited (an orphan's zombie stays until init reaps it, which may be never
 * in a container). Only reads /proc: used to prove that nothing a run started is left, never to stop anything.
 */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (isZombie(entry)) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cmdline.includes(needle) || cwd.includes(needle)) pids.push(Number(entry));
    } catch (error: unknown) {
      void error; // the process ended while we looked
    }
  }
  return pids;
}

/** Polls processesMentioning until it is empty or `timeoutMs` passed; returns what is left. */
export async function waitUntilNoneMention(needle: string, timeoutMs: number): Promise<number[]> {
  const end = Date.now() + timeoutMs;
  let left = processesMentioning(needle);
  while (left.length > 0 && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    left = processesMentioning(needle);
  }
  return left;
}
