/** Bytes on the wire of a WORKLOAD's commands and replies, as RESP frames them (the per-command B out / B in). */
import type { CommandReply } from '../targets/client.js';

/** Decimal digits of a non-negative integer. */
const digits = (n: number): number => (n < 10 ? 1 : Math.floor(Math.log10(n)) + 1);

/**
 * Bytes of a command in RESP (`*N\r\n` then `$len\r\n<bytes>\r\n` per argument), as every driver sends it. A WORKLOAD's
 * text arguments are ASCII (key names, fields, members, numbers, ASCII literals: config/workload.ts), one byte per character.
 */
export function requestBytes(args: readonly (string | Buffer)[]): number {
  let n = 3 + digits(args.length);
  for (const a of args) {
    const len = a.length;
    n += 5 + digits(len) + len;
  }
  return n;
}

/**
 * Bytes of a reply in RESP2 as its shape gives it: a bulk string `$len\r\n…\r\n`, an integer `:n\r\n`, nil `$-1\r\n`, an
 * array `*N\r\n…`. A status (+OK) arrives as a Buffer too and is counted as a bulk string (3 bytes more); a RESP3 double as
 * an integer's text.
 */
export function replyBytes(reply: CommandReply): number {
  if (reply === null) return 5;
  if (typeof reply === 'number') return 3 + String(reply).length;
  if (Buffer.isBuffer(reply)) return 5 + digits(reply.length) + reply.length;
  let n = 3 + digits(reply.length);
  for (const r of reply) n += replyBytes(r);
  return n;
}
