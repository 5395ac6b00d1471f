import { ConfigError } from '../config/errors.js';
import type { Mode } from '../config/keys.js';
import type { LocalTargetSpec } from '../config/resolve.js';

/**
 * The catalog of local targets: the topologies cachebench can start and the targets measured on them. It imports no
 * driver and no server code, so the CLI's help and its checks before any traffic stay cheap to load.
 */

/** The local topologies, each a target named as here. */
export const TOPOLOGIES = ['REDIS_CLUSTER', 'TWEMPROXY', 'REDIS_SINGLE', 'MEMCACHED_POOL', 'TWEMPROXY_MEMCACHED', 'REDIS_SENTINEL'] as const;
/** Started only when named (`--local REDIS_SENTINEL`): the default run keeps its length. */
const NAMED_ONLY: readonly TopologyName[] = ['REDIS_SENTINEL'];
export type TopologyName = (typeof TOPOLOGIES)[number];

export const TOPOLOGY_DESCRIPTIONS: Readonly<Record<TopologyName, string>> = {
  REDIS_CLUSTER: 'Redis Cluster, 3 primaries + 3 replicas',
  TWEMPROXY: 'twemproxy (ketama, fnv1a_64) over 3 standalone Redis servers',
  REDIS_SINGLE: 'one standalone Redis server',
  MEMCACHED_POOL: '3 memcached servers, sharded by the client (ketama)',
  TWEMPROXY_MEMCACHED: 'twemproxy (ketama, fnv1a_64) in memcache mode over 3 memcached servers',
  REDIS_SENTINEL: 'Redis Sentinel: 1 primary, 2 replicas, 3 sentinels (quorum 2)',
};

/** Topologies whose servers speak memcached's text protocol (their targets have `<NAME>_PROTOCOL=memcache`). */
export const MEMCACHE_TOPOLOGIES: readonly TopologyName[] = ['MEMCACHED_POOL', 'TWEMPROXY_MEMCACHED'];

/** The target mode each local topology is measured in. */
const LOCAL_MODES: Readonly<Record<TopologyName, Mode>> = {
  REDIS_CLUSTER: 'cluster', TWEMPROXY: 'proxy', REDIS_SINGLE: 'standalone', MEMCACHED_POOL: 'auto', TWEMPROXY_MEMCACHED: 'proxy', REDIS_SENTINEL: 'sentinel',
};
/** Options every target on a topology has: the memcached topologies speak memcache. */
const LOCAL_OPTIONS: Readonly<Partial<Record<TopologyName, Readonly<Record<string, string>>>>> = {
  MEMCACHED_POOL: { PROTOCOL: 'memcache' }, TWEMPROXY_MEMCACHED: { PROTOCOL: 'memcache' }, REDIS_SENTINEL: { SENTINEL_MASTER: 'cachebench' },
};
/**
 * Client set-ups measured on a local topology besides its plain target (ioredis; cachebench's own resp in a run of
 * throughput and capacity scenarios only, see config/resolve.ts loadRunClients): the local cluster is also measured
 * through node-redis with its client-side cache (RESP3 tracking) and through Valkey GLIDE, so the default table shows
 * the client's effect next to the topology's.
 */
export const LOCAL_VARIANTS: Readonly<Partial<Record<TopologyName, readonly { readonly suffix: string; readonly options: LocalTargetSpec['options'] }[]>>> = {
  REDIS_CLUSTER: [
    { suffix: 'NEARCACHE', options: { CLIENT: 'node-redis', CACHE: 'tracking' } },
    { suffix: 'GLIDE', options: { CLIENT: 'glide' } },
  ],
};
/** Every local target of the default run: each topology's plain target, then its client set-ups. */
export const LOCAL_TARGETS: readonly LocalTargetSpec[] = TOPOLOGIES.filter((name) => !NAMED_ONLY.includes(name)).flatMap((name) => [
  { name, mode: LOCAL_MODES[name], ...(LOCAL_OPTIONS[name] !== undefined ? { options: LOCAL_OPTIONS[name] } : {}) },
  ...(LOCAL_VARIANTS[name] ?? []).map((v) => ({ name: `${name}_${v.suffix}`, mode: LOCAL_MODES[name], topology: name, options: v.options })),
]);

/**
 * Client set-ups on the local cluster started only when named (`--local REDIS_CLUSTER_WAIT`), not in the default run:
 * ioredis with WAIT 1 after every SET (matched durability: lost writes with and without WAIT under a fault),
 * node-redis without its cache (the driver's own failover behaviour, apart from the cache), and cachebench's own RESP
 * client on each Redis topology (`<TOPOLOGY>_RESP`).
 */
export const OPTIONAL_LOCAL_TARGETS: readonly LocalTargetSpec[] = [
  { name: 'REDIS_CLUSTER_WAIT', mode: 'cluster', topology: 'REDIS_CLUSTER', options: { WAIT: '1', CLIENT: 'ioredis' } },
  { name: 'REDIS_CLUSTER_NODE_REDIS', mode: 'cluster', topology: 'REDIS_CLUSTER', options: { CLIENT: 'node-redis' } },
  // GLIDE with its client-side cache: what its cache serves across a fault, next to node-redis's (REDIS_CLUSTER_NEARCACHE).
  { name: 'REDIS_CLUSTER_GLIDE_NEARCACHE', mode: 'cluster', topology: 'REDIS_CLUSTER', options: { CLIENT: 'glide', CACHE: 'tracking' } },
  // Redis Sentinel through ioredis (its `sentinels` option) and node-redis (createSentinel).
  { name: 'REDIS_SENTINEL', mode: 'sentinel', options: { SENTINEL_MASTER: 'cachebench' } },
  { name: 'REDIS_SENTINEL_NODE_REDIS', mode: 'sentinel', topology: 'REDIS_SENTINEL', options: { SENTINEL_MASTER: 'cachebench', CLIENT: 'node-redis' } },
  { name: 'REDIS_SENTINEL_NEARCACHE', mode: 'sentinel', topology: 'REDIS_SENTINEL', options: { SENTINEL_MASTER: 'cachebench', CLIENT: 'node-redis', CACHE: 'tracking' } },
  // ioredis with WAIT 1 after every SET on the Sentinel deployment (as REDIS_CLUSTER_WAIT on the cluster).
  { name: 'REDIS_SENTINEL_WAIT', mode: 'sentinel', topology: 'REDIS_SENTINEL', options: { SENTINEL_MASTER: 'cachebench', WAIT: '1', CLIENT: 'ioredis' } },
  // cachebench's own RESP client on each Redis topology: the servers' capacity rather than a driver's.
  ...(['REDIS_CLUSTER', 'TWEMPROXY', 'REDIS_SINGLE'] as const).map((topology) => ({ name: `${topology}_RESP`, mode: LOCAL_MODES[topology], topology, options: { CLIENT: 'resp' } })),
];

/**
 * `--local` names: a topology (its plain target) or a client set-up on one (REDIS_CLUSTER_NEARCACHE, or one
 * of OPTIONAL_LOCAL_TARGETS); none means every local target of the default run.
 */
export function parseLocalTargets(names: readonly string[], flag: string): LocalTargetSpec[] {
  if (names.length === 0) return [...LOCAL_TARGETS];
  const out: LocalTargetSpec[] = [];
  for (const raw of names.flatMap((n) => n.split(','))) {
    const name = raw.trim().toUpperCase();
    const spec = [...LOCAL_TARGETS, ...OPTIONAL_LOCAL_TARGETS].find((t) => t.name === name);
    if (spec === undefined) throw new ConfigError(`${flag} ${JSON.stringify(raw)} is not a local target. Fix: use ${[...LOCAL_TARGETS, ...OPTIONAL_LOCAL_TARGETS].map((t) => t.name).join(', ')}`);
    if (!out.includes(spec)) out.push(spec);
  }
  return out;
}
