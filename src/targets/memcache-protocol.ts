import { connect, type Socket } from 'node:net';
import { ConnectionLostError, OpTimeoutError } from './client.js';
import { withDeadline } from './deadline.js';

/**
 * One connection speaking memcached's text (ASCII) protocol — the one memcached, twemproxy and mcrouter all serve —
 * with values as raw bytes (a value is never decoded as text), requests pipelined (replies come in request order)
 * and a deadline per op. An op past its deadline fails at once but keeps its place in the queue, so its late reply
 * is read and thrown away and the ops behind it still get theirs (as ioredis's commandTimeout does); the connection
 * is dropped only on a protocol surprise, a lost socket, or when MAX_ABANDONED replies are owed. The next op after a
 * drop connects again.
 */

/** A reply memcached sends for a request it refuses: `ERROR`, `CLIENT_ERROR <why>`, `SERVER_ERROR <why>`, `NOT_STORED`. */
export class MemcacheReplyError extends Error {
  override readonly name = 'MemcacheReplyError';
  constructor(readonly server: string, readonly reply: string) {
    super(`${server} replied ${reply}`);
  }
}

/** A key cachebench cannot send in memcached's text protocol. */
export class MemcacheKeyError extends Error {
  override readonly name = 'MemcacheKeyError';
}

type Kind = 'set' | 'get' | 'getMany' | 'delete' | 'incr' | 'touch' | 'version' | 'stats';
type Reply = Buffer | string | number | boolean | null | ReadonlyMap<string, string> | ReadonlyMap<string, Buffer>;

/** STAT lines a `stats settings` reply may hold before it counts as a protocol surprise (memcached 1.6 sends about 70). */
const MAX_STAT_LINES = 500;

interface Pending {
  readonly kind: Kind;
  readonly resolve: (value: Reply) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** get: the value read so far (a VALUE line came), waiting for END. */
  value: Buffer | null;
  /** Given up at its deadline: its reply is still read, then dropped. */
  abandoned: boolean;
  /** stats: the STAT lines read so far (and how many), waiting for END. */
  stats?: Map<string, string>;
  statLines?: number;
  /** delete: settle with whether the key was there, not with null. */
  answer?: boolean;
  /** getMany: the keys asked for, the values read so far by key, and the key whose data block is being read. */
  keys?: ReadonlySet<string>;
  values?: Map<string, Buffer>;
  reading?: string;
}

/** Late replies a connection may owe before it is dropped and opened again (a server that stopped answering). */
export const MAX_ABANDONED = 1000;
/** The largest value a reply may announce when no limit is given: memcached's own maximum item size. */
const MAX_VALUE_BYTES = 1024 * 1024 * 1024;
/** How long close() lets a `quit` reach the server before the socket is destroyed. */
const QUIT_WAIT_MS = 200;

const CRLF = Buffer.from('\r\n');
/** A key memcached accepts in its text protocol: 1–250 bytes, no control characters or spaces. */
const VALID_KEY = /^[\x21-\x7e]{1,250}$/;

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** How the server is named in messages (host:port, IPv6 in brackets). */
  readonly display: string;
  readonly connectTimeoutMs: number;
  readonly opTimeoutMs: number;
  /** The largest value a reply may announce (the servers' item size limit); a larger one is a protocol error. @default 1 GiB */
  readonly maxValueBytes?: number;
}

export class MemcacheConnection {
  readonly #options: ConnectionOptions;
  #socket: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  readonly #pending: Pending[] = [];
  #buffer: Buffer = Buffer.alloc(0);
  /** Bytes of a VALUE's data block (data + CRLF) still expected; 0: reading lines. */
  #bodyLeft = 0;
  #body: Buffer | undefined;
  #bodyAt = 0;
  /** The bytes after a value's data (must be CRLF). */
  #trailer = '';
  #closed = false;
  #maxValueBytes: number;
  /** Bytes written and read so far, every socket of this connection's life. */
  #wire = 0;

  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.#maxValueBytes = options.maxValueBytes ?? MAX_VALUE_BYTES;
  }

  get server(): string {
    return this.#options.display;
  }

  /** Bytes written to the server and read from it so far (requests and replies on the wire). */
  get wireBytes(): number {
    return this.#wire;
  }

  /** Connects now (at connect time, so an unreachable server is found before any traffic). */
  async open(): Promise<void> {
    await this.#connected();
  }

  async set(key: string, value: Buffer, ttlSeconds: number): Promise<void> {
    const head = Buffer.from(`set ${checkKey(key)} 0 ${ttlSeconds} ${value.length}\r\n`);
    await this.#request('set', [head, value, CRLF]);
  }

  /** get: the value, or null when the key is not there. */
  async get(key: string): Promise<Buffer | null> {
    return await this.#request('get', [Buffer.from(`get ${checkKey(key)}\r\n`)], false, new Set([key])) as Buffer | null;
  }

  async delete(key: string): Promise<void> {
    await this.#request('delete', [Buffer.from(`delete ${checkKey(key)}\r\n`)]);
  }

  /** delete, saying whether the key was there (DELETED) or not (NOT_FOUND). */
  async deleted(key: string): Promise<boolean> {
    return await this.#request('delete', [Buffer.from(`delete ${checkKey(key)}\r\n`)], true) as boolean;
  }

  /** A multi-key get: the values found, by key (a key without one is absent from the map). */
  async getMany(keys: readonly string[]): Promise<ReadonlyMap<string, Buffer>> {
    const line = Buffer.from(`get ${keys.map(checkKey).join(' ')}\r\n`);
    return await this.#request('getMany', [line], false, new Set(keys)) as ReadonlyMap<string, Buffer>;
  }

  /** incr or decr by `by` (a whole number ≥ 0): the new value, or null when the key is not there (memcached creates none). */
  async incr(key: string, by: number, down = false): Promise<number | null> {
    return await this.#request('incr', [Buffer.from(`${down ? 'decr' : 'incr'} ${checkKey(key)} ${by}\r\n`)]) as number | null;
  }

  /** touch: a new TTL for a key; whether it was there. */
  async touch(key: string, ttlSeconds: number): Promise<boolean> {
    return await this.#request('touch', [Buffer.from(`touch ${checkKey(key)} ${ttlSeconds}\r\n`)]) as boolean;
  }

  /** The server's `version` reply, e.g. `1.6.18`. */
  version(): Promise<string> {
    return this.#request('version', [Buffer.from('version\r\n')]) as Promise<string>;
  }

  /** The server's `stats settings` (e.g. item_size_max → 1048576), as name → value text. */
  async statsSettings(): Promise<ReadonlyMap<string, string>> {
    return await this.#request('stats', [Buffer.from('stats settings\r\n')]) as ReadonlyMap<string, string>;
  }

  /** The server's general `stats` (e.g. rusage_user → 1.234567), as name → value text. */
  async stats(): Promise<ReadonlyMap<string, string>> {
    return await this.#request('stats', [Buffer.from('stats\r\n')]) as ReadonlyMap<string, string>;
  }

  /** Values up to `bytes` are read from now on (the item size limit the server itself reported). */
  limitValues(bytes: number): void {
    this.#maxValueBytes = bytes;
  }

  /** Closes the connection (a courtesy `quit`, the socket destroyed soon after); fails every op in flight. Never throws. */
  close(): void {
    this.#closed = true;
    const socket = this.#socket;
    this.#drop(new ConnectionLostError(this.server));
    if (socket !== undefined && !socket.destroyed) {
      socket.end('quit\r\n');
      // A server that stopped answering never closes its side: the socket must not keep the process alive.
      setTimeout(() => socket.destroy(), QUIT_WAIT_MS).unref();
    }
  }

  #connected(): Promise<Socket> {
    if (this.#closed) return Promise.reject(new ConnectionLostError(this.server));
    if (this.#socket !== undefined) return Promise.resolve(this.#socket);
    this.#connecting ??= new Promise<Socket>((resolve, reject) => {
      const { host, port, connectTimeoutMs } = this.#options;
      const socket = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(Object.assign(new Error(`connect ETIMEDOUT: no connection within ${connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        if (this.#closed) {
          // close() came while connecting: nothing may use (or keep open) this socket.
          socket.destroy();
          reject(new ConnectionLostError(this.server));
          return;
        }
        this.#socket = socket;
        socket.on('data', (chunk: Buffer) => {
          if (this.#socket !== socket) return;
          this.#wire += chunk.length;
          this.#receive(chunk);
        });
        socket.on('close', () => {
          if (this.#socket === socket) this.#drop(new ConnectionLostError(this.server));
        });
        resolve(socket);
      });
      socket.on('error', (error: Error) => {
        clearTimeout(timer);
        if (this.#socket === socket) this.#drop(new ConnectionLostError(this.server, { cause: error }));
        else reject(error);
      });
    }).finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #request(kind: Kind, parts: readonly Buffer[], answer = false, keys?: ReadonlySet<string>): Promise<Reply> {
    const { opTimeoutMs } = this.#options;
    const started = Date.now();
    // Connected (every op but the first after a drop): no connect deadline, no extra promise on the measured path.
    let socket = this.#closed ? undefined : this.#socket;
    if (socket === undefined) {
      try {
        socket = await withDeadline(this.#connected(), opTimeoutMs, () => new OpTimeoutError(this.server, opTimeoutMs));
      } catch (error: unknown) {
        if (error instanceof OpTimeoutError || error instanceof ConnectionLostError) throw error;
        throw new ConnectionLostError(this.server, { cause: error });
      }
      if (this.#closed || this.#socket !== socket) throw new ConnectionLostError(this.server);
    }
    const connection = socket;
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        kind, resolve, reject, timer: undefined, value: null, abandoned: false,
        ...(keys !== undefined ? { keys, values: new Map() } : {}), ...(answer ? { answer } : {}),
      };
      pending.timer = setTimeout(() => {
        // The op fails now; its reply, when it comes, is read and dropped so the ops behind it get theirs.
        pending.abandoned = true;
        pending.timer = undefined;
        reject(new OpTimeoutError(this.server, opTimeoutMs));
        if (this.#pending.filter((p) => p.abandoned).length > MAX_ABANDONED) this.#drop(new ConnectionLostError(this.server));
      }, Math.max(1, opTimeoutMs - (Date.now() - started)));
      this.#pending.push(pending);
      for (const part of parts) {
        this.#wire += part.length;
        connection.write(part);
      }
    });
  }

  /** Fails every op in flight (`which` with `its`, the others with `error`) and drops the socket. */
  #drop(error: Error, which?: Pending, its?: Error): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#buffer = Buffer.alloc(0);
    this.#bodyLeft = 0;
    this.#body = undefined;
    for (const p of this.#pending.splice(0)) {
      clearTimeout(p.timer);
      if (!p.abandoned) p.reject(p === which && its !== undefined ? its : error);
    }
    if (socket !== undefined && !socket.destroyed && !this.#closed) socket.destroy();
  }

  #settle(value: Reply): void {
    const p = this.#pending.shift();
    if (p === undefined || p.abandoned) return;
    clearTimeout(p.timer);
    p.resolve(value);
  }

  #fail(reply: string): void {
    const p = this.#pending.shift();
    if (p === undefined || p.abandoned) return;
    clearTimeout(p.timer);
    p.reject(new MemcacheReplyError(this.server, reply));
  }

  #receive(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0) {
      if (this.#bodyLeft > 0) {
        // A value's data block (and its CRLF): copied straight into the value's buffer.
        const take = Math.min(this.#bodyLeft, data.length);
        const body = this.#body as Buffer;
        const room = Math.max(0, Math.min(take, body.length - this.#bodyAt));
        data.copy(body, this.#bodyAt, 0, room);
        this.#bodyAt += room;
        this.#trailer += data.subarray(room, take).toString('latin1');
        this.#bodyLeft -= take;
        data = data.subarray(take);
        if (this.#bodyLeft === 0) {
          this.#body = undefined;
          const head = this.#pending[0];
          if (this.#trailer !== '\r\n' || head === undefined) {
            // The data block must end with CRLF: anything else means the stream is out of step with the requests.
            this.#drop(new ConnectionLostError(this.server), head, new MemcacheReplyError(this.server, 'a value not followed by CRLF'));
            return;
          }
          if (head.kind === 'getMany') head.values?.set(head.reading as string, body);
          else head.value = body;
        }
        continue;
      }
      this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data]);
      data = Buffer.alloc(0);
      let end: number;
      while (this.#bodyLeft === 0 && (end = this.#buffer.indexOf(CRLF)) >= 0) {
        const line = this.#buffer.subarray(0, end).toString('latin1');
        this.#buffer = this.#buffer.subarray(end + 2);
        if (!this.#line(line)) return;
      }
      if (this.#bodyLeft > 0 && this.#buffer.length > 0) {
        data = this.#buffer;
        this.#buffer = Buffer.alloc(0);
      }
    }
  }

  /** Handles one reply line; false when the connection was dropped. */
  #line(line: string): boolean {
    const head = this.#pending[0];
    if (head === undefined) {
      this.#drop(new ConnectionLostError(this.server));
      return false;
    }
    if (line === 'ERROR' || line.startsWith('CLIENT_ERROR') || line.startsWith('SERVER_ERROR')) {
      // A CLIENT_ERROR can leave a set's data unread by the server: nothing after it can be trusted.
      const fatal = line.startsWith('CLIENT_ERROR') && head.kind === 'set';
      this.#fail(line);
      if (fatal) this.#drop(new ConnectionLostError(this.server));
      return !fatal;
    }
    switch (head.kind) {
      case 'set':
        if (line === 'STORED') this.#settle(null);
        else this.#fail(line); // NOT_STORED, EXISTS, NOT_FOUND
        return true;
      case 'delete':
        if (line === 'DELETED' || line === 'NOT_FOUND') this.#settle(head.answer === true ? line === 'DELETED' : null);
        else this.#fail(line);
        return true;
      case 'incr':
        if (line === 'NOT_FOUND') this.#settle(null);
        // An unsigned 64-bit number (a larger one means the stream is out of step, or not memcached).
        else if (/^\d{1,20}$/.test(line) && BigInt(line) <= 0xffffffffffffffffn) this.#settle(Number(line));
        else this.#fail(line);
        return true;
      case 'touch':
        if (line === 'TOUCHED' || line === 'NOT_FOUND') this.#settle(line === 'TOUCHED');
        else this.#fail(line);
        return true;
      case 'getMany':
        return this.#valueLine(head, line);
      case 'version':
        if (line.startsWith('VERSION ')) this.#settle(line.slice(8));
        else this.#fail(line);
        return true;
      case 'stats': {
        if (line === 'END') {
          this.#settle(head.stats ?? new Map<string, string>());
          return true;
        }
        const m = /^STAT (\S{1,100}) (.{0,1000})$/.exec(line);
        head.stats ??= new Map<string, string>();
        head.statLines = (head.statLines ?? 0) + 1;
        if (m === null || head.statLines > MAX_STAT_LINES) {
          this.#drop(new ConnectionLostError(this.server), head, new MemcacheReplyError(this.server, `an unexpected reply to stats: ${line.slice(0, 80)}`));
          return false;
        }
        head.stats.set(m[1] as string, m[2] as string);
        return true;
      }
      case 'get':
        return this.#valueLine(head, line);
    }
  }

  /** A line of a get's reply: `VALUE <key> <flags> <bytes>` (its data block follows), or END. */
  #valueLine(head: Pending, line: string): boolean {
    const many = head.kind === 'getMany';
    if (line === 'END') {
      this.#settle(many ? head.values ?? new Map<string, Buffer>() : head.value);
      return true;
    }
    const m = /^VALUE (\S+) \d+ (\d+)(?: \d+)?$/.exec(line);
    const key = m?.[1] ?? '';
    // One value per key asked for: any other VALUE line means the stream is out of step with the requests.
    if (m === null || head.keys?.has(key) !== true || (many ? head.values?.has(key) === true : head.value !== null)) {
      this.#drop(new ConnectionLostError(this.server), head, new MemcacheReplyError(this.server, `an unexpected reply to get: ${line.slice(0, 80)}`));
      return false;
    }
    const length = Number(m[2]);
    if (!(length <= this.#maxValueBytes)) {
      this.#drop(new ConnectionLostError(this.server), head, new MemcacheReplyError(this.server, `a value of ${m[2]} bytes, more than the item size limit`));
      return false;
    }
    if (many) head.reading = key;
    this.#body = Buffer.allocUnsafe(length);
    this.#trailer = '';
    this.#bodyAt = 0;
    // The rest of the chunk is (the start of) the data block: #receive's body branch takes it.
    this.#bodyLeft = length + 2;
    return true;
  }
}

function checkKey(key: string): string {
  if (!VALID_KEY.test(key)) throw new MemcacheKeyError(`not a memcached key (1–250 printable characters, no spaces): ${JSON.stringify(key.slice(0, 60))}`);
  return key;
}
