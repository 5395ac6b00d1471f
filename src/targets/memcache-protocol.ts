import { connect, type Socket } from 'node:net';
import { ConnectionLostError, OpTimeoutError } from './client.js';
import { withDeadline } from './deadline.js';

/**
 * One connection speaking memcached's text (ASCII) protocol — the one memcached, twemproxy and mcrouter all serve —
 * with values as raw bytes (a value is never decoded as text), requests pipelined (replies come in request order)
 * and a deadline per op. On a deadline or any protocol surprise the connection is dropped (its replies can no longer
 * be matched to requests) and every op in flight fails; the next op connects again.
 */

/** A reply memcached sends for a request it refuses: `ERROR`, `CLIENT_ERROR <why>`, `SERVER_ERROR <why>`, `NOT_STORED`. */
export class MemcacheReplyError extends Error {
  override readonly name = 'MemcacheReplyError';
  constructor(readonly server: string, readonly reply: string) {
    super(`${server} replied ${reply}`);
  }
}

type Kind = 'set' | 'get' | 'delete' | 'version';

interface Pending {
  readonly kind: Kind;
  readonly resolve: (value: Buffer | string | null) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** get: the value read so far (a VALUE line came), waiting for END. */
  value: Buffer | null;
}

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
  #closed = false;

  constructor(options: ConnectionOptions) {
    this.#options = options;
  }

  get server(): string {
    return this.#options.display;
  }

  /** Connects now (at connect time, so an unreachable server is found before any traffic). */
  async open(): Promise<void> {
    await this.#connected();
  }

  set(key: string, value: Buffer, ttlSeconds: number): Promise<void> {
    const head = Buffer.from(`set ${checkKey(key)} 0 ${ttlSeconds} ${value.length}\r\n`);
    return this.#request('set', [head, value, CRLF]).then(() => undefined);
  }

  get(key: string): Promise<Buffer | null> {
    return this.#request('get', [Buffer.from(`get ${checkKey(key)}\r\n`)]) as Promise<Buffer | null>;
  }

  delete(key: string): Promise<void> {
    return this.#request('delete', [Buffer.from(`delete ${checkKey(key)}\r\n`)]).then(() => undefined);
  }

  /** The server's `version` reply, e.g. `1.6.18`. */
  version(): Promise<string> {
    return this.#request('version', [Buffer.from('version\r\n')]) as Promise<string>;
  }

  /** Closes the connection (a courtesy `quit`, then the socket); fails every op in flight. Never throws. */
  close(): void {
    this.#closed = true;
    const socket = this.#socket;
    this.#drop(new ConnectionLostError(this.server));
    if (socket !== undefined && !socket.destroyed) socket.end('quit\r\n');
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
        this.#socket = socket;
        socket.on('data', (chunk: Buffer) => this.#receive(chunk));
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

  async #request(kind: Kind, parts: readonly Buffer[]): Promise<Buffer | string | null> {
    const { opTimeoutMs } = this.#options;
    const started = Date.now();
    let socket: Socket;
    try {
      socket = await withDeadline(this.#connected(), opTimeoutMs, () => new OpTimeoutError(this.server, opTimeoutMs));
    } catch (error: unknown) {
      if (error instanceof OpTimeoutError || error instanceof ConnectionLostError) throw error;
      throw new ConnectionLostError(this.server, { cause: error });
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = { kind, resolve, reject, timer: undefined, value: null };
      pending.timer = setTimeout(() => {
        // Its reply may still come: the stream can no longer be matched to requests, so the connection goes.
        this.#drop(new ConnectionLostError(this.server), pending, new OpTimeoutError(this.server, opTimeoutMs));
      }, Math.max(1, opTimeoutMs - (Date.now() - started)));
      this.#pending.push(pending);
      for (const part of parts) socket.write(part);
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
      p.reject(p === which && its !== undefined ? its : error);
    }
    if (socket !== undefined && !socket.destroyed && !this.#closed) socket.destroy();
  }

  #settle(value: Buffer | string | null): void {
    const p = this.#pending.shift();
    if (p === undefined) return;
    clearTimeout(p.timer);
    p.resolve(value);
  }

  #fail(reply: string): void {
    const p = this.#pending.shift();
    if (p === undefined) return;
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
        this.#bodyLeft -= take;
        data = data.subarray(take);
        if (this.#bodyLeft === 0) {
          const head = this.#pending[0];
          if (head !== undefined) head.value = body;
          this.#body = undefined;
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
        if (line === 'DELETED' || line === 'NOT_FOUND') this.#settle(null);
        else this.#fail(line);
        return true;
      case 'version':
        if (line.startsWith('VERSION ')) this.#settle(line.slice(8));
        else this.#fail(line);
        return true;
      case 'get': {
        if (line === 'END') {
          this.#settle(head.value);
          return true;
        }
        const m = /^VALUE \S+ \d+ (\d+)/.exec(line);
        if (m === null || head.value !== null) {
          this.#drop(new ConnectionLostError(this.server), head, new MemcacheReplyError(this.server, `an unexpected reply to get: ${line.slice(0, 80)}`));
          return false;
        }
        const length = Number(m[1]);
        this.#body = Buffer.allocUnsafe(length);
        this.#bodyAt = 0;
        // The rest of the chunk is (the start of) the data block: #receive's body branch takes it.
        this.#bodyLeft = length + 2;
        return true;
      }
    }
  }
}

function checkKey(key: string): string {
  if (!VALID_KEY.test(key)) throw new Error(`not a memcached key (1–250 printable characters, no spaces): ${JSON.stringify(key.slice(0, 60))}`);
  return key;
}
