import { ConfigError, badValue, describeSource, type Source } from './errors.js';
import type { KeySpec } from './keys.js';
import { MAX_SWEEP_CASES, MAX_SWEEP_VALUES } from './limits.js';

export type Scalar = number | string;

function fixFor(spec: KeySpec): string {
  if (spec.type === 'string') return `set ${spec.name} to a text value`;
  const range = `${spec.min ?? '-∞'} to ${spec.max ?? '∞'}`;
  const kind = spec.type === 'int' ? 'a whole number' : spec.percent ? 'a number or a percentage such as 2%' : 'a number';
  return `set ${spec.name} to ${kind} from ${range}`;
}

/** Parses one scalar of a key from a scenario file (number or string) or an env/flag string. */
export function parseScalar(spec: KeySpec, raw: unknown, source: Source): Scalar {
  if (spec.type === 'string') {
    if (typeof raw === 'string' || typeof raw === 'number') {
      const text = String(raw).trim();
      if (spec.choices !== undefined && !spec.choices.includes(text.toLowerCase())) {
        throw badValue(spec.name, raw, source, 'not one of the choices', `set ${spec.name} to one of ${spec.choices.join(', ')}`);
      }
      return spec.choices !== undefined ? text.toLowerCase() : String(raw);
    }
    throw badValue(spec.name, raw, source, 'expected a text value', fixFor(spec));
  }
  let value: number;
  if (typeof raw === 'number') {
    value = raw;
  } else if (typeof raw === 'string') {
    const text = raw.trim();
    const isPercent = spec.percent === true && text.endsWith('%');
    const body = isPercent ? text.slice(0, -1).trim() : text;
    const pattern = spec.type === 'int' ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
    if (!pattern.test(body)) {
      const what = spec.type === 'int' ? 'not a whole number' : 'not a number';
      throw badValue(spec.name, raw, source, what, fixFor(spec));
    }
    value = Number(body) / (isPercent ? 100 : 1);
  } else {
    throw badValue(spec.name, raw, source, `expected ${spec.type === 'int' ? 'a whole number' : 'a number'}`, fixFor(spec));
  }
  if (!Number.isFinite(value) || (spec.type === 'int' && !Number.isSafeInteger(value))) {
    throw badValue(spec.name, raw, source, spec.type === 'int' ? 'not a whole number' : 'not a finite number', fixFor(spec));
  }
  if (spec.min !== undefined && value < spec.min) {
    throw badValue(spec.name, raw, source, value < 0 ? 'negative values are not allowed' : `below the minimum ${spec.min}`, fixFor(spec));
  }
  if (spec.max !== undefined && value > spec.max) {
    throw badValue(spec.name, raw, source, `above the maximum ${spec.max}`, fixFor(spec));
  }
  return value;
}

/**
 * Parses a key's value: a scalar, or for sweepable keys a list (YAML list, or a
 * comma-separated string from env/--envVars/flags) giving a parameter sweep.
 */
export function parseValue(spec: KeySpec, raw: unknown, source: Source): Scalar | Scalar[] {
  let items: unknown[] | undefined;
  if (Array.isArray(raw)) items = raw;
  else if (spec.type !== 'string' && typeof raw === 'string' && raw.includes(',')) items = raw.split(',');
  if (items === undefined) return parseScalar(spec, raw, source);
  if (!spec.sweepable) {
    throw badValue(spec.name, raw, source, 'a list is only allowed for READ_RATIO, WRITE_COUNT and PAYLOAD_BYTES', `give ${spec.name} a single value`);
  }
  if (items.length === 0) {
    throw badValue(spec.name, raw, source, 'the list is empty', `list at least one value, e.g. ${spec.name}: [${String(spec.default)}]`);
  }
  if (items.length > MAX_SWEEP_VALUES) {
    // Checked before any value is parsed; the list itself is not echoed (it may be long).
    throw new ConfigError(`${spec.name} (from ${describeSource(source)}) is a list of ${items.length} values, starting ${items.slice(0, 3).map((v) => String(JSON.stringify(v)).slice(0, 24)).join(', ')}, …: ` +
      `a sweep runs every value as a combination of its own, and may have at most ${MAX_SWEEP_VALUES}. Fix: list at most ${MAX_SWEEP_VALUES} values of ${spec.name} (e.g. every ${Math.ceil(items.length / 10)}th), or split the sweep over several runs`);
  }
  const values = items.map((item) => parseScalar(spec, item, source));
  const unique = [...new Set(values)];
  if (unique.length !== values.length) {
    throw badValue(spec.name, raw, source, 'the list repeats a value', 'list each value once');
  }
  return values;
}

/** A key's number of values: a list's length, or 1. */
const lengthOf = (value: unknown): number => (Array.isArray(value) ? value.length : 1);

/**
 * The sweep's size (the product of its lists' lengths), checked before the combinations are built: at most
 * MAX_SWEEP_CASES, or a ConfigError naming each list, its length and its source.
 */
export function checkSweep(settings: ReadonlyMap<string, { readonly value: unknown; readonly source: Source }>, sweepKeys: readonly string[]): void {
  const product = sweepKeys.reduce((n, key) => n * lengthOf(settings.get(key)?.value), 1);
  if (product <= MAX_SWEEP_CASES) return;
  const lists = sweepKeys.filter((key) => lengthOf(settings.get(key)?.value) > 1).map((key) => {
    const s = settings.get(key) as { value: unknown; source: Source };
    return `${key} (${lengthOf(s.value)} values, from ${describeSource(s.source)})`;
  });
  throw new ConfigError(`the sweep ${lists.join(' × ')} makes ${product} combinations, and a scenario may have at most ${MAX_SWEEP_CASES} ` +
    '(each runs its own warm-up and rounds of every target, and gets a table of its own). Fix: shorten the lists so that their lengths multiply to ' +
    `${MAX_SWEEP_CASES} or less, or split the sweep over several runs`);
}

/** Parses a boolean option such as `<NAME>_TLS`. */
export function parseBoolean(key: string, raw: string, source: Source): boolean {
  const text = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(text)) return false;
  throw badValue(key, raw, source, 'not a boolean', `set ${key} to true or false`);
}
