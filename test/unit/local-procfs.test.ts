import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { checkRecorded, isAlive, isOurProcess, parseProcessName, startTimeOf } from '../../src/local/procfs.js';
import { slotRange } from '../../src/local/redis.js';

describe('recognising a recorded process before signalling it', () => {
  it('a process whose command line merely mentions the binary and port is not ours (its program is another)', async () => {
    // A harmless process whose command line looks like a server of ours.
    const child = spawn('sleep', ['30'], { argv0: 'redis-server 127.0.0.1:12345', stdio: 'ignore' });
    try {
      const pid = child.pid;
      assert.ok(pid);
      const startTime = startTimeOf(pid);
      assert.ok(startTime);
      assert.equal(isAlive(pid, startTime), true);
      assert.equal(isOurProcess(pid, 'redis-server:12345', startTime), false);
      const check = checkRecorded({ pid, name: 'redis-server:12345', startTime });
      assert.equal(check.kind, 'foreign');
      assert.match(check.kind === 'foreign' ? check.why : '', /runs \S*sleep\S*, not redis-server/);
      assert.equal(checkRecorded({ pid, name: 'redis-server:12345', startTime: String(Number(startTime) + 1) }).kind, 'gone', 'a reused PID (other start time)');
      assert.equal(isAlive(pid, '1'), false);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    assert.equal(isAlive(child.pid as number), false);
  });

  it('a recorded name is one of our binaries and a port in plain digits, nothing else', () => {
    assert.deepEqual(parseProcessName('redis-server:6379'), { binary: 'redis-server', port: 6379 });
    assert.deepEqual(parseProcessName('memcached:11211'), { binary: 'memcached', port: 11211 });
    for (const name of ['sleep:300', 'redis-server:\\d*', 'redis-server:06379', 'redis-server:65536', 'redis-server:0', 'redis:6379', 'redis-server:6379 ', 'redis-server', 'x redis-server:6379']) {
      assert.equal(parseProcessName(name), undefined, name);
    }
  });
});

describe('cluster slot ranges', () => {
  it('cover 0..16383 without gaps or overlaps', () => {
    assert.deepEqual([0, 1, 2].map((i) => slotRange(i, 3)), [[0, 5460], [5461, 10921], [10922, 16383]]);
    for (const count of [1, 2, 5, 7]) {
      const ranges = Array.from({ length: count }, (_, i) => slotRange(i, count));
      assert.equal(ranges[0]?.[0], 0);
      assert.equal(ranges.at(-1)?.[1], 16383);
      for (let i = 1; i < count; i++) assert.equal(ranges[i]?.[0], (ranges[i - 1]?.[1] ?? NaN) + 1);
    }
  });
});
