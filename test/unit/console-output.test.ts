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
