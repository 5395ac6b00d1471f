import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { isAlive, isOurProcess, slotRange, startTimeOf } from '../../src/local/index.js';

describe('recognising a recorded process before signalling it', () => {
  it('needs the recorded binary, the whole port number and the start time', async () => {
    // A harmless process whose command line looks like a server of ours.
    const child = spawn('sleep', ['30'], { argv0: 'redis-server 127.0.0.1:12345', stdio: 'ignore' });
    try {
      const pid = child.pid;
      assert.ok(pid);
      const startTime = startTimeOf(pid);
      assert.ok(startTime);
      assert.equal(isAlive(pid, startTime), true);
      assert.equal(isOurProcess(pid, 'redis-server:12345', startTime), true);
      assert.equal(isOurProcess(pid, 'redis-server:12345'), true);
      assert.equal(isOurProcess(pid, 'redis-server:1234', startTime), false, 'a port that is only a prefix');
      assert.equal(isOurProcess(pid, 'redis-server:2345', startTime), false, 'a port that is only a suffix');
      assert.equal(isOurProcess(pid, 'nutcracker:12345', startTime), false, 'another binary');
      assert.equal(isOurProcess(pid, 'redis-server:12345', String(Number(startTime) + 1)), false, 'a reused PID (other start time)');
      assert.equal(isAlive(pid, '1'), false);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    assert.equal(isAlive(child.pid as number), false);
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
