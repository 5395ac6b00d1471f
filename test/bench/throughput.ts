/**
 * npm run bench:throughput — can a throughput run of cachebench drive one local redis-server as hard as
 * redis-benchmark does with the same number of connections? Measured in one run against one redis-server:
 *   1. redis-benchmark -c 50 -d 20000 -t set,get (its GETs read the 20,000-byte value its SETs wrote), -n sized by a
 *      short pilot so the run takes ~RB_SECONDS (10) s; its SET and GET requests/s;
 *   2. cachebench closed loop, GET-heavy (READ_RATIO 100, fresh keys, every GET verified), 50 connections in total:
 *      WORKERS=1 (50 clients on 50 connections) and WORKERS=2 (25 on 25 each), 2 s warm-up + 10 s measured, through
 *      the CLI in a child process; GET ops/s = throughput.mean × gets / (sets + gets);
 *   3. cachebench open loop at half the better closed-loop total rate (same WORKERS): achieved vs target rate, GET
 *      latency from the intended send time (coordinated-omission corrected) next to service time;
 *   4. peak RSS per worker of each run.
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

async function redisBenchmark(port: number, n: number): Promise<RedisBenchmark> {
  if (n > 20000) noteLoad('redis-benchmark');
  const t0 = performance.now();
  const { stdout } = await execFileAsync(requireBinary('redis-benchmark'),
    ['-h', '127.0.0.1', '-p', String(port), '-c', String(CONNECTIONS), '-n', String(n), '-d', String(PAYLOAD_BYTES), '-t', 'set,get', '--csv'],
    { timeout: 300_000 });
  const rps = (name: string): number => {
    const line = stdout.split('\n').find((l) => l.startsWith(`"${name}"`));
    const value = Number(line?.split(',')[1]?.replace(/"/g, ''));
    if (!Number.isFinite(value) || value <= 0) throw new Error(`cannot read ${name} requests/s from redis-benchmark: ${stdout}`);
    return value;
  };
  return { n, set: rps('SET'), get: rps('GET'), seconds: (performance.now() - t0) / 1000 };
}

interface Run {
  readonly label: string;
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
async function cachebench(port: number, outRoot: string, label: string, workers: number, rate: number, duration = DURATION): Promise<Run> {
  const perWorker = CONNECTIONS / workers;
  const out = join(outRoot, label.replace(/[^a-zA-Z0-9]+/g, '-'));
  const args = [
    'run', SCENARIO, '--mode', 'throughput', '--workers', String(workers),
    '--clients', String(perWorker), '--connections', String(perWorker), '--pipeline', '1', '--rate', String(rate),
    '--duration', String(duration), '--warmup-seconds', String(WARMUP), '--read-ratio', '100',
    '--payload-bytes', String(PAYLOAD_BYTES), '--cpu-layout', 'none', '--out', out,
  ];
  const shown = `REDIS_SERVERS=127.0.0.1:${port} CI=true node dist/src/cli/main.js ${args.join(' ').replace(SCENARIO, 'scenarios/throughput.yaml').replace(out, '$TMP')}`;
  process.stderr.write(`${label}: ${shown}\n`);
  noteLoad(label);
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CI: 'true', REDIS_SERVERS: `127.0.0.1:${port}` },
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
  return { label, workers, rate, duration, args, entry, totalOps: mean, getOps: (mean * gets) / (sets + gets) };
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

    // 2. closed loop, WORKERS=1 and 2, 50 connections in total.
    const closed: Run[] = [];
    for (const workers of [1, 2]) {
      try {
        closed.push(await cachebench(port, tmp.dir, `closed W=${workers}`, workers, 0));
      } catch (error: unknown) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }
    const best = closed.reduce<Run | undefined>((b, r) => (b === undefined || r.totalOps > b.totalOps ? r : b), undefined);

    // 3. open loop at half the better closed-loop total rate.
    let open: Run | undefined;
    if (best !== undefined) {
      try {
        open = await cachebench(port, tmp.dir, `open W=${best.workers}`, best.workers, Math.round(best.totalOps / 2));
      } catch (error: unknown) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }

    // 4. --long: closed loop for 60 s and 600 s, peak RSS per worker.
    const long: Run[] = [];
    if (LONG && best !== undefined) {
      for (const duration of [60, 600]) {
        try {
          long.push(await cachebench(port, tmp.dir, `closed W=${best.workers} ${duration}s`, best.workers, 0, duration));
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
    const row = (label: string, get: string, total: string, ratio: string): string => `| ${label.padEnd(40)} | ${get.padStart(10)} | ${total.padStart(12)} | ${ratio.padStart(20)} |`;
    console.log(row('measure', 'GET ops/s', 'total ops/s', 'GET vs redis-bench'));
    console.log(`|${'-'.repeat(42)}|${'-'.repeat(11)}:|${'-'.repeat(13)}:|${'-'.repeat(21)}:|`);
    console.log(row(`redis-benchmark -c ${CONNECTIONS} GET`, int(rb.get), '–', '1.00×'));
    for (const workers of [1, 2]) {
      const run = closed.find((r) => r.workers === workers);
      const label = `cachebench W=${workers} GET (${workers}×${CONNECTIONS / workers} conns)`;
      console.log(run === undefined ? row(label, 'failed', 'failed', '–') : row(label, int(run.getOps), int(run.totalOps), `${(run.getOps / rb.get).toFixed(2)}×`));
    }
    console.log('');
    if (best !== undefined) {
      const ratio = best.getOps / rb.get;
      console.log(`Target: better of the two ≥ 1.0× redis-benchmark GET → ${ratio >= 1 ? 'MET' : 'NOT MET'} (best: W=${best.workers}, ${int(best.getOps)} GET ops/s = ${ratio.toFixed(2)}× of ${int(rb.get)}).`);
    } else {
      console.log('Target: better of the two ≥ 1.0× redis-benchmark GET → NOT MEASURED (both cachebench runs failed, see below).');
    }
    for (const run of closed) {
      const t = loadOf(run).throughput;
      console.log(`  W=${run.workers}: ops/s per second ${seriesLine(run)} (mean ${int(t.mean ?? NaN)} ± ${int(t.error ?? NaN)} at 99.9%); ${failuresOf(run)}; GET service p50/p99 ${ms(loadOf(run).latency.service.get.p50Us)}/${ms(loadOf(run).latency.service.get.p99Us)} ms`);
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
