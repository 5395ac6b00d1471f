import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { adminCommand, requireBinary, startRedisServer, findFreePorts, isPortFree, TOPOLOGIES } from '../../src/local/index.js';
import type { ResultsDocument } from '../../src/report/index.js';
import { runCli } from '../helpers/cli.js';
import { processesMentioning } from '../helpers/procs.js';
import { tempDir } from '../helpers/servers.js';

const root = tempDir('cachebench-localtest-');
after(() => root.remove());

/** A fresh TMPDIR for the CLI: every local server's files (and so its command line) live below it. */
function sandbox(name: string): { tmp: string; cwd: string } {
  const tmp = join(root.dir, name, 'tmp');
  const cwd = join(root.dir, name, 'cwd');
  mkdirSync(tmp, { recursive: true });
  mkdirSync(cwd, { recursive: true });
  return { tmp, cwd };
}

const SMALL = { READ_RATIO: '5', WRITE_COUNT: '5', PAYLOAD_BYTES: '500', MIN_ITERATIONS: '3', MAX_ITERATIONS: '3', WARMUP_ITERATIONS: '1' };

function docOf(stdout: string): ResultsDocument {
  const dir = /Report: (.*)report\.md/.exec(stdout)?.[1];
  assert.ok(dir, stdout);
  return JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;
}

function assertNothingLeft(tmp: string): void {
  assert.deepEqual(processesMentioning(tmp), [], 'a server process outlived the run');
  assert.deepEqual(readdirSync(tmp), [], 'a temporary folder outlived the run');
}

describe('local topologies through run --local', () => {
  for (const topology of TOPOLOGIES) {
    it(`${topology} starts, serves the seed loop with every read verified, and stops with nothing left`, async () => {
      const { tmp, cwd } = sandbox(topology);
      const result = await runCli(['run', '--local', topology, '--out', join(cwd, 'results')], { cwd, env: { TMPDIR: tmp, ...SMALL } });
      assert.equal(result.code, 0, result.stderr);
      const doc = docOf(result.stdout);
      assert.equal(doc.results.length, 1);
      const e = doc.results[0];
      assert.equal(e?.target.name, topology);
      assert.equal(e?.state, 'completed');
      assert.equal(e?.verification.verified, e?.verification.reads);
      assert.equal((e?.verification.reads ?? 0) > 0, true);
      assert.equal((e?.ops.get.errors ?? 1) + (e?.ops.set.errors ?? 1), 0);
      const env = doc.environment.targets[0];
      const expected = { REDIS_CLUSTER: ['cluster', 3, 3], TWEMPROXY: ['proxy', 0, 0], REDIS_SINGLE: ['standalone', 1, 0] }[topology];
      assert.deepEqual([env?.mode, env?.primaries, env?.replicas], expected);
      assert.match(result.stderr, new RegExp(`local topologies up in [\\d.]+ s: ${topology}`));
      assertNothingLeft(tmp);
    });
  }

  it('uses all three local topologies when no <NAME>_SERVERS is configured, and says so', async () => {
    const { tmp, cwd } = sandbox('default');
    const result = await runCli(['run', '--out', join(cwd, 'results'), '--quiet'], { cwd, env: { TMPDIR: tmp, ...SMALL } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /no <NAME>_SERVERS configured: starting local topologies REDIS_CLUSTER, TWEMPROXY, REDIS_SINGLE/);
    assert.deepEqual(docOf(result.stdout).results.map((e) => e.target.name).sort(), [...TOPOLOGIES].sort());
    assertNothingLeft(tmp);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} mid-run stops every server and removes the temporary folder`, async () => {
      const { tmp, cwd } = sandbox(signal);
      let sent = false;
      const result = await runCli(['run', '--local', '--out', join(cwd, 'results'), '--min-iterations', '1000', '--max-iterations', '1000'], {
        cwd,
        env: { TMPDIR: tmp, READ_RATIO: '100', WRITE_COUNT: '10', PAYLOAD_BYTES: '1000' },
        onStderr: (text, child) => {
          if (!sent && text.includes('round 1/')) {
            sent = true;
            child.kill(signal);
          }
        },
      });
      assert.ok(sent, result.stderr);
      assert.equal(result.code, 130, result.stderr);
      assertNothingLeft(tmp);
    });
  }
});

describe('up, status, run, down', () => {
  it('keeps topologies up between runs, prints the env lines, and down stops exactly those PIDs', async () => {
    const { tmp, cwd } = sandbox('updown');
    const up = await runCli(['up', 'REDIS_SINGLE', 'TWEMPROXY'], { cwd, env: { TMPDIR: tmp } });
    try {
      assert.equal(up.code, 0, up.stderr);
      const env = Object.fromEntries([...up.stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]));
      assert.deepEqual(Object.keys(env).sort(), ['REDIS_SINGLE_MODE', 'REDIS_SINGLE_SERVERS', 'TWEMPROXY_MODE', 'TWEMPROXY_SERVERS']);
      assert.equal(env.TWEMPROXY_MODE, 'proxy');
      const state = JSON.parse(readFileSync(join(cwd, '.cachebench', 'local.json'), 'utf8')) as { topologies: { processes: { pid: number }[] }[] };
      const pids = state.topologies.flatMap((t) => t.processes.map((p) => p.pid)).sort();
      assert.equal(pids.length, 1 + 4);
      assert.deepEqual(processesMentioning(tmp).sort(), pids);

      const status = await runCli(['status'], { cwd });
      assert.equal(status.code, 0);
      assert.match(status.stdout, /REDIS_SINGLE: up \(1\/1 processes\)/);
      assert.match(status.stdout, /TWEMPROXY: up \(4\/4 processes\)/);

      const again = await runCli(['up'], { cwd, env: { TMPDIR: tmp } });
      assert.equal(again.code, 2);
      assert.match(again.stderr, /already up.*cachebench down/);

      const run = await runCli(['run', '--out', join(cwd, 'results'), '--quiet'], { cwd, env: { ...env, ...SMALL } });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(docOf(run.stdout).results.map((e) => [e.target.name, e.verification.verified === e.verification.reads]), [['REDIS_SINGLE', true], ['TWEMPROXY', true]]);
    } finally {
      const down = await runCli(['down'], { cwd });
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stderr, /stopped 5 processes/);
    }
    assertNothingLeft(tmp);
    const status = await runCli(['status'], { cwd });
    assert.match(status.stdout, /nothing is up/);
  });
});

describe('cluster-node-timeout', () => {
  it('is passed to every node of the local cluster', async () => {
    const { tmp, cwd } = sandbox('nodetimeout');
    const up = await runCli(['up', 'REDIS_CLUSTER', '--cluster-node-timeout', '3000'], { cwd, env: { TMPDIR: tmp } });
    try {
      assert.equal(up.code, 0, up.stderr);
      const servers = /export REDIS_CLUSTER_SERVERS=(.*)/.exec(up.stdout)?.[1]?.split(',') ?? [];
      assert.equal(servers.length, 6);
      for (const server of servers) {
        const port = Number(server.split(':')[1]);
        assert.equal(await adminCommand(port, 'CONFIG', 'GET', 'cluster-node-timeout'), 'cluster-node-timeout,3000');
      }
    } finally {
      await runCli(['down'], { cwd });
    }
    assertNothingLeft(tmp);
  });
});

describe('set-up problems', () => {
  it('a missing binary names the Debian package and the set-up command, exit 2, nothing started', async () => {
    const { tmp, cwd } = sandbox('missing');
    const bin = join(root.dir, 'bin-without-nutcracker');
    mkdirSync(bin);
    for (const name of ['redis-server', 'redis-cli']) symlinkSync(requireBinary(name), join(bin, name));
    const result = await runCli(['run', '--local', 'TWEMPROXY'], { cwd, env: { TMPDIR: tmp, PATH: bin } });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /nutcracker not found on PATH\. Fix: install Debian's nutcracker package \(npm run setup/);
    assertNothingLeft(tmp);
  });

  it('an unknown topology name is a usage error', async () => {
    const result = await runCli(['run', '--local', 'MEMCACHED']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /"MEMCACHED" is not a local topology.*REDIS_CLUSTER, TWEMPROXY, REDIS_SINGLE/);
  });

  it('a port in use is skipped, never reused', async () => {
    const [port] = await findFreePorts(1);
    assert.ok(port);
    // Another program on the port: it hangs up on every connection.
    const squatter: Server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    const tmp = tempDir();
    try {
      assert.equal(await isPortFree(port), false);
      const server = await startRedisServer({ dir: tmp.dir, port });
      assert.notEqual(server.port, port);
      await server.process.stop();
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
      tmp.remove();
    }
  });
});
