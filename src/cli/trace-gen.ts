/** `cachebench trace-gen FILE`: writes a synthetic trace in TRACE's format (config/trace-gen.ts), for tries and tests. */
import { writeFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import { TRACE_LIMITS } from '../config/trace.js';
import { generateTrace, type TraceGenOptions } from '../config/trace-gen.js';
import { EXIT } from './exit.js';

export function traceGenCommand(file: string, o: TraceGenOptions): number {
  const bad = (flag: string, value: number, range: string): ConfigError =>
    new ConfigError(`--${flag} ${value} is outside ${range}. Fix: give --${flag} within ${range}`);
  if (!(Number.isInteger(o.ops) && o.ops >= 1 && o.ops <= TRACE_LIMITS.ops)) throw bad('ops', o.ops, `1–${TRACE_LIMITS.ops}`);
  if (!(o.rate > 0 && o.rate <= 1_000_000)) throw bad('rate', o.rate, '0–1000000 ops/s');
  if (!(Number.isInteger(o.keys) && o.keys >= 1 && o.keys <= TRACE_LIMITS.keys)) throw bad('keys', o.keys, `1–${TRACE_LIMITS.keys}`);
  if (!(o.zipf >= 0 && o.zipf <= 5)) throw bad('zipf', o.zipf, '0–5');
  try {
    // Never over an existing file.
    writeFileSync(file, generateTrace(o), { flag: 'wx' });
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`trace-gen cannot write ${JSON.stringify(file)}: ${code}. Fix: name a new file in a folder that exists (an existing file is never overwritten)`);
  }
  process.stdout.write(`wrote ${o.ops} ops over ${(o.ops / o.rate).toFixed(1)} s of trace time to ${file}\n`);
  return EXIT.ok;
}
