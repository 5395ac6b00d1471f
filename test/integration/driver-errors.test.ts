import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRedisServer } from '../../src/local/index.js';
import type { ResultsDocument } from '../../src/report/index.js';
import { ConnectionLostError, OpTimeoutError, TargetMismatchError, TargetUnreachableError } from '../../src/targets/index.js';
import { keySlot, translateOpError } from '../../src/targets/ioredis.js';
import { runCli } from '../helpers/cli.js';
import { commandCount, connect, standalone, tempDir } from '../helpers/servers.js';

const out = tempDir('cachebench-driver-errors-');
let good: Awaited<ReturnType<typeof standalone>>;
const SMALL = { READ_RATIO: '5', WRITE_COUNT: '4', PAYLOAD_BYTES: '64' };

before(async () => {
  good = await standalone();
});
after(async () => {
  await good?.stop();
  out.remove();
});

describe('wrong or missing password', () => {
  it('exit 3; the message says to set <NAME>_PASSWORD, has no doubled full stop and never the password', async () => {
    const locked = await standalone();
    try {
      const admin = connect(locked.server.port);
      await admin.call('CONFIG', 'SET', 'requirepass', 'right-secret-42');
      admin.disconnect();
      const wrong = await runCli(['run'], { env: { AUTH_SERVERS: locked.address, AUTH_PASSWORD: 'wrong-secret-42', ...SMALL } });
      assert.equal(wrong.code, 3, wrong.stderr);
      assert.match(wrong.stderr, /target AUTH: cannot use 127\.0\.0\.1:\d+: WRONGPASS .*\. Fix: set AUTH_PASSWORD \(and AUTH_USERNAME for an ACL user\), or put them in the URL: redis:\/\/<user>:<password>@host:port/);
      assert.doesNotMatch(wrong.stderr, /\.\./);
      assert.ok(!wrong.stderr.includes('wrong-secret-42') && !wrong.stdout.includes('wrong-secret-42'), 'password leaked');
      const inUrl = await runCli(['run'], { env: { AUTH_SERVERS: `redis://:wrong-secret-42@${locked.address}`, ...SMALL } });
      assert.equal(inUrl.code, 3, inUrl.stderr);
      assert.ok(!inUrl.stderr.includes('wrong-secret-42'), 'password leaked');
      const missing = await runCli(['run'], { env: { AUTH_SERVERS: locked.address, ...SMALL } });
      assert.equal(missing.code, 3, missing.stderr);
      assert.match(missing.stderr, /NOAUTH Authentication required\. Fix: set AUTH_PASSWORD/);
      assert.doesNotMatch(missing.stderr, /required\.\./);
    } finally {
      await locked.stop();
    }
  });
});

describe('a refused connection', () => {
  it('exit 3, the fix says to check the server and address, once', async () => {
    const gone = await standalone();
    await gone.stop();
    const result = await runCli(['run'], { env: { GONE_SERVERS: gone.address, ...SMALL } });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /ECONNREFUSED.*\. Fix: check that the server runs and the address is right/);
  });
});

describe('a target that dies mid-run', () => {
  it('its errors in results.json read "connection to 127.0.0.1:<port> lost", not ioredis internals', async () => {
    const doomed = await standalone();
    let killed = false;
    try {
      const result = await runCli(['run', '--out', out.dir, '--min-iterations', '8', '--max-iterations', '8', '--op-timeout-ms', '500'], {
        env: { GOOD_SERVERS: good.address, DOOMED_SERVERS: doomed.address, READ_RATIO: '20', WRITE_COUNT: '5', PAYLOAD_BYTES: '100' },
        timeoutMs: 60_000,
        onStderr: (text) => {
          if (!killed && text.includes('round 1/')) {
            killed = true;
            void doomed.server.process.stop(0);
          }
        },
      });
      assert.ok(killed, 'the server was not killed');
      const dir = /Report: (.*)report\.md/.exec(result.stdout)?.[1] ?? '';
      const doc = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ResultsDocument;
      const entry = doc.results.find((e) => e.target.name === 'DOOMED');
      const messages = Object.keys(entry?.errors ?? {});
      assert.ok(messages.length > 0, 'no errors recorded');
      assert.ok(messages.some((m) => m.includes(`connection to ${doomed.address} lost`)), messages.join(' | '));
      for (const m of messages) {
        assert.doesNotMatch(m, /Stream isn't writeable|enableOfflineQueue|Connection is closed/);
        assert.doesNotMatch(m, /cachebench:/, 'a key in an error message');
      }
      assert.deepEqual(doc.results.find((e) => e.target.name === 'GOOD')?.errors, {});
    } finally {
      await doomed.stop();
    }
  });
});

describe('mode mismatches found by probing', () => {
  let node: Awaited<ReturnType<typeof standalone>> | undefined;
  before(async () => {
    // One cluster-enabled server that owns every slot: a complete (one-node) Redis Cluster.
        const tmp = tempDir('cachebench-driver-errors-node-');
    const server = await startRedisServer({ dir: tmp.dir, cluster: true });
    node = { server, address: `127.0.0.1:${server.port}`, stop: async () => { await server.process.stop(); tmp.remove(); } };
    const admin = connect(server.port);
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    for (let i = 0; i < 100 && !String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'); i++) await new Promise((r) => setTimeout(r, 50));
    admin.disconnect();
  });
  after(async () => {
    await node?.stop();
  });

  it('keySlot matches Redis CLUSTER KEYSLOT (hash tags included)', async () => {
    const redis = connect(node?.server.port ?? 0);
    try {
      for (const key of ['foo', '123456789', 'cachebench:run:{tag}x', 'cachebench:20261125-1:6f1c2d3e-aaaa-bbbb-cccc-0123456789ab', '{}', '{a']) {
        assert.equal(keySlot(key), Number(await redis.call('CLUSTER', 'KEYSLOT', key)), key);
      }
    } finally {
      redis.disconnect();
    }
  });

  it('<NAME>_MODE=standalone on a cluster node: exit 3 (not 2: probes were sent), with the fix, nothing written', async () => {
    const address = node?.address ?? '';
    const result = await runCli(['run'], { env: { MIS_SERVERS: address, MIS_MODE: 'standalone', ...SMALL } });
    assert.match(result.stderr, new RegExp(`target MIS: cannot use ${address}: MIS_MODE=standalone but the server is a Redis Cluster node .*\\. Fix: set MIS_MODE=cluster or auto`));
    assert.equal(result.code, 3, result.stderr);
    assert.equal(await commandCount(node?.server.port ?? 0, 'set'), 0);
  });

  it('a cluster node and a standalone server in one target: exit 3, names the odd server', async () => {
    const result = await runCli(['run'], { env: { MIX_SERVERS: `${node?.address ?? ''},${good.address}`, ...SMALL } });
    assert.match(result.stderr, new RegExp(`target MIX: cannot use ${good.address}: it is a standalone server while .* is a Redis Cluster node\\. Fix: list the servers of one deployment per target`));
    assert.equal(result.code, 3, result.stderr);
  });

  it('two servers with MODE=standalone is a config error found before any traffic: exit 2', async () => {
    const before = await commandCount(node?.server.port ?? 0, 'cluster');
    const result = await runCli(['run'], { env: { TWO_SERVERS: `${good.address},${node?.address ?? ''}`, TWO_MODE: 'standalone', ...SMALL } });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /TWO_SERVERS lists 2 servers but TWO_MODE=standalone is one server\. Fix: /);
    assert.equal(await commandCount(node?.server.port ?? 0, 'cluster'), before, 'the cluster node was probed');
  });
});

describe('error classes and op error translation (unit)', () => {
  it('TargetUnreachableError: message ends with ". Fix: <fix>", one full stop', () => {
    const e = new TargetUnreachableError('R', '10.0.0.1:6379', 'NOAUTH Authentication required.', 'set R_PASSWORD.');
    assert.equal(e.message, 'target R: cannot use 10.0.0.1:6379: NOAUTH Authentication required. Fix: set R_PASSWORD');
    assert.equal(e.fix, 'set R_PASSWORD');
    assert.equal(e.name, 'TargetUnreachableError');
    const m = new TargetMismatchError('R', '10.0.0.1:6379', 'mode', 'set R_MODE=auto');
    assert.ok(m instanceof TargetUnreachableError);
    assert.equal(m.name, 'TargetMismatchError');
  });

  it('ioredis internals become "connection to <server> lost" / "no reply from <server> within OP_TIMEOUT_MS"', () => {
    const lost = translateOpError(new Error("Stream isn't writeable and enableOfflineQueue options is false"), '127.0.0.1:26103', 2000);
    assert.ok(lost instanceof ConnectionLostError);
    assert.equal(lost.message, 'connection to 127.0.0.1:26103 lost');
    assert.ok(lost.cause instanceof Error);
    assert.ok(translateOpError(new Error('Connection is closed.'), 'a:1', 2000) instanceof ConnectionLostError);
    const slow = translateOpError(new Error('Command timed out'), '127.0.0.1:26103', 2000);
    assert.ok(slow instanceof OpTimeoutError);
    assert.equal(slow.message, 'no reply from 127.0.0.1:26103 within OP_TIMEOUT_MS=2000 ms');
    const oom = new Error('OOM command not allowed when used memory > \'maxmemory\'.');
    assert.equal(translateOpError(oom, 'a:1', 2000), oom);
  });
});
