import { Redis } from 'ioredis';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import { displayAddress, type ServerAddress } from '../config/servers.js';
import { parseClusterNodes, primaryOfSlot, replicasOf, slotsText, type ClusterNode } from '../targets/cluster-nodes.js';
import { ioredisOptions } from '../targets/probe.js';
import type { FaultInjector } from './nemesis.js';

/** How long a graceful failover may take before it is reported as not done. */
export const FAILOVER_WAIT_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One command on a fresh connection to `server`, logged in as the target is; no retries. */
export async function clusterCommand(config: TargetConfig, server: ServerAddress, controls: RunControls, ...args: string[]): Promise<unknown> {
  const redis = new Redis({ ...ioredisOptions(config, server, controls), host: server.host, port: server.port, lazyConnect: true, retryStrategy: () => null, enableReadyCheck: false });
  redis.on('error', () => undefined); // the command's own rejection reports it
  try {
    await redis.connect();
    const [command, ...rest] = args;
    return await redis.call(command as string, ...rest);
  } finally {
    redis.disconnect();
  }
}

function addressOf(config: TargetConfig, node: ClusterNode): ServerAddress {
  const listed = config.servers.find((s) => s.host === node.host && s.port === node.port);
  return listed ?? { host: node.host, port: node.port, tls: config.tls, display: displayAddress(node.host, node.port) };
}

/** The cluster's nodes as the first listed server that answers sees them. */
export async function clusterNodesOf(config: TargetConfig, controls: RunControls): Promise<ClusterNode[]> {
  let lastError: unknown;
  for (const server of config.servers) {
    try {
      return parseClusterNodes(String(await clusterCommand(config, server, controls, 'CLUSTER', 'NODES')));
    } catch (error: unknown) {
      lastError = error;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/**
 * FAULT=failover: the graceful hand-over Redis Cluster offers (CLUSTER FAILOVER, sent to a replica of the primary
 * that serves slot 0). Nothing is killed, so it works on any cluster the user may send admin commands to. The replica
 * and its primary swap roles; no healing is needed afterwards.
 */
export function failoverInjector(config: TargetConfig, controls: RunControls): FaultInjector {
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
      await clusterCommand(config, to, controls, 'CLUSTER', 'FAILOVER');
      log(`CLUSTER FAILOVER sent to ${to.display}, replica of primary ${displayAddress(primary.host, primary.port)} (slots ${slotsText(primary)})`, true);
      while (performance.now() - started < FAILOVER_WAIT_MS) {
        const role = await clusterCommand(config, to, controls, 'ROLE').catch(() => undefined);
        if (Array.isArray(role) && String(role[0]) === 'master') {
          log(`${to.display} is primary, ${Math.round(performance.now() - started)} ms after CLUSTER FAILOVER`, true);
          return;
        }
        await sleep(50);
      }
      log(`${to.display} was not primary ${FAILOVER_WAIT_MS} ms after CLUSTER FAILOVER`, false);
    },
    heal: () => Promise.resolve(null),
  };
}
