/**
 * A synthetic cache trace in TRACE's format (config/trace.ts): `cachebench trace-gen`, the sample in scenarios/ and
 * the tests use it. Keys are drawn zipf over a key space; counter keys (c…) get incr/decr and a set now and then,
 * value keys (k…) get the cache operations; timestamps are evenly spaced at `rate` ops/s (to the microsecond), or
 * whole seconds as Twitter's traces give them.
 */
import { seededRandom } from '../measure/random.js';

export interface TraceGenOptions {
  readonly ops: number;
  /** Ops per second of trace time. */
  readonly rate: number;
  /** Value keys; counter keys are a tenth of them (at least 1). */
  readonly keys: number;
  readonly zipf: number;
  readonly seed: number;
  /** Timestamps in whole seconds (Twitter's resolution) instead of to the microsecond. */
  readonly wholeSeconds?: boolean;
}

/** Share of ops per operation on value keys, and on counter keys (the rest of the ops). */
const VALUE_MIX: readonly [string, number][] = [['get', 0.7], ['gets', 0.03], ['set', 0.12], ['add', 0.02], ['replace', 0.02], ['cas', 0.02], ['delete', 0.03], ['append', 0.01]];
const COUNTER_SHARE = 0.05;
const COUNTER_MIX: readonly [string, number][] = [['incr', 0.6], ['decr', 0.1], ['get', 0.25], ['set', 0.05]];

function picker(mix: readonly [string, number][], random: () => number): () => string {
  const total = mix.reduce((n, [, w]) => n + w, 0);
  return () => {
    let u = random() * total;
    for (const [name, w] of mix) if ((u -= w) < 0) return name;
    return (mix[mix.length - 1] as [string, number])[0];
  };
}

/** Zipf ranks 1..n with exponent s, by inverting the cumulative weights (binary search). */
function zipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 1; r <= n; r++) cdf[r - 1] = sum += 1 / r ** s;
  return () => {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** The trace as CSV text, with its header line. */
export function generateTrace(o: TraceGenOptions): string {
  const random = seededRandom(o.seed >>> 0);
  const valueKey = zipf(o.keys, o.zipf, random);
  const counterKey = zipf(Math.max(1, Math.floor(o.keys / 10)), o.zipf, random);
  const valueOp = picker(VALUE_MIX, random);
  const counterOp = picker(COUNTER_MIX, random);
  const lines = ['timestamp,key,key_size,value_size,client_id,operation,ttl'];
  const sizes = new Map<number, number>();
  const lognormal = (): number =>
    Math.min(16384, Math.max(12, Math.round(Math.exp(Math.log(300) + 0.8 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())))));
  for (let i = 0; i < o.ops; i++) {
    const t = i / o.rate;
    const ts = o.wholeSeconds === true ? String(Math.floor(t)) : t.toFixed(6).replace(/\.?0+$/, '');
    const client = 1 + Math.floor(random() * 20);
    if (random() < COUNTER_SHARE) {
      const op = counterOp();
      lines.push(`${ts},c${counterKey()},12,${op === 'set' ? 8 : 0},${client},${op},${op === 'set' ? 3600 : 0}`);
      continue;
    }
    const op = valueOp();
    const k = valueKey();
    const writes = op !== 'get' && op !== 'gets' && op !== 'delete';
    // Each key has a value size (lognormal around 300 bytes, 12 B to 16 KiB), drawn anew by one write in ten; a get
    // carries its key's size (as Twitter's traces give the size of the object), a delete none.
    if (!sizes.has(k) || (writes && random() < 0.1)) sizes.set(k, lognormal());
    const ttl = writes && random() < 0.5 ? 600 + Math.floor(random() * 3000) : 0;
    lines.push(`${ts},k${k},${16 + (k % 24)},${op === 'delete' ? 0 : sizes.get(k)},${client},${op},${ttl}`);
  }
  return `${lines.join('\n')}\n`;
}
