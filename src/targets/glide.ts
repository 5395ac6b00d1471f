import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type {
  Batch, ClusterBatch, GlideClient, GlideClientConfiguration, GlideClusterClient, GlideClusterClientConfiguration, GlideString, ServerCredentials,
  SingleNodeRoute,
} from '@valkey/valkey-glide';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import { displayAddress, type ServerAddress } from '../config/servers.js';
import {
  cachedClientName, ClusterRedirectError, CommandReplyError, ConnectionLostError, OpTimeoutError, TargetMismatchError, TargetUnreachableError,
  WaitShortfallError, waitTimeoutMs, type CacheClient, type CacheCounters, type CommandReply, type ConnectedTarget, type Driver, type TargetProbe,
} from './client.js';
import { CHECK_ADDRESS } from './diagnose.js';
import { keySlot } from './cluster-nodes.js';
import { credentialsFor, probeTarget, redactFor, targetInfo, unreachableError } from './probe.js';

/**
 * The Valkey GLIDE driver (`<NAME>_CLIENT=glide`): `@valkey/valkey-glide`, a Rust core (redis-rs fork) in the Node
 * process behind a Unix socket. `GlideClient` for a standalone server, `GlideClusterClient` for Redis Cluster; with
 * `<NAME>_CACHE=tracking` GLIDE's own client-side cache (RESP3, CLIENT TRACKING ON BCAST) answers repeated GETs.
 *
 * What GLIDE sends besides the ops (seen in INFO commandstats of Redis 7.0):
 * - every connection: `CLIENT SETINFO LIB-NAME GlideJS` and `CLIENT SETINFO LIB-VER <version>` (always, errors ignored:
 *   Redis before 7.2 answers each with ERR, counted in the server's `errorstat_ERR`); `HELLO 3` under RESP3 (cache on),
 *   `AUTH` under RESP2 when a password is set; `CLIENT TRACKING ON BCAST` with the cache on;
 * - standalone: `INFO REPLICATION` at connect (to find the primary);
 * - cluster: `CLUSTER SLOTS`, `ROLE`, `CLIENT SETNAME` on a management connection per node, `READONLY` where reads
 *   may go to replicas, and a background `PING` per node every few seconds (connection checks) plus periodic
 *   topology checks.
 * No `CLIENT SETNAME` on the measured connections, except with the cache on in a partition-client run
 * (cachedClientName: the fault finds them by it).
 *
 * GLIDE cannot talk to twemproxy: nutcracker answers `CLIENT` (and `HELLO`) with "unsupported command" and closes the
 * connection, so every connection attempt fails; that is why proxy mode is not in CLIENT_SUPPORT for glide.
 */

/**
 * The module, loaded on first connect, so that runs without a glide target never pay for it: loading builds a Node
 * diagnostic report (to tell glibc from musl, build-ts/native.js) and loads the 14 MB native addon, about 80 ms.
 */
type GlideModule = typeof import('@valkey/valkey-glide');

let glideModule: Promise<GlideModule> | undefined;

/**
 * Loads GLIDE and silences its logger: left alone, the Rust core prints WARN/ERROR lines (reconnects, timeouts) to
 * stdout, where cachebench's data goes. Failures reach the harness as rejected ops instead. `Logger.init` keeps a
 * logger configured before (by a user of the API), so this never overrides a deliberate set-up.
 */
function loadGlide(): Promise<GlideModule> {
  glideModule ??= import('@valkey/valkey-glide').then((glide) => {
    glide.Logger.init('off');
    return glide;
  });
  return glideModule;
}

/** The installed version, read from its package.json (its `exports` map hides the file from require). */
function glideVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve('@valkey/valkey-glide');
    return (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch (error: unknown) {
    // Only the report's version column depends on it; connect() fails with the real cause if GLIDE is missing.
    void error;
    return 'unknown';
  }
}

const GLIDE_VERSION = glideVersion();

/**
 * Payload size the cache is sized for when the driver is not told the scenario's (see glideCacheKb).
 * 64 KiB: larger than the payloads of the seed article (20 000 B), so CACHE_ENTRIES of those always fit.
 */
export const GLIDE_SIZING_PAYLOAD_BYTES = 64 * 1024;
/**
 * Bytes GLIDE charges an entry beyond its value: it counts the key's bytes plus the size of a redis-rs `Value`
 * (`calculate_entry_size` in glide-core/redis-rs/redis/src/cache/glide_cache.rs). Measured: 1024 KB held 52 entries of
 * 20 000 B under 66-byte keys, about 165 B each beyond the value; 256 leaves room for longer keys.
 */
export const GLIDE_ENTRY_OVERHEAD_BYTES = 256;
/** GLIDE's cache is never sized below 1 MiB. */
export const GLIDE_CACHE_MIN_KB = 1024;
/** Nor above 4 GiB: a bound, not an allocation (GLIDE uses memory as entries arrive), but a bound on a runaway. */
export const GLIDE_CACHE_MAX_KB = 4 * 1024 * 1024;

/**
 * GLIDE sizes its client-side cache in kilobytes (`maxCacheKb`), cachebench in entries (`<NAME>_CACHE_ENTRIES`):
 * `entries` values of `payloadBytes` each, plus GLIDE's per-entry overhead, within [1 MiB, 4 GiB].
 * The driver does not know the scenario's payload (one connection serves every scenario of a run, and a scenario may
 * sweep PAYLOAD_BYTES), so it sizes for GLIDE_SIZING_PAYLOAD_BYTES: at least `entries` entries fit for any payload up
 * to 64 KiB, and more than `entries` when values are smaller (GLIDE evicts by memory, never by count).
 */
export function glideCacheKb(entries: number, payloadBytes: number = GLIDE_SIZING_PAYLOAD_BYTES): number {
  const kb = Math.ceil((entries * (payloadBytes + GLIDE_ENTRY_OVERHEAD_BYTES)) / 1024);
  return Math.min(GLIDE_CACHE_MAX_KB, Math.max(GLIDE_CACHE_MIN_KB, kb));
}

/** The nodes serving one slot, as host:port. */
export interface SlotNodes {
  readonly primary: string;
  readonly replicas: readonly string[];
}

/** host:port of a CLUSTER NODES address field (`ip:port@cport[,hostname]`), or undefined for a node without one. */
function nodeAddress(field: string): string | undefined {
  const address = field.split('@')[0] ?? '';
  const colon = address.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const port = Number(address.slice(colon + 1));
  return port > 0 ? displayAddress(address.slice(0, colon), port) : undefined;
}

/**
 * slot -> serving nodes, from CLUSTER NODES output (the probe's). Used only to name the server behind a failed op:
 * GLIDE does not expose its own slot map. Failed replicas are left out; the map is the one at connect (after a
 * failover an error may name the old primary, which is where the failure started).
 */
export function slotMap(clusterNodes: string): ReadonlyArray<SlotNodes | undefined> {
  const lines = clusterNodes.split('\n').map((l) => l.trim().split(' ')).filter((f) => f.length >= 8);
  const replicasOf = new Map<string, string[]>();
  for (const f of lines) {
    const [, addressField = '', flags = '', primaryId = ''] = f;
    const address = nodeAddress(addressField);
    if (!flags.includes('slave') || /fail|noaddr|handshake/.test(flags) || address === undefined) continue;
    replicasOf.set(primaryId, [...(replicasOf.get(primaryId) ?? []), address]);
  }
  const slots: Array<SlotNodes | undefined> = new Array<SlotNodes | undefined>(16384).fill(undefined);
  for (const f of lines) {
    const [id = '', addressField = ''] = f;
    const primary = nodeAddress(addressField);
    if (primary === undefined) continue;
    const nodes: SlotNodes = { primary, replicas: replicasOf.get(id) ?? [] };
    for (const range of f.slice(8)) {
      if (range.startsWith('[')) continue; // a slot being imported or migrated: still served by its owner's line
      const [from, to = from] = range.split('-').map(Number);
      if (from === undefined || to === undefined || !Number.isInteger(from) || !Number.isInteger(to)) continue;
      for (let slot = from; slot <= to && slot < 16384; slot++) slots[slot] = nodes;
    }
  }
  return slots;
}

/** GLIDE error class names (`ValkeyError.name` is the class name: build-ts/Errors.js). */
const GLIDE_TIMEOUT = 'TimeoutError';
/** The connection broke under the op (ConnectionError) or the client was closed under it (ClosingError). */
const GLIDE_LOST = new Set(['ConnectionError', 'ClosingError']);
/**
 * RequestError texts of the cluster client that mean the op found no connection: "Connection in recovery" (an op that
 * arrived while the client reconnects, with the recovery queue off) and "Connection dropped" (queued ops of a client
 * being dropped); both ClientError in glide-core/redis-rs/redis/src/cluster_async/mod.rs, so not ConnectionError.
 */
const GLIDE_LOST_MESSAGES = /^Connection (in recovery|dropped)\b/;
/**
 * A redirection GLIDE gave up following (it follows MOVED/ASK itself, at most 3 retries): the server's reply as a
 * RequestError, "MOVED 3999 host:port" or in redis-rs's form "... - Moved: 3999 host:port". Not seen live; matched
 * on both forms.
 */
const GLIDE_REDIRECT = /^(MOVED|ASK)\b|- (Moved|Ask): \d+ /;

/**
 * Turns GLIDE's errors into the shared ones: TimeoutError ("timed out": no reply within requestTimeout) becomes
 * OpTimeoutError; ConnectionError ("Received connection error `...`. Will attempt to reconnect"), ClosingError and the
 * cluster's "Connection in recovery" become ConnectionLostError; a redirection given up on becomes ClusterRedirectError.
 * `lost` says that the server's connection was seen breaking and no op on it has succeeded since: a timeout then is
 * GLIDE waiting for its reconnection (it holds ops while it reconnects, and cannot be told not to), so it is reported
 * as the lost connection it is. Server replies (GLIDE's RequestError with the server's text, e.g. "OOM: command not
 * allowed ...", "WRONGTYPE: ...") pass unchanged, as do GLIDE's other request errors.
 */
export function translateGlideError(error: unknown, server: string, opTimeoutMs: number, lost = false): unknown {
  if (!(error instanceof Error)) return error;
  if (error.name === GLIDE_TIMEOUT) {
    return lost ? new ConnectionLostError(server, { cause: error }) : new OpTimeoutError(server, opTimeoutMs, { cause: error });
  }
  if (GLIDE_LOST.has(error.name) || GLIDE_LOST_MESSAGES.test(error.message)) return new ConnectionLostError(server, { cause: error });
  if (GLIDE_REDIRECT.test(error.message)) return new ClusterRedirectError(server, { cause: error });
  return error;
}

/**
 * GLIDE's names of the server's error codes it knows (ServerErrorKind, as ErrorKind's Debug text, in
 * glide-core/redis-rs/redis/src/parser.rs and types.rs), back to the codes.
 */
const GLIDE_ERROR_CODES: Readonly<Record<string, string>> = {
  ResponseError: 'ERR', ExecAbortError: 'EXECABORT', BusyLoadingError: 'LOADING', NoScriptError: 'NOSCRIPT', Moved: 'MOVED', Ask: 'ASK',
  TryAgain: 'TRYAGAIN', ClusterDown: 'CLUSTERDOWN', CrossSlot: 'CROSSSLOT', MasterDown: 'MASTERDOWN', ReadOnly: 'READONLY', NotBusy: 'NOTBUSY',
  PermissionDenied: 'NOPERM',
};

/**
 * The server's own text of an error reply, from GLIDE's RequestError message, or undefined for an error that is not a
 * server's reply. GLIDE rewrites them: a code it knows as "An error was signalled by the server: - ResponseError: <text>"
 * ("…server:- Kind" without text), any other code as "WRONGTYPE: <text>" (redis-rs's Display of RedisError).
 */
export function glideServerErrorText(message: string): string | undefined {
  const known = /^An error was signalled by the server:(?: -|-) (\w+)(?:: ([\s\S]*))?$/.exec(message);
  if (known !== null) {
    const code = GLIDE_ERROR_CODES[known[1] as string];
    return code === undefined ? undefined : known[2] !== undefined ? `${code} ${known[2]}` : code;
  }
  const other = /^([A-Z][A-Z0-9_-]+): ([\s\S]*)$/.exec(message);
  return other !== null ? `${other[1]} ${other[2]}` : undefined;
}

/**
 * How GLIDE reshapes the reply of a command by its name, custom commands included (expected_type_for_cmd in
 * glide-core/src/client/value_conversion.rs, matching option words in any case): what glideReply undoes.
 * score: a score parsed into a double (RESP3 sends a double); float / distance: a bulk string parsed into a double in
 * both protocols; scores: ZMSCORE's; rank: [rank, score]; scoreMap / popOne: member-score pairs made a map (RESP3 sends
 * [[member, score], …], ZPOPMIN without a count [member, score]); scorePairs / pairs: made [[member, score], …]
 * (RESP3 sends that too).
 */
type GlideShape = 'score' | 'float' | 'distance' | 'scores' | 'rank' | 'scoreMap' | 'popOne' | 'scorePairs' | 'pairs';

function glideShape(args: readonly (string | Buffer)[]): GlideShape | undefined {
  const has = (word: string): boolean => args.some((a) => a.length === word.length && (typeof a === 'string' ? a : a.toString('latin1')).toUpperCase() === word);
  switch (args[0]?.toString().toUpperCase()) {
    case 'ZSCORE': case 'ZINCRBY': return 'score';
    case 'ZADD': return has('INCR') ? 'score' : undefined;
    case 'INCRBYFLOAT': case 'HINCRBYFLOAT': return 'float';
    case 'GEODIST': return 'distance';
    case 'ZMSCORE': return 'scores';
    case 'ZRANK': case 'ZREVRANK': return has('WITHSCORE') ? 'rank' : undefined;
    case 'ZRANGE': case 'ZDIFF': case 'ZUNION': case 'ZINTER': return has('WITHSCORES') ? 'scoreMap' : undefined;
    case 'ZPOPMIN': case 'ZPOPMAX': return args.length > 2 ? 'scoreMap' : 'popOne';
    case 'ZRANDMEMBER': return has('WITHSCORES') ? 'scorePairs' : undefined;
    case 'HRANDFIELD': return has('WITHVALUES') ? 'pairs' : undefined;
    default: return undefined;
  }
}

const trimZeros = (fixed: string): string => (fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed);

/**
 * A double as the server writes it in RESP2: a score (addReplyDouble) as `%.17g` before Redis 7.2, since then as the
 * shortest text that reads back as the same double (fpconv_dtoa), laid out as %g; `fixed`: never with an exponent
 * (INCRBYFLOAT's text), in the shortest digits. inf and -inf as such.
 */
export function doubleText(n: number, shortest: boolean, fixed = false): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'nan' : n > 0 ? 'inf' : '-inf';
  const [digits = '', e = '0'] = (shortest ? n.toExponential() : n.toExponential(16)).split('e');
  const exp = Number(e);
  if (!fixed && (exp < -4 || exp >= 17)) return `${trimZeros(digits)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const significant = shortest ? digits.replace(/[-.]/g, '').length : 17;
  return trimZeros(n.toFixed(Math.min(100, Math.max(0, significant - 1 - exp))));
}

/** A GLIDE map entry ({ key, value }: GLIDE's form of a RESP3 map and of the maps it makes). */
function isEntry(x: unknown): x is { key: unknown; value: unknown } {
  return typeof x === 'object' && x !== null && !Buffer.isBuffer(x) && !Array.isArray(x) && 'key' in x && 'value' in x;
}

/**
 * A GLIDE reply (Decoder.Bytes) as a CommandReply, whatever the command: OK (GLIDE's one string) and any other string as
 * bytes, booleans as 1/0 (what RESP2 sends; GLIDE makes HEXISTS, EXPIRE, SISMEMBER … booleans), big numbers as
 * numbers, maps ([{ key, value }]) flattened, sets as arrays; an error inside (EXEC's) fails the op.
 */
function fromGlide(reply: unknown): CommandReply {
  if (reply === null || typeof reply === 'number' || Buffer.isBuffer(reply)) return reply;
  if (typeof reply === 'string') return Buffer.from(reply, 'utf8');
  if (typeof reply === 'boolean') return reply ? 1 : 0;
  if (typeof reply === 'bigint') return Number(reply);
  if (reply instanceof Set) return [...reply].map(fromGlide);
  if (Array.isArray(reply)) return reply.flatMap((x: unknown) => (isEntry(x) ? [fromGlide(x.key), fromGlide(x.value)] : [fromGlide(x)]));
  if (reply instanceof Error) throw new CommandReplyError(glideServerErrorText(reply.message) ?? reply.message, { cause: reply });
  throw new TypeError(`a command answered a ${typeof reply} GLIDE should not give`);
}

/**
 * A GLIDE reply as the server sent it, as far as GLIDE left it known (see GlideShape): scores that GLIDE parsed from
 * RESP2 bulk strings are written back as text (`shortest`: the server writes them as the shortest round trip, Redis
 * 7.2 on), pairs it made a map are pairs or flat again. Exact for scores the server wrote in 17 digits or fewer, which
 * are all a double has; INCRBYFLOAT's long double text (`%.17Lf`, trimmed) comes back as the double's shortest text.
 */
function glideReply(reply: unknown, shape: GlideShape | undefined, resp2: boolean, shortest: boolean): CommandReply {
  if (shape === undefined || reply === null) return fromGlide(reply);
  const score = (x: unknown): CommandReply => (resp2 && typeof x === 'number' ? Buffer.from(doubleText(x, shortest)) : fromGlide(x));
  switch (shape) {
    case 'score': return score(reply);
    case 'float': return typeof reply === 'number' ? Buffer.from(doubleText(reply, true, true)) : fromGlide(reply);
    case 'distance': return typeof reply === 'number' ? Buffer.from(reply.toFixed(4)) : fromGlide(reply);
    default:
  }
  if (!Array.isArray(reply)) return fromGlide(reply);
  if (shape === 'scores') return reply.map(score);
  if (shape === 'rank') return [fromGlide(reply[0]), score(reply[1])];
  const pairs = reply.map((x: unknown) => (isEntry(x) ? [x.key, x.value] : Array.isArray(x) ? x : [x])) as unknown[][];
  const pair = ([member, value]: unknown[]): CommandReply[] => [fromGlide(member), shape === 'pairs' ? fromGlide(value) : score(value)];
  return resp2 || shape === 'popOne' ? pairs.flatMap(pair) : pairs.map(pair);
}

/** Commands GLIDE's client-side cache answers and fills, whichever API sends them (cacheable_cmd_type in redis-rs's cmd.rs). */
const GLIDE_CACHED = new Set(['GET', 'HGETALL', 'SMEMBERS']);

/**
 * Sends a command with customCommand (Decoder.Bytes, the client's default), on a cluster routed to route.key's slot:
 * its primary, or for a read with READ_FROM=replica one of its replicas in turn (GLIDE's replicaSlotKey: the primary
 * when none is up); GLIDE follows MOVED/ASK. With the cache on, GLIDE's cache would answer GET, HGETALL and SMEMBERS by
 * their name and keep their replies, whatever sent them: those go as a pipeline of one (a non-atomic batch), which the
 * cache neither answers nor fills (only redis-rs's send_packed_command consults it), so cacheCounters() count the
 * seed loop's GETs alone and a command's reply is always the server's.
 */
async function sendCustom(client: AnyGlideClient, glide: GlideModule, args: GlideString[], read: boolean, key: string, cached: boolean): Promise<unknown> {
  const cluster = client instanceof glide.GlideClusterClient;
  const route: SingleNodeRoute = { type: read ? 'replicaSlotKey' : 'primarySlotKey', key };
  if (!cached || !GLIDE_CACHED.has(args[0]?.toString().toUpperCase() ?? '')) {
    return cluster ? client.customCommand(args, { route }) : (client as GlideClient).customCommand(args);
  }
  const replies = cluster
    ? await client.exec((new glide.ClusterBatch(false) as ClusterBatch).customCommand(args), true, { route })
    : await (client as GlideClient).exec((new glide.Batch(false) as Batch).customCommand(args), true);
  return replies?.[0] ?? null;
}

type AnyGlideClient = GlideClient | GlideClusterClient;

/** A GLIDE RequestError the translation left as it was: the server's error reply, as CommandReplyError; else the translation. */
function serverError(error: unknown, translated: unknown): unknown {
  const text = translated === error && error instanceof Error && error.name === 'RequestError' ? glideServerErrorText(error.message) : undefined;
  return text !== undefined ? new CommandReplyError(text, { cause: error }) : translated;
}

/**
 * A transaction as an atomic batch (GLIDE writes MULTI … EXEC itself), on a cluster to `key`'s primary; the replies as
 * GLIDE decoded them. An error reply in it, or EXEC's nil, fails it with CommandReplyError.
 */
async function glideTransaction(client: AnyGlideClient, glide: GlideModule, commands: readonly (readonly (string | Buffer)[])[],
  key: string): Promise<unknown[]> {
  const cluster = client instanceof glide.GlideClusterClient;
  const batch = cluster ? new glide.ClusterBatch(true) as ClusterBatch : new glide.Batch(true) as Batch;
  for (const args of commands) batch.customCommand([...args]);
  const replies = await (cluster
    ? client.exec(batch as ClusterBatch, true, { route: { type: 'primarySlotKey', key } })
    : (client as GlideClient).exec(batch as Batch, true));
  if (replies === null) throw new CommandReplyError('EXEC answered nil (the transaction was not run)');
  return replies.map((reply) => {
    if (reply instanceof Error) throw new CommandReplyError(glideServerErrorText(reply.message) ?? reply.message, { cause: reply });
    return reply;
  });
}

/** Names the server an op on `key` goes to: the one server, or the cluster node(s) serving the key's slot. */
type ServerOf = (key: string, read: boolean) => string;

function serverNamer(config: TargetConfig, first: ServerAddress, clusterNodes: string | undefined): ServerOf {
  const all = config.servers.map((s) => s.display).join(',');
  if (clusterNodes === undefined) return () => (config.servers.length === 1 ? first.display : all);
  const slots = slotMap(clusterNodes);
  const replicaReads = config.readFrom === 'replica';
  return (key, read) => {
    const nodes = slots[keySlot(key)];
    if (nodes === undefined) return all;
    // GETs go round robin to the slot's replicas (to its primary when none is connected).
    return read && replicaReads && nodes.replicas.length > 0 ? nodes.replicas.join(',') : nodes.primary;
  };
}

/** What wrap needs to know of the target besides its configuration. */
interface GlideTarget {
  readonly serverOf: ServerOf;
  /** The servers write doubles as their shortest text (Redis or Valkey 7.2 on), not as `%.17g`. */
  readonly shortestDoubles: boolean;
}

function wrap(client: AnyGlideClient, glide: GlideModule, config: TargetConfig, controls: RunControls, target: GlideTarget): CacheClient {
  const { serverOf, shortestDoubles } = target;
  /** Servers whose connection GLIDE reported broken, until an op on them succeeds again. */
  const lost = new Set<string>();
  const translate = (key: string, read: boolean, error: unknown): unknown => {
    const server = serverOf(key, read);
    const translated = translateGlideError(error, server, controls.opTimeoutMs, lost.has(server));
    if (translated instanceof ConnectionLostError) lost.add(server);
    return translated;
  };
  const failed = (key: string, read: boolean) => (error: unknown): never => {
    throw translate(key, read, error);
  };
  const succeeded = (key: string, read: boolean): void => {
    if (lost.size > 0) lost.delete(serverOf(key, read));
  };
  const cluster = client instanceof glide.GlideClusterClient;
  const waitFor = config.waitReplicas;
  const waitMs = waitTimeoutMs(controls.opTimeoutMs);
  const waitArgs = ['WAIT', String(waitFor), String(waitMs)];
  // SET key value EX ttl (`expiry` in SetOptions, build-ts/Commands.d.ts); one options object per TTL.
  let expiryTtl = -1;
  let expiry = { expiry: { type: glide.TimeUnit.Seconds, count: 0 } };
  return {
    async set(key, value, ttlSeconds) {
      if (ttlSeconds !== expiryTtl) {
        expiryTtl = ttlSeconds;
        expiry = { expiry: { type: glide.TimeUnit.Seconds, count: ttlSeconds } };
      }
      await client.set(key, value, expiry).catch(failed(key, false));
      if (waitFor > 0) {
        // WAIT after the SET, routed to the key's primary: GLIDE multiplexes one connection per node, so it follows
        // the SET on the connection that wrote it.
        const acknowledged = await (cluster
          ? (client as GlideClusterClient).customCommand(waitArgs, { route: { type: 'primarySlotKey', key } })
          : (client as GlideClient).customCommand(waitArgs)).catch(failed(key, false));
        if (!(Number(acknowledged) >= waitFor)) throw new WaitShortfallError(serverOf(key, false), Number(acknowledged), waitFor, waitMs);
      }
      succeeded(key, false);
    },
    async get(key) {
      // defaultDecoder Bytes: a Buffer (or null), also when the value comes from the client-side cache.
      const value = (await client.get(key).catch(failed(key, true))) as Buffer | null;
      succeeded(key, true);
      return value;
    },
    async del(key) {
      await client.del([key]).catch(failed(key, false));
      succeeded(key, false);
    },
    async command(args, route) {
      const read = route.readOnly && config.readFrom === 'replica';
      const reply = await sendCustom(client, glide, [...args], read, route.key, config.cache === 'tracking').catch((error: unknown) => {
        throw serverError(error, translate(route.key, read, error));
      });
      succeeded(route.key, read);
      return glideReply(reply, glideShape(args), config.cache !== 'tracking', shortestDoubles);
    },
    async transaction(commands, route) {
      const replies = await glideTransaction(client, glide, commands, route.key).catch((error: unknown) => {
        throw error instanceof CommandReplyError ? error : serverError(error, translate(route.key, false, error));
      });
      succeeded(route.key, false);
      return replies.map((reply, i) => glideReply(reply, glideShape(commands[i] ?? []), config.cache !== 'tracking', shortestDoubles));
    },
    close: () => closeGlide(client),
    ...(config.cache === 'tracking' ? { cacheCounters: () => cacheCounters(client, config, controls) } : {}),
  };
}

/** Closes a client; never throws. */
function closeGlide(client: AnyGlideClient): Promise<void> {
  try {
    // Synchronous: rejects pending ops with ClosingError and ends (half-closes) the Unix socket to the core. The core
    // keeps its end open until the ops it still has in flight time out (up to OP_TIMEOUT_MS when a server stopped
    // answering), and that open socket would keep the process alive as long: destroy it, every op is settled already.
    // `socket` is private in GLIDE's types (BaseClient.d.ts); should it go, the close tests see the process linger.
    client.close();
    (client as unknown as { socket?: { destroy?: () => void } }).socket?.destroy?.();
  } catch (error: unknown) {
    // close() never throws to its caller; a client that cannot be closed has nothing left to release.
    void error;
  }
  return Promise.resolve();
}

/** The client-side cache's counters of a client. */
async function cacheCounters(client: AnyGlideClient, config: TargetConfig, controls: RunControls): Promise<CacheCounters> {
  // GLIDE keeps a hit rate and a lookup count (BaseClient.d.ts getCache*): hits are rebuilt from them. It counts
  // invalidations in its core but has no metric type for them (CacheMetricsType in ProtobufMessage.d.ts), so null.
  const [lookups, hitRate, evictions] = await Promise.all([client.getCacheTotalLookups(), client.getCacheHitRate(), client.getCacheEvictions()])
    .catch((error: unknown) => {
      throw translateGlideError(error, config.servers.map((s) => s.display).join(','), controls.opTimeoutMs);
    });
  const hits = Math.round(hitRate * lookups);
  return { lookups, hits, misses: lookups - hits, invalidations: null, evictions };
}

/** Whether a server of this version writes doubles as their shortest text: Redis 7.2 on, and Valkey (forked from 7.2). */
function shortestDoubles(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 7 || (major === 7 && minor >= 2);
}

/** `Received error for address `host:port`: reason\n)` inside GLIDE's "Connection error: Standalone(...)" message. */
const GLIDE_ADDRESS_ERROR = /address `([^`]+)`: ([\s\S]*?)\s*\)?\s*$/;

/**
 * The TargetUnreachableError for a GLIDE client that could not be created although cachebench's probe (ioredis, Node's
 * TLS) got through just before: the server went away meanwhile, or GLIDE's TLS (rustls) refused what Node's accepted
 * (rustls ignores a certificate's CN and wants the address in its subjectAltName). GLIDE retries a refused connection
 * or a failed TLS handshake until connectionTimeout and then reports only "timed out"; other reasons (a refused login)
 * go through the shared diagnosis.
 */
async function connectError(config: TargetConfig, first: ServerAddress, error: unknown, controls: RunControls): Promise<Error> {
  const message = redactFor(error instanceof Error ? error.message : String(error), config);
  const match = GLIDE_ADDRESS_ERROR.exec(message);
  const at = match?.[1];
  let server = first;
  if (at !== undefined) {
    const colon = at.lastIndexOf(':');
    const host = at.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(at.slice(colon + 1));
    server = config.servers.find((s) => s.host === host && s.port === port) ?? { host, port, tls: config.tls, display: displayAddress(host, port) };
  }
  const reason = (match?.[2] ?? message).trim();
  if (reason !== 'timed out') return unreachableError(config, server, new Error(`${reason} (GLIDE)`, { cause: error }), controls);
  const name = config.name;
  return new TargetUnreachableError(name, server.display,
    `GLIDE could not connect within CONNECT_TIMEOUT_MS=${controls.connectTimeoutMs} ms although cachebench's probe just did (GLIDE retries a refused connection or a failed TLS handshake until then and reports only the timeout)`,
    config.tls
      ? `check that the server's certificate holds the address listed in ${name}_SERVERS in its subjectAltName (GLIDE does not read the CN) and is signed by the CA in ${name}_TLS_CA, or set ${name}_CLIENT=ioredis`
      : CHECK_ADDRESS,
    { cause: error });
}

/**
 * Set-ups GLIDE's Node API cannot do, refused before any traffic (configuration validation should catch them first:
 * proxy mode is not in CLIENT_SUPPORT for glide).
 */
function unsupported(config: TargetConfig): TargetMismatchError | undefined {
  const name = config.name;
  const servers = config.servers.map((s) => s.display).join(',') || '(none)';
  if (config.mode === 'proxy') {
    return new TargetMismatchError(name, servers, `${name}_CLIENT=glide cannot use a proxy: GLIDE sends CLIENT SETINFO (and HELLO) on every connection, which twemproxy answers by closing it`,
      `set ${name}_CLIENT=ioredis or node-redis for a proxy`);
  }
  if (config.tlsServername !== undefined) {
    return new TargetMismatchError(name, servers, `${name}_CLIENT=glide cannot check certificates against ${name}_TLS_SERVERNAME: GLIDE checks each server's certificate against the address it connects to`,
      `unset ${name}_TLS_SERVERNAME and list the servers in ${name}_SERVERS by a name or IP address their certificates hold, or set ${name}_CLIENT=ioredis`);
  }
  return undefined;
}

/** The GLIDE driver: `GlideClient` for a standalone server, `GlideClusterClient` for Redis Cluster. */
export const glideDriver: Driver = {
  name: 'glide',
  version: GLIDE_VERSION,
  async connect(config: TargetConfig, controls: RunControls, probe?: TargetProbe): Promise<ConnectedTarget> {
    const refused = unsupported(config);
    if (refused !== undefined) throw refused;
    const probed = probe ?? await probeTarget(config, controls);
    const { mode, first, probes, passwordUnneeded, warnings } = probed;
    const glide = await loadGlide();
    const tracking = config.cache === 'tracking';
    const clientName = cachedClientName(config, controls);
    const { username, password } = passwordUnneeded ? {} : credentialsFor(config, first);
    const credentials: ServerCredentials | undefined = password !== undefined ? { password, ...(username !== undefined ? { username } : {}) } : undefined;
    const sizedFor = controls.largestPayloadBytes ?? GLIDE_SIZING_PAYLOAD_BYTES;
    const cacheKb = glideCacheKb(config.cacheEntries, sizedFor);
    const base = {
      addresses: config.servers.map((s) => ({ host: s.host, port: s.port })),
      ...(credentials !== undefined ? { credentials } : {}),
      useTLS: config.tls,
      // The whole op: sending, the reply, and any reconnection or retry GLIDE does meanwhile (BaseClient.d.ts).
      requestTimeout: controls.opTimeoutMs,
      defaultDecoder: glide.Decoder.Bytes,
      // RESP2 as ioredis speaks it (GET and SET replies are the same bulk strings in both); RESP3 where the cache needs
      // push messages for invalidations.
      protocol: tracking ? glide.ProtocolVersion.RESP3 : glide.ProtocolVersion.RESP2,
      ...(tracking
        ? {
          // In a partition-client run, CLIENT SETNAME on every connection: how the fault finds this client's connections.
            ...(clientName !== undefined ? { clientName } : {}),
            // Entries live until invalidated or evicted (entryTtlMs 0); the server tells about changes (serverAssisted:
            // CLIENT TRACKING ON BCAST); metrics feed cacheCounters().
            clientSideCache: new glide.ClientSideCache({ maxCacheKb: cacheKb, entryTtlMs: 0, enableMetrics: true, serverAssisted: true }),
          }
        : {}),
      advancedConfiguration: {
        // Per TCP/TLS connection, also on reconnects; client creation as a whole gets 500 ms more (glide-core).
        connectionTimeout: controls.connectTimeoutMs,
        ...(config.tls && config.tlsCa !== undefined
          // Used instead of the system's trust store, as Node's `ca` is.
          ? { tlsAdvancedConfiguration: { rootCertificates: config.tlsCa.pem } }
          : {}),
      },
    };
    let client: AnyGlideClient;
    try {
      if (mode === 'cluster') {
        const options: GlideClusterClientConfiguration = {
          ...base,
          // GETs round robin over the slot's replicas (READONLY on their connections), the primary when none is up.
          ...(config.readFrom === 'replica' ? { readFrom: 'preferReplica' as const } : {}),
          // Fail an op while the cluster reconnects instead of queueing it for a transparent retry; a fault run keeps
          // GLIDE's default queue, as an application would.
          ...(controls.resilient === true ? {} : { recoveryRequestsQueueSize: 0 }),
        };
        client = await glide.GlideClusterClient.createClient(options);
      } else {
        const options: GlideClientConfiguration = base;
        client = await glide.GlideClient.createClient(options);
      }
    } catch (error: unknown) {
      throw await connectError(config, first, error, controls);
    }
    const cacheNote = tracking
      ? [`target ${config.name}: GLIDE sizes its cache in memory, not entries: ${cacheKb} KB (${config.name}_CACHE_ENTRIES=${config.cacheEntries} values of ${sizedFor} bytes, the run's largest PAYLOAD_BYTES), so it holds more entries of smaller values`]
      : [];
    const notes = [...warnings, ...cacheNote];
    return {
      config,
      client: wrap(client, glide, config, controls, {
        serverOf: serverNamer(config, first, mode === 'cluster' ? probes[0]?.clusterNodes : undefined),
        shortestDoubles: shortestDoubles(probed.serverVersion),
      }),
      info: {
        ...targetInfo(config, probed, 'glide', GLIDE_VERSION, notes),
        retries: controls.resilient === true
          ? `failover-ready: GLIDE's own reconnects, topology refresh and request queue while reconnecting; each op bounded by requestTimeout=OP_TIMEOUT_MS=${controls.opTimeoutMs}`
          : `GLIDE reconnects by itself; ${mode === 'cluster' ? 'no queue while reconnecting (an op fails); ' : ''}each op bounded by requestTimeout=OP_TIMEOUT_MS=${controls.opTimeoutMs}`,
      },
    };
  },
};
