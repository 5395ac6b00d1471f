import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inertConsole } from '../../src/cli/output.js';
import { createProgress } from '../../src/cli/progress.js';
import type { CaseParams } from '../../src/config/resolve.js';

const HOSTILE = 'x\x1b]0;owned\x07\x1b[2J\r\x9b31m\u202eevil\u0000';

describe('console text is inert for a terminal', () => {
  it('control characters and bidirectional overrides become U+FFFD; tab and line feed stay', () => {
    assert.equal(inertConsole(HOSTILE), 'x\uFFFD]0;owned\uFFFD\uFFFD[2J\uFFFD\uFFFD31m\uFFFDevil\uFFFD');
    assert.equal(inertConsole('a\tb\nc'), 'a\tb\nc');
  });

  it('live progress of time-based runs: a log gets a line on each phase change and at most one every 5 s; a TTY redraws one line each second', () => {
    const second = (atMs: number, phase: string) => ({ kind: 'second' as const, target: 'REDIS', ok: 12_345, failed: 2, phase, atMs, runMs: 20_000 });
    const plain: string[] = [];
    const log = createProgress({ isTTY: false, write: (text) => void plain.push(text) }, false);
    log.onProgress({ kind: 'load-target', target: 'REDIS', runMs: 20_000 });
    for (const [at, phase] of [[1000, 'warm-up'], [2000, 'warm-up'], [3000, 'measured'], [4000, 'measured']] as const) log.onProgress(second(at, phase));
    assert.deepEqual(plain.slice(1), ['cachebench: REDIS 1/20 s, warm-up: 12,345 ops/s, 2 failed\n', 'cachebench: REDIS 3/20 s, measured: 12,345 ops/s, 2 failed\n']);
    const drawn: string[] = [];
    const tty = createProgress({ isTTY: true, write: (text) => void drawn.push(text) }, false);
    tty.onProgress(second(5000, 'measured'));
    tty.onProgress(second(6000, 'measured'));
    assert.equal(drawn.length, 2);
    assert.match(drawn[1]!, /^\r\x1b\[K█{7}░{17} REDIS 6\/20 s, measured: 12,345 ops\/s, 2 failed$/);
    const quiet: string[] = [];
    createProgress({ isTTY: false, write: (text) => void quiet.push(text) }, true).onProgress(second(1000, 'measured'));
    assert.deepEqual(quiet, []);
  });

  for (const tty of [true, false]) {
    it(`progress on a ${tty ? 'TTY' : 'pipe'}: outside text (fault events, errors, target names) cannot steer it; only the bar's own \\r\\x1b[K is written`, () => {
      const written: string[] = [];
      const progress = createProgress({ isTTY: tty, write: (text) => void written.push(text) }, false);
      progress.onProgress({ kind: 'fault-event', target: `T${HOSTILE}`, event: { atMs: 10, what: HOSTILE, ok: true } });
      progress.onProgress({ kind: 'target-errored', target: 'T', error: HOSTILE });
      progress.onProgress({ kind: 'round', params: {} as CaseParams, round: 1, maxRounds: 2, elapsedMs: 1, maxTimeMs: 10, relativeErrors: { [HOSTILE]: 0.1 } });
      progress.done();
      const all = written.join('').replaceAll('\r\x1b[K', '');
      assert.deepEqual([...all.matchAll(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/g)].map((m) => m[0]), []);
      assert.ok(all.includes('owned'), 'the text is still shown');
    });
  }
});
