/**
 * VALUE_SIZES: how big the values a WORKLOAD writes are, parsed and checked before any traffic, and drawn during the run.
 *
 *   VALUE_SIZES=1000                    every value 1000 bytes
 *   VALUE_SIZES=100-10000               uniform over 100..10000 bytes (memtier's --data-size-range)
 *   VALUE_SIZES=100:8,1000:2,100000:1   a weighted list of sizes (memtier's --data-size-list)
 *   VALUE_SIZES=lognormal:2000:1        lognormal with mean 2000 bytes and spread (σ of ln size) 1
 *   VALUE_SIZES=lognormal:2000:1:64-1e5 the same, sizes kept within 64..100000 bytes
 */
import { weightedPicker } from '../measure/random.js';
import { badValue, type Source } from './errors.js';

export type SizeSpec =
  | { readonly kind: 'fixed'; readonly bytes: number }
  | { readonly kind: 'uniform'; readonly min: number; readonly max: number }
  | { readonly kind: 'list'; readonly sizes: readonly number[]; readonly weights: readonly number[] }
  /** Lognormal with this mean (bytes) and σ of ln(size), drawn sizes clamped to min..max. */
  | { readonly kind: 'lognormal'; readonly mean: number; readonly sigma: number; readonly min: number; readonly max: number };

/** Bounds of VALUE_SIZES (it comes from files and environments). */
export const SIZE_LIMITS = { bytes: 512 * 1024 * 1024, listEntries: 64, weight: 1_000_000, sigma: 4, textChars: 2000 } as const;
/** A lognormal's default clamp: at least this many bytes, at most e^(μ + LOGNORMAL_TAIL·σ) (its 99.997th percentile). */
export const LOGNORMAL_MIN_BYTES = 16;
const LOGNORMAL_TAIL = 4;

const USAGE = 'write BYTES (e.g. 1000), MIN-MAX (100-10000), SIZE:WEIGHT,… (100:8,1000:2) or lognormal:MEAN:SIGMA[:MIN-MAX] (lognormal:2000:1)';

/** A size in bytes: a whole number, or with an exponent (1e5). */
function bytesOf(text: string, raw: string, source: Source): number {
  const n = /^\d+(?:\.\d+)?(?:e\d{1,2})?$/i.test(text) ? Number(text) : NaN;
  if (!(Number.isInteger(n) && n >= 1 && n <= SIZE_LIMITS.bytes)) {
    throw badValue('VALUE_SIZES', raw, source, `"${text}" is not a size from 1 to ${SIZE_LIMITS.bytes} bytes (512 MiB)`, USAGE);
  }
  return n;
}

function range(text: string, raw: string, source: Source): { min: number; max: number } {
  const [a = '', b = ''] = text.split('-');
  const min = bytesOf(a.trim(), raw, source);
  const max = bytesOf(b.trim(), raw, source);
  if (min > max) throw badValue('VALUE_SIZES', raw, source, `the range ${text} is upside down`, `write it as ${max}-${min}`);
  return { min, max };
}

/** VALUE_SIZES as given; null when empty (values of PAYLOAD_BYTES). */
export function parseValueSizes(raw: string, source: Source): SizeSpec | null {
  const text = raw.trim();
  if (text === '') return null;
  if (text.length > SIZE_LIMITS.textChars) throw badValue('VALUE_SIZES', `${text.slice(0, 40)}…`, source, `longer than ${SIZE_LIMITS.textChars} characters`, USAGE);
  if (/^lognormal:/i.test(text)) {
    const [, meanText = '', sigmaText = '', clamp, extra] = text.split(':');
    if (extra !== undefined) throw badValue('VALUE_SIZES', raw, source, 'a lognormal takes MEAN, SIGMA and an optional MIN-MAX', USAGE);
    const mean = bytesOf(meanText.trim(), raw, source);
    const sigma = /^\d*\.?\d+$/.test(sigmaText.trim()) ? Number(sigmaText) : NaN;
    if (!(sigma > 0 && sigma <= SIZE_LIMITS.sigma)) {
      throw badValue('VALUE_SIZES', raw, source, `the spread "${sigmaText}" (σ of ln size) must be above 0 and at most ${SIZE_LIMITS.sigma}`, 'use e.g. lognormal:2000:1');
    }
    const mu = Math.log(mean) - (sigma * sigma) / 2;
    const bounds = clamp !== undefined ? range(clamp, raw, source)
      : { min: Math.min(LOGNORMAL_MIN_BYTES, mean), max: Math.max(mean, Math.min(SIZE_LIMITS.bytes, Math.ceil(Math.exp(mu + LOGNORMAL_TAIL * sigma)))) };
    if (mean < bounds.min || mean > bounds.max) throw badValue('VALUE_SIZES', raw, source, `the mean ${mean} lies outside ${bounds.min}-${bounds.max}`, 'widen MIN-MAX around the mean');
    return { kind: 'lognormal', mean, sigma, ...bounds };
  }
  if (text.includes(':')) {
    const parts = text.split(',');
    if (parts.length > SIZE_LIMITS.listEntries) throw badValue('VALUE_SIZES', raw, source, `more than ${SIZE_LIMITS.listEntries} sizes`, 'list fewer sizes');
    const sizes: number[] = [];
    const weights: number[] = [];
    for (const part of parts) {
      const [size = '', weight = '', extra] = part.split(':');
      const w = /^\d*\.?\d+$/.test(weight.trim()) ? Number(weight) : NaN;
      if (extra !== undefined || !(w > 0 && w <= SIZE_LIMITS.weight)) {
        throw badValue('VALUE_SIZES', raw, source, `"${part.trim()}" is not SIZE:WEIGHT with a weight above 0 and at most ${SIZE_LIMITS.weight}`, USAGE);
      }
      sizes.push(bytesOf(size.trim(), raw, source));
      weights.push(w);
    }
    return { kind: 'list', sizes, weights };
  }
  if (text.includes('-')) {
    const r = range(text, raw, source);
    return r.min === r.max ? { kind: 'fixed', bytes: r.min } : { kind: 'uniform', ...r };
  }
  return { kind: 'fixed', bytes: bytesOf(text, raw, source) };
}

/** The smallest and largest size a spec can draw. */
export function sizeBounds(spec: SizeSpec): { min: number; max: number } {
  switch (spec.kind) {
    case 'fixed': return { min: spec.bytes, max: spec.bytes };
    case 'list': return { min: Math.min(...spec.sizes), max: Math.max(...spec.sizes) };
    default: return { min: spec.min, max: spec.max };
  }
}

/** The mean size a spec draws (a lognormal's clamp left out: it moves the mean by little). */
export function meanSize(spec: SizeSpec): number {
  switch (spec.kind) {
    case 'fixed': return spec.bytes;
    case 'uniform': return (spec.min + spec.max) / 2;
    case 'list': {
      const total = spec.weights.reduce((a, b) => a + b, 0);
      return spec.sizes.reduce((sum, s, i) => sum + s * (spec.weights[i] ?? 0), 0) / total;
    }
    case 'lognormal': return spec.mean;
  }
}

/** The spec in canonical text (reports, results.json). */
export function sizeText(spec: SizeSpec): string {
  switch (spec.kind) {
    case 'fixed': return String(spec.bytes);
    case 'uniform': return `${spec.min}-${spec.max}`;
    case 'list': return spec.sizes.map((s, i) => `${s}:${spec.weights[i] ?? 0}`).join(',');
    case 'lognormal': return `lognormal:${spec.mean}:${spec.sigma}:${spec.min}-${spec.max}`;
  }
}

/** A drawer of sizes by `random` (uniform in [0, 1)): each call one size in bytes. */
export function sizeSampler(spec: SizeSpec, random: () => number): () => number {
  switch (spec.kind) {
    case 'fixed': return () => spec.bytes;
    case 'uniform': return () => spec.min + Math.floor(random() * (spec.max - spec.min + 1));
    case 'list': {
      const pick = weightedPicker(spec.weights, random);
      return () => spec.sizes[pick()] as number;
    }
    case 'lognormal': {
      const mu = Math.log(spec.mean) - (spec.sigma * spec.sigma) / 2;
      return () => {
        // Box–Muller: one standard normal from two uniforms (1 - u keeps the logarithm finite).
        const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
        return Math.min(spec.max, Math.max(spec.min, Math.round(Math.exp(mu + spec.sigma * z))));
      };
    }
  }
}
