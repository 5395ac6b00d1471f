/**
 * The building blocks of the results.json reader (schema.ts): the limits every list, text and histogram is held to, and
 * checks that rebuild a value from what they checked, so a crafted file can neither add fields nor make the work unbounded.
 */
import { inflateSync } from 'node:zlib';
import { MAX_PERCENT } from '../stats/ratio.js';
import { MAX_RUN_RESULTS } from '../config/limits.js';
import { formatBytes } from '../config/input-file.js';

/** Longest lists a run can write, with room: MAX_ITERATIONS ≤ 100,000; DURATION ≤ 6 h (21,600 s, 216,000 100-ms buckets). */
export const RESULT_LIMITS = {
  iterations: 100_000,
  seconds: 100_000,
  timelineBuckets: 300_000,
  targets: 1_000,
  cases: 10_000,
  results: MAX_RUN_RESULTS,
  scenarios: 1_000,
  /** events, notes, warnings, lost keys, output lines, workers, nodes, servers, mergedFrom, error messages. */
  items: 10_000,
  /** Any text in the file (a message, a description, a command's output line). */
  textChars: 1 << 20,
  /**
   * One encoded histogram: its base64 text, its inflated bytes, its counts array (HdrHistogram buckets). cachebench
   * writes 2 or 3 significant digits from 1 ns: 28,672 buckets up to 2^36 ns, 46,080 if a value stretched it to 2^53.
   * Decoding costs in proportion to the buckets, so a file's work stays in proportion to its size.
   */
  histogramChars: 1 << 20,
  histogramBytes: 4 << 20,
  histogramCounts: 46_080,
  histogramDigits: 3,
  /** Largest value a histogram may track (ns): 2^53, about 104 days. */
  histogramHighest: 2 ** 53,
  /** Over the whole file: inflated histogram bytes and counts-array entries (the work and memory decoding costs). */
  documentHistogramBytes: 512 << 20,
  documentHistogramCounts: 2 ** 31,
} as const;

/** A field that does not fit: where (a JSON path) and what was expected. */
export class SchemaError extends Error {
  override readonly name = 'SchemaError';
  constructor(readonly at: string, readonly problem: string, readonly fix?: string) {
    super(`${at}: ${problem}`);
  }
}

interface Budget {
  histogramBytes: number;
  histogramCounts: number;
}
/** Checks a value and returns it rebuilt from what was checked: fields the schema does not name are left out. */
export type Check = (value: unknown, at: string, budget: Budget) => unknown;

export const shown = (v: unknown): string => {
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v !== null && typeof v === 'object') return 'an object';
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};
export const fail = (at: string, expected: string, value: unknown, fix?: string): never => {
  throw new SchemaError(at, `expected ${expected}, found ${shown(value)}`, fix);
};
export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export const num: Check = (v, at) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(at, 'a number', v);
  return v;
};
/** Longest time a results file may hold, in ms: 2^53 ns, as the histograms (about 104 days). */
const MAX_MS = 2 ** 53 / 1e6;
/** Shortest time a results file may hold, in ms: 1 ns, as the histograms (a ratio of two tinier ones is no number). */
const MIN_MS = 1e-6;
/** A measured time of one invocation or round: at least 1 ns (cachebench's clock counts ns, and never records 0). */
export const sampleMs: Check = (v, at) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < MIN_MS || v > MAX_MS) fail(at, `a time in ms from ${MIN_MS} (1 ns) to ${MAX_MS}`, v);
  return v;
};
/** A Percent: 100 × a time (or a rate) over another, both within 1 ns..2^53 ns: at most about 9e17. */
export const percent: Check = (v, at) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1e18) fail(at, 'a Percent from 0 to 1e18', v);
  return v;
};
/** A bound of a Percent's interval: below 0 when the rounds vary wildly; cachebench writes none beyond ±MAX_PERCENT. */
export const percentBound: Check = (v, at) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > MAX_PERCENT) fail(at, `a Percent bound from -${MAX_PERCENT} to ${MAX_PERCENT}`, v);
  return v;
};
/** A summary of times (a mean, an Error, a StdDev): 0 or more. */
export const ms: Check = (v, at) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_MS) fail(at, `a time in ms from 0 to ${MAX_MS}`, v);
  return v;
};
/** A confidence level: strictly between 0 and 1 (0.999 for the 99.9% Error). */
export const confidence: Check = (v, at) => {
  if (typeof v !== 'number' || !(v > 0 && v < 1)) fail(at, 'a confidence level between 0 and 1 (e.g. 0.999)', v);
  return v;
};
/** A share of time: from 0 to 1 (an event loop's busy share). */
export const fraction: Check = (v, at) => {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(at, 'a share from 0 to 1', v);
  return v;
};
/** A whole number ≥ 1 (servers read, seconds measured). */
export const positiveCount: Check = (v, at) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail(at, 'a whole number ≥ 1', v);
  return v;
};
export const count: Check = (v, at) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(at, 'a whole number ≥ 0', v);
  return v;
};
export const bool: Check = (v, at) => {
  if (typeof v !== 'boolean') fail(at, 'true or false', v);
  return v;
};
export const text: Check = (v, at) => {
  if (typeof v !== 'string') fail(at, 'text', v);
  if ((v as string).length > RESULT_LIMITS.textChars) fail(at, `text of at most ${RESULT_LIMITS.textChars} characters`, `${(v as string).length} characters`);
  return v;
};
export const pattern = (re: RegExp, what: string, fix: string): Check => (v, at) => {
  if (typeof v !== 'string' || !re.test(v) || v.includes('..')) fail(at, what, v, fix);
  return v;
};
export const oneOf = (...values: readonly string[]): Check => (v, at) => {
  if (typeof v !== 'string' || !values.includes(v)) fail(at, `one of ${values.join(', ')}`, v);
  return v;
};
export const nullable = (check: Check): Check => (v, at, b) => (v === null ? null : check(v, at, b));
/** A field older or other writers may leave out. */
export const optional = (check: Check): Check => (v, at, b) => (v === undefined ? undefined : check(v, at, b));
export const list = (check: Check, max: number): Check => (v, at, b) => {
  if (!Array.isArray(v)) return fail(at, 'a list', v);
  if (v.length > max) fail(at, `a list of at most ${max} items`, v);
  return v.map((x, i) => check(x, `${at}[${i}]`, b));
};
/**
 * An object of free keys (params, error counts, options). Rebuilt with Object.fromEntries, which makes each key an own
 * field: a key `__proto__` stays a key, never the new object's prototype.
 */
export const record = (check: Check, max: number): Check => (v, at, b) => {
  if (!isObject(v)) return fail(at, 'an object', v);
  const keys = Object.keys(v);
  if (keys.length > max) fail(at, `an object of at most ${max} keys`, `${keys.length} keys`);
  return Object.fromEntries(keys.map((k) => {
    if (k.length > 256) fail(`${at}.${k.slice(0, 40)}…`, 'a key of at most 256 characters', k);
    return [k, check(v[k], `${at}.${k}`, b)];
  }));
};
/** An object of known fields: rebuilt from them alone (a field the schema does not name, however deep, is dropped). */
export const object = (shape: Readonly<Record<string, Check>>): Check => (v, at, b) => {
  if (!isObject(v)) return fail(at, 'an object', v);
  const out: [string, unknown][] = [];
  for (const [k, check] of Object.entries(shape)) {
    const value = check(v[k], at === '' ? k : `${at}.${k}`, b);
    if (value !== undefined) out.push([k, value]);
  }
  return Object.fromEntries(out);
};
/** An object whose bounds come in order: each [lower, upper] pair, when both are numbers, has lower ≤ upper. */
export const ordered = (check: Check, pairs: readonly (readonly [string, string])[]): Check => (v, at, b) => {
  const o = check(v, at, b) as Record<string, unknown>;
  for (const [lo, hi] of pairs) {
    const [l, h] = [o[lo], o[hi]];
    if (typeof l === 'number' && typeof h === 'number' && l > h) fail(`${at}.${lo}`, `at most ${hi} (${h})`, l);
  }
  return o;
};
/** Any JSON value that is shown as it is (a setting's value): a scalar or a flat list of scalars. */
export const scalarOrList: Check = (v, at) => {
  const scalar = (x: unknown): boolean => x === null || typeof x === 'number' || typeof x === 'boolean' || (typeof x === 'string' && x.length <= RESULT_LIMITS.textChars);
  if (scalar(v)) return v;
  if (Array.isArray(v) && v.length <= RESULT_LIMITS.items && v.every(scalar)) return [...(v as unknown[])];
  return fail(at, 'a number, text, true/false, null or a list of them', v);
};

/** HdrHistogram's V2 encodings: the compressed wrapper and the inner counts (low 4 bits of the cookie vary). */
const COMPRESSED_COOKIE = 478450436;
const ENCODING_COOKIE = 478450435;
const HISTOGRAM_FIX = 'give the histogram as cachebench wrote it (HdrHistogram compressed base64, 1–5 significant digits)';

/** The length of the counts array hdr-histogram-js allocates for these parameters (JsHistogram's constructor). */
function countsArrayLength(lowest: number, highest: number, digits: number): number {
  const subBucketCountMagnitude = Math.ceil(Math.log2(2 * 10 ** digits));
  const subBucketHalfCountMagnitude = Math.max(subBucketCountMagnitude, 1) - 1;
  const subBucketCount = 2 ** (subBucketHalfCountMagnitude + 1);
  let smallestUntrackable = subBucketCount * 2 ** Math.floor(Math.log2(lowest));
  let buckets = 1;
  while (smallestUntrackable <= highest && buckets < 64) {
    smallestUntrackable *= 2;
    buckets++;
  }
  return (buckets + 1) * (subBucketCount / 2);
}

/** Walks the zig-zag LEB128 counts as hdr-histogram-js will, so a run of zeros cannot point past the array. */
function checkCounts(data: Buffer, from: number, to: number, length: number, at: string): void {
  let index = 0;
  let pos = from;
  while (pos < to) {
    let value = 0;
    let factor = 1;
    for (let byte = 0; byte < 9; byte++) {
      const b = data[pos++];
      if (b === undefined) throw new SchemaError(at, 'the histogram\'s counts end in the middle of a number', HISTOGRAM_FIX);
      value += (byte === 8 ? b : b & 0x7f) * factor;
      factor *= 128;
      if (byte === 8 || (b & 0x80) === 0) break;
    }
    const n = value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    index += n < 0 ? -n : 1;
    if (index > length) throw new SchemaError(at, `the histogram's counts run past its ${length} buckets`, HISTOGRAM_FIX);
  }
}

/**
 * An encoded histogram, checked before hdr-histogram-js decodes it: the base64 text, the inflated size (zlib stops at
 * the limit: a 259 KB text that inflates to 630 MB never gets there), the header (significant digits, lowest and
 * highest trackable value, hence the counts array it allocates) and the counts themselves.
 */
export const histogram: Check = (v, at, budget) => {
  if (typeof v !== 'string') return fail(at, 'an encoded histogram (text)', v);
  if (v.length > RESULT_LIMITS.histogramChars) fail(at, `an encoded histogram of at most ${RESULT_LIMITS.histogramChars} characters`, `${v.length} characters`, HISTOGRAM_FIX);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v)) fail(at, 'an encoded histogram (base64)', v, HISTOGRAM_FIX);
  const raw = Buffer.from(v, 'base64');
  const bad = (problem: string): never => {
    throw new SchemaError(at, problem, HISTOGRAM_FIX);
  };
  if (raw.length < 8 || (raw.readInt32BE(0) & ~0xf0) !== COMPRESSED_COOKIE) bad('not an HdrHistogram compressed V2 encoding');
  const compressed = raw.readInt32BE(4);
  if (compressed < 0 || compressed > raw.length - 8) bad('the histogram\'s compressed length is wrong');
  let data: Buffer;
  try {
    data = inflateSync(raw.subarray(8, 8 + compressed), { maxOutputLength: RESULT_LIMITS.histogramBytes });
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    return bad(code === 'ERR_BUFFER_TOO_LARGE' ? `the histogram inflates to more than ${formatBytes(RESULT_LIMITS.histogramBytes)}` : `the histogram does not inflate (${code ?? String(error)})`);
  }
  budget.histogramBytes += data.length;
  if (budget.histogramBytes > RESULT_LIMITS.documentHistogramBytes) bad(`the file's histograms inflate to more than ${formatBytes(RESULT_LIMITS.documentHistogramBytes)} together`);
  if (data.length < 40 || (data.readInt32BE(0) & ~0xf0) !== ENCODING_COOKIE) bad('not an HdrHistogram V2 encoding inside');
  const payload = data.readInt32BE(4);
  const digits = data.readInt32BE(12);
  const lowest = Number(data.readBigInt64BE(16));
  const highest = Number(data.readBigInt64BE(24));
  if (payload < 0 || payload > data.length - 40) bad('the histogram\'s payload length is wrong');
  if (!(digits >= 1 && digits <= RESULT_LIMITS.histogramDigits)) bad(`the histogram claims ${digits} significant digits (cachebench writes 2 or 3; 1–${RESULT_LIMITS.histogramDigits} allowed)`);
  if (!(lowest >= 1 && lowest <= RESULT_LIMITS.histogramHighest / 2)) bad(`the histogram's lowest trackable value ${lowest} is out of range`);
  if (!(highest >= 2 * lowest && highest <= RESULT_LIMITS.histogramHighest)) bad(`the histogram's highest trackable value ${highest} is out of range (2 × lowest to 2^53)`);
  const length = countsArrayLength(lowest, highest, digits);
  if (length > RESULT_LIMITS.histogramCounts) bad(`the histogram would need ${length} buckets (at most ${RESULT_LIMITS.histogramCounts})`);
  budget.histogramCounts += length;
  if (budget.histogramCounts > RESULT_LIMITS.documentHistogramCounts) bad(`the file's histograms need more than ${RESULT_LIMITS.documentHistogramCounts} buckets together`);
  checkCounts(data, 40, 40 + payload, length, at);
  return v;
};
