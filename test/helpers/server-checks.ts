/** Checks of a real server around a run: its command counts, keys of other applications, the results a run wrote. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { join } from 'node:path';
import type { ResultsDocument } from '../../src/report/document.js';
import { connect } from './servers.js';

/** Every command's calls on a server (INFO commandstats), upper-cased. */
export async function commandStats(port: number): Promise<Map<string, number>> {
  const redis = connect(port);
  try {
    const info = await redis.info('commandstats');
    return new Map([...info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)].map((m) => [(m[1] as string).toUpperCase(), Number(m[2])]));
  } finally {
    redis.disconnect();
  }
}

/** The results.json below `dir`. */
export function docIn(dir: string): ResultsDocument {
  const run = readdirSync(dir).find((d) => !d.startsWith('.'));
  assert.ok(run, `no run folder in ${dir}`);
  return JSON.parse(readFileSync(join(dir, run, 'results.json'), 'utf8')) as ResultsDocument;
}

/** Keys of other applications on the server: a workload must leave them as they are. */
export async function plantForeign(port: number): Promise<() => Promise<void>> {
  const redis = connect(port);
  await redis.set('app:{f}:s', 'keep');
  await redis.hset('app:{f}:h', 'a', '1', 'b', '2');
  await redis.rpush('app:{f}:l', 'x', 'y');
  await redis.zadd('app:{f}:z', '1', 'm');
  await redis.set('app:{f}:n', '41');
  redis.disconnect();
  return async () => {
    const r = connect(port);
    try {
      assert.equal(await r.get('app:{f}:s'), 'keep');
      assert.deepEqual(await r.hgetall('app:{f}:h'), { a: '1', b: '2' });
      assert.deepEqual(await r.lrange('app:{f}:l', 0, -1), ['x', 'y']);
      assert.deepEqual(await r.call('ZRANGE', 'app:{f}:z', '0', '-1', 'WITHSCORES'), ['m', '1']);
      assert.equal(await r.get('app:{f}:n'), '41');
      assert.equal(await r.ttl('app:{f}:s'), -1);
    } finally {
      r.disconnect();
    }
  };
}

/** memcached's `stats` (and, with `what`, e.g. `items`), on a connection of its own. */
export function memcachedStats(port: number, what = ''): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      text += d;
      if (text.endsWith('END\r\n')) {
        socket.end('quit\r\n');
        resolve(new Map(text.split('\r\n').filter((l) => l.startsWith('STAT ')).map((l) => {
          const [, k, v] = l.split(' ');
          return [k as string, Number(v)];
        })));
      }
    });
    socket.on('error', reject);
    socket.write(`stats${what === '' ? '' : ` ${what}`}\r\n`);
  });
}

/** The commands the server counts for one op: a command, or MULTI, EXEC and those inside, or EVALSHA and those its script calls. */
export function serverCommands(name: string): string[] {
  const m = /^(MULTI|EVAL)\((.*)\)$/.exec(name);
  if (m === null) return [name];
  const inner = (m[2] as string).split('+');
  return m[1] === 'MULTI' ? ['MULTI', ...inner, 'EXEC'] : ['EVALSHA', ...inner];
}
