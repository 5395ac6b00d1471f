import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MIX_COMMANDS } from '../../src/config/workload.js';
import { parseTrace, TRACE_OPS, type TraceOpName } from '../../src/config/trace.js';
import { TRACE_COMMANDS } from '../../src/config/trace-plan.js';
import type { LoadResult } from '../../src/load/summary.js';
import { OpHistogram } from '../../src/measure/histogram.js';
import { runCli } from '../helpers/cli.js';
import { connect, scanKeys, standalone, tempDir } from '../helpers/servers.js';
import { commandStats, docIn, plantForeign } from '../helpers/server-checks.js';

const root = tempDir('cachebench-trace-');
after(() => root.remove());

describe('TRACE replays a cache trace against a real server', () => {
  let server: Awaited<ReturnType<typeof standalone>>;
  before(async () => {
    server = await standalone();
  });
  after(async () => {
    await server.stop();
  });

  it('at its own timing: each op sent at its time (p50 within 1 ms), the server received exactly the trace\'s commands of the measured seconds, every read verified, misses refilled, no key left', async () => {
    const file = join(root.dir, 'trace.csv');
    // 4 s of trace at 400 ops/s over 300 keys, the sample's mix (trace-gen): 3 whole measured seconds without warm-up.
    const gen = await runCli(['trace-gen', file, '--ops', '1600', '--rate', '400', '--keys', '300', '--seed', '11'], { timeoutMs: 30_000 });
    assert.equal(gen.code, 0, gen.stderr);
    const again = await runCli(['trace-gen', file], { timeoutMs: 30_000 });
    assert.equal(again.code, 2, 'an existing file is never overwritten');
    const check = await plantForeign(server.server.port);
    const before = await commandStats(server.server.port);
    const out = join(root.dir, 'timed');
    const run = await runCli(['run', '--out', out], {
      env: { REDIS_SERVERS: server.address, MODE: 'throughput', TRACE: file, WARMUP_SECONDS: '0', CLIENTS: '20', CONNECTIONS: '4', CI: 'true' }, timeoutMs: 120_000,
    });
    assert.equal(run.code, 0, run.stderr + run.stdout);
    const after = await commandStats(server.server.port);
    const load = docIn(out).results[0]?.load as LoadResult;
    assert.equal(load.settings.durationSeconds, 3);
    // Independently: the trace's ops due in the 3 measured seconds, per command they are replayed as.
    const trace = parseTrace(readFileSync(file), 12);
    const due = new Map<string, number>();
    const skipped: Record<string, number> = {};
    for (let i = 0; i < trace.ops; i++) {
      if ((trace.atMs[i] as number) >= 3000) continue;
      const op = TRACE_OPS[trace.op[i] as number] as TraceOpName;
      const command = TRACE_COMMANDS[op];
      if (command === undefined) skipped[op] = (skipped[op] ?? 0) + 1;
      else due.set(command, (due.get(command) ?? 0) + 1);
    }
    const t = load.trace;
    assert.ok(t !== undefined && t.lagMs !== null);
    const measured = [...due.values()].reduce((n, x) => n + x, 0);
    assert.equal(load.record.scheduled, measured);
    // Every op due was sent, but one due in the last moment of the window may find it ended (then it is not sent).
    const sent = load.record.sent ?? 0;
    const unsent = measured - sent;
    assert.ok(unsent >= 0 && unsent <= 2, `${sent} of ${measured} due sent`);
    assert.deepEqual(t.skipped, skipped);
    const ops = new Map((load.commands ?? []).map((c) => [c.command, c]));
    for (const [command, n] of due) {
      const c = ops.get(command);
      assert.ok(c !== undefined, command);
      // A get that missed was refilled with a SET, counted among the SETs.
      const expected = n + (command === 'SET' ? t.refills : 0);
      assert.ok(c.ops <= expected && c.ops >= expected - unsent, `${command}: ${c.ops} ops, ${expected} due`);
      assert.equal(c.service.errors, 0);
      assert.equal(c.verified, c.ops, `${command}: ${c.verified} verified of ${c.ops} (missing ${c.missing}, mismatched ${c.mismatched}, unverified ${c.unverified})`);
    }
    // Each miss refilled, but one due in a window that ended meanwhile (the last op of a client's replay): not sent.
    const misses = load.keyspace?.misses ?? 0;
    assert.ok(t.refills <= misses && misses - t.refills <= 20, `${t.refills} refills of ${misses} misses`);
    const gets = (load.keyspace?.hits ?? 0) + (load.keyspace?.misses ?? 0);
    assert.ok(gets <= (due.get('GET') ?? 0) && gets >= (due.get('GET') ?? 0) - unsent, `${gets} GETs answered`);
    assert.ok((load.keyspace?.hits ?? 0) > 0 && t.refills > 0);
    // The server saw those commands, the EXPIREs after keys INCR or DECR created, and one DEL per key at the end.
    const expected = new Map<string, number>([...ops].map(([command, c]) => [command, c.ops]));
    for (const [command, n] of Object.entries(load.record.housekeeping ?? {})) expected.set(command, (expected.get(command) ?? 0) + n);
    expected.set('DEL', (expected.get('DEL') ?? 0) + trace.keys);
    for (const command of new Set([...Object.keys(MIX_COMMANDS), ...expected.keys()])) {
      assert.equal((after.get(command) ?? 0) - (before.get(command) ?? 0), expected.get(command) ?? 0, `${command}: the server's count against what cachebench sent`);
    }
    // Sent at their times: the median op within 1 ms of its intended send time (p99 and max are reported, not judged here).
    const lag = OpHistogram.decode(load.record.trace?.lag as string);
    assert.equal(lag.count, sent);
    assert.ok(t.lagMs.p50 <= 1, `p50 ${t.lagMs.p50} ms off schedule`);
    assert.equal(load.latency.view, 'intended');
    assert.match(run.stdout, /Trace replay: trace\.csv \(sha256 [0-9a-f]{16}…\), 1,600 ops/);
    assert.match(run.stdout, /ops sent off their intended times \(late or early\) by p50 [\d.]+ ms/);
    await check();
    assert.deepEqual(await scanKeys(server.server.port, 'cachebench:*'), []);
  });

  it('keys found gone are excused as evictions only as far as the servers evicted: on a server that evicts, unverified; on one whose keys another client deletes, missing (exit 1)', async () => {
    const file = join(root.dir, 'gone.csv');
    const gen = await runCli(['trace-gen', file, '--ops', '3000', '--rate', '800', '--keys', '6000', '--zipf', '0.2', '--seed', '8'], { timeoutMs: 30_000 });
    assert.equal(gen.code, 0, gen.stderr);
    const evicting = await standalone();
    const admin = connect(evicting.server.port);
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
    // Room for a part of the trace's values (and the clients' buffers): Redis evicts (allkeys-random) as the replay writes.
    await admin.config('SET', 'maxmemory', String(used + 1_400_000));
    await admin.config('SET', 'maxmemory-policy', 'allkeys-random');
    admin.disconnect();
    // The other server cannot evict (maxmemory 0), and a client deletes the run's keys behind the replay's back.
    const deleter = connect(server.server.port);
    let deleting = true;
    const sweep = (async () => {
      while (deleting) {
        const keys = await scanKeys(server.server.port, 'cachebench:*');
        if (keys.length > 0) await deleter.del(...keys);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const env = { MODE: 'throughput', TRACE: file, WARMUP_SECONDS: '0', CLIENTS: '10', CI: 'true' };
    try {
      const [evicted, deleted] = await Promise.all([
        runCli(['run', '--out', join(root.dir, 'evicting')], { env: { ...env, E_SERVERS: evicting.address }, timeoutMs: 60_000 }),
        runCli(['run', '--out', join(root.dir, 'deleted')], { env: { ...env, D_SERVERS: server.address }, timeoutMs: 60_000 }),
      ]);
      const e = docIn(join(root.dir, 'evicting')).results[0]?.load as LoadResult;
      assert.ok((e.trace?.evictions ?? 0) > 0 && (e.trace?.lost ?? 0) > 0, JSON.stringify(e.trace) + evicted.stderr);
      assert.equal(e.trace?.unexplained, 0, JSON.stringify(e.trace));
      assert.equal(e.record.missing, 0);
      assert.match(evicted.stdout, /keys the replay had written were gone when read, the servers evicted [\d,]+: counted unverified/);
      const d = docIn(join(root.dir, 'deleted')).results[0]?.load as LoadResult;
      assert.equal(d.trace?.evictions, 0);
      assert.ok((d.trace?.unexplained ?? 0) > 0 && d.trace?.unexplained === d.trace?.lost, JSON.stringify(d.trace));
      assert.ok(d.record.missing >= (d.trace?.unexplained ?? 0));
      assert.equal(deleted.code, 1, deleted.stdout);
      assert.match(deleted.stdout, /VERIFICATION FAILED/);
    } finally {
      deleting = false;
      await sweep;
      deleter.disconnect();
      await evicting.stop();
    }
  });

  it('at max: clients replay their ops back to back for DURATION, from their first op again, every read still verified', async () => {
    const file = join(root.dir, 'small.csv');
    const gen = await runCli(['trace-gen', file, '--ops', '300', '--rate', '100', '--keys', '40', '--seed', '4'], { timeoutMs: 30_000 });
    assert.equal(gen.code, 0, gen.stderr);
    // TRACE_REFILL off: a miss is left to the trace's own sets.
    writeFileSync(join(root.dir, 'max.yaml'), 'MODE: throughput\nTRACE: small.csv\nTRACE_SPEED: max\nTRACE_REFILL: "off"\nDURATION: 3\nWARMUP_SECONDS: 0\nCLIENTS: 8\nCONNECTIONS: 2\n');
    const out = join(root.dir, 'max');
    const run = await runCli(['run', join(root.dir, 'max.yaml'), '--out', out], { env: { REDIS_SERVERS: server.address, CI: 'true' }, timeoutMs: 60_000 });
    assert.equal(run.code, 0, run.stderr + run.stdout);
    const load = docIn(out).results[0]?.load as LoadResult;
    assert.equal(load.trace?.speed, null);
    assert.equal(load.trace?.lagMs, null);
    assert.equal(load.settings.rate, null);
    assert.ok((load.keyspace?.misses ?? 0) > 0);
    assert.equal(load.trace?.refills, 0);
    assert.match(run.stdout, /a get that misses not refilled \(TRACE_REFILL=off\)/);
    const total = (load.commands ?? []).reduce((n, c) => n + c.ops, 0);
    assert.ok(total > 300, `${total} ops: the trace repeated`);
    for (const c of load.commands ?? []) assert.equal(c.verified, c.ops, c.command);
    assert.deepEqual(await scanKeys(server.server.port, 'cachebench:*'), []);
  });
});
