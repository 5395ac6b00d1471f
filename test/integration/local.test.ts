import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { adminCommand, startRedisServer } from '../../src/local/redis.js';
import { parseCpuList, planPlacement } from '../../src/local/placement.js';
import { requireBinary } from '../../src/local/binaries.js';
import { findFreePorts, isPortFree } from '../../src/local/ports.js';
import { isOurProcess, signalPid, startTimeOf } from '../../src/local/procfs.js';
import { readOwner, reapLeftovers, type OwnerRecord } from '../../src/local/owner.js';
import { TOPOLOGIES } from '../../src/local/topologies.js';
import { LOCAL_TARGETS } from '../../src/local/catalog.js';
import { reportDirOf, runCli } from '../helpers/cli.js';
import { processesMentioning, waitUntilNoneMention } from '../helpers/procs.js';
import { assertNothingLeft, docOf, sandbox as sandboxIn } from '../helpers/local.js';
import { tempDir } from '../helpers/servers.js';

const root = tempDir('cachebench-localtest-');
after(() => root.remove());

const sandbox = (name: string): { tmp: string; cwd: string } => sandboxIn(root.dir, name);

const SMALL = { READ_RATIO: '5', WRITE_COUNT: '5', PAYLOAD_BYTES: '500', MIN_ITERATIONS: '3', MAX_ITERATIONS: '3', WARMUP_ITERATIONS: '1' };

describe('local topologies through run --local', () => {
  for (const topology of TOPOLOGIES) {
    it(`${topology} starts, serves the seed loop with every read verified, and stops with nothing left`, async () => {
      const { tmp, cwd } = sandbox(topology);
      const result = await runCli(['run', '--local', topology, '--out', join(cwd, 'results')], { cwd, env: { TMPDIR: tmp, ...SMALL } });
      assert.equal(result.code, 0, result.stderr);
      const doc = docOf(result.stdout, cwd);
      assert.equal(doc.results.length, 1);
      const e = doc.results[0];
      assert.equal(e?.target.name, topology);
      assert.equal(e?.state, 'completed');
      assert.equal(e?.verification.verified, e?.verification.reads);
      assert.equal((e?.verification.reads ?? 0) > 0, true);
      assert.equal((e?.ops.get.errors ?? 1) + (e?.ops.set.errors ?? 1), 0);
      const env = doc.environment.targets[0];
      const expected = { REDIS_CLUSTER: ['cluster', 3, 3], TWEMPROXY: ['proxy', 0, 0], REDIS_SINGLE: ['standalone', 1, 0], MEMCACHED_POOL: ['pool', 3, 0], TWEMPROXY_MEMCACHED: ['proxy', 0, 0], REDIS_SENTINEL: ['sentinel', 1, 2] }[topology];
      assert.deepEqual([env?.mode, env?.primaries, env?.replicas], expected);
      assert.match(result.stderr, new RegExp(`local topologies up in [\\d.]+ s: ${topology}`));
      assertNothingLeft(tmp);
    });
  }

  it('uses every local topology (Redis and memcached), with the client set-ups on the cluster, when no <NAME>_SERVERS is configured, and says so', async () => {
    const { tmp, cwd } = sandbox('default');
    const result = await runCli(['run', '--out', join(cwd, 'results'), '--quiet'], { cwd, env: { TMPDIR: tmp, ...SMALL } });
    assert.equal(result.code, 0, result.stderr);
    const said = /no <NAME>_SERVERS configured: starting local topologies ([A-Z_]+(?:, [A-Z_]+)*)/.exec(result.stderr)?.[1];
    // Every topology but REDIS_SENTINEL, which starts only when named.
    assert.deepEqual(said?.split(', ').sort(), TOPOLOGIES.filter((t) => t !== 'REDIS_SENTINEL').sort(), result.stderr);
    const doc = docOf(result.stdout, cwd);
    assert.deepEqual(doc.results.map((e) => e.target.name).sort(), LOCAL_TARGETS.map((t) => t.name).sort());
    // The client set-ups share the local cluster's servers.
    const servers = (name: string): readonly string[] | undefined => doc.environment.targets.find((t) => t.name === name)?.servers;
    assert.deepEqual(servers('REDIS_CLUSTER_NEARCACHE'), servers('REDIS_CLUSTER'));
    assert.deepEqual(servers('REDIS_CLUSTER_GLIDE'), servers('REDIS_CLUSTER'));
    assert.deepEqual(doc.environment.targets.map((t) => [t.name, t.client, t.cache]).filter(([n]) => String(n).startsWith('REDIS_CLUSTER')).sort(),
      [['REDIS_CLUSTER', 'ioredis', 'off'], ['REDIS_CLUSTER_GLIDE', 'glide', 'off'], ['REDIS_CLUSTER_NEARCACHE', 'node-redis', 'tracking']]);
    for (const e of doc.results) assert.equal(e.verification.verified, e.verification.reads, e.target.name);
    assertNothingLeft(tmp);
  });

  it('a local server that dies mid-run is named on stderr and in report.md with how it ended, beside the failed ops', async () => {
    const { tmp, cwd } = sandbox('server-dies');
    let killed: number | undefined;
    const result = await runCli(['run', '--local', 'REDIS_SINGLE', '--out', join(cwd, 'results'), '--min-iterations', '1000', '--max-iterations', '1000'], {
      cwd,
      env: { TMPDIR: tmp, READ_RATIO: '5', WRITE_COUNT: '10', PAYLOAD_BYTES: '100', MAX_TIME: '20', OP_TIMEOUT_MS: '500' },
      onStderr: (text) => {
        if (killed === undefined && text.includes('round 1/')) {
          // The run's own redis-server: the only process running in this test's temporary folder.
          const [pid] = processesMentioning(tmp);
          if (pid === undefined) return;
          killed = pid;
          process.kill(pid, 'SIGKILL');
        }
      },
    });
    assert.ok(killed !== undefined, result.stderr);
    assert.equal(result.code, 1, result.stderr);
    const said = new RegExp(`redis-server:\\d+ \\(pid ${killed}\\) of REDIS_SINGLE, a server cachebench started, was killed by SIGKILL [\\d.]+ s into the run`);
    assert.match(result.stderr, new RegExp(`warning: ${said.source}`));
    assert.match(readFileSync(join(cwd, reportDirOf(result.stdout), 'report.md'), 'utf8'), said);
    assertNothingLeft(tmp);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // SIGINT with every local topology; SIGTERM (the same handler) with a proxy and its backends, to keep the suite short.
    it(`${signal} mid-run stops every server and removes the temporary folder`, async () => {
      const { tmp, cwd } = sandbox(signal);
      let sent = false;
      const local = signal === 'SIGINT' ? ['--local'] : ['--local', 'TWEMPROXY,REDIS_SINGLE'];
      const result = await runCli(['run', ...local, '--out', join(cwd, 'results'), '--min-iterations', '1000', '--max-iterations', '1000'], {
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

/** The CPUs a process may run on (/proc/<pid>/status Cpus_allowed_list). */
function allowedCpus(pid: number): string {
  return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
}

describe('CPU layout of local topologies', () => {
  for (const layout of ['split', 'shared'] as const) {
    // Planned within the CPUs this test may use (e.g. cpu 0 and 1 on a 2-core machine).
    const planned = planPlacement(layout);
    const client = planned.clientCpus as string;
    const servers = (planned.serverCpus as string).replace(/,/g, ',');
    it(`--cpu-layout ${layout} pins the client to cpu ${client} and every server to cpu ${servers}, and the report says so`, async () => {
      const { tmp, cwd } = sandbox(`layout-${layout}`);
      let seen: { client: string; servers: string[] } | undefined;
      const result = await runCli(['run', '--local', 'TWEMPROXY', '--cpu-layout', layout, '--out', join(cwd, 'results'), '--min-iterations', '30', '--max-iterations', '30'], {
        cwd,
        env: { TMPDIR: tmp, READ_RATIO: '20', WRITE_COUNT: '5', PAYLOAD_BYTES: '100', INVOCATION_COUNT: '1' },
        onStderr: (text, child) => {
          if (seen === undefined && text.includes('round 1/') && child.pid !== undefined) {
            seen = { client: allowedCpus(child.pid), servers: processesMentioning(tmp).map(allowedCpus) };
          }
        },
      });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(seen, 'never saw round 1');
      assert.deepEqual(parseCpuList(seen.client), parseCpuList(client));
      assert.equal(seen.servers.length, 4, 'nutcracker and its 3 redis-servers');
      for (const list of seen.servers) assert.deepEqual(parseCpuList(list), parseCpuList(servers));
      assert.match(result.stderr, new RegExp(`CPU layout ${layout}: `));
      const doc = docOf(result.stdout, cwd);
      assert.equal(doc.environment.placement?.layout, layout);
      assert.equal(doc.environment.placement?.serverCpus, planned.serverCpus);
      assertNothingLeft(tmp);
    });
  }
  it('remote targets only: no pinning, placement null', async () => {
    const { tmp, cwd } = sandbox('layout-remote');
    const server = await startRedisServer({ dir: tmp });
    try {
      const result = await runCli(['run', '--out', join(cwd, 'results'), '--quiet'], { cwd, env: { R_SERVERS: `127.0.0.1:${server.port}`, ...SMALL } });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(docOf(result.stdout, cwd).environment.placement, null);
    } finally {
      await server.process.stop();
    }
  });
  it('a loopback server of the user next to pinned local topologies is named in a warning', async () => {
    const { tmp, cwd } = sandbox('layout-mixed');
    const server = await startRedisServer({ dir: tmp });
    try {
      const result = await runCli(['run', '--local', 'REDIS_SINGLE', '--cpu-layout', 'split', '--out', join(cwd, 'results'), '--quiet'], { cwd, env: { MINE_SERVERS: `127.0.0.1:${server.port}`, ...SMALL } });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /warning: MINE runs on this machine but not under --cpu-layout split .*measured under different placements/);
    } finally {
      await server.process.stop();
    }
  });
  it('within a restricted affinity (taskset -c 1), pinning stays inside it', () => {
    assert.deepEqual(parseCpuList('0-2,5,7-8'), [0, 1, 2, 5, 7, 8]);
    assert.deepEqual(planPlacement('split', [2, 3]), { layout: 'split', clientCpus: '2', serverCpus: '3', cores: 2, description: 'client on cpu 2, every local server on cpu 3' });
    assert.equal(planPlacement('shared', [5]).clientCpus, '5');
    assert.equal(planPlacement('auto', [5]).layout, 'none');
    assert.throws(() => planPlacement('split', [5]), /split needs 2 usable CPUs.*Fix: /);
  });
  it('an unknown layout is exit 2', async () => {
    const result = await runCli(['run', '--cpu-layout', 'diagonal'], { env: { R_SERVERS: '127.0.0.1:1' } });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--cpu-layout "diagonal" is not a layout\. Fix: use one of auto, none, shared, split/);
  });
});

describe('up, status, run, down', () => {
  it('keeps topologies up between runs, prints the env lines, and down stops exactly those PIDs', async () => {
    const { tmp, cwd } = sandbox('updown');
    const up = await runCli(['up', 'REDIS_SINGLE', 'TWEMPROXY', 'MEMCACHED_POOL'], { cwd, env: { TMPDIR: tmp } });
    try {
      assert.equal(up.code, 0, up.stderr);
      const env = Object.fromEntries([...up.stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]));
      assert.deepEqual(Object.keys(env).sort(), ['MEMCACHED_POOL_PROTOCOL', 'MEMCACHED_POOL_SERVERS', 'REDIS_SINGLE_MODE', 'REDIS_SINGLE_SERVERS', 'TWEMPROXY_MODE', 'TWEMPROXY_SERVERS']);
      assert.equal(env.TWEMPROXY_MODE, 'proxy');
      assert.equal(env.MEMCACHED_POOL_PROTOCOL, 'memcache');
      const state = JSON.parse(readFileSync(join(cwd, '.cachebench', 'local.json'), 'utf8')) as { topologies: { processes: { pid: number }[] }[] };
      const pids = state.topologies.flatMap((t) => t.processes.map((p) => p.pid)).sort();
      assert.equal(pids.length, 1 + 4 + 3);
      assert.deepEqual(processesMentioning(tmp).sort(), pids);

      const status = await runCli(['status'], { cwd });
      assert.equal(status.code, 0);
      assert.match(status.stdout, /REDIS_SINGLE: up \(1\/1 processes\)/);
      assert.match(status.stdout, /TWEMPROXY: up \(4\/4 processes\)/);
      assert.match(status.stdout, /MEMCACHED_POOL: up \(3\/3 processes\)/);

      const again = await runCli(['up'], { cwd, env: { TMPDIR: tmp } });
      assert.equal(again.code, 2);
      assert.match(again.stderr, /already up.*cachebench down/);

      const run = await runCli(['run', '--out', join(cwd, 'results'), '--quiet'], { cwd, env: { ...env, ...SMALL } });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(docOf(run.stdout, cwd).results.map((e) => [e.target.name, e.verification.verified === e.verification.reads]), [['MEMCACHED_POOL', true], ['REDIS_SINGLE', true], ['TWEMPROXY', true]]);
    } finally {
      // down deletes only a folder in the temporary folder it runs with: the TMPDIR up ran with.
      const down = await runCli(['down'], { cwd, env: { TMPDIR: tmp } });
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stderr, /stopped 8 processes/);
    }
    assertNothingLeft(tmp);
    const status = await runCli(['status'], { cwd });
    assert.match(status.stdout, /nothing is up/);
  });
});

describe('local REDIS_CLUSTER', () => {
  it('is joined without redis-cli: up in under 4.5 s, 3 primaries with one replica each, every node ok', async () => {
    const { tmp, cwd } = sandbox('fastcluster');
    const bin = join(root.dir, 'bin-without-redis-cli');
    mkdirSync(bin);
    for (const name of ['redis-server', 'setpriv']) symlinkSync(requireBinary(name), join(bin, name));
    const up = await runCli(['up', 'REDIS_CLUSTER'], { cwd, env: { TMPDIR: tmp, PATH: bin } });
    try {
      assert.equal(up.code, 0, up.stderr);
      // Redis itself keeps a fresh primary unwritable for 2 s; redis-cli --cluster create took 4-10 s.
      const seconds = Number(/up in ([\d.]+) s/.exec(up.stderr)?.[1]);
      assert.ok(seconds < 4.5, `cluster up in ${seconds} s`);
      const ports = (/export REDIS_CLUSTER_SERVERS=(.*)/.exec(up.stdout)?.[1]?.split(',') ?? []).map((s) => Number(s.split(':')[1]));
      assert.equal(ports.length, 6);
      for (const port of ports) {
        const info = await adminCommand(port, 'CLUSTER', 'INFO');
        for (const want of ['cluster_state:ok', 'cluster_slots_ok:16384', 'cluster_known_nodes:6', 'cluster_size:3']) assert.ok(info.includes(want), `${port}: ${want} in ${info}`);
        const lines = (await adminCommand(port, 'CLUSTER', 'NODES')).trim().split('\n').map((l) => l.split(' '));
        const masters = lines.filter((f) => f[2]?.includes('master'));
        const replicas = lines.filter((f) => f[2]?.includes('slave'));
        assert.equal(masters.length, 3);
        assert.deepEqual(replicas.map((f) => f[3]).sort(), masters.map((f) => f[0]).sort(), 'each primary has exactly one replica');
        assert.deepEqual(masters.map((f) => f[8]).sort(), ['0-5460', '10922-16383', '5461-10921']);
      }
    } finally {
      await runCli(['down'], { cwd, env: { TMPDIR: tmp } });
    }
    assertNothingLeft(tmp);
  });

  it('passes cluster-node-timeout to every node', async () => {
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
      await runCli(['down'], { cwd, env: { TMPDIR: tmp } });
    }
    assertNothingLeft(tmp);
  });
});

describe('set-up problems', () => {
  it('a missing binary names the Debian package and the set-up command, exit 2, nothing started', async () => {
    const { tmp, cwd } = sandbox('missing');
    const bin = join(root.dir, 'bin-without-nutcracker');
    mkdirSync(bin);
    for (const name of ['redis-server', 'redis-cli', 'setpriv', 'taskset']) symlinkSync(requireBinary(name), join(bin, name));
    const result = await runCli(['run', '--local', 'TWEMPROXY'], { cwd, env: { TMPDIR: tmp, PATH: bin } });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /nutcracker not found on PATH\. Fix: install Debian's nutcracker package \(npm run setup/);
    assertNothingLeft(tmp);
  });

  it('a missing setpriv (run servers die with cachebench through it) names util-linux, exit 2, nothing started', async () => {
    const { tmp, cwd } = sandbox('nosetpriv');
    const bin = join(root.dir, 'bin-without-setpriv');
    mkdirSync(bin);
    for (const name of ['redis-server', 'taskset']) symlinkSync(requireBinary(name), join(bin, name));
    const result = await runCli(['run', '--local', 'REDIS_SINGLE'], { cwd, env: { TMPDIR: tmp, PATH: bin } });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /setpriv not found on PATH\. Fix: install Debian's util-linux package/);
    assertNothingLeft(tmp);
  });

  it('a missing taskset (the CPU layout pins with it) names util-linux before anything starts; --cpu-layout none needs none', async () => {
    const { tmp, cwd } = sandbox('notaskset');
    const bin = join(root.dir, 'bin-without-taskset');
    mkdirSync(bin);
    for (const name of ['redis-server', 'setpriv']) symlinkSync(requireBinary(name), join(bin, name));
    const result = await runCli(['run', '--local', 'REDIS_SINGLE', '--cpu-layout', 'split'], { cwd, env: { TMPDIR: tmp, PATH: bin } });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /taskset not found on PATH\. Fix: install Debian's util-linux package/);
    assertNothingLeft(tmp);
    const unpinned = await runCli(['run', '--local', 'REDIS_SINGLE', '--cpu-layout', 'none', '--out', join(cwd, 'results'), '--quiet'], { cwd, env: { TMPDIR: tmp, PATH: bin, ...SMALL } });
    assert.equal(unpinned.code, 0, unpinned.stderr);
    assertNothingLeft(tmp);
  });

  it('an unknown topology name is a usage error', async () => {
    const result = await runCli(['run', '--local', 'MEMCACHED']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /"MEMCACHED" is not a local target.*REDIS_CLUSTER, REDIS_CLUSTER_NEARCACHE, REDIS_CLUSTER_GLIDE, TWEMPROXY, REDIS_SINGLE/);
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

/** The single deployment folder in a sandbox's TMPDIR and its ownership file. */
function onlyDeployment(tmp: string): { dir: string; owner: OwnerRecord } {
  const folders = readdirSync(tmp).filter((n) => n.startsWith('cachebench-local-'));
  assert.equal(folders.length, 1, `deployment folders: ${folders.join(', ')}`);
  const dir = join(tmp, folders[0] as string);
  const owner = readOwner(dir);
  assert.ok(owner, `no owner.json in ${dir}`);
  return { dir, owner };
}

/** A PID that is certainly dead: a process we started and waited for. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  assert.ok(child.pid);
  return child.pid;
}

describe('local servers never outlive cachebench', () => {
  it('SIGKILL of run --local takes every server with it within 5 s (parent-death signal), and down removes the folder left behind', async () => {
    const { tmp, cwd } = sandbox('sigkill');
    let before: number[] = [];
    let cliPid: number | undefined;
    const result = await runCli(['run', '--local', 'REDIS_SINGLE', 'TWEMPROXY', '--out', join(cwd, 'results'), '--min-iterations', '1000', '--max-iterations', '1000'], {
      cwd,
      env: { TMPDIR: tmp, READ_RATIO: '100', WRITE_COUNT: '10', PAYLOAD_BYTES: '1000' },
      onStderr: (text, child) => {
        if (cliPid === undefined && text.includes('round 1/')) {
          cliPid = child.pid;
          before = processesMentioning(tmp);
          child.kill('SIGKILL');
        }
      },
    });
    try {
      assert.ok(cliPid, result.stderr);
      assert.equal(result.signal, 'SIGKILL');
      assert.equal(before.length, 1 + 4, `servers running before the kill: ${before.join(', ')}`);
      assert.deepEqual(await waitUntilNoneMention(tmp, 5000), [], 'a server outlived the SIGKILLed run');

      // The folder stays (nothing ran cleanup) and its owner.json names the dead run and its servers.
      const { owner } = onlyDeployment(tmp);
      assert.equal(owner.kind, 'run');
      assert.equal(owner.owner.pid, cliPid);
      assert.deepEqual(owner.processes.map((p) => p.pid).sort(), [...before].sort());
      const down = await runCli(['down'], { cwd, env: { TMPDIR: tmp } });
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stderr, /stopped 0 leftover processes of dead cachebench runs and removed 1 folders/);
      assertNothingLeft(tmp);
    } finally {
      await reapLeftovers({ tmpDir: tmp }); // if the feature is broken: still stop what the run left, by PID
    }
  });

  it('down stops the servers a dead owner left behind, by PID, and removes their folder', async () => {
    const { tmp, cwd } = sandbox('leftovers');
    // An owner that keeps its servers (persist, as up does) but records them nowhere else, then dies.
    const local = new URL('../../src/local/topologies.js', import.meta.url).href;
    const script = `import { startLocal } from ${JSON.stringify(local)};
      const d = await startLocal(['REDIS_SINGLE', 'TWEMPROXY'], { persist: true });
      process.stdout.write(JSON.stringify(d.topologies.flatMap((t) => t.processes.map((p) => ({ pid: p.pid, name: p.name, startTime: p.startTime })))) + '\\n');
      setInterval(() => undefined, 1000);`;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '', TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'inherit'] });
    let servers: { pid: number; name: string; startTime: string }[] = [];
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        owner.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.trim());
        });
        owner.once('exit', (code) => reject(new Error(`owner exited with ${code} before starting its servers`)));
      });
      servers = JSON.parse(line) as { pid: number; name: string; startTime: string }[];
      assert.equal(servers.length, 1 + 4);
      owner.kill('SIGKILL');
      await new Promise((resolve) => owner.once('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(processesMentioning(tmp).sort(), servers.map((p) => p.pid).sort(), 'the servers should have outlived their owner');

      const down = await runCli(['down'], { cwd, env: { TMPDIR: tmp } });
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stderr, /nothing is up/);
      assert.match(down.stderr, /stopped 5 leftover processes of dead cachebench runs and removed 1 folders: .*cachebench-local-/);
      assertNothingLeft(tmp);
    } finally {
      if (owner.exitCode === null && owner.signalCode === null) owner.kill('SIGKILL');
      for (const p of servers) if (isOurProcess(p.pid, p.name, p.startTime)) signalPid(p.pid, 'SIGKILL');
    }
  });

  it('down leaves a live up deployment alone, and never signals a recorded PID that now runs another program', async () => {
    const { tmp, cwd } = sandbox('keep');
    const elsewhere = join(root.dir, 'keep', 'elsewhere');
    mkdirSync(elsewhere);
    const up = await runCli(['up', 'REDIS_SINGLE'], { cwd, env: { TMPDIR: tmp } });
    // A stranger: its PID is recorded as a redis-server by an ownership file whose owner is dead.
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      assert.equal(up.code, 0, up.stderr);
      const upFolder = onlyDeployment(tmp);
      assert.equal(upFolder.owner.kind, 'up');
      assert.ok(stranger.pid);
      const decoy = join(tmp, 'cachebench-local-decoy');
      mkdirSync(decoy);
      const record: OwnerRecord = {
        version: 1, kind: 'run', owner: { pid: await deadPid(), startTime: '1' }, createdAt: new Date().toISOString(),
        processes: [{ pid: stranger.pid, name: 'redis-server:12345', startTime: startTimeOf(stranger.pid) as string }],
      };
      writeFileSync(join(decoy, 'owner.json'), JSON.stringify(record));

      const down = await runCli(['down'], { cwd: elsewhere, env: { TMPDIR: tmp } });
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stderr, /stopped 0 leftover processes of dead cachebench runs and removed 1 folders: .*cachebench-local-decoy\n/);
      assert.equal(stranger.exitCode, null, 'the stranger was signalled');
      assert.equal(signalPid(stranger.pid, 0), true);
      const status = await runCli(['status'], { cwd });
      assert.match(status.stdout, /REDIS_SINGLE: up \(1\/1 processes\)/);
      assert.deepEqual(readdirSync(tmp), [upFolder.dir.slice(tmp.length + 1)]);
    } finally {
      stranger.kill('SIGKILL');
      const down = await runCli(['down'], { cwd, env: { TMPDIR: tmp } });
      assert.match(down.stderr, /stopped 1 processes of REDIS_SINGLE/);
    }
    assertNothingLeft(tmp);
  });
});
