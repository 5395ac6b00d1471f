import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resultsOf, runCli } from '../helpers/cli.js';
import { cluster, commandCount, connectionsReceived, standalone, tempDir } from '../helpers/servers.js';

let multi: Awaited<ReturnType<typeof cluster>>;
let single: Awaited<ReturnType<typeof standalone>>;
const out = tempDir('cachebench-wait-');

before(async () => {
  [multi, single] = await Promise.all([cluster(), standalone()]);
});
after(async () => {
  await Promise.all([multi?.stop(), single?.stop()]);
  out.remove();
});

const SMALL = ['--read-ratio', '2', '--write-count', '5', '--payload-bytes', '200', '--warmup-iterations', '1', '--invocation-count', '1', '--max-iterations', '3'];

describe('<NAME>_WAIT: a SET counts as written once WAIT says enough replicas have it', () => {
  for (const client of ['ioredis', 'node-redis', 'glide', 'resp'] as const) {
    it(`${client}: every SET is followed by WAIT 1 on the key's primary, and the replica acknowledges it`, async () => {
      const primaries = multi.cluster.nodes.slice(0, 3);
      const perNode = async (command: string): Promise<number[]> => Promise.all(primaries.map((n) => commandCount(n.port, command)));
      const [setsBefore, waitsBefore] = [await perNode('set'), await perNode('wait')];
      const result = await runCli(['run', '--out', out.dir, ...SMALL], { env: { W_SERVERS: multi.addresses, W_CLIENT: client, W_WAIT: '1' } });
      assert.equal(result.code, 0, result.stderr);
      const e = resultsOf(result.stdout).results[0];
      assert.equal(e?.target.wait, 1);
      assert.equal(e?.verification.verified, e?.verification.reads);
      assert.equal((e?.ops.set.errors ?? 1) + (e?.ops.get.errors ?? 1), 0);
      // The console's compact table lists the client set-up under it.
      assert.match(result.stdout, new RegExp(`client set-ups: W: ${client}, WAIT 1`));
      const [setsAfter, waitsAfter] = [await perNode('set'), await perNode('wait')];
      const sets = setsAfter.map((n, i) => n - (setsBefore[i] ?? 0));
      const waits = waitsAfter.map((n, i) => n - (waitsBefore[i] ?? 0));
      // Every SET of the loop (warm-up included) had one WAIT on its own primary; the first listed server also got the
      // capability probe's WAIT 0 0. (About 20 fresh keys: a primary may draw none of them, 1 run in ~1,000.)
      assert.ok(sets.reduce((a, b) => a + b, 0) >= 10, JSON.stringify(sets));
      assert.deepEqual(waits, sets.map((n, i) => n + (i === 0 ? 1 : 0)), `WAITs ${JSON.stringify(waits)} for SETs ${JSON.stringify(sets)}`);
    });
  }

  it('a WORKLOAD through every driver: every write op (a command, a transaction, a script) is followed by one WAIT 1 on its key\'s primary, reads are not; every reply verified', async () => {
    const primaries = multi.cluster.nodes.slice(0, 3);
    const waits = async (): Promise<number> => (await Promise.all(primaries.map((n) => commandCount(n.port, 'wait')))).reduce((a, b) => a + b, 0);
    const before = await waits();
    const targets = [['OWN', 'resp'], ['IOR', 'ioredis'], ['NODE', 'node-redis'], ['GLIDE', 'glide']] as const;
    const mix = '40:GET {key}, 20:INCR {key}, 20:MULTI; INCRBY {key} 2; GET {key}; EXEC, 20:EVAL; DECR {key}; GET {key}';
    const env: Record<string, string> = { CI: 'true' };
    for (const [name, client] of targets) Object.assign(env, { [`${name}_SERVERS`]: multi.addresses, [`${name}_CLIENT`]: client, [`${name}_WAIT`]: '1' });
    const result = await runCli(['run', '--out', out.dir, '--mode', 'throughput', '--envVars', 'DURATION:3', 'WARMUP_SECONDS:0', 'CLIENTS:4', 'KEYSPACE:200', 'PAYLOAD_BYTES:64',
      `WORKLOAD:${mix}`], { env });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    let writes = 0;
    for (const e of resultsOf(result.stdout).results) {
      const commands = e.load?.commands ?? [];
      assert.deepEqual(commands.map((c) => c.command).sort(), ['EVAL(DECR+GET)', 'GET', 'INCR', 'MULTI(INCRBY+GET)'], e.target.name);
      let own = 0;
      for (const c of commands) {
        assert.equal(c.verified, c.ops, `${e.target.name} ${c.command}`);
        if (c.command !== 'GET') own += c.ops;
      }
      // cachebench's own client sends WAIT in one write with the command: an EVALSHA answered NOSCRIPT had one too.
      const kept = e.load?.record.housekeeping ?? {};
      assert.equal(kept.WAIT, own + (e.target.name === 'OWN' ? kept.EVAL ?? 0 : 0), `${e.target.name}: a WAIT per write op, counted`);
      writes += kept.WAIT ?? 0;
    }
    // One WAIT per write op on one primary (node-redis's cluster would send WAIT to every primary), and each target's
    // capability probe's WAIT 0 0.
    assert.equal(await waits() - before, writes + targets.length);
  });

  it('more replicas than there are: exit 3 naming the count, nothing written', async () => {
    const before = await commandCount(single.server.port, 'set');
    const result = await runCli(['run', '--out', out.dir, ...SMALL], { env: { S_SERVERS: single.address, S_WAIT: '1' } });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /S_WAIT=1 but the server has 0 replicas, so no write could be acknowledged\. Fix: set S_WAIT to 0 or less, or add replicas/);
    const clusterResult = await runCli(['run', '--out', out.dir, ...SMALL], { env: { C_SERVERS: multi.addresses, C_WAIT: '2' } });
    assert.equal(clusterResult.code, 3, clusterResult.stderr);
    assert.match(clusterResult.stderr, /C_WAIT=2 but the primaries have 1 replica each/);
    assert.equal(await commandCount(single.server.port, 'set'), before);
  });

  it('bad values and a proxy: exit 2 before any connection', async () => {
    for (const [env, expect] of [
      [{ X_WAIT: 'two' }, /X_WAIT="two".*not a whole number of replicas from 0 to 16/],
      [{ X_WAIT: '1', X_MODE: 'proxy' }, /X_WAIT="1".*a proxy \(X_MODE=proxy\) does not pass WAIT on/],
    ] as const) {
      const before = await connectionsReceived(single.server.port);
      const result = await runCli(['run', '--out', out.dir], { env: { X_SERVERS: single.address, ...env } });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, expect);
      assert.equal(await connectionsReceived(single.server.port), before + 1);
    }
  });
});
