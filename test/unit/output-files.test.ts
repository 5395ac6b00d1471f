import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkWritable } from '../../src/cli/files.js';
import { writeOutput } from '../../src/cli/output.js';

const dir = mkdtempSync(join(tmpdir(), 'cachebench-outputs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('output files are never written over something that is not a file', () => {
  it('a FIFO at an output path is left in place: the write and the up-front check refuse it (ENOTREG), nothing is left beside it', () => {
    const fifo = join(dir, 'report.md');
    execFileSync('mkfifo', [fifo]);
    assert.throws(() => writeOutput(fifo, 'x'), { code: 'ENOTREG' });
    assert.ok(statSync(fifo).isFIFO());
    assert.throws(() => checkWritable(fifo, '--export gab=x'), /cannot write .*report\.md \(it is a device, FIFO or socket, not a regular file\)/);
    assert.deepEqual(readdirSync(dir), ['report.md']);
  });

  it('a regular file is replaced, and the up-front check leaves no probe file behind', () => {
    const file = join(dir, 'results.csv');
    writeFileSync(file, 'old');
    checkWritable(file, 'results');
    checkWritable(join(dir, 'new.json'), 'results');
    writeOutput(file, 'new');
    assert.equal(readFileSync(file, 'utf8'), 'new');
    assert.deepEqual(readdirSync(dir).sort(), ['report.md', 'results.csv']);
  });

  it('a path on /proc or /sys is refused whatever access(2) says', () => {
    assert.throws(() => checkWritable('/proc/cachebench-x.json', 'x'), /kernel file system/);
    assert.throws(() => checkWritable('/proc/sys/kernel/hostname', 'x'), /kernel file system/);
    assert.throws(() => checkWritable('/sys/kernel/cachebench-x.json', 'x'), /kernel file system/);
  });
});
