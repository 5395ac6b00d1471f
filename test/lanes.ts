/**
 * Runs the integration tests in two lanes at once, each one file at a time.
 *
 * The timed lane holds every file that measures time, CPU or throughput (and every file not named below): it runs as
 * it always did. The quiet lane holds files whose tests check exit codes, messages, files, processes and counts, with
 * time limits of seconds, never of milliseconds: bad input, untrusted files, state files, WAIT, TLS, local topologies,
 * command mixes, the README's commands, report.html, memcached. The two lanes take about as long (520-550 s here; the
 * credentials file, quiet by nature, runs in the timed lane to even them). On two cores the quiet lane takes a share
 * of the CPU the timed lane would otherwise leave idle while it waits for servers, START_AT or DURATION. Test servers
 * choose random free ports (10000-19999, bus port +10000), so the lanes do not collide.
 *
 * Then the SOLO files run alone. Output: the timed lane streams; the quiet lane's report follows when it ends, then
 * the solo files stream. Exit code: non-zero when any failed.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const QUIET = new Set([
  'bounds', 'failures', 'fault-command', 'guards', 'local-procfs', 'local-state', 'tls', 'untrusted-files', 'untrusted-text', 'wait',
  // WORKLOAD mixes (throughput and latency runs): every reply judged by the model, the server's commandstats against the ops counted.
  'workloads', 'latency-workload',
  // Fault runs judged on exit codes, messages and processes, never on a window or a recovery (faults.test.ts runs alone);
  // partitions in network namespaces judged on counts (writes applied, acknowledged, lost) and what is left on the host.
  'fault-checks', 'partitions', 'cache-faults',
  // WORKLOAD and TRACE on memcached: every reply judged by the model, the servers' stats against the ops counted.
  'memcache-workloads',
  // Heavier, but judged on outputs, files and processes, never on a time finer than seconds: local topologies started
  // and stopped, the README's commands in a fresh copy, report.html in Chromium, memcached pools.
  'local', 'readme-e2e', 'report-html', 'memcache',
].map((name) => `${name}.test.js`));

/**
 * Files run alone, after both lanes: fault runs judge recovery against the throughput before the fault and scaling
 * runs time a slot migration, both of which a neighbour's load changes mid-run (a busier second half read as "never
 * recovered", a migration pushed past DURATION); Sentinel's kill-primary judges its window against the promotion.
 */
const SOLO = new Set(['faults', 'sentinel'].map((name) => `${name}.test.js`));

const dir = fileURLToPath(new URL('./integration/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort();
const unknown = [...QUIET, ...SOLO].filter((f) => !files.includes(f));
if (unknown.length > 0) {
  process.stderr.write(`test/lanes.ts names test files that do not exist: ${unknown.join(', ')}\n`);
  process.exit(2);
}

function lane(names: readonly string[], stream: boolean): Promise<{ code: number; output: string }> {
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...names.map((f) => join(dir, f))], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const take = (chunk: Buffer, to: NodeJS.WriteStream): void => {
    if (stream) to.write(chunk);
    else output += chunk.toString();
  };
  child.stdout.on('data', (c: Buffer) => take(c, process.stdout));
  child.stderr.on('data', (c: Buffer) => take(c, process.stderr));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? (signal !== null ? 1 : 0), output })));
}

const started = Date.now();
const [timed, quiet] = await Promise.all([
  lane(files.filter((f) => !QUIET.has(f) && !SOLO.has(f)), true),
  lane(files.filter((f) => QUIET.has(f)), false),
]);
process.stdout.write(`\n# quiet lane (${[...QUIET].join(', ')}), run beside the timed lane:\n${quiet.output}`);
const lanesDone = Date.now();
process.stdout.write(`\n# alone (${[...SOLO].join(', ')}):\n`);
const solo = await lane(files.filter((f) => SOLO.has(f)), true);
const s = (ms: number): string => (ms / 1000).toFixed(1);
process.stdout.write(`# integration: timed exit ${timed.code}, quiet exit ${quiet.code} (${s(lanesDone - started)} s side by side), alone exit ${solo.code} (${s(Date.now() - lanesDone)} s)\n`);
process.exit(timed.code !== 0 || quiet.code !== 0 || solo.code !== 0 ? 1 : 0);
