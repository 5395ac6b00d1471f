import { connect } from './servers.js';

/** A node of a test cluster as CLUSTER NODES describes it. */
export interface ClusterNode {
  readonly port: number;
  readonly role: 'primary' | 'replica';
}

/** The nodes of the test's own cluster, with their roles, as `port` sees them. */
export async function clusterRoles(port: number): Promise<ClusterNode[]> {
  const redis = connect(port);
  try {
    const nodes = String(await redis.call('CLUSTER', 'NODES'));
    return nodes.trim().split('\n').map((line) => {
      const [, address = '', flags = ''] = line.split(' ');
      return { port: Number(address.split('@')[0]?.split(':').pop()), role: flags.includes('slave') ? 'replica' as const : 'primary' as const };
    });
  } finally {
    redis.disconnect();
  }
}

/**
 * Waits until every node of a fresh test cluster agrees on it: cluster_state:ok everywhere, every node lists
 * `replicas` replicas, every replica's link to its primary is up. A client connected before that may find a
 * replica missing from the slot map (and read from the primary instead) until its next topology check.
 */
export async function clusterSettled(ports: readonly number[], replicas: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const views = await Promise.all(ports.map(async (port) => {
      const redis = connect(port);
      try {
        const info = String(await redis.call('CLUSTER', 'INFO'));
        const nodes = String(await redis.call('CLUSTER', 'NODES'));
        const replication = await redis.info('replication');
        const linked = !replication.includes('role:slave') || replication.includes('master_link_status:up');
        const seen = nodes.split('\n').filter((l) => / (myself,)?slave /.test(l) && !/fail|handshake/.test(l)).length;
        return info.includes('cluster_state:ok') && seen === replicas && linked;
      } finally {
        redis.disconnect();
      }
    }));
    if (views.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`test cluster not settled after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
