import type { FaultPlan } from '../config/resolve.js';
import { FaultWait } from './clock.js';
import type { FaultInjector, PartitionServerSide } from './nemesis.js';
import { keySlot, parseClusterNodes, primaryOfSlot, replicasOf, slotsText, type ClusterNode } from '../targets/cluster-nodes.js';
import { adminCommand, localCall } from '../targets/admin.js';
import type { RedisServer } from '../local/redis.js';
import type { PrivateNetwork } from '../local/netns.js';
import type { RunningTopology } from '../local/topologies.js';
import { liveClusterNodes } from '../local/scaling.js';
import { sentinelPrimary } from '../local/sentinel.js';
import { topologyHealthy, topologyMemory, victim } from './local.js';

/** How often each side's own view of who owns the minority's slots is read while a partition lasts and heals. */
export const CLAIM_EVERY_MS = 100;

/** A partition injector: a FaultInjector that tells which keys' writes land on the minority side, and what it saw. */
export type PartitionInjector = FaultInjector & Required<Pick<FaultInjector, 'onMinority' | 'partition' | 'partitionOver'>>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const label = (s: RedisServer, role: string): string => `${s.host}:${s.port} (${role})`;

/** The server a cluster node is, by port (ports are unique within a deployment). */
function serverOf(topology: RunningTopology, node: ClusterNode): RedisServer {
  const server = topology.servers.find((s) => s.port === node.port && !s.process.hasExited());
  if (server === undefined) throw new Error(`node ${node.host}:${node.port} is not one cachebench started`);
  return server;
}

/** Calls of write commands so far, per the server's INFO commandstats. */
async function writeCalls(server: RedisServer, writes: ReadonlySet<string>): Promise<number> {
  const info = await adminCommand(server, 'INFO', 'commandstats');
  let n = 0;
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (writes.has((match[1] as string).split('|')[0] as string)) n += Number(match[2]);
  return n;
}

/** Whether a node, by its own CLUSTER NODES, is a primary serving `slot`; null when it does not answer. */
async function claims(server: RedisServer, slot: number | 'role'): Promise<boolean | null> {
  try {
    // A Sentinel deployment's server claims to be primary by its role.
    if (slot === 'role') return (await adminCommand(server, 'INFO', 'replication')).includes('role:master');
    const me = parseClusterNodes(await adminCommand(server, 'CLUSTER', 'NODES')).find((n) => n.flags.includes('myself'));
    return me !== undefined && me.primary && me.slots.some(([a, b]) => slot >= a && slot <= b);
  } catch (error: unknown) {
    void error; // cut from the host too (partition-client), or busy: no claim either way
    return null;
  }
}

/**
 * One minority primary watched: its slots (the first one is asked about), the replicas on the other side that may be
 * promoted in its place, and whether it was seen refusing writes (cluster_state:fail): from then on it acknowledges none.
 */
interface Watch {
  /** cluster: claims and state from CLUSTER NODES and CLUSTER INFO; sentinel: from the role (a standalone primary never refuses writes). */
  readonly by: 'cluster' | 'sentinel';
  readonly primary: RedisServer;
  readonly slots: readonly (readonly [number, number])[];
  readonly candidates: readonly RedisServer[];
  stopped: boolean;
}

/** The sides of a partition of the cluster: the groups cut from each other and the minority primaries. */
interface Plan {
  readonly groups: readonly (readonly RedisServer[])[];
  readonly minority: readonly string[];
  readonly watches: readonly Watch[];
}

/**
 * REDIS_SENTINEL's partition-primary: the sentinels' master cut from its replicas and the sentinels (the client still
 * reaches it, and it keeps taking writes: Redis has no cluster state to refuse them by); the replicas may be promoted.
 */
async function sentinelPlan(topology: RunningTopology): Promise<Plan> {
  const sentinels = topology.sentinel?.sentinels ?? [];
  const { server: primary, role } = await victim(topology, 'partition-primary');
  const replicas = topology.servers.filter((s) => s !== primary);
  return {
    groups: [[primary], [...replicas, ...sentinels]],
    minority: [label(primary, role)],
    watches: [{ by: 'sentinel', primary, slots: [[0, 16383]], candidates: replicas, stopped: false }],
  };
}

/** Who is cut from whom, by kind: the primary of slot 0 alone, it and a replica of another primary, or every node alone. */
async function clusterPlan(topology: RunningTopology, kind: FaultPlan['kind']): Promise<Plan> {
  const nodes = await liveClusterNodes(topology);
  const p0 = primaryOfSlot(nodes, 0);
  if (p0 === undefined) throw new Error('no primary serves slot 0');
  const primaries = nodes.filter((n) => n.primary && !n.failing && n.slots.length > 0);
  // The replicas that may be promoted in a minority primary's place: those on the other side (island: all of them, each
  // alone; a promotion can still come once the links are back and the stale failure reports meet).
  const watchOf = (p: ClusterNode, others: readonly ClusterNode[] | 'all'): Watch => ({
    by: 'cluster', primary: serverOf(topology, p), slots: p.slots, stopped: false,
    candidates: replicasOf(nodes, p).filter((r) => others === 'all' || others.includes(r)).map((r) => serverOf(topology, r)),
  });
  if (kind === 'island') {
    const all = nodes.map((n) => serverOf(topology, n));
    return {
      groups: all.map((s) => [s]), minority: primaries.map((p) => label(serverOf(topology, p), `primary of slots ${slotsText(p)}, alone`)),
      watches: primaries.map((p) => watchOf(p, 'all')),
    };
  }
  const minorityNodes = [p0];
  if (kind === 'partition-split') {
    const other = primaries.find((p) => p !== p0);
    const replica = other !== undefined ? replicasOf(nodes, other)[0] : undefined;
    if (replica === undefined) throw new Error('no replica of another primary to put on the minority side');
    minorityNodes.push(replica);
  }
  const majorityNodes = nodes.filter((n) => !minorityNodes.includes(n));
  return {
    groups: [minorityNodes.map((n) => serverOf(topology, n)), majorityNodes.map((n) => serverOf(topology, n))],
    minority: minorityNodes.map((n) => {
      const of = nodes.find((x) => x.id === n.primaryId);
      return label(serverOf(topology, n), n.primary ? `primary of slots ${slotsText(n)}` : `replica of ${of !== undefined ? `${of.host}:${of.port}` : 'another primary'}`);
    }),
    watches: [watchOf(p0, majorityNodes)],
  };
}

/**
 * The partition faults on a local topology in network namespaces (netns.ts): the links are cut with blackhole routes
 * at FAULT_AT and given back after FAULT_DURATION. While cut and after, each side's own view of the minority primary's
 * slots is read every CLAIM_EVERY_MS from the host (which every node can still reach, except the one cut from the
 * client): when the minority stopped taking writes, when the majority promoted a replica, how long both claimed the
 * slots. The minority primaries' write commands are counted from INFO commandstats: none means no write reached them,
 * and the fault did not go as planned.
 */
export function partitionInjector(topology: RunningTopology, plan: FaultPlan, options: PartitionOptions = {}): PartitionInjector {
  return new Partition(topology, plan, options);
}

export interface PartitionOptions {
  /**
   * partition-client for a client that keeps a cache (`<NAME>_CACHE=tracking`): the CLIENT SETNAME names of its
   * connections. Only those with CLIENT TRACKING on are cut (its cache's invalidation channels), so other clients (the
   * writer beside the cache, the read-back, other targets' clients) still reach the primary and keep replacing what the
   * cache holds.
   */
  readonly trackingClient?: readonly string[];
}

/** GLIDE names its cluster management connections itself (they track too, CLIENT TRACKING ON BCAST). */
export const GLIDE_MANAGEMENT_NAME = 'glide_management_connection';

/** The host-side ports of the connections from `address` with one of `names` and CLIENT TRACKING on (flag t), by CLIENT LIST. */
export function trackingPorts(clientList: string, address: string, names: readonly string[]): number[] {
  const ports: number[] = [];
  for (const line of clientList.split('\n').slice(0, 10_000)) {
    const field = (key: string): string | undefined => new RegExp(` ${key}=(\\S*) `).exec(` ${line} `)?.[1];
    const addr = /^(.*):(\d+)$/.exec(field('addr') ?? '');
    if (addr?.[1] === address && names.includes(field('name') ?? '') && field('flags')?.includes('t') === true) ports.push(Number(addr[2]));
  }
  return ports;
}

class Partition implements PartitionInjector {
  readonly #topology: RunningTopology;
  readonly #plan: FaultPlan;
  readonly #options: PartitionOptions;
  #sides: Plan | undefined;
  #cutAt: number | null = null;
  #healedAt: number | null = null;
  #writes: ReadonlySet<string> = new Set();
  #before: number[] = [];
  #applied: number | null = null;
  #stoppedAfter: number | null = null;
  #promotedAfter: number | null = null;
  #dualMs = 0;
  #dualWritableMs = 0;
  #convergedAfter: number | null = null;
  #watching: Promise<void> | undefined;
  #stopWatching = false;
  /** FAULT_DURATION's wait, ended at once by healing (also on Ctrl-C). */
  readonly #duration = new FaultWait();
  #injecting: Promise<void> | undefined;
  #minority: readonly string[] = [];

  constructor(topology: RunningTopology, plan: FaultPlan, options: PartitionOptions) {
    this.#topology = topology;
    this.#plan = plan;
    this.#options = options;
  }

  get #network(): PrivateNetwork {
    const network = this.#topology.network;
    if (network === undefined) throw new Error(`${this.#topology.name} is not in network namespaces (--network namespaces)`);
    return network;
  }

  readonly partitionOver = (): boolean => this.#healedAt !== null && (this.#sides === undefined || this.#convergedAfter !== null);

  /** While cut: the key's slot is a minority primary's that was not yet seen refusing writes. */
  readonly onMinority = (key: string): boolean => {
    if (this.#cutAt === null || this.#healedAt !== null || this.#sides === undefined) return false;
    const slot = keySlot(key);
    return this.#sides.watches.some((w) => !w.stopped && w.slots.some(([a, b]) => slot >= a && slot <= b));
  };

  readonly memory = (): { totalBytes: number; maxBytes: number } => topologyMemory(this.#topology);

  readonly inject = (log: (what: string, ok: boolean) => void): Promise<void> => {
    this.#injecting = this.#make(log);
    return this.#injecting;
  };

  readonly heal = async (): Promise<string | null> => {
    this.#duration.end();
    await this.#injecting?.catch(() => undefined);
    const routes = this.#topology.network?.healAll() ?? 0;
    this.#stopWatching = true;
    await this.#watching;
    await topologyHealthy(this.#topology);
    return routes > 0 ? `removed ${routes} blackhole routes left by the partition` : null;
  };

  readonly partition = (): PartitionServerSide | null => {
    if (this.#cutAt === null) return null;
    return {
      claims: this.#topology.sentinel !== undefined ? 'role' : 'slots',
      minority: this.#minority,
      minorityPrimaries: this.#sides?.watches.map((w) => `${w.primary.host}:${w.primary.port}`) ?? [],
      minorityAppliedWrites: this.#applied,
      cutMs: Math.round((this.#healedAt ?? performance.now()) - this.#cutAt),
      minorityStoppedAfterMs: this.#stoppedAfter,
      promotedAfterMs: this.#promotedAfter,
      dualOwnershipMs: Math.round(this.#dualMs),
      dualWritableMs: Math.round(this.#dualWritableMs),
      convergedAfterHealMs: this.#convergedAfter,
    };
  };

  async #make(log: (what: string, ok: boolean) => void): Promise<void> {
    const network = this.#network;
    if (this.#plan.kind === 'partition-client') {
      await this.#cutClient(network, log);
      return;
    }
    const plan = this.#topology.sentinel !== undefined ? await sentinelPlan(this.#topology) : await clusterPlan(this.#topology, this.#plan.kind);
    this.#sides = plan;
    this.#minority = plan.minority;
    const primaries = plan.watches.map((w) => w.primary);
    this.#writes = new Set((await localCall(primaries[0] as RedisServer, 'COMMAND', 'LIST', 'FILTERBY', 'ACLCAT', 'write') as string[]).map((c) => c.toLowerCase()));
    this.#before = await Promise.all(primaries.map((p) => writeCalls(p, this.#writes)));
    const groups = plan.groups.map((g) => g.map((s) => s.host));
    for (let i = 0; i < groups.length; i++) for (let j = i + 1; j < groups.length; j++) network.cut(groups[i] as string[], groups[j] as string[]);
    this.#cutAt = performance.now();
    log(`cut ${this.#plan.kind === 'island' ? 'every node from every other' : `${plan.minority.join(' and ')} from the other ${groups[1]?.length ?? 0} nodes`} ` +
      '(blackhole routes in their namespaces; the client still reaches every node)', true);
    this.#watching = this.#watch(plan.watches, log);
    await this.#duration.wait(this.#plan.durationMs);
    try {
      const after = await Promise.all(primaries.map((p) => writeCalls(p, this.#writes)));
      this.#applied = after.reduce((sum, n, i) => sum + n - (this.#before[i] ?? 0), 0);
    } catch (error: unknown) {
      log(`could not read the minority primaries' commandstats: ${error instanceof Error ? error.message : String(error)}`, false);
    }
    const routes = network.healAll();
    this.#healedAt = performance.now();
    log(`links back after ${Math.round(this.#healedAt - this.#cutAt)} ms (${routes} blackhole routes removed)`, true);
    if (this.#applied === 0) {
      log(`no write reached the minority primar${primaries.length === 1 ? 'y' : 'ies'} while cut (INFO commandstats): nothing was at risk, the partition did not happen as planned ` +
        '(FAULT_AT after the writes ended, or a client that stopped sending to a node it could not trust?)', false);
    }
  }

  /** partition-client: the host's address (the client's) cut from the primary of slot 0, or the first server. */
  async #cutClient(network: PrivateNetwork, log: (what: string, ok: boolean) => void): Promise<void> {
    // The server kill-primary would hit (slot 0's primary, the sentinels' master, twemproxy's first backend: twemproxy
    // runs where the client does, so it is the one cut).
    const { server: victimServer, role } = await victim(this.#topology, 'partition-client');
    this.#minority = [label(victimServer, role)];
    if (this.#options.trackingClient !== undefined) {
      await this.#cutTracking(network, victimServer, role, this.#options.trackingClient, log);
      return;
    }
    network.cut([network.hostAddress], [victimServer.host]);
    this.#cutAt = performance.now();
    log(`cut the client's address ${network.hostAddress} from ${label(victimServer, role)}`, true);
    // The cut is checked from where the client is, while the fault lasts: a PING from the host must get no answer
    // (an answer comes within milliseconds when the link is up; none is waited for after the heal).
    let answered = false;
    void adminCommand(victimServer, 'PING').then(() => {
      if (this.#healedAt === null) answered = true;
    }, () => undefined);
    await this.#duration.wait(this.#plan.durationMs);
    if (answered) log(`${label(victimServer, role)} still answered a PING from the client's address: the link was not cut`, false);
    const routes = network.healAll();
    this.#healedAt = performance.now();
    log(`link back after ${Math.round(this.#healedAt - this.#cutAt)} ms (${routes} blackhole route removed)`, true);
  }

  /** partition-client of a cached client: its tracking connections to the victim cut, every other connection kept. */
  async #cutTracking(network: PrivateNetwork, victimServer: RedisServer, role: string, names: readonly string[],
    log: (what: string, ok: boolean) => void): Promise<void> {
    const ports = trackingPorts(await adminCommand(victimServer, 'CLIENT', 'LIST'), network.hostAddress, names);
    network.cutFlows(victimServer.host, ports);
    this.#cutAt = performance.now();
    log(`cut the client's ${ports.length} connection${ports.length === 1 ? '' : 's'} with CLIENT TRACKING on (its cache's invalidation channel) from ${label(victimServer, role)}; ` +
      'the writer beside the cache and the read-back still reach it, and so would new connections', ports.length > 0);
    if (ports.length === 0) {
      log(`${label(victimServer, role)} listed no connection named ${names.join(' or ')} with tracking on from ${network.hostAddress}: nothing was cut, the partition did not happen as planned`, false);
    }
    await this.#duration.wait(this.#plan.durationMs);
    const rules = network.healAll();
    this.#healedAt = performance.now();
    log(`connections given back after ${Math.round(this.#healedAt - this.#cutAt)} ms (${rules} blackhole rule${rules === 1 ? '' : 's'} removed)`, true);
  }

  /** Reads each side's claims every CLAIM_EVERY_MS until they agree again after the links came back, or heal() ends it. */
  async #watch(watches: readonly Watch[], log: (what: string, ok: boolean) => void): Promise<void> {
    const cutAt = this.#cutAt as number;
    let last = performance.now();
    let dual = false;
    let dualWritable = false;
    while (!this.#stopWatching) {
      const sample = await Promise.all(watches.map(async (w) => {
        const slot = w.by === 'sentinel' ? 'role' : w.slots[0]?.[0] ?? 0;
        // state: a cluster node's cluster_state is ok (it takes writes); a Sentinel primary is still the one the sentinels
        // name (clients that follow the sentinels still send to it; it takes writes either way).
        const [own, state, others] = await Promise.all([
          claims(w.primary, slot),
          w.by === 'sentinel'
            ? sentinelPrimary(this.#topology.sentinel?.sentinels ?? []).then((named) => (named === undefined ? null : named === `${w.primary.host}:${w.primary.port}`))
            : adminCommand(w.primary, 'CLUSTER', 'INFO').then((i) => /cluster_state:ok/.test(i), () => null),
          Promise.all(w.candidates.map((c) => claims(c, slot))),
        ]);
        if (state === false && this.#healedAt === null) w.stopped = true;
        return { own, state, writable: w.by === 'sentinel' ? own === true : state === true, promoted: others.some((c) => c === true) };
      }));
      const now = performance.now();
      // The stretch since the last sample counts when both claimed then (and, for writable, the minority one served).
      if (dual) this.#dualMs += now - last;
      if (dualWritable) this.#dualWritableMs += now - last;
      last = now;
      dual = sample.some((s) => s.own === true && s.promoted);
      dualWritable = sample.some((s) => s.own === true && s.writable && s.promoted);
      if (this.#stoppedAfter === null && this.#healedAt === null && sample.some((s) => s.state === false)) this.#stoppedAfter = Math.round(now - cutAt);
      if (this.#promotedAfter === null && sample.some((s) => s.promoted)) {
        this.#promotedAfter = Math.round(now - cutAt);
        log(`a replica claims ${this.#topology.sentinel !== undefined ? 'the primary role' : 'a minority primary\'s slots'}, ${this.#promotedAfter} ms after the cut${this.#healedAt !== null ? ` (${Math.round(now - this.#healedAt)} ms after the links came back)` : ''}`, true);
      }
      if (this.#healedAt !== null && !dual && sample.every((s) => s.own !== true ? true : s.state === true)) {
        this.#convergedAfter = Math.round(now - this.#healedAt);
        log(`no slot claimed twice and every minority primary serving or stepped down, ${this.#convergedAfter} ms after the links came back`, true);
        return;
      }
      await sleep(CLAIM_EVERY_MS);
    }
  }
}
