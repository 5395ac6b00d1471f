#!/usr/bin/env node
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError } from '../config/errors.js';
import { KEY_SPECS, TARGET_OPTIONS, flagName } from '../config/keys.js';
import { LOCAL_TARGETS, OPTIONAL_LOCAL_TARGETS, TOPOLOGIES } from '../local/catalog.js';
import { LocalSetupError } from '../local/errors.js';
import { CPU_LAYOUTS } from '../local/placement.js';
import { TargetUnreachableError } from '../targets/client.js';
import { traceGenCommand, traceGenOptions } from './trace-gen.js';
import { EXIT, fail } from './exit.js';
import type { CompareArgs } from './gate.js';
import type { RunArgs } from './run.js';

// Each command's module is loaded by its handler: `--help`, `status` or a `compare` do not load the drivers, the
// report renderers and the local server code they do not use (about half a second of start-up for every command).

/** What a key takes, for help: `whole number 0–1000000`, `number ≥ 0`, `one of a, b`, `text`. */
function valueKind(spec: (typeof KEY_SPECS)[number]): string {
  if (spec.type === 'string') return spec.choices !== undefined ? `one of ${spec.choices.join(', ')}` : 'text';
  const kind = spec.type === 'int' ? 'whole number' : spec.percent === true ? 'number or %' : 'number';
  if (spec.min !== undefined && spec.max !== undefined) return `${kind} ${spec.min}–${spec.max}`;
  return spec.min !== undefined ? `${kind} ≥ ${spec.min}` : kind;
}

function addScenarioFlags(y: Argv): Argv {
  let out = y;
  for (const spec of KEY_SPECS) {
    // No yargs type: values stay text (parse-numbers is off) and are parsed and checked with their source by
    // config/values.ts, as values from files and env are; the help shows what the key takes instead of [string].
    out = out.option(flagName(spec.name), {
      requiresArg: true,
      group: 'Scenario keys (override scenario files, env and --envVars):',
      describe: `${spec.description} [${spec.name}: ${valueKind(spec)}; default ${spec.default === '' ? 'none' : String(spec.default)}]`,
    });
  }
  return out;
}

const RUN_EPILOG = [
  'Targets: every <NAME>_SERVERS env var (or --envVars item) is a target, e.g. REDIS_SERVERS=10.0.0.1:6379,10.0.0.2:6379; ' +
  `its options use the same prefix: ${TARGET_OPTIONS.filter((o) => o !== 'SERVERS').map((o) => `<NAME>_${o}`).join(', ')} (see README "Targets"). ` +
  'With none configured, local topologies are started (--local; --no-local or CI=true make that an error).',
  'Exit codes: 0 ok; 1 verification failures, failed ops, a failing gate, a run that measured nothing, or an output that could not be written; ' +
  '2 usage or configuration error (nothing was sent); 3 a target is unreachable or cannot be used as configured; 130 interrupted (keys deleted first).',
].join('\n\n');

/** The run command's flags beside the scenario keys, its examples and its epilog. */
function runOptions(y: Argv): Argv {
  return addScenarioFlags(
    y
      .positional('scenarios', { type: 'string', array: true, describe: 'scenario files (YAML); default: the built-in seed scenario' })
      .option('envVars', { type: 'string', array: true, describe: 'KEY:VALUE items as in BenchmarkDotNet (split at the first colon)' })
      .option('targets', { type: 'string', describe: 'comma-separated target names: selects and orders targets' })
      .option('baseline', { type: 'string', describe: 'target that Percent is relative to (default: the fastest)' })
      .option('local', { type: 'string', array: true, describe: `start local targets for this run (default all: ${LOCAL_TARGETS.map((t) => t.name).join(' ')}; a client set-up such as REDIS_CLUSTER_NEARCACHE shares its topology's servers; only by name: ${OPTIONAL_LOCAL_TARGETS.map((t) => t.name).join(' ')}); --no-local: never start them (no targets is then an error, as with CI=true)` })
      .option('cluster-node-timeout', { type: 'number', default: 5000, describe: 'cluster-node-timeout (ms) of the local REDIS_CLUSTER' })
      .option('network', { type: 'string', default: 'auto', describe: 'where the local Redis servers listen: loopback (127.0.0.1) | namespaces (each in a network namespace of its own on a private bridge cachebench makes and removes; root, Linux) | auto (namespaces when a scenario has a partition FAULT)' })
      .option('out', { type: 'string', default: 'results', describe: 'folder for <runId>/report.md, results.csv, results.json' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress on stderr' })
      .option('wide', { type: 'boolean', default: false, describe: 'print every table column on the console (default: compact tables that fit 120 columns; report.md, results.csv and results.json always have them all)' })
      .option('cpu-layout', { type: 'string', default: 'auto', describe: `where the client and the local servers run: ${CPU_LAYOUTS.join(' | ')} (auto: the layout measured best for this core count; see README "Placement")` })
      .option('seed', { type: 'string', describe: 'seed of the round shuffles (0 to 4294967295); a run records its seed, so --seed repeats its target orders' })
      .option('fail-if-slower', { type: 'string', describe: 'in-run gate: exit 1 if a target is slower than --baseline by more than this (e.g. 5%), paired per round' })
      .option('fail-if-inconclusive', { type: 'boolean', default: false, describe: 'in-run gate: also exit 1 when a row is inconclusive (~), i.e. this run could not tell; recommended in CI' })
      .option('alpha', { type: 'number', default: 0.01, describe: 'significance level of the gate' })
      .option('max-lost-writes', { type: 'string', describe: 'fault-run gate: exit 1 if a target lost more acknowledged writes than this (e.g. 0)' })
      .option('max-window', { type: 'string', describe: 'fault-run gate: exit 1 if a target\'s failure window was longer than this many seconds (or never closed)' })
      .option('export', { type: 'string', array: true, describe: 'also write gab (github-action-benchmark) or bmf (Bencher) JSON: --export gab[=FILE]' })
      .option('shard', { type: 'string', describe: 'this process is shard i of N running the throughput scenarios together (RATE and KEYSPACE are split; start them with one START_AT, then `cachebench merge`): --shard 0/3' })
      .option('require-rate', { type: 'boolean', default: false, describe: 'throughput runs: exit 1 when a target did not achieve 99% of RATE' })
      .option('allow-commands', { type: 'boolean', default: false, describe: 'run a FAULT_COMMAND that comes from a scenario file (a scenario file is code: read it first); the env var CACHEBENCH_ALLOW_COMMANDS=1 does the same' }),
  )
    .example('$0 run scenarios/seed-read-heavy.yaml --local', 'the seed experiment against local Redis Cluster, twemproxy and Redis')
    .example('REDIS_SERVERS=10.0.0.1:6379 $0 run --read-ratio 10 --payload-bytes 1000', 'one remote target, scenario keys as flags')
    .example('$0 run -- --envVars REDIS_SERVERS:10.0.0.1:6379 READ_RATIO:100', "BenchmarkDotNet's --envVars, verbatim after --")
    .example('$0 run scenarios/throughput.yaml --local REDIS_CLUSTER --rate 20000 --require-rate', 'open-loop load at 20,000 ops/s')
    .epilog(RUN_EPILOG);
}

async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  try {
    process.cwd();
  } catch (error: unknown) {
    throw new ConfigError('the working directory no longer exists (ENOENT). Fix: cd to an existing folder and run cachebench again', { cause: error });
  }
  await yargs(hideBin([...argv]))
    .scriptName('cachebench')
    .parserConfiguration({ 'populate--': true, 'camel-case-expansion': false, 'parse-numbers': false })
    .command(
      'run [scenarios..]',
      'benchmark every <NAME>_SERVERS target (or local topologies) with the given scenario files',
      runOptions,
      async (args) => {
        const local = args.local as (string | boolean)[] | undefined;
        // yargs reads --no-local as [false]
        const normalized = local === undefined ? undefined : local.includes(false) ? false : local.map(String);
        exitCode = await (await import('./run.js')).runCommand({ ...(args as unknown as RunArgs), local: normalized });
      },
    )
    .command('merge <files..>', 'merge the throughput results of several processes or machines (--shard runs) into one report: ops summed, histograms merged, seconds aligned by wall clock, one row per input plus the total',
      (y) => y
        .positional('files', { type: 'string', array: true, demandOption: true, describe: 'results.json files of throughput runs' })
        .option('out', { type: 'string', describe: 'folder for the merged report.md, report.html, charts, results.csv, results.json (default: results/merged-<runId>)' })
        .option('baseline', { type: 'string', describe: 'target that Percent is relative to (default: the highest ops/s)' })
        .option('wide', { type: 'boolean', default: false, describe: 'print every table column on the console' }),
      async (args) => {
        exitCode = await (await import('./merge.js')).mergeCommand({ files: (args.files as string[] | undefined) ?? [], wide: args.wide === true, ...(args.out !== undefined ? { out: args.out } : {}), ...(args.baseline !== undefined ? { baseline: args.baseline } : {}) });
      })
    .command('report <files..>', 'render report.md, report.html, the charts and results.csv again from saved results.json files (a run\'s or a merge\'s), without running anything',
      (y) => y
        .positional('files', { type: 'string', array: true, demandOption: true, describe: 'results.json files' })
        .option('out', { type: 'string', describe: 'write into <out>/<runId>/ (default: next to each results.json)' })
        .option('wide', { type: 'boolean', default: false, describe: 'print every table column on the console' }),
      async (args) => {
        exitCode = await (await import('./report.js')).reportCommand({ files: (args.files as string[] | undefined) ?? [], wide: args.wide === true, ...(args.out !== undefined ? { out: args.out } : {}) });
      })
    .command('up [topologies..]', `start local topologies that stay up (default all: ${TOPOLOGIES.join(' ')}) and print the env lines to export`,
      (y) => y.positional('topologies', { type: 'string', array: true })
        .option('cluster-node-timeout', { type: 'number', default: 5000, describe: 'cluster-node-timeout (ms) of the local REDIS_CLUSTER' }),
      async (args) => {
        exitCode = await (await import('./local.js')).upCommand((args.topologies as string[] | undefined) ?? [], args['cluster-node-timeout']);
      })
    .command('compare <baseline> <current>', 'compare two results.json files: verdict per scenario and target, exit 1 on Slower or failures',
      (y) => y
        .positional('baseline', { type: 'string', demandOption: true, describe: 'results.json of the reference run' })
        .positional('current', { type: 'string', demandOption: true, describe: 'results.json of the run to judge' })
        .option('threshold', { type: 'string', default: '5%', describe: 'smallest slowdown that counts (5% or 0.05)' })
        .option('alpha', { type: 'number', default: 0.01, describe: 'significance level of each one-sided test' })
        .option('fail-if-inconclusive', { type: 'boolean', default: false, describe: 'also exit 1 when a row is inconclusive (~): the runs could not tell' })
        .option('export', { type: 'string', array: true, describe: 'write gab or bmf JSON of the current run: --export gab[=FILE]' }),
      async (args) => {
        exitCode = (await import('./gate.js')).compareCommand(args as unknown as CompareArgs);
      })
    .command('trace-gen <file>', 'write a synthetic cache trace in TRACE\'s format (zipf keys, the memcached operations, lognormal value sizes) to a new file',
      traceGenOptions, (args) => {
        exitCode = traceGenCommand(args);
      })
    .command('down', 'stop the local topologies started by up (by their recorded PIDs)', (y) => y, async () => {
      exitCode = await (await import('./local.js')).downCommand();
    })
    .command('status', 'say which local topologies started by up are alive', (y) => y, async () => {
      exitCode = (await import('./local.js')).statusCommand();
    })
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
    if (error instanceof ConfigError || error instanceof LocalSetupError) fail(error.message, EXIT.usage);
    // A TargetUnreachableError names its own fix (credentials, TLS CA, address, ...).
    if (error instanceof TargetUnreachableError) fail(error.message, EXIT.unreachable);
    fail(error instanceof Error ? (error.stack ?? error.message) : String(error), EXIT.failed);
  },
);
