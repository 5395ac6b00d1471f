import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_FAULT, NO_LOAD, type RunControls, type TargetConfig } from '../../src/config/resolve.js';
import type { FaultClock } from '../../src/faults/clock.js';
import { runFaultTarget, FAILURE_PAUSE_MS } from '../../src/faults/loop.js';
import { ROLL_AGE_MS, ROLL_EVERY_MS } from '../../src/faults/checker.js';
import type { FaultInjector } from '../../src/faults/nemesis.js';
import type { CacheClient, ConnectedTarget } from '../../src/targets/client.js';

/**
 * The fault loop in virtual time: every op of the fake server advances the clock by 1 ms, the pause after a failure
 * by FAILURE_PAUSE_MS, and timers (the fault at FAULT_AT, its undoing) fire at their exact virtual times.
 */
class VirtualClock implements FaultClock {
  #ns = 0n;
  #timers: { at: bigint; fn: () => void; everyNs?: bigint }[] = [];
  readonly now = (): bigint => this.#ns;
  advance(ms: number): void {
    const to = this.#ns + BigInt(Math.round(ms * 1e6));
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= to).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))[0];
      if (due === undefined) break;
      this.#ns = due.at;
      if (due.everyNs !== undefined) due.at += due.everyNs;
      else this.#timers = this.#timers.filter((t) => t !== due);
      due.fn();
    }
    this.#ns = to;
  }

  readonly sleep = async (ms: number): Promise<void> => {
    this.advance(ms);
    await Promise.resolve();
  };

  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.#ns + BigInt(ms) * 1_000_000n, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  every(ms: number, fn: () => void): () => void {
    const everyNs = BigInt(ms) * 1_000_000n;
    const timer = { at: this.#ns + everyNs, fn, everyNs };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }
}

type Mode = 'ok' | 'down' | 'corrupt' | 'apply-then-fail';

/**
 * A fake server on the virtual clock (each op takes 1 ms). By default its fault is a restart without persistence: it
 * loses everything it holds and refuses ops for `downMs`. `script` replaces that with other modes over time: `corrupt`
 * answers GETs with other bytes, `apply-then-fail` applies the next SET and then fails it (a reply lost on the way).
 */
function fakeServer(clock: VirtualClock, downMs: number, script?: (setMode: (m: Mode) => void) => Promise<void>) {
  const store = new Map<string, Buffer>();
  const checkerRead = new Set<string>();
  let mode: Mode = 'ok';
  const counts = { corrupted: 0, appliedThenFailed: 0, heals: 0 };
  const lostAtFault: string[] = [];
  const client: CacheClient = {
    set: async (key, value) => {
      clock.advance(1);
      await Promise.resolve();
      if (mode === 'down') throw new Error('connection to 127.0.0.1:1 lost');
      store.set(key, Buffer.from(value));
      if (mode === 'apply-then-fail') {
        mode = 'ok';
        counts.appliedThenFailed++;
        throw new Error('Command timed out');
      }
    },
    get: async (key) => {
      clock.advance(1);
      await Promise.resolve();
      if (mode === 'down') throw new Error('connection to 127.0.0.1:1 lost');
      const value = store.get(key) ?? null;
      if (mode !== 'corrupt' || value === null) return value;
      counts.corrupted++;
      return Buffer.concat([value.subarray(0, value.length - 1), Buffer.from([value[value.length - 1] === 0 ? 1 : 0])]);
    },
    del: async (key) => {
      store.delete(key);
    },
    close: async () => undefined,
  };
  // The checker's own connection: not slowed, not refused (it reads what the server holds when it asks).
  const checker: CacheClient = {
    set: async () => undefined,
    get: async (key) => {
      checkerRead.add(key);
      return store.get(key) ?? null;
    },
    del: async (key) => {
      store.delete(key);
    },
    close: async () => undefined,
  };
  const injector: FaultInjector = {
    inject: (log) => {
      if (script !== undefined) {
        log('scripted fault', true);
        return script((m) => {
          mode = m;
        });
      }
      return new Promise((resolve) => {
        // What the fault takes: acknowledged writes the server holds and the checker has not read yet.
        lostAtFault.push(...[...store.keys()].filter((k) => !checkerRead.has(k)));
        store.clear();
        mode = 'down';
        log('killed the fake server', true);
        clock.after(downMs, () => {
          mode = 'ok';
          log('started it again, empty', true);
          resolve();
        });
      });
    },
    heal: async () => {
      counts.heals++;
      return null;
    },
  };
  return { client, checker, injector, lostAtFault, counts, store };
}

function targetOf(client: CacheClient): ConnectedTarget {
  return {
    config: CONFIG, client,
    info: { mode: 'standalone', modeDetected: false, serverVersion: 'fake', primaries: 1, replicas: 0, client: 'fake', clientVersion: '0', servers: [],
      tls: false, cache: 'off', readFrom: 'primary' },
  };
}

const CONFIG: TargetConfig = {
  name: 'F', servers: [], protocol: 'resp', itemSizeMax: 1024 * 1024, mode: 'standalone', client: 'ioredis', cache: 'off', cacheEntries: 10_000,
  readFrom: 'primary', waitReplicas: 0, tls: false, sources: {},
};
const CONTROLS: RunControls = {
  keyTtlSeconds: 60, warmupIterations: 0, invocationCount: 1, iterationTimeMs: 100, interleave: 'iteration', minIterations: 15, maxIterations: 100,
  maxRelativeError: 0.02, maxTimeMs: 3_600_000, opTimeoutMs: 1000, connectTimeoutMs: 1000, overwriteRate: 0, load: NO_LOAD,
  fault: { ...NO_FAULT, kind: 'kill-primary', atMs: 2000, durationMs: 1000, runMs: 6000 },
};

describe('fault loop (virtual time)', () => {
  it('injects at FAULT_AT, measures the failure window the fault made, and finds exactly the acknowledged writes it took', async () => {
    const clock = new VirtualClock();
    const server = fakeServer(clock, 1000);
    const target = targetOf(server.client);
    const seconds: { ok: number; failed: number; phase: string }[] = [];
    const { fault, ops, tally } = await runFaultTarget(target, { READ_RATIO: 4, WRITE_COUNT: 1, PAYLOAD_BYTES: 32 }, CONTROLS, {
      keyPrefix: 'cachebench:test:', checker: server.checker, injector: server.injector, clock,
      onSecond: (s) => seconds.push(s),
    });
    assert.equal(fault.injectedAtMs, 2000, 'the fault timer fires at FAULT_AT on the loop clock');
    assert.equal(fault.actionEndMs, 3000, 'the fault was undone FAULT_DURATION later');
    assert.ok(fault.runMs >= 6000 && fault.runMs <= 6001, `runs DURATION: ${fault.runMs}`);
    // Down from 2000 to 3000 ms; the first op after it completes within one op and one failure pause.
    assert.ok(fault.windowStartMs !== null && fault.windowStartMs >= 1999 && fault.windowStartMs <= 2001, `window start ${fault.windowStartMs}`);
    assert.ok(fault.windowMs !== null && fault.windowMs >= 1000 && fault.windowMs <= 1000 + FAILURE_PAUSE_MS + 3, `window ${fault.windowMs}`);
    // Each failed op takes 1 ms plus the pause: about 1000 / 11 of them while it is down.
    const failed = fault.failedOps.set + fault.failedOps.get;
    assert.ok(failed >= Math.floor(1000 / (FAILURE_PAUSE_MS + 1)) - 1 && failed <= Math.ceil(1000 / (FAILURE_PAUSE_MS + 1)) + 1, `failed ${failed}`);
    assert.equal(fault.windowFailedOps, failed);
    // Exactly the writes the fault took (held, not yet read back) are lost: none more, none less.
    assert.ok(server.lostAtFault.length > 0);
    assert.equal(fault.lostAckedWrites, server.lostAtFault.length);
    assert.ok(fault.lostKeys.length > 0 && fault.lostKeys.every((k) => server.lostAtFault.includes(k)), 'the lost keys named are ones the fault took');
    assert.equal(fault.appliedUnackedWrites, 0, 'a refused SET was never applied');
    assert.equal(fault.unackedWritesChecked, fault.failedOps.set, 'every refused SET is read back');
    // The rolling check runs on the loop's clock: at the fault only about ROLL_AGE_MS of writes (5 ms each) were unread.
    const pending = fault.pendingAtFault ?? -1;
    assert.ok(pending >= ROLL_AGE_MS / 5 - 5 && pending <= (ROLL_AGE_MS + ROLL_EVERY_MS) / 5 + 5, `pending at fault ${pending}`);
    assert.ok(fault.ackedWritesChecked > fault.lostAckedWrites && fault.ackedWritesUnchecked === 0);
    assert.equal(server.counts.heals, 1, 'healed once after the timed part');
    // Every op is accounted for: 1 ms each, so ops + failures × (1 + pause) fill the 6 s.
    const okOps = ops.set.count + ops.get.count;
    assert.ok(Math.abs(okOps + failed * (1 + FAILURE_PAUSE_MS) - 6000) <= 2, `${okOps} ok, ${failed} failed`);
    assert.equal(tally.sets, ops.set.count);
    // Progress once a virtual second, with the phase.
    assert.deepEqual(seconds.map((s) => s.phase), ['before the fault', 'fault under way', 'fault under way', 'after the fault', 'after the fault', 'after the fault']);
    assert.ok((seconds[2]?.failed ?? 0) > 80, 'the third second is the one that failed');
  });
  it('counts reads of other bytes inside the failure window, and a SET applied without its reply as applied-unacknowledged', async () => {
    const clock = new VirtualClock();
    // From FAULT_AT: refused 300 ms, then 10 ms of corrupted replies, refused again until 400 ms, then one SET applied but failed.
    const server = fakeServer(clock, 0, (setMode) => new Promise((resolve) => {
      setMode('down');
      clock.after(300, () => setMode('corrupt'));
      clock.after(310, () => setMode('down'));
      clock.after(400, () => {
        setMode('apply-then-fail');
        resolve();
      });
    }));
    const { fault, tally } = await runFaultTarget(targetOf(server.client), { READ_RATIO: 4, WRITE_COUNT: 1, PAYLOAD_BYTES: 32 }, CONTROLS, {
      keyPrefix: 'cachebench:test:', checker: server.checker, injector: server.injector, clock,
    });
    assert.ok(server.counts.corrupted > 0);
    assert.equal(tally.mismatched, server.counts.corrupted, 'every read of other bytes is a mismatch');
    assert.equal(fault.windowBadReads.mismatched, server.counts.corrupted, 'and lies inside the failure window');
    assert.equal(server.counts.appliedThenFailed, 1);
    assert.equal(fault.appliedUnackedWrites, 1);
    assert.equal(fault.unackedWritesChecked, fault.failedOps.set);
    assert.equal(fault.lostAckedWrites, 0, 'nothing acknowledged was lost');
  });

  it('stops at Ctrl-C (a virtual time), heals at once and reads back every acknowledged write', async () => {
    const clock = new VirtualClock();
    const server = fakeServer(clock, 1000);
    const abort = new AbortController();
    clock.after(3500, () => abort.abort());
    const { fault, ops, aborted } = await runFaultTarget(targetOf(server.client), { READ_RATIO: 4, WRITE_COUNT: 1, PAYLOAD_BYTES: 32 }, CONTROLS, {
      keyPrefix: 'cachebench:test:', checker: server.checker, injector: server.injector, clock, signal: abort.signal,
    });
    assert.equal(aborted, true);
    assert.ok(fault.runMs >= 3500 && fault.runMs <= 3501, `stopped at ${fault.runMs} ms`);
    assert.equal(server.counts.heals, 1);
    assert.equal(fault.ackedWritesChecked, ops.set.count, 'every acknowledged SET read back');
    assert.equal(server.store.size, 0, 'and every key deleted');
  });

  it('never reads back (and deletes) the key the loop is still reading, however long it reads it', async () => {
    const clock = new VirtualClock();
    const server = fakeServer(clock, 0);
    // 1,500 GETs of 1 ms: each key is read for 1.5 s, longer than ROLL_AGE_MS, while the rolling check runs.
    const { tally } = await runFaultTarget(targetOf(server.client), { READ_RATIO: 1500, WRITE_COUNT: 1, PAYLOAD_BYTES: 32 },
      { ...CONTROLS, fault: { ...CONTROLS.fault, runMs: 5000 } }, { keyPrefix: 'cachebench:test:', checker: server.checker, clock });
    assert.ok(tally.gets > 4000);
    assert.equal(tally.missing, 0);
    assert.equal(tally.verified, tally.gets);
  });
});
