import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { KETAMA_POINTS_PER_SERVER, KetamaRing } from '../../src/targets/ketama.js';

/**
 * libketama, written out the long way as a reference: every (point, server) pair from the MD5 of `host:port-k`, and
 * a key's server found by scanning all points for the smallest at or after the key's hash (no sorting, no search).
 */
function referenceServer(servers: readonly string[], key: string): number {
  const word = (d: Buffer, h: number): number =>
    ((d[3 + h * 4] as number) << 24 | (d[2 + h * 4] as number) << 16 | (d[1 + h * 4] as number) << 8 | (d[h * 4] as number)) >>> 0;
  const hash = word(createHash('md5').update(key).digest(), 0);
  let best: { point: number; server: number } | undefined;
  let lowest: { point: number; server: number } | undefined;
  servers.forEach((s, server) => {
    for (let k = 0; k < 40; k++) {
      const d = createHash('md5').update(`${s}-${k}`).digest();
      for (let h = 0; h < 4; h++) {
        const point = word(d, h);
        if (point >= hash && (best === undefined || point < best.point || (point === best.point && server < best.server))) best = { point, server };
        if (lowest === undefined || point < lowest.point || (point === lowest.point && server < lowest.server)) lowest = { point, server };
      }
    }
  });
  return (best ?? lowest)?.server ?? -1;
}

const SERVERS = ['127.0.0.1:11211', '127.0.0.1:11212', '127.0.0.1:11213'];
const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `cachebench:20261126-031907-dfe6:${createHash('sha1').update(String(i)).digest('hex')}`);

/**
 * Keys and their servers as computed by another libketama-compatible implementation, npm `hashring` 3.2
 * (`new HashRing(SERVERS, 'md5', { compatibility: 'ketama' }).get(key)`), run once and written down here.
 */
const HASHRING_VECTORS: readonly [string, string][] = [
  ['foo', '127.0.0.1:11213'], ['bar', '127.0.0.1:11212'], ['cachebench:20261126-031907-dfe6:3f2504e0-4f89-11d3-9a0c-0305e82c3301', '127.0.0.1:11212'],
  ['a', '127.0.0.1:11212'], ['memcached', '127.0.0.1:11213'], ['key:1', '127.0.0.1:11212'], ['key:2', '127.0.0.1:11212'], ['key:3', '127.0.0.1:11212'],
  ['key:4', '127.0.0.1:11211'], ['key:5', '127.0.0.1:11212'], ['x'.repeat(250), '127.0.0.1:11213'],
];

describe('ketama consistent hashing', () => {
  it('agrees with an independent libketama implementation (npm hashring in ketama mode) on known keys', () => {
    const ring = new KetamaRing(SERVERS);
    for (const [key, server] of HASHRING_VECTORS) assert.equal(SERVERS[ring.indexOf(key)], server, key.slice(0, 40));
  });

  it('puts each key on the server libketama\'s scan of every point gives', () => {
    const ring = new KetamaRing(SERVERS);
    for (const key of keys(300)) assert.equal(ring.indexOf(key), referenceServer(SERVERS, key), key);
    assert.equal(KETAMA_POINTS_PER_SERVER, 160);
  });

  it('spreads keys evenly over 3 servers (each within a third ± 5 points of 30,000 keys) and moves only the keys of a removed server', () => {
    const ring = new KetamaRing(SERVERS);
    const all = keys(30_000);
    const counts = [0, 0, 0];
    for (const key of all) counts[ring.indexOf(key)] = (counts[ring.indexOf(key)] ?? 0) + 1;
    for (const c of counts) assert.ok(Math.abs(c / all.length - 1 / 3) < 0.05, `shares ${counts.map((x) => (x / all.length).toFixed(3)).join(' / ')}`);
    const without = new KetamaRing([SERVERS[0] as string, SERVERS[2] as string]);
    for (const key of all) {
      const before = SERVERS[ring.indexOf(key)];
      const after = [SERVERS[0], SERVERS[2]][without.indexOf(key)];
      if (before !== SERVERS[1]) assert.equal(after, before, `${key} moved although its server stayed`);
    }
  });
});
