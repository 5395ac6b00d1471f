import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { adminCommand } from '../../src/local/redis.js';
import { startLocal, type LocalDeployment } from '../../src/local/topologies.js';
import type { RunControls, TargetConfig } from '../../src/config/resolve.js';
import { type Capabilities, TargetMismatchError, TargetUnreachableError } from '../../src/targets/client.js';
import { PROXY_NOTE, probeCapabilities, requireCapabilities } from '../../src/targets/capabilities.js';
import { parseInfo } from '../../src/targets/probe.js';
import { RespReader } from '../../src/targets/resp.js';
import { cluster, connect, standalone, tempDir } from '../helpers/servers.js';
import { makeTestCa } from '../helpers/tls-certs.js';
import { startTlsRedis, type TlsRedis } from '../helpers/tls-redis.js';
import { TEST_CONTROLS, targetConfig } from '../helpers/targets.js';

/** Sockets and timers this process holds, by kind: a probe must leave none behind. */
function openHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === 'TCPSocketWrap' || kind === 'TLSWrap' || kind === 'Timeout') counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/** No more sockets or timers of any kind than before (the set-up's own may have closed meanwhile). */
function assertNoneAdded(before: Record<string, number>): void {
  const now = openHandles();
  for (const [kind, count] of Object.entries(now)) assert.ok(count <= (before[kind] ?? 0), `the probe left a ${kind} open: ${JSON.stringify({ before, now })}`);
}

/** Runs the probe and checks that it left no socket or timer open once it settled. */
async function probeLeavingNothingOpen(config: TargetConfig, mode: 'cluster' | 'standalone' | 'proxy', controls: RunControls, peer?: FakePeer): Promise<Capabilities> {
  const before = openHandles();
  const caps = await probeCapabilities(config, mode, controls);
  // A fake peer's own sockets close once they see the probe's end close: waiting for that proves it closed.
  await peer?.idle();
  assertNoneAdded(before);
  return caps;
}

interface FakePeer {
  readonly address: string;
  /** Every command received, in order, as its arguments. */
  readonly commands: string[][];
  connections: number;
  /** Resolves once every connection to the peer has closed (rejects after 2 s). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A fake peer for the probe's own protocol handling (not a stand-in for Redis): `answer` gets each command's
 * arguments and writes whatever bytes it likes, or destroys the socket.
 */
async function fakePeer(answer: (args: readonly string[], socket: Socket) => void): Promise<FakePeer> {
  const sockets = new Set<Socket>();
  const commands: string[][] = [];
  const server = createServer((socket) => {
    peer.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const reader = new RespReader();
    let readable = true;
    socket.on('data', (chunk: Buffer) => {
      if (!readable) return;
      try {
        reader.push(chunk);
        for (let request = reader.next(); request !== undefined; request = reader.next()) {
          const args = request.type === 'array' ? request.items.map((item) => (item.type === 'bulk' ? item.value.toString('utf8') : '?')) : ['?'];
          commands.push(args);
          if (!socket.destroyed) answer(args, socket);
        }
      } catch {
        // Not a RESP command (a TLS handshake, diagnose.ts's inline PING): recorded as such, and left unanswered.
        readable = false;
        commands.push(['<not RESP>']);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const peer: FakePeer = {
    address: `127.0.0.1:${port}`,
    commands,
    connections: 0,
    idle: async () => {
      const deadline = performance.now() + 2000;
      while (sockets.size > 0) {
        if (performance.now() > deadline) throw new Error(`${sockets.size} connection(s) to the fake peer still open`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return peer;
}

const unknownCommand = (args: readonly string[]): string =>
  `-ERR unknown command '${args[0] ?? ''}', with args beginning with: ${args.slice(1).map((a) => `'${a}' `).join('')}\r\n`;

/** `calls=` of every command in INFO commandstats. */
function callsByCommand(text: string): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1] as string] = Number(m[2]);
  return calls;
}

const bulkReply = (text: string): string => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;

describe('a real Redis 7 standalone server', () => {
  let server: Awaited<ReturnType<typeof standalone>>;
  before(async () => {
    server = await standalone();
  });
  after(async () => {
    await server?.stop();
  });

  it('speaks RESP3, tracks, answers WAIT; no CLUSTER SLOTS; names itself redis with INFO\'s version; writes nothing', async () => {
    const admin = connect(server.server.port);
    try {
      const statsBefore = callsByCommand(await admin.info('commandstats'));
      const caps = await probeLeavingNothingOpen(targetConfig('SINGLE', [server.address]), 'standalone', TEST_CONTROLS);
      const statsAfter = callsByCommand(await admin.info('commandstats'));
      const sent = Object.fromEntries(Object.entries(statsAfter)
        .map(([command, calls]) => [command, calls - (statsBefore[command] ?? 0)])
        .filter(([, calls]) => calls !== 0));
      // The probe's commands, and the INFO commandstats (counted after it ran) just before it; nothing else, nothing that writes.
      assert.deepEqual(sent, { hello: 1, 'client|tracking': 2, wait: 1, 'cluster|slots': 1, info: 1 });
      const info = parseInfo(await admin.info('server'));
      assert.deepEqual(caps, {
        resp3: true, tracking: true, wait: true, clusterSlots: false, serverName: 'redis', serverVersion: info.get('redis_version'),
        notes: ['CLUSTER SLOTS: ERR This instance has cluster support disabled'],
      });
      assert.equal(await admin.dbsize(), 0);
      requireCapabilities(targetConfig('SINGLE', [server.address], { cache: 'tracking' }), caps);
    } finally {
      admin.disconnect();
    }
  });

  it('a password the server does not need is ignored ("without any password configured")', async () => {
    const caps = await probeLeavingNothingOpen(targetConfig('OPEN', [server.address], { password: 'unneeded-secret-42' }), 'standalone', TEST_CONTROLS);
    assert.equal(caps.resp3, true);
    assert.equal(caps.tracking, true);
    assert.ok(!inspect(caps).includes('unneeded-secret-42'));
  });
});

describe('a password-protected Redis 7 server', () => {
  let locked: Awaited<ReturnType<typeof standalone>>;
  before(async () => {
    locked = await standalone();
    const admin = connect(locked.server.port);
    await admin.call('CONFIG', 'SET', 'requirepass', 'right-secret-42');
    admin.disconnect();
  });
  after(async () => {
    await locked?.stop();
  });

  it('the right password: every capability asked after AUTH', async () => {
    const caps = await probeLeavingNothingOpen(targetConfig('AUTH', [locked.address], { password: 'right-secret-42' }), 'standalone', TEST_CONTROLS);
    assert.deepEqual({ ...caps, notes: caps.notes.length }, { resp3: true, tracking: true, wait: true, clusterSlots: false, serverName: 'redis', serverVersion: caps.serverVersion, notes: 1 });
    assert.match(caps.serverVersion ?? '', /^7\./);
  });

  it('the password in the URL, with the default user', async () => {
    const config = targetConfig('AUTH', [locked.address]);
    const servers = config.servers.map((s) => ({ ...s, username: 'default', password: 'right-secret-42' }));
    const caps = await probeLeavingNothingOpen({ ...config, servers }, 'standalone', TEST_CONTROLS);
    assert.equal(caps.resp3, true);
  });

  it('a wrong password: TargetUnreachableError (WRONGPASS, check AUTH_PASSWORD), never the password', async () => {
    const before = openHandles();
    const error = await probeCapabilities(targetConfig('AUTH', [locked.address], { password: 'wrong-secret-42' }), 'standalone', TEST_CONTROLS).then(() => undefined, (e: unknown) => e);
    assertNoneAdded(before);
    assert.ok(error instanceof TargetUnreachableError, String(error));
    assert.ok(!(error instanceof TargetMismatchError));
    assert.match(error.message, /^target AUTH: cannot use 127\.0\.0\.1:\d+: WRONGPASS invalid username-password pair or user is disabled\. Fix: check AUTH_PASSWORD/);
    assert.ok(!inspect(error, { depth: 10 }).includes('wrong-secret-42'), 'password in the error or its cause');
  });

  it('no password: TargetUnreachableError (NOAUTH, set AUTH_PASSWORD), not "no RESP3"', async () => {
    const error = await probeCapabilities(targetConfig('AUTH', [locked.address]), 'standalone', TEST_CONTROLS).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof TargetUnreachableError, String(error));
    assert.match(error.message, /: NOAUTH .*\. Fix: set AUTH_PASSWORD/);
  });
});

describe('a real TLS-only Redis 7 server', () => {
  const tmp = tempDir('cachebench-capabilities-tls-');
  let server: TlsRedis;
  let caFile: string;
  before(async () => {
    const ca = await makeTestCa(tmp.dir, 'ca');
    caFile = ca.cert;
    server = await startTlsRedis({ dir: tmp.dir, cert: await ca.issue('server', ['IP:127.0.0.1']), caFile });
  });
  after(async () => {
    await server?.process.stop();
    tmp.remove();
  });

  it('probed over TLS with the target\'s CA', async () => {
    const config = targetConfig('SECURE', [`127.0.0.1:${server.port}`], { tls: true, tlsCa: { file: caFile, pem: readFileSync(caFile) } });
    const caps = await probeLeavingNothingOpen(config, 'standalone', TEST_CONTROLS);
    assert.deepEqual({ resp3: caps.resp3, tracking: caps.tracking, wait: caps.wait, serverName: caps.serverName }, { resp3: true, tracking: true, wait: true, serverName: 'redis' });
  });

  it('without the CA: TargetUnreachableError whose fix names SECURE_TLS_CA', async () => {
    const error = await probeCapabilities(targetConfig('SECURE', [`127.0.0.1:${server.port}`], { tls: true }), 'standalone', TEST_CONTROLS).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof TargetUnreachableError, String(error));
    assert.match(error.message, /^target SECURE: cannot use 127\.0\.0\.1:\d+: TLS: .*Fix: set SECURE_TLS_CA=/);
  });
});

describe('a real Redis Cluster node', () => {
  let c: Awaited<ReturnType<typeof cluster>>;
  before(async () => {
    c = await cluster();
  });
  after(async () => {
    await c?.stop();
  });

  it('answers CLUSTER SLOTS with a slot map', async () => {
    const caps = await probeLeavingNothingOpen(targetConfig('CLUSTER', c.addresses.split(',')), 'cluster', TEST_CONTROLS);
    assert.deepEqual(caps, { resp3: true, tracking: true, wait: true, clusterSlots: true, serverName: 'redis', serverVersion: caps.serverVersion, notes: [] });
    assert.match(caps.serverVersion ?? '', /^\d+\.\d+\.\d+$/);
  });
});

describe('fake peers: the probe\'s own handling of refusals and closed connections', () => {
  it('a server that knows no command: every capability false, no name; CACHE=tracking refused naming RESP3 and the reply', async () => {
    const peer = await fakePeer((args, socket) => socket.write(unknownCommand(args)));
    try {
      const caps = await probeLeavingNothingOpen(targetConfig('OLD', [peer.address]), 'standalone', TEST_CONTROLS, peer);
      assert.deepEqual({ ...caps, notes: undefined }, { resp3: false, tracking: false, wait: false, clusterSlots: false, serverName: null,
        serverVersion: null, notes: undefined });
      assert.deepEqual(caps.notes, [
        "HELLO 3: ERR unknown command 'HELLO', with args beginning with: '3'",
        "CLIENT TRACKING ON: ERR unknown command 'CLIENT', with args beginning with: 'TRACKING' 'ON'",
        "WAIT 0 0: ERR unknown command 'WAIT', with args beginning with: '0' '0'",
        "CLUSTER SLOTS: ERR unknown command 'CLUSTER', with args beginning with: 'SLOTS'",
        "INFO server: ERR unknown command 'INFO', with args beginning with: 'server'",
      ]);
      // One connection, one command at a time, no OFF after a refused ON, nothing that writes.
      assert.equal(peer.connections, 1);
      assert.deepEqual(peer.commands, [['HELLO', '3'], ['CLIENT', 'TRACKING', 'ON'], ['WAIT', '0', '0'], ['CLUSTER', 'SLOTS'], ['INFO', 'server']]);

      assert.throws(() => requireCapabilities(targetConfig('OLD', [peer.address], { cache: 'tracking' }), caps), (error: unknown) => {
        assert.ok(error instanceof TargetMismatchError);
        assert.equal(error.message, `target OLD: cannot use ${peer.address}: OLD_CACHE=tracking needs RESP3 (HELLO 3), which ${peer.address} refused: `
        + "ERR unknown command 'HELLO', with args beginning with: '3'. Fix: unset OLD_CACHE or use a server that speaks RESP3 (Redis 6+ / Valkey)");
        return true;
      });
      requireCapabilities(targetConfig('OLD', [peer.address]), caps);
    } finally {
      await peer.close();
    }
  });

  it('a server that closes the connection at HELLO: resp3 false with a note; the rest asked on a fresh connection, in RESP2; no hang', async () => {
    const peer = await fakePeer((args, socket) => {
      const command = args.slice(0, 2).join(' ').toUpperCase();
      if (command === 'HELLO 3') socket.destroy();
      else if (command === 'CLIENT TRACKING') socket.write('+OK\r\n');
      else if (command === 'WAIT 0') socket.write(':0\r\n');
      else if (command === 'INFO SERVER') socket.write(bulkReply('# Server\r\nredis_version:5.0.14\r\nredis_mode:standalone\r\n'));
      else socket.write(unknownCommand(args));
    });
    try {
      const started = performance.now();
      const caps = await probeLeavingNothingOpen(targetConfig('CLOSER', [peer.address]), 'standalone', TEST_CONTROLS, peer);
      assert.ok(performance.now() - started < TEST_CONTROLS.connectTimeoutMs, 'waited for the deadline');
      assert.deepEqual(caps, {
        resp3: false, tracking: true, wait: true, clusterSlots: false, serverName: null, serverVersion: '5.0.14',
        notes: ['HELLO 3: the server closed the connection instead of answering', "CLUSTER SLOTS: ERR unknown command 'CLUSTER', with args beginning with: 'SLOTS'"],
      });
      assert.equal(peer.connections, 2);
      assert.deepEqual(peer.commands.map((c) => c.join(' ')), ['HELLO 3', 'CLIENT TRACKING ON', 'CLIENT TRACKING OFF', 'WAIT 0 0', 'CLUSTER SLOTS', 'INFO server']);
      assert.throws(() => requireCapabilities(targetConfig('CLOSER', [peer.address], { cache: 'tracking' }), caps),
        /needs RESP3 \(HELLO 3\), which 127\.0\.0\.1:\d+ refused: the server closed the connection instead of answering\. Fix: unset CLOSER_CACHE/);
    } finally {
      await peer.close();
    }
  });

  it('a server that closes the connection on every command but HELLO: each false with a note, one fresh connection per command', async () => {
    const peer = await fakePeer((args, socket) => {
      if (args[0] === 'HELLO') socket.write('%2\r\n$6\r\nserver\r\n$6\r\nvalkey\r\n$7\r\nversion\r\n$5\r\n8.0.1\r\n');
      else socket.destroy();
    });
    try {
      const caps = await probeLeavingNothingOpen(targetConfig('PICKY', [peer.address]), 'standalone', TEST_CONTROLS, peer);
      assert.deepEqual({ ...caps, notes: caps.notes.length }, { resp3: true, tracking: false, wait: false, clusterSlots: false, serverName: 'valkey', serverVersion: '8.0.1', notes: 3 });
      for (const command of ['CLIENT TRACKING ON', 'WAIT 0 0', 'CLUSTER SLOTS']) assert.ok(caps.notes.includes(`${command}: the server closed the connection instead of answering`), command);
      // Each fresh connection says HELLO 3 again, so every answer comes in the protocol the first one agreed on.
      assert.deepEqual(peer.commands.map((c) => c.join(' ')), ['HELLO 3', 'CLIENT TRACKING ON', 'HELLO 3', 'WAIT 0 0', 'HELLO 3', 'CLUSTER SLOTS']);
      assert.throws(() => requireCapabilities(targetConfig('PICKY', [peer.address], { cache: 'tracking' }), caps),
        /PICKY_CACHE=tracking needs CLIENT TRACKING, which 127\.0\.0\.1:\d+ refused: the server closed the connection instead of answering\. Fix: unset PICKY_CACHE or use a server that supports CLIENT TRACKING/);
    } finally {
      await peer.close();
    }
  });

  it('a server that answers HELLO 3 in RESP2 (a flat array): resp3 false with a note, its name and version still read', async () => {
    const peer = await fakePeer((args, socket) => socket.write(args[0] === 'HELLO'
      ? '*4\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n6.0.0\r\n'
      : args[0] === 'CLUSTER' ? unknownCommand(args) : args[0] === 'WAIT' ? ':0\r\n' : '+OK\r\n'));
    try {
      const caps = await probeLeavingNothingOpen(targetConfig('OLDER', [peer.address]), 'standalone', TEST_CONTROLS, peer);
      assert.deepEqual({ ...caps, notes: caps.notes[0] }, {
        resp3: false, tracking: true, wait: true, clusterSlots: false, serverName: 'redis', serverVersion: '6.0.0', notes: 'HELLO 3: answered an array of 4 elements',
      });
      assert.ok(!peer.commands.some((c) => c[0] === 'INFO'), 'INFO asked although HELLO gave the version');
    } finally {
      await peer.close();
    }
  });

  it('a server that never answers: every capability null with a note, by CONNECT_TIMEOUT_MS', async () => {
    const peer = await fakePeer(() => undefined);
    try {
      const controls = { ...TEST_CONTROLS, connectTimeoutMs: 300 };
      const started = performance.now();
      const caps = await probeLeavingNothingOpen(targetConfig('SILENT', [peer.address]), 'standalone', controls, peer);
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 290 && elapsed < 1500, `took ${elapsed} ms`);
      assert.deepEqual(caps, {
        resp3: null, tracking: null, wait: null, clusterSlots: null, serverName: null, serverVersion: null,
        notes: [
          'HELLO 3: not answered within CONNECT_TIMEOUT_MS=300 ms', 'CLIENT TRACKING ON: not asked (CONNECT_TIMEOUT_MS=300 ms had passed)',
          'WAIT 0 0: not asked (CONNECT_TIMEOUT_MS=300 ms had passed)', 'CLUSTER SLOTS: not asked (CONNECT_TIMEOUT_MS=300 ms had passed)',
          'INFO server: not asked (CONNECT_TIMEOUT_MS=300 ms had passed)',
        ],
      });
      assert.deepEqual(peer.commands, [['HELLO', '3']], 'nothing sent after the deadline');
      requireCapabilities(targetConfig('SILENT', [peer.address], { cache: 'tracking' }), caps);
    } finally {
      await peer.close();
    }
  });

  it('a server that answers bytes that are not RESP: false with a note, no crash', async () => {
    const peer = await fakePeer((args, socket) => socket.write(args[0] === 'HELLO' ? 'HTTP/1.1 400 Bad Request\r\n\r\n' : unknownCommand(args)));
    try {
      const caps = await probeLeavingNothingOpen(targetConfig('HTTP', [peer.address]), 'standalone', TEST_CONTROLS, peer);
      assert.equal(caps.resp3, false);
      assert.equal(caps.tracking, false);
      assert.equal(caps.notes[0], 'HELLO 3: the server sent bytes that are not a RESP reply (unknown reply type byte 0x48) instead of answering');
      assert.equal(peer.connections, 2);
    } finally {
      await peer.close();
    }
  });

  it('a refused connection: TargetUnreachableError with the address fix, nothing left open', async () => {
    const peer = await fakePeer(() => undefined);
    const address = peer.address;
    await peer.close();
    const before = openHandles();
    const error = await probeCapabilities(targetConfig('GONE', [address]), 'standalone', TEST_CONTROLS).then(() => undefined, (e: unknown) => e);
    assertNoneAdded(before);
    assert.ok(error instanceof TargetUnreachableError, String(error));
    assert.match(error.message, /ECONNREFUSED.*\. Fix: check that the server runs and the address is right$/);
  });

  it('TLS to a peer that never answers the handshake: TargetUnreachableError by CONNECT_TIMEOUT_MS, nothing left open', async () => {
    const peer = await fakePeer(() => undefined);
    try {
      const before = openHandles();
      const controls = { ...TEST_CONTROLS, connectTimeoutMs: 300 };
      const started = performance.now();
      const error = await probeCapabilities(targetConfig('STUCK', [peer.address], { tls: true }), 'standalone', controls).then(() => undefined, (e: unknown) => e);
      const elapsed = performance.now() - started;
      await peer.idle();
      assertNoneAdded(before);
      assert.ok(error instanceof TargetUnreachableError, String(error));
      assert.match(error.message, /: no connection within CONNECT_TIMEOUT_MS=300 ms\. Fix: check that the server runs and the address is right$/);
      // 300 ms for the probe, at most 300 ms more for diagnose.ts's plain-text PING.
      assert.ok(elapsed < 1000, `took ${elapsed} ms`);
    } finally {
      await peer.close();
    }
  });

  it('proxy mode: no connection at all, every capability null with the proxy note', async () => {
    const peer = await fakePeer((args, socket) => socket.write(unknownCommand(args)));
    try {
      const caps = await probeLeavingNothingOpen(targetConfig('PROXY', [peer.address]), 'proxy', TEST_CONTROLS, peer);
      assert.deepEqual(caps, { resp3: null, tracking: null, wait: null, clusterSlots: null, serverName: null, serverVersion: null, notes: [PROXY_NOTE] });
      assert.equal(peer.connections, 0);
      requireCapabilities(targetConfig('PROXY', [peer.address], { cache: 'tracking' }), caps);
    } finally {
      await peer.close();
    }
  });
});

describe('a real twemproxy (nutcracker) in proxy mode', () => {
  let local: LocalDeployment;
  before(async () => {
    local = await startLocal(['TWEMPROXY']);
  });
  after(async () => {
    await local?.stop();
  });

  it('asks nothing (twemproxy would close the connection): all null, and the proxy still answers', async () => {
    const address = local.topologies[0]?.settings.TWEMPROXY_SERVERS ?? '';
    const caps = await probeLeavingNothingOpen(targetConfig('TWEMPROXY', [address], { mode: 'proxy' }), 'proxy', TEST_CONTROLS);
    assert.deepEqual(caps, { resp3: null, tracking: null, wait: null, clusterSlots: null, serverName: null, serverVersion: null, notes: [PROXY_NOTE] });
    assert.equal(await adminCommand(Number(address.split(':')[1]), 'PING'), 'PONG');
  });
});

describe('the capability probe on the run path (the CLI)', () => {
  it('records what each server supports in results.json and the report; CACHE=tracking on a server that refuses CLIENT TRACKING is exit 3 naming it, with nothing written', async () => {
    const { reportDirOf, runCli } = await import('../helpers/cli.js');
    const { commandCount } = await import('../helpers/servers.js');
    const out = tempDir('cachebench-capabilities-cli-');
    const plain = await standalone();
    const noResp3 = await standalone();
    try {
      const ok = await runCli(['run', '--out', out.dir, '--max-iterations', '2', '--warmup-iterations', '0', '--invocation-count', '1', '--read-ratio', '3', '--write-count', '2', '--payload-bytes', '100', '--quiet'],
        { env: { PLAIN_SERVERS: plain.address } });
      assert.equal(ok.code, 0, ok.stderr);
      const dir = reportDirOf(ok.stdout);
      const doc = JSON.parse(readFileSync(`${dir}results.json`, 'utf8')) as { environment: { targets: { capabilities: Capabilities | null }[] } };
      const caps = doc.environment.targets[0]?.capabilities;
      assert.equal(caps?.resp3, true);
      assert.equal(caps?.tracking, true);
      assert.equal(caps?.wait, true);
      assert.equal(caps?.clusterSlots, false);
      assert.equal(caps?.serverName, 'redis');
      assert.match(readFileSync(`${dir}report.md`, 'utf8'), /\| RESP3, CLIENT TRACKING, WAIT; not CLUSTER SLOTS \(redis \d+\.\d+\.\d+\) \|/);

      // The default user may not run CLIENT TRACKING: no server-assisted client cache on this server.
      const admin = connect(noResp3.server.port);
      await admin.call('ACL', 'SETUSER', 'default', '-client|tracking');
      admin.disconnect();
      const refused = await runCli(['run', '--out', out.dir, '--max-iterations', '2'], { env: { NEAR_SERVERS: noResp3.address, NEAR_CLIENT: 'node-redis', NEAR_CACHE: 'tracking' } });
      assert.equal(refused.code, 3, refused.stderr);
      assert.match(refused.stderr, /NEAR_CACHE=tracking needs CLIENT TRACKING, which 127\.0\.0\.1:\d+ refused: NOPERM.*Fix: unset NEAR_CACHE/);
      assert.equal(await commandCount(noResp3.server.port, 'set'), 0, 'nothing was written');
    } finally {
      await Promise.all([plain.stop(), noResp3.stop()]);
      out.remove();
    }
  });
});
