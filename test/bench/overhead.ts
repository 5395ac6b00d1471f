/**
 * npm run bench:overhead — what the harness's instrumentation costs, measured in one run
 * against one local redis-server:
 *   1. per-op time of the seed loop in cachebench (verification, histograms, tinybench, progress), through ioredis
 *      (the latency run's default client) and through cachebench's own RESP client (LOCAL_CLIENT=resp),
 *   2. the same loop in bare ioredis (no instrumentation), and
 *   3. redis-benchmark -c 1 -P 1 -d PAYLOAD for SET and GET,
 * alternated REPEATS times, medians reported with the ratios; then peak RSS of runs of
 * ~200k and ~1M ops (in child processes) to show memory does not grow with run length.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { median } from 'simple-statistics';
import { resolveConfig } from '../../src/config/resolve.js';
import { requireBinary } from '../../src/local/binaries.js';
import { startRedisServer } from '../../src/local/redis.js';
import { executeRun } from '../../src/run/execute.js';
import { buildDocument } from '../../src/report/model.js';
import { tempDir } from '../helpers/servers.js';

const execFileAsync = promisify(execFile);
const READ_RATIO = 100;
const WRITE_COUNT = 10;
const PAYLOAD_BYTES = Number(process.env.PAYLOAD_BYTES ?? 20000);
const REPEATS = 3;
const OPS = WRITE_COUNT * (1 + READ_RATIO);

async function cachebenchMeanMs(port: number, iterations: number, params = { READ_RATIO, WRITE_COUNT, PAYLOAD_BYTES }, client = 'ioredis'): Promise<number> {
  const plan = resolveConfig({
    scenarioFiles: [],
    env: { LOCAL_SERVERS: `127.0.0.1:${port}`, LOCAL_CLIENT: client },
    envVars: [],
    flags: {
      READ_RATIO: String(params.READ_RATIO), WRITE_COUNT: String(params.WRITE_COUNT), PAYLOAD_BYTES: String(params.PAYLOAD_BYTES),
      MIN_ITERATIONS: String(iterations), MAX_ITERATIONS: String(iterations), WARMUP_ITERATIONS: '2', MAX_TIME: '3600',
    },
  });
  const result = await executeRun(plan, { seed: 1, runId: `bench-${randomUUID().slice(0, 4)}` });
  const entry = buildDocument(result, undefined).results[0];
  if (entry === undefined || entry.stats.meanMs === null || entry.verification.verified !== entry.verification.reads) throw new Error('cachebench run failed');
  return entry.stats.meanMs;
}

async function bareIoredisMs(port: number, iterations: number): Promise<number> {
  const redis = new Redis({ host: '127.0.0.1', port, protocol: 2 });
  const times: number[] = [];
  for (let it = 0; it < iterations + 2; it++) {
    const payloads = Array.from({ length: WRITE_COUNT }, () => randomBytes(PAYLOAD_BYTES));
    const keys = payloads.map(() => `cachebench:bare:${randomUUID()}`);
    const t0 = performance.now();
    for (let w = 0; w < WRITE_COUNT; w++) {
      await redis.set(keys[w] as string, payloads[w] as Buffer, 'EX', 60);
      for (let r = 0; r < READ_RATIO; r++) await redis.getBuffer(keys[w] as string);
    }
    if (it >= 2) times.push(performance.now() - t0);
    await Promise.all(keys.map((k) => redis.del(k)));
  }
  redis.disconnect();
  return median(times);
}

async function redisBenchmarkUs(port: number): Promise<{ set: number; get: number }> {
  const { stdout } = await execFileAsync(requireBinary('redis-benchmark'), ['-h', '127.0.0.1', '-p', String(port), '-c', '1', '-P', '1', '-d', String(PAYLOAD_BYTES), '-t', 'set,get', '-n', '20000', '--csv']);
  const rps = (name: string): number => {
    const line = stdout.split('\n').find((l) => l.startsWith(`"${name}"`));
    const value = Number(line?.split(',')[1]?.replace(/"/g, ''));
    if (!Number.isFinite(value)) throw new Error(`cannot read ${name} from redis-benchmark: ${stdout}`);
    return value;
  };
  return { set: 1e6 / rps('SET'), get: 1e6 / rps('GET') };
}

/** In a child process: one cachebench run of `iterations` × 10,100 ops, then print peak RSS in MB. */
async function rssChild(port: number, iterations: number): Promise<void> {
  await cachebenchMeanMs(port, iterations, { READ_RATIO: 100, WRITE_COUNT: 100, PAYLOAD_BYTES: 100 });
  process.stdout.write(`${JSON.stringify({ maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
}

function peakRss(port: number, iterations: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--rss-child', String(port), String(iterations)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve((JSON.parse(out) as { maxRssMB: number }).maxRssMB) : reject(new Error(`rss child exited ${code}`))));
  });
}

async function main(): Promise<void> {
  if (process.argv[2] === '--rss-child') {
    await rssChild(Number(process.argv[3]), Number(process.argv[4]));
    return;
  }
  const tmp = tempDir('cachebench-bench-');
  const server = await startRedisServer({ dir: tmp.dir });
  try {
    const bench: number[] = [];
    const resp: number[] = [];
    const bare: number[] = [];
    const rbIteration: number[] = [];
    for (let rep = 1; rep <= REPEATS; rep++) {
      const rb = await redisBenchmarkUs(server.port);
      rbIteration.push((WRITE_COUNT * rb.set + WRITE_COUNT * READ_RATIO * rb.get) / 1000);
      bare.push(await bareIoredisMs(server.port, 15));
      bench.push(await cachebenchMeanMs(server.port, 15));
      resp.push(await cachebenchMeanMs(server.port, 15, undefined, 'resp'));
      process.stderr.write(`repeat ${rep}/${REPEATS}: redis-benchmark ${rbIteration.at(-1)?.toFixed(2)} ms, bare ioredis ${bare.at(-1)?.toFixed(2)} ms, ` +
        `cachebench ${bench.at(-1)?.toFixed(2)} ms, cachebench resp ${resp.at(-1)?.toFixed(2)} ms per iteration\n`);
    }
    const [b, i, r, o] = [median(bench), median(bare), median(rbIteration), median(resp)];
    const us = (ms: number): string => `${((ms * 1000) / OPS).toFixed(1)} µs`;
    console.log(`Seed loop READ_RATIO=${READ_RATIO} WRITE_COUNT=${WRITE_COUNT} PAYLOAD_BYTES=${PAYLOAD_BYTES} (${OPS} ops per iteration), medians of ${REPEATS} alternated repeats:`);
    const row = (label: string, ms: number): string => `| ${label.padEnd(35)} | ${`${ms.toFixed(2)} ms`.padStart(13)} | ${us(ms).padStart(8)} |`;
    console.log(`| ${'measure'.padEnd(35)} | per iteration | per op   |`);
    console.log(`|${'-'.repeat(37)}|--------------:|---------:|`);
    console.log(row('redis-benchmark -c 1 -P 1 (SET+GET)', r));
    console.log(row('bare ioredis loop', i));
    console.log(row('cachebench (ioredis)', b));
    console.log(row('cachebench (LOCAL_CLIENT=resp)', o));
    console.log(`ratio cachebench / redis-benchmark: ${(b / r).toFixed(3)}  (target <= 1.15)`);
    console.log(`ratio cachebench resp / redis-benchmark: ${(o / r).toFixed(3)}  (target <= 1.15)`);
    console.log(`ratio bare ioredis / redis-benchmark: ${(i / r).toFixed(3)}  (Node + ioredis floor on this machine)`);
    console.log(`ratio cachebench / bare ioredis: ${(b / i).toFixed(3)}  (cost of verification, histograms, tinybench)`);
    const short = await peakRss(server.port, 20);
    const long = await peakRss(server.port, 100);
    console.log(`peak RSS: ${short.toFixed(0)} MB for 20 iterations (202,000 ops), ${long.toFixed(0)} MB for 100 iterations (1,010,000 ops); target <= 200 MB, growth ${(long - short).toFixed(0)} MB`);
  } finally {
    await server.process.stop();
    tmp.remove();
  }
}

await main();
