/**
 * A small RESP2/RESP3 reply reader and command encoder, for the capability probe's own connection
 * (capabilities.ts). It reads whole replies of every type Redis and Valkey send; streamed RESP3 replies
 * (`$?`, `*?`), which no server sends to these commands, are refused as a protocol error.
 */

/** One reply. RESP2's null bulk (`$-1`) and null array (`*-1`) read as `null`, like RESP3's `_`. */
export type RespReply =
  | { readonly type: 'simple'; readonly value: string }
  /** `-ERR ...` or a RESP3 blob error (`!`): the message, without the leading `-`. */
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'integer'; readonly value: bigint }
  | { readonly type: 'bulk'; readonly value: Buffer }
  | { readonly type: 'array'; readonly items: readonly RespReply[] }
  | { readonly type: 'map'; readonly entries: readonly (readonly [RespReply, RespReply])[] }
  | { readonly type: 'set'; readonly items: readonly RespReply[] }
  | { readonly type: 'null' }
  | { readonly type: 'boolean'; readonly value: boolean }
  /** `,inf`, `,-inf` and `,nan` read as Infinity, -Infinity and NaN. */
  | { readonly type: 'double'; readonly value: number }
  | { readonly type: 'bignum'; readonly value: bigint }
  /** `=` verbatim string: `format` is its three-letter type (txt, mkd), `value` the text after `fmt:`. */
  | { readonly type: 'verbatim'; readonly format: string; readonly value: string }
  /** `>` out-of-band data (invalidations, pub/sub), not the answer to a command. */
  | { readonly type: 'push'; readonly items: readonly RespReply[] };

/** Bytes that are not a RESP reply, or one too large or too deeply nested to read. */
export class RespProtocolError extends Error {
  override readonly name = 'RespProtocolError';
}

/** Most bytes one reply may take (and the reader may hold) before it gives up. */
export const DEFAULT_MAX_REPLY_BYTES = 16 * 1024 * 1024;
/** Deepest nesting of aggregates read; deeper is a protocol error (a stack overflow otherwise). */
const MAX_DEPTH = 64;

const CR = 0x0d;
const LF = 0x0a;
const INTEGER = /^-?\d+$/;
/** The first byte of each reply type: RESP2's five, then RESP3's. */
const TYPE_BYTES = '+-:$*_#,(!=%~|>';

/** A partial read: the reply is not complete yet. */
const INCOMPLETE = Symbol('incomplete');
type Parsed = { readonly reply: RespReply; readonly end: number } | typeof INCOMPLETE;

/**
 * Reads replies from a byte stream that may arrive in chunks split anywhere.
 * `push` each chunk, then call `next` until it returns undefined (no complete reply buffered).
 * RESP3 attributes (`|`) are read and dropped: `next` returns the reply they annotate.
 */
export class RespReader {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes: number = DEFAULT_MAX_REPLY_BYTES) {}

  /** Bytes received but not yet returned as a reply. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Adds received bytes. Throws RespProtocolError once more than `maxBytes` wait unread. */
  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.buffer.length > this.maxBytes) throw new RespProtocolError(`a reply longer than ${this.maxBytes} bytes`);
  }

  /** The next complete reply, or undefined when it has not fully arrived. Throws RespProtocolError on bytes that are not RESP. */
  next(): RespReply | undefined {
    const parsed = this.parse(0, 0);
    if (parsed === INCOMPLETE) return undefined;
    this.buffer = this.buffer.subarray(parsed.end);
    return parsed.reply;
  }

  /** The line starting at `start` (without CRLF) and the offset after its CRLF. */
  private line(start: number): { readonly text: string; readonly end: number } | typeof INCOMPLETE {
    const cr = this.buffer.indexOf('\r\n', start, 'latin1');
    if (cr < 0) return INCOMPLETE;
    return { text: this.buffer.toString('utf8', start, cr), end: cr + 2 };
  }

  private length(text: string, kind: string, allowNull: boolean): number {
    if (!INTEGER.test(text)) throw new RespProtocolError(`bad ${kind} length ${JSON.stringify(text.slice(0, 40))}`);
    const n = Number(text);
    if (n < (allowNull ? -1 : 0) || n > this.maxBytes) throw new RespProtocolError(`${kind} length ${text} out of range`);
    return n;
  }

  /** The `len` bytes at `start`, which must be followed by CRLF. */
  private blob(start: number, len: number): { readonly bytes: Buffer; readonly end: number } | typeof INCOMPLETE {
    const end = start + len;
    if (this.buffer.length < end + 2) return INCOMPLETE;
    if (this.buffer[end] !== CR || this.buffer[end + 1] !== LF) throw new RespProtocolError(`a ${len}-byte string not followed by CRLF`);
    return { bytes: Buffer.from(this.buffer.subarray(start, end)), end: end + 2 };
  }

  /** `count` replies from `start`. */
  private items(start: number, count: number, depth: number): { readonly items: RespReply[]; readonly end: number } | typeof INCOMPLETE {
    // Every reply takes at least 3 bytes: a count no stream of maxBytes can hold is refused now, not waited for.
    if (count * 3 > this.maxBytes) throw new RespProtocolError(`an aggregate of ${count} elements`);
    const items: RespReply[] = [];
    let at = start;
    for (let i = 0; i < count; i++) {
      const item = this.parse(at, depth + 1);
      if (item === INCOMPLETE) return INCOMPLETE;
      items.push(item.reply);
      at = item.end;
    }
    return { items, end: at };
  }

  private parse(start: number, depth: number): Parsed {
    if (depth > MAX_DEPTH) throw new RespProtocolError(`replies nested deeper than ${MAX_DEPTH}`);
    if (this.buffer.length <= start) return INCOMPLETE;
    const prefix = String.fromCharCode(this.buffer[start] as number);
    // Checked before the header line is complete: a peer that does not speak RESP is found at its first byte.
    if (!TYPE_BYTES.includes(prefix)) throw new RespProtocolError(`unknown reply type byte 0x${(this.buffer[start] as number).toString(16).padStart(2, '0')}`);
    const header = this.line(start + 1);
    if (header === INCOMPLETE) return INCOMPLETE;
    const { text, end } = header;
    switch (prefix) {
      case '+':
        return { reply: { type: 'simple', value: text }, end };
      case '-':
        return { reply: { type: 'error', message: text }, end };
      case ':':
        if (!INTEGER.test(text)) throw new RespProtocolError(`bad integer ${JSON.stringify(text.slice(0, 40))}`);
        return { reply: { type: 'integer', value: BigInt(text) }, end };
      case '(':
        if (!INTEGER.test(text)) throw new RespProtocolError(`bad big number ${JSON.stringify(text.slice(0, 40))}`);
        return { reply: { type: 'bignum', value: BigInt(text) }, end };
      case '_':
        if (text !== '') throw new RespProtocolError(`bad null ${JSON.stringify(text.slice(0, 40))}`);
        return { reply: { type: 'null' }, end };
      case '#':
        if (text !== 't' && text !== 'f') throw new RespProtocolError(`bad boolean ${JSON.stringify(text.slice(0, 40))}`);
        return { reply: { type: 'boolean', value: text === 't' }, end };
      case ',':
        return { reply: { type: 'double', value: parseDouble(text) }, end };
      case '$':
      case '!':
      case '=': {
        if (text === '?') throw new RespProtocolError('streamed strings are not supported');
        const len = this.length(text, 'string', prefix === '$');
        if (len < 0) return { reply: { type: 'null' }, end };
        const blob = this.blob(end, len);
        if (blob === INCOMPLETE) return INCOMPLETE;
        if (prefix === '!') return { reply: { type: 'error', message: blob.bytes.toString('utf8') }, end: blob.end };
        if (prefix === '$') return { reply: { type: 'bulk', value: blob.bytes }, end: blob.end };
        if (len < 4 || blob.bytes[3] !== 0x3a) throw new RespProtocolError('a verbatim string without its fmt: prefix');
        return { reply: { type: 'verbatim', format: blob.bytes.toString('latin1', 0, 3), value: blob.bytes.toString('utf8', 4) }, end: blob.end };
      }
      case '*':
      case '~':
      case '>': {
        if (text === '?') throw new RespProtocolError('streamed aggregates are not supported');
        const count = this.length(text, 'aggregate', prefix === '*');
        if (count < 0) return { reply: { type: 'null' }, end };
        const read = this.items(end, count, depth);
        if (read === INCOMPLETE) return INCOMPLETE;
        const type = prefix === '*' ? 'array' : prefix === '~' ? 'set' : 'push';
        return { reply: { type, items: read.items }, end: read.end };
      }
      case '%':
      case '|': {
        if (text === '?') throw new RespProtocolError('streamed maps are not supported');
        const count = this.length(text, 'map', false);
        const read = this.items(end, count * 2, depth);
        if (read === INCOMPLETE) return INCOMPLETE;
        // An attribute annotates the reply that follows it: that reply is what was asked for.
        if (prefix === '|') return this.parse(read.end, depth);
        const entries: (readonly [RespReply, RespReply])[] = [];
        for (let i = 0; i < read.items.length; i += 2) entries.push([read.items[i] as RespReply, read.items[i + 1] as RespReply]);
        return { reply: { type: 'map', entries }, end: read.end };
      }
      default:
        throw new RespProtocolError(`unknown reply type ${JSON.stringify(prefix)}`);
    }
  }
}

function parseDouble(text: string): number {
  if (text === 'inf' || text === '+inf') return Infinity;
  if (text === '-inf') return -Infinity;
  if (text === 'nan' || text === '-nan') return NaN;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new RespProtocolError(`bad double ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}

/** A command as a RESP array of bulk strings (what every server, RESP2 or RESP3, accepts). */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** The text of a simple, bulk or verbatim string reply; undefined for any other reply. */
export function replyText(reply: RespReply): string | undefined {
  if (reply.type === 'simple' || reply.type === 'verbatim') return reply.value;
  if (reply.type === 'bulk') return reply.value.toString('utf8');
  return undefined;
}

/** A map reply's entries by their text keys (RESP3 map, or RESP2's flat key/value array as HELLO 2 sends). */
export function replyFields(reply: RespReply): Map<string, RespReply> {
  const fields = new Map<string, RespReply>();
  const pairs: (readonly [RespReply, RespReply])[] = [];
  if (reply.type === 'map') for (const entry of reply.entries) pairs.push(entry);
  else if (reply.type === 'array') {
    for (let i = 0; i + 1 < reply.items.length; i += 2) pairs.push([reply.items[i] as RespReply, reply.items[i + 1] as RespReply]);
  }
  for (const [key, value] of pairs) {
    const name = replyText(key);
    if (name !== undefined) fields.set(name, value);
  }
  return fields;
}

/** One line describing a reply, for notes: an error's message, a string's text, else its type. */
export function describeReply(reply: RespReply): string {
  switch (reply.type) {
    case 'error':
      return reply.message;
    case 'simple':
    case 'verbatim':
      return reply.value;
    case 'bulk':
      return reply.value.toString('utf8');
    case 'integer':
    case 'bignum':
    case 'boolean':
    case 'double':
      return `${reply.type} ${String(reply.value)}`;
    case 'null':
      return 'null';
    case 'map':
      return `a map of ${reply.entries.length} entries`;
    case 'array':
      return `an array of ${reply.items.length} elements`;
    case 'set':
    case 'push':
      return `a ${reply.type} of ${reply.items.length} elements`;
  }
}
