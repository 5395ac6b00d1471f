import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ResultsDocument } from '../../src/report/document.js';
import { runCli } from '../helpers/cli.js';
import { startDelayProxy } from '../helpers/delay-proxy.js';
import { connect, standalone, tempDir } from '../helpers/servers.js';

let server: Awaited<ReturnType<typeof standalone>>;
let proxy: Awaited<ReturnType<typeof startDelayProxy>>;
const out = tempDir('cachebench-gate-');

// 10 writes × (1 SET + 5 GETs) = 60 round trips per iteration; the proxy adds 1 ms to each: ≥ 5× slower.
const WORKLOAD = { READ_RATIO: '5', WRITE_COUNT: '10', PAYLOAD_BYTES: '200', MIN_ITERATIONS: '20', MAX_ITERATIONS: '20', WARMUP_ITERATIONS: '1' };

before(async () => {
  server = await standalone();
  proxy = await startDelayProxy(server.server.port, 1);
});
after(async () => {
  await proxy?.close();
  await server?.stop();
  out.remove();
});

function resultsPath(stdout: string): string {
  const dir = /Report: (.*)report\.md/.exec(stdout)?.[1];
  assert.ok(dir, stdout);
  return join(dir, 'results.json');
}

describe('in-run gate: run --baseline X --fail-if-slower', () => {
  it('A/A: the same server under two target names is not Slower (exit 0), and the table goes to GITHUB_STEP_SUMMARY', async () => {
    const summary = join(out.dir, 'summary.md');
    writeFileSync(summary, '# earlier step\n');
    const result = await runCli(['run', '--out', out.dir, '--quiet', '--baseline', 'A', '--fail-if-slower', '5%', '--alpha', '0.001'], {
      env: { ...WORKLOAD, A_SERVERS: server.address, B_SERVERS: server.address, GITHUB_STEP_SUMMARY: summary },
    });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const row = result.stdout.split('\n').find((l) => l.startsWith('| default |'));
    assert.ok(row, result.stdout);
    assert.doesNotMatch(row, /Slower/);
    assert.match(row, /\| B \|/);
    // What the run could have detected: a Detects cell per row and one sentence on the threshold's reach.
    assert.match(row, /\| ≥ \d+(\.\d+)?% \|/);
    assert.match(result.stdout, /The 5% threshold was (within reach of every row|out of reach of 1 of 1 row)/);
    const written = readFileSync(summary, 'utf8');
    assert.ok(written.startsWith('# earlier step\n'));
    // The step summary: the run's compact table, then the gate's verdict, then where the report and charts are.
    const doc = JSON.parse(readFileSync(resultsPath(result.stdout), 'utf8')) as ResultsDocument;
    assert.match(written, new RegExp(`## cachebench ${doc.runId}`));
    assert.match(written, /\| Target +\| +Mean \|.*\| Checks +\|/);
    assert.match(written, /\| B +\|.*\| ok +\|/);
    assert.match(written, /### Regression gate/);
    assert.match(written, /cachebench gate: each target vs A in the same rounds/);
    assert.ok(written.includes(row));
    assert.ok(written.indexOf('| Target') < written.indexOf('### Regression gate'));
    assert.match(written, /report\.html.*self-contained/);
    assert.match(written, /chart-default-.*-iterations\.svg/);
    assert.equal(written.split('cachebench gate:').length, 2, 'the gate table is in the summary once');
  });

  it('a target behind a proxy that delays every reply by 1 ms is Slower, exit 1', async () => {
    const result = await runCli(['run', '--out', out.dir, '--quiet', '--baseline', 'DIRECT', '--fail-if-slower', '5%'], {
      env: { ...WORKLOAD, DIRECT_SERVERS: server.address, DELAYED_SERVERS: `127.0.0.1:${proxy.port}` },
    });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const row = result.stdout.split('\n').find((l) => l.startsWith('| default |') && l.includes('| DELAYED |'));
    const report = readFileSync(join(resultsPath(result.stdout), '..', 'report.md'), 'utf8');
    assert.ok(row && report.includes(`## Regression gate`) && report.includes(row), 'the gate table is not in report.md');
    assert.match(row ?? '', /\*\*Slower\*\*/);
    const ratio = Number(/\| (\d+\.\d+) \[/.exec(row ?? '')?.[1]);
    assert.ok(ratio > 1.2, `ratio ${ratio}`);
  });

  it('needs --baseline, and rejects a bad threshold before any traffic', async () => {
    const noBaseline = await runCli(['run', '--fail-if-slower', '5%'], { env: { A_SERVERS: server.address } });
    assert.equal(noBaseline.code, 2);
    assert.match(noBaseline.stderr, /--fail-if-slower needs --baseline NAME/);
    const bad = await runCli(['run', '--baseline', 'A', '--fail-if-slower', 'five'], { env: { A_SERVERS: server.address } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--fail-if-slower "five" is not a threshold.*Fix: /);
    // A bare 5 used to be read as 500%, so the gate passed every regression below 6x.
    const bare = await runCli(['run', '--baseline', 'A', '--fail-if-slower', '5'], { env: { A_SERVERS: server.address, B_SERVERS: server.address } });
    assert.equal(bare.code, 2, bare.stdout + bare.stderr);
    assert.match(bare.stderr, /--fail-if-slower "5" is not a threshold: a bare number is ambiguous \(5% or 500%\?\).*Fix: .*--fail-if-slower 5%/);
    assert.doesNotMatch(bare.stdout, /Report: /);
    const lone = await runCli(['run', '--fail-if-inconclusive'], { env: { A_SERVERS: server.address } });
    assert.equal(lone.code, 2, lone.stdout + lone.stderr);
    assert.match(lone.stderr, /--fail-if-inconclusive sharpens the in-run gate, and no gate was asked for\. Fix: add --baseline NAME --fail-if-slower 5%/);
  });
});

describe('compare <baseline.json> <current.json>', () => {
  let baselineFile = '';
  before(async () => {
    const result = await runCli(['run', '--out', out.dir, '--quiet'], { env: { ...WORKLOAD, CACHE_SERVERS: server.address } });
    assert.equal(result.code, 0, result.stderr);
    baselineFile = resultsPath(result.stdout);
  });

  it('flags the same target made slower by a delaying proxy as Slower, exit 1, and exports gab and bmf', async () => {
    const current = await runCli(['run', '--out', out.dir, '--quiet'], { env: { ...WORKLOAD, CACHE_SERVERS: `127.0.0.1:${proxy.port}` } });
    assert.equal(current.code, 0, current.stderr);
    const currentFile = resultsPath(current.stdout);
    const gab = join(out.dir, 'gab.json');
    const result = await runCli(['compare', baselineFile, currentFile, '--threshold', '5%', '--export', `gab=${gab}`, '--export', 'bmf']);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /\| default \| READ_RATIO=5 WRITE_COUNT=10 PAYLOAD_BYTES=200 \| CACHE \| .* \| \*\*Slower\*\* \| — \|/);
    const exported = JSON.parse(readFileSync(gab, 'utf8')) as { name: string; unit: string; value: number }[];
    const doc = JSON.parse(readFileSync(currentFile, 'utf8')) as ResultsDocument;
    assert.deepEqual(exported.map((e) => [e.name, e.unit, e.value]), [['default READ_RATIO=5 WRITE_COUNT=10 PAYLOAD_BYTES=200 CACHE', 'ms', doc.results[0]?.stats.meanMs]]);
    const bmf = JSON.parse(readFileSync(join(currentFile, '..', 'benchmark-bmf.json'), 'utf8')) as Record<string, { latency: { value: number } }>;
    assert.equal(bmf['default READ_RATIO=5 WRITE_COUNT=10 PAYLOAD_BYTES=200 CACHE']?.latency.value, Math.round((doc.results[0]?.stats.meanMs ?? 0) * 1e6));
  });

  it('matches a run without a scenario file (default) with seed-read-heavy.yaml of equal parameters', async () => {
    // The scenario file sets READ_RATIO 100 / WRITE_COUNT 10 / PAYLOAD_BYTES 20000; the environment overrides them to WORKLOAD's.
    const current = await runCli(['run', 'scenarios/seed-read-heavy.yaml', '--out', out.dir, '--quiet'], { env: { ...WORKLOAD, CACHE_SERVERS: server.address } });
    assert.equal(current.code, 0, current.stderr);
    const result = await runCli(['compare', baselineFile, resultsPath(current.stdout), '--threshold', '0.05']);
    assert.notEqual(result.code, 2, result.stderr);
    assert.match(result.stdout, /\| seed-read-heavy \(baseline: default\) \| READ_RATIO=5 WRITE_COUNT=10 PAYLOAD_BYTES=200 \| CACHE \| /);
    assert.match(result.stdout, /family-wise α = 0\.01, Holm over 1 row/);
    assert.doesNotMatch(result.stdout, /only in (baseline|current)/);
  });

  it('--fail-if-inconclusive turns "could not tell" into exit 1: a run against itself with a 0.1% threshold', async () => {
    // Identical samples: ratio 1, but no interval of these iterations fits inside ±0.1%, so the row is ~.
    const plain = await runCli(['compare', baselineFile, baselineFile, '--threshold', '0.1%']);
    assert.equal(plain.code, 0, plain.stdout + plain.stderr);
    assert.match(plain.stdout, /\| ~ \|/);
    assert.match(plain.stdout, /The 0\.1% threshold was out of reach of 1 of 1 row/);
    const strict = await runCli(['compare', baselineFile, baselineFile, '--threshold', '0.1%', '--fail-if-inconclusive']);
    assert.equal(strict.code, 1, strict.stdout + strict.stderr);
    assert.match(strict.stdout, /~: inconclusive \(fails the gate: --fail-if-inconclusive\)/);
  });

  it('exits 1 for verification failures in the current run, whatever the timing', async () => {
    const admin = connect(server.server.port);
    await admin.config('SET', 'notify-keyspace-events', 'E$');
    const subscriber = connect(server.server.port);
    const attacker = connect(server.server.port);
    subscriber.on('message', (_channel: string, key: string) => {
      if (key.startsWith('cachebench:')) void attacker.eval("if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('SETRANGE', KEYS[1], 0, 'XX') end", 1, key);
    });
    await subscriber.subscribe('__keyevent@0__:set');
    let currentFile = '';
    try {
      const current = await runCli(['run', '--out', out.dir, '--quiet'], { env: { ...WORKLOAD, CACHE_SERVERS: server.address } });
      assert.equal(current.code, 1, current.stderr);
      currentFile = resultsPath(current.stdout);
    } finally {
      await admin.config('SET', 'notify-keyspace-events', '');
      for (const c of [admin, subscriber, attacker]) c.disconnect();
    }
    const result = await runCli(['compare', baselineFile, currentFile]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /CACHE: \d+ mismatched reads/);
  });

  it('rejects files that are not cachebench results, schema mismatches and runs with nothing in common (exit 2)', async () => {
    const notResults = join(out.dir, 'other.json');
    writeFileSync(notResults, JSON.stringify({ hello: 'world' }));
    const wrongSchema = join(out.dir, 'v9.json');
    writeFileSync(wrongSchema, JSON.stringify({ schemaVersion: 9, results: [] }));
    const doc = JSON.parse(readFileSync(baselineFile, 'utf8')) as ResultsDocument;
    const otherTarget = join(out.dir, 'renamed.json');
    writeFileSync(otherTarget, JSON.stringify({ ...doc, results: doc.results.map((e) => ({ ...e, target: { ...e.target, name: 'ELSEWHERE' } })) }));
    const cases: [string[], RegExp][] = [
      [[notResults, baselineFile], /other\.json is not a cachebench results file/],
      [[baselineFile, wrongSchema], /v9\.json has schemaVersion 9, this cachebench reads 1/],
      [[baselineFile, otherTarget], /no entry of .*renamed\.json matches one of .*by parameters and target/],
      [[baselineFile, join(out.dir, 'missing.json')], /missing\.json cannot be read \(ENOENT\)/],
      [[baselineFile, baselineFile, '--threshold=-3%'], /--threshold "-3%" is not a threshold/],
      [[baselineFile, baselineFile, '--threshold', '5'], /--threshold "5" is not a threshold: a bare number is ambiguous/],
      [[baselineFile, baselineFile, '--export', `gab=${join(notResults, 'x.json')}`], /--export gab=.*cannot write .*ENOTDIR: a part of the path is a file/],
    ];
    for (const [args, expected] of cases) {
      const result = await runCli(['compare', ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, expected);
      assert.match(result.stderr, /Fix: /);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'a stack trace');
    }
  });
});
