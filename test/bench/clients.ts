/**
 * npm run bench:clients — each client driver's per-op cost, measured in one run:
 *   - redis-benchmark -c 1 -P 1 (SET and GET of PAYLOAD_BYTES) against one local redis-server;
 *   - for each driver (ioredis, node-redis, GLIDE): the seed loop written directly against the driver's own API
 *     ("bare": no verification, histograms or timer of ours), and the same loop run by cachebench with
 *     `<NAME>_CLIENT=<driver>`, against the same server;
 *   - the same with each driver's client-side cache (node-redis, GLIDE; CACHE=tracking), bare loops yielding to the
 *     event loop every 1 ms as cachebench's loop does (an application has to, or invalidations are never read);
 *   - on a local 3+3 Redis Cluster: cachebench through node-redis with and without its cache (the near-cache gain).
 * Client and servers are pinned to one CPU (taskset), where the client's own CPU cost is not hidden behind cross-core
 * wake-ups. Each pair (bare, cachebench) alternates REPEATS times; medians are reported with the ratios.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { BasicClientSideCache, RESP_TYPES, createClient } from '@redis/client';
import { ClientSideCache, Decoder, GlideClient, Logger, ProtocolVersion, TimeUnit } from '@valkey/valkey-glide';
import { Redis } from 'ioredis';
import { median } from 'simple-statistics';
import { resolveConfig } from '../../src/config/resolve.js';
import { pinProcess } from '../../src/local/placement.js';
import { requireBinary } from '../../src/local/binaries.js';
import { startRedisCluster, startRedisServer } from '../../src/local/redis.js';
import { executeRun } from '../../src/run/execute.js';
import { buildDocument } from '../../src/report/model.js';
import type { ResultEntry } from '../../src/report/document.js';
import { driverFor } from '../../src/targets/drivers.js';
import { tempDir } from '../helpers/servers.js';
import { CPU, ITERATIONS, OPS, PAYLOAD_BYTES, READ_RATIO, REPEATS, WRITE_COUNT } from './driver-bench.js';

const execFileAsync = promisify(execFile);
const YIELD_MS = 1;

/** The driver calls a bare loop needs. */
interface Bare {
  set(key: string, value: Buffer): Promise<unknown>;
  get(key: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
  close(): Promise<void> | void;
}

async function bareLoopMs(client: Bare, yielding: boolean): Promise<number> {
  const times: number[] = [];
  for (let it = 0; it < ITERATIONS + 2; it++) {
    const payloads = Array.from({ length: WRITE_COUNT }, () => randomBytes(PAYLOAD_BYTES));
    const keys = payloads.map(() => `cachebench:bare:${randomUUID()}`);
    const t0 = performance.now();
    let lastYield = t0;
    for (let w = 0; w < WRITE_COUNT; w++) {
      await client.set(keys[w] as string, payloads[w] as Buffer);
      for (let r = 0; r < READ_RATIO; r++) {
        if (yielding && performance.now() - lastYield >= YIELD_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        }
        await client.get(keys[w] as string);
      }
    }
    if (it >= 2) times.push(performance.now() - t0);
    await Promise.all(keys.map((k) => client.del(k)));
  }
  await client.close();
  return median(times);
}

async function bareIoredis(port: number): Promise<Bare> {
  const redis = new Redis({ host: '127.0.0.1', port, protocol: 2, disableClientInfo: true });
  return { set: (k, v) => redis.set(k, v, 'EX', 60), get: (k) => redis.getBuffer(k), del: (k) => redis.del(k), close: () => redis.disconnect() };
}

async function bareNodeRedis(port: number, cache: boolean): Promise<Bare> {
  const client = createClient({
    socket: { host: '127.0.0.1', port },
    RESP: cache ? 3 : 2,
    ...(cache ? { clientSideCache: new BasicClientSideCache({ maxEntries: 10_000 }) } : {}),
    // The options the driver sets too (so the comparison is of our wrapper, not of node-redis settings): no
    // CLIENT SETINFO or maintenance commands, and no per-command AbortSignal timer (`timeout: 0`).
    disableClientInfo: true,
    maintNotifications: 'disabled',
    commandOptions: { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer }, timeout: 0 },
  });
  await client.connect();
  return { set: (k, v) => client.set(k, v, { EX: 60 }), get: (k) => client.get(k), del: (k) => client.del(k), close: async () => { client.destroy(); } };
}

async function bareGlide(port: number, cache: boolean): Promise<Bare> {
  Logger.init('off'); // as the driver does
  const client = await GlideClient.createClient({
    addresses: [{ host: '127.0.0.1', port }],
    defaultDecoder: Decoder.Bytes,
    requestTimeout: 2000, // the driver's OP_TIMEOUT_MS default
    // RESP2 without the cache, as the driver (GLIDE's default is RESP3).
    protocol: cache ? ProtocolVersion.RESP3 : ProtocolVersion.RESP2,
    ...(cache ? { clientSideCache: new ClientSideCache({ maxCacheKb: 256 * 1024, entryTtlMs: 0, enableMetrics: true, serverAssisted: true }) } : {}),
  });
  return {
    set: (k, v) => client.set(k, v, { expiry: { type: TimeUnit.Seconds, count: 60 } }),
    get: (k) => client.get(k),
    del: (k) => client.del([k]),
    close: () => client.close(),
  };
}

/** One cachebench run of the seed loop through `client` (with its cache when `cache`), fixed at ITERATIONS rounds of one invocation. */
async function cachebenchMs(servers: string, client: string, cache: boolean): Promise<ResultEntry> {
  const plan = resolveConfig({
    scenarioFiles: [],
    env: { T_SERVERS: servers, T_CLIENT: client, ...(cache ? { T_CACHE: 'tracking' } : {}) },
    envVars: [],
    flags: {
      READ_RATIO: String(READ_RATIO), WRITE_COUNT: String(WRITE_COUNT), PAYLOAD_BYTES: String(PAYLOAD_BYTES), INVOCATION_COUNT: '1',
      MIN_ITERATIONS: String(ITERATIONS), MAX_ITERATIONS: String(ITERATIONS), WARMUP_ITERATIONS: '2', MAX_TIME: '3600',
    },
  });
  const result = await executeRun(plan, { seed: 1, runId: `bench-${randomUUID().slice(0, 4)}` });
  const entry = buildDocument(result, undefined).results[0];
  if (entry === undefined || entry.stats.meanMs === null) throw new Error(`cachebench run through ${client} measured nothing`);
  if (entry.verification.verified !== entry.verification.reads) throw new Error(`cachebench run through ${client}: ${JSON.stringify(entry.verification)}`);
  return entry;
}

async function redisBenchmarkMs(port: number): Promise<number> {
  const { stdout } = await execFileAsync('taskset', ['-c', CPU, requireBinary('redis-benchmark'), '-h', '127.0.0.1', '-p', String(port), '-c', '1', '-P', '1', '-d', String(PAYLOAD_BYTES), '-t', 'set,get', '-n', '20000', '--csv']);
  const us = (name: string): number => {
    const line = stdout.split('\n').find((l) => l.startsWith(`"${name}"`));
    const rps = Number(line?.split(',')[1]?.replace(/"/g, ''));
    if (!Number.isFinite(rps)) throw new Error(`cannot read ${name} from redis-benchmark: ${stdout}`);
    return 1e6 / rps;
  };
  return (WRITE_COUNT * us('SET') + WRITE_COUNT * READ_RATIO * us('GET')) / 1000;
}

async function main(): Promise<void> {
  const tmp = tempDir('cachebench-bench-clients-');
  const server = await startRedisServer({ dir: tmp.dir });
  const cluster = await startRedisCluster({ dir: tmp.dir });
  try {
    await pinProcess(process.pid, CPU);
    await pinProcess(server.process.pid, CPU);
    for (const node of cluster.nodes) await pinProcess(node.process.pid, CPU);
    const single = `127.0.0.1:${server.port}`;
    const clusterServers = cluster.nodes.slice(0, 3).map((n) => `127.0.0.1:${n.port}`).join(',');
    const rows: { label: string; bare: number[]; bench: number[]; hitRate?: number }[] = [
      { label: `ioredis ${(await driverFor('ioredis')).version}`, bare: [], bench: [] },
      { label: `node-redis ${(await driverFor('node-redis')).version}`, bare: [], bench: [] },
      { label: `glide ${(await driverFor('glide')).version}`, bare: [], bench: [] },
      { label: 'node-redis + tracking cache', bare: [], bench: [] },
      { label: 'glide + tracking cache', bare: [], bench: [] },
    ];
    const rb: number[] = [];
    const clusterPlain: number[] = [];
    const clusterNear: number[] = [];
    let nearFailures = 0;
    for (let rep = 1; rep <= REPEATS; rep++) {
      rb.push(await redisBenchmarkMs(server.port));
      const runs: [number, () => Promise<Bare>, boolean, string, boolean][] = [
        [0, () => bareIoredis(server.port), false, 'ioredis', false],
        [1, () => bareNodeRedis(server.port, false), false, 'node-redis', false],
        [2, () => bareGlide(server.port, false), false, 'glide', false],
        [3, () => bareNodeRedis(server.port, true), true, 'node-redis', true],
        [4, () => bareGlide(server.port, true), true, 'glide', true],
      ];
      for (const [index, make, yielding, client, cache] of runs) {
        const row = rows[index] as (typeof rows)[number];
        row.bare.push(await bareLoopMs(await make(), yielding));
        const entry = await cachebenchMs(single, client, cache);
        row.bench.push(entry.stats.meanMs as number);
        if (entry.cache !== null && entry.cache.lookups > 0) row.hitRate = entry.cache.hits / entry.cache.lookups;
      }
      const plain = await cachebenchMs(clusterServers, 'node-redis', false);
      const near = await cachebenchMs(clusterServers, 'node-redis', true);
      clusterPlain.push(plain.stats.meanMs as number);
      clusterNear.push(near.stats.meanMs as number);
      nearFailures += near.verification.missing + near.verification.mismatched;
      process.stderr.write(`repeat ${rep}/${REPEATS} done\n`);
    }
    const r = median(rb);
    const us = (ms: number): string => `${((ms * 1000) / OPS).toFixed(2)} µs`;
    console.log(`Seed loop READ_RATIO=${READ_RATIO} WRITE_COUNT=${WRITE_COUNT} PAYLOAD_BYTES=${PAYLOAD_BYTES} (${OPS} ops per iteration), client and server pinned to CPU ${CPU}, medians of ${REPEATS} alternated repeats:`);
    console.log('');
    console.log('| client | bare loop / op | cachebench / op | cachebench ÷ bare | bare ÷ redis-benchmark | cache hit rate |');
    console.log('|---|--:|--:|--:|--:|--:|');
    console.log(`| redis-benchmark -c 1 -P 1 | ${us(r)} | | | 1.000 | |`);
    for (const row of rows) {
      const [b, c] = [median(row.bare), median(row.bench)];
      console.log(`| ${row.label} | ${us(b)} | ${us(c)} | ${(c / b).toFixed(3)} | ${(b / r).toFixed(3)} | ${row.hitRate !== undefined ? `${(100 * row.hitRate).toFixed(1)}%` : ''} |`);
    }
    console.log('');
    console.log(`Target: cachebench ÷ bare ≤ 1.05 for each driver.`);
    const [p, n] = [median(clusterPlain), median(clusterNear)];
    console.log(`Local 3+3 cluster (all nodes and the client on CPU ${CPU}) through node-redis: ${p.toFixed(2)} ms per iteration without its cache, ${n.toFixed(2)} ms with it: ` +
      `${(p / n).toFixed(1)}× faster (target ≥ 5×), ${nearFailures} verification failures.`);
  } finally {
    await Promise.all([server.process.stop(), cluster.stop()]);
    tmp.remove();
  }
}

await main();
