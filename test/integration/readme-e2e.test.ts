import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import { processesMentioning } from '../helpers/procs.js';
import { standalone, tempDir } from '../helpers/servers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const sandbox = tempDir('cachebench-readme-');
after(() => sandbox.remove());

/** The bash blocks of the README's Quick start, exactly as written. */
function quickStart(): string[] {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start\n'), readme.indexOf('\n## ', readme.indexOf('## Quick start\n') + 1));
  return [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** Runs `script` with bash -e in `cwd`, with only the environment given (plus PATH and HOME). */
function bash(script: string, cwd: string, env: Readonly<Record<string, string>>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-e', '-c', script], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The README's first command, exactly as written. */
function firstCommand(): string {
  const block = /```bash\n([\s\S]*?)```/.exec(readFileSync(join(repo, 'README.md'), 'utf8'))?.[1] ?? '';
  const line = block.trim().split('\n')[0];
  assert.ok(line, 'README has no set-up command');
  return line;
}

it("the README's first command works in a fresh copy of the repository", { timeout: 600_000 }, async () => {
  // A copy of the working tree as git sees it (tracked and new files; no node_modules, no dist).
  const clone = join(sandbox.dir, 'clone');
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(repo, file))) continue; // deleted in the working tree
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    copyFileSync(join(repo, file), join(clone, file));
  }
  assert.ok(!existsSync(join(clone, 'dist')));
  // The npm packages as the repository has them installed, hard-linked, and package-lock.json with its own time: the
  // set-up finds them current and skips npm ci (CI's own run of the same set-up script installs them from scratch in a
  // clean clone), so this test spends its time on what only it checks: build, local topologies, the default run.
  execFileSync('cp', ['-al', join(repo, 'node_modules'), join(clone, 'node_modules')]);
  const lock = statSync(join(repo, 'package-lock.json'));
  utimesSync(join(clone, 'package-lock.json'), lock.atime, lock.mtime);
  const tmp = join(sandbox.dir, 'tmp');
  mkdirSync(tmp);
  const command = firstCommand();
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    // Env vars override the scenario files: two rounds keep this test short; everything else is as a user runs it.
    const child = spawn('bash', ['-c', command], {
      cwd: clone,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TMPDIR: tmp, MIN_ITERATIONS: '2', MAX_ITERATIONS: '2', WARMUP_ITERATIONS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  assert.equal(result.code, 0, result.stderr);
  for (const scenario of ['seed-read-heavy', 'seed-read-once']) {
    assert.match(result.stdout, new RegExp(`${scenario}: READ_RATIO=`));
  }
  for (const target of ['REDIS_CLUSTER', 'REDIS_CLUSTER_NEARCACHE', 'REDIS_CLUSTER_GLIDE', 'TWEMPROXY', 'REDIS_SINGLE']) assert.match(result.stdout, new RegExp(`\\| ${target} +\\|`));
  const report = /Report: (\S+report\.md)/.exec(result.stdout)?.[1];
  assert.ok(report && existsSync(join(clone, report)), `no report at ${report}`);
  assert.deepEqual(processesMentioning(tmp), []);
  assert.deepEqual(readdirSync(tmp), []);
});

// The Quick start's commands run in the clone the first command set up, as written; env vars (as a user's or a CI
// job's environment would) only shorten the runs and, for the gate, name the two servers.
it("the README's Quick start compares two local topologies brought up, measured and brought down as written", { timeout: 300_000 }, async () => {
  const [compare] = quickStart();
  assert.ok(compare?.includes(' up ') && compare.includes(' down'), compare);
  const tmp = join(sandbox.dir, 'tmp-quick');
  mkdirSync(tmp);
  const result = await bash(compare!, join(sandbox.dir, 'clone'), { TMPDIR: tmp, MIN_ITERATIONS: '2', MAX_ITERATIONS: '2', WARMUP_ITERATIONS: '1' });
  assert.equal(result.code, 0, result.stderr);
  for (const target of ['REDIS_CLUSTER', 'REDIS_SINGLE']) assert.match(result.stdout, new RegExp(`\\| ${target} +\\|`));
  const report = /Report: (\S+report\.md)/.exec(result.stdout)?.[1];
  assert.ok(report && existsSync(join(sandbox.dir, 'clone', report)), `no report at ${report}`);
  assert.match(result.stderr, /stopped \d+ processes of REDIS_CLUSTER/);
  assert.deepEqual(processesMentioning(tmp), []);
});

it("the README's Quick start gate runs as written in a CI job that sets REFERENCE_SERVERS and CANDIDATE_SERVERS", { timeout: 300_000 }, async () => {
  const [, gate] = quickStart();
  assert.ok(gate?.includes('--fail-if-inconclusive'), gate);
  const [reference, candidate] = await Promise.all([standalone(), standalone()]);
  try {
    const result = await bash(gate!, join(sandbox.dir, 'clone'), {
      CI: 'true', REFERENCE_SERVERS: reference.address, CANDIDATE_SERVERS: candidate.address, MIN_ITERATIONS: '9', MAX_ITERATIONS: '9', WARMUP_ITERATIONS: '1',
    });
    // Two like servers: Same, or ~ where the run could not tell (which fails, as --fail-if-inconclusive asks).
    assert.match(result.stdout, /\| CANDIDATE +\|/);
    assert.match(result.stdout, /Ratio = current \/ baseline/);
    const failing = /\| (\*\*Slower\*\*|\*\*Undecided\*\*|~) /.test(result.stdout);
    assert.equal(result.code, failing ? 1 : 0, `${result.stdout}\n${result.stderr}`);
  } finally {
    await Promise.all([reference.stop(), candidate.stop()]);
  }
});
