import { createHash } from 'node:crypto';

/** Points per server on the ring: libketama's 40 MD5 digests × 4 points each, for servers of equal weight. */
export const KETAMA_POINTS_PER_SERVER = 160;

/** The 4 little-endian 32-bit words of an MD5 digest, as libketama reads them. */
function md5Words(text: string): number[] {
  const d = createHash('md5').update(text).digest();
  return [0, 1, 2, 3].map((h) => d.readUInt32LE(h * 4));
}

/**
 * libketama's consistent hashing (the memcached clients' de-facto standard; libmemcached's
 * MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED with equal weights, spymemcached's KETAMA_HASH): each server `host:port` puts
 * 160 points on a 32-bit ring, MD5 of `host:port-<k>` for k = 0…39, each digest giving 4 points; a key goes to the
 * first point at or after the first 4 bytes (little-endian) of the MD5 of the key, wrapping around. Adding or
 * removing a server moves only about 1/N of the keys.
 */
export class KetamaRing {
  readonly #points: Uint32Array;
  readonly #owners: Uint16Array;
  readonly servers: readonly string[];

  constructor(servers: readonly string[]) {
    if (servers.length === 0) throw new Error('a ketama ring needs at least one server');
    this.servers = servers;
    const points: { point: number; owner: number }[] = [];
    servers.forEach((server, owner) => {
      for (let k = 0; k < KETAMA_POINTS_PER_SERVER / 4; k++) for (const point of md5Words(`${server}-${k}`)) points.push({ point, owner });
    });
    // Ties (vanishingly rare) go to the server listed first, so the ring does not depend on sort stability.
    points.sort((a, b) => a.point - b.point || a.owner - b.owner);
    this.#points = Uint32Array.from(points, (p) => p.point);
    this.#owners = Uint16Array.from(points, (p) => p.owner);
  }

  /** The key's position on the ring. */
  static hash(key: string): number {
    return md5Words(key)[0] as number;
  }

  /** Index (into `servers`) of the server that holds `key`. */
  indexOf(key: string): number {
    const h = KetamaRing.hash(key);
    const points = this.#points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((points[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    return this.#owners[lo === points.length ? 0 : lo] as number;
  }
}
