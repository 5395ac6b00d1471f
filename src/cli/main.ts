#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError } from '../config/errors.js';
import { KEY_SPECS, flagName } from '../config/keys.js';
import { resolveConfig, type RunPlan } from '../config/resolve.js';
import { executeRun } from '../measure/run.js';
import { buildDocument, renderConsole, writeResults } from '../report/index.js';
import { TargetUnreachableError } from '../targets/index.js';
import { createProgress } from './progress.js';

/** Exit codes, as documented in the README. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, interrupted: 130 } as const;

/** A run id that sorts by time: 20261125-104800-3fa2. */
export function newRunId(date = new Date()): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}-${randomBytes(2).toString('hex')}`;
}

/**
 * BenchmarkDotNet-style arguments after `--` (as in `dotnet run -c Release -- --envVars K:V ...`):
 * `--envVars` followed by KEY:VALUE items up to the next `--flag`.
 */
export function parseBdnArgs(rest: readonly string[]): string[] {
  const items: string[] = [];
  let inEnvVars = false;
  for (const token of rest) {
    if (token === '--envVars' || token === '--envvars') {
      inEnvVars = true;
    } else if (inEnvVars && !token.startsWith('--')) {
      items.push(token);
    } else {
      throw new ConfigError(`unsupported argument ${JSON.stringify(token)} after --. Fix: only --envVars KEY:VALUE ... may follow --; put other flags before --`);
    }
  }
  return items;
}

interface RunArgs {
  scenarios?: string[];
  envVars?: string[];
  targets?: string;
  baseline?: string;
  out: string;
  quiet: boolean;
  '--'?: string[];
  [key: string]: unknown;
}

function fail(message: string, code: number): never {
  process.stderr.write(`cachebench: error: ${message}\n`);
  process.exit(code);
}

function planFrom(args: RunArgs): RunPlan {
  const flags: Record<string, string | undefined> = {};
  for (const spec of KEY_SPECS) {
    const v = args[flagName(spec.name)];
    if (v !== undefined) flags[spec.name] = String(v);
  }
  const envVars = [...(args.envVars ?? []).map(String), ...parseBdnArgs((args['--'] ?? []).map(String))];
  const plan = resolveConfig({
    scenarioFiles: args.scenarios ?? [],
    env: process.env,
    envVars,
    flags,
    ...(args.targets !== undefined ? { targets: args.targets } : {}),
    ...(args.baseline !== undefined ? { baseline: args.baseline } : {}),
  });
  if (plan.targets.length === 0) {
    throw new ConfigError('no targets configured. Fix: set <NAME>_SERVERS=host:port (env var or --envVars REDIS_SERVERS:127.0.0.1:6379)');
  }
  return plan;
}

async function run(args: RunArgs): Promise<number> {
  const plan = planFrom(args);
  const runId = newRunId();
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts > 1) fail(`second ${signal}: exiting without cleanup (keys expire by KEY_TTL)`, EXIT.interrupted);
    process.stderr.write(`\ncachebench: ${signal}: stopping after the current op, deleting this run's keys...\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const progress = createProgress(process.stderr, args.quiet);
  try {
    const result = await executeRun(plan, { runId, signal: controller.signal, onProgress: progress.onProgress });
    progress.done();
    const doc = buildDocument(result, plan.baseline);
    const files = writeResults(args.out, doc);
    process.stdout.write(`${renderConsole(doc)}\n`);
    process.stdout.write(`Report: ${files.report}\n`);
    if (result.aborted) return EXIT.interrupted;
    const bad = doc.results.filter((e) => e.state !== 'completed' || e.verification.missing + e.verification.mismatched + e.ops.get.errors + e.ops.set.errors > 0);
    if (bad.length > 0) {
      process.stderr.write(`cachebench: failures in ${bad.map((e) => `${e.target.name} (${e.scenario.name})`).join(', ')}: see the table\n`);
      return EXIT.failed;
    }
    return EXIT.ok;
  } finally {
    progress.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function addScenarioFlags(y: Argv): Argv {
  let out = y;
  for (const spec of KEY_SPECS) {
    out = out.option(flagName(spec.name), {
      type: 'string',
      group: 'Scenario keys (override scenario files, env and --envVars):',
      describe: `${spec.description} [${spec.name}, default ${spec.default === '' ? 'none' : String(spec.default)}]`,
    });
  }
  return out;
}

export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  await yargs(hideBin([...argv]))
    .scriptName('cachebench')
    .parserConfiguration({ 'populate--': true, 'camel-case-expansion': false })
    .command(
      'run [scenarios..]',
      'benchmark every <NAME>_SERVERS target with the given scenario files (YAML)',
      (y) =>
        addScenarioFlags(
          y
            .positional('scenarios', { type: 'string', array: true, describe: 'scenario files (default: built-in seed scenario)' })
            .option('envVars', { type: 'string', array: true, describe: 'KEY:VALUE items as in BenchmarkDotNet (split at the first colon)' })
            .option('targets', { type: 'string', describe: 'comma-separated target names: selects and orders targets' })
            .option('baseline', { type: 'string', describe: 'target that Percent is relative to (default: the fastest)' })
            .option('out', { type: 'string', default: 'results', describe: 'folder for results/<runId>/' })
            .option('quiet', { type: 'boolean', default: false, describe: 'no progress on stderr' }),
        ),
      async (args) => {
        exitCode = await run(args as unknown as RunArgs);
      },
    )
    .demandCommand(1, 'name a command, e.g. cachebench run scenarios/seed-read-heavy.yaml')
    .strict()
    .help()
    .version()
    .fail((message, error) => {
      if (error) throw error;
      fail(`${message}. Fix: see cachebench --help`, EXIT.usage);
    })
    .parseAsync();
  return exitCode;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) fail(error.message, EXIT.usage);
    if (error instanceof TargetUnreachableError) fail(`${error.message}. Fix: check that the server runs and the address is right`, EXIT.unreachable);
    fail(error instanceof Error ? (error.stack ?? error.message) : String(error), EXIT.failed);
  },
);
