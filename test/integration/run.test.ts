import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mean } from 'simple-statistics';
import { findFreePorts } from '../../src/local/ports.js';
import { CSV_COLUMNS } from '../../src/report/csv.js';
import type { ResultsDocument } from '../../src/report/document.js';
import { runCli } from '../helpers/cli.js';
import { fieldsOf, fixtureDoc } from '../helpers/entries.js';
import { attackHarnessKeys, cluster, connect, scanKeys, standalone, tempDir } from '../helpers/servers.js';

type Standalone = Awaited<ReturnType<typeof standalone>>;
type Cluster = Awaited<ReturnType<typeof cluster>>;

let single: Standalone;
let multi: Cluster;
const out = tempDir('cachebench-results-');

before(async () => {
  [single, multi] = await Promise.all([standalone(), cluster()]);
});
after(async () => {
  await Promise.all([single?.stop(), multi?.stop()]);
  out.remove();
});

function readDoc(stdout: string): { doc: ResultsDocument; dir: string } {
  const m = /Report: (.*)report\.md/.exec(stdout);
  assert.ok(m?.[1], `no report path in stdout: ${stdout}`);
  const dir = m[1];
  return { doc: JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument, dir };
}

async function harnessKeysEverywhere(): Promise<string[]> {
  const ports = [single.server.port, ...multi.cluster.nodes.map((n) => n.port)];
  return (await Promise.all(ports.map((p) => scanKeys(p, 'cachebench:*')))).flat();
}

describe('the seed experiment through the CLI', () => {
  it('runs the seed command line verbatim after `run --` against a 3+3 cluster and a standalone server', async () => {
    const foreign = connect(single.server.port);
    await foreign.set('app:session:1', 'keep me');
    foreign.disconnect();
    const result = await runCli([
      'run', '--out', out.dir, '--min-iterations', '3', '--max-iterations', '4', '--warmup-iterations', '1', '--',
      '--envVars', `REDIS_SERVERS:${multi.addresses}`, 'READ_RATIO:100', 'WRITE_COUNT:10', 'PAYLOAD_BYTES:20000', `SOSS_SERVERS:${single.address}`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const { doc, dir } = readDoc(result.stdout);

    assert.equal(doc.schemaVersion, 1);
    // Field for field what a real latency run wrote when the fixture was made (test/fixtures/results-latency.json).
    assert.deepEqual(fieldsOf(doc, 'latency'), fieldsOf(fixtureDoc('latency'), 'latency'));
    assert.match(doc.runId, /^\d{8}-\d{6}-[0-9a-f]{4}$/);
    assert.deepEqual(doc.environment.targets.map((t) => [t.name, t.mode, t.primaries, t.replicas]), [['REDIS', 'cluster', 3, 3], ['SOSS', 'standalone', 1, 0]]);
    assert.match(doc.environment.targets[0]?.serverVersion ?? '', /^\d+\.\d+\.\d+$/);
    assert.equal(doc.results.length, 2);
    for (const e of doc.results) {
      assert.deepEqual(e.scenario.params, { READ_RATIO: 100, WRITE_COUNT: 10, PAYLOAD_BYTES: 20000 });
      assert.equal(e.state, 'completed');
      assert.equal(e.iterations.rounds, 4);
      assert.equal(e.samplesMs.length, 4);
      assert.equal(e.stats.n + e.stats.outliers, 4);
      // Every op of the measured iterations is in the histograms, every GET (warm-up too) was verified.
      assert.equal(e.ops.set.count, 4 * 10);
      assert.equal(e.ops.get.count, 4 * 10 * 100);
      assert.equal(e.verification.reads, 5 * 10 * 100);
      assert.equal(e.verification.verified, e.verification.reads);
      assert.equal(e.verification.missing + e.verification.mismatched, 0);
      assert.equal(e.ops.set.errors + e.ops.get.errors, 0);
      assert.ok((e.ops.get.p50Us ?? 0) > 0 && (e.ops.get.p50Us ?? 0) <= (e.ops.get.p99Us ?? 0) && (e.ops.get.p99Us ?? 0) <= (e.ops.get.p999Us ?? 0));
      // Mean of the kept iteration samples, recomputed here.
      const sorted = [...e.samplesMs].sort((a, b) => a - b);
      assert.ok(Math.abs(mean(sorted.slice(0, e.stats.n)) - (e.stats.meanMs ?? NaN)) < 1e-9);
      // An iteration is 1010 round trips: more than 1010 × the fastest GET.
      assert.ok((e.stats.meanMs ?? 0) * 1000 > 1010 * 10);
    }
    const fastest = doc.results.reduce((a, b) => ((a.stats.meanMs ?? Infinity) <= (b.stats.meanMs ?? Infinity) ? a : b));
    assert.equal(fastest.stats.percent, 100);
    assert.ok(fastest.baseline);
    const other = doc.results.find((e) => e !== fastest);
    // Percent is the ratio of the paired rounds' means: Mean / Mean when neither target had an outlier,
    // and always inside its own interval.
    if (other?.stats.outliers === 0 && fastest.stats.outliers === 0) {
      assert.ok(Math.abs((other.stats.percent ?? 0) - (100 * (other.stats.meanMs ?? 0)) / (fastest.stats.meanMs ?? 1)) < 1e-9);
    }
    if (other?.stats.percentLower != null && other.stats.percentUpper != null) {
      assert.ok(other.stats.percentLower <= (other.stats.percent ?? NaN) && (other.stats.percent ?? NaN) <= other.stats.percentUpper);
    }
    assert.equal(doc.scenarios[0]?.settings.READ_RATIO?.source, '--envVars');
    assert.equal(doc.scenarios[0]?.settings.MIN_ITERATIONS?.source, 'flag --min-iterations');

    // The three files and the console show the same table.
    // The run folder: the report in markdown and HTML, the charts report.md names, CSV and JSON; nothing else.
    const charts = ['chart-default-100-10-20000-iterations.svg', 'chart-default-100-10-20000-percent.svg', 'chart-default-100-10-20000-latency.svg'];
    assert.deepEqual(readdirSync(dir).sort(), [...charts, 'report.html', 'report.md', 'results.csv', 'results.json'].sort());
    const markdown = readFileSync(join(dir, 'report.md'), 'utf8');
    for (const chart of charts) assert.ok(markdown.includes(`](${chart})`), `${chart} is not embedded in report.md`);
    const csv = readFileSync(join(dir, 'results.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], [...CSV_COLUMNS.map((c) => c.id), 'run_id'].join(','));
    assert.equal(csv.length, 3);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    for (const text of ['## Environment', '| REDIS  |', 'Mean', 'Error', 'StdDev', 'Percent', 'xychart-beta', 'READ_RATIO | 100 | --envVars']) {
      assert.ok(report.includes(text), `report.md lacks ${text}`);
    }
    assert.ok(result.stdout.includes('| Target |'));

    // Safety: the foreign key is untouched, no harness key is left anywhere.
    const check = connect(single.server.port);
    assert.equal(await check.get('app:session:1'), 'keep me');
    check.disconnect();
    assert.deepEqual(await harnessKeysEverywhere(), []);
  });

  it('catches values overwritten or deleted by a second writer mid-iteration, and exits 1', async () => {
    // Another client of the test's own server flips every 2nd harness key as it is written and deletes every 3rd.
    const attack = await attackHarnessKeys(single.server.port);
    try {
      const result = await runCli(['run', '--out', out.dir, '--min-iterations', '3', '--max-iterations', '3', '--warmup-iterations', '0'], {
        env: { VICTIM_SERVERS: single.address, READ_RATIO: '50', WRITE_COUNT: '12', PAYLOAD_BYTES: '1000' },
      });
      assert.equal(result.code, 1, result.stderr);
      const { doc } = readDoc(result.stdout);
      const v = doc.results[0]?.verification;
      assert.ok(v);
      assert.ok(v.mismatched > 0, `mismatched ${v.mismatched}`);
      assert.ok(v.missing > 0, `missing ${v.missing}`);
      assert.equal(v.verified + v.missing + v.mismatched, v.reads);
      assert.match(result.stdout, /VERIFICATION FAILED/);
      assert.match(result.stderr, /cachebench: failures: VICTIM: \d+ missing reads \(default\); VICTIM: \d+ mismatched reads/);
    } finally {
      await attack.stop();
    }
    assert.deepEqual(await harnessKeysEverywhere(), []);
  });

  it('on SIGINT stops, deletes every key it wrote (which carried a TTL) and exits 130', async () => {
    let signalled = false;
    let ttls: number[] = [];
    const result = await runCli(['run', '--out', out.dir, '--min-iterations', '1000', '--max-iterations', '1000', '--key-ttl', '120'], {
      env: { SLOW_SERVERS: multi.addresses, READ_RATIO: '200', WRITE_COUNT: '50', PAYLOAD_BYTES: '5000' },
      onStderr: (text, child) => {
        if (signalled || !text.includes('round 1/')) return;
        signalled = true;
        void (async () => {
          // Look at the keys in flight, then interrupt. TTL is asked of the node that SCAN found the
          // key on; a replica can answer MOVED for a key (e.g. before READONLY takes effect, or while
          // it is still syncing), so each node's failure is tolerated and the next poll tries again.
          // Nothing here may throw: an unhandled rejection would kill the test process.
          for (let i = 0; i < 40 && ttls.length === 0; i++) {
            for (const node of multi.cluster.nodes) {
              const redis = connect(node.port);
              try {
                const role = String(await redis.call('ROLE'));
                if (!role.startsWith('master')) continue;
                const keys = await scanKeys(node.port, 'cachebench:*');
                ttls.push(...(await Promise.all(keys.map((k) => redis.ttl(k)))));
              } catch (error: unknown) {
                void error; // MOVED or a closed connection: poll again
              } finally {
                redis.disconnect();
              }
            }
          }
          child.kill('SIGINT');
        })();
      },
    });
    assert.equal(result.code, 130, result.stderr);
    assert.ok(ttls.length > 0, 'saw no key in flight');
    ttls = ttls.filter((t) => t !== -2); // -2: deleted between SCAN and TTL
    assert.ok(ttls.every((t) => t > 0 && t <= 120), `TTLs ${ttls.join(',')}`);
    assert.match(result.stderr, /SIGINT/);
    const { doc } = readDoc(result.stdout);
    assert.equal(doc.aborted, true);
    assert.deepEqual(await harnessKeysEverywhere(), []);
  });

  it('reports a sweep as one table per parameter combination with --targets order and --baseline', async () => {
    const result = await runCli(['run', '--out', out.dir, '--targets', 'SINGLE,CLUSTER', '--baseline', 'CLUSTER', '--quiet',
      '--envVars', 'READ_RATIO:1,5', 'WRITE_COUNT:5', 'PAYLOAD_BYTES:100', 'MIN_ITERATIONS:3', 'MAX_ITERATIONS:3', 'WARMUP_ITERATIONS:0'], {
      env: { CLUSTER_SERVERS: multi.addresses, SINGLE_SERVERS: single.address, UNUSED_SERVERS: '127.0.0.1:1' },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const { doc } = readDoc(result.stdout);
    assert.deepEqual(doc.results.map((e) => [e.scenario.params.READ_RATIO, e.target.name]), [[1, 'SINGLE'], [1, 'CLUSTER'], [5, 'SINGLE'], [5, 'CLUSTER']]);
    for (const e of doc.results.filter((x) => x.target.name === 'CLUSTER')) assert.equal(e.stats.percent, 100);
    assert.equal(doc.baseline.rule, 'explicit');
    assert.equal((result.stdout.match(/\| Target +\|/g) ?? []).length, 2);
  });
});

describe('a cluster seed that is down', () => {
  it('is said in a warning and the cluster client starts from the other seeds (every read verified); with every seed down, exit 3', async () => {
    const [dead] = await findFreePorts(1);
    const args = ['run', '--out', out.dir, '--quiet', '--envVars', 'READ_RATIO:2', 'WRITE_COUNT:2', 'PAYLOAD_BYTES:50', 'MIN_ITERATIONS:2', 'MAX_ITERATIONS:2', 'WARMUP_ITERATIONS:0'];
    const result = await runCli(args, { env: { CLUSTER_SERVERS: `127.0.0.1:${dead},${multi.addresses}` } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`warning: target CLUSTER: 127\\.0\\.0\\.1:${dead}, listed in CLUSTER_SERVERS, did not answer \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${dead}\\); the cluster client starts from the other \\d+ seeds`));
    const { doc } = readDoc(result.stdout);
    assert.equal(doc.environment.targets[0]?.mode, 'cluster');
    const e = doc.results[0]!;
    assert.ok(e.verification.reads > 0 && e.verification.verified === e.verification.reads);
    const none = await runCli(args, { env: { CLUSTER_SERVERS: `127.0.0.1:${dead}` } });
    assert.equal(none.code, 3, none.stderr);
  });
});

describe('runs that measured too little', () => {
  it('a run that reaches MAX_TIME before MIN_ITERATIONS says so in the table, under it, on stderr and in results.json (exit 0)', async () => {
    // Iterations sized to about 200 ms by the pilot stage: some fit in MAX_TIME 2 s, never the 1,000 asked for, even
    // if a busy machine made the pilot size them 50 times too short (a MIN_ITERATIONS of 15 was reached that way).
    const result = await runCli(['run', '--out', out.dir, '--quiet', '--envVars', 'READ_RATIO:1', 'WRITE_COUNT:5', 'PAYLOAD_BYTES:50', 'MIN_ITERATIONS:1000',
      'MAX_ITERATIONS:1000', 'MAX_TIME:2', 'WARMUP_ITERATIONS:0', 'ITERATION_TIME_MS:200'], { env: { SINGLE_SERVERS: single.address } });
    assert.equal(result.code, 0, result.stderr);
    const { doc } = readDoc(result.stdout);
    const e = doc.results[0]!;
    assert.equal(e.iterations.stopReason, 'max-time');
    assert.equal(e.iterations.minIterations, 1000);
    const measured = e.stats.n + e.stats.outliers;
    assert.ok(measured > 0 && measured < 1000, `measured ${measured}`);
    assert.match(result.stdout, new RegExp(`\\| only ${measured} of 1000 iterations +\\|`));
    assert.match(result.stderr, new RegExp(`warning: SINGLE: measured ${measured} iterations where MIN_ITERATIONS asks for 1000 \\(the run reached MAX_TIME\\).*Fix: raise MAX_TIME`));
  });
});

describe('reproducible runs', () => {
  it('--seed repeats the target order of every round, and results.json records seed and orders', async () => {
    const args = ['run', '--out', out.dir, '--quiet', '--seed', '7', '--envVars', 'READ_RATIO:1', 'WRITE_COUNT:2', 'PAYLOAD_BYTES:50', 'MIN_ITERATIONS:12', 'MAX_ITERATIONS:12', 'WARMUP_ITERATIONS:0', 'ITERATION_TIME_MS:10'];
    const env = { A_SERVERS: single.address, B_SERVERS: single.address, C_SERVERS: single.address };
    const first = await runCli(args, { env });
    const second = await runCli(args, { env });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 0, second.stderr);
    const a = readDoc(first.stdout).doc;
    const b = readDoc(second.stdout).doc;
    assert.equal(a.seed, 7);
    assert.equal(a.cases.length, 1);
    assert.equal(a.cases[0]?.roundOrders.length, 12);
    assert.deepEqual(b.cases[0]?.roundOrders, a.cases[0]?.roundOrders);
    assert.ok(new Set(a.cases[0]?.roundOrders.map((o) => o.join())).size > 1, 'the order is shuffled, not fixed');
    assert.match(readFileSync(join(readDoc(first.stdout).dir, 'report.md'), 'utf8'), /Round order seed: 7/);
    const other = await runCli([...args.slice(0, 4), '--seed', '8', ...args.slice(6)], { env });
    assert.notDeepEqual(readDoc(other.stdout).doc.cases[0]?.roundOrders, a.cases[0]?.roundOrders);
    const bad = await runCli(['run', '--seed', '-1'], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--seed "-1" is not a whole number from 0 to 4294967295\. Fix: /);
  });
});

describe('writes nothing when the input is bad', () => {
  it('exits 2 before any traffic on a bad value even when a good target is configured', async () => {
    const redis = connect(single.server.port);
    await redis.config('RESETSTAT');
    const result = await runCli(['run', '--envVars', `GOOD_SERVERS:${single.address}`, 'WRITE_COUNT:-3']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /WRITE_COUNT="-3" \(from --envVars\).*Fix: /);
    const stats = await redis.info('commandstats');
    redis.disconnect();
    assert.doesNotMatch(stats, /cmdstat_(set|get|del)/);
    assert.ok(!existsSync(join(process.cwd(), 'results', 'x')));
  });
});
