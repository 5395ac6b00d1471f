import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, type CliResult } from '../helpers/cli.js';
import { MALFORMED, encodeHistogram, fixtureDoc, fixturePath, setField } from '../helpers/entries.js';
import { tempDir } from '../helpers/servers.js';
import { writeState } from '../../src/local/state.js';
import type { LocalDeployment } from '../../src/local/topologies.js';

/**
 * Results, scenario and CA files are input: a hostile one is refused with exit 2 naming file and field, before any work
 * it could make unbounded; outputs never go through a symbolic link, and a full disk leaves no file cut short.
 */

const LIMIT = { timeoutMs: 60_000 };
const STACK = /^\s+at /m;
const assertRefused = (r: CliResult, message: RegExp): void => {
  assert.equal(r.code, 2, `exit ${r.code} (signal ${r.signal}): ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, STACK, 'a stack trace');
};

let tmp: ReturnType<typeof tempDir>;
before(() => {
  tmp = tempDir('cachebench-untrusted-');
});
after(() => tmp.remove());

const write = (name: string, doc: unknown): string => {
  const file = join(tmp.dir, name);
  writeFileSync(file, JSON.stringify(doc));
  return file;
};

describe('report --out never leaves DIR', () => {
  it('runId "../victim" is exit 2, the other run\'s results.json is unchanged and nothing is created outside DIR', async () => {
    const root = join(tmp.dir, 'traversal');
    mkdirSync(join(root, 'victim'), { recursive: true });
    writeFileSync(join(root, 'victim', 'results.json'), 'the other run');
    const file = join(root, 'input.json');
    writeFileSync(file, JSON.stringify(setField(fixtureDoc('latency'), 'runId', '../victim')));
    const r = await runCli(['report', file, '--out', join(root, 'out')], LIMIT);
    assertRefused(r, /input\.json: runId: expected a run id .* found "\.\.\/victim"/);
    assert.equal(readFileSync(join(root, 'victim', 'results.json'), 'utf8'), 'the other run');
    assert.deepEqual(readdirSync(root).sort(), ['input.json', 'victim']);
    assert.deepEqual(readdirSync(join(root, 'victim')), ['results.json']);
  });

  it('two files with one runId (or, without --out, in one folder) are exit 2 naming both, and nothing is written', async () => {
    const root = join(tmp.dir, 'same-run-id');
    mkdirSync(root);
    const a = join(root, 'a.json');
    const b = join(root, 'b.json');
    writeFileSync(a, JSON.stringify(setField(fixtureDoc('latency'), 'runId', 'same')));
    writeFileSync(b, JSON.stringify(setField(fixtureDoc('throughput'), 'runId', 'same')));
    assertRefused(await runCli(['report', a, b, '--out', join(root, 'out')], LIMIT), /a\.json and .*b\.json both have runId same, so both reports would go to .*out\/same/);
    assertRefused(await runCli(['report', a, b], LIMIT), /a\.json and .*b\.json are in one folder/);
    // The same folder through a link to it is the same folder.
    symlinkSync(root, join(tmp.dir, 'same-run-id-link'));
    assertRefused(await runCli(['report', a, join(tmp.dir, 'same-run-id-link', 'b.json')], LIMIT), /a\.json and .*same-run-id-link\/b\.json are in one folder/);
    assert.deepEqual(readdirSync(root).sort(), ['a.json', 'b.json']);
  });
});

describe('an error message quoting a file keeps its terminal controls inert', () => {
  it('a scenario key holding an escape sequence is named with U+FFFD in its place, and no ESC reaches stderr', async () => {
    const file = join(tmp.dir, 'escape.yaml');
    writeFileSync(file, '"\u001b[31mEVIL\u001b]0;title\u0007": 1\n');
    const r = await runCli(['run', file], { ...LIMIT, env: { REDIS_SERVERS: '127.0.0.1:1' } });
    assertRefused(r, /unknown key \uFFFD\[31mEVIL\uFFFD\]0;title\uFFFD in scenario file/);
    assert.ok(!/[\u001b\u0007]/.test(r.stderr), JSON.stringify(r.stderr));
  });
});

describe('a FIFO or a device as an input file is exit 2 at once', () => {
  let fifo: string;
  before(() => {
    fifo = join(tmp.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
  });
  for (const name of ['fifo', '/dev/zero']) {
    const path = (): string => (name === 'fifo' ? fifo : name);
    const kind = name === 'fifo' ? /FIFO/ : /character device/;
    it(`${name} as a results file: report, merge, compare`, async () => {
      assertRefused(await runCli(['report', path()], LIMIT), kind);
      assertRefused(await runCli(['merge', path(), '--out', join(tmp.dir, 'merged')], LIMIT), kind);
      assertRefused(await runCli(['compare', fixturePath('latency'), path()], LIMIT), kind);
    });
    it(`${name} as a scenario file and as a TLS CA file`, async () => {
      assertRefused(await runCli(['run', path(), '--no-local'], { ...LIMIT, env: { REDIS_SERVERS: '127.0.0.1:1' } }), new RegExp(`scenario file ${path()} cannot be read \\(it is a`));
      assertRefused(await runCli(['run', '--no-local'], { ...LIMIT, env: { REDIS_SERVERS: '127.0.0.1:1', REDIS_TLS: 'true', REDIS_TLS_CA: path() } }), /REDIS_TLS_CA=.*the CA file cannot be read \(it is a/);
    });
  }
});

describe('malformed results files are exit 2 naming the field, never a stack trace', () => {
  // Every case is checked in test/unit/results-schema.test.ts; a dozen of each kind also through the CLI.
  for (const c of MALFORMED.filter((x) => x.cli === true)) {
    it(`${c.kind}: ${c.path}`, async () => {
      const file = write(`malformed-${c.kind}.json`, setField(fixtureDoc(c.kind), c.path, c.value));
      const field = c.field ?? new RegExp(c.path.replace(/[[\].]/g, (x) => `\\${x}`));
      assertRefused(await runCli(['report', file, '--out', join(tmp.dir, 'malformed-out')], LIMIT), field);
    });
  }

  it('a histogram whose header claims 5 digits up to 2^53, and one inflating to 16 MB, are exit 2', async () => {
    const huge = write('bomb-header.json', setField(fixtureDoc('latency'), 'results[0].ops.get.histogram', encodeHistogram({ digits: 5, lowest: 1, highest: 2 ** 53 })));
    assertRefused(await runCli(['report', huge], LIMIT), /results\[0\]\.ops\.get\.histogram: the histogram claims 5 significant digits/);
    const zip = write('bomb-zip.json', setField(fixtureDoc('throughput'), 'results[0].load.record.series[0].latency', encodeHistogram({ digits: 3, lowest: 1, highest: 2 ** 36 }, Buffer.alloc(16 << 20))));
    assertRefused(await runCli(['merge', zip, '--out', join(tmp.dir, 'bomb-merged')], LIMIT), /series\[0\]\.latency: the histogram inflates to more than/);
  });

  it('a fault timeline of 2 million buckets is exit 2', async () => {
    const doc = fixtureDoc('fault');
    const timeline = { bucketMs: 100, ok: new Array(2_000_000).fill(1), failed: new Array(2_000_000).fill(0), p50Us: new Array(2_000_000).fill(50),
      p99Us: new Array(2_000_000).fill(90) };
    const file = write('timeline.json', setField(doc, 'results[0].fault.timeline', timeline));
    assertRefused(await runCli(['report', file], LIMIT), /results\[0\]\.fault\.timeline\.ok: expected a list of at most 300000 items/);
  });
});

describe('outputs are never written through a symbolic link', () => {
  it('report.md and results.json links pointing outside: the outside files are unchanged, real files are written', async () => {
    const root = join(tmp.dir, 'links');
    const run = join(root, 'run');
    mkdirSync(run, { recursive: true });
    copyFileSync(fixturePath('latency'), join(run, 'results.json'));
    const outside = join(root, 'outside.txt');
    writeFileSync(outside, 'precious');
    symlinkSync(outside, join(run, 'report.md'));
    const r = await runCli(['report', join(run, 'results.json')], LIMIT);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(outside, 'utf8'), 'precious');
    assert.ok(lstatSync(join(run, 'report.md')).isFile(), 'report.md is still a link');
    assert.match(readFileSync(join(run, 'report.md'), 'utf8'), /REDIS/);

    // --out DIR: DIR/<runId>/results.json is a link to a file outside.
    const runId = String(fixtureDoc('latency').runId);
    const out = join(root, 'out', runId);
    mkdirSync(out, { recursive: true });
    symlinkSync(outside, join(out, 'results.json'));
    const again = await runCli(['report', join(run, 'results.json'), '--out', join(root, 'out')], LIMIT);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(outside, 'utf8'), 'precious');
    assert.ok(lstatSync(join(out, 'results.json')).isFile());
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')), fixtureDoc('latency'));
    assert.deepEqual(readdirSync(out).filter((f) => f.endsWith('.tmp')), [], 'a temporary file was left');
  });

  it('report --out DIR where DIR/<runId> is a link to a folder elsewhere: exit 2, nothing written there', async () => {
    const root = join(tmp.dir, 'runid-link');
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    mkdirSync(join(root, 'out'));
    symlinkSync(elsewhere, join(root, 'out', String(fixtureDoc('latency').runId)));
    const r = await runCli(['report', fixturePath('latency'), '--out', join(root, 'out')], LIMIT);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /symbolic link/);
    assert.match(r.stderr, /Fix: /);
    assert.deepEqual(readdirSync(elsewhere), [], 'written through the link');
  });

  it('a GITHUB_STEP_SUMMARY that is a link is not appended to: exit 1 saying so', async () => {
    const root = join(tmp.dir, 'summary');
    mkdirSync(root);
    const outside = join(root, 'outside.txt');
    writeFileSync(outside, 'precious');
    const link = join(root, 'summary.md');
    symlinkSync(outside, link);
    const r = await runCli(['report', fixturePath('latency'), '--out', join(root, 'out')], { ...LIMIT, env: { GITHUB_STEP_SUMMARY: link } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /summary\.md \(ELOOP: it is a symbolic link, and cachebench never writes through one\)/);
    assert.equal(readFileSync(outside, 'utf8'), 'precious');
  });
});

describe('a full disk leaves every file complete or absent', () => {
  /** A tmpfs of `size` at a fresh folder; undefined (with the reason) where this machine does not allow mounting. */
  function mountTmpfs(size: string): { dir: string; reason?: string } {
    const dir = join(tmp.dir, `tmpfs-${size}`);
    mkdirSync(dir);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
      return { dir };
    } catch (error: unknown) {
      return { dir, reason: `cannot mount a tmpfs here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()}); needs root` };
    }
  }

  it('a state file that does not fit is not written at all: ENOSPC, no local.json cut short, no temporary file left', (t) => {
    const mount = mountTmpfs('16k');
    if (mount.reason !== undefined) {
      t.skip(mount.reason);
      return;
    }
    try {
      // About 40 KB of state into 16 KB: the write comes up short and must not leave a partial state behind.
      const deployment = { dir: '/tmp/cachebench-none', topologies: [{ name: 'REDIS_SINGLE', settings: { REDIS_SINGLE_SERVERS: 'x'.repeat(40_000) }, processes: [] }] } as unknown as LocalDeployment;
      assert.throws(() => writeState(mount.dir, deployment), { code: 'ENOSPC' });
      assert.deepEqual(readdirSync(join(mount.dir, '.cachebench')), []);
    } finally {
      execFileSync('umount', [mount.dir]);
    }
  });

  for (const size of ['48k', '12k']) {
    it(`report --out a ${size} tmpfs: results.json complete or absent, no file empty or cut short, exit 1 naming both kinds`, async (t) => {
      const reference = join(tmp.dir, `reference-${size}`);
      const ok = await runCli(['report', fixturePath('latency'), '--out', reference], LIMIT);
      assert.equal(ok.code, 0, ok.stderr);
      const runId = String(fixtureDoc('latency').runId);
      const mount = mountTmpfs(size);
      if (mount.reason !== undefined) {
        t.skip(mount.reason);
        return;
      }
      try {
        const r = await runCli(['report', fixturePath('latency'), '--out', mount.dir], LIMIT);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /could not write .*\(ENOSPC: the disk is full\).*never cut short\); complete: /);
        const dir = join(mount.dir, runId);
        const files = readdirSync(dir);
        assert.deepEqual(files.filter((f) => f.startsWith('.')), [], 'a temporary file was left');
        const expected = readdirSync(join(reference, runId));
        assert.ok(files.length < expected.length, `everything fit in ${size}: the test proves nothing`);
        for (const f of files) {
          assert.equal(readFileSync(join(dir, f), 'utf8'), readFileSync(join(reference, runId, f), 'utf8'), `${f} is not complete`);
          assert.ok(r.stderr.includes(`complete: `) && new RegExp(`complete: .*${f.replace(/\./g, '\\.')}`).test(r.stderr), `${f} is not named complete`);
        }
        for (const f of expected.filter((x) => !files.includes(x))) assert.match(r.stderr, new RegExp(`could not write .*${f.replace(/\./g, '\\.')} \\(ENOSPC`));
        if (files.includes('results.json')) JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
        if (size === '48k') assert.ok(files.includes('results.json'), `results.json is written first: ${files.join(', ')}`);
      } finally {
        execFileSync('umount', [mount.dir]);
      }
      assert.ok(!existsSync(join(mount.dir, runId)), 'the tmpfs was not unmounted');
    });
  }
});
