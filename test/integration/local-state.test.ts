import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { signalPid, startTimeOf } from '../../src/local/procfs.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { sandbox as sandboxIn } from '../helpers/local.js';
import { standalone, tempDir } from '../helpers/servers.js';

const root = tempDir('cachebench-statetest-');
after(() => root.remove());

/** A harmless process of the test's own whose command line holds what a crafted state file names (`redis-server`, the port). */
async function victim(): Promise<{ child: ChildProcess; pid: number; startTime: string }> {
  const child = spawn('sleep', ['300'], { argv0: 'redis-server 127.0.0.1:12345 nutcracker', stdio: 'ignore' });
  const pid = child.pid;
  assert.ok(pid);
  // Until sleep has been exec'd, /proc shows the forked test runner.
  for (let i = 0; i < 200 && !readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('redis-server'); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  const startTime = startTimeOf(pid);
  assert.ok(startTime);
  return { child, pid, startTime };
}

/** A folder of the test's own with a file in it: must survive every refused `down`. */
function precious(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'keep.txt'), 'precious\n');
  return dir;
}

function writeStateFile(cwd: string, content: string | object): string {
  mkdirSync(join(cwd, '.cachebench'), { recursive: true });
  const file = join(cwd, '.cachebench', 'local.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function stateNaming(dir: string, processes: readonly object[]): object {
  return { version: 1, createdAt: '2026-01-01T00:00:00.000Z', dir, topologies: [{ name: 'REDIS_SINGLE', settings: { REDIS_SINGLE_SERVERS: '127.0.0.1:12345' }, processes }] };
}

/** Exit 2, the state file and a fix named, no stack trace. */
function assertRefused(result: CliResult, file: string): void {
  assert.equal(result.code, 2, `exit ${String(result.code)}: ${result.stderr}`);
  assert.ok(result.stderr.includes(file), result.stderr);
  assert.match(result.stderr, /Fix: /);
  assert.doesNotMatch(result.stderr, /\n {4}at /, 'a stack trace');
}

describe('cachebench down refuses a state file it cannot prove is its own, touching nothing', () => {
  // Each names a folder (`dir`) that resolves to `keep`, a folder of the test's own.
  const cases: { name: string; dir: (tmp: string, cwd: string) => { dir: string; keep: string }; withStartTime?: boolean }[] = [
    { name: 'a folder anywhere', dir: (_tmp, cwd) => {
      const keep = precious(join(cwd, '..', 'target'));
      return { dir: keep, keep };
    } },
    { name: 'a folder anywhere, the process without start time', withStartTime: false, dir: (_tmp, cwd) => {
      const keep = precious(join(cwd, '..', 'target'));
      return { dir: keep, keep };
    } },
    { name: 'a link in the temporary folder, named like ours, to a folder elsewhere', dir: (tmp, cwd) => {
      const keep = precious(join(cwd, '..', 'target'));
      const link = join(tmp, 'cachebench-local-Link01');
      symlinkSync(keep, link);
      return { dir: link, keep };
    } },
    { name: 'a path named like ours that leaves the temporary folder with ..', dir: (tmp) => {
      const keep = precious(join(tmp, '..', 'cachebench-local-Dotdot'));
      return { dir: `${tmp}/../cachebench-local-Dotdot`, keep };
    } },
    { name: 'a folder of our name in the temporary folder without owner.json', dir: (tmp) => {
      const keep = precious(join(tmp, 'cachebench-local-NoOwnr'));
      return { dir: keep, keep };
    } },
  ];
  for (const c of cases) {
    it(`${c.name}: exit 2, the folder and the process named in it are untouched`, async () => {
      const { tmp, cwd } = sandboxIn(root.dir, c.name.replace(/\W+/g, '-'));
      const { dir, keep } = c.dir(tmp, cwd);
      const v = await victim();
      try {
        const file = writeStateFile(cwd, stateNaming(dir, [{ pid: v.pid, name: 'redis-server:12345', ...(c.withStartTime !== false ? { startTime: v.startTime } : {}) }]));
        const down = await runCli(['down'], { cwd, env: { TMPDIR: tmp }, timeoutMs: 30_000 });
        assertRefused(down, file);
        assert.match(down.stderr, /Nothing was stopped or deleted/);
        assert.equal(v.child.exitCode, null, 'the process was signalled');
        assert.equal(v.child.signalCode, null, 'the process was signalled');
        assert.equal(signalPid(v.pid, 0), true);
        assert.equal(readFileSync(join(keep, 'keep.txt'), 'utf8'), 'precious\n', 'the folder was deleted');
        assert.ok(existsSync(dir), 'the named folder was deleted');
        assert.ok(existsSync(file), 'the state file was deleted');
      } finally {
        v.child.kill('SIGKILL');
      }
    });
  }

  it('a genuine-looking deployment folder, but the recorded PID (right start time) runs another program: exit 2, nothing signalled', async () => {
    const { tmp, cwd } = sandboxIn(root.dir, 'foreign-process');
    const dir = precious(join(tmp, 'cachebench-local-Foreig'));
    const v = await victim();
    try {
      const file = join(cwd, '.cachebench', 'local.json');
      writeFileSync(join(dir, 'owner.json'), JSON.stringify({ version: 1, kind: 'up', owner: { pid: v.pid, startTime: '1' }, stateFile: file, createdAt: '2026-01-01T00:00:00.000Z', processes: [] }));
      writeStateFile(cwd, stateNaming(dir, [{ pid: v.pid, name: 'redis-server:12345', startTime: v.startTime }]));
      for (const command of ['down', 'status']) {
        const result = await runCli([command], { cwd, env: { TMPDIR: tmp }, timeoutMs: 30_000 });
        if (command === 'down') {
          assertRefused(result, file);
          assert.match(result.stderr, /runs \S*sleep\S*, not redis-server/);
        } else {
          assert.match(result.stdout, /REDIS_SINGLE: down \(0\/1 processes\)/);
        }
      }
      assert.equal(v.child.exitCode, null, 'the process was signalled');
      assert.equal(v.child.signalCode, null, 'the process was signalled');
      assert.ok(existsSync(join(dir, 'keep.txt')), 'the folder was deleted');
    } finally {
      v.child.kill('SIGKILL');
    }
  });
});

describe('down proves where a recorded server runs, and reads state only from a folder of its own', () => {
  it('the recorded folder is gone and the PID is a real redis-server of the right port running elsewhere: exit 2, the server lives', async () => {
    const { tmp, cwd } = sandboxIn(root.dir, 'gone-folder');
    const server = await standalone();
    try {
      const p = server.server.process;
      assert.ok(p.startTime);
      const file = writeStateFile(cwd, stateNaming(join(tmp, 'cachebench-local-Gone01'), [{ pid: p.pid, name: `redis-server:${server.server.port}`, startTime: p.startTime }]));
      const down = await runCli(['down'], { cwd, env: { TMPDIR: tmp }, timeoutMs: 30_000 });
      assertRefused(down, file);
      assert.match(down.stderr, /runs in .*, not in the deployment folder/);
      assert.equal(signalPid(p.pid, 0), true, 'the server was stopped');
      assert.equal(p.hasExited(), false, 'the server was stopped');
    } finally {
      await server.stop();
    }
  });

  it('.cachebench as a link to another folder\'s state: down, status and up are exit 2 and touch nothing', async () => {
    const { tmp, cwd } = sandboxIn(root.dir, 'state-link');
    const other = join(root.dir, 'state-link', 'other');
    mkdirSync(other, { recursive: true });
    const target = writeStateFile(other, stateNaming(join(tmp, 'cachebench-local-Other1'), []));
    symlinkSync(join(other, '.cachebench'), join(cwd, '.cachebench'));
    for (const command of ['down', 'status', 'up']) {
      const result = await runCli([command], { cwd, env: { TMPDIR: tmp }, timeoutMs: 15_000 });
      assert.equal(result.code, 2, `${command}: exit ${String(result.code)}: ${result.stderr}`);
      assert.match(result.stderr, /\.cachebench is a symbolic link/);
      assert.match(result.stderr, /Fix: /);
    }
    assert.ok(existsSync(target), 'the other folder\'s state file was deleted');
  });
});

describe('a malformed state file is exit 2 without a stack trace, for down, status and up', () => {
  const padding = ' '.repeat(300 * 1024);
  // down for each; status and up too for some (they read the file the same way).
  const malformed: { name: string; make: (file: string) => void; all?: boolean }[] = [
    { name: 'not JSON', all: true, make: (file) => writeFileSync(file, '{"version": 1,') },
    { name: 'a JSON list', make: (file) => writeFileSync(file, '[]') },
    { name: 'topologies of the wrong type', make: (file) => writeFileSync(file, JSON.stringify({ version: 1, createdAt: 'x', dir: '/tmp/cachebench-local-aaaaaa', topologies: 'all' })) },
    { name: 'a pid that is text', make: (file) => writeFileSync(file, JSON.stringify(stateNaming('/tmp/cachebench-local-aaaaaa', [{ pid: '1', name: 'redis-server:1', startTime: '1' }]))) },
    { name: 'a port that is a pattern', make: (file) => writeFileSync(file, JSON.stringify(stateNaming('/tmp/cachebench-local-aaaaaa', [{ pid: 1, name: 'redis-server:\\d*', startTime: '1' }]))) },
    { name: 'null', make: (file) => writeFileSync(file, 'null') },
    { name: 'a huge file', make: (file) => writeFileSync(file, `${padding}{}`) },
    { name: 'a folder', make: (file) => mkdirSync(file) },
    { name: 'a link to /dev/zero', make: (file) => symlinkSync('/dev/zero', file) },
    { name: 'a FIFO', all: true, make: (file) => assert.equal(spawnSync('mkfifo', [file]).status, 0) },
  ];
  for (const m of malformed) {
    it(`${m.name}`, async () => {
      const { tmp, cwd } = sandboxIn(root.dir, `malformed-${m.name.replace(/\W+/g, '-')}`);
      mkdirSync(join(cwd, '.cachebench'));
      const file = join(cwd, '.cachebench', 'local.json');
      m.make(file);
      for (const command of m.all === true ? ['down', 'status', 'up'] : ['down']) {
        const result = await runCli([command], { cwd, env: { TMPDIR: tmp }, timeoutMs: 15_000 });
        assertRefused(result, file);
        assert.match(result.stderr, /is not a state file of cachebench up|not a regular file|larger than the limit|symbolic link/);
      }
    });
  }
});
