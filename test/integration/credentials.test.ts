import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { ResultsDocument } from '../../src/report/document.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { connect, standalone, tempDir } from '../helpers/servers.js';

/**
 * Redaction never edits structure: a real run against a server whose password equals a JSON literal, a number, a
 * field name or the client's name still writes a results.json that parses, has every field, and can be reported;
 * the password itself is in no file and on no console line (except inside legitimate text, which stays intact).
 */

let server: Awaited<ReturnType<typeof standalone>>;
let admin: Redis;
const out = tempDir('cachebench-credentials-');

before(async () => {
  server = await standalone();
  // Connected before any requirepass: this connection stays logged in whatever the password becomes.
  admin = connect(server.server.port);
  await admin.ping();
});
after(async () => {
  admin?.disconnect();
  await server?.stop();
  out.remove();
});

interface Run {
  readonly cli: CliResult;
  readonly dir: string;
  readonly doc: ResultsDocument;
  /** Every file the run wrote (run folder, exports, step summary), by name. */
  readonly files: ReadonlyMap<string, string>;
}

/** Run folders already looked at. */
const seen = new Set<string>();

async function runWith(password: string, passwordFile?: string): Promise<Run> {
  await admin.call('CONFIG', 'SET', 'requirepass', password);
  const summary = join(out.dir, `summary-${randomBytes(4).toString('hex')}.md`);
  const cli = await runCli(['run', '--out', out.dir, '--min-iterations', '2', '--max-iterations', '2', '--warmup-iterations', '1', '--export', 'gab', '--export', 'bmf'], {
    env: {
      PW_SERVERS: `127.0.0.1:${server.server.port}`, PW_MODE: 'standalone', ...(passwordFile === undefined ? { PW_PASSWORD: password } : { PW_PASSWORD_FILE: passwordFile }),
      READ_RATIO: '1', WRITE_COUNT: '2', PAYLOAD_BYTES: '10', ITERATION_TIME_MS: '10', DESCRIPTION: `login with ${password} then`, GITHUB_STEP_SUMMARY: summary,
    },
  });
  assert.equal(cli.code, 0, `password ${JSON.stringify(password)}: ${cli.stderr}`);
  // The folder is found on disk: the console masks the password, and the run id may hold it (`2000`) by chance.
  const folders = readdirSync(out.dir).filter((f) => !seen.has(f) && statSync(join(out.dir, f)).isDirectory());
  assert.equal(folders.length, 1, `run folders: ${folders.join(', ')}`);
  for (const f of folders) seen.add(f);
  const dir = join(out.dir, folders[0] ?? '');
  const files = new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
  files.set('step summary', readFileSync(summary, 'utf8'));
  const doc = JSON.parse(files.get('results.json') ?? '') as ResultsDocument;
  return { cli, dir, doc, files };
}

/** Every key path of a JSON value, array indices left out (`results[].stats.meanMs`). */
function keyPaths(value: unknown, path = '', into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keyPaths(v, `${path}[]`, into);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      into.add(`${path}.${k}`);
      keyPaths(v, `${path}.${k}`, into);
    }
  }
  return into;
}

/** Every string of a JSON value by its exact path. */
function strings(value: unknown, path = '', into = new Map<string, string>()): Map<string, string> {
  if (typeof value === 'string') into.set(path, value);
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, `${path}[${i}]`, into));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) strings(v, `${path}.${k}`, into);
  return into;
}

describe('a password that is also JSON, a number, a field name or a client name', () => {
  let reference: Run;
  const secret = `pw-${randomBytes(12).toString('hex')}`;

  it('a long random password is in no file and on no console line at all', async () => {
    reference = await runWith(secret);
    for (const [name, text] of [['stdout', reference.cli.stdout], ['stderr', reference.cli.stderr], ...reference.files] as const) {
      assert.ok(!text.includes(secret), `the password is in ${name}`);
    }
    assert.equal(reference.doc.scenarios[0]?.description, 'login with *** then');
    assert.equal(reference.doc.results[0]?.scenario.description, 'login with *** then');
    // No field carries a credential: the password option says only where it came from.
    assert.deepEqual(reference.doc.environment.targets[0]?.options.PW_PASSWORD, { value: '(hidden)', source: 'process environment' });
    assert.deepEqual(reference.doc.environment.targets[0]?.servers, [`127.0.0.1:${server.server.port}`]);
  });

  it('<NAME>_PASSWORD_FILE: the password is read from the file (neither ps nor the environment shows it), and shows nowhere', async () => {
    const file = join(out.dir, 'password.txt');
    const password = `file-${randomBytes(12).toString('hex')}`;
    writeFileSync(file, `${password}\n`, { mode: 0o600 });
    const run = await runWith(password, file);
    for (const [name, text] of [['stdout', run.cli.stdout], ['stderr', run.cli.stderr], ...run.files] as const) {
      assert.ok(!text.includes(password), `the password is in ${name}`);
    }
    assert.deepEqual(run.doc.environment.targets[0]?.options.PW_PASSWORD_FILE, { value: file, source: 'process environment' });
    assert.equal(run.doc.environment.targets[0]?.options.PW_PASSWORD, undefined);
  });

  it('a password file whose line has spaces around the password: exit 3 naming the file option and that spaces are sent', async () => {
    const password = `file-${randomBytes(12).toString('hex')}`;
    await admin.call('CONFIG', 'SET', 'requirepass', password);
    const file = join(out.dir, 'spaced-password.txt');
    writeFileSync(file, ` ${password} \n`, { mode: 0o600 });
    const cli = await runCli(['run', '--out', out.dir, '--max-iterations', '2'], { env: { PW_SERVERS: `127.0.0.1:${server.server.port}`, PW_MODE: 'standalone', PW_PASSWORD_FILE: file } });
    assert.equal(cli.code, 3, cli.stderr);
    assert.match(cli.stderr, /Fix: check the password in the file PW_PASSWORD_FILE names \(and PW_USERNAME\): the server rejected it; its first line is sent as it is, spaces included/);
    assert.ok(!cli.stderr.includes(password));
  });

  // A JSON literal, a number, a field name, a substring of the client name (ioredis), a JSON delimiter.
  for (const password of ['true', '2000', 'stats', 'redis', '"']) {
    it(`password ${JSON.stringify(password)}: results.json parses with every field, report works, the password shows nowhere`, async () => {
      const run = await runWith(password);
      assert.deepEqual([...keyPaths(run.doc)].sort(), [...keyPaths(reference.doc)].sort());
      for (const name of ['benchmark-gab.json', 'benchmark-bmf.json']) JSON.parse(run.files.get(name) ?? '');
      assert.equal(run.doc.schemaVersion, 1);
      assert.equal(typeof run.doc.results[0]?.stats.meanMs, 'number');
      // Legitimate text that holds the password is kept as it is (the client is ioredis).
      assert.equal(run.doc.environment.targets[0]?.client, 'ioredis');
      assert.equal(run.doc.results[0]?.target.client, 'ioredis');
      assert.match(run.files.get('report.md') ?? '', /\| ioredis \d/);
      const report = await runCli(['report', join(run.dir, 'results.json')]);
      assert.equal(report.code, 0, report.stderr);
      if (password.length < 4) return; // masked only structurally: `"` is in every JSON file
      // Where the password was quoted, it is masked; any other string holding it is legitimate (the reference run has
      // the same string at the same place), or an identifier that may hold it by chance (random run id, times).
      assert.equal(run.doc.scenarios[0]?.description, 'login with *** then');
      const theirs = strings(reference.doc);
      for (const [path, text] of strings(run.doc)) {
        if (!text.includes(password) || ['.runId', '.startedAt', '.finishedAt'].includes(path)) continue;
        assert.equal(text, theirs.get(path), `the password is in results.json at ${path}`);
      }
      for (const [name, text] of [['stdout', run.cli.stdout], ['stderr', run.cli.stderr], ...run.files] as const) {
        assert.ok(!text.includes(`with ${password} then`), `the password is in ${name}`);
      }
      for (const text of [run.cli.stdout, run.cli.stderr]) assert.ok(!text.includes(password), 'the password is on the console');
    });
  }
});
