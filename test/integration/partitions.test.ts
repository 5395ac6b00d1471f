import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { keySlot } from '../../src/targets/cluster-nodes.js';
import { runCli } from '../helpers/cli.js';
import { assertNothingLeft, docOf, FAULT_LOAD, faultOf, sandbox as sandboxIn } from '../helpers/local.js';
import { waitUntilNoneMention } from '../helpers/procs.js';
import { tempDir } from '../helpers/servers.js';

/*
 * Partition faults on local servers in network namespaces of their own (root; CI runs as root): real redis-servers, a
 * real bridge, real blackhole routes. Judged on counts, events and what is left on the host, never on a time finer
 * than seconds.
 */

const root = tempDir('cachebench-partitiontest-');
after(() => root.remove());
const sandbox = (name: string): { tmp: string; cwd: string } => sandboxIn(root.dir, name);

/** Network namespaces and links on this host whose names a run's bridge id gives (`cb<id>`, `cb<id>n<i>`, `cv<id>n<i>`). */
function leftOf(bridge: string): string[] {
  const id = bridge.slice(2);
  const names = [
    ...spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0] ?? ''),
    ...spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n').map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? ''),
  ];
  return names.filter((n) => n !== '' && n.slice(2, 8) === id && /^c[bv]/.test(n));
}

/** The bridge a run said it made (stderr: `network: namespaces: ... on bridge cb1a2b3c`). */
const bridgeOf = (stderr: string): string => {
  const bridge = /on bridge (cb[0-9a-f]{6})/.exec(stderr)?.[1];
  assert.ok(bridge, `no bridge named in: ${stderr}`);
  return bridge;
};

const PARTITION = { ...FAULT_LOAD, FAULT_AT: '2', DURATION: '12', OP_TIMEOUT_MS: '1000' };

describe('partition faults on servers in network namespaces', () => {
  it('partition-primary (cluster-node-timeout 1000): the minority primary acknowledges writes while cut, the majority promotes its replica, and those writes are lost after healing', async () => {
    const { tmp, cwd } = sandbox('primary');
    const result = await runCli(['run', '--local', 'REDIS_CLUSTER', '--cluster-node-timeout', '1000', '--out', join(cwd, 'results')],
      { cwd, env: { TMPDIR: tmp, ...PARTITION, FAULT: 'partition-primary', FAULT_DURATION: '5' }, timeoutMs: 120_000 });
    // Lost acknowledged writes are the result here, not a failure: no --max-lost-writes gate was asked for.
    assert.equal(result.code, 0, result.stderr);
    const doc = docOf(result.stdout, cwd);
    assert.match(doc.environment.network ?? '', /^namespaces: each Redis server in a network namespace of its own on bridge cb[0-9a-f]{6} \(10\.231\.\d+\.0\/24\)/);
    // The client reached the nodes through the bridge, at their own addresses.
    assert.ok(doc.environment.targets[0]?.servers.every((s) => /^10\.231\.\d+\.\d+:\d+$/.test(s)), JSON.stringify(doc.environment.targets[0]?.servers));
    const f = faultOf(doc.results[0]);
    const p = f.partition;
    assert.ok(p, 'no partition outcome');
    assert.equal(p.minorityPrimaries.length, 1);
    assert.match(p.minority[0] ?? '', /^10\.231\.\d+\.\d+:\d+ \(primary of slots 0-(\d+)\)$/);
    const lastSlot = Number(/slots 0-(\d+)/.exec(p.minority[0] ?? '')?.[1]);
    assert.ok(p.cutMs >= 4500 && p.cutMs <= 8000, `cut for ${p.cutMs} ms`);
    // The server's count (commandstats) and the client's: the minority primary took writes, the client had them acknowledged.
    assert.ok((p.minorityAppliedWrites ?? 0) > 0, `applied ${p.minorityAppliedWrites}`);
    assert.ok((p.minorityAckedWrites ?? 0) > 0, `acked ${p.minorityAckedWrites}`);
    assert.ok((p.minorityAckedWrites ?? 0) <= (p.minorityAppliedWrites ?? 0), `acked ${p.minorityAckedWrites} > applied ${p.minorityAppliedWrites}`);
    assert.ok(p.promotedAfterMs !== null && p.promotedAfterMs < p.cutMs, `promoted after ${p.promotedAfterMs} ms of a ${p.cutMs} ms cut`);
    assert.ok(p.minorityStoppedAfterMs !== null, 'the minority primary was never seen refusing writes');
    // Lost: writes the minority acknowledged, every one in its slots, and no other.
    assert.ok((p.minorityLostWrites ?? 0) > 0, `lost ${p.minorityLostWrites} of ${p.minorityAckedWrites}`);
    assert.equal(f.lostAckedWrites, p.minorityLostWrites);
    for (const key of f.lostKeys) assert.ok(keySlot(key) <= lastSlot, `lost ${key} (slot ${keySlot(key)}) outside the minority's slots 0-${lastSlot}`);
    assert.equal(f.ackedWritesUnchecked, 0);
    assert.ok(f.events.some((ev) => /^cut 10\.231\.\d+\.\d+:\d+ \(primary of slots 0-\d+\) from the other 5 nodes/.test(ev.what) && ev.ok), JSON.stringify(f.events));
    assert.ok(f.events.every((ev) => ev.ok), JSON.stringify(f.events));
    assert.match(result.stdout, /partition: minority side 10\.231\.\d+\.\d+:\d+ \(primary of slots 0-\d+\), cut for [\d.]+ s\. The minority primary executed \d+ writes while cut; the client had \d+ of them acknowledged, and \d+ of those were lost after healing/);
    // Bridge, namespaces and veth pairs are gone after a normal end; so are the servers and their folder.
    assert.deepEqual(leftOf(bridgeOf(result.stderr)), []);
    assertNothingLeft(tmp);
  });

  it('control: a cut shorter than cluster-node-timeout reaches the minority primary but promotes nothing, and no acknowledged write is lost', async () => {
    const { tmp, cwd } = sandbox('control');
    const result = await runCli(['run', '--local', 'REDIS_CLUSTER', '--cluster-node-timeout', '3000', '--out', join(cwd, 'results')],
      { cwd, env: { TMPDIR: tmp, ...PARTITION, DURATION: '6', FAULT: 'partition-primary', FAULT_DURATION: '0.5' }, timeoutMs: 120_000 });
    assert.equal(result.code, 0, result.stderr);
    const f = faultOf(docOf(result.stdout, cwd).results[0]);
    const p = f.partition;
    assert.ok(p, 'no partition outcome');
    assert.ok((p.minorityAppliedWrites ?? 0) > 0 && (p.minorityAckedWrites ?? 0) > 0, JSON.stringify(p));
    assert.equal(p.promotedAfterMs, null);
    assert.equal(p.minorityLostWrites, 0);
    assert.equal(f.lostAckedWrites, 0);
    assert.ok(f.ackedWritesChecked > 100, `only ${f.ackedWritesChecked} writes read back`);
    assertNothingLeft(tmp);
  });

  it('partition-client on REDIS_SINGLE: the client cut from the server fails ops for the cut and loses nothing; the cut is checked from the client\'s address', async () => {
    const { tmp, cwd } = sandbox('client');
    const result = await runCli(['run', '--local', 'REDIS_SINGLE', '--out', join(cwd, 'results')],
      { cwd, env: { TMPDIR: tmp, ...PARTITION, DURATION: '7', FAULT: 'partition-client', FAULT_DURATION: '2' }, timeoutMs: 120_000 });
    assert.equal(result.code, 0, result.stderr);
    const f = faultOf(docOf(result.stdout, cwd).results[0]);
    assert.ok(f.failedOps.set + f.failedOps.get + f.stalledOps > 0, 'no op failed or stalled while the client was cut');
    assert.equal(f.lostAckedWrites, 0);
    assert.deepEqual(f.partition?.minorityPrimaries, []);
    assert.ok(f.events.every((ev) => ev.ok), JSON.stringify(f.events));
    assert.match(result.stdout, /partition: the client cut from 10\.231\.\d+\.\d+:\d+ \(the only server\) for [\d.]+ s/);
    assertNothingLeft(tmp);
  });

  it('Ctrl-C during a partition: exit 130, links healed, and the bridge and namespaces removed', async () => {
    const { tmp, cwd } = sandbox('sigint');
    let sent = false;
    const result = await runCli(['run', '--local', 'REDIS_CLUSTER', '--cluster-node-timeout', '1000', '--out', join(cwd, 'results')], {
      cwd, env: { TMPDIR: tmp, ...PARTITION, FAULT: 'partition-primary', FAULT_DURATION: '30', DURATION: '40' }, timeoutMs: 120_000,
      onStderr: (text, child) => {
        if (!sent && /\+[\d.]+ s: cut /.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.ok(sent, result.stderr);
    assert.equal(result.code, 130, result.stderr);
    assert.deepEqual(leftOf(bridgeOf(result.stderr)), []);
    assertNothingLeft(tmp);
  });

  it('SIGKILL of the run during a partition: the servers die with it, and the next cachebench removes the bridge and namespaces the dead run left', async () => {
    const { tmp, cwd } = sandbox('sigkill');
    let killed = false;
    const result = await runCli(['run', '--local', 'REDIS_CLUSTER', '--cluster-node-timeout', '1000', '--out', join(cwd, 'results')], {
      cwd, env: { TMPDIR: tmp, ...PARTITION, FAULT: 'partition-primary', FAULT_DURATION: '30', DURATION: '40' }, timeoutMs: 120_000,
      onStderr: (text, child) => {
        if (!killed && /\+[\d.]+ s: cut /.test(text)) {
          killed = true;
          child.kill('SIGKILL');
        }
      },
    });
    assert.equal(result.signal, 'SIGKILL', result.stderr);
    const bridge = bridgeOf(result.stderr);
    assert.deepEqual(await waitUntilNoneMention(tmp, 5000), [], 'a server outlived the SIGKILLed run');
    // Nothing ran clean-up: the network is still there (one bridge, six namespaces, six host-side veths).
    assert.equal(leftOf(bridge).length, 13, leftOf(bridge).join(' '));
    const down = await runCli(['down'], { cwd, env: { TMPDIR: tmp } });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, /and 1 private networks/);
    assert.deepEqual(leftOf(bridge), []);
    assertNothingLeft(tmp);
  });

  it('refused before anything starts (exit 2): a node partition off a cluster, memcached, --network loopback, remote servers', async () => {
    const { tmp, cwd } = sandbox('refused');
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--local', 'REDIS_SINGLE'], { FAULT: 'partition-primary' }, /FAULT=partition-primary .* cuts cluster nodes from each other, and REDIS_SINGLE \(REDIS_SINGLE\) is not the local Redis Cluster/],
      [['--local', 'MEMCACHED_POOL'], { FAULT: 'partition-client' }, /MEMCACHED_POOL is memcached, whose servers stay on 127\.0\.0\.1/],
      [['--local', 'REDIS_CLUSTER', '--network', 'loopback'], { FAULT: 'island' }, /FAULT=island .* --network loopback puts them all on 127\.0\.0\.1/],
      [['--no-local'], { FAULT: 'partition-split', CACHE_SERVERS: '127.0.0.1:1' }, /FAULT=partition-split .* which cachebench does only to the local topologies it starts itself/],
      [['--local', 'REDIS_SINGLE', '--network', 'sideways'], {}, /--network "sideways" is not one of auto, loopback, namespaces/],
    ];
    for (const [args, env, message] of cases) {
      const result = await runCli(['run', ...args, '--out', join(cwd, 'results')], { cwd, env: { TMPDIR: tmp, ...env } });
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    assertNothingLeft(tmp);
  });
});
