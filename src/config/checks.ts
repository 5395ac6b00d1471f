import { ConfigError, badValue, describeSource } from './errors.js';
import { DEFAULT_ITEM_SIZE_MAX, DESTRUCTIVE_FAULTS, ITEM_OVERHEAD_BYTES, NODE_PARTITIONS, PARTITION_FAULTS, SCALING_FAULTS } from './keys.js';
import type { RunPlan, ScenarioPlan, Setting, TargetConfig } from './plan.js';
import { localItemSizeMax } from './target.js';
import { MEMCACHE_COMMANDS, memcacheMisses, proxyMisfit, type WorkloadPlan } from './workload.js';

/** Checks across the plan's scenarios and targets, before any traffic. */

/**
 * Values a memcache target cannot store: PAYLOAD_BYTES plus room for the key and item header above the servers' item
 * size limit is a ConfigError before any traffic, naming the limit and memcached's -I that raises it.
 */
export function checkItemSizes(scenarios: readonly ScenarioPlan[], targets: readonly TargetConfig[]): void {
  // Local memcached is started with an item size that fits the run's largest value (localItemSizeMax).
  for (const t of targets.filter((x) => x.protocol === 'memcache' && x.pendingServers !== true)) {
    for (const scenario of scenarios) {
      const largest = scenario.cases.reduce((m, c) => Math.max(m, c.PAYLOAD_BYTES), 0);
      if (largest + ITEM_OVERHEAD_BYTES <= t.itemSizeMax) continue;
      const setting = scenario.settings.get('PAYLOAD_BYTES') as Setting;
      const limit = t.itemSizeMax === DEFAULT_ITEM_SIZE_MAX ? '1 MiB, memcached\'s default item size limit (-I 1m)' : `${t.itemSizeMax} bytes (${t.name}_ITEM_SIZE_MAX)`;
      const needed = `${localItemSizeMax(largest) / (1024 * 1024)}m`;
      throw badValue('PAYLOAD_BYTES', setting.value, setting.source,
        `target ${t.name} is memcached, which stores an item (value, key and about 50 bytes of header) of at most ${limit}: values up to ${t.itemSizeMax - ITEM_OVERHEAD_BYTES} bytes fit, and scenario ${scenario.name} writes ${largest}`,
        `lower PAYLOAD_BYTES to ${t.itemSizeMax - ITEM_OVERHEAD_BYTES} or less, or start memcached with a larger item size (memcached -I ${needed}) and set ${t.name}_ITEM_SIZE_MAX=${needed}`);
    }
  }
}

/**
 * A WORKLOAD sends commands on real data types: a memcached target has no such commands (its own come later), so it is
 * refused before any traffic, naming the target and the fix.
 */
export function checkWorkloadTargets(scenario: ScenarioPlan, targets: readonly TargetConfig[]): void {
  const workload = scenario.controls.load.workload;
  if (workload === null) return;
  const traced = scenario.controls.load.trace !== null;
  const w = scenario.settings.get(traced ? 'TRACE' : 'WORKLOAD') as Setting;
  const named = traced ? `TRACE=${JSON.stringify(String(w.value))}` : `WORKLOAD=${JSON.stringify(workload.name === 'custom' ? workload.text : workload.name)}`;
  const key = traced ? 'TRACE' : 'WORKLOAD';
  const from = `${named} (from ${describeSource(w.source)}, scenario ${scenario.name})`;
  // The drivers' client caches answer only their own typed commands (node-redis's GET…, GLIDE's GET/HGETALL/SMEMBERS);
  // a WORKLOAD's commands go raw, past the cache, so a cache would be neither used nor measured.
  const cached = targets.filter((t) => t.cache !== 'off');
  if (cached.length > 0) {
    throw new ConfigError(`${from} sends its commands raw, which the drivers' client caches neither answer nor fill (they serve only their own typed commands); ` +
      `${cached.map((t) => `${t.name}_CACHE=${t.cache}`).join(', ')} would measure no cache at all. Fix: unset it for this run, or measure the client cache with the seed loop (no ${key}; OVERWRITE_RATE for its staleness)`);
  }
  // Replica reads are judged against the model's earlier states (stale, with an age) in latency runs; a throughput or
  // fault run has no staleness record for a mix.
  const replicas = targets.filter((t) => t.readFrom === 'replica');
  const latency = scenario.controls.load.mode === 'latency' && scenario.controls.fault.kind === 'none' && !traced;
  if (replicas.length > 0 && !latency) {
    throw new ConfigError(`${from} judges replica reads (a reply of an earlier state counted stale, with its age) in latency runs only, and this is a ` +
      `${traced ? 'TRACE replay' : scenario.controls.fault.kind !== 'none' ? 'fault run' : `${scenario.controls.load.mode} run`}; ` +
      `${replicas.map((t) => `${t.name}_READ_FROM=replica`).join(', ')} cannot be judged here. Fix: unset it for this run, or run the ${key} with MODE=latency and no FAULT`);
  }
  checkProxyAtomics(workload, targets, `${named} (from ${describeSource(w.source)}, scenario ${scenario.name})`);
  const memcache = targets.filter((t) => t.protocol === 'memcache');
  const misses = memcacheMisses(workload);
  if (memcache.length === 0 || misses.length === 0) return;
  throw new ConfigError(`${named} (from ${describeSource(w.source)}, scenario ${scenario.name}) sends ` +
    `${misses.join(', ')}, which memcached's protocol does not have, and ${memcache.map((t) => t.name).join(', ')} ${memcache.length === 1 ? 'is' : 'are'} memcached ` +
    `(it has ${[...MEMCACHE_COMMANDS].join(', ')}). Fix: run the ${key} against RESP targets only, or use those commands for memcached`);
}

/**
 * A proxy (twemproxy) forwards neither MULTI nor EXEC, and sends a script to the server of its first key only (it knows
 * no hash tags unless configured with one, and cachebench cannot ask): a transaction, or a script on several keys,
 * through a RESP proxy is refused before any traffic.
 */
function checkProxyAtomics(workload: WorkloadPlan, targets: readonly TargetConfig[], named: string): void {
  const proxies = targets.filter((t) => t.protocol !== 'memcache' && t.mode === 'proxy');
  if (proxies.length === 0) return;
  const bad = proxyMisfit(workload);
  if (bad === undefined) return;
  const multi = bad.atomic === 'multi' ? bad : undefined;
  const why = bad === multi ? 'a proxy such as twemproxy does not forward MULTI and EXEC (it spreads commands over its servers one by one)'
    : 'a proxy such as twemproxy sends a script to the server of its first key, and the script names several keys (they would be written where the proxy does not look for them)';
  throw new ConfigError(`${named}: the entry "${bad.text}" cannot go through ${proxies.map((t) => `${t.name} (${t.name}_MODE=proxy)`).join(', ')}: ${why}. ` +
    `Fix: run ${bad === multi ? 'transactions' : 'scripts on several keys'} against Redis or a Redis Cluster directly, or ${bad === multi ? 'use a script of one key (EVAL; CMD {key} …)' : 'give the script one {key}'} for the proxy`);
}

/**
 * A destructive fault (kill, pause, restart) touches only servers cachebench starts in this run; a fault that needs
 * replicas needs a topology that has them. Checked before anything starts: exit 2, no traffic.
 */
export function checkFaultTargets(scenario: ScenarioPlan, targets: readonly TargetConfig[]): void {
  const kind = scenario.controls.fault.kind;
  if (kind === 'none') return;
  const fault = scenario.settings.get('FAULT') as Setting;
  const where = `${describeSource(fault.source)}, scenario ${scenario.name}`;
  if (DESTRUCTIVE_FAULTS.includes(kind)) {
    const remote = targets.filter((t) => t.localTopology === undefined);
    if (remote.length > 0) {
      throw new ConfigError(`FAULT=${kind} (from ${where}) ${PARTITION_FAULTS.includes(kind) ? 'cuts the network of server processes' : 'kills or stops server processes'}, which cachebench does only to the local topologies it starts itself; ` +
        `${remote.map((t) => t.name).join(', ')} ${remote.length === 1 ? 'is' : 'are'} not one (set by ${remote.map((t) => `${t.name}_${t.sentinel !== undefined ? 'SENTINELS' : 'SERVERS'}`).join(', ')}). ` +
        `Fix: run it on local topologies (cachebench run --local REDIS_CLUSTER ...), or use ${remote.every((t) => t.protocol === 'memcache') ? '' : 'FAULT=failover (a graceful CLUSTER FAILOVER) or '}FAULT=command with your own FAULT_COMMAND on these servers`);
    }
  }
  if (SCALING_FAULTS.includes(kind)) {
    const other = targets.filter((t) => t.localTopology !== 'REDIS_CLUSTER');
    if (other.length > 0) {
      throw new ConfigError(`FAULT=${kind} (from ${where}) adds or removes nodes of the local Redis Cluster cachebench starts; ${other.map((t) => `${t.name}${t.localTopology !== undefined ? ` (${t.localTopology})` : ''}`).join(', ')} ${other.length === 1 ? 'is' : 'are'} not on it. ` +
        'Fix: run it on --local REDIS_CLUSTER (and its client set-ups REDIS_CLUSTER_NEARCACHE, REDIS_CLUSTER_GLIDE) only');
    }
  }
  if (PARTITION_FAULTS.includes(kind)) checkPartitionTargets(kind, where, targets);
  if (kind === 'failover' || kind === 'kill-replica') {
    const memcache = targets.filter((t) => t.protocol === 'memcache');
    if (memcache.length > 0) {
      throw new ConfigError(`FAULT=${kind} (from ${where}) needs replicas, and ${memcache.map((t) => t.name).join(', ')} ${memcache.length === 1 ? 'is' : 'are'} memcached, which has none (each key lives on one server). ` +
        'Fix: use FAULT=kill-primary, pause-primary or restart-primary on --local MEMCACHED_POOL or TWEMPROXY_MEMCACHED, or FAULT=command with your own FAULT_COMMAND');
    }
    const without = targets.filter((t) => t.localTopology !== undefined && t.localTopology !== 'REDIS_CLUSTER' && t.localTopology !== 'REDIS_SENTINEL');
    if (without.length > 0) {
      throw new ConfigError(`FAULT=${kind} (from ${where}) needs replicas, and the local topolog${without.length === 1 ? 'y' : 'ies'} of ${without.map((t) => `${t.name} (${t.localTopology ?? t.name})`).join(', ')} ${without.length === 1 ? 'has' : 'have'} none. ` +
        'Fix: run it on --local REDIS_CLUSTER or REDIS_SENTINEL, or use FAULT=kill-primary / pause-primary / restart-primary there');
    }
  }
}

/** A partition cuts links between Redis servers in namespaces: cluster nodes, or (partition-client) any local Redis. */
function checkPartitionTargets(kind: string, where: string, targets: readonly TargetConfig[]): void {
  const memcache = targets.filter((t) => t.protocol === 'memcache');
  if (memcache.length > 0) {
    throw new ConfigError(`FAULT=${kind} (from ${where}) cuts the network of Redis servers in namespaces of their own, and ${memcache.map((t) => t.name).join(', ')} ${memcache.length === 1 ? 'is' : 'are'} memcached, whose servers stay on 127.0.0.1. ` +
      'Fix: run it on --local REDIS_CLUSTER (or REDIS_SINGLE, TWEMPROXY with FAULT=partition-client), or use FAULT=kill-primary / pause-primary on memcached');
  }
  if (NODE_PARTITIONS.includes(kind as never)) {
    // partition-primary also cuts a Sentinel deployment's primary from its replicas and sentinels.
    const other = targets.filter((t) => t.localTopology !== 'REDIS_CLUSTER' && !(kind === 'partition-primary' && t.localTopology === 'REDIS_SENTINEL'));
    if (other.length > 0) {
      throw new ConfigError(`FAULT=${kind} (from ${where}) cuts cluster nodes from each other, and ${other.map((t) => `${t.name}${t.localTopology !== undefined ? ` (${t.localTopology})` : ''}`).join(', ')} ${other.length === 1 ? 'is' : 'are'} not the local Redis Cluster${kind === 'partition-primary' ? ' or Redis Sentinel' : ''}. ` +
        `Fix: run it on --local REDIS_CLUSTER${kind === 'partition-primary' ? ' or REDIS_SENTINEL' : ''} (and their client set-ups), or use FAULT=partition-client, which cuts the client from a server of any local Redis topology`);
    }
  }
}

/** OP_TIMEOUT_MS and CONNECT_TIMEOUT_MS hold for the whole run: scenarios that disagree are an error. */
export function runLevelTimeouts(scenarios: readonly ScenarioPlan[]): RunPlan['connection'] {
  const first = scenarios[0];
  if (first === undefined) throw new ConfigError('no scenario to run. Fix: give a scenario file or none for the built-in one');
  for (const key of ['OP_TIMEOUT_MS', 'CONNECT_TIMEOUT_MS'] as const) {
    const a = first.settings.get(key);
    const other = scenarios.find((s) => s.settings.get(key)?.value !== a?.value);
    if (a !== undefined && other !== undefined) {
      const b = other.settings.get(key) as Setting;
      throw badValue(key, b.value, b.source,
        `scenario ${other.name} has ${String(b.value)} (${describeSource(b.source)}) but scenario ${first.name} has ${String(a.value)} (${describeSource(a.source)}); ` +
        'deadlines are set once per run on the connections every scenario shares',
        `give ${key} one value for the run (env var, --envVars or --${key.toLowerCase().replace(/_/g, '-')}), or run the scenarios separately`);
    }
  }
  const largestPayloadBytes = scenarios.reduce((m, s) => s.cases.reduce((n, c) => Math.max(n, c.PAYLOAD_BYTES), m), 0);
  const resilient = scenarios.some((s) => s.controls.fault.kind !== 'none');
  const exactWrites = scenarios.some((s) => s.controls.fault.kind !== 'none' && s.controls.load.workload !== null);
  return { opTimeoutMs: first.controls.opTimeoutMs, connectTimeoutMs: first.controls.connectTimeoutMs, largestPayloadBytes, resilient, exactWrites };
}
