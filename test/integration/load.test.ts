import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { decodeFromCompressedBase64, type JsHistogram } from 'hdr-histogram-js';
import type { LoadResult } from '../../src/load/summary.js';
import { buildCharts } from '../../src/report/charts.js';
import type { ResultEntry, ResultsDocument } from '../../src/report/document.js';
import { runCli } from '../helpers/cli.js';
import { fieldsOf, fixtureDoc } from '../helpers/entries.js';
import { startDelayProxy } from '../helpers/delay-proxy.js';
import { loadJobCommand } from '../helpers/kubernetes.js';
import { docOf } from '../helpers/local.js';
import { processesMentioning, waitUntilNoneMention } from '../helpers/procs.js';
import { cluster, commandCount, connect, scanKeys, standalone, tempDir } from '../helpers/servers.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const root = tempDir('cachebench-loadtest-');
after(() => root.remove());

function loadOf(e: ResultEntry | undefined): LoadResult {
  assert.ok(e?.load, `no load result: ${JSON.stringify(e?.error)}`);
  return e.load;
}

/** The results.json below `dir` (one run wrote it there). */
function docIn(dir: string): ResultsDocument {
  const run = readdirSync(dir).find((d) => !d.startsWith('.'));
  assert.ok(run, `no run folder in ${dir}`);
  return JSON.parse(readFileSync(join(dir, run, 'results.json'), 'utf8')) as ResultsDocument;
}

/** An ISO START_AT `ms` from now, whole seconds (as `date -u +%Y-%m-%dT%H:%M:%SZ` gives it). */
const startAt = (ms: number): string => new Date(Math.ceil((Date.now() + ms) / 1000) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

describe('throughput runs against a standalone server', () => {
  let server: Awaited<ReturnType<typeof standalone>>;
  before(async () => {
    server = await standalone();
  });
  after(async () => {
    await server.stop();
  });

  it('the load generator measures itself: a busy loop in its process marks the row client-bound; a slowed server does not', async () => {
    const busyLoop = fileURLToPath(new URL('../../../test/fixtures/busy-loop.mjs', import.meta.url));
    const args = ['run', '--mode', 'throughput', '--clients', '4', '--duration', '3', '--warmup-seconds', '0', '--read-ratio', '3', '--payload-bytes', '100'];
    const busyOut = join(root.dir, 'busy');
    const busy = await runCli([...args, '--out', busyOut], { env: { REDIS_SERVERS: server.address, CI: 'true', NODE_OPTIONS: `--import ${busyLoop}` }, timeoutMs: 60_000 });
    assert.equal(busy.code, 0, busy.stderr + busy.stdout);
    const hot = docIn(busyOut).results[0];
    const hotClient = loadOf(hot).workers[0]?.client;
    assert.ok(hotClient != null && hotClient.seconds >= 2, JSON.stringify(hotClient));
    assert.ok(hotClient.busy >= 0.9, `busy ${hotClient.busy}`);
    assert.match(busy.stdout, /client-bound/);
    assert.match(readFileSync(join(busyOut, readdirSync(busyOut).find((d) => !d.startsWith('.')) ?? '', 'report.md'), 'utf8'), /REDIS is client-bound: its load generator's event loop was busy/);

    const proxy = await startDelayProxy(server.server.port, 20);
    try {
      const slowOut = join(root.dir, 'slow');
      const slow = await runCli([...args, '--out', slowOut], { env: { REDIS_SERVERS: `127.0.0.1:${proxy.port}`, REDIS_MODE: 'standalone', CI: 'true' }, timeoutMs: 60_000 });
      assert.equal(slow.code, 0, slow.stderr + slow.stdout);
      const cold = loadOf(docIn(slowOut).results[0]).workers[0]?.client;
      // 4 clients waiting 20 ms for each reply: the generator idles most of the time, the server (here: its delay) is the limit.
      assert.ok(cold != null && cold.busy < 0.5, JSON.stringify(cold));
      assert.ok(cold.cpuUsPerOp !== null && cold.cpuUsPerOp > 0);
      assert.doesNotMatch(slow.stdout, /client-bound/);
    } finally {
      await proxy.close();
    }
  });

  it('closed loop, CLIENTS 8 on 2 connections with PIPELINE 4: every SET and GET the server received is counted, every read verified, the seconds add up to the total', async () => {
    const sets = await commandCount(server.server.port, 'set');
    const gets = await commandCount(server.server.port, 'get');
    // The server process's own CPU time (utime + stime, clock ticks of 10 ms), to check what the run reads from INFO cpu.
    const procCpuMs = (): number => {
      const fields = readFileSync(`/proc/${server.server.process.pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    };
    const cpuBefore = procCpuMs();
    const cwd = join(root.dir, 'closed');
    const result = await runCli(['run', '--out', cwd, '--mode', 'throughput', '--clients', '8', '--connections', '2', '--pipeline', '4',
      // ioredis named: throughput runs default to resp (resp-client.test.ts), and ioredis's path (get, then the value looked at) is kept tested here.
      '--duration', '3', '--warmup-seconds', '0', '--read-ratio', '5', '--payload-bytes', '2000'], { env: { REDIS_SERVERS: server.address, REDIS_CLIENT: 'ioredis', CI: 'true' }, timeoutMs: 60_000 });
    const procMs = procCpuMs() - cpuBefore;
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const doc = docIn(cwd);
    assert.deepEqual(fieldsOf(doc, 'throughput'), fieldsOf(fixtureDoc('throughput'), 'throughput'), 'the fields a real throughput run wrote (test/fixtures)');
    // The servers' cost, from INFO cpu over the measured seconds: nearly all of the server's work in this run (no warm-up,
    // no preload), so at most its CPU over the whole run (a 10-ms tick of slack each way), and most of it (user and system).
    const cpu = loadOf(doc.results[0]).record.serverCpu;
    assert.ok(cpu != null && cpu.source === 'INFO cpu' && cpu.nodes === 1 && cpu.windows >= 1 && cpu.windows === cpu.planned, JSON.stringify(cpu));
    assert.ok(procMs > 100, `the server worked: ${procMs} ms`);
    assert.ok(cpu.ms <= procMs + 20 && cpu.ms >= 0.8 * procMs, `INFO ${cpu.ms} ms vs /proc ${procMs} ms`);
    assert.match(result.stdout, /REDIS servers \(1 node, INFO cpu over its measured seconds\): [\d,.]+ ms of CPU, [\d.]+ µs per op/);
    const e = doc.results[0];
    const load = loadOf(e);
    const record = load.record;
    // No warm-up: every op the loop issued is in the measured part, and the server saw exactly those.
    assert.equal(record.sets, (await commandCount(server.server.port, 'set')) - sets);
    assert.equal(record.gets, (await commandCount(server.server.port, 'get')) - gets);
    assert.ok(record.sets > 100 && record.gets >= 5 * record.sets - 8 * 5, `sets ${record.sets} gets ${record.gets}`);
    assert.equal(record.setErrors + record.getErrors, 0);
    assert.equal(e?.ops.set.count, record.sets);
    assert.equal(e?.ops.get.count, record.gets);
    assert.equal(e?.verification.verified, record.gets);
    assert.equal(e?.verification.missing, 0);
    assert.equal(e?.verification.mismatched, 0);
    assert.equal(load.series.length, 3);
    assert.equal(load.series.reduce((n, s) => n + s.ops, 0), record.sets + record.gets);
    assert.equal(load.throughput.n, 3);
    assert.ok(Math.abs((load.throughput.mean ?? 0) * 3 - (record.sets + record.gets)) < 1e-6);
    assert.equal(load.rate.targetOpsPerSec, null);
    assert.equal(load.latency.intended, null);
    // Every key was deleted by name.
    assert.deepEqual(await scanKeys(server.server.port, 'cachebench:*'), []);
    assert.match(result.stdout, /Ops\/s/);
    assert.match(result.stdout, /closed loop/);
    // Live progress on stderr while the load runs: the last second's ops, failures and phase.
    const live = [...result.stderr.matchAll(/cachebench: REDIS (\d+)\/3 s, measured: ([\d,]+) ops\/s, 0 failed/g)];
    assert.ok(live.length > 0 && live.every((m) => Number(m[2]!.replace(/,/g, '')) > 0), result.stderr);
  });

  it('open loop against a server paused 1.5 s (SIGSTOP/SIGCONT): p99 from the intended send time is over 1 s, service-time p99 stays far lower', async () => {
    const cwd = join(root.dir, 'open');
    const pid = server.server.process.pid;
    // START_AT fixes the schedule whatever the start-up takes: 1 s of warm-up, then 1 s into the measured part the
    // server is paused for 1.5 s.
    const at = startAt(8000);
    const pauseIn = Date.parse(at) + 2000 - Date.now();
    const pause = setTimeout(() => {
      process.kill(pid, 'SIGSTOP');
      setTimeout(() => process.kill(pid, 'SIGCONT'), 1500);
    }, pauseIn);
    const result = await runCli(['run', '--out', cwd, '--mode', 'throughput', '--clients', '8', '--connections', '2', '--rate', '1000',
      '--duration', '4', '--warmup-seconds', '1', '--read-ratio', '5', '--payload-bytes', '100'], {
      env: { REDIS_SERVERS: server.address, CI: 'true', OP_TIMEOUT_MS: '5000', START_AT: at }, timeoutMs: 60_000,
    });
    clearTimeout(pause);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const load = loadOf(docIn(cwd).results[0]);
    assert.ok(load.latency.intended !== null);
    const corrected = load.latency.intended.get.p99Us ?? 0;
    const service = load.latency.service.get.p99Us ?? Infinity;
    assert.ok(corrected >= 1_000_000, `CO-corrected GET p99 ${corrected} µs`);
    assert.ok(service < 200_000, `service GET p99 ${service} µs`);
    assert.equal(load.rate.targetOpsPerSec, 1000);
    assert.ok(load.rate.achievedOpsPerSec > 900, `achieved ${load.rate.achievedOpsPerSec}`);
    assert.match(result.stdout, /GET latency from the intended send time/);
  });

  it('three processes with one START_AT, merged: ops are the sum of the three, seconds aligned, and the merged p99 is that of one histogram holding every value', async () => {
    const dir = join(root.dir, 'shards');
    // Time for three CLIs and their workers to start on a busy 2-core machine: none may start late.
    const at = startAt(12_000);
    const runs = await Promise.all([0, 1, 2].map((i) => runCli(['run', '--out', join(dir, `s${i}`), '--shard', `${i}/3`, '--quiet',
      '--mode', 'throughput', '--clients', '4', '--connections', '2', '--duration', '3', '--warmup-seconds', '0', '--read-ratio', '5', '--payload-bytes', '500'],
    { env: { REDIS_SERVERS: server.address, CI: 'true', START_AT: at }, timeoutMs: 60_000 })));
    for (const r of runs) assert.equal(r.code, 0, r.stderr + r.stdout);
    const shards = [0, 1, 2].map((i) => loadOf(docIn(join(dir, `s${i}`)).results[0]));
    assert.deepEqual(shards.map((s) => s.shard), [{ index: 0, of: 3 }, { index: 1, of: 3 }, { index: 2, of: 3 }]);
    // The measured parts began at START_AT, to the millisecond the wall clock gives.
    for (const s of shards) {
      assert.equal(s.record.lateStartMs, 0);
      assert.equal(s.record.startMs, Date.parse(at));
    }
    const files = [0, 1, 2].map((i) => { const d = join(dir, `s${i}`); return join(d, readdirSync(d)[0] as string, 'results.json'); });
    const merged = await runCli(['merge', ...files, '--out', join(dir, 'merged')], { timeoutMs: 30_000 });
    assert.equal(merged.code, 0, merged.stderr + merged.stdout);
    const doc = JSON.parse(readFileSync(join(dir, 'merged', 'results.json'), 'utf8')) as ResultsDocument;
    assert.equal(doc.results.length, 4, 'one total row and one row per shard');
    const total = loadOf(doc.results[0]);
    assert.equal(total.mergedFrom, 3);
    const okOps = (l: LoadResult): number => l.series.reduce((n, s) => n + s.ops, 0);
    assert.equal(okOps(total), shards.reduce((n, s) => n + okOps(s), 0));
    assert.equal(total.record.gets, shards.reduce((n, s) => n + s.record.gets, 0));
    assert.equal(doc.results[0]?.verification.verified, shards.reduce((n, s) => n + s.record.verified, 0));
    assert.equal(total.series.length, 3, 'the three processes\' seconds line up');
    for (const [i, second] of total.series.entries()) assert.equal(second.ops, shards.reduce((n, s) => n + (s.series[i]?.ops ?? 0), 0));
    // The p99 of all recorded GET latencies of the three processes, computed here without adding histograms: every
    // recorded value with its count, from each process's own encoding, pooled, sorted, and walked to 99% of the total.
    const pooled: [number, number][] = [];
    for (const s of shards) {
      const it = (decodeFromCompressedBase64(s.record.histograms.get, 32) as JsHistogram).recordedValuesIterator;
      it.reset();
      while (it.hasNext()) {
        const v = it.next();
        pooled.push([v.valueIteratedTo, v.countAtValueIteratedTo]);
      }
    }
    pooled.sort((a, b) => a[0] - b[0]);
    const count = pooled.reduce((n, [, c]) => n + c, 0);
    assert.equal(count, total.latency.service.get.count);
    let seen = 0;
    const p99 = pooled.find(([, c]) => (seen += c) >= Math.ceil(0.99 * count))?.[0] ?? NaN;
    assert.equal(total.latency.service.get.p99Us, Math.round(p99 / 10) / 100);
    assert.match(merged.stdout, /REDIS \(3 shards merged\)/);
    assert.match(merged.stdout, /REDIS \(shard 2\/3\)/);
    // The merge's charts draw the total (its rows share the target's name with each input's): one line of one point
    // per second, seconds counted from 0, the ops of the total's seconds; one percentile curve, the total histogram's.
    const charts = buildCharts(doc);
    const perSecond = charts.find((c) => c.file.endsWith('-throughput.svg'));
    const points = JSON.parse(JSON.stringify(perSecond?.spec)).data.values as { target: string; s: number; ops: number }[];
    assert.deepEqual(points.map((p) => [p.target, p.s, p.ops]), total.series.map((sec, i) => ['REDIS (3 shards merged)', i, sec.ops]));
    const curves = JSON.parse(JSON.stringify(charts.find((c) => c.file.endsWith('-latency.svg'))?.spec)).data.values as { target: string; op: string }[];
    assert.deepEqual([...new Set(curves.map((c) => `${c.target} | ${c.op}`))], ['REDIS (3 shards merged) | GET service time']);
    assert.deepEqual(await scanKeys(server.server.port, 'cachebench:*'), []);
  });

  it('Ctrl-C stops the workers, deletes every key and exits 130, also while waiting for START_AT; a SIGKILLed cachebench leaves no worker behind (Ctrl-C in a preload: bounds.test)', async () => {
    const cases = [
      { name: 'SIGINT-running', signal: 'SIGINT', startInMs: 4000, afterStartMs: 1500, extra: [] as string[] },
      { name: 'SIGKILL-running', signal: 'SIGKILL', startInMs: 4000, afterStartMs: 1500, extra: [] as string[] },
      // Ready, waiting for a START_AT 40 s away: Ctrl-C must not wait for it.
      { name: 'SIGINT-waiting', signal: 'SIGINT', startInMs: 40_000, afterStartMs: -36_000, extra: ['--keyspace', '100', '--payload-bytes', '16', '--key-ttl', '600'] },
    ] as const;
    for (const c of cases) {
      const cwd = join(root.dir, `signal-${c.name}`);
      mkdirSync(cwd, { recursive: true });
      const at = startAt(c.startInMs);
      let timer: NodeJS.Timeout | undefined;
      const result = await runCli(['run', '--out', cwd, '--mode', 'throughput', '--workers', '2', '--clients', '4', '--connections', '2',
        '--duration', '60', '--warmup-seconds', '0', '--read-ratio', '5', ...(c.extra.length > 0 ? c.extra : ['--payload-bytes', '500'])], {
        cwd, env: { REDIS_SERVERS: server.address, CI: 'true', START_AT: at }, timeoutMs: 60_000,
        onStderr: (text, child) => {
          if (timer !== undefined || !text.includes('cachebench: throughput run: ')) return;
          timer = setTimeout(() => child.kill(c.signal), Math.max(0, Date.parse(at) + c.afterStartMs - Date.now()));
        },
      });
      if (c.signal === 'SIGINT') assert.equal(result.code, 130, `${c.name}: ${result.stderr}`);
      else assert.equal(result.signal, 'SIGKILL');
      if (c.signal === 'SIGINT') assert.ok(result.ms < 20_000, `${c.name}: took ${result.ms} ms to stop`);
      // A worker that lost its parent stops, deletes its keys and exits.
      assert.deepEqual(await waitUntilNoneMention(cwd, 15_000), [], `${c.name}: a load worker outlived cachebench`);
      assert.deepEqual(await scanKeys(server.server.port, 'cachebench:*'), [], `${c.name}: keys left`);
    }
  });

  it('an open-loop rate the clients cannot reach is said, --require-rate exits 1, and nothing is sent after DURATION', async () => {
    const cwd = join(root.dir, 'rate');
    const result = await runCli(['run', '--out', cwd, '--require-rate', '--mode', 'throughput', '--clients', '1', '--connections', '1', '--rate', '200000',
      '--duration', '3', '--warmup-seconds', '0', '--read-ratio', '5', '--payload-bytes', '100'], { env: { REDIS_SERVERS: server.address, CI: 'true' }, timeoutMs: 60_000 });
    assert.equal(result.code, 1, result.stderr + result.stdout);
    assert.match(result.stdout, /rate not achieved: [\d,]+ of 200,000 ops\/s/);
    assert.match(result.stderr, /rate not achieved.*--require-rate/);
    const load = loadOf(docIn(cwd).results[0]);
    assert.equal(load.rate.achieved, false);
    assert.ok(load.rate.achievedOpsPerSec < 100_000, `achieved ${load.rate.achievedOpsPerSec}`);
    assert.ok(load.record.sent !== null && load.record.sent < (load.record.scheduled ?? 0));
    // One client, one op at a time: stopping at the end leaves at most one op to finish (the run took ~3 s, not the backlog's time).
    assert.ok(result.ms < 20_000, `took ${result.ms} ms`);
  });

  it('three targets (two on one server) take turns in 1-s slices: while one sends, no other target\'s server sees a SET or GET, no key is deleted before the last turn ends, each keeps its own keys (no miss), and Percent pairs the seconds; merge compares the targets: one baseline among the totals, Percent (higher is better) for the others, none on the inputs\' rows', async () => {
    const cwd = join(root.dir, 'three-targets');
    const second = await standalone();
    // Each server's SETs and GETs, and DELs, sampled every 50 ms from here while the run goes on.
    const watch = [connect(server.server.port), connect(second.server.port)];
    const samples: { at: number; calls: number[]; dels: number }[] = [];
    const stats = async (r: (typeof watch)[number]): Promise<{ calls: number; dels: number }> => {
      const info = await r.info('commandstats');
      const sum = (re: RegExp): number => [...info.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
      return { calls: sum(/cmdstat_(?:set|get):calls=(\d+)/g), dels: sum(/cmdstat_del:calls=(\d+)/g) };
    };
    let running = true;
    const sampling = (async () => {
      while (running) {
        const values = await Promise.all(watch.map(stats));
        samples.push({ at: Date.now(), calls: values.map((v) => v.calls), dels: values.reduce((n, v) => n + v.dels, 0) });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    let run: Awaited<ReturnType<typeof runCli>>;
    try {
      run = await runCli(['run', '--out', cwd, '--mode', 'throughput', '--clients', '4', '--connections', '2', '--duration', '4', '--warmup-seconds', '0', '--slice-seconds', '1',
        '--read-ratio', '5', '--payload-bytes', '100', '--keyspace', '2000'],
      { env: { REDIS_SERVERS: server.address, SAME_SERVERS: server.address, SAME_CLIENT: 'node-redis', OTHER_SERVERS: second.address, CI: 'true' }, timeoutMs: 60_000 });
    } finally {
      running = false;
      await sampling;
      for (const r of watch) r.disconnect();
      await second.stop();
    }
    assert.equal(run.code, 0, run.stderr);
    const file = join(cwd, readdirSync(cwd)[0] as string, 'results.json');
    const ran = JSON.parse(readFileSync(file, 'utf8')) as ResultsDocument;
    const loads = ['REDIS', 'SAME', 'OTHER'].map((name) => loadOf(ran.results.find((e) => e.target.name === name)));
    // ABC, BCA, CAB, ABC: each measured second is one target's slice.
    const start = Math.min(...loads.map((l) => l.series[0]!.t));
    assert.deepEqual(loads.map((l) => l.series.map((x) => (x.t - start) / 1000)).sort((a, b) => a[0]! - b[0]!), [[0, 5, 7, 9], [1, 3, 8, 10], [2, 4, 6, 11]]);
    for (const l of loads) {
      assert.equal(l.settings.sliceSeconds, 1);
      assert.equal(l.keyspace?.misses, 0, 'a target found a key of its own missing');
      assert.ok((l.keyspace?.hits ?? 0) > 0);
      if (l.throughput.percent !== 100) assert.equal(l.throughput.percentPairs, 4);
    }
    // Within each slice (100 ms clear of its edges), the target's server counts ops and the other server does not.
    let checked = 0;
    for (const [own, load] of [[0, loads[0]!], [0, loads[1]!], [1, loads[2]!]] as const) {
      for (const slice of load.series) {
        const inside = samples.filter((x) => x.at >= slice.t + 100 && x.at <= slice.t + 900);
        const first = inside[0];
        const last = inside[inside.length - 1];
        if (first === undefined || last === undefined || first === last) continue;
        assert.ok((last.calls[own] as number) > (first.calls[own] as number), `no ops on the active target's server in its slice at ${slice.t}`);
        assert.equal(last.calls[1 - own], first.calls[1 - own], `an idle target's server saw ops during another's slice at ${slice.t}`);
        checked++;
      }
    }
    assert.ok(checked >= 8, `only ${checked} slices had samples`);
    // The clean-up (DELs of every KEYSPACE) waits for the end of the last turn.
    const during = samples.filter((x) => x.at >= start && x.at <= start + 12_000 - 100);
    assert.ok(during.length > 20 && during.every((x) => x.dels === during[0]!.dels), `keys were deleted during the run: ${during.map((x) => x.dels).join(',')}`);
    assert.ok(samples[samples.length - 1]!.dels > during[0]!.dels, 'no clean-up after the run');
    assert.match(run.stdout, /the targets taking turns in 1-s slices/);
    const merged = await runCli(['merge', file, '--out', join(cwd, 'merged')], { timeoutMs: 30_000 });
    assert.equal(merged.code, 0, merged.stderr);
    const doc = JSON.parse(readFileSync(join(cwd, 'merged', 'results.json'), 'utf8')) as ResultsDocument;
    const totals = doc.results.slice(0, 3);
    const inputs = doc.results.slice(3);
    assert.deepEqual(totals.map((e) => e.target.name).sort(), ['OTHER', 'REDIS', 'SAME']);
    assert.equal(totals.filter((e) => e.baseline).length, 1);
    const base = totals.find((e) => e.baseline) as ResultEntry;
    for (const other of totals.filter((e) => !e.baseline)) {
      assert.ok((loadOf(base).throughput.mean ?? 0) >= (loadOf(other).throughput.mean ?? 0), 'the baseline is the highest ops/s');
      const expected = (100 * (loadOf(other).throughput.mean ?? 0)) / (loadOf(base).throughput.mean ?? 1);
      assert.ok(Math.abs((loadOf(other).throughput.percent ?? 0) - expected) < 1e-9);
    }
    for (const e of inputs) {
      assert.equal(e.baseline, false);
      assert.equal(loadOf(e).throughput.percent, null);
    }
    // `cachebench report` renders the merged results again without running anything: the same report.md, report.html,
    // charts and CSV.
    const again = await runCli(['report', join(cwd, 'merged', 'results.json'), '--out', join(cwd, 'again')], { timeoutMs: 30_000 });
    assert.equal(again.code, 0, again.stderr);
    const charts = readdirSync(join(cwd, 'merged')).filter((f) => f.startsWith('chart-')).sort();
    assert.ok(charts.some((f) => f.endsWith('-throughput.svg')) && charts.some((f) => f.endsWith('-latency.svg')), charts.join(', '));
    assert.deepEqual(readdirSync(join(cwd, 'again', doc.runId)).filter((f) => f.startsWith('chart-')).sort(), charts);
    for (const name of ['report.md', 'report.html', 'results.csv', 'results.json', ...charts]) {
      assert.equal(readFileSync(join(cwd, 'again', doc.runId, name), 'utf8'), readFileSync(join(cwd, 'merged', name), 'utf8'), name);
    }
    const missing = await runCli(['report', join(cwd, 'nothing-here.json')], { timeoutMs: 30_000 });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot be read \(ENOENT\)/);
  });

  it('the Kubernetes Indexed Job\'s exact pod command line runs locally as shard 0 of 1, and the merge step reads what it wrote', async () => {
    const { command, env } = loadJobCommand();
    const results = join(root.dir, 'k8s');
    const podEnv = { ...env, JOB_COMPLETION_INDEX: '0', SHARDS: '1', START_AT: startAt(4000), RESULTS_DIR: results, REDIS_SERVERS: server.address, DURATION: '3', WARMUP_SECONDS: '0', CLIENTS: '4', CONNECTIONS: '2' };
    const [program, ...args] = command;
    assert.ok(program !== undefined);
    const pod = await runCli(args, { command: program, cwd: REPO, env: podEnv, timeoutMs: 60_000 });
    assert.equal(pod.code, 0, pod.stderr + pod.stdout);
    const shard = loadOf(docIn(join(results, 'shard-0')).results[0]);
    assert.deepEqual(shard.shard, { index: 0, of: 1 });
    assert.ok(okOpsOf(shard) > 0);
    const merged = await runCli(['merge', join(results, 'shard-0', readdirSync(join(results, 'shard-0'))[0] as string, 'results.json'), '--out', join(results, 'merged')], { cwd: REPO, timeoutMs: 30_000 });
    assert.equal(merged.code, 0, merged.stderr);
  });
});

const okOpsOf = (l: LoadResult): number => l.series.reduce((n, s) => n + s.ops, 0);

describe('throughput runs against the local 3+3 cluster', () => {
  let c: Awaited<ReturnType<typeof cluster>>;
  before(async () => {
    c = await cluster();
  });
  after(async () => {
    await c.stop();
  });

  it('per-node breakdown with 2 workers over a uniform KEYSPACE: three primaries, close to a third of the ops each, and nothing left running', async () => {
    const cwd = join(root.dir, 'nodes');
    mkdirSync(cwd, { recursive: true });
    const result = await runCli(['run', '--out', cwd, '--mode', 'throughput', '--workers', '2', '--clients', '8', '--connections', '2',
      '--keyspace', '3000', '--key-distribution', 'uniform', '--read-ratio', '9', '--payload-bytes', '100', '--duration', '3', '--warmup-seconds', '1'],
    { cwd, env: { REDIS_SERVERS: c.addresses, CI: 'true' }, timeoutMs: 90_000 });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const e = docOf(result.stdout, cwd).results[0];
    const load = loadOf(e);
    assert.equal(load.workers.length, 2);
    assert.ok(load.nodes !== null);
    assert.equal(load.nodes.length, 3);
    const primaries = new Set(c.cluster.nodes.slice(0, 3).map((n) => `127.0.0.1:${n.port}`));
    for (const n of load.nodes) {
      assert.ok(primaries.has(n.node), `${n.node} is not one of the primaries`);
      assert.ok(Math.abs(n.share - 1 / 3) < 0.05, `${n.node} served ${(100 * n.share).toFixed(1)}% of ops`);
    }
    assert.equal(load.nodes.reduce((n, x) => n + x.ops, 0), okOpsOf(load));
    assert.ok(load.keyspace !== null && load.keyspace.hits > 0);
    assert.equal(e?.verification.mismatched, 0);
    assert.match(result.stdout, /per primary \(by each key's slot\)/);
    // The preloaded keys were deleted and both worker processes (they run in the CLI's working folder) are gone.
    for (const n of c.cluster.nodes.slice(0, 3)) assert.deepEqual(await scanKeys(n.port, 'cachebench:*'), []);
    assert.deepEqual(processesMentioning(cwd), []);
  });
});
