import { RespProtocolError } from './resp.js';

/**
 * The wire format of cachebench's own RESP client (resp-connection.ts): a streaming RESP2 reply parser that hands out
 * bulk strings where they lie in the received bytes (a 20 KB value is not copied to be verified), and a command
 * encoder that gathers every command of one event-loop turn into one write.
 *
 * The client speaks RESP2 only (no HELLO): what every server and proxy (twemproxy) answers, one round trip less at
 * connect. RESP3 reply types are therefore a protocol error here (the capability probe reads them: resp.ts).
 */

/** An error reply (`-ERR ...`): its text without the `-`. Not an Error: no stack is captured on the hot path. */
export class WireError {
  constructor(readonly message: string) {}
}

/** One RESP2 reply: simple string, error, integer, bulk string (null for `$-1`), or array (null for `*-1`). */
export type Wire = string | WireError | number | Buffer | null | readonly Wire[];

const CR = 0x0d;
const LF = 0x0a;
const EMPTY = Buffer.alloc(0);
/** Deepest nesting of arrays read; deeper is a protocol error. */
const MAX_DEPTH = 16;
/** Longest line (type byte, length or simple string) before it counts as garbage. */
const MAX_LINE = 64 * 1024;
/** A parse that needs more bytes. */
const INCOMPLETE = -1;
/** The value of an array header whose items follow (not a reply of its own). */
const OPENED: Wire = Object.freeze([]) as Wire;

/** `digits` of buf[from, to) as an integer (an optional leading -); NaN when they are not one. */
function integerAt(buf: Buffer, from: number, to: number): number {
  let i = from;
  let negative = false;
  if (buf[i] === 0x2d) {
    negative = true;
    i++;
  }
  if (i >= to || to - i > 15) return NaN;
  let n = 0;
  for (; i < to; i++) {
    const d = (buf[i] as number) - 0x30;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

/**
 * The most one reply (an array: an MGET, EXEC's or a script's) may hold, counted as its bytes plus ITEM_COST per item
 * (what an item costs in memory beyond its bytes: a Buffer or number in an array): 4 times the largest bulk string
 * allowed, at least 64 MiB, at most 1 GiB.
 */
const MIN_REPLY_TOTAL = 64 * 1024 * 1024;
const MAX_REPLY_TOTAL = 1024 * 1024 * 1024;
const ITEM_COST = 64;
/** The most items one reply may have (the largest a WORKLOAD reads: 10,000 fields or members, with scores, in ten commands). */
const MAX_REPLY_ITEMS = 1 << 20;
/** An array whose header was read and whose items are still coming. */
interface Frame {
  readonly items: Wire[];
  readonly count: number;
  /** Items up to here are the parser's own memory (copied out of a received chunk, or filled in a buffer of their own). */
  owned: number;
}

/** A copy of a reply whose bulk strings may be views of a received chunk (the connection reuses its read buffer). */
function own(w: Wire): Wire {
  if (Buffer.isBuffer(w)) return Buffer.from(w);
  return Array.isArray(w) ? w.map(own) : w;
}

/**
 * Reads replies from a byte stream that arrives in chunks split anywhere, in one pass: a bulk string that does not fit
 * the chunk it starts in is filled by the chunks that follow into a buffer of its own size (one copy, never a
 * concatenation of the whole stream), and an array is built item by item across chunks (the open arrays on a stack),
 * so a reply of any shape costs work in proportion to its bytes. A partial line waits up to MAX_LINE; one reply holds at
 * most `maxBytes` per bulk string and REPLY_TOTAL_FACTOR times that in all.
 */
export class RespParser {
  #rest: Buffer = EMPTY;
  /** A bulk string being filled (with its CRLF), and how far. */
  #bulk: Buffer | undefined;
  #bulkAt = 0;
  #value: Wire = null;
  /** The arrays open around the item being read (outermost first). */
  readonly #stack: Frame[] = [];
  /** What the reply being read holds so far: its bytes and ITEM_COST per item, and its items. */
  #held = 0;
  #items = 0;
  /** Bytes of the reply being read that are in its open arrays' items (for `buffered`). */
  #inItems = 0;
  readonly #maxTotal: number;

  constructor(private readonly maxBytes: number) {
    this.#maxTotal = Math.min(MAX_REPLY_TOTAL, Math.max(MIN_REPLY_TOTAL, 4 * maxBytes));
  }

  /** Bytes received and not yet part of a returned reply. */
  get buffered(): number {
    return this.#rest.length + (this.#bulk === undefined ? 0 : this.#bulkAt) + this.#inItems;
  }

  /**
   * Calls `onReply` for every complete reply in `chunk` (after what came before), in order. Throws RespProtocolError.
   * A bulk string handed to onReply may be a view of `chunk`; nothing of `chunk` is kept after the call.
   */
  feed(chunk: Buffer, onReply: (reply: Wire) => void): void {
    let data = chunk;
    if (this.#bulk !== undefined) {
      const bulk = this.#bulk;
      const take = Math.min(bulk.length - this.#bulkAt, data.length);
      data.copy(bulk, this.#bulkAt, 0, take);
      this.#bulkAt += take;
      if (this.#bulkAt < bulk.length) return;
      this.#bulk = undefined;
      if (bulk[bulk.length - 2] !== CR || bulk[bulk.length - 1] !== LF) throw new RespProtocolError('a bulk string not followed by CRLF');
      this.#item(bulk.subarray(0, bulk.length - 2), onReply, true, bulk.length);
      data = data.subarray(take);
      if (data.length === 0) return this.#keep();
    }
    const buf = this.#rest.length === 0 ? data : Buffer.concat([this.#rest, data]);
    this.#rest = EMPTY;
    let pos = 0;
    while (pos < buf.length) {
      const end = this.#parse(buf, pos);
      if (end === INCOMPLETE) {
        if (buf[pos] === 0x24 && this.#startBulk(buf, pos)) return this.#keep();
        break;
      }
      this.#count(end - pos);
      if (this.#value !== OPENED) this.#item(this.#value, onReply, false, end - pos);
      else this.#inItems += end - pos;
      pos = end;
    }
    // What is left is part of one line or bulk-string header (items are taken as they complete): at most MAX_LINE.
    if (pos < buf.length) {
      if (buf.length - pos > MAX_LINE) throw new RespProtocolError(`a reply line longer than ${MAX_LINE} bytes`);
      // A copy: the chunk may be a read buffer the connection reuses for the next read (resp-connection.ts).
      this.#rest = Buffer.from(buf.subarray(pos));
    }
    this.#keep();
  }

  /** Counts one more item of `n` bytes of the reply being read against its bounds. */
  #count(n: number): void {
    this.#held += n + ITEM_COST;
    if (++this.#items > MAX_REPLY_ITEMS) throw new RespProtocolError(`a reply of more than ${MAX_REPLY_ITEMS} items`);
    if (this.#held > this.#maxTotal) throw new RespProtocolError(`a reply of more than ${this.#maxTotal} bytes (with ${ITEM_COST} per item)`);
  }

  /** Items of open arrays that are views of the chunk just read become the parser's own (they outlive the chunk). */
  #keep(): void {
    for (const f of this.#stack) {
      for (let i = f.owned; i < f.items.length; i++) f.items[i] = own(f.items[i] as Wire);
      f.owned = f.items.length;
    }
  }

  /** A complete item: into the innermost open array, closing those it completes; a reply when none is left open. */
  #item(value: Wire, onReply: (reply: Wire) => void, owned: boolean, bytes: number): void {
    let v = value;
    let mine = owned;
    for (;;) {
      const top = this.#stack[this.#stack.length - 1];
      if (top === undefined) break;
      top.items.push(v);
      this.#inItems += bytes;
      bytes = 0;
      if (mine && top.owned === top.items.length - 1) top.owned++;
      if (top.items.length < top.count) return;
      this.#stack.pop();
      v = top.items;
      // An array whose items are all the parser's own is its own too (not copied again by #keep).
      mine = top.owned === top.items.length;
    }
    this.#held = 0;
    this.#items = 0;
    this.#inItems = 0;
    onReply(v);
  }

  /** A bulk string at `pos` whose header arrived but not its body: start filling it. False: the header is not complete. */
  #startBulk(buf: Buffer, pos: number): boolean {
    const cr = buf.indexOf(CR, pos);
    if (cr < 0 || cr + 1 >= buf.length) return false;
    const length = integerAt(buf, pos + 1, cr);
    this.#count(cr + 2 - pos + length + 2);
    const body = cr + 2;
    const bulk = Buffer.allocUnsafe(length + 2);
    const have = buf.copy(bulk, 0, body);
    this.#bulk = bulk;
    this.#bulkAt = have;
    return true;
  }

  /** The end of the item at `pos` (its value in #value; OPENED for an array whose items follow), or INCOMPLETE. */
  #parse(buf: Buffer, pos: number): number {
    const cr = buf.indexOf(CR, pos);
    if (cr < 0 || cr + 1 >= buf.length) {
      if (cr < 0 && buf.length - pos > MAX_LINE) throw new RespProtocolError('a reply line without CRLF');
      return INCOMPLETE;
    }
    if (buf[cr + 1] !== LF) throw new RespProtocolError('a CR not followed by LF');
    const next = cr + 2;
    switch (buf[pos]) {
      case 0x2b: // +
        this.#value = buf.toString('utf8', pos + 1, cr);
        return next;
      case 0x2d: // -
        this.#value = new WireError(buf.toString('utf8', pos + 1, cr));
        return next;
      case 0x3a: { // :
        const n = integerAt(buf, pos + 1, cr);
        if (Number.isNaN(n)) throw new RespProtocolError('an integer reply that is not a number');
        this.#value = n;
        return next;
      }
      case 0x24: { // $
        const length = integerAt(buf, pos + 1, cr);
        if (length === -1) {
          this.#value = null;
          return next;
        }
        if (!(length >= 0) || length > this.maxBytes) throw new RespProtocolError(`a bulk string of ${buf.toString('latin1', pos + 1, Math.min(cr, pos + 20))} bytes`);
        const end = next + length;
        if (end + 2 > buf.length) return INCOMPLETE;
        if (buf[end] !== CR || buf[end + 1] !== LF) throw new RespProtocolError('a bulk string not followed by CRLF');
        this.#value = buf.subarray(next, end);
        return end + 2;
      }
      case 0x2a: { // *
        const count = integerAt(buf, pos + 1, cr);
        if (count === -1 || count === 0) {
          this.#value = count === 0 ? [] : null;
          return next;
        }
        // Each item takes 3 bytes at least: more items than the reply may hold bytes is not a reply.
        if (!(count > 0) || count > MAX_REPLY_ITEMS) throw new RespProtocolError('an array of an impossible length');
        if (this.#stack.length >= MAX_DEPTH) throw new RespProtocolError(`arrays nested deeper than ${MAX_DEPTH}`);
        this.#stack.push({ items: [], count, owned: 0 });
        this.#value = OPENED;
        return next;
      }
      default:
        throw new RespProtocolError(`a reply starting with byte ${buf[pos]} (RESP2 replies start with + - : $ *)`);
    }
  }
}

/**
 * Encodes commands into one batch: text parts are joined as a string, binary values kept as they are; `take` returns
 * the whole batch as one Buffer for one socket write.
 */
export class CommandBatch {
  #text = '';
  #parts: Buffer[] = [];
  #bytes = 0;

  get empty(): boolean {
    return this.#text.length === 0 && this.#parts.length === 0;
  }

  /** Appends one command: its name and arguments, strings as UTF-8. */
  add(args: readonly (string | number | Buffer)[]): void {
    let s = `*${args.length}\r\n`;
    for (const arg of args) {
      if (typeof arg === 'string') s += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
      else if (typeof arg === 'number') {
        const text = String(arg);
        s += `$${text.length}\r\n${text}\r\n`;
      } else {
        this.#text += `${s}$${arg.length}\r\n`;
        this.#flushText();
        this.#parts.push(arg);
        this.#bytes += arg.length;
        s = '\r\n';
      }
    }
    this.#text += s;
  }

  #flushText(): void {
    if (this.#text.length === 0) return;
    const b = Buffer.from(this.#text);
    this.#parts.push(b);
    this.#bytes += b.length;
    this.#text = '';
  }

  /** The batch's bytes (and an empty batch after). */
  take(): Buffer {
    if (this.#parts.length === 0) {
      const b = Buffer.from(this.#text);
      this.#text = '';
      return b;
    }
    this.#flushText();
    const out = this.#parts.length === 1 ? this.#parts[0] as Buffer : Buffer.concat(this.#parts, this.#bytes);
    this.#parts = [];
    this.#bytes = 0;
    return out;
  }
}
