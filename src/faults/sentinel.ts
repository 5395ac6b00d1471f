import type { RunControls, TargetConfig } from '../config/resolve.js';
import type { ServerAddress } from '../config/servers.js';
import { masterAddressOf, sentinelOptions } from '../targets/probe.js';
import { adminCall, targetCommand } from '../targets/admin.js';
import type { FaultInjector } from './nemesis.js';

/** How long a Sentinel failover may take before it is reported as not done (failover-timeout is the sentinels' own bound). */
export const SENTINEL_FAILOVER_WAIT_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One command to one sentinel, logged in as the sentinels are (`<NAME>_SENTINEL_USERNAME`/`_PASSWORD`). */
export async function sentinelCall(config: TargetConfig, sentinel: ServerAddress, controls: RunControls, ...args: string[]): Promise<unknown> {
  return adminCall({ ...sentinelOptions(config, controls), host: sentinel.host, port: sentinel.port }, ...args);
}

/** The master the first answering sentinel names (`host:port`), and that sentinel; undefined when none answers. */
async function masterNow(config: TargetConfig, controls: RunControls): Promise<{ master: ServerAddress; sentinel: ServerAddress } | undefined> {
  for (const sentinel of config.servers) {
    try {
      const master = masterAddressOf(await sentinelCall(config, sentinel, controls, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', config.sentinel?.master ?? ''));
      if (master !== null) return { master, sentinel };
    } catch (error: unknown) {
      void error; // the next sentinel answers
    }
  }
  return undefined;
}

/** The sentinels' timings for the master: what sets a failover's window. */
async function timings(config: TargetConfig, sentinel: ServerAddress, controls: RunControls): Promise<string> {
  const reply = await sentinelCall(config, sentinel, controls, 'SENTINEL', 'MASTER', config.sentinel?.master ?? '').catch(() => null);
  if (!Array.isArray(reply)) return 'sentinel timings not readable';
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), String(reply[i + 1]));
  return `down-after-milliseconds ${fields.get('down-after-milliseconds') ?? '?'}, failover-timeout ${fields.get('failover-timeout') ?? '?'}, quorum ${fields.get('quorum') ?? '?'}`;
}

/**
 * FAULT=failover on a Sentinel target: `SENTINEL FAILOVER <master>` sent to a sentinel, which promotes a replica
 * without asking the others (the graceful hand-over Sentinel offers; nothing is killed, so it works on remote
 * deployments too). Logged with the sentinels' timings; done when a sentinel names another master that says
 * role:master. Healing waits until the sentinels agree again; the roles stay as the failover left them (Sentinel
 * picks the replica, so no fail-back can promise the old primary its place back).
 */
export function sentinelFailoverInjector(config: TargetConfig, controls: RunControls): FaultInjector {
  let from: ServerAddress | undefined;
  return {
    async inject(log) {
      const now = await masterNow(config, controls);
      if (now === undefined) {
        log(`no sentinel of ${config.name} named master ${config.sentinel?.master ?? ''}: SENTINEL FAILOVER not sent`, false);
        return;
      }
      from = now.master;
      const started = performance.now();
      await sentinelCall(config, now.sentinel, controls, 'SENTINEL', 'FAILOVER', config.sentinel?.master ?? '');
      log(`SENTINEL FAILOVER ${config.sentinel?.master ?? ''} sent to sentinel ${now.sentinel.display} (master ${now.master.display}; ${await timings(config, now.sentinel, controls)})`, true);
      while (performance.now() - started < SENTINEL_FAILOVER_WAIT_MS) {
        const next = await masterNow(config, controls);
        if (next !== undefined && next.master.display !== now.master.display) {
          const role = await targetCommand(config, next.master, controls, 'ROLE').catch(() => undefined);
          if (Array.isArray(role) && String(role[0]) === 'master') {
            log(`the sentinels name ${next.master.display} as master, ${Math.round(performance.now() - started)} ms after SENTINEL FAILOVER`, true);
            return;
          }
        }
        await sleep(50);
      }
      log(`the sentinels still named ${now.master.display} ${SENTINEL_FAILOVER_WAIT_MS} ms after SENTINEL FAILOVER`, false);
    },
    async heal() {
      if (from === undefined) return null;
      const now = await masterNow(config, controls);
      return `the sentinels' master is ${now?.master.display ?? 'not known'} (was ${from.display}); Sentinel keeps the promoted replica as primary`;
    },
  };
}
