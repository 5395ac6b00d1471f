import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from './binaries.js';
import { LocalSetupError } from './errors.js';
import { findFreePorts } from './ports.js';
import { startProcess, type ManagedProcess, type ProcessRecorder } from './process.js';
import type { PrivateNetwork } from './netns.js';
import { adminCommand, localCall } from '../targets/admin.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly process: ManagedProcess;
  /**
   * Starts the server again, on the same port with the same arguments (a cluster node keeps its nodes.conf, so it
   * rejoins as the node it was; its data is gone: no persistence), once the old process has exited. Waits for PING.
   */
  respawn(): Promise<RedisServer>;
  /** Whether it serves (PING; memcached: version). */
  ready(): Promise<boolean>;
}

export interface StartRedisOptions {
  /** Folder for the server's files (log, cluster config); nothing is written elsewhere. */
  readonly dir: string;
  readonly cluster?: boolean;
  /** cluster-node-timeout in ms. @default 5000 */
  readonly nodeTimeoutMs?: number;
  /** Ports not to use (already handed out). */
  readonly avoid?: ReadonlySet<number>;
  /** Port to try first (from findFreePorts); another free one is used if it was taken meanwhile. */
  readonly port?: number;
  /** Own process group, so a terminal's Ctrl-C does not reach the server (see ProcessOptions). */
  readonly detached?: boolean;
  /** Let the server outlive this process (`cachebench up`); otherwise it dies with it, also on SIGKILL. */
  readonly persist?: boolean;
  /** Records the server in its deployment's ownership file. */
  readonly recorder?: ProcessRecorder;
  /** Each server in a network namespace of its own on this private network (`--network namespaces`); else 127.0.0.1. */
  readonly network?: PrivateNetwork;
  /** Starts as a replica of this server (REDIS_SENTINEL's replicas). */
  readonly replicaOf?: { readonly host: string; readonly port: number };
}

export { adminCommand };

export async function waitUntil(what: string, deadlineMs: number, check: () => Promise<boolean>, abortIf?: () => string | undefined): Promise<void> {
  const end = Date.now() + deadlineMs;
  let lastError: unknown;
  while (Date.now() < end) {
    const reason = abortIf?.();
    if (reason !== undefined) throw new LocalSetupError(`${what}: ${reason}. Fix: see the server's log line above; check memory and free ports`);
    try {
      if (await check()) return;
    } catch (error: unknown) {
      lastError = error;
    }
    await sleep(50);
  }
  throw new LocalSetupError(`${what}: not ready after ${deadlineMs} ms${lastError instanceof Error ? ` (${lastError.message.replace(/\.$/, '')})` : ''}. Fix: the machine may be overloaded; run again, or start fewer topologies with --local NAME`, { cause: lastError });
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch (error: unknown) {
    return `no log (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
}

/** What one kind of local server needs to start on a port: its program and arguments, a readiness check, and why it exited. */
export interface ServerSpec {
  /** Program name, as in its process name `<kind>:<port>` and in messages. */
  readonly kind: string;
  readonly binary: string;
  readonly args: readonly string[];
  /** Whether it serves (PING; memcached: version). */
  ready(): Promise<boolean>;
  /** Why it exited before serving, e.g. its log's last lines. */
  exitReason(): string;
}

/**
 * Starts a server on `options.port` (or a free loopback port), waits until it serves, and gives it respawn() (same
 * port, same arguments). If the port was grabbed in the meantime, tries another one (three ports at most).
 */
export async function startLocalServer(options: Pick<StartRedisOptions, 'dir' | 'avoid' | 'port' | 'detached' | 'persist' | 'recorder'> & { readonly namespace?: string; readonly host?: string },
  specFor: (port: number) => ServerSpec): Promise<RedisServer> {
  const avoid = new Set(options.avoid ?? []);
  for (let attempt = 1; ; attempt++) {
    const [port] = attempt === 1 && options.port !== undefined ? [options.port] : await findFreePorts(1, avoid);
    if (port === undefined) throw new LocalSetupError('no free loopback port in 10000-19999. Fix: stop servers you no longer need');
    avoid.add(port);
    const spec = specFor(port);
    const launch = async (): Promise<RedisServer> => {
      const proc = startProcess(`${spec.kind}:${port}`, spec.binary, [...spec.args], {
        cwd: options.dir, detached: options.detached === true, persist: options.persist === true,
        ...(options.recorder !== undefined ? { recorder: options.recorder } : {}),
        ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
      });
      try {
        await waitUntil(`${spec.kind} on port ${port}`, 10_000, () => spec.ready(), () => (proc.hasExited() ? `exited: ${spec.exitReason()}` : undefined));
      } catch (error: unknown) {
        await proc.stop();
        throw error;
      }
      return {
        host: options.host ?? '127.0.0.1', port, process: proc,
        ready: () => spec.ready(),
        respawn: async () => {
          await proc.exited;
          return launch();
        },
      };
    };
    try {
      return await launch();
    } catch (error: unknown) {
      // launch() stopped the process; another port is tried (it may have been taken meanwhile).
      if (attempt >= 3) throw error;
    }
  }
}

/**
 * Starts one server per port in parallel (every port is avoided by the others' fallbacks).
 * If any fails, stops those that started and rethrows.
 */
export async function startEach(ports: readonly number[], start: (port: number, avoid: ReadonlySet<number>) => Promise<RedisServer>): Promise<RedisServer[]> {
  const avoid = new Set(ports);
  const starts = await Promise.allSettled(ports.map((port) => start(port, avoid)));
  const started = starts.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = starts.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(started.map((server) => server.process.stop()));
    throw failed.reason;
  }
  return started;
}

/**
 * Starts one redis-server on a free loopback port (no persistence, files in `dir`) and waits for PING.
 * If the port was grabbed in the meantime, tries another one.
 */
export async function startRedisServer(options: StartRedisOptions): Promise<RedisServer> {
  const binary = requireBinary('redis-server');
  // In a namespace of its own it listens on its bridge address only (no password: protected mode would refuse the
  // client, whose connections come from the host's bridge address).
  const node = options.network?.addNode();
  const host = node?.address ?? '127.0.0.1';
  return startLocalServer({ ...options, ...(node !== undefined ? { namespace: node.namespace, host } : {}) }, (port) => {
    const log = join(options.dir, `redis-${port}.log`);
    const args = [
      '--port', String(port), '--bind', host, '--protected-mode', node !== undefined ? 'no' : 'yes',
      '--save', '', '--appendonly', 'no', '--dir', options.dir, '--logfile', log, '--daemonize', 'no',
      // Its own RDB file: a replica's full sync writes one even without `save`, and in the shared folder a server
      // started later (a restart, a node added) would load another's data and claim its slots.
      '--dbfilename', `dump-${port}.rdb`,
      // A replica's first sync starts at once (the default waits 5 s for more replicas to join a diskless sync).
      '--repl-diskless-sync-delay', '0',
      ...(options.replicaOf !== undefined ? ['--replicaof', options.replicaOf.host, String(options.replicaOf.port)] : []),
      ...(options.cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 5000)] : []),
    ];
    return { kind: 'redis-server', binary, args, ready: async () => (await adminCommand({ host, port }, 'PING')) === 'PONG', exitReason: () => logTail(log) };
  });
}

/** Starts one redis-server per port in parallel; if any fails, stops those that started and rethrows. */
export async function startRedisServers(ports: readonly number[], options: Omit<StartRedisOptions, 'port' | 'avoid'>): Promise<RedisServer[]> {
  return startEach(ports, (port, avoid) => startRedisServer({ ...options, port, avoid }));
}

export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  /** Stops every node (by PID). */
  stop(): Promise<void>;
}

export interface StartClusterOptions extends Omit<StartRedisOptions, 'port' | 'avoid' | 'cluster'> {
  /** @default 3 */
  readonly primaries?: number;
  /** @default 1 */
  readonly replicasPerPrimary?: number;
}

/** Polls `check` on every node in parallel (every 50 ms) until all pass. */
function waitForAll(nodes: readonly RedisServer[], what: string, check: (node: RedisServer) => Promise<boolean>): Promise<void> {
  return Promise.all(nodes.map((node) => waitUntil(`cluster node ${node.port} ${what}`, 20_000, () => check(node),
    () => (node.process.hasExited() ? 'exited' : undefined)))).then(() => undefined);
}

/** The slot range [first, last] of primary `index` of `count`, split as evenly as redis-cli does. */
export function slotRange(index: number, count: number): [number, number] {
  return [Math.floor((index * 16384) / count), Math.floor(((index + 1) * 16384) / count) - 1];
}

/** Each node in `from` sends CLUSTER MEET to each node of `to` (itself excepted), all at once. */
async function meet(from: readonly RedisServer[], to: readonly RedisServer[]): Promise<void> {
  await Promise.all(from.flatMap((a) => to.filter((b) => b !== a).map((b) => adminCommand(a, 'CLUSTER', 'MEET', b.host, String(b.port)))));
}

/** CLUSTER NODES of one node, one line per known node. */
async function clusterNodes(node: RedisServer): Promise<string[]> {
  return (await adminCommand(node, 'CLUSTER', 'NODES')).trim().split('\n');
}

/**
 * Joins started cluster-enabled servers directly, without redis-cli's one-second polling.
 * Measured on 2 cores: ready about 2.1 s after the servers start — the floor is Redis's own
 * 2 s delay before a fresh primary turns writable (CLUSTER_WRITABLE_DELAY).
 *  1. The first `primaries` nodes get distinct config epochs (as redis-cli sets them) and their slot ranges.
 *  2. Replica i meets primary i mod `primaries` and, once it knows it, replicates it — before
 *     meeting the others, so every later handshake already carries its role.
 *  3. Every node meets every other (a full mesh: gossip from a single seed took 1–4 s).
 *  4. Once every node knows every other, each meets every other once more: the reply that ends a
 *     handshake does not carry the peer's slots, and waiting for the next ping takes up to
 *     node-timeout/2; the repeated MEET delivers them at once (Redis drops the duplicate handshake).
 */
async function joinCluster(nodes: readonly RedisServer[], primaries: number): Promise<void> {
  const ids = await Promise.all(nodes.map(async (node, i) => {
    await adminCommand(node, 'CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1));
    if (i < primaries) {
      const [first, last] = slotRange(i, primaries);
      await adminCommand(node, 'CLUSTER', 'ADDSLOTSRANGE', String(first), String(last));
    }
    return adminCommand(node, 'CLUSTER', 'MYID');
  }));
  const masters = nodes.slice(0, primaries);
  const replicas = nodes.slice(primaries).map((node, i) => ({ node, primary: masters[i % primaries] as RedisServer, primaryId: ids[i % primaries] as string }));
  await Promise.all(replicas.map(async ({ node, primary, primaryId }) => {
    await meet([node], [primary]);
    await waitForAll([node], `to know its primary ${primary.port}`, async () => (await clusterNodes(node)).some((line) => line.startsWith(`${primaryId} `)));
    await adminCommand(node, 'CLUSTER', 'REPLICATE', primaryId);
  }));
  await meet(nodes, nodes);
  await waitForAll(nodes, 'to know every node', async (node) => {
    const lines = await clusterNodes(node);
    return lines.length === nodes.length && lines.every((line) => !/ [^ ]*(handshake|noaddr)[^ ]* /.test(line));
  });
  await meet(nodes, nodes);
}

/**
 * Makes every node list every replica in CLUSTER SLOTS, which is where clients find replicas to read from
 * (`<NAME>_READ_FROM=replica`). Redis leaves out a replica whose replication offset it knows as 0, and in a fresh
 * cluster that has taken no write every offset is 0 — replica reads would silently go to the primaries.
 *  1. Wait until every replica's link to its primary is up (its first sync, started at once with
 *     repl-diskless-sync-delay 0).
 *  2. FLUSHALL on every (empty) primary: a write that replicates, so every replica's offset moves off 0.
 *  3. Every replica MEETs every other node: the MEET carries its offset at once instead of at the next gossip ping.
 * About 0.1 s here; waited for until every node lists every replica.
 */
async function announceReplicas(nodes: readonly RedisServer[], primaries: number, replicasPerPrimary: number): Promise<void> {
  const replicaNodes = nodes.slice(primaries);
  await waitForAll(replicaNodes, 'to sync with its primary', async (node) => (await adminCommand(node, 'INFO', 'replication')).includes('master_link_status:up'));
  await Promise.all(nodes.slice(0, primaries).map((node) => adminCommand(node, 'FLUSHALL')));
  await waitForAll(replicaNodes, 'to apply its primary\'s first write', async (node) => !/slave_repl_offset:0\r?\n/.test(await adminCommand(node, 'INFO', 'replication')));
  await meet(replicaNodes, nodes);
  await waitForAll(nodes, 'to list every replica in CLUSTER SLOTS', async (node) => {
    const slots = (await localCall(node, 'CLUSTER', 'SLOTS')) as unknown[][];
    return slots.length === primaries && slots.every((range) => range.length - 3 === replicasPerPrimary);
  });
}

/**
 * Starts `primaries` × (1 + `replicasPerPrimary`) cluster-enabled servers in parallel, joins
 * them (slots, replicate, meet; see joinCluster), and waits until every node reports
 * cluster_state:ok with all 16384 slots assigned, every node known and every replica attached.
 */
export async function startRedisCluster(options: StartClusterOptions): Promise<RedisCluster> {
  const primaries = options.primaries ?? 3;
  const replicas = options.replicasPerPrimary ?? 1;
  const nodes: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.process.stop()));
  };
  try {
    const ports = await findFreePorts(primaries * (1 + replicas));
    nodes.push(...(await startRedisServers(ports, {
      dir: options.dir, cluster: true, nodeTimeoutMs: options.nodeTimeoutMs, detached: options.detached, persist: options.persist, recorder: options.recorder,
      network: options.network,
    })));
    await joinCluster(nodes, primaries);
    await waitForAll(nodes, 'to be ready', async (node) => {
      const info = await adminCommand(node, 'CLUSTER', 'INFO');
      if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384') || !info.includes(`cluster_known_nodes:${nodes.length}`)) return false;
      // Every node must also see every replica attached (gossip spreads the roles).
      const roles = (await adminCommand(node, 'CLUSTER', 'NODES')).split('\n').filter((l) => / (myself,)?slave /.test(l));
      return roles.length === primaries * replicas;
    });
    if (replicas > 0) await announceReplicas(nodes, primaries, replicas);
    return { nodes, stop };
  } catch (error: unknown) {
    await stop();
    throw error;
  }
}
