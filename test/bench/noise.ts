/**
 * npm run bench:noise — where the iteration-to-iteration noise of a loopback benchmark comes from.
 *
 * For each CPU layout (none / split / shared, see src/local/placement.ts) it starts the three local
 * topologies, pins them and this process, and runs ROUNDS interleaved rounds of cachebench's own
 * seed loop (the same runSeedIteration the harness times) against each target. Per iteration it
 * records candidate causes: Node GC pause time, event-loop delay, this process's CPU time, the
 * target's server CPU time (/proc), and whether the client and the target's first server were on
 * the same CPU at the end of the iteration (/proc/<pid>/stat field 39). It prints, per layout and
 * target: mean, CV, lag-1 autocorrelation and the correlation of iteration time with each candidate.
 * A measurement, not a test: it asserts nothing.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mean, sampleCorrelation, sampleStandardDeviation } from 'simple-statistics';
import { resolveConfig } from '../../src/config/resolve.js';
import { applyPlacement, pinProcess, planPlacement, type CpuLayout } from '../../src/local/placement.js';
import { startLocal, type LocalDeployment } from '../../src/local/topologies.js';
import { seededRandom } from '../../src/measure/random.js';
import { driverFor } from '../../src/targets/drivers.js';
import type { ConnectedTarget } from '../../src/targets/client.js';
import { Tally } from '../../src/workload/tally.js';
import { deleteKeys, prepareIteration, runSeedIteration } from '../../src/workload/seed-loop.js';

const ROUNDS = Number(process.env.ROUNDS ?? 40);
const PARAMS = { READ_RATIO: 100, WRITE_COUNT: 10, PAYLOAD_BYTES: 20000 };
const LAYOUTS: CpuLayout[] = (process.env.LAYOUTS ?? 'none,split,shared').split(',') as CpuLayout[];
const TICK_MS = 10; // USER_HZ = 100 on Linux
/** FORCE_GC=1: collect garbage (a full GC) before each timed iteration, as BenchmarkDotNet does by default. */
const FORCE_GC = process.env.FORCE_GC === '1';
if (FORCE_GC) setFlagsFromString('--expose-gc');
const forceGc = FORCE_GC ? (runInNewContext('gc') as () => void) : (): void => undefined;

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
}

function lastCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[36]); // field 39: processor
}

function lag1(xs: readonly number[]): number {
  return xs.length < 3 ? Number.NaN : sampleCorrelation(xs.slice(1), xs.slice(0, -1));
}

function corr(xs: readonly number[], ys: readonly number[]): number {
  if (xs.length < 3 || sampleStandardDeviation(ys) === 0 || sampleStandardDeviation(xs) === 0) return Number.NaN;
  return sampleCorrelation(xs, ys);
}

interface Row {
  ms: number;
  gcMs: number;
  eldMaxMs: number;
  clientCpuMs: number;
  serverCpuMs: number;
  sameCpu: number;
}

async function measureLayout(layout: CpuLayout): Promise<void> {
  const placement = planPlacement(layout);
  // Children inherit the parent's affinity: unpin this process before the servers start.
  await pinProcess(process.pid, `0-${availableParallelism() - 1}`);
  const deployment: LocalDeployment = await startLocal(['REDIS_CLUSTER', 'TWEMPROXY', 'REDIS_SINGLE'], { detached: true });
  try {
    const pidsOf = new Map(deployment.topologies.map((t) => [t.name, t.processes.map((p) => p.pid)]));
    await applyPlacement(placement, deployment.topologies.flatMap((t) => t.processes.map((p) => p.pid)));
    const env = Object.assign({}, ...deployment.topologies.map((t) => t.settings)) as Record<string, string>;
    const plan = resolveConfig({ scenarioFiles: [], env, envVars: [], flags: { OP_TIMEOUT_MS: '5000' } });
    const controls = plan.scenarios[0]?.controls;
    if (controls === undefined) throw new Error('no scenario');
    const targets: ConnectedTarget[] = await Promise.all(plan.targets.map(async (t) => (await driverFor(t.client)).connect(t, controls)));
    const rows = new Map<string, Row[]>(targets.map((t) => [t.config.name, []]));
    let gcMs = 0;
    const gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gcMs += entry.duration;
    });
    gc.observe({ entryTypes: ['gc'] });
    const eld = monitorEventLoopDelay({ resolution: 1 });
    eld.enable();
    const random = seededRandom(1);
    try {
      for (let round = -2; round < ROUNDS; round++) {
        const order = [...targets].sort(() => random() - 0.5);
        for (const target of order) {
          const name = target.config.name;
          const servers = pidsOf.get(name as 'REDIS_CLUSTER') ?? [];
          const iteration = prepareIteration('cachebench:noise:', PARAMS);
          const tally = new Tally();
          if (FORCE_GC) forceGc();
          const gc0 = gcMs;
          eld.reset();
          const cpu0 = process.cpuUsage();
          const server0 = servers.reduce((a, pid) => a + cpuTicks(pid), 0);
          const t0 = performance.now();
          const outcome = await runSeedIteration(target.client, iteration, PARAMS.READ_RATIO, 60, tally, undefined, () => false);
          const ms = performance.now() - t0;
          const cpu = process.cpuUsage(cpu0);
          const serverTicks = servers.reduce((a, pid) => a + cpuTicks(pid), 0) - server0;
          const same = servers.some((pid) => lastCpu(pid) === lastCpu(process.pid)) ? 1 : 0;
          await deleteKeys(target.client, iteration.keys);
          if (outcome.state !== 'completed' || tally.verified !== tally.gets) throw new Error(`${name}: iteration failed`);
          if (round >= 0) {
            rows.get(name)?.push({ ms, gcMs: gcMs - gc0, eldMaxMs: eld.max / 1e6, clientCpuMs: (cpu.user + cpu.system) / 1000,
              serverCpuMs: serverTicks * TICK_MS, sameCpu: same });
          }
        }
      }
    } finally {
      gc.disconnect();
      eld.disable();
      await Promise.all(targets.map((t) => t.client.close()));
    }
    for (const [name, r] of rows) {
      const ms = r.map((x) => x.ms);
      const m = mean(ms);
      const cv = sampleStandardDeviation(ms) / m;
      const col = (k: keyof Row): string => corr(ms, r.map((x) => x[k])).toFixed(2);
      process.stdout.write(
        `| ${placement.layout} | ${name} | ${m.toFixed(1)} | ${(100 * cv).toFixed(1)}% | ${lag1(ms).toFixed(2)} | ${mean(r.map((x) => x.gcMs)).toFixed(2)} | ${col('gcMs')} | ${col('eldMaxMs')} | ${col('clientCpuMs')} | ${mean(r.map((x) => x.serverCpuMs)).toFixed(1)} | ${col('serverCpuMs')} | ${(100 * mean(r.map((x) => x.sameCpu))).toFixed(0)}% | ${col('sameCpu')} |\n`,
      );
    }
  } finally {
    await deployment.stop();
  }
}

process.stdout.write(`noise: ${ROUNDS} rounds per layout, seed loop ${JSON.stringify(PARAMS)}, ${availableParallelism()} cores\n\n`);
process.stdout.write('| layout | target | mean ms | CV | lag-1 | GC ms/it | r(GC) | r(ELD max) | r(client CPU) | server CPU ms/it | r(server CPU) | same CPU | r(same CPU) |\n');
process.stdout.write('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n');
for (const layout of LAYOUTS) await measureLayout(layout);
await pinProcess(process.pid, `0-${availableParallelism() - 1}`);
