import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KEEP_LINES, MAX_LINE_CHARS, OutputTail } from '../../src/faults/supervisor.js';

const tailOf = (...chunks: (string | Buffer)[]): string[] => {
  const tail = new OutputTail();
  for (const chunk of chunks) tail.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return tail.lines();
};

describe("a fault command's output: a bounded tail", () => {
  it('20 MB without a newline keeps one line of its last characters', () => {
    const tail = new OutputTail();
    const chunk = Buffer.alloc(64 * 1024, 'x');
    for (let sent = 0; sent < 20_000_000; sent += chunk.length) tail.push(chunk);
    const lines = tail.lines();
    assert.equal(lines.length, 1);
    assert.equal(lines[0], `…${'x'.repeat(MAX_LINE_CHARS)}`);
  });

  it('keeps the last lines, each cut to its end; lines end at \\n, \\r\\n or \\r; blank lines are dropped', () => {
    assert.deepEqual(tailOf('a\rb\r\nc\n\n\r\nd'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(tailOf('progress 10%\rprogress 20%', '\rprogress 100%\r\n', 'done\n'), ['progress 10%', 'progress 20%', 'progress 100%', 'done']);
    const many = Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\n');
    assert.deepEqual(tailOf(many), Array.from({ length: KEEP_LINES }, (_, i) => `line ${990 + i}`));
    const long = tailOf(`${'y'.repeat(5000)}end\nshort\n`);
    assert.deepEqual(long, [`…${'y'.repeat(MAX_LINE_CHARS - 3)}end`, 'short']);
  });

  it('a character split across chunks stays whole; control characters are replaced', () => {
    const euro = Buffer.from('€ 5\n');
    assert.deepEqual(tailOf(euro.subarray(0, 1), euro.subarray(1)), ['€ 5']);
    assert.deepEqual(tailOf('\x1b[31mred\x07\tok\n'), ['\uFFFD[31mred\uFFFD\tok']);
  });
});
