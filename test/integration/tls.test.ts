import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { findFreePorts } from '../../src/local/ports.js';
import { diagnoseConnectError } from '../../src/targets/diagnose.js';
import { clusterTlsOptions, tlsOptionsFor, tlsServernameFor } from '../../src/targets/ioredis.js';
import { resultsOf, runCli } from '../helpers/cli.js';
import { standalone, tempDir } from '../helpers/servers.js';
import { makeTestCa, type TestCa } from '../helpers/tls-certs.js';
import { startTlsRedis, tlsCommand, type TlsRedis } from '../helpers/tls-redis.js';

const run = promisify(execFile);
const tmp = tempDir('cachebench-tls-');
const servers: TlsRedis[] = [];
let ca: TestCa;
/** A CA the servers do not use: trusting it must not let their certificates pass. */
let otherCa: TestCa;
let good: TlsRedis;
let misnamed: TlsRedis;

const SMALL = { READ_RATIO: '5', WRITE_COUNT: '4', PAYLOAD_BYTES: '64' };
const RUN = ['run', '--min-iterations', '3', '--max-iterations', '3'];

before(async () => {
  ca = await makeTestCa(tmp.dir, 'ca');
  otherCa = await makeTestCa(tmp.dir, 'other-ca');
  const cert = await ca.issue('server', ['IP:127.0.0.1', 'DNS:localhost']);
  const wrong = await ca.issue('wrong', ['DNS:cache.example.com']);
  const [p1, p2] = await findFreePorts(2);
  good = await startTlsRedis({ dir: tmp.dir, cert, caFile: ca.cert, ...(p1 !== undefined ? { port: p1 } : {}) });
  servers.push(good);
  misnamed = await startTlsRedis({ dir: tmp.dir, cert: wrong, caFile: ca.cert, ...(p2 !== undefined ? { port: p2 } : {}) });
  servers.push(misnamed);
});
after(async () => {
  await Promise.all(servers.map((s) => s.process.stop()));
  tmp.remove();
});

describe('TLS with a private CA', () => {
  it('TLSR_TLS_CA makes a rediss:// server usable: exit 0, every read verified', async () => {
    const result = await runCli([...RUN, '--out', tmp.dir], { env: { TLSR_SERVERS: `rediss://127.0.0.1:${good.port}`, TLSR_TLS_CA: ca.cert, ...SMALL } });
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /DEP0123|Warning/, 'no warning about an IP address as TLS server name');
    const doc = resultsOf(result.stdout);
    const entry = doc.results[0];
    assert.equal(entry?.state, 'completed');
    assert.ok((entry?.verification.reads ?? 0) >= 3 * 4 * 5);
    assert.equal(entry?.verification.verified, entry?.verification.reads);
    assert.equal(doc.environment.targets[0]?.tls, true);
  });

  it('checks a host name against the DNS names of the certificate (localhost)', async () => {
    const result = await runCli([...RUN, '--out', tmp.dir], { env: { TLSR_SERVERS: `localhost:${good.port}`, TLSR_TLS_CA: ca.cert, ...SMALL } });
    assert.equal(result.code, 0, result.stderr);
  });

  it('without the CA: exit 3, the message says the CA is not trusted and names TLSR_TLS_CA', async () => {
    const result = await runCli(RUN, { env: { TLSR_SERVERS: `rediss://127.0.0.1:${good.port}`, ...SMALL } });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, new RegExp(`target TLSR: cannot use 127\\.0\\.0\\.1:${good.port}: TLS: .*not trusted.*\\. Fix: set TLSR_TLS_CA=/path/ca\\.pem`));
    assert.doesNotMatch(result.stderr, /\.\. Fix|check that the server runs/);
  });

  it('with the wrong CA: exit 3, the message names the CA file given', async () => {
    const result = await runCli(RUN, { env: { TLSR_SERVERS: `127.0.0.1:${good.port}`, TLSR_TLS_CA: otherCa.cert, ...SMALL } });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, new RegExp(`TLSR_TLS_CA=${otherCa.cert.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} does not hold the CA`));
  });

  it('with a wrong TLSR_TLS_SERVERNAME: exit 3, the message names the certificate\'s names and TLSR_TLS_SERVERNAME', async () => {
    const result = await runCli(RUN, { env: { TLSR_SERVERS: `127.0.0.1:${good.port}`, TLSR_TLS_CA: ca.cert, TLSR_TLS_SERVERNAME: 'cache.example.com', ...SMALL } });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /not valid for cache\.example\.com \(the certificate holds IP Address:127\.0\.0\.1, DNS:localhost\)\. Fix: set TLSR_TLS_SERVERNAME to a name in the certificate/);
  });

  it('a certificate for another name: exit 3 naming TLSR_TLS_SERVERNAME; with that name set, exit 0', async () => {
    const wrongName = await runCli(RUN, { env: { TLSR_SERVERS: `127.0.0.1:${misnamed.port}`, TLSR_TLS_CA: ca.cert, ...SMALL } });
    assert.equal(wrongName.code, 3, wrongName.stderr);
    assert.match(wrongName.stderr, /not valid for 127\.0\.0\.1 \(the certificate holds DNS:cache\.example\.com\)\. Fix: set TLSR_TLS_SERVERNAME=name-in-cert/);
    const named = await runCli([...RUN, '--out', tmp.dir], { env: { TLSR_SERVERS: `127.0.0.1:${misnamed.port}`, TLSR_TLS_CA: ca.cert, TLSR_TLS_SERVERNAME: 'cache.example.com', ...SMALL } });
    assert.equal(named.code, 0, named.stderr);
  });

  it('plain text to a TLS port: exit 3, the fix is to turn TLS on', async () => {
    const result = await runCli(RUN, { env: { TLSR_SERVERS: `127.0.0.1:${good.port}`, ...SMALL } });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /the server expects TLS.*\. Fix: set TLSR_TLS=true/);
  });
});

describe('TLS to a plain-text server', () => {
  it('exit 3 within the connect timeout, the fix is to turn TLS off', async () => {
    const server = await standalone();
    try {
      const result = await runCli([...RUN, '--connect-timeout-ms', '1000'], { env: { TLSR_SERVERS: `rediss://${server.address}`, ...SMALL } });
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, /speaks plain text, not TLS.*\. Fix: if the server does not use TLS on this port, list the servers in TLSR_SERVERS as host:port or redis:\/\/ instead of rediss:\/\//);
      assert.ok(result.ms < 10_000, `took ${result.ms} ms`);
    } finally {
      await server.stop();
    }
  });
});

describe('TLS server name per server (unit)', () => {
  it('is TLS_SERVERNAME when set, else the host; none for an IP address (Node checks IP SANs, sends no SNI)', () => {
    assert.equal(tlsServernameFor({ tlsServername: 'cache.example.com' }, '10.0.0.1'), 'cache.example.com');
    assert.equal(tlsServernameFor({}, 'node-2.cache.internal'), 'node-2.cache.internal');
    assert.equal(tlsServernameFor({}, '10.0.0.2'), undefined);
    assert.equal(tlsServernameFor({}, '::1'), undefined);
    assert.equal(tlsServernameFor({}, undefined), undefined);
    const pem = Buffer.from('-----BEGIN CERTIFICATE-----');
    assert.deepEqual(tlsOptionsFor({ tlsCa: { file: 'ca.pem', pem } }, 'a.example'), { ca: pem, servername: 'a.example' });
  });

  it('cluster nodes found through CLUSTER SLOTS or MOVED each get their own host as server name', () => {
    const { natMap, dnsLookup } = clusterTlsOptions({});
    assert.equal(typeof natMap, 'function');
    if (typeof natMap !== 'function') return;
    assert.deepEqual(natMap('node-1.cache.internal:6380'), { host: 'node-1.cache.internal', port: 6380, tls: { servername: 'node-1.cache.internal' } });
    assert.deepEqual(natMap('node-2.cache.internal:6381'), { host: 'node-2.cache.internal', port: 6381, tls: { servername: 'node-2.cache.internal' } });
    assert.deepEqual(natMap('10.1.2.3:6379'), { host: '10.1.2.3', port: 6379, tls: {} });
    const { natMap: named } = clusterTlsOptions({ tlsServername: 'cache.example.com' });
    if (typeof named === 'function') assert.deepEqual(named('10.1.2.3:6379'), { host: '10.1.2.3', port: 6379, tls: { servername: 'cache.example.com' } });
    // Host names stay names (a certificate names the host, not its IP address).
    let resolved: string | undefined;
    dnsLookup?.('node-1.cache.internal', (_error, address) => (resolved = address));
    assert.equal(resolved, 'node-1.cache.internal');
  });
});

describe('certificate errors (unit): what is wrong and the fix', () => {
  const server = { host: '10.0.0.5', port: 6379, tls: false, display: '10.0.0.5:6379' };
  const ctx = { name: 'CACHE', tls: true, servers: [server] };
  const withCode = (code: string, message = code): Error => Object.assign(new Error(message), { code });
  const cases: { code: string; reason: RegExp; fix: RegExp }[] = [
    { code: 'SELF_SIGNED_CERT_IN_CHAIN', reason: /not trusted/, fix: /^set CACHE_TLS_CA=\/path\/ca\.pem/ },
    { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', reason: /self-signed/, fix: /^set CACHE_TLS_CA=.*own CA/ },
    { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', reason: /issuer .* not trusted/, fix: /^set CACHE_TLS_CA=.*intermediate/ },
    { code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', reason: /issuer .* not trusted/, fix: /^set CACHE_TLS_CA=/ },
    { code: 'ERR_TLS_CERT_ALTNAME_INVALID', reason: /not valid for 10\.0\.0\.5/, fix: /^set CACHE_TLS_SERVERNAME=name-in-cert/ },
    { code: 'CERT_HAS_EXPIRED', reason: /expired/, fix: /renew/ },
    { code: 'ERR_SSL_WRONG_VERSION_NUMBER', reason: /plain text, not TLS/, fix: /set CACHE_TLS=false/ },
    { code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', reason: /client certificate/, fix: /tls-auth-clients/ },
  ];
  for (const c of cases) {
    it(c.code, () => {
      const d = diagnoseConnectError(withCode(c.code), server, ctx);
      assert.match(d.reason, c.reason);
      assert.match(d.fix, c.fix);
    });
  }
  it('auth and refusal', () => {
    assert.match(diagnoseConnectError(new Error('NOAUTH Authentication required.'), server, ctx).fix, /^set CACHE_PASSWORD \(and CACHE_USERNAME for an ACL user\), or put them in the URL/);
    const wrongpass = new Error('WRONGPASS invalid username-password pair or user is disabled.');
    assert.match(diagnoseConnectError(wrongpass, server, ctx).fix, /^set CACHE_PASSWORD/);
    // A password was given: the fix is to check it, not to set it.
    assert.equal(diagnoseConnectError(wrongpass, server, { ...ctx, passwordFrom: 'option' }).fix,
      'check CACHE_PASSWORD (and CACHE_USERNAME): the server rejected them; or put them in the URL: redis://<user>:<password>@host:port');
    assert.equal(diagnoseConnectError(wrongpass, server, { ...ctx, passwordFrom: 'url' }).fix,
      'check the user name and password in the URL in CACHE_SERVERS (redis://<user>:<password>@host:port): the server rejected them');
    assert.match(diagnoseConnectError(new Error("ERR wrong number of arguments for 'auth' command"), server, { ...ctx, passwordFrom: 'option' }).fix, /^unset CACHE_USERNAME/);
    assert.equal(diagnoseConnectError(withCode('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.5:6379'), server, ctx).fix, 'check that the server runs and the address is right');
    assert.match(diagnoseConnectError(new Error('cluster_state is fail, not ok'), server, ctx).fix, /cluster_state:ok/);
  });
});

describe('TLS Redis Cluster: every node checked against its own address', () => {
  it('3 primaries on 127.0.0.1-3, each certificate valid for its own IP only: exit 0, reads verified', { timeout: 60_000 }, async () => {
    const hosts = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    const ports = await findFreePorts(3);
    const nodes: TlsRedis[] = [];
    for (const [i, host] of hosts.entries()) {
      const cert = await ca.issue(`node${i + 1}`, [`IP:${host}`]);
      nodes.push(await startTlsRedis({ dir: tmp.dir, cert, caFile: ca.cert, host, cluster: true, ...(ports[i] !== undefined ? { port: ports[i] } : {}) }));
    }
    servers.push(...nodes);
    await run('redis-cli', ['--tls', '--cacert', ca.cert, '--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    const end = Date.now() + 20_000;
    for (const node of nodes) {
      while (!(await tlsCommand(node.host, node.port, ca.cert, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) {
        assert.ok(Date.now() < end, `cluster node ${node.host}:${node.port} not ok`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const result = await runCli([...RUN, '--out', tmp.dir], {
      env: { TLSC_SERVERS: nodes.map((n) => `rediss://${n.host}:${n.port}`).join(','), TLSC_TLS_CA: ca.cert, READ_RATIO: '2', WRITE_COUNT: '30', PAYLOAD_BYTES: '64' },
    });
    assert.equal(result.code, 0, result.stderr);
    const entry = resultsOf(result.stdout).results[0];
    assert.equal(entry?.target.mode, 'cluster');
    assert.equal(entry?.verification.verified, entry?.verification.reads);
    assert.deepEqual(entry?.errors, {});
    // Keys landed on every node (so every node's certificate was checked).
    for (const node of nodes) {
      const keyspace = await tlsCommand(node.host, node.port, ca.cert, 'INFO', 'commandstats');
      assert.match(keyspace, /cmdstat_set:calls=\d+/, `${node.host} saw no SET`);
    }
  });
});
