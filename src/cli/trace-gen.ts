/** `cachebench trace-gen FILE`: writes a synthetic trace in TRACE's format (config/trace-gen.ts), for tries and tests. */
import { writeFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { ConfigError } from '../config/errors.js';
import { TRACE_LIMITS } from '../config/trace.js';
import { generateTrace } from '../config/trace-gen.js';
import { EXIT } from './exit.js';

/** The command's options (yargs builder). */
export function traceGenOptions(y: Argv): Argv<TraceGenArgs> {
  return y
    .positional('file', { type: 'string', demandOption: true, describe: 'the trace file to write (never over an existing file)' })
    .option('ops', { type: 'number', default: 10_000, describe: 'ops in the trace' })
    .option('rate', { type: 'number', default: 1000, describe: 'ops per second of trace time' })
    .option('keys', { type: 'number', default: 2000, describe: 'value keys (counter keys: a tenth of them)' })
    .option('zipf', { type: 'number', default: 0.99, describe: 'zipf exponent of key popularity' })
    .option('seed', { type: 'number', default: 1, describe: 'seed of the random choices (the same seed writes the same trace)' })
    .option('whole-seconds', { type: 'boolean', default: false, describe: 'timestamps in whole seconds, as Twitter\'s traces give them' }) as unknown as Argv<TraceGenArgs>;
}

export interface TraceGenArgs {
  readonly file: string;
  readonly ops: number;
  readonly rate: number;
  readonly keys: number;
  readonly zipf: number;
  readonly seed: number;
  readonly 'whole-seconds': boolean;
}

export function traceGenCommand(a: TraceGenArgs): number {
  const bad = (flag: string, value: number, range: string): ConfigError => (Number.isNaN(value)
    ? new ConfigError(`--${flag} is not a number. Fix: give --${flag} a number within ${range}`)
    : new ConfigError(`--${flag} ${value} is outside ${range}. Fix: give --${flag} within ${range}`));
  if (!(Number.isInteger(a.ops) && a.ops >= 1 && a.ops <= TRACE_LIMITS.ops)) throw bad('ops', a.ops, `1–${TRACE_LIMITS.ops}`);
  if (!(a.rate > 0 && a.rate <= 1_000_000)) throw bad('rate', a.rate, '0–1000000 ops/s');
  if (a.ops / a.rate > TRACE_LIMITS.spanSeconds) throw bad('rate', a.rate, `rates at which ${a.ops} ops span at most ${TRACE_LIMITS.spanSeconds / 86_400} days (a trace's most)`);
  if (!(Number.isInteger(a.keys) && a.keys >= 1 && a.keys <= TRACE_LIMITS.keys)) throw bad('keys', a.keys, `1–${TRACE_LIMITS.keys}`);
  if (!(a.zipf >= 0 && a.zipf <= 5)) throw bad('zipf', a.zipf, '0–5');
  if (!Number.isSafeInteger(a.seed)) {
    throw new ConfigError(`--seed ${Number.isNaN(a.seed) ? 'is not a number' : `${a.seed} is not a whole number`}. Fix: give --seed a whole number, e.g. --seed 7 (the same seed writes the same trace)`);
  }
  try {
    // Never over an existing file.
    writeFileSync(a.file, generateTrace({ ops: a.ops, rate: a.rate, keys: a.keys, zipf: a.zipf, seed: a.seed, wholeSeconds: a['whole-seconds'] }), { flag: 'wx' });
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`trace-gen cannot write ${JSON.stringify(a.file)}: ${code}. Fix: name a new file in a folder that exists (an existing file is never overwritten)`);
  }
  process.stdout.write(`wrote ${a.ops} ops over ${(a.ops / a.rate).toFixed(1)} s of trace time to ${a.file}\n`);
  return EXIT.ok;
}
