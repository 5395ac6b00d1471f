import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI_PATH as CLI, runCli } from '../helpers/cli.js';
import { processesMentioning } from '../helpers/procs.js';
import { commandCount, connect, scanKeys, standalone, tempDir } from '../helpers/servers.js';

/** No silent green runs, outputs checked first, budgets that hold: the CLI's guards, end to end. */
let good: Awaited<ReturnType<typeof standalone>>;
const root = tempDir('cachebench-guards-');

before(async () => {
  good = await standalone();
});
after(async () => {
  await good?.stop();
  root.remove();
});

async function connectionsTo(port: number): Promise<number> {
  const redis = connect(port);
  try {
    return Number(/total_connections_received:(\d+)/.exec(await redis.info('stats'))?.[1]);
  } finally {
    redis.disconnect();
  }
}

async function trafficTo(port: number): Promise<number> {
  return (await commandCount(port, 'set')) + (await commandCount(port, 'get')) + (await commandCount(port, 'del'));
}

function sandbox(name: string): { tmp: string; out: string } {
  const tmp = join(root.dir, name, 'tmp');
  const out = join(root.dir, name, 'results');
  mkdirSync(tmp, { recursive: true });
  return { tmp, out };
}

const TINY = { READ_RATIO: '2', WRITE_COUNT: '2', PAYLOAD_BYTES: '100', WARMUP_ITERATIONS: '0' };

describe('no silent green runs', () => {
  it('CI=true with a misspelt REDIS_SERVER: exit 2 naming the misspelling, no local servers started', async () => {
    const { tmp, out } = sandbox('ci-typo');
    const result = await runCli(['run', '--out', out], { env: { TMPDIR: tmp, CI: 'true', REDIS_SERVER: good.address } });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /no targets configured and CI=true is set/);
    assert.match(result.stderr, /REDIS_SERVER .*did you mean REDIS_SERVERS\?/);
    assert.doesNotMatch(result.stderr, /starting local topologies/);
    assert.deepEqual(processesMentioning(tmp), []);
    assert.equal(existsSync(out), false, 'a results folder was made for a run that never ran');
  });
  it('--no-local with nothing configured: exit 2', async () => {
    const { tmp, out } = sandbox('no-local');
    const result = await runCli(['run', '--no-local', '--out', out], { env: { TMPDIR: tmp } });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /no targets configured and --no-local is set.*Fix: set <NAME>_SERVERS/);
    assert.deepEqual(processesMentioning(tmp), []);
  });
  it('a misspelt scenario key in the environment is named in a warning; --max-iterations alone is a smoke run', async () => {
    const { out } = sandbox('smoke');
    const result = await runCli(['run', '--out', out, '--max-iterations', '3', '--quiet'], { env: { ...TINY, GOOD_SERVERS: good.address, READ_RATO: '5' } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /warning: READ_RATO in the environment is not a cachebench key and is ignored: did you mean READ_RATIO\?/);
    assert.match(result.stderr, /warning: MIN_ITERATIONS lowered from 15 \(built-in default\) to 3/);
    assert.match(result.stdout, /3 rounds × \d+ invocations?, stopped: max-iterations/);
  });
  it('under CI=true a look-alike of a scenario key is an error before any traffic; npm\'s own NODE, npm_* and INIT_CWD are never flagged', async () => {
    const { out } = sandbox('ci-typo');
    const before = await trafficTo(good.server.port);
    const typo = await runCli(['run', '--out', out, '--quiet'], { env: { ...TINY, CI: 'true', GOOD_SERVERS: good.address, READ_RATO: '5' } });
    assert.equal(typo.code, 2, typo.stdout + typo.stderr);
    assert.match(typo.stderr, /error: READ_RATO in the environment is not a cachebench key and is ignored: did you mean READ_RATIO\?\. Under CI=true .*Fix: correct the name/);
    assert.equal(await trafficTo(good.server.port), before);
    // What `npm run` adds to the environment: NODE is one edit from MODE, and used to be warned about in every npm run.
    const npmEnv = { NODE: process.execPath, INIT_CWD: out, COLOR: '0', EDITOR: 'vi', npm_config_user_agent: 'npm/10', npm_lifecycle_event: 'bench' };
    const quiet = await runCli(['run', '--out', out, '--max-iterations', '3', '--quiet'], { env: { ...TINY, ...npmEnv, CI: 'true', GOOD_SERVERS: good.address } });
    assert.equal(quiet.code, 0, quiet.stdout + quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /NODE|INIT_CWD|COLOR|EDITOR|npm_/);
  });
});

describe('outputs are checked before any traffic', () => {
  it('--out below a regular file: exit 2, clear message, nothing sent to the target', async () => {
    const file = join(root.dir, 'a-file');
    writeFileSync(file, 'not a folder\n');
    const before = await trafficTo(good.server.port);
    const result = await runCli(['run', '--out', join(file, 'results')], { env: { ...TINY, GOOD_SERVERS: good.address } });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--out .*a-file\/results: cannot create the results folder .*ENOTDIR: a part of the path is a file.*Fix: give --out a folder you can write to/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'a stack trace');
    assert.equal(await trafficTo(good.server.port), before);
  });
  it('--out below /proc (where a recursive mkdir spins forever): exit 2 at once', async () => {
    const result = await runCli(['run', '--out', '/proc/cachebench-test/results'], { env: { ...TINY, GOOD_SERVERS: good.address }, timeoutMs: 20_000 });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--out \/proc\/cachebench-test\/results: cannot create the results folder/);
  });
  it('an export file that is a folder: exit 2 before any traffic', async () => {
    const { out } = sandbox('export-dir');
    const folder = join(root.dir, 'export-folder');
    mkdirSync(folder, { recursive: true });
    const before = await trafficTo(good.server.port);
    const result = await runCli(['run', '--out', out, '--export', `gab=${folder}`], { env: { ...TINY, GOOD_SERVERS: good.address } });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--export gab=.*EISDIR/);
    assert.equal(await trafficTo(good.server.port), before);
    assert.deepEqual(readdirSync(out), [], 'the results folder made during validation was left behind');
  });
  it('an export under /proc or /sys, or onto a device, is exit 2 before any traffic (the write is tried up front, not asked of access(2))', async () => {
    const { out } = sandbox('export-kernel');
    const before = await trafficTo(good.server.port);
    for (const [file, reason] of [
      ['/proc/cachebench-export.json', /kernel file system/],
      ['/sys/kernel/cachebench-export.json', /kernel file system/],
      ['/proc/sys/kernel/hostname', /kernel file system/],
      ['/dev/full', /a device, FIFO or socket, not a regular file/],
    ] as const) {
      const result = await runCli(['run', '--out', out, '--export', `gab=${file}`], { env: { ...TINY, GOOD_SERVERS: good.address } });
      assert.equal(result.code, 2, `${file}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`--export gab=${file}: cannot write ${file} \\(.*${reason.source}`));
    }
    assert.ok(statSync('/dev/full').isCharacterDevice());
    assert.equal(await trafficTo(good.server.port), before);
  });
  it('an unreachable target leaves no empty results folder behind', async () => {
    const { out } = sandbox('unreachable');
    const result = await runCli(['run', '--out', out], { env: { ...TINY, DEAD_SERVERS: '127.0.0.1:1' } });
    assert.equal(result.code, 3, result.stderr);
    assert.deepEqual(readdirSync(out), []);
  });
  it('when the results folder disappears mid-run, the table is still printed, exit 1, no hang', async () => {
    const { out } = sandbox('vanished');
    let removed = false;
    const result = await runCli(['run', '--out', out, '--min-iterations', '40', '--max-iterations', '40'], {
      env: { READ_RATIO: '20', WRITE_COUNT: '5', PAYLOAD_BYTES: '1000', GOOD_SERVERS: good.address },
      timeoutMs: 60_000,
      onStderr: (text) => {
        if (!removed && text.includes('round 1/')) {
          removed = true;
          rmSync(out, { recursive: true, force: true });
        }
      },
    });
    assert.ok(removed);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /\| GOOD +\|/);
    assert.match(result.stderr, /could not write .*report\.md \(ENOENT\).*the table above is the run's result/);
    assert.deepEqual(await scanKeys(good.server.port, 'cachebench:*'), []);
  });
});

describe('credentials never echoed', () => {
  const cases: { name: string; args: string[]; env?: Record<string, string> }[] = [
    { name: '--envVars KEY=VALUE (no colon)', args: ['--envVars', 'X_PASSWORD=hunter2-cli'] },
    { name: '--envVars bad target name with URL credentials', args: ['--envVars', 'bad_SERVERS:redis://u:hunter2-cli@127.0.0.1:1'] },
    { name: 'URL password with / in the environment', args: [], env: { A_SERVERS: 'redis://u:hun/ter2-cli@127.0.0.1:1' } },
    { name: 'URL password with @ and : on the command line', args: ['--envVars', 'A_SERVERS:redis://u:hunter2-cli@x:y@127.0.0.1:70000'] },
    { name: 'password of an unknown option via flag-like env', args: [], env: { A_SERVERS: '127.0.0.1:1', A_PASSWORD: 'hunter2-cli', A_TLS: 'maybe' } },
    { name: '--envVars with a space after PASSWORD:', args: ['--envVars', 'A_SERVERS:127.0.0.1:1', 'A_PASSWORD:', 'hunter2-cli'] },
    { name: 'a comma inside a URL password', args: ['--envVars', 'A_SERVERS:redis://u:hun,ter2-cli@127.0.0.1:1'] },
  ];
  for (const c of cases) {
    it(`exit 2 without the password: ${c.name}`, async () => {
      const { out } = sandbox(`cred-${c.name.replace(/\W+/g, '-')}`);
      const result = await runCli(['run', '--out', out, ...c.args], { env: { ...c.env } });
      assert.equal(result.code, 2, result.stderr);
      assert.ok(!`${result.stdout}${result.stderr}`.includes('hunter2-cli'), result.stderr);
      assert.ok(!`${result.stdout}${result.stderr}`.includes('ter2-cli'), result.stderr);
    });
  }
});

describe('exit 2 means nothing was sent', () => {
  it('a standalone target listing two servers is refused before any other target is touched', async () => {
    const { out } = sandbox('two-standalone');
    const before = await trafficTo(good.server.port);
    const connectionsBefore = await connectionsTo(good.server.port);
    const result = await runCli(['run', '--out', out, '--envVars', `GOOD_SERVERS:${good.address}`, 'PAIR_SERVERS:127.0.0.1:1,127.0.0.1:2', 'PAIR_MODE:standalone'], { env: TINY });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /PAIR_MODE="standalone" \(from --envVars\): PAIR_SERVERS lists 2 servers, but a standalone target is one server.*Fix: /);
    assert.equal(await trafficTo(good.server.port), before);
    // Only our own INFO connections were opened meanwhile (one per trafficTo/connectionsTo call).
    assert.equal(await connectionsTo(good.server.port), connectionsBefore + 4);
  });
  it('an unwritable GITHUB_STEP_SUMMARY (a folder) fails a gated run before any traffic', async () => {
    const { out } = sandbox('summary-dir');
    const before = await trafficTo(good.server.port);
    const result = await runCli(['run', '--out', out, '--baseline', 'GOOD', '--fail-if-slower', '5%'], {
      env: { ...TINY, GOOD_SERVERS: good.address, OTHER_SERVERS: good.address, GITHUB_STEP_SUMMARY: root.dir },
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /GITHUB_STEP_SUMMARY .*cannot write .*EISDIR/);
    assert.equal(await trafficTo(good.server.port), before);
  });
  it('the gate-design error names the warning that lowered MIN_ITERATIONS', async () => {
    const result = await runCli(['run', '--baseline', 'GOOD', '--fail-if-slower', '5%', '--max-iterations', '3', '--min-iterations', '7'], {
      env: { ...TINY, GOOD_SERVERS: good.address, OTHER_SERVERS: good.address },
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /note: MIN_ITERATIONS lowered from 7 \(flag --min-iterations\) to 3/);
  });
  it('a working directory that no longer exists is a clear exit 2, not a stack trace', async () => {
    const gone = join(root.dir, 'gone');
    const result = await runCli(['-c', `mkdir -p ${gone} && cd ${gone} && rmdir ${gone} && exec "$0" "$1" run --out results`, process.execPath, CLI], {
      env: { GOOD_SERVERS: good.address }, command: 'bash',
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /the working directory no longer exists.*Fix: cd to an existing folder/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });
});

describe('MAX_TIME holds inside an iteration', () => {
  it('a 1 s budget ends a run whose single iteration would take far longer', async () => {
    const { out } = sandbox('budget');
    // 2000 keys × (1 SET + 20 GETs) = 42,000 round trips: several seconds for one iteration.
    const result = await runCli(['run', '--out', out, '--max-time', '1', '--quiet'], {
      env: { READ_RATIO: '20', WRITE_COUNT: '2000', PAYLOAD_BYTES: '100', WARMUP_ITERATIONS: '1', GOOD_SERVERS: good.address },
      timeoutMs: 60_000,
    });
    // Nothing was measured (the warm-up iteration was cut): a run that measured nothing never passes.
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /stopped: max-time/);
    assert.match(result.stderr, /GOOD: no iteration measured \(stopped: max-time\)/);
    assert.ok(result.ms < 10_000, `the run took ${result.ms} ms with a 1 s budget`);
    assert.deepEqual(await scanKeys(good.server.port, 'cachebench:*'), []);
  });
});
