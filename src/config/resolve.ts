import { ConfigError, type Source } from './errors.js';
import { registerSecret } from './redact.js';
import { checkMemory, machineMemory, type MachineMemory } from './memory.js';
import { MAX_RUN_RESULTS } from './limits.js';
import type { LocalTargetSpec, RunPlan, ScenarioPlan, TargetConfig } from './plan.js';
import { ENV_SOURCE, ENVVARS_SOURCE, envLookAlikes, parseEnvVarsItems, readScenarioFile, registerSecrets, splitLayer, targetNamesOf, type Layer } from './layers.js';
import { buildScenario } from './scenario.js';
import { checkFaultTargets, checkItemSizes, checkWorkloadTargets, runLevelTimeouts } from './checks.js';
import { buildTarget, pendingLocalTarget } from './target.js';
import { memcacheMisses, proxyMisfit } from './workload.js';

// The plan's types live in plan.ts; they are also reachable here, where most code has imported them from.
export type { CapacityPlan, CaseParams, FaultPlan, KeyDistribution, LoadPlan, LocalTargetSpec, Objective, RunControls, RunPlan, ScenarioPlan, Setting, TargetConfig } from './plan.js';
export { NO_FAULT, NO_LOAD } from './plan.js';

export interface ConfigInput {
  /** Paths of scenario files; none means one scenario of built-in defaults. */
  readonly scenarioFiles: readonly string[];
  /**
   * Local topologies to be started after validation. Each becomes a target with no servers yet
   * (`pendingServers`); `bindLocalServers` fills them in once the servers run.
   */
  readonly localTargets?: readonly LocalTargetSpec[];
  /** Local topologies to use instead when no `<NAME>_SERVERS` is configured anywhere (the default run). */
  readonly defaultLocalTargets?: readonly LocalTargetSpec[];
  /** The process environment. Only known keys and target keys are read. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Raw `--envVars` items, `KEY:VALUE`, split at the first colon. */
  readonly envVars: readonly string[];
  /** Scenario keys given as flags, by key name (READ_RATIO...), raw strings. */
  readonly flags: Readonly<Record<string, string | undefined>>;
  /** `--targets A,B`: selects and orders targets. */
  readonly targets?: string;
  /** `--baseline NAME`. */
  readonly baseline?: string;
  /**
   * CI=true: an environment variable that looks like a misspelt cachebench key (`READ_RATO`) is an error,
   * not a warning: a typo there silently changes what a CI job measures.
   */
  readonly strictEnv?: boolean;
  /** The machine the memory estimate is checked against; default: this one (machineMemory()). */
  readonly machine?: MachineMemory;
}

/** The local topologies the run starts: --local's, or the default ones when no `<NAME>_SERVERS` is configured anywhere. */
function chooseLocalTargets(input: ConfigInput): readonly LocalTargetSpec[] {
  const given = input.localTargets ?? [];
  if (given.length > 0 || input.defaultLocalTargets === undefined) return given;
  const envVarsKeys = input.envVars.map((item) => item.slice(0, Math.max(0, item.indexOf(':'))));
  const configured = [...Object.keys(input.env).filter((k) => input.env[k] !== undefined), ...envVarsKeys].some((k) => /^[A-Z][A-Z0-9_]*_(SERVERS|SENTINELS)$/.test(k));
  return configured ? given : input.defaultLocalTargets;
}

/** The input layers, each entry with its source; passwords are registered before anything can fail and echo them. */
function inputLayers(input: ConfigInput, localTargets: readonly LocalTargetSpec[]): { env: Layer; local: Layer; envVars: Layer; flags: Layer } {
  const env: Layer = new Map();
  for (const [key, value] of Object.entries(input.env)) {
    if (value !== undefined) env.set(key, { raw: value, source: ENV_SOURCE });
  }
  const localSource: Source = { kind: 'local' };
  const local: Layer = new Map();
  for (const t of localTargets) {
    local.set(`${t.name}_SERVERS`, { raw: '', source: localSource });
    local.set(`${t.name}_MODE`, { raw: t.mode, source: localSource });
    for (const [option, raw] of Object.entries(t.options ?? {})) local.set(`${t.name}_${option}`, { raw, source: localSource });
  }
  registerSecrets([env]);
  for (const [index, item] of input.envVars.entries()) {
    const colon = item.indexOf(':');
    if (colon > 0) registerSecrets([new Map([[item.slice(0, colon), { raw: item.slice(colon + 1), source: ENVVARS_SOURCE }]])]);
    if (index > 0 && /PASSWORD:$/i.test(input.envVars[index - 1] ?? '')) registerSecret(item);
  }
  const envVars = parseEnvVarsItems(input.envVars);
  const flags: Layer = new Map();
  for (const [key, value] of Object.entries(input.flags)) {
    if (value !== undefined) flags.set(key, { raw: value, source: { kind: 'flag', flag: key.toLowerCase().replace(/_/g, '-') } });
  }
  return { env, local, envVars, flags };
}

type Split = ReturnType<typeof splitLayer>;

/**
 * Splits each layer into target options and scenario keys, by the target names configured; a target both configured
 * and local is refused, and environment look-alikes of cachebench keys are warnings (errors for scenario keys under CI).
 */
function splitByTarget(layers: ReturnType<typeof inputLayers>, strictEnv: boolean, warnings: string[]): { local: Split; env: Split; envVars: Split } {
  const userNames = new Set([...targetNamesOf(layers.env, false), ...targetNamesOf(layers.envVars, true)]);
  for (const name of targetNamesOf(layers.local, true)) {
    if (userNames.has(name)) {
      throw new ConfigError(`target ${name} is configured by ${name}_SERVERS and is also a local topology to start. Fix: unset ${name}_SERVERS or leave ${name} out of --local`);
    }
  }
  const names = new Set([...userNames, ...targetNamesOf(layers.local, true)]);
  const split = { local: splitLayer(layers.local, names, true), env: splitLayer(layers.env, names, false), envVars: splitLayer(layers.envVars, names, true) };
  const lookAlikes = envLookAlikes(layers.env, names);
  const typos = lookAlikes.filter((l) => l.workload);
  if (strictEnv && typos.length > 0) {
    throw new ConfigError(`${typos.map((l) => l.message).join('; ')}. Under CI=true a look-alike of a scenario key is an error, since a typo there changes what the job measures. ` +
      'Fix: correct the name, or unset the variable for this step');
  }
  warnings.push(...lookAlikes.map((l) => l.message));
  return split;
}

/** Every configured target, by name, from its options merged over the layers (later layers win). */
function buildTargets(split: { local: Split; env: Split; envVars: Split }, localTargets: readonly LocalTargetSpec[]): TargetConfig[] {
  const targetOptions = new Map<string, Map<string, { raw: string; source: Source }>>();
  for (const layer of [split.local, split.env, split.envVars]) {
    for (const [name, options] of layer.target) {
      const merged = targetOptions.get(name) ?? new Map<string, { raw: string; source: Source }>();
      for (const [option, entry] of options) merged.set(option, entry);
      targetOptions.set(name, merged);
    }
  }
  const local = new Map(localTargets.map((t) => [t.name, t.topology ?? t.name]));
  return [...targetOptions]
    .map(([name, options]) => {
      const topology = local.get(name);
      return topology !== undefined ? pendingLocalTarget(name, options, topology) : buildTarget(name, options);
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * A run whose scenarios are all throughput or capacity runs measures with cachebench's own RESP client where a target
 * names no client (`<NAME>_CLIENT`) and asks for nothing that client lacks (a client-side cache, replica reads, Sentinel): of the
 * clients, its load generator costs the least CPU per op (npm run bench:throughput), so the ops/s and the knee are the
 * servers' more than a driver's. Latency and fault runs (and runs that mix kinds) keep ioredis, a client applications use.
 */
function loadRunClients(targets: TargetConfig[], scenarios: readonly ScenarioPlan[]): TargetConfig[] {
  if (scenarios.length === 0 || scenarios.some((s) => s.controls.load.mode === 'latency')) return targets;
  return targets.map((t) => (t.protocol === 'resp' && t.sources.CLIENT === undefined && t.cache === 'off' && t.readFrom === 'primary' && t.mode !== 'sentinel'
    ? { ...t, client: 'resp' } : t));
}

/** `--targets A,B` selects and orders targets; `--baseline` must name one of them. */
function selectTargets(all: TargetConfig[], input: ConfigInput): TargetConfig[] {
  let targets = all;
  if (input.targets !== undefined) {
    const wanted = input.targets.split(',').map((t) => t.trim()).filter((t) => t !== '');
    if (wanted.length === 0) throw new ConfigError('--targets is empty. Fix: name targets, e.g. --targets REDIS,SOSS');
    const seen = new Set<string>();
    const selected: TargetConfig[] = [];
    for (const name of wanted) {
      if (seen.has(name)) throw new ConfigError(`--targets names ${name} twice (duplicate target name). Fix: name each target once`);
      seen.add(name);
      const target = all.find((t) => t.name === name);
      if (target === undefined) {
        throw new ConfigError(`--targets names ${name}, which is not configured (configured: ${all.map((t) => t.name).join(', ') || 'none'}). Fix: set ${name}_SERVERS or drop it from --targets`);
      }
      selected.push(target);
    }
    targets = selected;
  }
  if (input.baseline !== undefined && !targets.some((t) => t.name === input.baseline)) {
    throw new ConfigError(`--baseline ${input.baseline} is not one of the targets (${targets.map((t) => t.name).join(', ') || 'none'}). Fix: name one of them`);
  }
  return targets;
}

/** One scenario per file (or one of built-in defaults), each from its file under the environment, --envVars and flags. */
function buildScenarios(files: readonly string[], layers: { env: Split; envVars: Split; flags: Layer }, targets: number, warnings: string[]): ScenarioPlan[] {
  const scenarioNames = new Set<string>();
  return (files.length > 0 ? files : [undefined]).map((file) => {
    const fileLayer = file === undefined ? new Map() : readScenarioFile(file);
    const plan = buildScenario(file, [fileLayer, layers.env.scenario, layers.envVars.scenario, layers.flags], warnings, targets);
    if (scenarioNames.has(plan.name)) throw new ConfigError(`scenario ${plan.name} is given twice. Fix: give each scenario file once`);
    scenarioNames.add(plan.name);
    return plan;
  });
}

/** Checks across scenarios and targets: faults the targets can take, the run's size, item sizes, memory, one run kind per run. */
function checkRun(scenarios: readonly ScenarioPlan[], targets: readonly TargetConfig[], machine: MachineMemory): void {
  for (const scenario of scenarios) {
    checkFaultTargets(scenario, targets);
    checkWorkloadTargets(scenario, targets);
  }
  const combinations = scenarios.reduce((n, s) => n + s.cases.length, 0);
  if (combinations * targets.length > MAX_RUN_RESULTS) {
    throw new ConfigError(`the run makes ${combinations} parameter combinations (${scenarios.length} scenario${scenarios.length === 1 ? '' : 's'}) × ${targets.length} targets = ` +
      `${combinations * targets.length} results, and a run may make at most ${MAX_RUN_RESULTS} (report, merge and compare read no more). Fix: split it over several runs (fewer scenario files, shorter sweep lists, or --targets)`);
  }
  checkItemSizes(scenarios, targets);
  checkMemory(scenarios, targets.length, machine);
  const faultRuns = scenarios.filter((s) => s.controls.fault.kind !== 'none');
  if (faultRuns.length > 0 && faultRuns.length < scenarios.length) {
    const latency = scenarios.filter((s) => s.controls.fault.kind === 'none');
    throw new ConfigError(`scenario${faultRuns.length === 1 ? '' : 's'} ${faultRuns.map((s) => s.name).join(', ')} ${faultRuns.length === 1 ? 'is a fault run' : 'are fault runs'} and ${latency.map((s) => s.name).join(', ')} ${latency.length === 1 ? 'is' : 'are'} not: ` +
      'a fault run connects its clients with an application\'s retries and queues, which a latency run must not have (one connection per target serves the whole run). Fix: run fault scenarios and latency scenarios as separate runs');
  }
}

/**
 * The default local targets (no servers configured, no --local) less those a WORKLOAD or TRACE cannot run on: the
 * memcached ones (RESP commands) and the client set-ups its model cannot judge (a client cache, replica reads).
 * The default run must not fail on topologies the user did not ask for. Named ones stay (and are refused).
 */
function withoutDefaultMemcached(targets: TargetConfig[], scenarios: readonly ScenarioPlan[], defaulted: boolean, warnings: string[]): TargetConfig[] {
  if (!defaulted || !scenarios.some((s) => s.controls.load.workload !== null)) return targets;
  const what = scenarios.some((s) => s.controls.load.trace !== null) ? 'TRACE' : 'WORKLOAD';
  const local = targets.filter((t) => t.localTopology !== undefined);
  const memcached = scenarios.some((s) => s.controls.load.workload !== null && memcacheMisses(s.controls.load.workload).length > 0)
    ? local.filter((t) => t.protocol === 'memcache') : [];
  // Replica reads are judged (stale, with an age) in latency runs without a fault or trace.
  const replicasJudged = scenarios.every((s) => s.controls.load.mode === 'latency' && s.controls.fault.kind === 'none' && s.controls.load.trace === null);
  const setups = local.filter((t) => t.protocol !== 'memcache' && (t.cache !== 'off' || (t.readFrom === 'replica' && !replicasJudged)));
  const misfit = scenarios.flatMap((s) => (s.controls.load.workload === null ? [] : [proxyMisfit(s.controls.load.workload)])).find((e) => e !== undefined);
  const proxies = misfit === undefined ? [] : local.filter((t) => t.protocol !== 'memcache' && t.mode === 'proxy' && !setups.includes(t));
  const names = (list: readonly TargetConfig[]): string => `${list.map((t) => t.name).join(' and ')} ${list.length === 1 ? 'is' : 'are'}`;
  if (memcached.length > 0) warnings.push(`${what} sends commands memcached's protocol does not have: the local ${names(memcached)} left out of this run`);
  if (setups.length > 0) {
    warnings.push(`${what} sends its commands raw, past a client cache${replicasJudged ? '' : ', and judges replica reads in latency runs only'}: the local ${names(setups)} left out of this run`);
  }
  if (proxies.length > 0) warnings.push(`${what} entry "${misfit?.text ?? ''}" cannot go through a proxy (twemproxy forwards no MULTI/EXEC, and sends a script to its first key's server): the local ${names(proxies)} left out of this run`);
  return targets.filter((t) => !memcached.includes(t) && !setups.includes(t) && !proxies.includes(t));
}

/**
 * Resolves scenario files, environment, --envVars and flags into a validated plan.
 * Precedence, highest first: flags > --envVars > environment > scenario file > defaults.
 * Throws ConfigError on any bad input; never touches the network.
 */
export function resolveConfig(input: ConfigInput): RunPlan {
  const warnings: string[] = [];
  const localTargets = chooseLocalTargets(input);
  const layers = inputLayers(input, localTargets);
  const split = splitByTarget(layers, input.strictEnv === true, warnings);
  const selected = selectTargets(buildTargets(split, localTargets), input);
  const scenarios = buildScenarios(input.scenarioFiles, { env: split.env, envVars: split.envVars, flags: layers.flags }, selected.length, warnings);
  const targets = withoutDefaultMemcached(loadRunClients(selected, scenarios), scenarios, (input.localTargets ?? []).length === 0, warnings);
  checkRun(scenarios, targets, input.machine ?? machineMemory());
  return {
    scenarios, targets, connection: runLevelTimeouts(scenarios), warnings: [...new Set(warnings)],
    ...(input.baseline !== undefined ? { baseline: input.baseline } : {}),
  };
}
