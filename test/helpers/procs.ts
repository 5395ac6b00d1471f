import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * PIDs of live processes whose command line or working directory contains `needle` (e.g. a
 * test's own temp folder: redis-server rewrites its title, but runs in its --dir).
 * Only reads /proc: used to prove that nothing a run started is left, never to stop anything.
 */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cmdline.includes(needle) || cwd.includes(needle)) pids.push(Number(entry));
    } catch (error: unknown) {
      void error; // the process ended while we looked
    }
  }
  return pids;
}
