import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findFreePorts } from '../../src/local/ports.js';
import type { ResultsDocument } from '../../src/report/document.js';
import { runCli } from '../helpers/cli.js';
import { startDelayProxy } from '../helpers/delay-proxy.js';
import { commandCount, connect, scanKeys, standalone, tempDir } from '../helpers/servers.js';

let good: Awaited<ReturnType<typeof standalone>>;
const out = tempDir('cachebench-failures-');

before(async () => {
  good = await standalone();
});
after(async () => {
  await good?.stop();
  out.remove();
});

async function writesTo(port: number): Promise<number> {
  return (await commandCount(port, 'set')) + (await commandCount(port, 'get')) + (await commandCount(port, 'del'));
}

describe('bad input: exit 2, a message with key, value, source and fix, nothing written', () => {
  const badScenario = join(out.dir, 'bad.yaml');
  writeFileSync(badScenario, 'READ_RATIO: 100\nFOO: 1\n');
  const cases: { name: string; args: string[]; env?: Record<string, string>; expect: RegExp }[] = [
    { name: 'unknown scenario key', args: [badScenario], expect: /unknown key FOO in scenario file .*bad\.yaml.*Fix: / },
    { name: 'missing scenario file', args: [join(out.dir, 'missing.yaml')], expect: /missing\.yaml cannot be read \(ENOENT\)/ },
    { name: 'unknown <NAME>_* option', args: [], env: { GOOD_MODEL: 'x' }, expect: /unknown option GOOD_MODEL for target GOOD.*GOOD_MODE/ },
    { name: 'non-integer count', args: ['--write-count', 'ten'], expect: /WRITE_COUNT="ten" \(from flag --write-count\): not a whole number/ },
    { name: 'negative count', args: [], env: { READ_RATIO: '-5' }, expect: /READ_RATIO="-5" \(from process environment\): negative/ },
    { name: 'PAYLOAD_BYTES 0', args: ['--envVars', 'PAYLOAD_BYTES:0'], expect: /PAYLOAD_BYTES="0" \(from --envVars\)/ },
    { name: 'PAYLOAD_BYTES above 512 MiB', args: ['--payload-bytes', '600000000'], expect: /PAYLOAD_BYTES="600000000".*above the maximum/ },
    { name: 'host without port', args: ['--envVars', 'OTHER_SERVERS:localhost'], expect: /OTHER_SERVERS item "localhost".*no port.*localhost:6379/ },
    { name: 'port 0', args: ['--envVars', 'OTHER_SERVERS:127.0.0.1:0'], expect: /port 0 is out of range/ },
    { name: 'port above 65535', args: ['--envVars', 'OTHER_SERVERS:127.0.0.1:70000'], expect: /port 70000 is out of range/ },
    { name: 'empty server list', args: [], env: { OTHER_SERVERS: '' }, expect: /OTHER_SERVERS \(from process environment\) is empty/ },
    { name: 'duplicate target names', args: ['--targets', 'GOOD,GOOD'], expect: /--targets names GOOD twice/ },
    { name: '--envVars item without a colon', args: ['--envVars', 'READ_RATIO=100'], expect: /--envVars item "READ_RATIO=100" has no colon/ },
    { name: 'unknown flag', args: ['--read-ration', '3'], expect: /Unknown argument/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const before = await writesTo(good.server.port);
      const result = await runCli(['run', ...c.args], { env: { GOOD_SERVERS: good.address, ...c.env } });
      assert.equal(result.code, 2, `exit ${result.code}: ${result.stderr}`);
      assert.match(result.stderr, c.expect);
      assert.match(result.stderr, /Fix: /);
      assert.equal(result.stdout, '');
      assert.equal(await writesTo(good.server.port), before, 'the good target saw traffic');
    });
  }
  it('the same server listed twice', async () => {
    const result = await runCli(['run'], { env: { GOOD_SERVERS: `${good.address},127.0.0.1:${good.server.port}` } });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /listed twice/);
  });
});

describe('unreachable targets', () => {
  it('exit 3 within 10 s naming host:port, and nothing is written to the reachable target', async () => {
    const [port] = await findFreePorts(1);
    const before = await writesTo(good.server.port);
    const result = await runCli(['run'], { env: { GOOD_SERVERS: good.address, DEAD_SERVERS: `127.0.0.1:${port}` } });
    assert.equal(result.code, 3, result.stderr);
    assert.ok(result.ms < 10_000, `took ${result.ms} ms`);
    assert.match(result.stderr, new RegExp(`target DEAD: cannot use 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    assert.equal(await writesTo(good.server.port), before);
  });
  it('a black-holed address times out at CONNECT_TIMEOUT_MS, still exit 3 within 10 s', async () => {
    // 127.255.255.254 on a port nobody listens: refused quickly on Linux; the deadline bounds any case.
    const result = await runCli(['run', '--connect-timeout-ms', '500'], { env: { DEAD_SERVERS: '127.255.255.254:9' } });
    assert.equal(result.code, 3, result.stderr);
    assert.ok(result.ms < 10_000, `took ${result.ms} ms`);
    assert.match(result.stderr, /127\.255\.255\.254:9/);
  });
});

describe('a target that dies mid-run', () => {
  it('is reported as errored with its failed ops while the other target completes; exit 1, no hang', async () => {
    const doomed = await standalone();
    // DOOMED answers through a proxy that holds each reply 30 ms: an iteration (5 × 3 round trips)
    // takes ≥ 450 ms, so the run cannot finish before the kill lands (the race of a fast run).
    const slow = await startDelayProxy(doomed.server.port, 30);
    let killed = false;
    try {
      const result = await runCli(['run', '--out', out.dir, '--min-iterations', '8', '--max-iterations', '8', '--op-timeout-ms', '500'], {
        env: { GOOD_SERVERS: good.address, DOOMED_SERVERS: `127.0.0.1:${slow.port}`, READ_RATIO: '2', WRITE_COUNT: '5', PAYLOAD_BYTES: '100' },
        timeoutMs: 60_000,
        onStderr: (text) => {
          if (!killed && text.includes('round 1/')) {
            killed = true;
            void doomed.server.process.stop(0);
          }
        },
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /target DOOMED dropped after repeated failures/);
      const report = /Report: (.*)report\.md/.exec(result.stdout)?.[1] ?? '';
      const doc = JSON.parse(readFileSync(join(report, 'results.json'), 'utf8')) as ResultsDocument;
      const byName = Object.fromEntries(doc.results.map((e) => [e.target.name, e]));
      assert.equal(byName.GOOD?.state, 'completed');
      assert.equal(byName.GOOD?.stats.n !== undefined && byName.GOOD.stats.n + byName.GOOD.stats.outliers, 8);
      assert.equal(byName.DOOMED?.state, 'errored');
      assert.equal(byName.GOOD?.baseline, true, 'an errored target must never be the baseline');
      assert.equal(byName.DOOMED?.baseline, false);
      assert.ok((byName.DOOMED?.ops.set.errors ?? 0) + (byName.DOOMED?.ops.get.errors ?? 0) >= 3);
      assert.ok((byName.DOOMED?.iterations.failed ?? 0) >= 3);
      assert.ok(byName.DOOMED?.error);
      assert.match(result.stdout, /DOOMED \(errored\)/);
      assert.deepEqual(await scanKeys(good.server.port, 'cachebench:*'), []);
    } finally {
      await slow.close();
      await doomed.stop();
    }
  });
});

describe('credentials', () => {
  it('never appear in console output or results files', async () => {
    const redis = connect(good.server.port);
    await redis.call('ACL', 'SETUSER', 'bench', 'on', '>hunter2-secret', '~cachebench:*', '+@all');
    redis.disconnect();
    const result = await runCli(['run', '--out', out.dir, '--min-iterations', '2', '--max-iterations', '2'], {
      env: { AUTH_SERVERS: `redis://bench:hunter2-secret@127.0.0.1:${good.server.port}`, AUTH_MODE: 'standalone', READ_RATIO: '1', WRITE_COUNT: '2', PAYLOAD_BYTES: '10' },
    });
    assert.equal(result.code, 0, result.stderr);
    const dir = /Report: (.*)report\.md/.exec(result.stdout)?.[1] ?? '';
    // Every file of the run folder: report.md, report.html, each chart, CSV and JSON.
    assert.ok(readdirSync(dir).includes('report.html'));
    for (const text of [result.stdout, result.stderr, ...readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8'))]) {
      assert.ok(!text.includes('hunter2'), 'password leaked');
    }
    const doc = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;
    assert.deepEqual(doc.environment.targets[0]?.options.AUTH_MODE, { value: 'standalone', source: 'process environment' });
    assert.deepEqual(doc.environment.targets[0]?.options.AUTH_SERVERS, { value: `127.0.0.1:${good.server.port}`, source: 'process environment' });
    const wrong = await runCli(['run'], { env: { AUTH_SERVERS: `127.0.0.1:${good.server.port}`, AUTH_USERNAME: 'bench', AUTH_PASSWORD: 'wrong-pass' } });
    assert.equal(wrong.code, 3);
    assert.ok(!wrong.stderr.includes('wrong-pass'));
    assert.match(wrong.stderr, /WRONGPASS|invalid username-password/);
  });
});

describe('a port that is not a Redis server', () => {
  // Listeners on loopback that answer the first command with another protocol's bytes (they are not Redis mocks: no
  // Redis server answers this way). Every client set-up probes with the same code, so ioredis stands for all three.
  const REPLIES: readonly { readonly kind: string; readonly reply: string; readonly said: RegExp }[] = [
    { kind: 'an HTTP server', reply: 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n', said: /its reply begins with "H", which no RESP reply does \(it looks like HTTP\)/ },
    { kind: 'a web page', reply: '<html><body>hello</body></html>\r\n', said: /its reply begins with "<", which no RESP reply does \(it looks like HTML\)/ },
    { kind: 'an SSH server', reply: 'SSH-2.0-OpenSSH_9.2\r\n', said: /its reply begins with "S", which no RESP reply does \(it looks like SSH\)/ },
    { kind: 'a reply nested 100,000 deep', reply: '*1\r\n'.repeat(100_000), said: /its reply is nested deeper than any Redis reply/ },
    { kind: 'a null reply to every command', reply: '$-1\r\n', said: /it answered a command with an empty \(null\) reply where Redis sends text/ },
  ];
  for (const { kind, reply, said } of REPLIES) {
    it(`${kind}: exit 3 saying what answered and how to fix it, in words (no parser internals)`, async () => {
      const server = createServer((socket) => {
        socket.on('error', () => undefined);
        socket.on('data', () => socket.write(reply));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address() as AddressInfo;
        const result = await runCli(['run', '--max-iterations', '2', '--min-iterations', '2'], { env: { X_SERVERS: `127.0.0.1:${port}` } });
        assert.equal(result.code, 3, result.stderr);
        assert.match(result.stderr, new RegExp(`target X: cannot use 127\\.0\\.0\\.1:${port}: the server does not answer as a Redis server: ${said.source}\\. ` +
          'Fix: check the port in X_SERVERS: it must be a Redis or Valkey server, a cluster node or a twemproxy \\(for memcached set X_PROTOCOL=memcache\\)'));
        assert.doesNotMatch(result.stderr, /Please report this|Maximum call stack|Cannot read properties|\n\s+at /);
      } finally {
        server.close();
      }
    });
  }
});
