import { readFileSync } from 'node:fs';
import type { FaultPlan } from '../config/resolve.js';
import { FaultWait } from './clock.js';
import type { FaultInjector } from './nemesis.js';
import { parseClusterNodes, primaryOfSlot, replicasOf, slotsText } from '../targets/cluster-nodes.js';
import { adminCommand, waitUntil, type RedisServer } from '../local/redis.js';
import type { RunningTopology } from '../local/topologies.js';
import { addNode, liveClusterNodes, redirectionCounts, redirectionsBetween, removeNodeEvent, type ScalingOutcome } from '../local/scaling.js';
import { sentinelPrimary } from '../local/sentinel.js';

/** How long healing may take (a restarted node rejoining, a replica resyncing) before it is reported as failed. */
export const HEAL_WAIT_MS = 30_000;

/** Resident memory of a process in bytes (VmRSS), or 0 once it is gone. */
function rssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] !== undefined ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0; // the process has exited (or is being restarted)
  }
}

/**
 * The server a fault hits, and how to say it: REDIS_CLUSTER's primary of slot 0 (or its replica), the twemproxies' first
 * backend, REDIS_SINGLE's server, MEMCACHED_POOL's first server.
 */
export async function victim(topology: RunningTopology, kind: FaultPlan['kind']): Promise<{ server: RedisServer; role: string }> {
  if (topology.name === 'REDIS_CLUSTER') {
    const nodes = await liveClusterNodes(topology);
    const primary = primaryOfSlot(nodes, 0);
    if (primary === undefined) throw new Error('no primary serves slot 0');
    const node = kind === 'kill-replica' ? replicasOf(nodes, primary)[0] : primary;
    if (node === undefined) throw new Error(`primary ${primary.host}:${primary.port} has no replica`);
    const server = topology.servers.find((s) => s.port === node.port);
    if (server === undefined) throw new Error(`node ${node.host}:${node.port} is not one cachebench started`);
    return { server, role: kind === 'kill-replica' ? `replica of the primary of slots ${slotsText(primary)}` : `primary of slots ${slotsText(primary)}` };
  }
  if (topology.sentinel !== undefined) {
    // REDIS_SENTINEL: whichever server the sentinels name as master now (an earlier fault may have moved it).
    const primary = await sentinelPrimary(topology.sentinel.sentinels);
    const server = kind === 'kill-replica'
      ? topology.servers.find((s) => `${s.host}:${s.port}` !== primary && !s.process.hasExited())
      : topology.servers.find((s) => `${s.host}:${s.port}` === primary);
    if (server === undefined) throw new Error(primary === undefined ? 'no sentinel named a master' : `the sentinels' master ${primary} is not a server cachebench started`);
    return { server, role: kind === 'kill-replica' ? `replica of ${primary ?? '?'}` : 'primary (the sentinels\' master)' };
  }
  const server = topology.servers[0];
  if (server === undefined) throw new Error(`${topology.name} has no server`);
  const role = { TWEMPROXY: 'twemproxy backend1', TWEMPROXY_MEMCACHED: 'twemproxy backend1', MEMCACHED_POOL: `1 of the pool's ${topology.servers.length} servers (its keys have nowhere else to go)` }[topology.name as string];
  return { server, role: role ?? 'the only server' };
}

/**
 * REDIS_SENTINEL healed: every sentinel names the same master, which says role:master with every other server as a
 * connected replica whose link is up (a restarted old primary is made a replica by the sentinels first).
 */
export async function sentinelHealthy(topology: RunningTopology): Promise<void> {
  const sentinels = topology.sentinel?.sentinels ?? [];
  await waitUntil(`${topology.name} to heal (one master the sentinels agree on, every replica linked)`, HEAL_WAIT_MS, async () => {
    const named = await Promise.all(sentinels.map((s) => sentinelPrimary([s])));
    const primary = named[0];
    if (primary === undefined || named.some((n) => n !== primary)) return false;
    const master = topology.servers.find((s) => `${s.host}:${s.port}` === primary);
    if (master === undefined) return false;
    const info = await adminCommand(master, 'INFO', 'replication');
    if (!info.includes('role:master') || !info.includes(`connected_slaves:${topology.servers.length - 1}`)) return false;
    for (const r of topology.servers.filter((s) => s !== master)) {
      if (!(await adminCommand(r, 'INFO', 'replication')).includes('master_link_status:up')) return false;
    }
    return true;
  });
}

/** Waits until a healed topology serves as before: the cluster whole, the sentinels agreed, or every server answering. */
export async function topologyHealthy(topology: RunningTopology): Promise<void> {
  if (topology.name === 'REDIS_CLUSTER') await clusterHealthy(topology);
  else if (topology.sentinel !== undefined) await sentinelHealthy(topology);
  else await Promise.all(topology.servers.map((s) => waitUntil(`${s.process.name.split(':')[0] ?? 'server'} on ${s.host}:${s.port}`, HEAL_WAIT_MS, () => s.ready())));
}

/** Waits until every node says cluster_state:ok, no node is flagged failing, and every primary has a replica linked. */
export async function clusterHealthy(topology: RunningTopology): Promise<void> {
  await waitUntil(`${topology.name} to heal`, HEAL_WAIT_MS, async () => {
    for (const server of topology.servers) {
      const info = await adminCommand(server, 'CLUSTER', 'INFO');
      if (!info.includes('cluster_state:ok')) return false;
      const nodes = parseClusterNodes(await adminCommand(server, 'CLUSTER', 'NODES'));
      if (nodes.length !== topology.servers.length || nodes.some((n) => n.failing)) return false;
      if (nodes.filter((n) => n.primary && n.slots.length > 0).some((p) => replicasOf(nodes, p).length === 0)) return false;
      if (!nodes.find((n) => n.flags.includes('myself'))?.primary) {
        if (!(await adminCommand(server, 'INFO', 'replication')).includes('master_link_status:up')) return false;
      }
    }
    return true;
  });
}

/**
 * The destructive faults (kill-primary, pause-primary, restart-primary, kill-replica) on a local topology cachebench
 * started: signals go to the server's own PID. Heal restarts what is still down on its own port and waits until the
 * topology serves as before (a cluster: every slot covered, every primary with a linked replica), so the next
 * target starts from the same shape.
 */
export function localInjector(topology: RunningTopology, plan: FaultPlan, onRespawn: (pid: number) => Promise<void> = () => Promise.resolve()): FaultInjector {
  return new LocalInjector(topology, plan, onRespawn);
}

const serverName = (s: RedisServer): string => `${s.process.name.split(':')[0] ?? 'server'} ${s.host}:${s.port} (pid ${s.process.pid})`;

class LocalInjector implements FaultInjector {
  readonly #topology: RunningTopology;
  readonly #plan: FaultPlan;
  readonly #onRespawn: (pid: number) => Promise<void>;
  #down: RedisServer | undefined;
  #paused: RedisServer | undefined;
  #restarting: Promise<void> | undefined;
  #scaling: ScalingOutcome | null = null;
  #undoScaling: (() => Promise<string>) | undefined;
  /** FAULT_DURATION's wait of a pause or a restart, ended at once by healing (also on Ctrl-C). */
  readonly #duration = new FaultWait();
  #injecting: Promise<void> | undefined;
  readonly redirections?: () => Promise<() => Promise<{ moved: number; ask: number }>>;

  constructor(topology: RunningTopology, plan: FaultPlan, onRespawn: (pid: number) => Promise<void>) {
    this.#topology = topology;
    this.#plan = plan;
    this.#onRespawn = onRespawn;
    if (topology.name === 'REDIS_CLUSTER') this.redirections = () => redirectionProbe(topology);
  }

  // The FaultInjector members are own arrow properties, not prototype methods: an injector may be spread into another
  // (as injectorFor does with the failover and command injectors) and must keep them.
  readonly inject = (log: (what: string, ok: boolean) => void): Promise<void> => {
    this.#injecting = this.#makeFault(log);
    return this.#injecting;
  };

  readonly heal = async (): Promise<string | null> => {
    this.#duration.end();
    // A fault still being made (Ctrl-C while the victim is looked up, slots migrate, or a pause waits) finishes first,
    // so that what it did is what gets undone.
    await this.#injecting?.catch(() => undefined);
    return this.#undo();
  };

  readonly memory = (): { totalBytes: number; maxBytes: number } => topologyMemory(this.#topology);

  readonly scaling = (): ScalingOutcome | null => this.#scaling;

  #watching = false;

  /**
   * REDIS_SENTINEL: from the fault on, the sentinels are asked every 100 ms which server is master, until one other than
   * the victim is named (said with the sentinels' timings) or the topology is healed.
   */
  #watchPromotion(victimServer: RedisServer, log: (what: string, ok: boolean) => void): void {
    const s = this.#topology.sentinel;
    if (s === undefined) return;
    const before = `${victimServer.host}:${victimServer.port}`;
    const started = performance.now();
    this.#watching = true;
    void (async () => {
      while (this.#watching) {
        const now = await sentinelPrimary(s.sentinels);
        if (now !== undefined && now !== before) {
          log(`the sentinels name ${now} as master, ${Math.round(performance.now() - started)} ms after the fault (down-after-milliseconds ${s.downAfterMs}, failover-timeout ${s.failoverTimeoutMs})`, true);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
  }

  /** Puts a restarted server in its predecessor's place (and CPU placement, through onRespawn). */
  async #replace(old: RedisServer, next: RedisServer): Promise<void> {
    await this.#onRespawn(next.process.pid);
    const topology = this.#topology;
    const i = topology.servers.indexOf(old);
    if (i >= 0) topology.servers[i] = next;
    const j = topology.processes.indexOf(old.process);
    if (j >= 0) topology.processes[j] = next.process;
  }

  async #makeFault(log: (what: string, ok: boolean) => void): Promise<void> {
    const kind = this.#plan.kind;
    if (kind === 'add-node' || kind === 'remove-node') {
      const event = await (kind === 'add-node' ? addNode : removeNodeEvent)(this.#topology, this.#onRespawn, log);
      this.#scaling = event.outcome;
      this.#undoScaling = event.undo;
      return;
    }
    const { server, role } = await victim(this.#topology, kind);
    if (kind !== 'kill-replica') this.#watchPromotion(server, log);
    switch (kind) {
      case 'kill-primary':
      case 'kill-replica':
        server.process.intendExit();
        process.kill(server.process.pid, 'SIGKILL');
        this.#down = server;
        log(`SIGKILL ${serverName(server)}, ${role}`, true);
        return;
      case 'pause-primary':
        process.kill(server.process.pid, 'SIGSTOP');
        this.#paused = server;
        log(`SIGSTOP ${serverName(server)}, ${role}`, true);
        await this.#duration.wait(this.#plan.durationMs);
        if (this.#paused === server) {
          process.kill(server.process.pid, 'SIGCONT');
          this.#paused = undefined;
          log(`SIGCONT ${serverName(server)}`, true);
        }
        return;
      case 'restart-primary':
        this.#restarting = this.#restart(server, role, log);
        await this.#restarting;
        return;
      default:
        throw new Error(`FAULT=${kind} is not a local fault`);
    }
  }

  /** restart-primary: SIGKILL now, started again on its port (empty) after FAULT_DURATION unless healing came first. */
  async #restart(server: RedisServer, role: string, log: (what: string, ok: boolean) => void): Promise<void> {
    server.process.intendExit();
    process.kill(server.process.pid, 'SIGKILL');
    this.#down = server;
    const killedAt = performance.now();
    log(`SIGKILL ${serverName(server)}, ${role}`, true);
    await this.#duration.wait(this.#plan.durationMs);
    if (this.#down !== server) return;
    const next = await server.respawn();
    await this.#replace(server, next);
    this.#down = undefined;
    log(`started ${serverName(next)} again on its port, ${Math.round(performance.now() - killedAt)} ms after the kill (no persistence: empty)`, true);
  }

  /** Puts back what the fault took: SIGCONT, a restart on the same port, the scaling undone; waits until it serves. */
  async #undo(): Promise<string | null> {
    const done: string[] = [];
    if (this.#paused !== undefined) {
      process.kill(this.#paused.process.pid, 'SIGCONT');
      done.push(`SIGCONT ${serverName(this.#paused)}`);
      this.#paused = undefined;
    }
    await this.#restarting?.catch(() => undefined); // a failed restart leaves `down` set: restarted below
    if (this.#down !== undefined) {
      const old = this.#down;
      const next = await old.respawn();
      await this.#replace(old, next);
      this.#down = undefined;
      done.push(`started ${serverName(next)} again on its port (empty)`);
    }
    if (this.#undoScaling !== undefined) {
      const revert = this.#undoScaling;
      this.#undoScaling = undefined;
      done.push(await revert());
    }
    await topologyHealthy(this.#topology);
    this.#watching = false;
    return done.length > 0 ? done.join('; ') : null;
  }
}

/** A snapshot of a cluster's MOVED/ASK counts; the function it returns gives those sent since. */
export async function redirectionProbe(topology: RunningTopology): Promise<() => Promise<{ moved: number; ask: number }>> {
  const before = await redirectionCounts(topology);
  return async () => redirectionsBetween(before, await redirectionCounts(topology));
}

/** Resident memory of a topology's processes now: their total and the largest one. */
export function topologyMemory(topology: RunningTopology): { totalBytes: number; maxBytes: number } {
  const sizes = topology.processes.map((p) => rssBytes(p.pid));
  return { totalBytes: sizes.reduce((a, b) => a + b, 0), maxBytes: sizes.reduce((a, b) => Math.max(a, b), 0) };
}
