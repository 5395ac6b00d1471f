import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Schedule, type Slot, type Timer } from '../../src/load/schedule.js';
import { targetWindows } from '../../src/load/timeline.js';

/** Virtual time for one client at a time: a sleep moves the clock on at once (a turn of the event loop: 0.25 ms). */
function virtualTimer(): Timer & { advance(ms: number): void } {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms) => {
      t += Math.max(0.25, ms);
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

// Target 1 of two, DURATION 4 s in 1-s slices, no warm-up: ABBA gives it 1-2 s, 2-3 s, 5-6 s and 6-7 s.
const windows = targetWindows({ targets: 2, warmupMs: 0, durationMs: 4000, sliceMs: 1000 }, 1);

async function drain(schedule: Schedule, timer: ReturnType<typeof virtualTimer>, opMs: number): Promise<{ at: number; slot: Slot }[]> {
  const out: { at: number; slot: Slot }[] = [];
  for (let slot = await schedule.next(); slot !== null; slot = await schedule.next()) {
    if (schedule.ended(slot)) continue;
    out.push({ at: timer.now(), slot });
    timer.advance(opMs);
  }
  return out;
}

describe('load schedule over a target\'s slices (virtual time)', () => {
  it('open loop: ops are due over the target\'s own turns only, each sent at its intended time, 10 per 1-s slice', async () => {
    const timer = virtualTimer();
    const sent = await drain(new Schedule(windows, 0, { intervalMs: 100, phase: 0, yields: false, timer }), timer, 0);
    assert.equal(sent.length, 40);
    const expected = [1000, 2000, 5000, 6000].flatMap((from) => Array.from({ length: 10 }, (_, i) => from + i * 100));
    assert.deepEqual(sent.map((s) => s.slot.intended), expected);
    // Node's timers cannot wait less than ~1 ms: an op goes within a millisecond before its time, never after.
    assert.ok(sent.every((s) => s.at <= s.slot.intended! && s.at > s.slot.intended! - 1), 'an op was sent late or too early');
    assert.deepEqual([...new Set(sent.map((s) => s.slot.window))], [0, 1, 2, 3]);
  });

  it('open loop behind its schedule: ops still due when a slice ends are not sent, and the schedule goes on at the next turn', async () => {
    const timer = virtualTimer();
    const sent = await drain(new Schedule(windows, 0, { intervalMs: 100, phase: 0, yields: false, timer }), timer, 250);
    // 250 ms per op against one due every 100 ms: 4 per second-long window (at 0, 250, 500, 750 ms into it, late).
    assert.ok(sent.every((s) => s.at < (windows[s.slot.window]?.toMs ?? 0)), 'an op was sent after its window ended');
    assert.ok(sent.every((s) => s.at >= (s.slot.intended ?? 0)));
    assert.deepEqual(sent.map((s) => s.at), [1000, 1250, 1500, 1750, 2000, 2250, 2500, 2750, 5000, 5250, 5500, 5750, 6000, 6250, 6500, 6750]);
    // The first op of each turn is the one due at its start (the backlog of the last turn was dropped).
    assert.deepEqual(sent.filter((_, i) => i % 4 === 0).map((s) => s.slot.intended), [1000, 2000, 5000, 6000]);
  });

  it('closed loop: the next op goes when the last returned, while a turn lasts; through other targets\' turns the client sleeps', async () => {
    const timer = virtualTimer();
    const sent = await drain(new Schedule(windows, 0, { intervalMs: 0, phase: 0, yields: false, timer }), timer, 300);
    assert.deepEqual(sent.map((s) => s.at), [1000, 1300, 1600, 1900, 2200, 2500, 2800, 5000, 5300, 5600, 5900, 6200, 6500, 6800]);
    assert.deepEqual(sent.map((s) => s.slot.window), [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3]);
    assert.ok(sent.every((s) => s.slot.measured && s.slot.intended === undefined));
  });

  it('a worker that joins late starts where the timeline is (its windows never move), and abort ends it at once', async () => {
    const timer = virtualTimer();
    timer.advance(5500);
    const schedule = new Schedule(windows, 0, { intervalMs: 0, phase: 0, yields: false, timer });
    const first = await schedule.next();
    assert.equal(timer.now(), 5500);
    assert.equal(first?.window, 2);
    schedule.abort();
    assert.equal(await schedule.next(), null);
  });
});
