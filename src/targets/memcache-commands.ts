/**
 * The RESP-shaped commands a WORKLOAD or TRACE sends (workload/mix-model.ts), sent to memcached in its text protocol
 * where it has them, with replies in the shape the model judges (CommandReply): GET and MGET (a multi-key get, split
 * over the pool's servers), SET … EX (set), DEL (delete: 1 or 0), INCR/INCRBY/DECR/DECRBY (incr, decr: the new value,
 * or nil where memcached creates no key), EXPIRE (touch: 1 or 0). Anything else is refused before any traffic
 * (config/checks.ts); here it fails as a command error.
 */
import { CommandReplyError, type CommandReply } from './client.js';
import type { MemcacheConnection } from './memcache-protocol.js';

const OK = Buffer.from('OK');
const text = (a: string | Buffer | undefined): string => (a === undefined ? '' : typeof a === 'string' ? a : a.toString('latin1'));

/**
 * memcached keeps a number's length when decr shortens it, padding with spaces ("9 " after 10): the value is the
 * number. A generated value never reads as digits and spaces (its header holds other bytes).
 */
function unpadded(v: Buffer | null): Buffer | null {
  if (v === null || v.length < 2 || v[v.length - 1] !== 0x20) return v;
  const s = v.toString('latin1');
  return /^\d+ +$/.test(s) ? Buffer.from(s.trimEnd(), 'latin1') : v;
}

/** A whole number ≥ 0 argument (memcached's incr and decr take no sign). */
function amount(a: string | Buffer | undefined, command: string): number {
  const n = Number(text(a));
  if (!Number.isSafeInteger(n) || n < 0) throw new CommandReplyError(`ERR ${command} of ${JSON.stringify(text(a).slice(0, 20))}: memcached increments by a whole number of 0 or more`);
  return n;
}

/** Sends one command through the connection serving each key (`on`). */
export async function memcacheCommand(args: readonly (string | Buffer)[], on: (key: string) => MemcacheConnection): Promise<CommandReply> {
  const name = text(args[0]).toUpperCase();
  const key = text(args[1]);
  switch (name) {
    case 'GET':
      return unpadded(await on(key).get(key));
    case 'MGET': {
      const keys = args.slice(1).map(text);
      // One multi-key get per server holding some of the keys, in parallel; the reply in the keys' order.
      // Each key once per server (memcached answers a key asked twice twice), the reply by key.
      const by = new Map<MemcacheConnection, string[]>();
      for (const k of new Set(keys)) {
        const c = on(k);
        const list = by.get(c);
        if (list === undefined) by.set(c, [k]);
        else list.push(k);
      }
      const found = new Map<string, Buffer>();
      await Promise.all([...by].map(async ([c, list]) => {
        for (const [k, v] of await c.getMany(list)) found.set(k, v);
      }));
      return keys.map((k) => unpadded(found.get(k) ?? null));
    }
    case 'SET': {
      const unit = text(args[3]).toUpperCase();
      if (args.length !== 5 || unit !== 'EX') throw new CommandReplyError('ERR memcached sets a TTL in seconds: SET key value EX seconds');
      const value = args[2];
      await on(key).set(key, typeof value === 'string' ? Buffer.from(value) : value as Buffer, amount(args[4], 'EX'));
      return OK;
    }
    case 'DEL': {
      let n = 0;
      for (const k of args.slice(1).map(text)) if (await on(k).deleted(k)) n++;
      return n;
    }
    case 'INCR': case 'DECR':
      return await on(key).incr(key, 1, name === 'DECR');
    case 'INCRBY': case 'DECRBY':
      return await on(key).incr(key, amount(args[2], name), name === 'DECRBY');
    case 'EXPIRE':
      return (await on(key).touch(key, amount(args[2], name))) ? 1 : 0;
    default:
      throw new CommandReplyError(`ERR ${name.slice(0, 20)}: memcached's protocol has no such command`);
  }
}
