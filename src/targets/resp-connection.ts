import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { ConnectionLostError, OpTimeoutError } from './client.js';
import { withDeadline } from './deadline.js';
import { RespProtocolError } from './resp.js';
import { CommandBatch, RespParser, WireError, type Wire } from './resp-wire.js';

/**
 * One connection of cachebench's own RESP client, built so that the client is not the bottleneck of what it measures:
 * - every command sent during one event-loop turn goes out in one socket write (a batch flushed on the next tick);
 * - replies are parsed where they lie in the received bytes (resp-wire.ts). A plain TCP connection reads into one
 *   buffer the process reuses for every read (no allocation per read: each was ~20 KB of the V8 heap's external
 *   memory, and its pressure made the garbage collector mark the whole heap ~10 times a second in a load worker at
 *   14,000 GETs/s). An op sent with a `look` has its reply handed to it where it lies, during the read (a GET's value
 *   verified without a copy); a reply without one leaves as a copy of what it holds of the read buffer;
 * - one deadline timer per connection, not one per op: FIFO order makes the oldest op's deadline the next to pass, so
 *   the timer is armed for it and, when it fires, fails every op past OP_TIMEOUT_MS and re-arms for the next one.
 *
 * An op past its deadline fails at once but keeps its place, so its late reply is read and dropped and the ops behind
 * it get theirs; the connection is dropped on a protocol surprise, a lost socket, or when MAX_ABANDONED replies are
 * owed. The next op after a drop connects again (with AUTH, as at first).
 */

/** Late replies a connection may owe before it is dropped and opened again (a server that stopped answering). */
export const MAX_ABANDONED = 1000;
/** How long close() lets a QUIT reach the server before the socket is destroyed. */
const QUIT_WAIT_MS = 200;
/** Entries consumed at the queue's head before the queue is compacted. */
const COMPACT_AT = 4096;
/**
 * The read buffer every plain TCP connection of the process reads into: 512 KB, eight times Node's own read size, so
 * a pipelined connection takes all its waiting replies (16 of 20 KB) in one read, and writes its next commands once
 * for them rather than once per 64 KB (the write is the dearer syscall on loopback). Measured 2026-12-07, PIPELINE 16,
 * 50 connections, 20 KB GETs, one worker, unpinned: 22–28 → 17–21 µs of client CPU per op.
 */
const READ_BUFFER = Buffer.allocUnsafe(512 * 1024);

/** `x` itself, or a copy of it when it is a view of the read buffer (overwritten by the next read). */
export function ownBuffer<T>(x: T): T {
  return Buffer.isBuffer(x) && x.buffer === READ_BUFFER.buffer ? Buffer.from(x) as T : x;
}

/** `reply` with every bulk string that is a view of the read buffer copied out (it is overwritten by the next read). */
function owned(reply: Wire): Wire {
  if (Buffer.isBuffer(reply)) return reply.buffer === READ_BUFFER.buffer ? Buffer.from(reply) : reply;
  if (Array.isArray(reply)) return (reply as readonly Wire[]).map(owned);
  return reply;
}

/**
 * Sees an op's reply where it lies, during the read (a bulk string may be a view of the read buffer, valid only during
 * the call); what it returns is the op's result. Never called with an error reply (that is the result as it is).
 */
export type Look = (reply: Wire) => Wire;

export interface RespConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** How the server is named in messages (host:port, IPv6 in brackets). */
  readonly display: string;
  /** TLS options (CA, server name) when the target uses TLS. */
  readonly tls?: ConnectionOptions;
  readonly connectTimeoutMs: number;
  readonly opTimeoutMs: number;
  readonly username?: string;
  readonly password?: string;
  /** The largest reply (a bulk string's length) accepted; larger is a protocol error. */
  readonly maxReplyBytes: number;
}

interface Pending {
  readonly resolve: (reply: Wire) => void;
  readonly look: Look | undefined;
  readonly reject: (error: Error) => void;
  /** performance.now() past which the op fails. */
  readonly deadline: number;
  /** Failed at its deadline: its reply is still read, then dropped. */
  abandoned: boolean;
}

/** An AUTH the server refused: the reply's text (never the password). */
export class RespAuthError extends Error {
  override readonly name = 'RespAuthError';
}

export class RespConnection {
  readonly #options: RespConnectionOptions;
  #socket: Socket | undefined;
  /** A socket still connecting: close() destroys it. */
  #opening: Socket | undefined;
  #connecting: Promise<void> | undefined;
  #ready = false;
  #closed = false;
  #parser: RespParser;
  #batch = new CommandBatch();
  #flushScheduled = false;
  #queue: (Pending | undefined)[] = [];
  #head = 0;
  /** Entries before this index are settled or abandoned (the deadline sweep starts here). */
  #swept = 0;
  #abandoned = 0;
  /** Bytes written and read so far, every socket of this connection's life. */
  #wire = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for. */
  #armedFor = Infinity;
  readonly #flush = (): void => this.#write();
  readonly #sweep = (): void => this.#expire();
  readonly #onReply = (reply: Wire): void => this.#receive(reply);

  constructor(options: RespConnectionOptions) {
    this.#options = options;
    this.#parser = new RespParser(options.maxReplyBytes);
  }

  get server(): string {
    return this.#options.display;
  }

  /** Bytes written to the server and read from it so far (requests and replies on the wire, TLS's plaintext). */
  get wireBytes(): number {
    return this.#wire;
  }

  /** Ops waiting for a reply (abandoned ones included). */
  get inFlight(): number {
    return this.#queue.length - this.#head;
  }

  /** Connects now (so an unreachable server or a refused login is found before any traffic). */
  open(): Promise<void> {
    return this.#connected();
  }

  /**
   * Sends one command. Resolves with its reply, an error reply as a WireError (the caller decides: MOVED is not a
   * failure to a cluster client); rejects with OpTimeoutError at `deadline` (performance.now() ms; OP_TIMEOUT_MS from
   * now by default), connecting included, with ConnectionLostError, or with RespAuthError when a reconnect's AUTH is refused.
   * With `look`: resolves with what look returned for the reply (or rejects with what it threw), or with an error reply.
   */
  send(args: readonly (string | number | Buffer)[], deadline = performance.now() + this.#options.opTimeoutMs, look?: Look): Promise<Wire> {
    if (this.#ready) return this.#enqueue(args, deadline, look);
    return this.#whenReady(deadline, () => this.#enqueue(args, deadline, look));
  }

  /** Sends `commands` in one write, nothing of another caller between them (a transaction); every reply, in order. */
  sendAll(commands: readonly (readonly (string | number | Buffer)[])[], deadline = performance.now() + this.#options.opTimeoutMs): Promise<Wire[]> {
    if (this.#ready) return Promise.all(commands.map((c) => this.#enqueue(c, deadline)));
    return this.#whenReady(deadline, () => this.sendAll(commands, deadline));
  }

  /** Waits for the connection (within the op's deadline), then does `then`; its failures as the op's. */
  #whenReady<T>(deadline: number, then: () => Promise<T>): Promise<T> {
    const late = (): OpTimeoutError => new OpTimeoutError(this.server, this.#options.opTimeoutMs);
    const left = deadline - performance.now();
    if (left <= 0) return Promise.reject(late());
    return withDeadline(this.#connected(), left, late).then(
      () => {
        if (performance.now() >= deadline) throw late();
        return then();
      },
      (error: unknown) => {
        if (error instanceof OpTimeoutError || error instanceof ConnectionLostError || error instanceof RespAuthError) throw error;
        throw new ConnectionLostError(this.server, { cause: error });
      },
    );
  }

  /** Closes the connection (a courtesy QUIT, the socket destroyed soon after); fails every op in flight. Never throws. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#opening?.destroy();
    const socket = this.#socket;
    const idle = this.inFlight === 0;
    this.#drop(new ConnectionLostError(this.server));
    if (socket !== undefined && !socket.destroyed) {
      if (idle) socket.end('*1\r\n$4\r\nQUIT\r\n');
      else socket.destroy();
      // A server that stopped answering never closes its side: the socket must not keep the process alive.
      setTimeout(() => socket.destroy(), QUIT_WAIT_MS).unref();
    }
  }

  #enqueue(args: readonly (string | number | Buffer)[], deadline: number, look?: Look): Promise<Wire> {
    return new Promise<Wire>((resolve, reject) => {
      this.#batch.add(args);
      this.#queue.push({ resolve, look, reject, deadline, abandoned: false });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        process.nextTick(this.#flush);
      }
      // One timer, armed for the earliest deadline in flight (ops after an AUTH may be due before it).
      if (deadline < this.#armedFor) {
        clearTimeout(this.#timer);
        this.#arm(deadline);
      }
    });
  }

  #write(): void {
    this.#flushScheduled = false;
    if (this.#batch.empty) return;
    const bytes = this.#batch.take();
    const socket = this.#socket;
    if (socket !== undefined && !socket.destroyed) {
      this.#wire += bytes.length;
      socket.write(bytes);
    }
  }

  /** Arms the timer for `deadline` (performance.now() ms). */
  #arm(deadline: number): void {
    this.#armedFor = deadline;
    this.#timer = setTimeout(this.#sweep, Math.max(1, Math.ceil(deadline - performance.now())));
    this.#timer.unref();
  }

  /** The deadline sweep: fails every op past its deadline, from the oldest, and re-arms for the first one that is not. */
  #expire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = performance.now();
    let i = Math.max(this.#head, this.#swept);
    let next = Infinity;
    for (; i < this.#queue.length; i++) {
      const p = this.#queue[i] as Pending;
      if (p.deadline > now) {
        // Deadlines are nearly in order: the earliest of the rest (an op sent with an earlier deadline may follow).
        for (let j = i; j < this.#queue.length; j++) next = Math.min(next, (this.#queue[j] as Pending).deadline);
        break;
      }
      if (!p.abandoned) {
        p.abandoned = true;
        this.#abandoned++;
        p.reject(new OpTimeoutError(this.server, this.#options.opTimeoutMs));
      }
    }
    this.#swept = i;
    if (this.#abandoned > MAX_ABANDONED) this.#drop(new ConnectionLostError(this.server));
    else if (next < Infinity) this.#arm(next);
  }

  #receive(reply: Wire): void {
    const p = this.#queue[this.#head];
    if (p === undefined) throw new RespProtocolError('a reply to no command');
    this.#queue[this.#head++] = undefined;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      this.#swept = 0;
    } else if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#swept = Math.max(0, this.#swept - this.#head);
      this.#head = 0;
    }
    if (p.abandoned) this.#abandoned--;
    else if (p.look === undefined || reply instanceof WireError) p.resolve(owned(reply));
    else {
      let result: Wire;
      try {
        result = p.look(reply);
      } catch (error: unknown) {
        p.reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      p.resolve(owned(result));
    }
  }

  #connected(): Promise<void> {
    if (this.#closed) return Promise.reject(new ConnectionLostError(this.server));
    if (this.#ready) return Promise.resolve();
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<void> {
    const { host, port, tls, connectTimeoutMs } = this.#options;
    const socket = await new Promise<Socket>((resolve, reject) => {
      // TLS hands out a fresh buffer per read ('data'); plain TCP reads into the process's read buffer.
      const s: Socket = tls !== undefined ? connectTls({ host, port, ...tls }) : connectTcp({
        host, port, noDelay: true,
        onread: { buffer: READ_BUFFER, callback: (n: number): boolean => this.#bytes(s, READ_BUFFER.subarray(0, n)) },
      });
      this.#opening = s;
      const timer = setTimeout(() => {
        s.destroy();
        reject(Object.assign(new Error(`connect ETIMEDOUT: no connection within ${connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, connectTimeoutMs);
      timer.unref();
      s.once(tls !== undefined ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.setNoDelay(true);
        resolve(s);
      });
      s.once('error', (error: Error) => {
        clearTimeout(timer);
        reject(error);
      });
      // close() while connecting destroys the socket: no 'error' then, so its 'close' ends the wait.
      s.once('close', () => {
        clearTimeout(timer);
        reject(new ConnectionLostError(this.server));
      });
    }).finally(() => {
      this.#opening = undefined;
    });
    if (this.#closed) {
      socket.destroy();
      throw new ConnectionLostError(this.server);
    }
    this.#attach(socket);
    const { username, password } = this.#options;
    if (password !== undefined) {
      // A refused or unanswered AUTH drops the connection: its reply must never be taken for a later command's.
      let reply: Wire;
      try {
        reply = await this.#enqueue(username !== undefined ? ['AUTH', username, password] : ['AUTH', password], performance.now() + connectTimeoutMs);
      } catch (error: unknown) {
        if (this.#socket === socket) this.#drop(new ConnectionLostError(this.server));
        throw error instanceof OpTimeoutError ? Object.assign(new Error(`AUTH got no reply within CONNECT_TIMEOUT_MS=${connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }) : error;
      }
      if (reply instanceof WireError) {
        this.#drop(new ConnectionLostError(this.server));
        throw new RespAuthError(`AUTH refused: ${reply.message.slice(0, 200)}`);
      }
    }
    if (this.#socket !== socket) throw new ConnectionLostError(this.server);
    this.#ready = true;
  }

  #attach(socket: Socket): void {
    // Nothing of an earlier socket may answer this one's commands.
    if (this.#socket !== undefined || this.inFlight > 0) this.#drop(new ConnectionLostError(this.server));
    this.#socket = socket;
    this.#parser = new RespParser(this.#options.maxReplyBytes);
    if (this.#options.tls !== undefined) socket.on('data', (chunk: Buffer) => this.#bytes(socket, chunk));
    socket.on('error', (error: Error) => {
      if (this.#socket === socket) this.#drop(new ConnectionLostError(this.server, { cause: error }));
    });
    socket.on('close', () => {
      if (this.#socket === socket) this.#drop(new ConnectionLostError(this.server));
    });
  }

  /** Bytes read from `socket`: its replies, each to its op. Always true (the socket keeps reading). */
  #bytes(socket: Socket, chunk: Buffer): boolean {
    if (this.#socket !== socket) return true;
    this.#wire += chunk.length;
    try {
      this.#parser.feed(chunk, this.#onReply);
    } catch (error: unknown) {
      // Bytes out of step with the commands: nothing after them can be trusted.
      this.#drop(new ConnectionLostError(this.server, { cause: error }));
    }
    return true;
  }

  /** Fails every op in flight with `error` and drops the socket; the next op connects again. */
  #drop(error: Error): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#ready = false;
    const queue = this.#queue;
    const head = this.#head;
    this.#queue = [];
    this.#head = 0;
    this.#swept = 0;
    this.#abandoned = 0;
    this.#batch = new CommandBatch();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    for (let i = head; i < queue.length; i++) {
      const p = queue[i];
      if (p !== undefined && !p.abandoned) p.reject(error);
    }
    if (socket !== undefined && !socket.destroyed && !this.#closed) socket.destroy();
  }
}
