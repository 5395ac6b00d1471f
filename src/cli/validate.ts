import { randomBytes } from 'node:crypto';
import { accessSync, constants, rmdirSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { ConfigError, describeSource } from '../config/errors.js';
import { KEY_SPECS, PARTITION_FAULTS, flagName } from '../config/keys.js';
import { resolveConfig, type RunPlan } from '../config/resolve.js';
import type { FaultLimits } from '../compare/faults.js';
import type { GateOptions } from '../compare/gate.js';
import { requireBinary } from '../local/binaries.js';
import { namespacesProblem } from '../local/netns.js';
import { CPU_LAYOUTS, planPlacement, type CpuLayout, type Placement } from '../local/placement.js';
import { LOCAL_TARGETS, TOPOLOGIES, parseLocalTargets, type TopologyName } from '../local/catalog.js';
import { MAX_SEED, newSeed } from '../measure/random.js';
import { absolutePath, checkWritable, explainPath, makeRunDir, prepareExports, type ExportTarget } from './files.js';
import { checkInRunGate, parseAlpha, parseThreshold } from './gate.js';

/** `cachebench run` arguments as yargs hands them over. */
export interface RunArgs {
  scenarios?: string[];
  envVars?: string[];
  targets?: string;
  baseline?: string;
  local?: string[] | false;
  'cluster-node-timeout': number;
  'fail-if-slower'?: string;
  'fail-if-inconclusive'?: boolean;
  alpha: number;
  'max-lost-writes'?: string;
  'max-window'?: string;
  export?: string[];
  out: string;
  quiet: boolean;
  wide?: boolean;
  seed?: string;
  'cpu-layout'?: string;
  network?: string;
  shard?: string;
  'require-rate'?: boolean;
  'allow-commands'?: boolean;
  '--'?: string[];
  [key: string]: unknown;
}

/** Where a run's files go; the folder exists (created during validation) before any server starts. */
export interface RunOutputs {
  readonly runId: string;
  /** `<out>/<runId>`, absolute. */
  readonly dir: string;
  /** `dir` as printed: relative to the working directory when inside it (worked out now: the cwd may vanish mid-run). */
  readonly shownDir: string;
  readonly exports: readonly ExportTarget[];
}

/** Everything `run` needs, checked: the only input the orchestration reads. */
export interface ValidatedRun {
  /** Targets of local topologies have `pendingServers` until they are started. */
  readonly plan: RunPlan;
  /** Local topologies to start (explicit --local, or all of them when no target is configured). */
  readonly topologies: readonly TopologyName[];
  /** True when the topologies were chosen because nothing was configured (said on stderr). */
  readonly defaultLocal: boolean;
  readonly nodeTimeoutMs: number;
  /** Where the local Redis servers listen (--network): namespaces for partition faults. */
  readonly network: 'loopback' | 'namespaces';
  readonly gate?: GateOptions & { readonly baseline: string };
  /** The fault-run gate (--max-lost-writes, --max-window); empty when neither was given. */
  readonly faultLimits: FaultLimits;
  readonly outputs: RunOutputs;
  readonly quiet: boolean;
  /** `--wide`: every table column on the console. */
  readonly wide: boolean;
  /** Seed of the round shuffles: `--seed`, or a new one (recorded in the results). */
  readonly seed: number;
  /** Where the client and the local servers run; applied only when local topologies are started. */
  readonly placement: Placement;
  /** `--shard i/N`: this process is shard i of N of a distributed throughput run. */
  readonly shard?: { readonly index: number; readonly of: number };
  /** `--require-rate`: a throughput run that did not achieve its RATE fails (exit 1). */
  readonly requireRate: boolean;
}

/** `--shard i/N` (0 ≤ i < N ≤ 1024); only with throughput and capacity scenarios (capacity ones with START_AT). */
export function parseShard(raw: string | undefined, plan: RunPlan): { index: number; of: number } | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const of = Number(m?.[2]);
  if (m === null || of < 1 || of > 1024 || index >= of) {
    throw new ConfigError(`--shard ${JSON.stringify(text)} is not i/N with 0 <= i < N <= 1024. Fix: give this process's shard number and the number of shards, e.g. --shard 0/3 (in a Kubernetes Indexed Job: --shard "$JOB_COMPLETION_INDEX/$SHARDS")`);
  }
  const latency = plan.scenarios.filter((sc) => sc.controls.load.mode === 'latency');
  if (latency.length > 0) {
    throw new ConfigError(`--shard splits throughput and capacity runs over several processes, and scenario ${latency.map((sc) => `${sc.name} (MODE=${sc.controls.load.mode})`).join(', ')} is not one. Fix: set MODE=throughput in it, or drop --shard`);
  }
  const traced = plan.scenarios.filter((sc) => sc.controls.load.trace !== null);
  if (traced.length > 0) {
    throw new ConfigError(`--shard ${text} with a TRACE (scenario ${traced.map((sc) => sc.name).join(', ')}): a trace is replayed whole by one process in this version (each key's ops stay in order on one client). ` +
      'Fix: drop --shard, and raise WORKERS for more load-generating processes on this machine');
  }
  // A capacity search chooses its next rate from the last step's verdict, which one shard cannot see: shards follow a
  // planned staircase instead, and only a shared START_AT lines their steps up.
  const unplanned = plan.scenarios.filter((sc) => sc.controls.load.mode === 'capacity' && sc.controls.load.startAtMs === null);
  if (unplanned.length > 0) {
    const modeFrom = unplanned.map((sc) => {
      const s = sc.settings.get('MODE');
      return `${sc.name}: MODE from ${s === undefined ? 'its scenario' : describeSource(s.source)}`;
    }).join('; ');
    throw new ConfigError(`--shard ${text} with MODE=capacity (scenario ${modeFrom}) needs START_AT: every shard must offer its share of each step's rate at the same time. ` +
      'Fix: give every shard the same START_AT (e.g. START_AT=$(date -u -d "+1 min" +%Y-%m-%dT%H:%M:%SZ)); the run then follows a planned staircase (README: Capacity across machines)');
  }
  return { index, of };
}

/**
 * `--cpu-layout`: one of CPU_LAYOUTS, planned within the CPUs this process may use. Only local
 * topologies are pinned: without them the layout is not applied (and never an error).
 */
export function parseLayout(raw: string | undefined, withLocal: boolean): Placement {
  const text = (raw ?? 'auto').trim().toLowerCase();
  if (!(CPU_LAYOUTS as readonly string[]).includes(text)) {
    throw new ConfigError(`--cpu-layout ${JSON.stringify(raw)} is not a layout. Fix: use one of ${CPU_LAYOUTS.join(', ')}`);
  }
  if (!withLocal) return planPlacement('none');
  try {
    const placement = planPlacement(text as CpuLayout);
    if (placement.layout !== 'none') requireBinary('taskset');
    return placement;
  } catch (error: unknown) {
    throw new ConfigError(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/** True for a loopback host (such a server shares this machine's CPUs with the pinned ones). */
const isLoopback = (host: string): boolean => /^127\./.test(host) || host === '::1' || host === 'localhost';

/** `--seed N`: a whole number from 0 to 4294967295; undefined gives a fresh seed. */
export function parseSeed(raw: string | undefined): number {
  if (raw === undefined) return newSeed();
  const text = String(raw).trim();
  if (!/^\d+$/.test(text) || Number(text) > MAX_SEED) {
    throw new ConfigError(`--seed ${JSON.stringify(text)} is not a whole number from 0 to ${MAX_SEED}. Fix: give the seed printed in an earlier report, e.g. --seed 12345`);
  }
  return Number(text);
}

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

/** Validates --cluster-node-timeout. */
export function checkNodeTimeout(ms: number): number {
  if (!Number.isInteger(ms) || ms < 100 || ms > 600_000) {
    throw new ConfigError(`--cluster-node-timeout ${String(ms)} is not a whole number of ms from 100 to 600000. Fix: e.g. --cluster-node-timeout 5000`);
  }
  return ms;
}

/** Validates `--local` names; an empty list means all topologies. */
export function parseTopologies(names: readonly string[], flag: string): TopologyName[] {
  if (names.length === 0) return [...TOPOLOGIES];
  const out: TopologyName[] = [];
  for (const raw of names.flatMap((n) => n.split(','))) {
    const name = raw.trim().toUpperCase();
    if (!(TOPOLOGIES as readonly string[]).includes(name)) {
      throw new ConfigError(`${flag} ${JSON.stringify(raw)} is not a local topology. Fix: use ${TOPOLOGIES.join(', ')}`);
    }
    if (!out.includes(name as TopologyName)) out.push(name as TopologyName);
  }
  return out;
}

/** True when the environment says this is a CI job (CI=true, as GitHub Actions, GitLab and others set). */
export function isCi(env: Readonly<Record<string, string | undefined>>): boolean {
  return ['true', '1', 'yes'].includes((env.CI ?? '').toLowerCase());
}

/** Creates `<out>/<runId>` and checks that it, every export file and the CI step summary can be written. */
function prepareOutputs(out: string, exportItems: readonly string[], runId: string, stepSummary: string | undefined): RunOutputs {
  const root = absolutePath(out, '--out');
  const dir = join(root, runId);
  try {
    makeRunDir(root, runId);
    accessSync(dir, constants.W_OK);
  } catch (error: unknown) {
    throw new ConfigError(`--out ${out}: cannot create the results folder ${dir} (${explainPath(error)}). Fix: give --out a folder you can write to`, { cause: error });
  }
  try {
    const exports = prepareExports(exportItems, dir);
    if (stepSummary !== undefined && stepSummary !== '') checkWritable(stepSummary, 'GITHUB_STEP_SUMMARY (from the process environment)', 'append');
    const rel = relative(process.cwd(), dir);
    const shownDir = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : dir;
    return { runId, dir, shownDir, exports };
  } catch (error: unknown) {
    rmdirSync(dir);
    throw error;
  }
}

/** The env var that, set to 1 (or true, yes), allows a FAULT_COMMAND from a scenario file, as --allow-commands does. */
export const ALLOW_COMMANDS_ENV = 'CACHEBENCH_ALLOW_COMMANDS';

/**
 * A FAULT_COMMAND from a scenario file runs a shell command the file chose (a file may come from a pull request or a
 * download): only when the user allows it with --allow-commands or CACHEBENCH_ALLOW_COMMANDS=1. From the environment,
 * --envVars or a flag the user typed it, so it runs.
 */
function checkCommandsAllowed(plan: RunPlan, args: RunArgs, env: Readonly<Record<string, string | undefined>>): void {
  if (args['allow-commands'] === true || ['1', 'true', 'yes'].includes((env[ALLOW_COMMANDS_ENV] ?? '').toLowerCase())) return;
  for (const scenario of plan.scenarios) {
    const setting = scenario.settings.get('FAULT_COMMAND');
    if (setting === undefined || setting.source.kind !== 'scenario' || String(setting.value).trim() === '') continue;
    const command = String(setting.value);
    const shown = command.length > 200 ? `${command.slice(0, 200)}…` : command;
    throw new ConfigError(`FAULT_COMMAND ${JSON.stringify(shown)} (from scenario file ${setting.source.file}) is a shell command, and a scenario file's commands run only when you allow them: ` +
      `a scenario file is code. Fix: read the file and, if you trust the command, run again with --allow-commands (or ${ALLOW_COMMANDS_ENV}=1); or give FAULT_COMMAND yourself as an env var, --envVars item or --fault-command`);
  }
}

/** Scenario keys given as flags, by key name. */
function scenarioFlags(args: RunArgs): Record<string, string | undefined> {
  const flags: Record<string, string | undefined> = {};
  for (const spec of KEY_SPECS) {
    const v = args[flagName(spec.name)];
    if (v !== undefined) flags[spec.name] = String(v);
  }
  return flags;
}

/** --max-lost-writes (a whole number ≥ 0) and --max-window (seconds ≥ 0); either needs a scenario with a FAULT. */
function parseFaultLimits(args: RunArgs, plan: RunPlan): FaultLimits {
  const limits: { maxLostWrites?: number; maxWindowMs?: number } = {};
  const lost = args['max-lost-writes'];
  if (lost !== undefined) {
    const text = String(lost).trim();
    if (!/^\d+$/.test(text)) throw new ConfigError(`--max-lost-writes ${JSON.stringify(text)} is not a whole number of writes. Fix: give how many acknowledged writes a target may lose, e.g. --max-lost-writes 0`);
    limits.maxLostWrites = Number(text);
  }
  const window = args['max-window'];
  if (window !== undefined) {
    const text = String(window).trim();
    if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text)) throw new ConfigError(`--max-window ${JSON.stringify(text)} is not a number of seconds. Fix: give the longest failure window allowed in seconds, e.g. --max-window 8`);
    limits.maxWindowMs = Number(text) * 1000;
  }
  if (Object.keys(limits).length > 0 && !plan.scenarios.some((s) => s.controls.fault.kind !== 'none')) {
    const flag = lost !== undefined ? '--max-lost-writes' : '--max-window';
    throw new ConfigError(`${flag} judges fault runs, and no scenario of this run sets FAULT. Fix: set FAULT (e.g. --fault kill-primary, or run scenarios/failover-kill-primary.yaml), or drop ${flag}`);
  }
  return limits;
}

/**
 * --network: loopback, namespaces, or auto (namespaces when a scenario has a partition FAULT). Namespaces need root,
 * `ip` and `nsenter`: without them, or with --network loopback, a partition FAULT is refused (exit 2, nothing started).
 */
export function parseNetwork(value: string | undefined, plan: RunPlan, local: boolean): 'loopback' | 'namespaces' {
  const text = value ?? 'auto';
  if (text !== 'auto' && text !== 'loopback' && text !== 'namespaces') throw new ConfigError(`--network ${JSON.stringify(text)} is not one of auto, loopback, namespaces. Fix: e.g. --network namespaces`);
  const partition = plan.scenarios.find((s) => PARTITION_FAULTS.includes(s.controls.fault.kind));
  const network = text === 'auto' ? (partition !== undefined && local ? 'namespaces' : 'loopback') : text;
  if (partition !== undefined && network === 'loopback') {
    throw new ConfigError(`FAULT=${partition.controls.fault.kind} (scenario ${partition.name}) cuts network links between servers in namespaces of their own, and --network loopback puts them all on 127.0.0.1. Fix: drop --network loopback (auto gives them namespaces)`);
  }
  if (network === 'namespaces') {
    if (!local) throw new ConfigError('--network namespaces places the local servers cachebench starts, and this run starts none. Fix: add --local REDIS_CLUSTER (or the topologies to place), or drop --network');
    const problem = namespacesProblem();
    if (problem !== undefined) {
      throw new ConfigError(`${partition !== undefined ? `FAULT=${partition.controls.fault.kind} (scenario ${partition.name}) needs` : '--network namespaces needs'} network namespaces, and ${problem}. ` +
        `Fix: run as root on Linux with iproute2 and util-linux (npm run setup installs them)${partition !== undefined ? ', or pick a fault that needs none (kill-primary, pause-primary)' : ', or drop --network namespaces'}`);
    }
  }
  return network;
}

/**
 * The one validation step of `run`: every flag, scenario file, environment variable, target,
 * gate option and output path is checked here, before any server is started or any byte is
 * sent. A ConfigError from here means exit 2 with nothing sent anywhere. Creates only the
 * results folder (so an unwritable --out fails now, not after the run).
 */
export function validateRun(args: RunArgs, env: Readonly<Record<string, string | undefined>>, now = new Date()): ValidatedRun {
  const noLocal = args.local === false;
  const explicit = Array.isArray(args.local) ? parseLocalTargets(args.local, '--local') : [];
  const nodeTimeoutMs = checkNodeTimeout(args['cluster-node-timeout']);
  let gate: ValidatedRun['gate'];
  if (args['fail-if-slower'] !== undefined) {
    const threshold = parseThreshold(args['fail-if-slower'], '--fail-if-slower');
    if (args.baseline === undefined) throw new ConfigError('--fail-if-slower needs --baseline NAME: the target the others must not be slower than. Fix: add e.g. --baseline REDIS');
    gate = { threshold, alpha: parseAlpha(args.alpha), baseline: args.baseline, failIfInconclusive: args['fail-if-inconclusive'] === true };
  } else if (args['fail-if-inconclusive'] === true) {
    throw new ConfigError('--fail-if-inconclusive sharpens the in-run gate, and no gate was asked for. Fix: add --baseline NAME --fail-if-slower 5% (or drop --fail-if-inconclusive)');
  }
  const seed = parseSeed(args.seed);
  const mayDefault = !noLocal && !isCi(env) && !Array.isArray(args.local);
  let plan = resolveConfig({
    scenarioFiles: args.scenarios ?? [],
    env,
    envVars: [...(args.envVars ?? []).map(String), ...parseBdnArgs((args['--'] ?? []).map(String))],
    flags: scenarioFlags(args),
    localTargets: explicit,
    ...(mayDefault ? { defaultLocalTargets: LOCAL_TARGETS } : {}),
    ...(args.targets !== undefined ? { targets: args.targets } : {}),
    strictEnv: isCi(env),
    ...(args.baseline !== undefined ? { baseline: args.baseline } : {}),
  });
  checkCommandsAllowed(plan, args, env);
  if (plan.targets.length === 0) {
    const why = noLocal ? '--no-local is set' : isCi(env) ? 'CI=true is set (a CI job must measure the servers it names, not local ones)' : 'nothing is configured';
    const seen = plan.warnings.join('; ');
    const hints = plan.warnings.length > 0 ? ` Seen: ${seen}${/[.?!]$/.test(seen) ? '' : '.'}` : '';
    throw new ConfigError(`no targets configured and ${why}.${hints} Fix: set <NAME>_SERVERS=host:port (env var or --envVars REDIS_SERVERS:127.0.0.1:6379), or use --local`);
  }
  // A gate that could never say Slower (too few rounds for α over its rows) is refused now; the
  // plan's warnings (e.g. MIN_ITERATIONS lowered to MAX_ITERATIONS) may be why, so they are said too.
  if (gate !== undefined) {
    try {
      checkInRunGate(plan, gate);
    } catch (error: unknown) {
      if (!(error instanceof ConfigError) || plan.warnings.length === 0) throw error;
      throw new ConfigError(`${error.message} (note: ${plan.warnings.join('; ')})`, { cause: error });
    }
  }
  const faultLimits = parseFaultLimits(args, plan);
  const shard = parseShard(args.shard, plan);
  if (shard !== undefined && plan.scenarios.some((sc) => sc.controls.load.startAtMs === null)) {
    plan = { ...plan, warnings: [...plan.warnings, `--shard ${shard.index}/${shard.of} without START_AT: this process starts as soon as it is ready, so the shards' seconds will not line up when merged. Fix: give every shard the same START_AT (e.g. START_AT=$(date -u -d "+1 min" +%Y-%m-%dT%H:%M:%SZ))`] };
  }
  const requireRate = args['require-rate'] === true;
  if (requireRate && !plan.scenarios.some((sc) => sc.controls.load.mode === 'throughput' && sc.controls.load.rate > 0)) {
    throw new ConfigError('--require-rate judges open-loop throughput runs, and no scenario of this run sets MODE=throughput with a RATE. Fix: set RATE (e.g. --rate 10000 with MODE=throughput), or drop --require-rate');
  }
  if (gate !== undefined && plan.scenarios.some((sc) => sc.controls.load.mode !== 'latency')) {
    throw new ConfigError('--fail-if-slower compares the paired rounds of latency runs, and a throughput or capacity scenario has no rounds. Fix: run the throughput scenario without --fail-if-slower (its table gives Percent with a 99.9% interval), or --require-rate for an open-loop rate');
  }
  // Several targets (client set-ups) may share one topology: each is started once.
  const topologies = [...new Set(plan.targets.filter((t) => t.pendingServers === true).map((t) => (t.localTopology ?? t.name) as TopologyName))];
  const placement = parseLayout(args['cpu-layout'], topologies.length > 0);
  const network = parseNetwork(args.network, plan, topologies.length > 0);
  if (placement.layout !== 'none') {
    const unpinned = plan.targets.filter((t) => t.pendingServers !== true && t.servers.some((server) => isLoopback(server.host)));
    if (unpinned.length > 0) {
      plan = { ...plan, warnings: [...plan.warnings, `${unpinned.map((t) => t.name).join(', ')} ${unpinned.length === 1 ? 'runs' : 'run'} on this machine but not under --cpu-layout ${placement.layout} (only local topologies cachebench starts are pinned): the targets are measured under different placements. Fix: use --cpu-layout none, or --local instead of your own local servers`] };
    }
  }
  // A shard's run id (and so its key prefix) names the shard: shards started in the same second never share keys.
  const runId = shard === undefined ? newRunId(now) : `${newRunId(now)}-s${shard.index}of${shard.of}`;
  const outputs = prepareOutputs(args.out, args.export ?? [], runId, env.GITHUB_STEP_SUMMARY);
  return { plan, topologies, defaultLocal: explicit.length === 0 && topologies.length > 0, nodeTimeoutMs, network, ...(gate !== undefined ? { gate } : {}),
    faultLimits, outputs, quiet: args.quiet, wide: args.wide === true, seed, placement, ...(shard !== undefined ? { shard } : {}), requireRate };
}
