import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ioredisDriver } from '../../src/targets/ioredis.js';
import { connect, standalone } from '../helpers/servers.js';
import { TEST_CONTROLS, targetConfig } from '../helpers/targets.js';

/*
 * ioredis 6's failover detector disconnects its Sentinel connector on every +switch-master. When one lands while a
 * reconnect is still asking the sentinel for the master, SentinelConnector.connect throws "Connection is closed." and
 * the client ends ('end') with no reconnect scheduled: every later op fails at once. This happened in about one of ten
 * kill-primary runs of REDIS_SENTINEL (each of three sentinels publishes its own +switch-master). The server here is a
 * real redis-server; the sentinel is scripted, so the +switch-master comes exactly while the reconnect asks it.
 */

/** RESP encoding of what the scripted sentinel answers. */
const enc = (v: unknown): string => (v === null ? '$-1\r\n' : Array.isArray(v) ? `*${v.length}\r\n${v.map(enc).join('')}`
  : typeof v === 'number' ? `:${v}\r\n` : `$${Buffer.byteLength(String(v))}\r\n${String(v)}\r\n`);

/** A sentinel that names one master, answers GET-MASTER-ADDR-BY-NAME after `delayMs`, and can publish +switch-master. */
function scriptedSentinel(masterPort: number): {
  server: Server; port: () => number; delay: (ms: number) => void; subscribers: () => number; switchMaster: () => number;
} {
  let delayMs = 0;
  const subscribers = new Set<Socket>();
  const server = createServer((socket) => {
    let buffer = '';
    socket.on('error', () => undefined);
    socket.on('close', () => subscribers.delete(socket));
    socket.on('data', (data) => {
      buffer += data.toString('latin1');
      for (;;) {
        const head = /^\*(\d+)\r\n/.exec(buffer);
        if (head === null) return;
        let at = head[0].length;
        const args: string[] = [];
        for (let i = 0; i < Number(head[1]); i++) {
          const bulk = /^\$(\d+)\r\n/.exec(buffer.slice(at));
          if (bulk === null) return;
          const start = at + bulk[0].length;
          if (buffer.length < start + Number(bulk[1]) + 2) return;
          args.push(buffer.slice(start, start + Number(bulk[1])));
          at = start + Number(bulk[1]) + 2;
        }
        buffer = buffer.slice(at);
        const [command = '', sub = ''] = args.map((a) => a.toLowerCase());
        if (command === 'subscribe') {
          subscribers.add(socket);
          socket.write(enc(['subscribe', args[1], 1]));
        } else if (sub === 'get-master-addr-by-name') {
          const wait = delayMs;
          setTimeout(() => socket.write(enc(['127.0.0.1', String(masterPort)])), wait);
        } else if (sub === 'sentinels') socket.write('*0\r\n');
        else socket.write('+OK\r\n');
      }
    });
  });
  return {
    server,
    port: () => (server.address() as { port: number }).port,
    delay: (ms) => {
      delayMs = ms;
    },
    subscribers: () => subscribers.size,
    switchMaster: () => {
      for (const s of subscribers) s.write(enc(['message', '+switch-master', `cachebench 127.0.0.1 ${masterPort} 127.0.0.1 ${masterPort}`]));
      return subscribers.size;
    },
  };
}

describe('an ioredis Sentinel client across a +switch-master that comes while it reconnects', () => {
  let redis: Awaited<ReturnType<typeof standalone>>;
  let sentinel: ReturnType<typeof scriptedSentinel>;
  before(async () => {
    redis = await standalone();
    sentinel = scriptedSentinel(redis.server.port);
    await new Promise<void>((resolve) => sentinel.server.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => sentinel.server.close(() => resolve()));
    await redis.stop();
  });

  it('connects again and serves (ioredis alone would stay ended and fail every op with "Connection is closed.")', async () => {
    const config = targetConfig('HA', [`127.0.0.1:${sentinel.port()}`], { mode: 'sentinel', sentinel: { master: 'cachebench' } });
    const first = { host: '127.0.0.1', port: redis.server.port, tls: false, display: redis.address };
    const probe = { mode: 'sentinel' as const, first, probes: [], passwordUnneeded: false, roles: { primaries: 1, replicas: 0 }, serverVersion: '7', warnings: [] };
    const target = await ioredisDriver.connect(config, { ...TEST_CONTROLS, resilient: true }, probe);
    const admin = connect(redis.server.port);
    try {
      await target.client.set('cachebench:race:1', Buffer.from('a'), 60);
      // The failover detector subscribes once the connection is up.
      const start = Date.now();
      while (sentinel.subscribers() === 0 && Date.now() - start < 2000) await new Promise((resolve) => setTimeout(resolve, 50));
      sentinel.delay(300);
      // The client's connection is dropped: it reconnects through the sentinel, whose answer now takes 300 ms.
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.ok(sentinel.switchMaster() > 0, 'the failover detector never subscribed');
      sentinel.delay(0);
      // Within 3 s the client serves again.
      let last = '';
      const until = Date.now() + 3000;
      let served = false;
      while (!served && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        served = await target.client.set('cachebench:race:2', Buffer.from('b'), 60).then(() => true, (error: unknown) => {
          last = error instanceof Error ? error.message : String(error);
          return false;
        });
      }
      assert.ok(served, `no SET served within 3 s after the +switch-master (last: ${last})`);
      assert.equal(String(await admin.get('cachebench:race:2')), 'b');
    } finally {
      await admin.del('cachebench:race:1', 'cachebench:race:2');
      admin.disconnect();
      await target.client.close();
    }
  });
});
