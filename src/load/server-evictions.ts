/**
 * How many keys the servers evicted over a TRACE run (Redis INFO stats evicted_keys on each primary, memcached `stats`
 * evictions), read before and after it: a replay's keys found gone are excused as evictions up to that many, and the
 * rest count as missing (load/case.ts). A proxy answers neither: nothing is excused.
 */
import type { RunControls } from '../config/resolve.js';
import { targetCommand } from '../targets/admin.js';
import type { ConnectedTarget } from '../targets/client.js';
import { parseInfo } from '../targets/probe.js';
import { memcachedStats, serverNodes } from './server-cpu.js';

/** The servers' evictions so far, every primary together; null when they do not tell (a proxy, a refused INFO). */
export async function evictionsOf(target: ConnectedTarget, controls: RunControls): Promise<number | null> {
  if (target.info.mode === 'proxy') return null;
  try {
    const counts = target.config.protocol === 'memcache'
      ? await Promise.all(target.config.servers.map(async (s) => Number((await memcachedStats(s, controls)).get('evictions'))))
      : await Promise.all((await serverNodes(target, controls)).filter((n) => n.primary)
          .map(async (n) => Number(parseInfo(String(await targetCommand(target.config, n.server, controls, 'INFO', 'stats'))).get('evicted_keys'))));
    return counts.length > 0 && counts.every((n) => Number.isSafeInteger(n) && n >= 0) ? counts.reduce((a, b) => a + b, 0) : null;
  } catch (error: unknown) {
    void error; // no count: nothing is excused
    return null;
  }
}
