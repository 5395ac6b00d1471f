import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUCKET_MS, FaultHistory, type OpKind } from '../../src/faults/history.js';
import { judgeFault, timeline, type PhaseLatency } from '../../src/faults/judge.js';
import { sparkline } from '../../src/report/sparkline.js';

// Synthetic histories: the history starts at 0 ns, so an op's time in ms is its ns timestamp / 1e6. Every expectation
// below is worked out by hand from the doc comments in history.ts and judge.ts (BUCKET_MS = 100, QUIET_MS = 1000,
// RECOVERED_SHARE = 0.9, the first second left out of the pre-fault mean when the fault comes at 2000 ms or later).

/** ns timestamp for a time in ms. */
const at = (ms: number): bigint => BigInt(Math.round(ms * 1e6));

/** A successful op that completed at `endMs` after taking `latencyUs`. */
function okAt(h: FaultHistory, endMs: number, latencyUs = 100): void {
  h.ok(at(endMs) - BigInt(Math.round(latencyUs * 1000)), at(endMs));
}

/**
 * `perBucket` successful ops in each bucket from `fromBucket` up to (not including) `toBucket`, completing 10..90 ms into
 * the bucket (ends at bucket*100 + 10 + k*80/perBucket), each taking `latencyUs`.
 */
function steady(h: FaultHistory, fromBucket: number, toBucket: number, perBucket: number, latencyUs = 100): void {
  for (let b = fromBucket; b < toBucket; b++) {
    for (let k = 0; k < perBucket; k++) okAt(h, b * BUCKET_MS + 10 + (k * 80) / perBucket, latencyUs);
  }
}

/**
 * Back-to-back failed ops of 10 ms each, the first starting at `firstStartMs`, the last ending at `lastEndMs`:
 * (lastEndMs - firstStartMs) / 10 of them, kinds alternating set, get, set, ...
 */
function failures(h: FaultHistory, firstStartMs: number, lastEndMs: number, kind?: OpKind): number {
  let n = 0;
  for (let s = firstStartMs; s + 10 <= lastEndMs + 1e-9; s += 10) {
    h.fail(kind ?? (n % 2 === 0 ? 'set' : 'get'), at(s), at(s + 10));
    n++;
  }
  return n;
}

/** Within 1% (HDR histograms with 2 significant digits report the highest value equivalent to the recorded one). */
function near(actual: number | null, expected: number, what: string): void {
  assert.notEqual(actual, null, `${what}: null, expected ~${expected}`);
  const a = actual as number;
  assert.ok(Math.abs(a - expected) <= expected * 0.01, `${what}: ${a}, expected ${expected} within 1%`);
}

function emptyPhase(p: PhaseLatency, fromMs: number, toMs: number): void {
  assert.deepEqual(p, { fromMs, toMs, ops: 0, p50Us: null, p99Us: null, maxUs: null });
}

describe('FaultHistory records ops into 100 ms buckets and failure runs', () => {
  it('times are ms after the start; ops land in the bucket of their end time', () => {
    const start = 1_000_000_000n;
    const h = new FaultHistory(start);
    // 1_250_500_000 - 1_000_000_000 = 250_500_000 ns = 250.5 ms
    assert.equal(h.ms(1_250_500_000n), 250.5);
    // ok from 50 ms to 150 ms: bucket floor(150/100) = 1, latency 100 ms
    h.ok(start + 50_000_000n, start + 150_000_000n);
    // failure ending at 199.999 ms: bucket 1; one ending at exactly 200 ms: bucket 2
    h.fail('get', start + 160_000_000n, start + 199_999_000n);
    h.fail('set', start + 190_000_000n, start + 200_000_000n);
    // bad reads at 250 ms: bucket 2
    h.badRead('missing', start + 250_000_000n);
    h.badRead('mismatched', start + 250_000_000n);
    h.badRead('mismatched', start + 299_000_000n);
    assert.equal(h.buckets.length, 3);
    const [b0, b1, b2] = h.buckets;
    assert.deepEqual([b0?.ok, b0?.failed, b0?.missing, b0?.mismatched], [0, 0, 0, 0]);
    assert.deepEqual([b1?.ok, b1?.failed, b1?.missing, b1?.mismatched], [1, 1, 0, 0]);
    assert.deepEqual([b2?.ok, b2?.failed, b2?.missing, b2?.mismatched], [0, 1, 1, 2]);
    assert.equal(b1?.latency.totalCount, 1);
    near(b1?.latency.maxValue ?? null, 100_000_000, 'bucket 1 latency (ns)');
    assert.equal(b2?.latency.totalCount, 0);
  });

  it('a run of failures with no success between them is one failure run, closed by the next success', () => {
    const h = new FaultHistory(0n);
    h.fail('set', at(10), at(20));
    h.fail('get', at(30), at(45));
    okAt(h, 60); // closes the run: recoveredAtMs 60
    okAt(h, 70); // no run open: nothing changes
    h.fail('set', at(80), at(90)); // a new run, still open
    assert.equal(h.failureRuns.length, 2);
    assert.deepEqual({ ...h.failureRuns[0] }, { firstStartMs: 10, lastEndMs: 45, count: 2, stalls: 0, recoveredAtMs: 60 });
    assert.deepEqual({ ...h.failureRuns[1] }, { firstStartMs: 80, lastEndMs: 90, count: 1, stalls: 0, recoveredAtMs: null });
  });

  it('counts failed ops per kind over the whole run, before and after the fault', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 5, 10);
    failures(h, 500, 800, 'set'); // (800 - 500) / 10 = 30 sets
    okAt(h, 850);
    failures(h, 2030, 2500); // 47 ops alternating from set: 24 sets, 23 gets
    okAt(h, 2700);
    h.fail('get', at(3000), at(3005));
    assert.deepEqual(h.failed, { set: 30 + 24, get: 23 + 1 });
  });
});

describe('judge: the failure window', () => {
  it('no failure after the fault: window 0, no start or end, no failed ops; recovery measured from the fault', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 50, 10);
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 5000);
    assert.equal(v.windowMs, 0);
    assert.equal(v.windowStartMs, null);
    assert.equal(v.windowEndMs, null);
    assert.equal(v.windowFailedOps, 0);
    assert.deepEqual(v.windowBadReads, { missing: 0, mismatched: 0 });
    // pre-fault: fault at 2000 >= 2000, so buckets 10..19 (10 ok each): 10 per bucket = 100 ops/s
    assert.equal(v.preFaultOpsPerSec, 100);
    // recovery: first stretch from bucket ceil(2000/100) = 20: buckets 20..29 hold 100 >= 0.9 * 10 * 10 -> 2000 - 2000 = 0
    assert.equal(v.recoveryMs, 0);
    // no window: during ends at fault + recovery = 2000, so it is empty; after is 2000..5000 = buckets 20..49 = 300 ops
    emptyPhase(v.latency.during, 2000, 2000);
    assert.equal(v.latency.after.ops, 300);
    assert.equal(v.latency.before.ops, 200);

    // A fault inside a bucket (2050): the first full bucket-aligned second at or after it starts at
    // ceil(2050/100) * 100 = 2100, so recovery is 2100 - 2050 = 50 ms.
    const w = judgeFault(h.buckets, h.failureRuns, 2050, 5000);
    assert.equal(w.windowMs, 0);
    assert.equal(w.recoveryMs, 50);
  });

  it('failure runs that ended before the fault are ignored', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 5, 10);
    failures(h, 500, 800, 'set'); // 30 failed sets in buckets 5..8 (ends 510..800)
    okAt(h, 850); // recovers at 850 (bucket 8)
    steady(h, 9, 50, 10);
    assert.equal(h.failureRuns.length, 1);
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 5000);
    assert.equal(v.windowMs, 0);
    assert.equal(v.windowStartMs, null);
    assert.equal(v.windowEndMs, null);
    assert.equal(v.windowFailedOps, 0);
    // pre-fault buckets 10..19 are clean: 100 ops/s; stretch 20..29 -> recovery 0
    assert.equal(v.preFaultOpsPerSec, 100);
    assert.equal(v.recoveryMs, 0);
  });

  it('one failure run: from the first failed op start to the completion of the first success after it', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 20, 10);
    const failed = failures(h, 2030, 2500); // (2500 - 2030) / 10 = 47
    assert.equal(failed, 47);
    okAt(h, 2700, 195_000); // the first success after the last failure completes at 2700
    steady(h, 27, 50, 10);
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 5000);
    // start max(2030, 2000) = 2030; end 2700; 2700 - 2030 = 670
    assert.equal(v.windowStartMs, 2030);
    assert.equal(v.windowEndMs, 2700);
    assert.equal(v.windowMs, 670);
    assert.equal(v.windowFailedOps, 47);
    // pre-fault 10/bucket (buckets 10..19) = 100 ops/s; stretch from bucket ceil(2700/100) = 27: buckets 27..36 hold
    // 11 + 9 * 10 = 101 >= 90, no failure -> 2700 - 2000 = 700
    assert.equal(v.preFaultOpsPerSec, 100);
    assert.equal(v.recoveryMs, 700);
  });

  it('a run that began before the fault starts the window at the fault', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 19, 10);
    for (const t of [1910, 1920, 1930, 1940]) okAt(h, t);
    failures(h, 1950, 2300); // 35 failed ops, the first starting at 1950
    okAt(h, 2400);
    steady(h, 24, 50, 10);
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 5000);
    // start max(1950, 2000) = 2000; end 2400; 400 ms
    assert.equal(v.windowStartMs, 2000);
    assert.equal(v.windowEndMs, 2400);
    assert.equal(v.windowMs, 400);
  });

  it('two runs less than 1 s apart merge into one window; a run 1 s or more after the last is not part of it', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 20, 10);
    const a = failures(h, 2030, 2500); // run A: 47 ops, last ends 2500
    okAt(h, 2550); // A recovered
    steady(h, 26, 34, 10); // ends 2610..3382
    const b = failures(h, 3400, 3600); // run B: 20 ops; 3400 - 2500 = 900 < 1000: merged
    okAt(h, 3700); // B recovered
    steady(h, 37, 47, 10); // ends 3710..4682
    const c = failures(h, 4700, 4750); // run C: 5 ops; 4700 - 3600 = 1100 >= 1000: not merged
    okAt(h, 4800);
    steady(h, 48, 60, 10);
    assert.deepEqual([a, b, c], [47, 20, 5]);
    assert.equal(h.failureRuns.length, 3);
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 6000);
    // 2030 .. 3700 (B's recovery) = 1670 ms; failed ops 47 + 20 = 67 (C's 5 left out)
    assert.equal(v.windowStartMs, 2030);
    assert.equal(v.windowEndMs, 3700);
    assert.equal(v.windowMs, 1670);
    assert.equal(v.windowFailedOps, 67);
    // stretch from bucket 37: 37..46 hold 11 + 90 = 101, no failure (C's failures are in bucket 47) -> 3700 - 2000
    assert.equal(v.recoveryMs, 1700);
  });

  it('a gap of exactly 1 s separates runs; 999 ms does not', () => {
    const build = (bStart: number, bEnd: number): FaultHistory => {
      const h = new FaultHistory(0n);
      steady(h, 0, 20, 10);
      failures(h, 2030, 2500); // 47 ops
      okAt(h, 2550);
      steady(h, 26, 34, 10); // ends up to 3382
      failures(h, bStart, bEnd);
      okAt(h, 3700);
      steady(h, 37, 60, 10);
      return h;
    };
    // gap 3500 - 2500 = 1000 >= QUIET_MS: window is run A alone, 2030 .. 2550 = 520 ms, 47 failed ops
    const apart = build(3500, 3600);
    const v = judgeFault(apart.buckets, apart.failureRuns, 2000, 6000);
    assert.equal(v.windowEndMs, 2550);
    assert.equal(v.windowMs, 520);
    assert.equal(v.windowFailedOps, 47);
    // recovery: buckets 35 (ends 3510..3590) and 36 (3600) have failures; every stretch starting at 26..36 holds
    // one of them, so the first clean second is 37..46 (11 + 90 = 101 ops) -> 3700 - 2000 = 1700
    assert.equal(v.recoveryMs, 1700);

    // gap 3499 - 2500 = 999 < QUIET_MS: merged, window 2030 .. 3700 = 1670 ms, 47 + (3599 - 3499) / 10 = 57 failed ops
    const close = build(3499, 3599);
    const w = judgeFault(close.buckets, close.failureRuns, 2000, 6000);
    assert.equal(w.windowEndMs, 3700);
    assert.equal(w.windowMs, 1670);
    assert.equal(w.windowFailedOps, 57);
  });

  it('a window that never closes: failures until the end', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 20, 10);
    const n = failures(h, 2030, 5000); // (5000 - 2030) / 10 = 297
    assert.equal(n, 297);
    h.badRead('missing', at(1500)); // bucket 15: before the window
    h.badRead('missing', at(2500)); // bucket 25
    h.badRead('mismatched', at(3000)); // bucket 30
    h.badRead('missing', at(4950)); // bucket 49: the window runs to endMs, buckets 20 .. ceil(5000/100) - 1 = 49
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 5000);
    assert.equal(v.windowMs, null);
    assert.equal(v.windowStartMs, 2030);
    assert.equal(v.windowEndMs, null);
    assert.equal(v.windowFailedOps, 297);
    assert.equal(v.recoveryMs, null);
    assert.deepEqual(v.windowBadReads, { missing: 2, mismatched: 1 });
    // no window end and no recovery: during runs to endMs (no op succeeded in it), after is empty
    emptyPhase(v.latency.during, 2000, 5000);
    emptyPhase(v.latency.after, 5000, 5000);
    assert.equal(v.latency.before.ops, 200);
  });

  it('a window whose last failure is less than 1 s before the end is not closed; exactly 1 s is', () => {
    const build = (lastBucket: number): FaultHistory => {
      const h = new FaultHistory(0n);
      steady(h, 0, 20, 10);
      failures(h, 2030, 2500); // last failure ends 2500
      okAt(h, 2600);
      steady(h, 27, lastBucket, 10);
      return h;
    };
    // endMs 3400: 3400 - 2500 = 900 < 1000 -> not closed
    const open = build(34);
    const v = judgeFault(open.buckets, open.failureRuns, 2000, 3400);
    assert.equal(v.windowMs, null);
    assert.equal(v.windowEndMs, null);
    assert.equal(v.windowStartMs, 2030);
    assert.equal(v.recoveryMs, null);
    // endMs 3500: 3500 - 2500 = 1000 -> closed at 2600: 2600 - 2030 = 570 ms. Recovery: the stretch from bucket
    // ceil(2600/100) = 26 would need buckets 26..35, past floor(3500/100) = 35 -> no full second fits: null
    const closed = build(35);
    const w = judgeFault(closed.buckets, closed.failureRuns, 2000, 3500);
    assert.equal(w.windowEndMs, 2600);
    assert.equal(w.windowMs, 570);
    assert.equal(w.recoveryMs, null);
  });
});

describe('judge: recovery and pre-fault throughput', () => {
  it('recovery starts at or after the window end, not in the bucket the window ended in', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 20, 10);
    failures(h, 2030, 2500);
    okAt(h, 2650); // window end 2650, inside bucket 26 (which holds this one op)
    steady(h, 27, 50, 10);
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 5000);
    assert.equal(v.windowMs, 620); // 2650 - 2030
    // "the first full second, at or after the window's end": the first bucket-aligned second starting at or after 2650
    // starts at 2700 (buckets 27..36, 100 ops >= 90) -> 2700 - 2000 = 700
    assert.equal(v.recoveryMs, 700);
  });

  it('a full second needs at least 90% of the pre-fault throughput', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 20, 10);
    failures(h, 2030, 2500);
    okAt(h, 2700);
    steady(h, 27, 40, 5); // half throughput until 4000
    steady(h, 40, 60, 10);
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 6000);
    assert.equal(v.windowMs, 670);
    // pre-fault 10 per bucket; a second needs >= 0.9 * 10 * 10 = 90 ok ops. A stretch from bucket b (28 <= b <= 40)
    // holds 40 - b half buckets: 5 * (40 - b) + 10 * (10 - (40 - b)) = 100 - 5 * (40 - b) >= 90 -> b >= 38
    // (bucket 27: 6 + 9 * 5 = 51). b = 38: 5 + 5 + 8 * 10 = 90 -> 3800 - 2000 = 1800
    assert.equal(v.recoveryMs, 1800);
  });

  it('noisy pre-fault seconds: a second as fast as the slowest one before the fault counts as recovered', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 10, 10); // left out (the fault is after 2000)
    steady(h, 10, 20, 10);
    steady(h, 20, 30, 7);
    steady(h, 30, 50, 10);
    failures(h, 5030, 5500);
    okAt(h, 5700);
    steady(h, 57, 80, 8);
    steady(h, 80, 100, 10);
    const v = judgeFault(h.buckets, h.failureRuns, 5000, 10_000);
    // pre-fault full seconds 100, 70, 100, 100: median 100, slowest 70 -> max(0.5 * 100, min(0.9 * 100, 70)) = 70.
    // From bucket 57 (the window's end, 5700): 1 + 10 * 8 = 81 >= 70 -> 5700 - 5000 = 700. (The mean rule, 0.9 * 92.5
    // = 83.25, waited for bucket 72: 8 * 8 + 2 * 10 = 84 -> 2200.)
    assert.equal(v.preFaultOpsPerSec, 93);
    assert.equal(v.recoveryMs, 700);
  });

  it('one stalled second before the fault is no reference: a second needs at least half the pre-fault median', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 20, 10);
    steady(h, 30, 50, 10); // buckets 20..29: nothing completed
    steady(h, 50, 100, 4);
    // pre-fault seconds 100, 0, 100, 100: median 100, slowest 0 -> max(50, min(90, 0)) = 50; every later second holds 40.
    assert.equal(judgeFault(h.buckets, h.failureRuns, 5000, 10_000).recoveryMs, null);
    const w = new FaultHistory(0n);
    steady(w, 0, 20, 10);
    steady(w, 30, 50, 10);
    steady(w, 50, 100, 6);
    assert.equal(judgeFault(w.buckets, w.failureRuns, 5000, 10_000).recoveryMs, 0);
  });

  it('never back to 90%: recovery is null while the window itself closed', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 20, 10);
    failures(h, 2030, 2500);
    okAt(h, 2700);
    steady(h, 27, 60, 8); // every second holds at most 1 + 80 = 81 < 90
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 6000);
    assert.equal(v.windowMs, 670);
    assert.equal(v.recoveryMs, null);
    // during ends at the window's end (2700) all the same
    assert.equal(v.latency.during.toMs, 2700);
  });

  it('a second with a failure in it (even outside the window) does not count as recovered', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 20, 10);
    failures(h, 2030, 2500);
    okAt(h, 2700);
    steady(h, 27, 36, 10); // ends up to 3582
    h.fail('get', at(3600), at(3605)); // bucket 36; 3600 - 2500 = 1100 >= 1000: its own run, outside the window
    okAt(h, 3650);
    steady(h, 37, 60, 10);
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 6000);
    assert.equal(v.windowEndMs, 2700);
    assert.equal(v.windowFailedOps, 47);
    // every stretch starting at 27..36 holds bucket 36; 37..46 is clean with 100 ops -> 3700 - 2000 = 1700
    assert.equal(v.recoveryMs, 1700);
  });

  it('pre-fault throughput leaves the first second out when the fault is at 2000 ms or later', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 10, 2); // warm-up second: 2 per bucket
    steady(h, 10, 50, 10);
    // fault 2000: buckets 10..19 -> 10 per bucket -> 100 ops/s
    assert.equal(judgeFault(h.buckets, h.failureRuns, 2000, 5000).preFaultOpsPerSec, 100);
    // fault 1900 (< 2000): buckets 0..18 -> (10 * 2 + 9 * 10) / 19 = 110 / 19 = 5.789 per bucket -> 57.89 -> 58 ops/s
    const v = judgeFault(h.buckets, h.failureRuns, 1900, 5000);
    assert.equal(v.preFaultOpsPerSec, 58);
    // recovery: needs >= 0.9 * 5.789 * 10 = 52.1 in a second from bucket 19: buckets 19..28 hold 100 -> 1900 - 1900 = 0
    assert.equal(v.recoveryMs, 0);
    // fault in the first bucket: no full bucket before it -> no pre-fault throughput, no recovery to judge against
    const w = judgeFault(h.buckets, h.failureRuns, 50, 5000);
    assert.equal(w.preFaultOpsPerSec, null);
    assert.equal(w.recoveryMs, null);
  });
});

describe('judge: latency phases and bad reads', () => {
  // before (0..2000): 20 buckets of 9 ops at 200 µs + 1 at 5000 µs = 180 + 20 = 200 ops
  // window: failures 2010..2300 (29), 3 successes at 2320/2330/2340 taking 30/40/50 ms, failures 2400..2600 (20;
  //   2400 - 2300 = 100 < 1000: merged), recovered by an op completing at 2700 (300 µs)
  // after (2700..5000): buckets 27..49, 10 ops each at 300 µs, plus the recovering op = 231 ops
  function phased(): FaultHistory {
    const h = new FaultHistory(0n);
    for (let b = 0; b < 20; b++) {
      steady(h, b, b + 1, 9, 200);
      okAt(h, b * BUCKET_MS + 95, 5000);
    }
    failures(h, 2010, 2300);
    okAt(h, 2320, 30_000);
    okAt(h, 2330, 40_000);
    okAt(h, 2340, 50_000);
    failures(h, 2400, 2600);
    okAt(h, 2700, 300);
    steady(h, 27, 50, 10, 300);
    h.badRead('missing', at(1500)); // bucket 15: before the window
    h.badRead('missing', at(2100)); // bucket 21: in
    h.badRead('missing', at(2200)); // bucket 22: in
    h.badRead('mismatched', at(2650)); // bucket 26: in
    h.badRead('missing', at(2750)); // bucket 27: after the window's last bucket (ceil(2700/100) - 1 = 26)
    h.badRead('mismatched', at(4000)); // bucket 40: after
    return h;
  }

  it('window and bad reads: only the window buckets count', () => {
    const h = phased();
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 5000);
    assert.equal(v.windowStartMs, 2010);
    assert.equal(v.windowEndMs, 2700);
    assert.equal(v.windowMs, 690);
    assert.equal(v.windowFailedOps, 29 + 20);
    // window buckets floor(2010/100) = 20 .. 26: missing at 2100, 2200; mismatched at 2650
    assert.deepEqual(v.windowBadReads, { missing: 2, mismatched: 1 });
  });

  it('before, during and after: op counts and p50/p99/max in µs', () => {
    const h = phased();
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 5000);
    const { before, during, after } = v.latency;
    // before: 200 ops; p50 = 100th smallest = 200 µs; p99 = 198th smallest (180 at 200 µs, then 5000 µs) = 5000 µs
    assert.deepEqual([before.fromMs, before.toMs, before.ops], [0, 2000, 200]);
    near(before.p50Us, 200, 'before p50');
    near(before.p99Us, 5000, 'before p99');
    near(before.maxUs, 5000, 'before max');
    // during (fault 2000 .. window end 2700, buckets 20..26): 30, 40, 50 ms -> p50 = 2nd = 40000 µs, p99 = 3rd = 50000 µs
    assert.deepEqual([during.fromMs, during.toMs, during.ops], [2000, 2700, 3]);
    near(during.p50Us, 40_000, 'during p50');
    near(during.p99Us, 50_000, 'during p99');
    near(during.maxUs, 50_000, 'during max');
    // after (2700 .. 5000, buckets 27..49): 231 ops, all 300 µs
    assert.deepEqual([after.fromMs, after.toMs, after.ops], [2700, 5000, 231]);
    near(after.p50Us, 300, 'after p50');
    near(after.p99Us, 300, 'after p99');
    near(after.maxUs, 300, 'after max');
    // the phases split the run's successful ops: 200 + 3 + 231 = 434
    const total = h.buckets.reduce((n, b) => n + b.ok, 0);
    assert.equal(total, 434);
    assert.equal(before.ops + during.ops + after.ops, total);
  });

  it('an op is counted in one phase only when the fault or the window end falls inside a bucket', () => {
    // Steady 10 ops per bucket for 5 s (500 ops), fault at 2050, no failure. Each bucket belongs to the phase it begins
    // in: before = buckets starting in [0, 2050) = 0..20 (210 ops); recovery is measured from the first bucket starting
    // at or after the fault (21, at 2100): 50 ms, so during = [2050, 2100) holds no bucket start (0 ops); after = 21..49 (290).
    const h = new FaultHistory(0n);
    steady(h, 0, 50, 10);
    const v = judgeFault(h.buckets, h.failureRuns, 2050, 5000);
    assert.equal(v.recoveryMs, 50);
    assert.deepEqual([v.latency.before.ops, v.latency.during.ops, v.latency.after.ops], [210, 0, 290]);
    assert.equal(v.latency.before.ops + v.latency.during.ops + v.latency.after.ops, 500);
  });

  it('a 2 s success after failures is a stall: the window runs on to the first prompt success, and counts as during', () => {
    // Before: 20 buckets of 10 ops of 100 µs; failures 2030..2500 (fault at 2000); one 2 s op completing at 2650 — a
    // stall (≥ STALL_MS), so it extends the window; the first prompt success is the first op of bucket 27, completing at
    // 2700 + 10 = 2710: window 2030..2710. During = buckets starting in [2000, 2710) = 20..27; after = 28.. (100 µs only).
    const h = new FaultHistory(0n);
    steady(h, 0, 20, 10);
    h.faultAtMs = 2000;
    failures(h, 2030, 2500);
    okAt(h, 2650, 2_000_000);
    steady(h, 27, 60, 10);
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 6000);
    assert.deepEqual([v.windowStartMs, v.windowEndMs, v.windowFailedOps, v.windowStalledOps], [2030, 2710, 47, 1]);
    near(v.latency.during.maxUs, 2_000_000, 'during max');
    assert.ok((v.latency.during.p50Us ?? Infinity) <= (v.latency.during.maxUs ?? 0), 'p50 above max');
    near(v.latency.after.maxUs, 100, 'after max');
  });

  it('a stall with no failed op at all makes a window (a frozen server answering before the op deadline)', () => {
    // 10 ops per bucket to 2000; fault at 2000; one op from 2005 to 5005 (3 s, succeeded); prompt ops from bucket 51
    // (first completes at 5110): window 2005..5110 = 3105 ms, 0 failed, 1 stalled. A 999 ms op would not be a stall.
    const h = new FaultHistory(0n);
    steady(h, 0, 20, 10);
    h.faultAtMs = 2000;
    h.ok(at(2005), at(5005));
    steady(h, 51, 80, 10);
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 8000);
    assert.deepEqual([v.windowStartMs, v.windowEndMs, v.windowMs, v.windowFailedOps, v.windowStalledOps], [2005, 5110, 3105, 0, 1]);
    assert.equal(h.stalled, 1);
    const quick = new FaultHistory(0n);
    steady(quick, 0, 20, 10);
    quick.ok(at(2005), at(3004));
    steady(quick, 31, 60, 10);
    assert.equal(judgeFault(quick.buckets, quick.failureRuns, 2000, 6000).windowMs, 0);
  });

  it('windowFailedOps leaves out failed ops of a run under way at the fault that ended before it', () => {
    // 10 ops per bucket in buckets 0..18; the fault is marked at 2000; failed ops of 10 ms from 1955 to 2305: 35 of
    // them, 4 ending before 2000 (1965, 1975, 1985, 1995). The history starts a new failure run at the fault, so the
    // window (2000 .. success at 2400) counts 35 - 4 = 31.
    const h = new FaultHistory(0n);
    steady(h, 0, 19, 10);
    h.faultAtMs = 2000;
    assert.equal(failures(h, 1955, 2305), 35);
    okAt(h, 2400);
    steady(h, 25, 50, 10);
    const v = judgeFault(h.buckets, h.failureRuns, 2000, 5000);
    assert.deepEqual([v.windowStartMs, v.windowEndMs], [2000, 2400]);
    assert.equal(v.windowFailedOps, 31);
  });
});

describe('timeline and sparkline', () => {
  it('timeline(): per bucket ok, failed and the p50/p99 of the successes in µs (null when none)', () => {
    const h = new FaultHistory(0n);
    okAt(h, 20, 100);
    okAt(h, 40, 300);
    h.fail('set', at(250), at(260));
    okAt(h, 280, 50);
    const t = timeline(h.buckets);
    assert.equal(t.bucketMs, 100);
    assert.deepEqual(t.ok, [2, 0, 1]);
    assert.deepEqual(t.failed, [0, 0, 1]);
    // bucket 0 holds 100 and 300 µs: p50 = 1st of 2 = 100, p99 = 2nd = 300; bucket 2 holds only 50 µs
    assert.equal(t.p50Us.length, 3);
    assert.equal(t.p99Us.length, 3);
    near(t.p50Us[0] ?? null, 100, 'bucket 0 p50');
    near(t.p99Us[0] ?? null, 300, 'bucket 0 p99');
    assert.equal(t.p50Us[1], null);
    assert.equal(t.p99Us[1], null);
    near(t.p50Us[2] ?? null, 50, 'bucket 2 p50');
    near(t.p99Us[2] ?? null, 50, 'bucket 2 p99');
  });

  it('sparkline(): one column per bucket when they fit; × for a failure, space for nothing completed', () => {
    // 80 is the top: █; 0 with no failure: space; 1/80 of the top: the lowest bar ▁; a failed column: × (even with oks)
    assert.equal(sparkline({ ok: [80, 0, 1, 80, 0, 40], failed: [0, 0, 0, 0, 2, 1] }), '█ ▁█××');
    assert.equal(sparkline({ ok: [], failed: [] }), '');
    assert.equal(sparkline({ ok: [0, 0], failed: [0, 0] }), '  ');
  });

  it('sparkline(): buckets are summed into at most `width` columns', () => {
    // 120 buckets of 10 ok ops; a failure in bucket 7; nothing in buckets 20 and 21
    const ok = new Array<number>(120).fill(10);
    const failed = new Array<number>(120).fill(0);
    failed[7] = 1;
    ok[20] = 0;
    ok[21] = 0;
    // default width 60: column = floor(i * 60 / 120) = floor(i / 2): bucket 7 -> column 3 (×); buckets 20, 21 ->
    // column 10 (space); every other column holds 20 = the top (█)
    const line = sparkline({ ok, failed });
    assert.equal(line.length, 60);
    assert.equal(line, '███×' + '█'.repeat(6) + ' ' + '█'.repeat(49));
    // width 10: 12 buckets per column; column 0 holds bucket 7's failure
    const narrow = sparkline({ ok, failed }, 10);
    assert.equal(narrow.length, 10);
    assert.equal(narrow[0], '×');
    assert.equal(narrow.slice(2), '█'.repeat(8));
  });

  it('sparkline() of a judged history marks the failure buckets', () => {
    const h = new FaultHistory(0n);
    steady(h, 0, 3, 4);
    h.fail('set', at(310), at(320)); // bucket 3
    okAt(h, 330);
    // bucket 4 empty; bucket 5 has 4 ops
    steady(h, 5, 6, 4);
    assert.equal(sparkline(timeline(h.buckets)), '███× █');
  });
});
