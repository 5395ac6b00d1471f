import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import type { ServerAddress } from '../config/servers.js';
import { TargetMismatchError, type Capabilities } from './client.js';
import { credentialsFor, parseInfo, redactFor, unreachableError } from './probe.js';
import { describeReply, encodeCommand, replyFields, replyText, RespReader, type RespReply } from './resp.js';
import { tlsOptionsFor } from './tls.js';

/**
 * What a server supports (RESP3, CLIENT TRACKING, WAIT, CLUSTER SLOTS) and what it calls itself, asked on a
 * short-lived connection of the probe's own with a small RESP reader (resp.ts), so that the answer does not
 * depend on which driver the target uses. Sends AUTH, HELLO 3, CLIENT TRACKING ON/OFF, WAIT 0 0, CLUSTER SLOTS
 * and, when HELLO did not say, INFO server: nothing that writes data.
 */

export const PROXY_NOTE = 'proxy mode: capabilities not asked (proxies close the connection on commands they do not know)';

/** AUTH replies that mean the server has no password to check (Redis, and twemproxy without redis_auth); as in probe.ts. */
const NO_PASSWORD_SET = /no password is set|without any password configured/i;

/** Longest server reply quoted in a note. */
const MAX_NOTE_REPLY = 200;

/** An error reply of the server, as an Error for unreachableError (its message is the server's, without the leading `-`). */
class ReplyError extends Error {
  override readonly name = 'ReplyError';
}

/** The probe's deadline (CONNECT_TIMEOUT_MS) passed; `code` lets diagnose.ts treat it as any timed-out connection. */
class ProbeTimeoutError extends Error {
  override readonly name = 'ProbeTimeoutError';
  readonly code = 'ETIMEDOUT';
}

/** What became of one command. */
type Outcome =
  | { readonly kind: 'reply'; readonly reply: RespReply }
  /** The server closed the connection (or sent bytes that are not RESP) instead of answering. */
  | { readonly kind: 'closed'; readonly detail: string; readonly error?: Error }
  /** CONNECT_TIMEOUT_MS passed before the answer came. */
  | { readonly kind: 'expired' }
  /** Not sent: the connection was lost earlier and a fresh one could not be opened. */
  | { readonly kind: 'unavailable'; readonly detail: string };

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_NOTE_REPLY ? `${flat.slice(0, MAX_NOTE_REPLY)}...` : flat;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One connected socket: sends a command, resolves with its reply (push messages skipped) or with how the connection ended. */
class ProbeConnection {
  private readonly reader = new RespReader();
  private readonly replies: RespReply[] = [];
  private waiter: ((outcome: Outcome) => void) | undefined;
  private ended: Outcome | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly isExpired: () => boolean,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error: Error) => this.end(`closed the connection (${(error as { code?: string }).code ?? error.message})`, error));
    socket.on('close', () => this.end('closed the connection'));
  }

  get alive(): boolean {
    return this.ended === undefined;
  }

  /** Sends one command; resolves (never rejects) once its reply came or the connection ended. */
  command(args: readonly string[]): Promise<Outcome> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      if (this.ended === undefined) this.socket.write(encodeCommand(args));
      this.deliver();
    });
  }

  private receive(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
      for (let reply = this.reader.next(); reply !== undefined; reply = this.reader.next()) {
        // Out-of-band data (e.g. an invalidation while tracking is on) is not the answer to the command.
        if (reply.type !== 'push') this.replies.push(reply);
      }
    } catch (error: unknown) {
      this.end(`sent bytes that are not a RESP reply (${messageOf(error)})`);
      this.socket.destroy();
    }
    this.deliver();
  }

  private end(detail: string, error?: Error): void {
    if (this.ended !== undefined) return;
    this.ended = this.isExpired() ? { kind: 'expired' } : { kind: 'closed', detail, ...(error !== undefined ? { error } : {}) };
    this.deliver();
  }

  private deliver(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    const reply = this.replies.shift();
    const outcome: Outcome | undefined = reply !== undefined ? { kind: 'reply', reply } : this.ended;
    if (outcome === undefined) return;
    this.waiter = undefined;
    waiter(outcome);
  }
}

/** One probe of one server: its deadline, its sockets (all destroyed and closed by shutdown) and its notes. */
class CapabilityProbe {
  private expired = false;
  private readonly timer: NodeJS.Timeout;
  private readonly sockets: { readonly socket: Socket; readonly closed: Promise<void> }[] = [];
  private conn: ProbeConnection | undefined;
  /** HELLO 3 was accepted: a fresh connection says it again, so later answers are in the same protocol. */
  private resp3 = false;
  readonly notes: string[] = [];

  constructor(
    private readonly config: TargetConfig,
    private readonly server: ServerAddress,
    private readonly controls: RunControls,
  ) {
    this.timer = setTimeout(() => {
      this.expired = true;
      for (const { socket } of this.sockets) socket.destroy();
    }, controls.connectTimeoutMs);
  }

  private timeoutError(what: string): ProbeTimeoutError {
    return new ProbeTimeoutError(`${what} within CONNECT_TIMEOUT_MS=${this.controls.connectTimeoutMs} ms`);
  }

  /** Opens a socket (plain or TLS) to the server. Rejects with the socket's error, or a timeout once the deadline passed. */
  private open(): Promise<ProbeConnection> {
    if (this.expired) return Promise.reject(this.timeoutError('no connection'));
    const { host, port } = this.server;
    const socket = this.config.tls ? tlsConnect({ host, port, ...tlsOptionsFor(this.config, host) }) : netConnect({ host, port });
    this.sockets.push({ socket, closed: new Promise((resolve) => socket.once('close', () => resolve())) });
    return new Promise((resolve, reject) => {
      let failure: Error | undefined;
      const onError = (error: Error): void => {
        failure ??= error;
      };
      const onClose = (): void => reject(this.expired ? this.timeoutError('no connection') : (failure ?? new Error('Connection is closed.')));
      socket.once('error', onError);
      socket.once('close', onClose);
      socket.once(this.config.tls ? 'secureConnect' : 'connect', () => {
        socket.removeListener('error', onError);
        socket.removeListener('close', onClose);
        socket.setNoDelay(true);
        resolve(new ProbeConnection(socket, () => this.expired));
      });
    });
  }

  /** Sends one command on which the connection depends (AUTH, HELLO on a fresh connection); throws on anything but an answer. */
  private async required(conn: ProbeConnection, args: readonly string[], what: string): Promise<RespReply> {
    const outcome = await conn.command(args);
    if (outcome.kind === 'reply') return outcome.reply;
    if (outcome.kind === 'expired') throw this.timeoutError(`no reply to ${what}`);
    if (outcome.kind === 'closed') throw outcome.error ?? new Error(`the server ${outcome.detail} after ${what}`);
    throw new Error(outcome.detail);
  }

  /** A connection logged in with the target's credentials (and in RESP3 once HELLO 3 was accepted). Throws raw errors. */
  private async connect(): Promise<ProbeConnection> {
    const conn = await this.open();
    const { username, password } = credentialsFor(this.config, this.server);
    if (password !== undefined) {
      const reply = await this.required(conn, username !== undefined ? ['AUTH', username, password] : ['AUTH', password], 'AUTH');
      // A password the server does not need: probe.ts warns about it; the probe goes on without it.
      if (reply.type === 'error' && !NO_PASSWORD_SET.test(reply.message)) throw new ReplyError(reply.message);
    }
    if (this.resp3) {
      const reply = await this.required(conn, ['HELLO', '3'], 'HELLO 3');
      if (reply.type === 'error') throw new ReplyError(reply.message);
    }
    return conn;
  }

  /** The first connection: any failure is a TargetUnreachableError (exit 3), with the fix diagnose.ts finds. */
  async start(): Promise<void> {
    try {
      this.conn = await this.connect();
    } catch (error: unknown) {
      throw await unreachableError(this.config, this.server, error, this.controls);
    }
  }

  /**
   * Sends one command, on a fresh connection if the last one was lost. A NOAUTH answer means the target's
   * credentials are missing: a TargetUnreachableError, like the first connection's failures.
   */
  private async ask(args: readonly string[]): Promise<Outcome> {
    if (this.expired) return { kind: 'unavailable', detail: `CONNECT_TIMEOUT_MS=${this.controls.connectTimeoutMs} ms had passed` };
    if (this.conn === undefined || !this.conn.alive) {
      try {
        this.conn = await this.connect();
      } catch (error: unknown) {
        this.conn = undefined;
        if (this.expired) return { kind: 'unavailable', detail: `CONNECT_TIMEOUT_MS=${this.controls.connectTimeoutMs} ms passed while connecting again` };
        return { kind: 'unavailable', detail: `a fresh connection failed: ${messageOf(error)}` };
      }
    }
    const outcome = await this.conn.command(args);
    if (outcome.kind === 'reply' && outcome.reply.type === 'error' && /^NOAUTH\b/.test(outcome.reply.message)) {
      throw await unreachableError(this.config, this.server, new ReplyError(outcome.reply.message), this.controls);
    }
    return outcome;
  }

  private note(text: string): void {
    this.notes.push(redactFor(text, this.config));
  }

  /**
   * Turns a command's outcome into a capability: true when `accepted` says so, false on a refusal (an error
   * reply, another reply, a closed connection), null when it was not answered; every false or null gets a note
   * `<COMMAND>: <the server's answer>` (requireCapabilities quotes it).
   */
  private judge(command: string, outcome: Outcome, accepted: (reply: RespReply) => boolean): boolean | null {
    switch (outcome.kind) {
      case 'reply':
        if (accepted(outcome.reply)) return true;
        this.note(`${command}: ${oneLine(outcome.reply.type === 'error' ? outcome.reply.message : `answered ${describeReply(outcome.reply)}`)}`);
        return false;
      case 'closed':
        this.note(`${command}: the server ${oneLine(outcome.detail)} instead of answering`);
        return false;
      case 'expired':
        this.note(`${command}: not answered within CONNECT_TIMEOUT_MS=${this.controls.connectTimeoutMs} ms`);
        return null;
      case 'unavailable':
        this.note(`${command}: not asked (${oneLine(outcome.detail)})`);
        return null;
    }
  }

  async run(): Promise<Capabilities> {
    await this.start();
    let serverName: string | null = null;
    let serverVersion: string | null = null;

    const hello = await this.ask(['HELLO', '3']);
    const resp3 = this.judge('HELLO 3', hello, (reply) => reply.type === 'map');
    this.resp3 = resp3 === true;
    // A map in RESP3; a server that answered in RESP2 (a flat array) still named itself.
    if (hello.kind === 'reply' && hello.reply.type !== 'error') {
      const fields = replyFields(hello.reply);
      serverName = textOf(fields.get('server'));
      serverVersion = textOf(fields.get('version'));
    }

    const isOk = (reply: RespReply): boolean => reply.type === 'simple' && reply.value === 'OK';
    // Redis 6+ accepts CLIENT TRACKING ON without REDIRECT in RESP2 too (invalidations then go nowhere), so the
    // same command is asked in both protocols; it reads no key, so nothing is tracked before OFF.
    const tracking = this.judge('CLIENT TRACKING ON', await this.ask(['CLIENT', 'TRACKING', 'ON']), isOk);
    if (tracking === true) {
      const off = await this.ask(['CLIENT', 'TRACKING', 'OFF']);
      if (!(off.kind === 'reply' && isOk(off.reply))) this.judge('CLIENT TRACKING OFF', off, isOk);
    }

    // 0 replicas: answered at once, whatever the replication state.
    const wait = this.judge('WAIT 0 0', await this.ask(['WAIT', '0', '0']), (reply) => reply.type === 'integer');
    const clusterSlots = this.judge('CLUSTER SLOTS', await this.ask(['CLUSTER', 'SLOTS']), (reply) => reply.type === 'array');

    if (serverVersion === null) {
      const info = await this.ask(['INFO', 'server']);
      const text = info.kind === 'reply' ? replyText(info.reply) : undefined;
      if (text !== undefined) {
        const fields = parseInfo(text);
        // Valkey says server_name:valkey and valkey_version (its redis_version is the Redis version it is compatible with).
        serverName ??= fields.get('server_name') ?? null;
        serverVersion = (serverName !== null ? fields.get(`${serverName}_version`) : undefined) ?? fields.get('redis_version') ?? null;
      } else {
        this.judge('INFO server', info, () => false);
      }
    }
    return { resp3, tracking, clusterSlots, wait, serverName, serverVersion, notes: [...this.notes] };
  }

  /** Stops the deadline and destroys every socket, resolving once each has closed: nothing is left open. */
  async shutdown(): Promise<void> {
    clearTimeout(this.timer);
    for (const { socket } of this.sockets) socket.destroy();
    await Promise.all(this.sockets.map((s) => s.closed));
  }
}

function textOf(reply: RespReply | undefined): string | null {
  return reply !== undefined ? (replyText(reply) ?? null) : null;
}

/**
 * Asks the first server of `config.servers` what it supports, on one short-lived connection of its own
 * (a fresh one if the server closes it after a command it does not know). Within `controls.connectTimeoutMs`
 * overall: what is not answered by then is null, with a note. In proxy mode nothing is asked (every capability null).
 * Writes no data and leaves nothing open. Throws TargetUnreachableError (exit 3) when the server cannot be
 * reached or refuses the target's credentials; never with a password in the message.
 */
export async function probeCapabilities(config: TargetConfig, mode: 'cluster' | 'standalone' | 'proxy' | 'sentinel', controls: RunControls, first?: ServerAddress): Promise<Capabilities> {
  if (mode === 'proxy') {
    return { resp3: null, tracking: null, clusterSlots: null, wait: null, serverName: null, serverVersion: null, notes: [PROXY_NOTE] };
  }
  // `first`: the first server that answered the probe (a cluster's listed seed may be down).
  const server = first ?? config.servers[0];
  if (server === undefined) throw new TargetMismatchError(config.name, '(none)', `${config.name}_SERVERS lists no server`, `list at least one server in ${config.name}_SERVERS`);
  const probe = new CapabilityProbe(config, server, controls);
  try {
    return await probe.run();
  } finally {
    await probe.shutdown();
  }
}

/** The server's answer quoted in the note for `command` (see judge). */
function refusal(caps: Capabilities, command: string): string {
  const note = caps.notes.find((n) => n.startsWith(`${command}: `));
  return note !== undefined ? note.slice(command.length + 2) : 'no answer recorded';
}

/**
 * Throws TargetMismatchError (exit 3) naming the missing capability when the target's set-up needs one the server
 * refused: `<NAME>_CACHE=tracking` needs RESP3 (HELLO 3) and CLIENT TRACKING. A capability that was not asked
 * (null: a proxy, or no answer in time) is not held against the target.
 */
export function requireCapabilities(config: TargetConfig, caps: Capabilities): void {
  const name = config.name;
  const server = config.servers[0]?.display ?? '(none)';
  if (config.waitReplicas > 0 && caps.wait === false) {
    throw new TargetMismatchError(name, server, `${name}_WAIT=${config.waitReplicas} needs WAIT, which ${server} refused: ${refusal(caps, 'WAIT 0 0')}`,
      `unset ${name}_WAIT, or use a server that supports WAIT`);
  }
  if (config.cache !== 'tracking') return;
  if (caps.resp3 === false) {
    throw new TargetMismatchError(name, server, `${name}_CACHE=tracking needs RESP3 (HELLO 3), which ${server} refused: ${refusal(caps, 'HELLO 3')}`,
      `unset ${name}_CACHE or use a server that speaks RESP3 (Redis 6+ / Valkey)`);
  }
  if (caps.tracking === false) {
    throw new TargetMismatchError(name, server, `${name}_CACHE=tracking needs CLIENT TRACKING, which ${server} refused: ${refusal(caps, 'CLIENT TRACKING ON')}`,
      `unset ${name}_CACHE or use a server that supports CLIENT TRACKING (Redis 6+ / Valkey)`);
  }
}
