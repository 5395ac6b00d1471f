/**
 * WORKLOAD: a weighted mix of command templates on real data types (or a built-in one by name), parsed and checked
 * before any traffic. The grammar, the commands cachebench can verify, the commands it refuses, and the built-ins.
 *
 *   WORKLOAD="9:GET {key:zipf:0.99}, 1:SET {key} {value}"      two entries, weights 9 and 1
 *   WORKLOAD="1:SET {key} {value}; EXPIRE {key} 30; GET {key}"  a sequence: three commands on the same key, in turn
 *   WORKLOAD="1:MULTI; INCR {key}; MGET {keys:4}; EXEC"          a transaction: MULTI, the commands, EXEC, as one op
 *   WORKLOAD="1:EVAL; INCR {key}; EXPIRE {key} 60"                 a Lua script of the commands (EVALSHA, EVAL on NOSCRIPT), as one op
 *
 * Placeholders: {key[:pattern]} (one key per entry, the same in every command of a sequence), {keys:N} (N keys sharing a
 * hash tag), {value[:bytes]}, {field[:count]}, {member[:count]}, {int[:max]}, {ttl}. Everything else is a literal argument.
 */
import { badValue, type Source } from './errors.js';
import { meanSize, sizeBounds, type SizeSpec } from './sizes.js';
import { MIX_LIST_MAX, MIX_MODEL_ENTRIES, MIX_SERVER_BYTES } from './limits.js';

/** How an entry picks its key among the client's keys: as KEY_DISTRIBUTION does, latest (near the key it wrote last), or gaussian. */
export type KeyPattern =
  | { readonly kind: 'uniform' } | { readonly kind: 'sequential' } | { readonly kind: 'zipf'; readonly exponent: number }
  | { readonly kind: 'latest'; readonly exponent: number } | { readonly kind: 'gaussian' };

export type MixArg =
  | { readonly kind: 'lit'; readonly text: string }
  | { readonly kind: 'key' }
  | { readonly kind: 'keys'; readonly n: number }
  | { readonly kind: 'value'; readonly bytes: number | null }
  | { readonly kind: 'field'; readonly count: number }
  | { readonly kind: 'member'; readonly count: number }
  | { readonly kind: 'int'; readonly max: number }
  /** A TTL in seconds drawn from KEY_TTL..KEY_TTL_MAX. */
  | { readonly kind: 'ttl' };

/** One command of an entry: its name (upper case) and its arguments after the name. */
export interface MixCommand {
  readonly name: string;
  readonly args: readonly MixArg[];
}

/** What the keys of a mix hold: every command of a mix must agree (else the server answers WRONGTYPE, not a measurement). */
export type KeyType = 'string' | 'counter' | 'hash' | 'list' | 'zset';

/**
 * An entry sent as one op: `multi`, its commands between MULTI and EXEC on one connection (nothing else between them);
 * `lua`, one script cachebench writes of its commands (each a redis.call on KEYS and ARGV), sent as EVALSHA. Their keys
 * share one hash tag ({key} is one of its {keys:N} group), so one slot on a cluster.
 */
export type Atomic = 'multi' | 'lua';

export interface MixEntry {
  readonly weight: number;
  /** Absent: a sequence (each command an op of its own, in turn). */
  readonly atomic?: Atomic;
  /** The entry as written (for the report). */
  readonly text: string;
  /** null: the run's KEY_DISTRIBUTION. */
  readonly pattern: KeyPattern | null;
  readonly commands: readonly MixCommand[];
}

/** A parsed WORKLOAD (plain data: sent to load workers). */
export interface WorkloadPlan {
  /** The built-in's name, or `custom`. */
  readonly name: string;
  readonly text: string;
  readonly entries: readonly MixEntry[];
  readonly keyType: KeyType;
  /** The most keys one command names ({keys:N}); keys are grouped (one hash tag) by this many. */
  readonly width: number;
  /** VALUE_SIZES: the sizes of {value} (and of preloaded values); null: PAYLOAD_BYTES. Set by the scenario (config/scenario.ts). */
  readonly sizes: SizeSpec | null;
  /** KEY_TTL..KEY_TTL_MAX: the TTLs drawn (equal: every TTL KEY_TTL); null until the scenario sets it (config/scenario.ts). */
  readonly ttl: { readonly minSeconds: number; readonly maxSeconds: number } | null;
  /** Distinct literal field names and members the mix names (besides field0… and m0…): the model follows them too. */
  readonly literalFields: number;
  readonly literalMembers: number;
  /** A mix with HINCRBY: hash fields hold integers (preloaded as 0). */
  readonly integerFields: boolean;
  /** Hash fields / sorted-set members the placeholders name (the largest {field:N} / {member:N}): field0… / m0…, preloaded. */
  readonly fields: number;
  readonly members: number;
}

/** What a command's arguments after its name may be. */
type Shape = 'key' | 'keys' | 'key value' | 'key int' | 'key seconds' | 'key field' | 'key fields' | 'key field-values' | 'key field int' | 'key values' |
  'key int int' | 'key int int [withscores]' | 'key score-members' | 'key int member' | 'key member' | 'key members' | 'key-values' | 'key value [ex]';

interface CommandSpec {
  readonly shape: Shape;
  readonly readOnly: boolean;
  /** The key type it needs; null: any (DEL, EXISTS, EXPIRE, TTL). */
  readonly type: KeyType | 'string-or-counter' | null;
}

/** The commands cachebench keeps a model of, so every reply is verified. */
export const MIX_COMMANDS: Readonly<Record<string, CommandSpec>> = {
  GET: { shape: 'key', readOnly: true, type: 'string-or-counter' },
  SET: { shape: 'key value [ex]', readOnly: false, type: 'string' },
  MGET: { shape: 'keys', readOnly: true, type: 'string-or-counter' },
  MSET: { shape: 'key-values', readOnly: false, type: 'string' },
  INCR: { shape: 'key', readOnly: false, type: 'counter' },
  DECR: { shape: 'key', readOnly: false, type: 'counter' },
  INCRBY: { shape: 'key int', readOnly: false, type: 'counter' },
  DECRBY: { shape: 'key int', readOnly: false, type: 'counter' },
  DEL: { shape: 'keys', readOnly: false, type: null },
  EXISTS: { shape: 'keys', readOnly: true, type: null },
  EXPIRE: { shape: 'key seconds', readOnly: false, type: null },
  TTL: { shape: 'key', readOnly: true, type: null },
  HSET: { shape: 'key field-values', readOnly: false, type: 'hash' },
  HGET: { shape: 'key field', readOnly: true, type: 'hash' },
  HMGET: { shape: 'key fields', readOnly: true, type: 'hash' },
  HGETALL: { shape: 'key', readOnly: true, type: 'hash' },
  HDEL: { shape: 'key fields', readOnly: false, type: 'hash' },
  HLEN: { shape: 'key', readOnly: true, type: 'hash' },
  HINCRBY: { shape: 'key field int', readOnly: false, type: 'hash' },
  LPUSH: { shape: 'key values', readOnly: false, type: 'list' },
  RPUSH: { shape: 'key values', readOnly: false, type: 'list' },
  LPOP: { shape: 'key', readOnly: false, type: 'list' },
  RPOP: { shape: 'key', readOnly: false, type: 'list' },
  LLEN: { shape: 'key', readOnly: true, type: 'list' },
  LRANGE: { shape: 'key int int', readOnly: true, type: 'list' },
  LTRIM: { shape: 'key int int', readOnly: false, type: 'list' },
  ZADD: { shape: 'key score-members', readOnly: false, type: 'zset' },
  ZINCRBY: { shape: 'key int member', readOnly: false, type: 'zset' },
  ZSCORE: { shape: 'key member', readOnly: true, type: 'zset' },
  ZREM: { shape: 'key members', readOnly: false, type: 'zset' },
  ZCARD: { shape: 'key', readOnly: true, type: 'zset' },
  ZRANGE: { shape: 'key int int [withscores]', readOnly: true, type: 'zset' },
  ZREVRANGE: { shape: 'key int int [withscores]', readOnly: true, type: 'zset' },
};

/** Commands that reach beyond the run's own keys (or the server itself): refused whatever their arguments. */
export const REFUSED_COMMANDS: Readonly<Record<string, string>> = Object.fromEntries([
  ...['FLUSHALL', 'FLUSHDB', 'SWAPDB', 'SELECT', 'MOVE', 'COPY', 'MIGRATE', 'RESTORE', 'DUMP'].map((c) => [c, 'it acts on a whole database or on keys outside the run']),
  ...['KEYS', 'SCAN', 'RANDOMKEY', 'DBSIZE', 'OBJECT', 'WAIT', 'WAITAOF'].map((c) => [c, 'it reads the server\'s whole key space or state, not the run\'s keys']),
  ...['CONFIG', 'SHUTDOWN', 'DEBUG', 'SAVE', 'BGSAVE', 'BGREWRITEAOF', 'REPLICAOF', 'SLAVEOF', 'FAILOVER', 'CLUSTER', 'ACL', 'MODULE', 'MONITOR', 'SYNC', 'PSYNC',
    'CLIENT', 'SLOWLOG', 'LATENCY', 'MEMORY', 'INFO', 'LASTSAVE', 'ROLE', 'RESET', 'AUTH', 'HELLO', 'QUIT'].map((c) => [c, 'it is a server or connection command, not a cache operation']),
  ...['EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'SCRIPT', 'FUNCTION', 'FCALL', 'FCALL_RO'].map((c) => [c,
    'a script of your own can reach any key, so cachebench cannot keep it to the run\'s keys or verify it (write "EVAL; CMD …; CMD …": cachebench sends those commands as one script and checks each reply)']),
  ...['DISCARD', 'WATCH', 'UNWATCH'].map((c) => [c, 'a transaction is written "MULTI; CMD …; CMD …; EXEC" (sent as one op; WATCH has no model)']),
  ...['SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'PUBLISH', 'SPUBLISH', 'UNSUBSCRIBE'].map((c) => [c, 'pub/sub has no keys to verify']),
  ...['RENAME', 'RENAMENX', 'SORT', 'SINTERSTORE', 'SUNIONSTORE', 'ZUNIONSTORE', 'ZINTERSTORE', 'BITOP', 'LMOVE', 'RPOPLPUSH', 'SMOVE', 'BLPOP', 'BRPOP', 'BLMOVE', 'BZPOPMIN', 'BZPOPMAX']
    .map((c) => [c, 'it names keys cachebench cannot place or verify (a destination key, or a blocking wait)']),
]);

/**
 * The built-in workloads: name → what it models, the mix, and the size of its values where the model has one (YCSB's
 * 100-byte fields; VALUE_SIZES replaces it, else PAYLOAD_BYTES sizes them). Documented in the README (kept equal by a test).
 */
export const BUILTIN_WORKLOADS: Readonly<Record<string, { readonly about: string; readonly mix: string; readonly valueBytes?: number }>> = {
  'ycsb-a': { valueBytes: 100, about: 'YCSB A (session store): 50% read a whole record, 50% update one field; zipf 0.99; records of 10 fields × 100 B',
    mix: '50:HGETALL {key:zipf:0.99}, 50:HSET {key:zipf:0.99} {field:10} {value}' },
  'ycsb-b': { valueBytes: 100, about: 'YCSB B (photo tagging): 95% read, 5% update one field; zipf 0.99', mix: '95:HGETALL {key:zipf:0.99}, 5:HSET {key:zipf:0.99} {field:10} {value}' },
  'ycsb-c': { valueBytes: 100, about: 'YCSB C (user profile cache): read only; zipf 0.99', mix: '1:HGETALL {key:zipf:0.99}' },
  'ycsb-d': { valueBytes: 100, about: 'YCSB D (user status updates): 95% read near the newest record, 5% write a whole record to the next key (a ring: the cache view of insert)',
    mix: '95:HGETALL {key:latest}, 5:HSET {key:sequential} field0 {value} field1 {value} field2 {value} field3 {value} field4 {value} ' +
      'field5 {value} field6 {value} field7 {value} field8 {value} field9 {value}' },
  'ycsb-f': { valueBytes: 100, about: 'YCSB F (read-modify-write): 50% read, 50% read a record then update one field of it; zipf 0.99',
    mix: '50:HGETALL {key:zipf:0.99}, 50:HGETALL {key:zipf:0.99}; HSET {key} {field:10} {value}' },
  session: { valueBytes: 200, about: 'a session store: read a session and extend its TTL, update a field, end a session (it reads as empty until rewritten)',
    mix: '75:HGETALL {key:zipf:0.99}; EXPIRE {key} 1800, 20:HSET {key:zipf:0.99} {field:8} {value}; EXPIRE {key} 1800, 5:DEL {key}' },
  counters: { about: 'counters: 60% read, 40% increment; zipf 0.99', mix: '60:GET {key:zipf:0.99}, 40:INCR {key:zipf:0.99}' },
  leaderboard: { about: 'a leaderboard per key: add points to a member, read the top 10 with scores, read a member\'s score',
    mix: '30:ZINCRBY {key:zipf:0.99} {int:100} {member:100}, 50:ZREVRANGE {key:zipf:0.99} 0 9 WITHSCORES, 20:ZSCORE {key:zipf:0.99} {member:100}' },
  queue: { about: 'a queue per key: push at the head, pop at the tail', mix: '50:LPUSH {key} {value}, 50:RPOP {key}' },
  fanout: { about: 'a fan-out read: MGET of 10 keys (one hash tag, so one slot on a cluster), 10% SET', mix: '90:MGET {keys:10}, 10:SET {key} {value}' },
};

/** Bounds a WORKLOAD is held to (it comes from files and environments; it must not make cachebench use unbounded memory). */
export const MIX_LIMITS = { entries: 100, commandsPerEntry: 10, argsPerCommand: 64, keysPerCommand: 100, fieldsOrMembers: 10_000, intMax: 1_000_000_000,
  valueBytes: 512 * 1024 * 1024, textChars: 10_000, weight: 1_000_000 } as const;

const fail = (raw: string, source: Source, problem: string, fix: string): never => {
  throw badValue('WORKLOAD', raw, source, problem, fix);
};

const DEFAULT_FIELDS = 10;
const DEFAULT_MEMBERS = 100;
const DEFAULT_INT_MAX = 100;

function positiveInt(text: string | undefined, fallback: number, max: number, what: string, raw: string, source: Source): number {
  if (text === undefined) return fallback;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= max)) fail(raw, source, `${what} must be a whole number from 1 to ${max}, not "${text}"`, `write it as e.g. {${what.split(' ')[0] ?? ''}:10}`);
  return n;
}

/** A key pattern after `{key:`: uniform, sequential, latest, gaussian, zipf:<exponent>. */
function keyPattern(text: string, raw: string, source: Source): KeyPattern {
  if (text === 'uniform' || text === 'sequential' || text === 'gaussian') return { kind: text };
  if (text === 'latest') return { kind: 'latest', exponent: 0.99 };
  const zipf = /^zipf:(\d+(?:\.\d*)?|\.\d+)$/.exec(text);
  const exponent = zipf === null ? NaN : Number(zipf[1]);
  if (zipf !== null && exponent > 0 && exponent <= 10) return { kind: 'zipf', exponent };
  return fail(raw, source, `"{key:${text}}" names no key pattern`, 'use {key}, {key:uniform}, {key:sequential}, {key:latest}, {key:gaussian} or {key:zipf:0.99}');
}

/** One argument token: a placeholder or a literal. `pattern` collects a {key:…} pattern. */
function parseArg(token: string, raw: string, source: Source, patterns: KeyPattern[]): MixArg {
  const m = /^\{([a-z]+)(?::(.*))?\}$/.exec(token);
  if (m === null) {
    if (/[{}]/.test(token)) fail(raw, source, `"${token}" is neither a placeholder nor a literal (a placeholder is a whole argument, e.g. {key})`, 'write placeholders as whole arguments: {key}, {keys:10}, {value}, {field}, {member}, {int}');
    // The model compares replies byte for byte: a literal is plain ASCII, so what is sent and what is expected agree.
    if (!/^[\x21-\x7e]+$/.test(token)) fail(raw, source, `the literal ${JSON.stringify(token)} is not printable ASCII`, 'write literal arguments in ASCII letters, digits and punctuation');
    return { kind: 'lit', text: token };
  }
  const [, name, option] = m as unknown as [string, string, string | undefined];
  switch (name) {
    case 'key':
      if (option !== undefined) patterns.push(keyPattern(option, raw, source));
      return { kind: 'key' };
    case 'keys':
      return { kind: 'keys', n: positiveInt(option ?? '', 0, MIX_LIMITS.keysPerCommand, 'keys count', raw, source) };
    case 'value':
      return { kind: 'value', bytes: option === undefined ? null : positiveInt(option, 0, MIX_LIMITS.valueBytes, 'value bytes', raw, source) };
    case 'field':
      return { kind: 'field', count: positiveInt(option, DEFAULT_FIELDS, MIX_LIMITS.fieldsOrMembers, 'field count', raw, source) };
    case 'member':
      return { kind: 'member', count: positiveInt(option, DEFAULT_MEMBERS, MIX_LIMITS.fieldsOrMembers, 'member count', raw, source) };
    case 'int':
      return { kind: 'int', max: positiveInt(option, DEFAULT_INT_MAX, MIX_LIMITS.intMax, 'int max', raw, source) };
    case 'ttl':
      if (option !== undefined) fail(raw, source, `"${token}": {ttl} takes no option (its range is KEY_TTL..KEY_TTL_MAX)`, 'write {ttl}, and set KEY_TTL and KEY_TTL_MAX');
      return { kind: 'ttl' };
    default:
      return fail(raw, source, `"${token}" is not a placeholder`, 'use {key}, {keys:N}, {value}, {value:BYTES}, {field}, {field:N}, {member}, {member:N}, {int}, {int:MAX} or {ttl}');
  }
}

const isKey = (a: MixArg | undefined): boolean => a?.kind === 'key';
const isInt = (a: MixArg | undefined): boolean => a !== undefined && (a.kind === 'int' || (a.kind === 'lit' && /^-?\d{1,15}$/.test(a.text)));
/** A TTL argument (EXPIRE, SET … EX): an integer, {int} or {ttl}. */
const isSeconds = (a: MixArg | undefined): boolean => isInt(a) || a?.kind === 'ttl';
const isValue = (a: MixArg | undefined): boolean => a !== undefined && (a.kind === 'value' || a.kind === 'lit');
const isField = (a: MixArg | undefined): boolean => a !== undefined && (a.kind === 'field' || a.kind === 'lit');
const isMember = (a: MixArg | undefined): boolean => a !== undefined && (a.kind === 'member' || a.kind === 'lit');
const pairs = (args: readonly MixArg[], first: (a: MixArg | undefined) => boolean, second: (a: MixArg | undefined) => boolean): boolean =>
  args.length >= 2 && args.length % 2 === 0 && args.every((a, i) => (i % 2 === 0 ? first(a) : second(a)));

/** Whether `args` (after the name) fit `shape`; the usage text otherwise. */
function shapeFits(shape: Shape, args: readonly MixArg[]): boolean {
  const [a0, a1, a2, a3] = args;
  const rest = args.slice(1);
  switch (shape) {
    case 'key': return args.length === 1 && isKey(a0);
    case 'keys': return (args.length === 1 && a0?.kind === 'keys') || (args.length >= 1 && args.every(isKey));
    case 'key value': return args.length === 2 && isKey(a0) && isValue(a1);
    case 'key value [ex]':
      return isKey(a0) && isValue(a1) && (args.length === 2 || (args.length === 4 && a2?.kind === 'lit' && /^(EX|PX)$/i.test(a2.text) && isSeconds(a3)));
    case 'key int': return args.length === 2 && isKey(a0) && isInt(a1);
    case 'key seconds': return args.length === 2 && isKey(a0) && isSeconds(a1);
    case 'key field': return args.length === 2 && isKey(a0) && isField(a1);
    case 'key fields': return args.length >= 2 && isKey(a0) && rest.every(isField);
    case 'key field-values': return isKey(a0) && pairs(rest, isField, isValue);
    case 'key field int': return args.length === 3 && isKey(a0) && isField(a1) && isInt(a2);
    case 'key values': return args.length >= 2 && isKey(a0) && rest.every(isValue);
    case 'key int int': return args.length === 3 && isKey(a0) && isInt(a1) && isInt(a2) && a1?.kind === 'lit' && a2?.kind === 'lit';
    case 'key int int [withscores]':
      return (args.length === 3 || (args.length === 4 && a3?.kind === 'lit' && a3.text.toUpperCase() === 'WITHSCORES')) && shapeFits('key int int', args.slice(0, 3));
    case 'key score-members': return isKey(a0) && pairs(rest, isInt, isMember);
    case 'key int member': return args.length === 3 && isKey(a0) && isInt(a1) && isMember(a2);
    case 'key member': return args.length === 2 && isKey(a0) && isMember(a1);
    case 'key members': return args.length >= 2 && isKey(a0) && rest.every(isMember);
    case 'key-values': return args.length === 2 && a0?.kind === 'keys' && isValue(a1);
  }
}

const USAGE: Readonly<Record<Shape, string>> = {
  key: '{key}', keys: '{key} or {keys:N}', 'key value': '{key} {value}', 'key value [ex]': '{key} {value} [EX <seconds, {int} or {ttl}>]',
  'key int': '{key} <integer or {int}>', 'key seconds': '{key} <seconds, {int} or {ttl}>',
  'key field': '{key} {field}', 'key fields': '{key} {field} [{field} …]', 'key field-values': '{key} {field} {value} [{field} {value} …]',
  'key field int': '{key} {field} <integer or {int}>', 'key values': '{key} {value} [{value} …]', 'key int int': '{key} <start> <stop> (literal integers)',
  'key int int [withscores]': '{key} <start> <stop> [WITHSCORES]', 'key score-members': '{key} <score or {int}> {member} […]',
  'key int member': '{key} <increment or {int}> {member}', 'key member': '{key} {member}', 'key members': '{key} {member} [{member} …]',
  'key-values': '{keys:N} {value} (N keys, each given the value)',
};

/** The key type a command gives its keys, refined by its arguments (SET of a literal integer keeps a counter a counter). */
function typeOf(c: MixCommand): KeyType | 'string-or-counter' | null {
  const spec = MIX_COMMANDS[c.name] as CommandSpec;
  if (c.name === 'SET' && c.args[1]?.kind === 'lit' && /^(?:0|-?[1-9]\d{0,14})$/.test(c.args[1].text)) return 'string-or-counter';
  return spec.type;
}

function parseCommand(text: string, raw: string, source: Source, patterns: KeyPattern[]): MixCommand {
  const tokens = text.trim().split(/\s+/);
  const word = tokens[0] ?? '';
  if (word === '') fail(raw, source, 'an empty command', 'remove the stray `;` or `,`');
  if (!/^[A-Za-z]{1,30}$/.test(word)) fail(raw, source, `${JSON.stringify(word.slice(0, 40))} is not a command name`, `use one of ${Object.keys(MIX_COMMANDS).join(' ')}`);
  const name = word.toUpperCase();
  if (name === 'MULTI' || name === 'EXEC' || name === 'EVAL') {
    fail(raw, source, `${name} stands ${name === 'EXEC' ? 'last' : 'first'} in an entry of its own, with no arguments`,
      'write a transaction as "MULTI; CMD …; CMD …; EXEC" and a script as "EVAL; CMD …; CMD …" (cachebench writes the script)');
  }
  const refused = REFUSED_COMMANDS[name];
  if (refused !== undefined) fail(raw, source, `${name} is refused: ${refused}`, 'remove it from the WORKLOAD; cachebench sends only commands on its own keys');
  const spec = MIX_COMMANDS[name];
  if (spec === undefined) {
    fail(raw, source, `${name} is not a command cachebench can verify`, `use one of ${Object.keys(MIX_COMMANDS).join(' ')}`);
  }
  if (tokens.length - 1 > MIX_LIMITS.argsPerCommand) fail(raw, source, `${name} has more than ${MIX_LIMITS.argsPerCommand} arguments`, 'shorten it');
  const args = tokens.slice(1).map((t) => parseArg(t, raw, source, patterns));
  const shape = (spec as CommandSpec).shape;
  if (!shapeFits(shape, args)) {
    const keyless = !args.some((a) => a.kind === 'key' || a.kind === 'keys');
    fail(raw, source, keyless ? `"${text.trim()}" names no key of the run: every command must take its keys from {key} or {keys:N}`
      : `"${text.trim()}" does not fit ${name} ${USAGE[shape]}`, `write it as ${name} ${USAGE[shape]}`);
  }
  ttlArgument(name, args, raw, source);
  return { name, args };
}

/** The longest TTL a WORKLOAD may give (KEY_TTL's own maximum): every key of the run expires. */
const MAX_TTL_SECONDS = 30 * 24 * 3600;

/** EXPIRE's seconds and SET's EX seconds / PX milliseconds: 1 to 30 days, as a literal or as {int:MAX}'s MAX. */
function ttlArgument(name: string, args: readonly MixArg[], raw: string, source: Source): void {
  const at = name === 'EXPIRE' ? 1 : name === 'SET' && args.length === 4 ? 3 : -1;
  const a = args[at];
  if (a === undefined) return;
  const ms = name === 'SET' && args[2]?.kind === 'lit' && args[2].text.toUpperCase() === 'PX';
  if (ms && a.kind === 'ttl') fail(raw, source, '{ttl} is in seconds, and PX takes milliseconds', 'write SET {key} {value} EX {ttl}');
  const [least, most] = ms ? [1000, MAX_TTL_SECONDS * 1000] : [1, MAX_TTL_SECONDS];
  // {int:MAX} draws from 1: in milliseconds that is below a second.
  const n = a.kind === 'lit' ? Number(a.text) : a.kind === 'int' ? (ms ? 1 : a.max) : least;
  const top = a.kind === 'int' ? a.max : n;
  if (!(n >= least && top <= most)) {
    fail(raw, source, `${name}'s ${ms ? 'milliseconds' : 'seconds'} ${a.kind === 'int' ? `{int:${a.max}}` : String(n)} must lie from ${least} to ${most} (1 s to 30 days): every key of the run expires, and the model judges expiry to the second`,
      `give ${name} a TTL from ${least} to ${most}${ms ? '' : ', or {ttl} (KEY_TTL..KEY_TTL_MAX)'}`);
  }
}

function parseEntry(text: string, raw: string, source: Source): MixEntry {
  // WEIGHT:COMMAND…, or COMMAND… alone (weight 1). What stands before a first `:` with no space in it is a weight.
  const prefix = /^\s*([^\s:{}]+)\s*:/.exec(text);
  if (prefix !== null && !/^\d+(?:\.\d+)?$/.test(prefix[1] as string)) {
    fail(raw, source, `the weight "${prefix[1]}" of "${text.trim()}" is not a number`, 'write entries as WEIGHT:COMMAND, e.g. 9:GET {key}');
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*:(.*)$/s.exec(text);
  const weight = m === null ? 1 : Number(m[1]);
  if (!(weight > 0 && weight <= MIX_LIMITS.weight)) fail(raw, source, `the weight of "${text.trim()}" must be above 0 and at most ${MIX_LIMITS.weight}`, 'write entries as WEIGHT:COMMAND, e.g. 9:GET {key}');
  const body = m === null ? text : (m[2] as string);
  const { atomic, parts } = atomicParts(body.split(';'), raw, source);
  if (parts.length > MIX_LIMITS.commandsPerEntry) fail(raw, source, `an entry has more than ${MIX_LIMITS.commandsPerEntry} commands`, 'shorten the sequence');
  const patterns: KeyPattern[] = [];
  const commands = parts.map((p) => parseCommand(p, raw, source, patterns));
  const first = patterns[0];
  if (patterns.some((p) => JSON.stringify(p) !== JSON.stringify(first))) {
    fail(raw, source, `"${text.trim()}" gives its key two patterns: a sequence works on one key`, 'give the pattern once, e.g. GET {key:zipf:0.99}; EXPIRE {key} 30');
  }
  const widths = new Set(commands.flatMap((c) => c.args.flatMap((a) => (a.kind === 'keys' ? [a.n] : []))));
  // A transaction or a script works on one hash tag: {key} and a {keys:N} group of it; a sequence's ops are each on their own.
  if (widths.size > 0 && commands.length > 1 && atomic === undefined) {
    fail(raw, source, `"${text.trim()}" mixes {keys:N} into a sequence`, 'give a command with {keys:N} an entry of its own, or make the entry a transaction (MULTI; …; EXEC) or a script (EVAL; …)');
  }
  if (widths.size > 1) fail(raw, source, `"${text.trim()}" names key groups of ${[...widths].join(' and ')} keys`, 'give every {keys:N} of one entry the same N');
  return { weight, text: text.trim(), pattern: first ?? null, commands, ...(atomic !== undefined ? { atomic } : {}) };
}

/** An entry's parts without its MULTI … EXEC or EVAL brackets, and which it was. */
function atomicParts(parts: readonly string[], raw: string, source: Source): { atomic?: Atomic; parts: readonly string[] } {
  const word = (p: string | undefined): string => (p ?? '').trim().toUpperCase();
  const head = word(parts[0]);
  if (head !== 'MULTI' && head !== 'EVAL') return { parts };
  const multi = head === 'MULTI';
  const inner = multi ? parts.slice(1, -1) : parts.slice(1);
  if (multi && word(parts[parts.length - 1]) !== 'EXEC') {
    fail(raw, source, `"${parts.join(';').trim()}" opens a transaction with MULTI and does not end it with EXEC`, 'write it as "MULTI; CMD …; CMD …; EXEC"');
  }
  if (inner.length === 0) fail(raw, source, `"${parts.join(';').trim()}" has no commands inside`, multi ? 'write it as "MULTI; CMD …; CMD …; EXEC"' : 'write it as "EVAL; CMD …; CMD …"');
  return { atomic: multi ? 'multi' : 'lua', parts: inner };
}

/** The one key type of a mix, or a clear error naming two commands that disagree. */
function mixKeyType(entries: readonly MixEntry[], raw: string, source: Source): KeyType {
  let found: { type: KeyType | 'string-or-counter'; by: string } | undefined;
  for (const c of entries.flatMap((e) => e.commands)) {
    const t = typeOf(c);
    if (t === null) continue;
    if (found === undefined || found.type === 'string-or-counter') {
      if (found === undefined || t === 'string' || t === 'counter' || t === 'string-or-counter') found = { type: t, by: c.name };
      else fail(raw, source, `${found.by} works on strings and ${c.name} on ${t}s`, 'give one WORKLOAD one data type (run several scenarios for several)');
      continue;
    }
    if (t !== found.type && !(t === 'string-or-counter' && (found.type === 'string' || found.type === 'counter'))) {
      const counter = found.type === 'counter' || t === 'counter' ? ' (or "not an integer": INCR needs integer strings, {value} writes random bytes)' : '';
      fail(raw, source, `${found.by} works on ${found.type}s and ${c.name} on ${t === 'string-or-counter' ? 'strings' : `${t}s`}: the server would answer WRONGTYPE${counter}`,
        'give one WORKLOAD one data type (run several scenarios for several)');
    }
  }
  if (found === undefined) return 'string';
  return found.type === 'string-or-counter' ? 'string' : found.type;
}

/**
 * WORKLOAD: '' (none: the seed loop or the KEYSPACE mix), a built-in's name, or a mix of entries `WEIGHT:CMD ARGS[; CMD ARGS…]`
 * separated by commas. Refused with a ConfigError (exit 2) naming the value, its source and the fix.
 */
export function parseWorkload(rawValue: string, source: Source): WorkloadPlan | null {
  const raw = rawValue.trim();
  if (raw === '') return null;
  if (raw.length > MIX_LIMITS.textChars) fail(raw.slice(0, 60) + '…', source, `longer than ${MIX_LIMITS.textChars} characters`, 'shorten the WORKLOAD');
  const builtin = BUILTIN_WORKLOADS[raw.toLowerCase()];
  const text = builtin?.mix ?? raw;
  if (builtin === undefined && !/\s/.test(raw)) {
    fail(raw, source, 'not a built-in workload, and not a mix (a mix names its keys with {key})', `use one of ${Object.keys(BUILTIN_WORKLOADS).join(', ')}, or a mix such as "9:GET {key}, 1:SET {key} {value}"`);
  }
  const parts = text.split(',');
  if (parts.length > MIX_LIMITS.entries) fail(raw, source, `more than ${MIX_LIMITS.entries} entries`, 'merge entries');
  const entries = parts.map((p) => parseEntry(p, raw, source));
  const args = entries.flatMap((e) => e.commands.flatMap((c) => c.args));
  const commands = entries.flatMap((e) => e.commands);
  const integerFields = commands.some((c) => c.name === 'HINCRBY');
  if (integerFields && commands.some((c) => c.name === 'HSET' && c.args.some((a) => a.kind === 'value'))) {
    fail(raw, source, 'HINCRBY needs fields that hold integers, and HSET … {value} writes bytes into them: the server would answer "hash value is not an integer"',
      'give HSET literal integers (HSET {key} {field} 0), or run HINCRBY in a WORKLOAD of its own');
  }
  const most = (kind: 'field' | 'member', fallback: number): number =>
    Math.max(0, ...args.map((a) => (a.kind === kind ? a.count : 0))) || fallback;
  return {
    name: builtin === undefined ? 'custom' : raw.toLowerCase(), text, entries, keyType: mixKeyType(entries, raw, source),
    width: Math.max(1, ...args.map((a) => (a.kind === 'keys' ? a.n : 1))),
    fields: most('field', DEFAULT_FIELDS), members: most('member', DEFAULT_MEMBERS), sizes: builtin?.valueBytes !== undefined ? { kind: 'fixed', bytes: builtin.valueBytes } : null, ttl: null, integerFields,
    literalFields: literalNames(commands, 'field'), literalMembers: literalNames(commands, 'member'),
  };
}

/** Literal hash-field names (HSET/HGET/HMGET/HDEL/HINCRBY) or sorted-set members (ZADD/ZINCRBY/ZSCORE/ZREM) of a mix, distinct. */
function literalNames(commands: readonly MixCommand[], kind: 'field' | 'member'): number {
  const names = new Set<string>();
  for (const c of commands) {
    const shape = MIX_COMMANDS[c.name]?.shape ?? 'key';
    const at = kind === 'field'
      ? (shape === 'key field-values' ? c.args.flatMap((a, i) => (i % 2 === 1 ? [a] : [])) : shape === 'key field' || shape === 'key fields' || shape === 'key field int' ? c.args.slice(1, shape === 'key fields' ? undefined : 2) : [])
      : (shape === 'key score-members' ? c.args.flatMap((a, i) => (i > 0 && i % 2 === 0 ? [a] : [])) : shape === 'key member' || shape === 'key members' ? c.args.slice(1) : shape === 'key int member' ? c.args.slice(2) : []);
    for (const a of at) if (a.kind === 'lit') names.add(a.text);
  }
  return names.size;
}

/** Whether a command only reads (routing: a replica could serve it; never, in this version). */
export function readOnlyCommand(name: string): boolean {
  return MIX_COMMANDS[name]?.readOnly === true;
}

/** The sizes a mix's {value:N} placeholders give, as written. */
export function explicitValueSizes(plan: WorkloadPlan): number[] {
  return plan.entries.flatMap((e) => e.commands.flatMap((c) => c.args.flatMap((a) => (a.kind === 'value' && a.bytes !== null ? [a.bytes] : []))));
}

/** The largest value a mix writes: its {value:N}, or the largest drawn size (VALUE_SIZES, a built-in's, or PAYLOAD_BYTES). */
export function largestMixValue(plan: WorkloadPlan, payloadBytes: number): number {
  const drawn = plan.sizes === null ? payloadBytes : sizeBounds(plan.sizes).max;
  return Math.max(drawn, ...explicitValueSizes(plan));
}

/** The most values one command (or a key's preload) of a mix carries. */
export function mixValuesPerCommand(plan: WorkloadPlan): number {
  const preload = plan.keyType === 'hash' ? plan.fields : plan.keyType === 'list' ? 4 : 1;
  return Math.max(preload, ...plan.entries.flatMap((e) => e.commands.map((c) => c.args.filter((a) => a.kind === 'value').length)));
}

/** The mean size of the values a mix keeps: its drawn sizes' mean (VALUE_SIZES, a built-in's, PAYLOAD_BYTES), or its largest {value:N}. */
export function mixMeanValue(plan: WorkloadPlan, payloadBytes: number): number {
  const drawn = plan.sizes === null ? payloadBytes : meanSize(plan.sizes);
  return Math.max(drawn, ...explicitValueSizes(plan));
}

/**
 * The elements one list may hold before its key is deleted and preloaded again: at most MIX_LIST_MAX, the key's share of
 * MIX_MODEL_ENTRIES (the model's memory) and of MIX_SERVER_BYTES at `meanValueBytes` a value (the servers'), at least 5.
 */
export function mixListCap(keyspace: number, meanValueBytes: number): number {
  const keys = Math.max(1, keyspace);
  return Math.max(5, Math.min(MIX_LIST_MAX, Math.floor(MIX_MODEL_ENTRIES / keys), Math.floor(MIX_SERVER_BYTES / (keys * Math.max(1, meanValueBytes)))));
}

/** The fields, members or elements the model follows per key at most. */
export function mixEntriesPerKey(plan: WorkloadPlan, keyspace: number, payloadBytes: number): number {
  return plan.keyType === 'hash' ? plan.fields + plan.literalFields : plan.keyType === 'zset' ? plan.members + plan.literalMembers
    : plan.keyType === 'list' ? mixListCap(keyspace, mixMeanValue(plan, payloadBytes)) : 1;
}

/**
 * The name a WORKLOAD entry's op is counted under: its command, or for a transaction or script its commands in it,
 * `MULTI(INCR+MGET)` / `EVAL(INCR+EXPIRE)`.
 */
export function opName(entry: MixEntry, command: MixCommand): string {
  if (entry.atomic === undefined) return command.name;
  return `${entry.atomic === 'multi' ? 'MULTI' : 'EVAL'}(${entry.commands.map((c) => c.name).join('+')})`;
}

/** The names ops are counted under (opName), for a reader of results files: a command, or a transaction or script of commands. */
export const OP_NAME = (() => {
  const one = Object.keys(MIX_COMMANDS).join('|');
  return new RegExp(`^(?:${one}|(?:MULTI|EVAL)\\((?:${one})(?:\\+(?:${one})){0,${MIX_LIMITS.commandsPerEntry - 1}}\\))$`);
})();

/**
 * The first entry of a mix a RESP proxy (twemproxy) cannot carry: a transaction (it forwards neither MULTI nor EXEC), or a
 * script on a {keys:N} group (it sends a script to the server of its first key only); undefined when it carries all.
 */
export function proxyMisfit(plan: WorkloadPlan): MixEntry | undefined {
  return plan.entries.find((e) => e.atomic === 'multi') ??
    plan.entries.find((e) => e.atomic === 'lua' && e.commands.some((c) => c.args.some((a) => a.kind === 'keys' && a.n > 1)));
}

/** The commands memcached's text protocol has, as a WORKLOAD names them (targets/memcache-commands.ts sends them). */
export const MEMCACHE_COMMANDS: ReadonlySet<string> = new Set(['GET', 'MGET', 'SET', 'DEL', 'INCR', 'INCRBY', 'DECR', 'DECRBY', 'EXPIRE']);

/** What of a mix memcached's protocol does not have (commands, SET … PX), or [] when a memcached target can run it. */
export function memcacheMisses(plan: WorkloadPlan): string[] {
  const commands = plan.entries.flatMap((e) => e.commands);
  const names = [...new Set(commands.map((c) => c.name))].filter((n) => !MEMCACHE_COMMANDS.has(n));
  const atomic = new Set(plan.entries.flatMap((e) => (e.atomic === undefined ? [] : [e.atomic])));
  if (atomic.has('multi')) names.push('MULTI … EXEC (memcached has no transactions)');
  if (atomic.has('lua')) names.push('EVAL (memcached has no scripts)');
  const px = commands.some((c) => c.name === 'SET' && c.args[2]?.kind === 'lit' && c.args[2].text.toUpperCase() === 'PX');
  // memcached's counters are unsigned: no negative amount, no negative number set.
  const negative = commands.filter((c) => ['INCRBY', 'DECRBY', 'SET'].includes(c.name) && c.args[1]?.kind === 'lit' && /^-/.test(c.args[1].text)).map((c) => c.name);
  return [...names, ...(px ? ['SET … PX (memcached sets TTLs in seconds)'] : []),
    ...[...new Set(negative)].map((n) => `${n} with a negative number (memcached's counters are unsigned)`)];
}
