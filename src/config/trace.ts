/**
 * TRACE: a cache trace, one op per line, replayed at its own timing (load/trace-client.ts). The format is the CSV of
 * Twitter's public cache traces (twitter/cache-trace), seven columns, no quoting:
 *
 *   timestamp,key,key_size,value_size,client_id,operation,ttl
 *   0,k1,20,300,4,set,3600
 *   0,k1,20,0,4,get,0
 *
 * - timestamp: seconds from any origin (decimals allowed, to the microsecond), never going back. Ops that share one
 *   timestamp are spread evenly over the time to the next timestamp (at most 1 s): Twitter's traces count whole seconds.
 * - key: the anonymised key, 1–250 characters without comma, space or control character. Only its identity is used:
 *   cachebench names its own key for it under the run's prefix (padded to key_size), and deletes it afterwards.
 * - key_size: 1–250 bytes. value_size: 0–1 MiB; the value a set writes (at least the 12 bytes that name key and
 *   write), and the value a get refills after a miss (0: the key's last size in the trace).
 * - client_id: counted (the report says how many the trace had), not used: each key has one writer in cachebench.
 * - operation: get, gets, set, add, replace, cas, append, prepend, delete, incr, decr.
 * - ttl: seconds, 0 for none (a TTL longer than the replay then, or KEY_TTL if longer); above 30 days: 30 days.
 * Blank lines and lines starting with `#` are skipped, and a first line whose first cell is a word (timestamp, time…).
 *
 * The file is input like a flag: a bad line is exit 2 naming its number, the column and the fix, and the file, its
 * ops and its keys are bounded (TRACE_LIMITS) so no trace can make cachebench use unbounded memory.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { formatBytes } from './input-file.js';

/** The operations of a trace line, in the order their counts are reported. */
export const TRACE_OPS = ['get', 'gets', 'set', 'add', 'replace', 'cas', 'append', 'prepend', 'delete', 'incr', 'decr'] as const;
export type TraceOpName = (typeof TRACE_OPS)[number];
const OP_CODE: ReadonlyMap<string, number> = new Map(TRACE_OPS.map((op, i) => [op, i]));

/** Bounds a trace is held to (a file is input: it must not make cachebench use unbounded memory or time). */
export const TRACE_LIMITS = {
  fileBytes: 256 * 1024 * 1024, ops: 5_000_000, keys: 1_000_000, keyChars: 250, valueBytes: 1024 * 1024, lineChars: 4096,
  ttlSeconds: 30 * 24 * 3600, spanSeconds: 7 * 24 * 3600,
} as const;

/** What a trace holds, as the plan and the results record it (plain data). */
export interface TraceSummary {
  /** sha256 of the file's bytes: the load workers read the same file, and merge compares replays by it. */
  readonly digest: string;
  readonly ops: number;
  readonly keys: number;
  /** From the first op to the last (after spreading ops that share a timestamp), ms. */
  readonly spanMs: number;
  /** Distinct client ids in the trace. */
  readonly clients: number;
  /** Ops per operation, every operation named (0 where none). */
  readonly counts: Readonly<Record<TraceOpName, number>>;
  /** Keys the trace increments or decrements (their sets write an integer). */
  readonly counterKeys: number;
  /** The largest value written or refilled, bytes. */
  readonly largestValue: number;
  /** The largest value of every key added up: at most what the replay keeps on the servers at once. */
  readonly serverBytes: number;
  /** Keys the trace gives no value size (they take PAYLOAD_BYTES). */
  readonly unsizedKeys: number;
}

/** A parsed trace: its summary and its ops in typed arrays (21 bytes an op), in time order. */
export interface Trace extends TraceSummary {
  /** Op i is due this many ms after the first op. */
  readonly atMs: Float64Array;
  /** Dense key index (first seen first). */
  readonly key: Uint32Array;
  /** Index in TRACE_OPS. */
  readonly op: Uint8Array;
  /** Bytes to write (set…), or to refill after a miss (get); 0: PAYLOAD_BYTES (a get of a key the trace never sizes). */
  readonly valueBytes: Uint32Array;
  /** TTL seconds; 0: none given (KEY_TTL). */
  readonly ttl: Uint32Array;
  /** Per key: its key_size (the last one given). */
  readonly keyBytes: Uint8Array;
  /** Per key: 1 when the trace increments or decrements it. */
  readonly counter: Uint8Array;
}

/** A line of a trace that cannot be replayed: its number, what is wrong, and how to fix it. */
export class TraceError extends Error {
  override readonly name = 'TraceError';
  constructor(readonly line: number | null, readonly problem: string, readonly fix: string) {
    super(`${line === null ? '' : `line ${line}: `}${problem}. Fix: ${fix}`);
  }
}

/** A cell of an untrusted file as shown in a message: at most 40 characters, control characters escaped. */
export function shownCell(cell: string): string {
  const cut = cell.length > 40 ? `${cell.slice(0, 40)}…` : cell;
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The file's name as a report shows it: letters, digits, `.`, `_`, `-` only, at most 80 characters. */
export function traceName(file: string): string {
  const name = basename(file).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
  return name === '' ? 'trace' : name;
}

const COLUMNS = ['timestamp', 'key', 'key_size', 'value_size', 'client_id', 'operation', 'ttl'] as const;
const KEY_CHARS = /^[\x21-\x2b\x2d-\x7e\u00a0-\uffff]+$/;

/** A whole number in [min, max] from a cell, or a TraceError naming the column. */
function intCell(cell: string, line: number, column: string, min: number, max: number, fix: string): number {
  if (!/^\d{1,15}$/.test(cell)) throw new TraceError(line, `${column} ${shownCell(cell)} is not a whole number${/^\d+$/.test(cell) ? ` up to ${max.toLocaleString('en-US')}` : ''}`, fix);
  const n = Number(cell);
  if (n < min || n > max) throw new TraceError(line, `${column} ${n} is outside ${min}–${max.toLocaleString('en-US')}`, fix);
  return n;
}

/** Growable typed columns of ops while parsing (no array of objects: 5M ops stay about 100 MB). */
class Columns {
  at = new Float64Array(1024);
  key = new Uint32Array(1024);
  op = new Uint8Array(1024);
  bytes = new Uint32Array(1024);
  ttl = new Uint32Array(1024);
  n = 0;

  push(at: number, key: number, op: number, bytes: number, ttl: number): void {
    if (this.n === this.at.length) {
      const grow = <T extends Float64Array | Uint32Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.at = grow(this.at);
      this.key = grow(this.key);
      this.op = grow(this.op);
      this.bytes = grow(this.bytes);
      this.ttl = grow(this.ttl);
    }
    const i = this.n++;
    this.at[i] = at;
    this.key[i] = key;
    this.op[i] = op;
    this.bytes[i] = bytes;
    this.ttl[i] = ttl;
  }
}

interface KeyTable {
  readonly index: Map<string, number>;
  keyBytes: Uint8Array;
  counter: Uint8Array;
}

/** The dense index of an anonymised key (new keys numbered in order of first sight), bounded by TRACE_LIMITS.keys. */
function keyIndex(keys: KeyTable, key: string, line: number): number {
  let k = keys.index.get(key);
  if (k !== undefined) return k;
  k = keys.index.size;
  if (k >= TRACE_LIMITS.keys) {
    throw new TraceError(line, `more than ${TRACE_LIMITS.keys.toLocaleString('en-US')} distinct keys (cachebench keeps a model of every key it writes, so that every read is verified)`,
      'replay a shorter part of the trace');
  }
  keys.index.set(key, k);
  if (k >= keys.keyBytes.length) {
    const grow = <T extends Uint8Array>(a: T): T => {
      const b = new Uint8Array(a.length * 2) as T;
      b.set(a);
      return b;
    };
    keys.keyBytes = grow(keys.keyBytes);
    keys.counter = grow(keys.counter);
  }
  return k;
}

/** One line's cells checked and added to the columns; returns the timestamp in seconds. */
function parseLine(cells: string[], line: number, keys: KeyTable, cols: Columns, clients: Set<string>, last: number): number {
  if (cells.length !== COLUMNS.length) {
    throw new TraceError(line, `${cells.length} column${cells.length === 1 ? '' : 's'}, and a trace line has ${COLUMNS.length}: ${COLUMNS.join(',')}`,
      'write each op as timestamp,key,key_size,value_size,client_id,operation,ttl (see README, Trace replay)');
  }
  const [ts, key, keySize, valueSize, client, operation, ttl] = cells as [string, string, string, string, string, string, string];
  if (!/^\d{1,10}(?:\.\d{1,6})?$/.test(ts)) throw new TraceError(line, `timestamp ${shownCell(ts)} is not a number of seconds`, 'write seconds such as 12 or 12.003');
  const t = Number(ts);
  if (t < last) throw new TraceError(line, `timestamp ${ts} goes back (the line before says ${last})`, 'sort the trace by timestamp');
  if (key.length === 0 || key.length > TRACE_LIMITS.keyChars || !KEY_CHARS.test(key)) {
    throw new TraceError(line, `key ${shownCell(key)} is not 1–${TRACE_LIMITS.keyChars} characters without comma, space or control character`, 'anonymise keys to such text');
  }
  const kb = intCell(keySize, line, 'key_size', 1, TRACE_LIMITS.keyChars, 'give the key\'s size in bytes');
  const vb = intCell(valueSize, line, 'value_size', 0, TRACE_LIMITS.valueBytes, `give the value's size in bytes, at most ${formatBytes(TRACE_LIMITS.valueBytes)}`);
  if (!/^\d{1,20}$/.test(client)) throw new TraceError(line, `client_id ${shownCell(client)} is not a whole number`, 'give each client a number');
  if (clients.size < TRACE_LIMITS.keys) clients.add(client);
  const code = OP_CODE.get(operation.toLowerCase());
  if (code === undefined) throw new TraceError(line, `operation ${shownCell(operation)} is not one of ${TRACE_OPS.join(', ')}`, 'use a memcached operation name as the trace format does');
  const seconds = intCell(ttl, line, 'ttl', 0, 2 ** 32 - 1, 'give the TTL in seconds (0: none)');
  const k = keyIndex(keys, key, line);
  keys.keyBytes[k] = kb;
  const name = TRACE_OPS[code] as TraceOpName;
  if (name === 'incr' || name === 'decr') keys.counter[k] = 1;
  if (cols.n >= TRACE_LIMITS.ops) throw new TraceError(line, `more than ${TRACE_LIMITS.ops.toLocaleString('en-US')} ops`, 'replay a shorter part of the trace');
  cols.push(t, k, code, vb, Math.min(seconds, TRACE_LIMITS.ttlSeconds));
  return t;
}

/**
 * Ops sharing a timestamp are spread evenly over the time to the next timestamp, at most 1 s (the last ones over 1 s
 * when every timestamp is a whole second, else sent together). Times become ms from the first op.
 */
function spread(at: Float64Array): number {
  const n = at.length;
  if (n === 0) return 0;
  const first = at[0] as number;
  let whole = true;
  for (let i = 0; i < n && whole; i++) whole = Number.isInteger(at[i]);
  let i = 0;
  while (i < n) {
    const t = at[i] as number;
    let j = i + 1;
    while (j < n && at[j] === t) j++;
    const gap = j < n ? Math.min(1, (at[j] as number) - t) : whole ? 1 : 0;
    for (let k = i; k < j; k++) at[k] = (t - first + (gap * (k - i)) / (j - i)) * 1000;
    i = j;
  }
  return at[n - 1] as number;
}

/**
 * The value each op writes or refills: a set's (add's, replace's, cas's) own size, at least `headerBytes` (0: PAYLOAD_BYTES);
 * a get's own size, else the key's last size before it, else its first size in the trace, else 0 (PAYLOAD_BYTES);
 * other ops write no value (0). Returns the largest and the sum of each key's largest.
 */
function sizeValues(cols: Columns, keys: number, headerBytes: number): { largest: number; serverBytes: number; unsizedKeys: number } {
  const first = new Uint32Array(keys);
  const last = new Uint32Array(keys);
  const most = new Uint32Array(keys);
  const kind = (i: number): 'write' | 'read' | 'other' => {
    const op = TRACE_OPS[cols.op[i] as number];
    return op === 'set' || op === 'add' || op === 'replace' || op === 'cas' ? 'write' : op === 'get' || op === 'gets' ? 'read' : 'other';
  };
  for (let i = 0; i < cols.n; i++) {
    const k = cols.key[i] as number;
    if (first[k] === 0 && kind(i) !== 'other' && (cols.bytes[i] as number) > 0) first[k] = cols.bytes[i] as number;
  }
  let largest = headerBytes;
  for (let i = 0; i < cols.n; i++) {
    const k = cols.key[i] as number;
    const own = cols.bytes[i] as number;
    const what = kind(i);
    const bytes = what === 'write' ? own : what === 'read' ? (own || last[k] || first[k]) as number : 0;
    const written = bytes === 0 ? 0 : Math.max(headerBytes, bytes);
    cols.bytes[i] = written;
    if (written > 0) last[k] = written;
    if (written > (most[k] as number)) most[k] = written;
    if (written > largest) largest = written;
  }
  let serverBytes = 0;
  let unsizedKeys = 0;
  for (let k = 0; k < keys; k++) {
    serverBytes += most[k] as number;
    if (most[k] === 0) unsizedKeys++;
  }
  return { largest, serverBytes, unsizedKeys };
}

/** Parses a trace file's bytes (`headerBytes`: the smallest value cachebench writes). Throws TraceError. */
export function parseTrace(bytes: Buffer, headerBytes: number): Trace {
  if (bytes.length > TRACE_LIMITS.fileBytes) {
    throw new TraceError(null, `the file is ${formatBytes(bytes.length)}, above the limit of ${formatBytes(TRACE_LIMITS.fileBytes)}`, 'replay a shorter part of the trace');
  }
  const text = bytes.toString('utf8');
  const cols = new Columns();
  const keys: KeyTable = { index: new Map(), keyBytes: new Uint8Array(1024), counter: new Uint8Array(1024) };
  const clients = new Set<string>();
  let last = -Infinity;
  let line = 0;
  let seen = false;
  for (let at = 0; at < text.length;) {
    const end = text.indexOf('\n', at);
    const stop = end < 0 ? text.length : end;
    line++;
    if (stop - at > TRACE_LIMITS.lineChars) throw new TraceError(line, `longer than ${TRACE_LIMITS.lineChars} characters`, 'write one op per line');
    const raw = text.slice(at, stop).replace(/\r$/, '');
    at = stop + 1;
    if (raw.trim() === '' || raw.startsWith('#')) continue;
    const cells = raw.split(',').map((c) => c.trim());
    // A header: a first line whose first cell is a word (a number, signed or not, is an op, checked as one).
    if (!seen && /^[A-Za-z_][A-Za-z_ ]*$/.test(cells[0] ?? '')) {
      seen = true;
      continue;
    }
    seen = true;
    last = parseLine(cells, line, keys, cols, clients, last);
  }
  if (cols.n === 0) throw new TraceError(null, 'the file holds no ops', 'give one op per line: timestamp,key,key_size,value_size,client_id,operation,ttl');
  const at = cols.at.subarray(0, cols.n);
  const spanMs = spread(at);
  if (spanMs > TRACE_LIMITS.spanSeconds * 1000) {
    throw new TraceError(null, `the trace spans ${Math.round(spanMs / 3_600_000)} hours, above the ${TRACE_LIMITS.spanSeconds / 3600} hours a replay may take`, 'replay a shorter part of the trace');
  }
  const n = keys.index.size;
  const { largest, serverBytes, unsizedKeys } = sizeValues(cols, n, headerBytes);
  const counts = Object.fromEntries(TRACE_OPS.map((op) => [op, 0])) as Record<TraceOpName, number>;
  for (let i = 0; i < cols.n; i++) counts[TRACE_OPS[cols.op[i] as number] as TraceOpName]++;
  let counterKeys = 0;
  for (let k = 0; k < n; k++) counterKeys += keys.counter[k] as number;
  return {
    digest: createHash('sha256').update(bytes).digest('hex'), ops: cols.n, keys: n, spanMs, clients: clients.size, counts, counterKeys,
    largestValue: largest, serverBytes, unsizedKeys,
    atMs: at, key: cols.key.subarray(0, cols.n), op: cols.op.subarray(0, cols.n), valueBytes: cols.bytes.subarray(0, cols.n), ttl: cols.ttl.subarray(0, cols.n),
    keyBytes: keys.keyBytes.subarray(0, n), counter: keys.counter.subarray(0, n),
  };
}

/** The summary of a parsed trace (without its ops: plain data for the plan and the results). */
export function traceSummary(t: Trace): TraceSummary {
  return {
    digest: t.digest, ops: t.ops, keys: t.keys, spanMs: t.spanMs, clients: t.clients, counts: { ...t.counts }, counterKeys: t.counterKeys,
    largestValue: t.largestValue, serverBytes: t.serverBytes, unsizedKeys: t.unsizedKeys,
  };
}
