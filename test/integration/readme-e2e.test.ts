import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import { processesMentioning } from '../helpers/procs.js';
import { tempDir } from '../helpers/servers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const sandbox = tempDir('cachebench-readme-');
after(() => sandbox.remove());

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
  assert.ok(!existsSync(join(clone, 'node_modules')));
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
