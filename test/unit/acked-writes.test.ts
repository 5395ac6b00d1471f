import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AckedWrites } from '../../src/faults/checker.js';
import type { CacheClient } from '../../src/targets/client.js';

/** An in-memory store standing in for the server the checker reads back from (its own connection). */
function store(): { client: CacheClient; data: Map<string, Buffer>; reads: string[] } {
  const data = new Map<string, Buffer>();
  const reads: string[] = [];
  const client: CacheClient = {
    set: async (key, value) => {
      data.set(key, value);
    },
    get: async (key) => {
      reads.push(key);
      return data.get(key) ?? null;
    },
    del: async (key) => {
      data.delete(key);
    },
    close: async () => undefined,
  };
  return { client, data, reads };
}

describe('AckedWrites: the read-back of acknowledged and unacknowledged writes', () => {
  it('counts lost acknowledged writes (missing, other bytes) and the unacknowledged SETs the server applied after all', async () => {
    const { client, data } = store();
    const checker = new AckedWrites(client, () => 0);
    const v = (text: string): Buffer => Buffer.from(text);
    // Acknowledged: kept, gone, overwritten with other bytes.
    data.set('a:kept', v('1'));
    checker.acked('a:kept', v('1'));
    checker.acked('a:gone', v('2'));
    data.set('a:other', v('x'));
    checker.acked('a:other', v('3'));
    // Unacknowledged (the SET failed or timed out): applied, not applied, applied with bytes of another write.
    data.set('u:applied', v('4'));
    checker.unacked('u:applied', v('4'));
    checker.unacked('u:absent', v('5'));
    data.set('u:other', v('y'));
    checker.unacked('u:other', v('6'));
    const check = await checker.finish();
    assert.equal(check.ackedWritesChecked, 3);
    assert.equal(check.lostAckedWrites, 2);
    assert.equal(check.lostMissing, 1);
    assert.equal(check.lostDifferent, 1);
    assert.deepEqual([...check.lostKeys].sort(), ['a:gone', 'a:other']);
    assert.equal(check.ackedWritesUnchecked, 0);
    assert.equal(check.unackedWritesChecked, 3);
    assert.equal(check.appliedUnackedWrites, 1);
    // Every key it read is deleted: nothing of the run is left on the server.
    assert.deepEqual([...data.keys()], []);
  });

  it('an unacknowledged SET whose read-back keeps failing is not counted as checked or applied', async () => {
    const { client, data } = store();
    let failing = true;
    const flaky: CacheClient = { ...client, get: async (key) => (failing ? Promise.reject(new Error('connection lost')) : client.get(key)) };
    const checker = new AckedWrites(flaky, () => 0);
    data.set('u:applied', Buffer.from('7'));
    checker.unacked('u:applied', Buffer.from('7'));
    setTimeout(() => (failing = false), 500);
    const check = await checker.finish();
    // Retried until the server answered again: then checked once, and applied.
    assert.equal(check.unackedWritesChecked, 1);
    assert.equal(check.appliedUnackedWrites, 1);
    assert.ok(check.failedChecks >= 1, String(check.failedChecks));
  });

  it('a partition pauses the rolling read-back (the minority would answer for what it is about to lose), and counts the minority\'s acknowledged writes lost after healing', async () => {
    const { client, data, reads } = store();
    let now = 0;
    const timers: (() => void)[] = [];
    // A hand-driven timer: each tick runs the rolling check once.
    const checker = new AckedWrites(client, () => now, (_ms, fn) => {
      timers.push(fn);
      return () => undefined;
    });
    const tick = async (): Promise<void> => {
      timers.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 10));
    };
    const v = Buffer.from('v');
    data.set('before', v);
    checker.acked('before', v);
    checker.start();
    now = 2000;
    await tick();
    assert.deepEqual(reads, ['before'], 'a write older than ROLL_AGE_MS is read back while no partition is on');
    // The partition: keys of slot-like prefix "m:" went to the minority primary.
    let over = false;
    checker.holdFromNow((key) => key.startsWith('m:'), () => over);
    for (const key of ['m:1', 'm:2', 'm:3', 'x:1']) {
      data.set(key, v);
      checker.acked(key, v);
    }
    now = 10_000;
    await tick();
    assert.deepEqual(reads, ['before'], 'read back during the partition');
    // Healing: the majority's promotion undid two of the minority's writes (and none of the others); once the sides
    // agree again, the rolling check resumes and reads them from the side that won.
    data.delete('m:1');
    data.set('m:2', Buffer.from('older'));
    over = true;
    now = 20_000;
    await tick();
    assert.deepEqual([...reads].sort(), ['before', 'm:1', 'm:2', 'm:3', 'x:1']);
    const check = await checker.finish();
    assert.deepEqual(checker.minority(), { acked: 3, lost: 2 });
    assert.equal(check.lostAckedWrites, 2);
    assert.equal(check.ackedWritesChecked, 5);
  });
});
