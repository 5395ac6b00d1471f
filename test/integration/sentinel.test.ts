import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { assertNothingLeft, docOf, FAULT_LOAD, faultOf, sandbox as sandboxIn } from '../helpers/local.js';
import { tempDir } from '../helpers/servers.js';

/*
 * Redis Sentinel: the local REDIS_SENTINEL topology (a primary, two replicas, three sentinels of Debian's redis-server
 * in sentinel mode) measured through ioredis (`sentinels`) and node-redis (`createSentinel`), and a deployment named by
 * <NAME>_SENTINELS as a user would name their own. Judged on events, counts and exit codes, not on times.
 */

const root = tempDir('cachebench-sentineltest-');
after(() => root.remove());
const sandbox = (name: string): { tmp: string; cwd: string } => sandboxIn(root.dir, name);

describe('Redis Sentinel targets and faults', () => {
  it('kill-primary through ioredis and node-redis: the sentinels promote a replica, each window ends after the promotion, the run completes', async () => {
    const { tmp, cwd } = sandbox('kill');
    const result = await runCli(['run', '--local', 'REDIS_SENTINEL,REDIS_SENTINEL_NODE_REDIS', '--cluster-node-timeout', '1000', '--out', join(cwd, 'results')],
      { cwd, env: { TMPDIR: tmp, ...FAULT_LOAD, FAULT: 'kill-primary', FAULT_AT: '2', DURATION: '9', OP_TIMEOUT_MS: '1000' }, timeoutMs: 150_000 });
    assert.equal(result.code, 0, result.stderr);
    const doc = docOf(result.stdout, cwd);
    assert.deepEqual(doc.environment.targets.map((t) => [t.name, t.mode, t.primaries, t.replicas, t.client]),
      [['REDIS_SENTINEL', 'sentinel', 1, 2, 'ioredis'], ['REDIS_SENTINEL_NODE_REDIS', 'sentinel', 1, 2, 'node-redis']]);
    for (const e of doc.results) {
      const f = faultOf(e);
      assert.equal(e.state, 'completed', e.target.name);
      const kill = f.events.find((ev) => /^SIGKILL redis-server [\d.]+:\d+ \(pid \d+\), primary \(the sentinels' master\)$/.test(ev.what));
      const promoted = f.events.find((ev) => /^the sentinels name [\d.]+:\d+ as master, \d+ ms after the fault \(down-after-milliseconds 1000, failover-timeout 5000\)$/.test(ev.what));
      assert.ok(kill && promoted, `${e.target.name}: ${JSON.stringify(f.events)}`);
      // Writes fail from the kill until a replica is primary (and the client found it): the window ends after the
      // promotion the sentinels announced (sampled every 100 ms).
      assert.ok(f.windowStartMs !== null && f.windowEndMs !== null,
        `${e.target.name}: window ${f.windowStartMs}–${f.windowEndMs}; failed per 100 ms: ${f.timeline.failed.join(',')}; errors: ${JSON.stringify(e.errors)}; ${JSON.stringify(f.events)}`);
      assert.ok(f.windowEndMs >= promoted.atMs - 200, `${e.target.name}: window ended at ${f.windowEndMs} ms, promotion seen at ${promoted.atMs} ms`);
      assert.ok(f.latency.after.ops > 0, `${e.target.name}: no op after the window`);
      assert.match(f.healed ?? '', /started redis-server [\d.]+:\d+ .* again on its port/);
    }
    assertNothingLeft(tmp);
  });

  it('a deployment named by <NAME>_SENTINELS: probed through its sentinels, FAULT=failover sends SENTINEL FAILOVER and the client follows; what it cannot use is refused', async () => {
    const { tmp, cwd } = sandbox('remote');
    const up = await runCli(['up', 'REDIS_SENTINEL', '--cluster-node-timeout', '1000'], { cwd, env: { TMPDIR: tmp } });
    try {
      assert.equal(up.code, 0, up.stderr);
      const sentinels = /export REDIS_SENTINEL_SENTINELS=(\S+)/.exec(up.stdout)?.[1];
      assert.ok(sentinels, up.stdout);
      assert.match(up.stdout, /export REDIS_SENTINEL_SENTINEL_MASTER=cachebench/);
      const target = { HA_SENTINELS: sentinels, HA_SENTINEL_MASTER: 'cachebench' };
      const result = await runCli(['run', '--out', join(cwd, 'results')], {
        cwd, timeoutMs: 90_000,
        env: { TMPDIR: tmp, ...FAULT_LOAD, ...target, HA_CLIENT: 'node-redis', FAULT: 'failover', FAULT_AT: '2', DURATION: '7', OP_TIMEOUT_MS: '1000' },
      });
      // Lost acknowledged writes are measured here, not gated (no --max-lost-writes).
      assert.equal(result.code, 0, result.stderr);
      const doc = docOf(result.stdout, cwd);
      assert.equal(doc.environment.targets[0]?.mode, 'sentinel');
      const f = faultOf(doc.results[0]);
      const sent = f.events.find((ev) => /^SENTINEL FAILOVER cachebench sent to sentinel [\d.]+:\d+ \(master ([\d.]+:\d+); down-after-milliseconds 1000, failover-timeout 5000, quorum 2\)$/.test(ev.what));
      const named = f.events.find((ev) => /^the sentinels name [\d.]+:\d+ as master, \d+ ms after SENTINEL FAILOVER$/.test(ev.what));
      assert.ok(sent && named && named.ok, JSON.stringify(f.events));
      assert.ok(f.latency.after.ops > 0, 'no op after the failover');
      assert.match(f.healed ?? '', /^the sentinels' master is [\d.]+:\d+ \(was [\d.]+:\d+\)/);

      const refusals: [Record<string, string>, number, RegExp][] = [
        [{ ...target, HA_CLIENT: 'glide' }, 2, /HA_CLIENT.*the glide driver does not support HA_MODE=sentinel.*Fix: set HA_CLIENT to one of ioredis, node-redis/s],
        [{ ...target, HA_SERVERS: '127.0.0.1:1' }, 2, /HA_SERVERS.*HA_SENTINELS is set too/],
        [{ HA_SENTINELS: sentinels, HA_SENTINEL_MASTER: 'nope' }, 3, /no sentinel monitors a master named "nope".*Fix: set HA_SENTINEL_MASTER/s],
      ];
      for (const [env, code, message] of refusals) {
        const refused = await runCli(['run', '--out', join(cwd, 'results')], { cwd, env: { TMPDIR: tmp, ...env, MAX_TIME: '1' } });
        assert.equal(refused.code, code, `${JSON.stringify(env)}: ${refused.stderr}`);
        assert.match(refused.stderr, message);
      }
    } finally {
      const down = await runCli(['down'], { cwd, env: { TMPDIR: tmp } });
      assert.equal(down.code, 0, down.stderr);
    }
    assertNothingLeft(tmp);
  });
});
