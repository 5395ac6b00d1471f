import type { CacheMode, ReadFrom } from '../config/keys.js';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import type { ServerAddress } from '../config/servers.js';

/**
 * Counters of a client's own cache (`<NAME>_CACHE=tracking`), cumulative since the client connected.
 * A counter the client library does not keep is null (shown as n/a), never guessed.
 */
export interface CacheCounters {
  /** GETs that looked in the cache (hits + misses). */
  readonly lookups: number;
  readonly hits: number;
  readonly misses: number;
  /** Invalidation messages from the server that the client acted on (one per key, or one per flush). */
  readonly invalidations: number | null;
  /** Entries dropped for room or age (not invalidations). */
  readonly evictions: number | null;
}

/** Counters since `before` (the client's counters are cumulative since it connected). */
export function countersSince(after: CacheCounters, before: CacheCounters): CacheCounters {
  const minus = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a - b);
  return {
    lookups: after.lookups - before.lookups,
    hits: after.hits - before.hits,
    misses: after.misses - before.misses,
    invalidations: minus(after.invalidations, before.invalidations),
    evictions: minus(after.evictions, before.evictions),
  };
}

/**
 * Why a driver emptied its client cache: a connection failed or closed; a cluster read its slot map again; the server
 * told it to drop everything (a null invalidation: FLUSHALL, FLUSHDB, or a replica's full resync).
 */
export type FlushReason = 'connection' | 'slots' | 'server';

/** When a driver emptied its client cache (process.hrtime.bigint()), the most recent ones kept, and how often in all. */
export interface CacheFlushes {
  readonly total: number;
  readonly recent: readonly { readonly ns: bigint; readonly reason: FlushReason }[];
}

/**
 * The CLIENT SETNAME of a target's connections in a partition-client run when it keeps a client cache
 * (`<NAME>_CACHE=tracking`): how the fault finds that client's connections among others on a server (it cuts only
 * those); undefined otherwise (no name is set, no extra command sent). Target names are letters, digits and
 * underscores, so the name has no space.
 */
export function cachedClientName(config: Pick<TargetConfig, 'name' | 'cache'>, controls: Pick<RunControls, 'fault'>): string | undefined {
  // Tests and tools may build controls without a fault plan: none, then.
  const fault = controls.fault as RunControls['fault'] | undefined;
  return config.cache === 'tracking' && fault?.kind === 'partition-client' ? `cachebench-${config.name}` : undefined;
}

/**
 * The narrow interface every driver implements: what the seed loop needs, nothing more.
 * Every method rejects (never hangs) once the op deadline passes.
 */
export interface CacheClient {
  /** SET key value EX ttlSeconds */
  set(key: string, value: Buffer, ttlSeconds: number): Promise<void>;
  /** GET key, as bytes; null when the key does not exist. */
  get(key: string): Promise<Buffer | null>;
  /**
   * GET key, its value handed to `look` where it lies in the bytes received (valid only during the call: look must not
   * keep it); resolves with what look returned. Saves the copy that get() hands out. Optional: see readWith.
   */
  read?<T>(key: string, look: (value: Buffer | null) => T): Promise<T>;
  /** DEL key (exact name). */
  del(key: string): Promise<void>;
  /**
   * Bytes written to the servers and read from them so far, over all its connections (requests and replies on the
   * wire); only clients that count them (cachebench's own) have it.
   */
  wireBytes?(): number;
  /** Closes all connections; never throws, never hangs. */
  close(): Promise<void>;
  /** The client's cache counters; present exactly when the target's CACHE is tracking. */
  cacheCounters?(): Promise<CacheCounters>;
  /**
   * When the driver emptied its cache (the most recent 1000, and how often in all); only drivers whose cache cachebench
   * can watch have it (node-redis), not GLIDE (its cache lives in its core).
   */
  cacheFlushes?(): CacheFlushes;
  /**
   * Any single-key-slot command, args[0] being its name (e.g. ['HSET', key, 'f', value]); `route.key` is a key the
   * command touches (all its keys share one cluster slot), `route.readOnly` whether it only reads. Optional: drivers
   * that cannot send arbitrary commands leave it out. Same deadline and error classes as get/set.
   */
  command?(args: readonly (string | Buffer)[], route: CommandRoute): Promise<CommandReply>;
  /**
   * A transaction: MULTI, `commands`, EXEC on the connection serving route.key's slot (all their keys share it), no
   * other command between them; the commands' replies (EXEC's array). An error reply in it, or EXECABORT, fails the op
   * with CommandReplyError. Optional, as command() is.
   */
  transaction?(commands: readonly (readonly (string | Buffer)[])[], route: Omit<CommandRoute, 'readOnly'>): Promise<CommandReply[]>;
  /**
   * The driver honours `route.wait` of command() and transaction(): WAIT in the same write as the command, on the
   * connection that ran it (after a redirection too), within the op's one deadline; fewer replicas fail the op with
   * WaitShortfallError. Absent: the caller sends WAIT after the reply (workload/mix-client.ts).
   */
  readonly waitsInline?: boolean;
}

/** Where a command() goes: a key it touches (all its keys share one cluster slot), whether it only reads, and a WAIT to follow it. */
export interface CommandRoute {
  readonly key: string;
  readonly readOnly: boolean;
  /** `<NAME>_WAIT`: a WAIT after the command, where the driver can send it with it (CacheClient.waitsInline). */
  readonly wait?: { readonly replicas: number; readonly timeoutMs: number };
}

/**
 * A reply of CacheClient.command(), the same shape whichever driver sent it: null (nil / RESP3 null), a number (an
 * integer reply, or a RESP3 double), a Buffer (a bulk string, or a simple status string such as OK), or an array of
 * replies (a RESP2 array; a RESP3 map flattened to [key, value, key, value, …] in the server's order; a RESP3 set as an array).
 */
export type CommandReply = null | number | Buffer | readonly CommandReply[];

/** The server answered a command() with an error reply (e.g. WRONGTYPE …); the message is the server's text. */
export class CommandReplyError extends Error {
  override readonly name = 'CommandReplyError';
  constructor(text: string, options?: { cause?: unknown }) {
    super(text, options);
  }
}

/**
 * What a server said it supports, asked at connect on a connection of its own (see capabilities.ts).
 * true/false: asked and answered; null: not asked (a proxy, which closes the connection on commands it does not know).
 */
export interface Capabilities {
  /** HELLO 3 accepted: the server speaks RESP3 (needed for client-side caching). */
  readonly resp3: boolean | null;
  /** CLIENT TRACKING ON accepted (server-assisted client-side caching). */
  readonly tracking: boolean | null;
  /** CLUSTER SLOTS answered with a slot map (false on a server that is not a cluster node). */
  readonly clusterSlots: boolean | null;
  /** WAIT accepted (synchronous replication acknowledgement). */
  readonly wait: boolean | null;
  /** The server's own name (HELLO's `server`, e.g. redis or valkey), where it says. */
  readonly serverName: string | null;
  readonly serverVersion: string | null;
  /** Why a capability is null, or anything odd in the answers; one line each. */
  readonly notes: readonly string[];
}

/** What the harness learned about a target when it connected; goes into the report header. */
export interface TargetInfo {
  /** pool: several memcached servers sharded by the client. */
  readonly mode: 'cluster' | 'standalone' | 'proxy' | 'pool' | 'sentinel';
  /** Whether the mode was asked of the server (auto) or set by `<NAME>_MODE`. */
  readonly modeDetected: boolean;
  readonly serverVersion: string;
  readonly primaries: number;
  readonly replicas: number;
  readonly client: string;
  readonly clientVersion: string;
  /** Server addresses as host:port (never credentials). */
  readonly servers: readonly string[];
  readonly tls: boolean;
  readonly cache: CacheMode;
  /** Entries the client's cache holds at most (when cache is tracking). */
  readonly cacheEntries?: number;
  readonly readFrom: ReadFrom;
  /** `<NAME>_WAIT`: replicas each SET waits for (absent: none). */
  readonly waitReplicas?: number;
  /**
   * How the client retries, reconnects and redirects, in words: in a latency run ops fail at once (no retries behind
   * the loop's back); in a fault run (`resilient`) the settings an application would use for failover, bounded by
   * OP_TIMEOUT_MS. Recorded because they shape a failure window.
   */
  readonly retries?: string;
  /** memcache: the smallest item size limit the servers reported (`stats settings` item_size_max); absent when none told (a proxy). */
  readonly itemSizeMax?: number;
  /** Filled in by the harness after the driver connected (drivers leave it out). */
  readonly capabilities?: Capabilities;
  /**
   * One-line notes about the set-up the user should see (e.g. a password that was not needed and not sent),
   * for the CLI to print as warnings and the report to show. Never holds a password.
   */
  readonly warnings?: readonly string[];
}

export interface ConnectedTarget {
  readonly config: TargetConfig;
  readonly info: TargetInfo;
  readonly client: CacheClient;
  /** The servers' probe it was connected with, for further connections to it (the overwriter's) without probing again. */
  readonly probe?: TargetProbe;
}

/** A driver turns a target's configuration into a connected client. */
export interface Driver {
  readonly name: string;
  readonly version: string;
  /** `probe`: the servers' probe of this target already made by the caller (probe.ts); without it the driver probes. */
  connect(config: TargetConfig, controls: RunControls, probe?: TargetProbe): Promise<ConnectedTarget>;
}

/** Drops one trailing full stop, so that `${reason}. Fix: ...` never reads `required.. Fix`. */
function withoutFinalStop(text: string): string {
  return text.trim().replace(/\.+$/, '');
}

/**
 * A listed server cannot be used (refused, timed out, auth failed, TLS failed, cluster down).
 * Raised while connecting, before any key is written; the CLI maps it to exit code 3.
 * The message ends with `. Fix: <fix>`; it never holds a password.
 */
export class TargetUnreachableError extends Error {
  override readonly name: string = 'TargetUnreachableError';
  /** What the user can do about it, e.g. `set REDIS_TLS_CA=/path/ca.pem`. */
  readonly fix: string;
  /** What went wrong, without the target and server prefix. */
  readonly reason: string;
  constructor(
    readonly target: string,
    readonly server: string,
    reason: string,
    fix: string,
    options?: { cause?: unknown },
  ) {
    const cleanReason = withoutFinalStop(reason);
    const cleanFix = withoutFinalStop(fix);
    super(`target ${target}: cannot use ${server}: ${cleanReason}. Fix: ${cleanFix}`, options);
    this.reason = cleanReason;
    this.fix = cleanFix;
  }
}

/**
 * The servers answered, but not as the target is configured: `<NAME>_MODE=standalone` on a
 * Redis Cluster node, cluster nodes mixed with a standalone server, several standalone servers.
 * Found by probing (so traffic was sent, unlike a ConfigError), or, for a configuration that validation
 * rejects anyway, by the driver before probing; the CLI maps it to exit code 3, "the target cannot be used as configured".
 */
export class TargetMismatchError extends TargetUnreachableError {
  override readonly name: string = 'TargetMismatchError';
}

/**
 * An op failed because the connection to a server was lost mid-run (the server died, closed the
 * connection or cannot be reconnected). Counted per distinct message, so the message names only the server.
 */
export class ConnectionLostError extends Error {
  override readonly name = 'ConnectionLostError';
  constructor(
    readonly server: string,
    options?: { cause?: unknown },
  ) {
    super(`connection to ${server} lost`, options);
  }
}

/**
 * A Redis Cluster kept redirecting an op (MOVED/ASK) beyond the client's limit: slots are moving
 * (resharding, failover) or the nodes disagree about who serves them.
 */
export class ClusterRedirectError extends Error {
  override readonly name = 'ClusterRedirectError';
  constructor(
    readonly server: string,
    options?: { cause?: unknown },
  ) {
    super(`too many cluster redirections (MOVED/ASK) for an op on ${server}: the cluster's slots are moving or its nodes disagree`, options);
  }
}

/** An op got no reply within OP_TIMEOUT_MS. */
export class OpTimeoutError extends Error {
  override readonly name = 'OpTimeoutError';
  constructor(
    readonly server: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`no reply from ${server} within OP_TIMEOUT_MS=${timeoutMs} ms`, options);
  }
}

/**
 * `<NAME>_WAIT=<n>`: fewer than n replicas acknowledged a SET within WAIT's timeout, so the write does not count as
 * acknowledged: the op fails.
 */
export class WaitShortfallError extends Error {
  override readonly name = 'WaitShortfallError';
  constructor(
    readonly server: string,
    readonly acknowledged: number,
    readonly wanted: number,
    readonly timeoutMs: number,
  ) {
    super(`WAIT: ${acknowledged} of ${wanted} replica${wanted === 1 ? '' : 's'} acknowledged the write on ${server} within ${timeoutMs} ms`);
  }
}

/** WAIT's own timeout: half the op deadline, so a shortfall is reported as one before the op times out. */
export function waitTimeoutMs(opTimeoutMs: number): number {
  return Math.max(1, Math.floor(opTimeoutMs / 2));
}

/** One listed server's answers to the probe (targets/probe.ts): INFO, CLUSTER NODES, and how it took the login. */
export interface Probe {
  readonly server: ServerAddress;
  readonly info: Map<string, string>;
  readonly clusterNodes?: string;
  /** Slot ranges whose CLUSTER SLOTS entry lists no replica, and all ranges (asked only for READ_FROM=replica). */
  readonly rangesWithoutReplica?: { readonly without: number; readonly of: number };
  /** A password was given but the server has none (AUTH answered "no password is set" or similar). */
  readonly passwordUnneeded?: boolean;
}

/** What probing a target found: its mode, servers, roles and version; drivers and load workers connect from it. */
export interface TargetProbe {
  readonly mode: 'cluster' | 'standalone' | 'proxy' | 'sentinel';
  /** The first listed server (the standalone or proxy server; a cluster's first startup node; sentinel: the primary the sentinels named). */
  readonly first: ServerAddress;
  readonly probes: readonly Probe[];
  /** A password was given but no server needs one: the measured connections leave it out. */
  readonly passwordUnneeded: boolean;
  readonly roles: { readonly primaries: number; readonly replicas: number };
  readonly serverVersion: string;
  /** For TargetInfo.warnings. */
  readonly warnings: readonly string[];
}

/** Socket and stream codes of a lost connection, whichever driver saw them. */
const LOST_CODES = new Set([
  'ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTCONN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN',
  'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END',
]);

/** Whether an error is a socket's own (a code above, or `connect/read/write E…` in its message): the connection is gone. */
export function isLostSocketError(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return (typeof code === 'string' && LOST_CODES.has(code)) || /^(connect|read|write) E[A-Z]+\b/.test(error.message);
}

/** GET key through `look`: the client's read() where it has one, else get() and look at the copy. */
export function readWith<T>(client: CacheClient, key: string, look: (value: Buffer | null) => T): Promise<T> {
  return client.read !== undefined ? client.read(key, look) : client.get(key).then(look);
}
