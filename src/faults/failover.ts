import type { RunControls, TargetConfig } from '../config/resolve.js';
import { displayAddress, type ServerAddress } from '../config/servers.js';
import { primaryOfSlot, replicasOf, slotsText, type ClusterNode } from '../targets/cluster-nodes.js';
import { clusterNodesOf, targetCommand } from '../targets/admin.js';
import type { FaultInjector } from './nemesis.js';

/** How long a graceful failover may take before it is reported as not done. */
export const FAILOVER_WAIT_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function addressOf(config: TargetConfig, node: ClusterNode): ServerAddress {
  const listed = config.servers.find((s) => s.host === node.host && s.port === node.port);
  return listed ?? { host: node.host, port: node.port, tls: config.tls, display: displayAddress(node.host, node.port) };
}

/**
 * FAULT=failover: the graceful hand-over Redis Cluster offers (CLUSTER FAILOVER, sent to a replica of the primary
 * that serves slot 0). Nothing is killed, so it works on any cluster the user may send admin commands to. The replica
 * and its primary swap roles; healing swaps them back (CLUSTER FAILOVER sent to the old primary), so the cluster is
 * left as it was found and the next target meets the same roles. A fail-back that does not happen says so.
 */
export function failoverInjector(config: TargetConfig, controls: RunControls): FaultInjector {
  /** The roles the fault swapped: who was primary (and must be again), who took over. */
  let swapped: { readonly primary: ServerAddress; readonly replica: ServerAddress; readonly slots: string } | undefined;
  return {
    async inject(log) {
      const nodes = await clusterNodesOf(config, controls);
      const primary = primaryOfSlot(nodes, 0);
      if (primary === undefined) {
        log('no primary serves slot 0: CLUSTER FAILOVER not sent', false);
        return;
      }
      const replica = replicasOf(nodes, primary)[0];
      if (replica === undefined) {
        log(`primary ${displayAddress(primary.host, primary.port)} (slots ${slotsText(primary)}) has no replica: CLUSTER FAILOVER not sent`, false);
        return;
      }
      const to = addressOf(config, replica);
      const started = performance.now();
      await targetCommand(config, to, controls, 'CLUSTER', 'FAILOVER');
      // Sent: from here the roles may be swapped, and healing tries to swap them back.
      swapped = { primary: addressOf(config, primary), replica: to, slots: slotsText(primary) };
      log(`CLUSTER FAILOVER sent to ${to.display}, replica of primary ${displayAddress(primary.host, primary.port)} (slots ${slotsText(primary)})`, true);
      const ms = await becamePrimary(config, to, controls, started);
      log(ms !== null ? `${to.display} is primary, ${ms} ms after CLUSTER FAILOVER` : `${to.display} was not primary ${FAILOVER_WAIT_MS} ms after CLUSTER FAILOVER`, ms !== null);
    },
    async heal() {
      if (swapped === undefined) return null;
      const { primary, replica, slots } = swapped;
      swapped = undefined;
      const role = await targetCommand(config, primary, controls, 'ROLE').catch(() => undefined);
      if (isPrimaryRole(role)) return `${primary.display} is still primary of slots ${slots}: no fail-back needed`;
      const started = performance.now();
      try {
        await targetCommand(config, primary, controls, 'CLUSTER', 'FAILOVER');
      } catch (error: unknown) {
        return `the roles stay swapped: ${replica.display} is primary of slots ${slots}, ${primary.display} its replica (CLUSTER FAILOVER to ${primary.display} failed: ${error instanceof Error ? error.message : String(error)}); send CLUSTER FAILOVER to ${primary.display} to swap them back`;
      }
      // A manual failover that does not complete within Redis's own 5 s (the old primary, just made a replica, may still
      // be syncing) is dropped by the server: it is sent again while the wait lasts.
      let sent = 1;
      const ms = await becamePrimary(config, primary, controls, started, async () => {
        sent++;
        await targetCommand(config, primary, controls, 'CLUSTER', 'FAILOVER').catch(() => undefined);
      });
      return ms !== null
        ? `failed back: ${primary.display} is primary of slots ${slots} again, ${ms} ms after CLUSTER FAILOVER${sent > 1 ? ` (sent ${sent} times)` : ''} (the roles are as before the run)`
        : `the roles stay swapped: ${primary.display} was not primary ${FAILOVER_WAIT_MS} ms after CLUSTER FAILOVER; ${replica.display} serves slots ${slots}`;
    },
  };
}

const isPrimaryRole = (role: unknown): boolean => Array.isArray(role) && String(role[0]) === 'master';

/** How long a manual failover is given before it is sent again (Redis drops one that has not completed in 5 s). */
const RESEND_MS = 6000;

/**
 * Polls ROLE on `server` until it is a primary: ms since `started`, or null after FAILOVER_WAIT_MS. `resend`: called
 * every RESEND_MS while it is not (to send CLUSTER FAILOVER again).
 */
async function becamePrimary(config: TargetConfig, server: ServerAddress, controls: RunControls, started: number,
  resend?: () => Promise<void>): Promise<number | null> {
  let lastSent = started;
  while (performance.now() - started < FAILOVER_WAIT_MS) {
    const role = await targetCommand(config, server, controls, 'ROLE').catch(() => undefined);
    if (isPrimaryRole(role)) return Math.round(performance.now() - started);
    if (resend !== undefined && performance.now() - lastSent >= RESEND_MS) {
      lastSent = performance.now();
      await resend();
    }
    await sleep(50);
  }
  return null;
}
