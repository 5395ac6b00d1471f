import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from './binaries.js';
import { LocalSetupError } from './errors.js';
import { findFreePorts } from './ports.js';
import { OwnerFile, LOCAL_DIR_PREFIX } from './owner.js';
import { PrivateNetwork } from './netns.js';
import { procStat } from './procfs.js';
import { MEMCACHE_TOPOLOGIES, type TopologyName } from './catalog.js';
import { startProcess, type ManagedProcess, type ProcessExit, type ProcessRecorder } from './process.js';
import { memcacheServes, startMemcacheds, twemproxyMemcacheConf } from './memcached.js';
import { adminCommand, startRedisCluster, startRedisServer, startRedisServers, waitUntil, type RedisServer } from './redis.js';
import { LOCAL_SENTINEL_MASTER, startSentinelTopology } from './sentinel.js';

export { MEMCACHE_TOPOLOGIES, TOPOLOGIES, TOPOLOGY_DESCRIPTIONS, type TopologyName } from './catalog.js';

export interface RunningTopology {
  readonly name: TopologyName;
  /** The `<NAME>_*` settings that make it a target: SERVERS and MODE (REDIS_SENTINEL: SENTINELS and SENTINEL_MASTER). */
  readonly settings: Readonly<Record<string, string>>;
  /** Every process, in start order; a fault that restarts a server replaces its entry (see faults.ts). */
  readonly processes: ManagedProcess[];
  /** Its cache servers (cluster nodes, twemproxy's backends, the single server, the memcached pool); replaced on restart too. */
  readonly servers: RedisServer[];
  /**
   * REDIS_CLUSTER: starts one more cluster-enabled server like the others (same folder, node timeout, ownership
   * record, lifetime), not yet part of the cluster; the caller adds it to `servers` and `processes` (scaling.ts).
   */
  readonly startNode?: () => Promise<RedisServer>;
  /** The private network its Redis servers live on (`--network namespaces`); absent on loopback. */
  readonly network?: PrivateNetwork;
  /** REDIS_SENTINEL: its sentinels and their timings (`servers` are the primary and replicas; which is primary changes). */
  readonly sentinel?: { readonly sentinels: RedisServer[]; readonly downAfterMs: number; readonly failoverTimeoutMs: number };
  readonly startMs: number;
}

export interface LocalDeployment {
  /** Temporary folder holding every server's files and owner.json; removed by stop(). */
  readonly dir: string;
  /** The private network of `network: 'namespaces'` (removed by stop()); undefined on loopback. */
  readonly network: PrivateNetwork | undefined;
  readonly topologies: readonly RunningTopology[];
  /** Stops every process (by PID) and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Waits (at most `limitMs`) until every server that has died is seen to have exited, so onServerExit has been told
   * before the run reports: a client sees its connection close before Node reaps the killed child.
   */
  settled(limitMs?: number): Promise<void>;
}

export interface StartOptions {
  /** Item size limit of local memcached in bytes (memcached -I; whole MiB): fits the run's largest value. @default 1 MiB */
  readonly memcachedItemSize?: number;
  /**
   * `namespaces`: every Redis server (cluster node, twemproxy backend, single server) in a network namespace of its own
   * on a private bridge (netns.ts), reached by the client through the bridge; partition faults need it. memcached
   * servers and twemproxy itself stay on 127.0.0.1. @default 'loopback'
   */
  readonly network?: 'loopback' | 'namespaces';
  /** cluster-node-timeout of REDIS_CLUSTER in ms. @default 5000 */
  readonly nodeTimeoutMs?: number;
  /**
   * Own process group: a Ctrl-C in the terminal reaches cachebench only, which deletes its keys
   * and then stops the servers. @default false
   */
  readonly detached?: boolean;
  /**
   * Let the processes outlive this one (`cachebench up`). Otherwise they die with it, also on
   * SIGKILL or a crash (setpriv --pdeathsig). @default false
   */
  readonly persist?: boolean;
  /**
   * Absolute path of the state file that will record a persistent deployment (`cachebench up`):
   * while it names the folder, reapLeftovers leaves the deployment alone.
   */
  readonly stateFile?: string;
  /**
   * Called when a server of the deployment exits that we did not stop (a crash, the OOM killer, someone's kill):
   * a run says so, instead of leaving its users with "connection lost". Planned faults' kills are not reported.
   */
  readonly onServerExit?: (process: ManagedProcess, topology: TopologyName | undefined, exit: ProcessExit) => void;
}

/** How each server of one deployment is spawned and recorded. */
interface Spawn {
  readonly dir: string;
  readonly itemSize?: number;
  readonly detached: boolean;
  readonly persist: boolean;
  readonly recorder: ProcessRecorder;
  readonly network?: PrivateNetwork;
}

async function startTwemproxy(spawn: Spawn, protocol: 'redis' | 'memcache' = 'redis'): Promise<{ listen: string; processes: ManagedProcess[]; backends: RedisServer[] }> {
  const binary = requireBinary('nutcracker');
  const dir = spawn.dir;
  const ports = await findFreePorts(5);
  const backends = protocol === 'redis' ? await startRedisServers(ports.slice(0, 3), spawn) : await startMemcacheds(ports.slice(0, 3), spawn);
  const processes: ManagedProcess[] = backends.map((b) => b.process);
  try {
    // The proxy's ports are free until it binds them; should one be taken meanwhile, two more pairs are tried.
    for (let attempt = 1; ; attempt++) {
      const [port, statsPort] = (attempt === 1 ? ports.slice(3) : await findFreePorts(2)) as [number, number];
      const conf = join(dir, `nutcracker-${port}.yml`);
      writeFileSync(conf, protocol === 'memcache' ? twemproxyMemcacheConf(port, backends) : [
        'cachebench:',
        `  listen: 127.0.0.1:${port}`,
        '  hash: fnv1a_64',
        '  distribution: ketama',
        '  redis: true',
        '  auto_eject_hosts: false',
        '  timeout: 5000',
        '  servers:',
        ...backends.map((b, i) => `    - ${b.host}:${b.port}:1 backend${i + 1}`),
        '',
      ].join('\n'));
      const proc = startProcess(`nutcracker:${port}`, binary,
        ['-c', conf, '-s', String(statsPort), '-a', '127.0.0.1', '-o', join(dir, `nutcracker-${port}.log`), '-p', join(dir, `nutcracker-${port}.pid`)], { ...spawn, cwd: dir });
      processes.push(proc);
      const serves = protocol === 'memcache' ? () => memcacheServes(port, 'cachebench:probe') : async () => (await adminCommand(port, 'PING')) === 'PONG';
      try {
        await waitUntil(`nutcracker on port ${port}`, 10_000, serves,
          () => (proc.hasExited() ? 'exited (see nutcracker log)' : undefined));
      } catch (error: unknown) {
        await proc.stop();
        processes.pop();
        if (attempt >= 3) throw error;
        continue;
      }
      return { listen: `127.0.0.1:${port}`, processes, backends };
    }
  } catch (error: unknown) {
    await Promise.all(processes.map((p) => p.stop()));
    throw error;
  }
}

async function startOne(name: TopologyName, spawn: Spawn, options: StartOptions): Promise<RunningTopology> {
  const started = performance.now();
  switch (name) {
    case 'REDIS_CLUSTER': {
      const cluster = await startRedisCluster({ ...spawn, ...(options.nodeTimeoutMs !== undefined ? { nodeTimeoutMs: options.nodeTimeoutMs } : {}) });
      const servers = [...cluster.nodes];
      return {
        name,
        settings: { REDIS_CLUSTER_SERVERS: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','), REDIS_CLUSTER_MODE: 'cluster' },
        processes: cluster.nodes.map((n) => n.process),
        servers,
        startNode: () => startRedisServer({
          ...spawn, cluster: true, avoid: new Set(servers.map((n) => n.port)),
          ...(options.nodeTimeoutMs !== undefined ? { nodeTimeoutMs: options.nodeTimeoutMs } : {}),
        }),
        ...(spawn.network !== undefined ? { network: spawn.network } : {}),
        startMs: performance.now() - started,
      };
    }
    case 'TWEMPROXY': {
      const proxy = await startTwemproxy(spawn);
      return { name, settings: { TWEMPROXY_SERVERS: proxy.listen, TWEMPROXY_MODE: 'proxy' }, processes: proxy.processes, servers: proxy.backends,
        ...(spawn.network !== undefined ? { network: spawn.network } : {}), startMs: performance.now() - started };
    }
    case 'REDIS_SINGLE': {
      const server = await startRedisServer(spawn);
      return { name, settings: { REDIS_SINGLE_SERVERS: `${server.host}:${server.port}`, REDIS_SINGLE_MODE: 'standalone' }, processes: [server.process], servers: [server],
        ...(spawn.network !== undefined ? { network: spawn.network } : {}), startMs: performance.now() - started };
    }
    case 'REDIS_SENTINEL': {
      const d = await startSentinelTopology(spawn, options.nodeTimeoutMs ?? 5000);
      return {
        name, settings: { REDIS_SENTINEL_SENTINELS: d.sentinels.map((s) => `${s.host}:${s.port}`).join(','), REDIS_SENTINEL_SENTINEL_MASTER: LOCAL_SENTINEL_MASTER },
        processes: [...d.servers, ...d.sentinels].map((s) => s.process), servers: d.servers,
        sentinel: { sentinels: d.sentinels, downAfterMs: d.downAfterMs, failoverTimeoutMs: d.failoverTimeoutMs },
        ...(spawn.network !== undefined ? { network: spawn.network } : {}), startMs: performance.now() - started,
      };
    }
    case 'MEMCACHED_POOL': {
      const servers = await startMemcacheds(await findFreePorts(3), spawn);
      return {
        name, settings: { MEMCACHED_POOL_SERVERS: servers.map((s) => `${s.host}:${s.port}`).join(','), MEMCACHED_POOL_PROTOCOL: 'memcache' },
        processes: servers.map((s) => s.process), servers, startMs: performance.now() - started,
      };
    }
    case 'TWEMPROXY_MEMCACHED': {
      const proxy = await startTwemproxy(spawn, 'memcache');
      return {
        name, settings: { TWEMPROXY_MEMCACHED_SERVERS: proxy.listen, TWEMPROXY_MEMCACHED_PROTOCOL: 'memcache', TWEMPROXY_MEMCACHED_MODE: 'proxy' },
        processes: proxy.processes, servers: proxy.backends, startMs: performance.now() - started,
      };
    }
  }
}

/**
 * Checks every binary the named topologies need before starting anything: redis-server, memcached, nutcracker for
 * the twemproxy topologies, and setpriv unless the servers persist (`cachebench up`).
 */
export function checkBinaries(names: readonly TopologyName[], options: { persist?: boolean } = {}): void {
  if (names.some((n) => !MEMCACHE_TOPOLOGIES.includes(n))) requireBinary('redis-server');
  if (names.some((n) => MEMCACHE_TOPOLOGIES.includes(n))) requireBinary('memcached');
  if (names.includes('TWEMPROXY') || names.includes('TWEMPROXY_MEMCACHED')) requireBinary('nutcracker');
  if (options.persist !== true) requireBinary('setpriv');
}

/**
 * Starts the named topologies in parallel on free loopback ports, all files in one new
 * temporary folder (`<tmpdir>/cachebench-local-*`) whose owner.json records this process and
 * every server's PID, so reapLeftovers can stop them should this process die without stop().
 * Unless `persist` is set, the servers die with this process (also on SIGKILL or a crash).
 * On any failure stops what was started and removes the folder.
 */
export async function startLocal(names: readonly TopologyName[], options: StartOptions = {}): Promise<LocalDeployment> {
  const persist = options.persist === true;
  checkBinaries(names, { persist });
  const dir = mkdtempSync(join(tmpdir(), LOCAL_DIR_PREFIX));
  const topologies: RunningTopology[] = [];
  let stopped = false;
  let up = false;
  let recorder: OwnerFile;
  try {
    recorder = new OwnerFile(dir, persist ? 'up' : 'run', options.stateFile);
  } catch (error: unknown) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  // Every process of the deployment (also one a fault restarts) is watched for an exit nobody asked for.
  const watcher: ProcessRecorder = {
    add(p) {
      recorder.add(p);
      void p.exited.then(() => {
        const exit = p.exitStatus();
        // Before the deployment is up, a server that exits is the start's own failure (or a retry on another port).
        if (!up || stopped || exit === undefined || exit.intended) return;
        options.onServerExit?.(p, topologies.find((t) => t.processes.includes(p))?.name, exit);
      });
    },
    remove: (p) => recorder.remove(p),
  };
  let network: PrivateNetwork | undefined;
  if (options.network === 'namespaces') {
    try {
      network = PrivateNetwork.create((r) => recorder.setNetwork(r));
    } catch (error: unknown) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }
  const spawn: Spawn = { dir, detached: options.detached === true, persist, recorder: watcher,
    ...(options.memcachedItemSize !== undefined ? { itemSize: options.memcachedItemSize } : {}), ...(network !== undefined ? { network } : {}) };
  const results = await Promise.allSettled(names.map((name) => startOne(name, spawn, options)));
  topologies.push(...results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])));
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(topologies.flatMap((t) => t.processes.map((p) => p.stop())));
    // The namespaces are empty now (their servers stopped): they go with their veth pairs, then the bridge.
    network?.remove();
    rmSync(dir, { recursive: true, force: true });
  };
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    const reason = failed.reason instanceof Error ? failed.reason.message : String(failed.reason);
    const fix = reason.includes('Fix:') ? '' : '. Fix: run again; if it persists, start the topologies one by one with --local NAME to see which fails';
    throw new LocalSetupError(`a local topology did not start: ${reason}${fix}`, { cause: failed.reason });
  }
  up = true;
  const settled = async (limitMs = 2000): Promise<void> => {
    const dead = topologies.flatMap((t) => t.processes).filter((p) => !p.hasExited() && (procStat(p.pid)?.state ?? 'Z') === 'Z');
    if (dead.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(dead.map((p) => p.exited)), new Promise<void>((resolve) => (timer = setTimeout(resolve, limitMs)))]);
    clearTimeout(timer);
  };
  return { dir, network, topologies, stop, settled };
}
