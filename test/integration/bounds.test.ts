import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI_PATH, runCli, type CliResult } from '../helpers/cli.js';
import { processesMentioning, waitUntilNoneMention } from '../helpers/procs.js';
import { commandCount, connect, connectionsReceived, scanKeys, standalone, tempDir } from '../helpers/servers.js';

/**
 * Bounds before traffic: settings that used to crash V8 after minutes are refused at once (exit 2) before any server
 * sees a connection, and a KEYSPACE clean-up streams its deletions with progress and stops on a second Ctrl-C.
 */
let server: Awaited<ReturnType<typeof standalone>>;
const root = tempDir('cachebench-bounds-');
/** A fixed heap limit, so that the refusals do not depend on the machine's memory. */
const NODE_OPTIONS = '--max-old-space-size=4096';

before(async () => {
  server = await standalone();
});
after(async () => {
  await server?.stop();
  root.remove();
});

function sandbox(name: string): string {
  const dir = join(root.dir, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

const list = (n: number): string => `[${Array.from({ length: n }, (_, i) => i + 1).join(', ')}]`;

/** Asserts exit 2 with every fragment, no stack trace, and not a connection to the server. */
async function refusedBeforeTraffic(name: string, args: readonly string[], ...fragments: string[]): Promise<CliResult> {
  const cwd = sandbox(name);
  const connections = await connectionsReceived(server.server.port);
  const result = await runCli(['run', '--out', cwd, ...args], { cwd, env: { REDIS_SERVERS: server.address, CI: 'true', NODE_OPTIONS }, timeoutMs: 30_000 });
  assert.equal(result.code, 2, `${name}: ${result.stderr}`);
  for (const f of fragments) assert.ok(result.stderr.includes(f), `${name}: stderr lacks ${JSON.stringify(f)}: ${result.stderr}`);
  assert.match(result.stderr, /Fix: /);
  assert.doesNotMatch(result.stderr, /RangeError|heap out of memory|\n\s+at /, `${name}: ${result.stderr}`);
  // The one connection counted is this check's own: nothing else connected since the last one.
  assert.equal(await connectionsReceived(server.server.port), connections + 1, `${name}: the run connected to the server`);
  assert.equal(await commandCount(server.server.port, 'set'), 0, `${name}: a SET reached the server`);
  return result;
}

describe('the settings that ran out of memory are refused before any traffic', () => {
  it('WRITE_COUNT=10000000 PAYLOAD_BYTES=100: exit 2 naming the estimate and WRITE_COUNT with its source', async () => {
    await refusedBeforeTraffic('write-count', ['--envVars', 'WRITE_COUNT:10000000', 'PAYLOAD_BYTES:100'],
      'of JS heap in the cachebench process', 'WRITE_COUNT=10000000 (from --envVars)', 'lower WRITE_COUNT to');
  });

  it('three 1,000-value sweep lists: exit 2 naming each list and its length', async () => {
    const file = join(sandbox('sweep-file'), 'three.yaml');
    writeFileSync(file, `PAYLOAD_BYTES: ${list(1000)}\nWRITE_COUNT: ${list(1000)}\nREAD_RATIO: ${list(1000)}\n`);
    await refusedBeforeTraffic('sweep', [file], 'makes 1000000000 combinations', 'PAYLOAD_BYTES (1000 values', 'WRITE_COUNT (1000 values', 'READ_RATIO (1000 values');
  });

  it('a 200,000-value list: exit 2 naming the key and its length, no RangeError', async () => {
    const file = join(sandbox('long-file'), 'long.yaml');
    // Short values: the file stays under the scenario file limit (1 MiB), so the list check is what refuses it.
    writeFileSync(file, `PAYLOAD_BYTES: [${Array.from({ length: 200_000 }, () => '1').join(',')}]\n`);
    await refusedBeforeTraffic('long', [file], 'PAYLOAD_BYTES (from scenario file', 'is a list of 200000 values');
  });

  it('a throughput run of 100,000 clients with 10 MB values: exit 2 naming CLIENTS and PAYLOAD_BYTES', async () => {
    await refusedBeforeTraffic('clients', ['--mode', 'throughput', '--clients', '100000', '--payload-bytes', '10000000'],
      'of memory on this machine', 'CLIENTS=100000 (from flag --clients)', 'PAYLOAD_BYTES=10000000 (from flag --payload-bytes)');
  });

  it('with no server configured, the refusal comes before any local server starts', async () => {
    const cwd = sandbox('local');
    const result = await runCli(['run', '--out', cwd, '--envVars', 'WRITE_COUNT:10000000', 'PAYLOAD_BYTES:100'], { cwd, env: { NODE_OPTIONS }, timeoutMs: 30_000 });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /WRITE_COUNT=10000000 \(from --envVars\)/);
    assert.doesNotMatch(result.stderr, /starting local topologies/);
    assert.deepEqual(processesMentioning(cwd), []);
  });
});

describe('KEYSPACE clean-up', () => {
  it('a load run over 50,000 keys deletes every one by name, in batches, with progress on stderr', async () => {
    const cwd = sandbox('cleanup');
    const result = await runCli(['run', '--out', cwd, '--mode', 'throughput', '--workers', '2', '--clients', '4', '--connections', '2', '--duration', '3',
      '--warmup-seconds', '0', '--keyspace', '50000', '--payload-bytes', '16', '--key-ttl', '600'], { cwd, env: { REDIS_SERVERS: server.address, CI: 'true' }, timeoutMs: 180_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /REDIS: deleted 0 of 25000 keys \(1 of 2 workers reporting\)/);
    assert.match(result.stderr, /REDIS: deleted 50000 of 50000 keys\n/);
    // Before this test's own SCAN: the run never listed or flushed keys.
    for (const command of ['keys', 'scan', 'flushdb', 'flushall']) assert.equal(await commandCount(server.server.port, command), 0, command);
    assert.ok(await commandCount(server.server.port, 'del') >= 50_000);
    assert.deepEqual(await scanKeys(server.server.port, 'cachebench:*'), []);
  });

  it('a preload says how far it got, and a Ctrl-C during it deletes what was written, telling how far (nothing is left)', async () => {
    const cwd = sandbox('ctrl-c-preload');
    let signalled = false;
    const result = await runCli([process.execPath, CLI_PATH, 'run', '--out', cwd, '--mode', 'throughput', '--workers', '2', '--clients', '4', '--connections', '2',
      '--duration', '3', '--warmup-seconds', '0', '--keyspace', '2000000', '--payload-bytes', '16', '--key-ttl', '600'], {
      command: 'setsid', cwd, env: { REDIS_SERVERS: server.address, CI: 'true' }, timeoutMs: 180_000,
      onStderr: (text, child) => {
        if (signalled || !/preloaded [\d,]+ of 2,000,000 KEYSPACE keys/.test(text) || child.pid === undefined) return;
        signalled = true;
        process.kill(-child.pid, 'SIGINT');
      },
    });
    assert.ok(signalled, result.stderr);
    assert.equal(result.code, 130, result.stderr);
    const finals = [...result.stderr.matchAll(/REDIS: deleted (\d+) of (\d+) keys\n/g)];
    assert.ok(finals.length > 0, result.stderr);
    const [, deleted, of] = finals.at(-1) ?? [];
    assert.equal(deleted, of, result.stderr);
    assert.ok(Number(of) > 0 && Number(of) < 2_000_000, result.stderr);
    assert.deepEqual(await scanKeys(server.server.port, 'cachebench:*'), []);
  });

  it('a second Ctrl-C during the clean-up stops it at once and says how many keys are left to expire by KEY_TTL', async () => {
    const cwd = sandbox('second-ctrl-c');
    let signalled = 0;
    // setsid: the run gets a process group of its own, and Ctrl-C (SIGINT to the group) reaches it and its workers.
    const result = await runCli([process.execPath, CLI_PATH, 'run', '--out', cwd, '--mode', 'throughput', '--workers', '2', '--clients', '4', '--connections', '2',
      '--duration', '3', '--warmup-seconds', '0', '--keyspace', '200000', '--payload-bytes', '16', '--key-ttl', '600'], {
      command: 'setsid', cwd, env: { REDIS_SERVERS: server.address, CI: 'true' }, timeoutMs: 240_000,
      onStderr: (text, child) => {
        // The first Ctrl-C once the clean-up has started, the second once cachebench said it is stopping.
        const next = signalled === 0 ? /deleted 0 of \d+ keys/.test(text) : signalled === 1 && text.includes('SIGINT: stopping');
        if (!next || child.pid === undefined) return;
        signalled++;
        process.kill(-child.pid, 'SIGINT');
      },
    });
    assert.equal(signalled, 2, result.stderr);
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /second SIGINT: exiting without cleanup/);
    const left = [...result.stderr.matchAll(/load worker \d\/2 \(REDIS\): second Ctrl-C: stopped deleting; (\d+) of its 100000 keys are left and expire by KEY_TTL \(600 s\)/g)];
    assert.equal(left.length, 2, result.stderr);
    assert.deepEqual(await waitUntilNoneMention(cwd, 15_000), [], 'a load worker outlived cachebench');
    // What they said is what is there (the test's own server: SCAN is fine here), then it goes.
    const keys = await scanKeys(server.server.port, 'cachebench:*');
    assert.equal(keys.length, left.reduce((n, m) => n + Number(m[1]), 0));
    assert.ok(keys.length > 0);
    const redis = connect(server.server.port);
    try {
      for (let i = 0; i < keys.length; i += 1000) await redis.del(keys.slice(i, i + 1000));
    } finally {
      redis.disconnect();
    }
  });
});
