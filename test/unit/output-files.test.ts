import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkWritable } from '../../src/cli/files.js';
import { writeOutput } from '../../src/cli/output.js';
import { writeState } from '../../src/local/state.js';
import type { LocalDeployment } from '../../src/local/topologies.js';

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

  it('an append (the step summary) to a FIFO nothing reads, or to a device, fails at once naming it; nothing waits', () => {
    const fifo = join(dir, 'summary.fifo');
    execFileSync('mkfifo', [fifo]);
    // In a child with a deadline: a blocking open(2) would hang this process for good.
    const files = new URL('../../src/cli/files.js', import.meta.url).href;
    const script = `const { tryWrite } = await import(${JSON.stringify(files)});
      const unwritten = []; for (const f of process.argv.slice(1)) tryWrite(f, 'x', unwritten, true); console.log(JSON.stringify(unwritten));`;
    const unwritten = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script, fifo, '/dev/null'], { timeout: 10_000, encoding: 'utf8' })) as string[];
    assert.deepEqual(unwritten, [`${fifo} (ENXIO: it is a FIFO nothing reads or a socket, not a regular file)`, '/dev/null (it is a device, FIFO or socket, not a regular file)']);
    assert.ok(statSync(fifo).isFIFO());
    rmSync(fifo);
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

describe('the local state file is written beside links without following them', () => {
  it('links planted at the temporary names a state write could use (the old PID-named one included) are left alone, their targets unchanged', () => {
    const cwd = mkdtempSync(join(dir, 'state-'));
    mkdirSync(join(cwd, '.cachebench'));
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'keep');
    // A cloned folder may hold links at any name: the predictable one (this process's PID) is the one a crafted
    // repository can plant for a known `cachebench up`.
    const planted = join(cwd, '.cachebench', `local.json.${process.pid}.tmp`);
    symlinkSync(victim, planted);
    const deployment = { dir: '/tmp/cachebench-nothing', topologies: [], stop: async () => undefined, settled: async () => undefined } as unknown as LocalDeployment;
    writeState(cwd, deployment);
    assert.equal(readFileSync(victim, 'utf8'), 'keep');
    assert.ok(lstatSync(planted).isSymbolicLink());
    assert.equal(JSON.parse(readFileSync(join(cwd, '.cachebench', 'local.json'), 'utf8')).dir, '/tmp/cachebench-nothing');
    assert.ok(lstatSync(join(cwd, '.cachebench', 'local.json')).isFile());
    // Nothing else is left beside it: the temporary file was renamed into place.
    assert.deepEqual(readdirSync(join(cwd, '.cachebench')).sort(), ['local.json', `local.json.${process.pid}.tmp`]);
  });
});
