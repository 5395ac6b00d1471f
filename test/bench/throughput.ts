/**
 * npm run bench:throughput — can a throughput run of cachebench drive one local redis-server as hard as
 * redis-benchmark does with the same number of connections? Measured in one run against one redis-server:
 *   1. redis-benchmark -c 50 -d 20000 -t set,get (its GETs read the 20,000-byte value its SETs wrote), -n sized by a
 *      short pilot so the run takes ~RB_SECONDS (10) s; its SET and GET requests/s;
 *   2. cachebench closed loop, GET-heavy (READ_RATIO 100, fresh keys, every GET verified), 50 connections in total:
 *      WORKERS=1 (50 clients on 50 connections) and WORKERS=2 (25 on 25 each), 2 s warm-up + 10 s measured, through
 *      the CLI in a child process, with cachebench's own RESP client (REDIS_CLIENT=resp), ioredis, node-redis and GLIDE;
 *      GET ops/s = throughput.mean × gets / (sets + gets); the load generator's own busy share and CPU per op;
 *   3. pipelined: redis-benchmark -c 50 -P 16 -t get against the resp client with 16 ops in flight on each of the 50
 *      connections (CLIENTS 800 in total, PIPELINE 16), the better WORKERS of step 2;
 *   4. cachebench open loop at half the better closed-loop total rate (same client and WORKERS): achieved vs target
 *      rate, GET latency from the intended send time (coordinated-omission corrected) next to service time;
 *   5. peak RSS per worker of each run.
 * Placement: nothing is pinned (cachebench --cpu-layout none, no taskset); client and server share the machine's
 * cores alike for both tools.
 * `--long` (or LONG=1) adds closed-loop runs of 60 s and 600 s (the better WORKERS) and compares peak RSS per worker.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requireBinary } from '../../src/local/binaries.js';
import { startRedisServer } from '../../src/local/redis.js';
import type { ResultEntry, ResultsDocument } from '../../src/report/document.js';
import { tempDir } from '../helpers/servers.js';

const execFileAsync = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const SCENARIO = fileURLToPath(new URL('../../../scenarios/throughput.yaml', import.meta.url));
const LONG = process.argv.includes('--long') || process.env.LONG === '1';
const CONNECTIONS = 50;
const PAYLOAD_BYTES = 20000;
const DURATION = 10;
/** The clients compared: cachebench's own RESP client, then the drivers (what each costs the load generator). */
const CLIENTS = ['resp', 'ioredis', 'node-redis', 'glide'] as const;
/** Commands in flight per connection in the pipelined comparison (redis-benchmark -P). */
const PIPELINE = 16;
const WARMUP = 2;
const RB_SECONDS = Number(process.env.RB_SECONDS ?? 10);
const MiB = 1024 * 1024;

/** Children still running, killed (by PID) on Ctrl-C / SIGTERM before the finally blocks run. */
const children = new Set<ChildProcess>();
/** The 1-minute load average before each measurement: other work on the machine shows up here. */
const loads: string[] = [];
const noteLoad = (what: string): void => {
  loads.push(`${what} ${(loadavg()[0] ?? 0).toFixed(2)}`);
};

interface RedisBenchmark { readonly n: number; readonly set: number; readonly get: number; readonly seconds: number }

/** redis-benchmark's SET and GET requests/s (`tests` set,get; or get alone, then set is NaN), `-P pipeline`. */
async function redisBenchmark(port: number, n: number, pipeline = 1, tests = 'set,get'): Promise<RedisBenchmark> {
  if (n > 20000) noteLoad(`redis-benchmark -P ${pipeline}`);
  const t0 = performance.now();
  const { stdout } = await execFileAsync(requireBinary('redis-benchmark'),
    ['-h', '127.0.0.1', '-p', String(port), '-c', String(CONNECTIONS), '-n', String(n), '-d', String(PAYLOAD_BYTES), '-P', String(pipeline), '-t', tests, '--csv'],
    { timeout: 300_000 });
  const rps = (name: string): number => {
    const line = stdout.split('\n').find((l) => l.startsWith(`"${name}"`));
    const value = Number(line?.split(',')[1]?.replace(/"/g, ''));
    if (!tests.split(',').includes(name.toLowerCase())) return NaN;
    if (!Number.isFinite(value) || value <= 0) throw new Error(`cannot read ${name} requests/s from redis-benchmark: ${stdout}`);
    return value;
  };
  return { n, set: rps('SET'), get: rps('GET'), seconds: (performance.now() - t0) / 1000 };
}

interface Run {
  readonly label: string;
  readonly client: string;
  readonly pipeline: number;
  readonly workers: number;
  readonly rate: number;
  readonly duration: number;
  readonly args: readonly string[];
  readonly entry: ResultEntry;
  /** throughput.mean (ops/s over 1-second intervals, SET + GET). */
  readonly totalOps: number;
  /** throughput.mean × gets / (sets + gets). */
  readonly getOps: number;
}

/** One cachebench throughput run through the CLI in a child process; its results.json entry. */
async function cachebench(port: number, outRoot: string, label: string, client: string, workers: number, rate: number,
  duration = DURATION, pipeline = 1): Promise<Run> {
  const perWorker = CONNECTIONS / workers;
  const out = join(outRoot, label.replace(/[^a-zA-Z0-9]+/g, '-'));
  const args = [
    'run', SCENARIO, '--mode', 'throughput', '--workers', String(workers),
    '--clients', String(perWorker * pipeline), '--connections', String(perWorker), '--pipeline', String(pipeline), '--rate', String(rate),
    '--duration', String(duration), '--warmup-seconds', String(WARMUP), '--read-ratio', '100',
    '--payload-bytes', String(PAYLOAD_BYTES), '--cpu-layout', 'none', '--out', out,
  ];
  const shown = `REDIS_SERVERS=127.0.0.1:${port} REDIS_CLIENT=${client} CI=true node dist/src/cli/main.js ${args.join(' ').replace(SCENARIO, 'scenarios/throughput.yaml').replace(out, '$TMP')}`;
  process.stderr.write(`${label}: ${shown}\n`);
  noteLoad(label);
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CI: 'true', REDIS_SERVERS: `127.0.0.1:${port}`, REDIS_CLIENT: client },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), (WARMUP + duration + 120) * 1000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  children.delete(child);
  const failed = (why: string): Error => new Error(`${label} ${why}\ncommand: ${shown}\nexit: ${code ?? signal}\nstdout:\n${stdout.trim()}\nstderr:\n${stderr.trim()}`);
  if (code !== 0) throw failed('failed');
  const runDir = existsSync(out) ? readdirSync(out).find((d) => existsSync(join(out, d, 'results.json'))) : undefined;
  if (runDir === undefined) throw failed(`wrote no results.json under --out`);
  const doc = JSON.parse(readFileSync(join(out, runDir, 'results.json'), 'utf8')) as ResultsDocument;
  const entry = doc.results[0];
  const load = entry?.load;
  if (entry === undefined || load === null || load === undefined) throw failed('has no throughput result in results.json');
  const { missing, mismatched } = entry.verification;
  if (missing !== 0 || mismatched !== 0) throw failed(`verification failed: ${missing} missing, ${mismatched} mismatched`);
  const gets = entry.ops.get.count;
  const sets = entry.ops.set.count;
  const mean = load.throughput.mean;
  if (gets + sets === 0 || mean === null) throw failed('did no operations (throughput.mean is null)');
  return { label, client, pipeline, workers, rate, duration, args, entry, totalOps: mean, getOps: (mean * gets) / (sets + gets) };
}

const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (us: number | undefined): string => (us === undefined ? 'n/a' : (us / 1000).toFixed(2));
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;
const loadOf = (run: Run): NonNullable<ResultEntry['load']> => run.entry.load as NonNullable<ResultEntry['load']>;
const rssLine = (run: Run): string => loadOf(run).workers.map((w) => `${w.worker} ${mib(w.peakRssBytes)}`).join('; ');
const seriesLine = (run: Run): string => loadOf(run).series.map((s) => int(s.ops)).join(' ');
const failuresOf = (run: Run): string => {
  const { verified, reads } = run.entry.verification;
  return `${verified}/${reads} GETs verified, ${run.entry.ops.get.errors + run.entry.ops.set.errors} failed ops`;
};

async function main(): Promise<void> {
  const tmp = tempDir('cachebench-throughput-');
  let server: Awaited<ReturnType<typeof startRedisServer>> | undefined;
  const cleanUp = async (): Promise<void> => {
    for (const child of children) child.kill('SIGTERM');
    await server?.process.stop();
    server = undefined;
    tmp.remove();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`${signal}: stopping children and redis-server, removing ${tmp.dir}\n`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    server = await startRedisServer({ dir: tmp.dir });
    const port = server.port;
    const problems: string[] = [];

    // 1. redis-benchmark, -n sized so SET + GET together take about RB_SECONDS.
    const pilot = await redisBenchmark(port, 20000);
    const n = Math.max(20000, Math.round(RB_SECONDS / (1 / pilot.set + 1 / pilot.get) / 10000) * 10000);
    const rb = await redisBenchmark(port, n);
    process.stderr.write(`redis-benchmark -c ${CONNECTIONS} -n ${n}: SET ${int(rb.set)}/s, GET ${int(rb.get)}/s (${rb.seconds.toFixed(1)} s)\n`);

    // 2. closed loop, WORKERS=1 and 2, 50 connections in total, through each client.
    const closed: Run[] = [];
    for (const client of CLIENTS) {
      for (const workers of [1, 2]) {
        try {
          closed.push(await cachebench(port, tmp.dir, `closed ${client} W=${workers}`, client, workers, 0));
        } catch (error: unknown) {
          problems.push(error instanceof Error ? error.message : String(error));
        }
      }
    }
    const bestOf = (client: string): Run | undefined => closed.filter((r) => r.client === client)
      .reduce<Run | undefined>((b, r) => (b === undefined || r.totalOps > b.totalOps ? r : b), undefined);
    const best = bestOf('resp');

    // 3. pipelined: redis-benchmark -P 16 against 16 ops in flight per connection.
    const rbPipelined = await redisBenchmark(port, Math.max(50_000, Math.round(rb.get * 16 * RB_SECONDS / 20 / 10_000) * 10_000), PIPELINE, 'get');
    let pipelined: Run | undefined;
    if (best !== undefined) {
      try {
        pipelined = await cachebench(port, tmp.dir, `pipelined resp W=${best.workers}`, 'resp', best.workers, 0, DURATION, PIPELINE);
      } catch (error: unknown) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }

    // 4. open loop at half the better closed-loop total rate.
    let open: Run | undefined;
    if (best !== undefined) {
      try {
        open = await cachebench(port, tmp.dir, `open resp W=${best.workers}`, 'resp', best.workers, Math.round(best.totalOps / 2));
      } catch (error: unknown) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }

    // 5. --long: closed loop for 60 s and 600 s, peak RSS per worker.
    const long: Run[] = [];
    if (LONG && best !== undefined) {
      for (const duration of [60, 600]) {
        try {
          long.push(await cachebench(port, tmp.dir, `closed resp W=${best.workers} ${duration}s`, 'resp', best.workers, 0, duration));
        } catch (error: unknown) {
          problems.push(error instanceof Error ? error.message : String(error));
        }
      }
    }

    // Report.
    const cores = availableParallelism();
    console.log(`## cachebench throughput vs redis-benchmark, one local redis-server (${PAYLOAD_BYTES}-byte values, ${CONNECTIONS} connections in total)`);
    console.log('');
    console.log(`Placement: client and server unpinned on this ${cores}-core machine (cachebench --cpu-layout none, no taskset), the same for both tools; one redis-server ${'(no persistence)'} on 127.0.0.1:${port}.`);
    console.log(`redis-benchmark: \`redis-benchmark -c ${CONNECTIONS} -n ${n} -d ${PAYLOAD_BYTES} -t set,get --csv\` (${rb.seconds.toFixed(1)} s; SET ${int(rb.set)} requests/s, GET ${int(rb.get)} requests/s).`);
    console.log(`1-minute load average before each measurement (${cores} cores; includes this script's own preceding steps, other work on the machine raises it further): ${loads.join(', ')}.`);
    console.log(`cachebench: closed loop, READ_RATIO 100 (fresh keys: 1 SET then 100 verified GETs), pipeline 1, ${WARMUP} s warm-up + ${DURATION} s measured; GET ops/s = throughput.mean × gets/(sets+gets).`);
    console.log('');
    const row = (label: string, get: string, total: string, ratio: string, busy: string, cpu: string): string =>
      `| ${label.padEnd(44)} | ${get.padStart(10)} | ${total.padStart(12)} | ${ratio.padStart(18)} | ${busy.padStart(11)} | ${cpu.padStart(14)} |`;
    console.log(row('measure', 'GET ops/s', 'total ops/s', 'GET vs redis-bench', 'client busy', 'client CPU/op'));
    console.log(`|${'-'.repeat(46)}|${'-'.repeat(11)}:|${'-'.repeat(13)}:|${'-'.repeat(19)}:|${'-'.repeat(12)}:|${'-'.repeat(15)}:|`);
    console.log(row(`redis-benchmark -c ${CONNECTIONS} GET`, int(rb.get), '–', '1.00×', '–', '–'));
    const clientOf = (run: Run): { busy: string; cpu: string } => {
      const meters = loadOf(run).workers.flatMap((w) => (w.client != null ? [w.client] : []));
      const busy = meters.map((m) => `${Math.round(100 * m.busy)}%`).join(' ');
      const cpu = meters.map((m) => (m.cpuUsPerOp === null ? 'n/a' : `${m.cpuUsPerOp.toFixed(1)} µs`)).join(' ');
      return { busy: busy || 'n/a', cpu: cpu || 'n/a' };
    };
    const runRow = (label: string, run: Run | undefined, reference: number): string => {
      if (run === undefined) return row(label, 'failed', 'failed', '–', '–', '–');
      const c = clientOf(run);
      return row(label, int(run.getOps), int(run.totalOps), `${(run.getOps / reference).toFixed(2)}×`, c.busy, c.cpu);
    };
    for (const client of CLIENTS) {
      for (const workers of [1, 2]) {
        console.log(runRow(`cachebench ${client} W=${workers} (${workers}×${CONNECTIONS / workers} conns)`, closed.find((r) => r.client === client && r.workers === workers), rb.get));
      }
    }
    console.log(row(`redis-benchmark -c ${CONNECTIONS} -P ${PIPELINE} GET`, int(rbPipelined.get), '–', '1.00×', '–', '–'));
    console.log(runRow(`cachebench resp W=${best?.workers ?? '?'} PIPELINE ${PIPELINE}`, pipelined, rbPipelined.get));
    console.log('');
    for (const client of CLIENTS) {
      const b = bestOf(client);
      const ratio = b === undefined ? NaN : b.getOps / rb.get;
      console.log(`${client}: better of the two ${b === undefined ? 'NOT MEASURED (both runs failed, see below)' : `W=${b.workers}, ${int(b.getOps)} GET ops/s = ${ratio.toFixed(2)}× of ${int(rb.get)}`}${client === 'resp' ? ` → target ≥ 1.0×: ${ratio >= 1 ? 'MET' : 'NOT MET'}` : ''}.`);
    }
    if (pipelined !== undefined) {
      const ratio = pipelined.getOps / rbPipelined.get;
      console.log(`resp PIPELINE ${PIPELINE}: ${int(pipelined.getOps)} GET ops/s = ${ratio.toFixed(2)}× of redis-benchmark -P ${PIPELINE} ${int(rbPipelined.get)} → target ≥ 1.0×: ${ratio >= 1 ? 'MET' : 'NOT MET'}.`);
    }
    for (const run of closed) {
      const t = loadOf(run).throughput;
      console.log(`  ${run.client} W=${run.workers}: ops/s per second ${seriesLine(run)} (mean ${int(t.mean ?? NaN)} ± ${int(t.error ?? NaN)} at 99.9%); ${failuresOf(run)}; GET service p50/p99 ${ms(loadOf(run).latency.service.get.p50Us)}/${ms(loadOf(run).latency.service.get.p99Us)} ms`);
    }
    console.log('');
    if (open !== undefined) {
      const l = loadOf(open);
      const target = l.rate.targetOpsPerSec ?? open.rate;
      const achieved = l.rate.achievedOpsPerSec;
      const off = (achieved - target) / target;
      const intended = l.latency.intended?.get;
      const service = l.latency.service.get;
      console.log(`Open loop W=${open.workers} at --rate ${int(open.rate)} (half of W=${best?.workers} closed-loop ${int(best?.totalOps ?? 0)} ops/s): achieved ${int(achieved)} of ${int(target)} ops/s (${(100 * achieved / target).toFixed(2)}%, within 1%: ${Math.abs(off) <= 0.01 ? 'yes' : 'NO'}; cachebench rate.achieved = ${String(l.rate.achieved)}); ops/s per second ${seriesLine(open)}; ${failuresOf(open)}.`);
      console.log(`  GET latency from the intended send time (coordinated-omission corrected): p50 ${ms(intended?.p50Us)} ms, p99 ${ms(intended?.p99Us)} ms, p99.9 ${ms(intended?.p999Us)} ms`);
      console.log(`  GET service time (actual send to reply): p50 ${ms(service.p50Us)} ms, p99 ${ms(service.p99Us)} ms`);
    } else {
      console.log('Open loop: not measured (see below).');
    }
    console.log('');
    console.log('Peak RSS per worker:');
    for (const run of [...closed, ...(open !== undefined ? [open] : [])]) console.log(`  ${run.label}${run.rate > 0 ? ` (--rate ${int(run.rate)})` : ''}: ${rssLine(run)}`);
    if (LONG) {
      console.log('');
      const [short, longRun] = [long.find((r) => r.duration === 60), long.find((r) => r.duration === 600)];
      for (const run of long) console.log(`Long closed loop W=${run.workers} ${run.duration} s: ${int(run.totalOps)} ops/s (GET ${int(run.getOps)}), ${failuresOf(run)}; peak RSS per worker ${rssLine(run)}`);
      if (short !== undefined && longRun !== undefined) {
        const a = loadOf(short).workers.map((w) => w.peakRssBytes);
        const b = loadOf(longRun).workers.map((w) => w.peakRssBytes);
        const growth = b.map((x, i) => x - (a[i] ?? 0));
        const grew = growth.some((g, i) => g > Math.max(20 * MiB, 0.1 * (a[i] ?? 0)));
        console.log(`Peak RSS 600 s vs 60 s per worker: ${growth.map((g) => `${g >= 0 ? '+' : ''}${(g / MiB).toFixed(0)} MiB`).join(', ')} → ${grew ? 'GREW (more than max(20 MiB, 10%))' : 'no growth beyond max(20 MiB, 10%)'}`);
      }
    }
    if (problems.length > 0) {
      console.log('');
      console.log(`cachebench problems (${problems.length}):`);
      for (const p of problems) console.log(p);
      process.exitCode = 1;
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanUp();
  }
}

await main();
