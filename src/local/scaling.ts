import { execFile } from 'node:child_process';
import { parseClusterNodes, primaryOfSlot, replicasOf, slotsText, type ClusterNode } from '../targets/cluster-nodes.js';
import { requireBinary } from './binaries.js';
import { adminCommand, waitUntil, type RedisServer } from './redis.js';
import type { RunningTopology } from './topologies.js';

/** How long one `redis-cli --cluster` step may take before it is given up (migrating thousands of slots under load). */
export const CLUSTER_CLI_TIMEOUT_MS = 180_000;

/** What a scaling event did: how long the slots took to move, how many moved, and how they ended up. */
export interface ScalingOutcome {
  readonly action: 'add-node' | 'remove-node';
  /** The node added or removed, host:port. */
  readonly node: string;
  /** Wall time of the rebalance that moved the slots (redis-cli --cluster rebalance). */
  readonly migrationMs: number;
  readonly slotsMoved: number;
  /** Slots per primary after the event (before healing), largest first. */
  readonly balance: readonly { readonly node: string; readonly slots: number }[];
}

/** MOVED and ASK replies the nodes have sent (INFO errorstats), by port. */
export type Redirections = ReadonlyMap<number, { readonly moved: number; readonly ask: number }>;

/** Reads every live node's MOVED/ASK error counts. */
export async function redirectionCounts(topology: RunningTopology): Promise<Redirections> {
  const counts = new Map<number, { moved: number; ask: number }>();
  await Promise.all(topology.servers.filter((s) => !s.process.hasExited()).map(async (s) => {
    try {
      const info = await adminCommand(s, 'INFO', 'errorstats');
      const count = (name: string): number => Number(new RegExp(`errorstat_${name}:count=(\\d+)`).exec(info)?.[1] ?? 0);
      counts.set(s.port, { moved: count('MOVED'), ask: count('ASK') });
    } catch (error: unknown) {
      void error; // a node that is down (killed, paused) has nothing to add now
    }
  }));
  return counts;
}

/** MOVED/ASK sent between two snapshots: per node the increase (a restarted node counts from 0), summed. */
export function redirectionsBetween(before: Redirections, after: Redirections): { moved: number; ask: number } {
  let moved = 0;
  let ask = 0;
  for (const [port, end] of after) {
    const start = before.get(port);
    const restarted = start !== undefined && (end.moved < start.moved || end.ask < start.ask);
    moved += start === undefined || restarted ? end.moved : end.moved - start.moved;
    ask += start === undefined || restarted ? end.ask : end.ask - start.ask;
  }
  return { moved, ask };
}

/** Runs `redis-cli --cluster <args>`; resolves with its output and wall time, rejects with its last lines. */
function clusterCli(args: readonly string[]): Promise<{ output: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(requireBinary('redis-cli'), ['--cluster', ...args], { timeout: CLUSTER_CLI_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error !== null) {
        const tail = output.trim().split('\n').slice(-3).join(' | ');
        reject(new Error(`redis-cli --cluster ${args[0] ?? ''} failed (${error.killed ? `killed after ${CLUSTER_CLI_TIMEOUT_MS} ms` : `status ${String(error.code)}`}): ${tail}`));
        return;
      }
      resolve({ output, ms: performance.now() - started });
    });
  });
}

/** Slots redis-cli says it moved ("Moving 1366 slots from ... to ..."), summed. */
export function slotsMovedBy(output: string): number {
  let moved = 0;
  for (const m of output.matchAll(/Moving (\d+) slots from/g)) moved += Number(m[1]);
  return moved;
}

/** The cluster's nodes as the first of its live nodes that answers sees them. */
export async function liveClusterNodes(topology: RunningTopology): Promise<ClusterNode[]> {
  let lastError: unknown;
  for (const server of topology.servers) {
    if (server.process.hasExited()) continue;
    try {
      return parseClusterNodes(await adminCommand(server, 'CLUSTER', 'NODES'));
    } catch (error: unknown) {
      lastError = error;
    }
  }
  throw new Error(`no node of ${topology.name} answered CLUSTER NODES${lastError instanceof Error ? ` (${lastError.message})` : ''}`);
}

/** Slots per primary, largest first. */
export async function slotBalance(topology: RunningTopology): Promise<{ node: string; slots: number }[]> {
  return (await liveClusterNodes(topology)).filter((n) => n.primary && !n.failing)
    .map((n) => ({ node: `${n.host}:${n.port}`, slots: n.slots.reduce((k, [a, b]) => k + b - a + 1, 0) }))
    .sort((a, b) => b.slots - a.slots);
}

/** Starts a node through the topology's own start function and records it as one of its servers. */
async function startNode(topology: RunningTopology, onStart: (pid: number) => Promise<void>): Promise<RedisServer> {
  if (topology.startNode === undefined) throw new Error(`${topology.name} cannot add nodes`);
  const node = await topology.startNode();
  topology.servers.push(node);
  topology.processes.push(node.process);
  await onStart(node.process.pid);
  return node;
}

/** Joins started nodes to the cluster (MEET through a member) and waits until every member knows them. */
async function join(topology: RunningTopology, nodes: readonly RedisServer[]): Promise<string[]> {
  const member = topology.servers.find((s) => !nodes.includes(s) && !s.process.hasExited());
  if (member === undefined) throw new Error('no cluster member to join');
  await Promise.all(nodes.map((n) => adminCommand(n, 'CLUSTER', 'MEET', member.host, String(member.port))));
  const ids = await Promise.all(nodes.map((n) => adminCommand(n, 'CLUSTER', 'MYID')));
  await waitUntil('the new nodes to be known to every node', 30_000, async () => {
    for (const s of topology.servers) {
      const known = parseClusterNodes(await adminCommand(s, 'CLUSTER', 'NODES'));
      if (!ids.every((id) => known.some((k) => k.id === id && !k.failing))) return false;
    }
    return true;
  });
  // A MEET to every member delivers their slots at once (the handshake's reply does not carry them; see joinCluster),
  // and a new node must see the cluster ok before slots can migrate to it (MIGRATE's target answers CLUSTERDOWN).
  const members = topology.servers.filter((s) => !nodes.includes(s) && !s.process.hasExited());
  await Promise.all(nodes.flatMap((n) => members.map((m) => adminCommand(n, 'CLUSTER', 'MEET', m.host, String(m.port)))));
  await waitUntil('the new nodes to see the cluster ok', 30_000, async () =>
    (await Promise.all(nodes.map((n) => adminCommand(n, 'CLUSTER', 'INFO')))).every((info) => info.includes('cluster_state:ok')));
  return ids;
}

/** Removes a node that holds no slots: forgotten by every other node (redis-cli del-node), then stopped by its PID. */
async function removeNode(topology: RunningTopology, server: RedisServer, id: string): Promise<void> {
  const other = topology.servers.find((s) => s !== server && !s.process.hasExited());
  if (other === undefined) throw new Error('no other node to remove it through');
  await clusterCli(['del-node', `${other.host}:${other.port}`, id]);
  await server.process.stop();
  const i = topology.servers.indexOf(server);
  if (i >= 0) topology.servers.splice(i, 1);
  const j = topology.processes.indexOf(server.process);
  if (j >= 0) topology.processes.splice(j, 1);
}

/** How long the nodes may take to agree on the configuration (epochs, slot owners) after a change, before the next one. */
export const CLUSTER_AGREE_MS = 30_000;

async function rebalance(topology: RunningTopology, extra: readonly string[]): Promise<{ ms: number; moved: number }> {
  const live = topology.servers.find((s) => !s.process.hasExited());
  if (live === undefined) throw new Error(`no node of ${topology.name} is running`);
  // redis-cli refuses to rebalance ("Please fix your cluster problems") while the nodes' views still differ, e.g.
  // right after a previous migration, until gossip has spread the new slot owners: wait until its own check passes.
  await waitUntil(`${topology.name}'s nodes to agree on the slot configuration (redis-cli --cluster check)`, CLUSTER_AGREE_MS, async () => {
    await clusterCli(['check', `${live.host}:${live.port}`]);
    return true;
  });
  const { output, ms } = await clusterCli(['rebalance', `${live.host}:${live.port}`, ...extra]);
  return { ms, moved: slotsMovedBy(output) };
}

/**
 * add-node: starts an empty primary, joins it, and rebalances with --cluster-use-empty-masters, so slots (and their
 * keys) migrate to it while the loop runs — the manual step the seed article found Redis Cluster needs. Returns the
 * outcome and how to undo it (move its slots away again, del-node, stop it).
 */
export async function addNode(topology: RunningTopology, onStart: (pid: number) => Promise<void>, log: (what: string,
  ok: boolean) => void): Promise<{ outcome: ScalingOutcome; undo: () => Promise<string> }> {
  const node = await startNode(topology, onStart);
  log(`started redis-server ${node.host}:${node.port} (pid ${node.process.pid}) as a new empty primary`, true);
  const [id] = await join(topology, [node]);
  log(`${node.host}:${node.port} joined; redis-cli --cluster rebalance --cluster-use-empty-masters starts moving slots to it`, true);
  const { ms, moved } = await rebalance(topology, ['--cluster-use-empty-masters']);
  const balance = await slotBalance(topology);
  log(`redis-cli --cluster rebalance --cluster-use-empty-masters moved ${moved} slots in ${Math.round(ms)} ms; slots per primary: ${balance.map((b) => b.slots).join('/')}`, moved > 0);
  return {
    outcome: { action: 'add-node', node: `${node.host}:${node.port}`, migrationMs: Math.round(ms), slotsMoved: moved, balance },
    undo: async () => {
      await rebalance(topology, ['--cluster-weight', `${id as string}=0`]);
      await removeNode(topology, node, id as string);
      return `moved the slots of ${node.host}:${node.port} back and removed it`;
    },
  };
}

/**
 * remove-node: empties the primary serving slot 0 (rebalance with its weight 0: its slots migrate to the others under
 * load), then removes it and its replica (del-node) and stops both. Undo: two new nodes join as a primary and its
 * replica, and slots are rebalanced onto the primary.
 */
export async function removeNodeEvent(topology: RunningTopology, onStart: (pid: number) => Promise<void>, log: (what: string,
  ok: boolean) => void): Promise<{ outcome: ScalingOutcome; undo: () => Promise<string> }> {
  const nodes = await liveClusterNodes(topology);
  const primary = primaryOfSlot(nodes, 0);
  if (primary === undefined) throw new Error('no primary serves slot 0');
  const replicas = replicasOf(nodes, primary);
  log(`redis-cli --cluster rebalance starts moving the slots of primary ${primary.host}:${primary.port} (${slotsText(primary)}) to the others (its weight 0)`, true);
  const { ms, moved } = await rebalance(topology, ['--cluster-weight', `${primary.id}=0`]);
  log(`redis-cli --cluster rebalance moved ${moved} slots off primary ${primary.host}:${primary.port} in ${Math.round(ms)} ms`, moved > 0);
  for (const victim of [...replicas, primary]) {
    const server = topology.servers.find((s) => s.port === victim.port);
    if (server === undefined) throw new Error(`node ${victim.host}:${victim.port} is not one cachebench started`);
    await removeNode(topology, server, victim.id);
    log(`removed ${victim.primary ? 'primary' : 'replica'} ${victim.host}:${victim.port} (del-node, then stopped)`, true);
  }
  const balance = await slotBalance(topology);
  return {
    outcome: { action: 'remove-node', node: `${primary.host}:${primary.port}`, migrationMs: Math.round(ms), slotsMoved: moved, balance },
    undo: async () => {
      const added = [await startNode(topology, onStart), await startNode(topology, onStart)];
      const [primaryNode, replica] = added as [RedisServer, RedisServer];
      // As when the cluster was created: the replica meets its primary alone and replicates it before either meets
      // the others, so every later handshake already carries its role.
      const primaryId = await adminCommand(primaryNode, 'CLUSTER', 'MYID');
      await adminCommand(replica, 'CLUSTER', 'MEET', primaryNode.host, String(primaryNode.port));
      await waitUntil(`${replica.host}:${replica.port} to know ${primaryNode.host}:${primaryNode.port}`, 30_000, async () =>
        parseClusterNodes(await adminCommand(replica, 'CLUSTER', 'NODES')).some((n) => n.id === primaryId && n.primary && !n.failing));
      try {
        await adminCommand(replica, 'CLUSTER', 'REPLICATE', primaryId);
      } catch (error: unknown) {
        const view = (await adminCommand(replica, 'CLUSTER', 'NODES')).split('\n').filter((l) => l.trim() !== '');
        const keys = await adminCommand(replica, 'DBSIZE');
        throw new Error(`CLUSTER REPLICATE ${primaryId} on ${replica.host}:${replica.port} (${keys} keys): ${error instanceof Error ? error.message : String(error)}; its view: ${view.join(' | ')}`);
      }
      await join(topology, added);
      await rebalance(topology, ['--cluster-use-empty-masters']);
      return `started ${(added[0] as RedisServer).host}:${(added[0] as RedisServer).port} (primary) and ${(added[1] as RedisServer).host}:${(added[1] as RedisServer).port} (its replica) and rebalanced slots onto them`;
    },
  };
}
