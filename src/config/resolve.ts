import { ConfigError, type Source } from './errors.js';
import { registerSecret } from './redact.js';
import { checkMemory, machineMemory, type MachineMemory } from './memory.js';
import { MAX_RUN_RESULTS } from './limits.js';
import type { LocalTargetSpec, RunPlan, TargetConfig } from './plan.js';
import { ENV_SOURCE, ENVVARS_SOURCE, envLookAlikes, parseEnvVarsItems, readScenarioFile, registerSecrets, splitLayer, targetNamesOf, type Layer } from './layers.js';
import { buildScenario } from './scenario.js';
import { checkFaultTargets, checkItemSizes, runLevelTimeouts } from './checks.js';
import { buildTarget, pendingLocalTarget } from './target.js';

// The plan's types live in plan.ts; they are also reachable here, where most code has imported them from.
export type { CaseParams, FaultPlan, KeyDistribution, LoadPlan, LocalTargetSpec, RunControls, RunPlan, ScenarioPlan, Setting, TargetConfig } from './plan.js';
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

/**
 * Resolves scenario files, environment, --envVars and flags into a validated plan.
 * Precedence, highest first: flags > --envVars > environment > scenario file > defaults.
 * Throws ConfigError on any bad input; never touches the network.
 */
export function resolveConfig(input: ConfigInput): RunPlan {
  const envLayer: Layer = new Map();
  for (const [key, value] of Object.entries(input.env)) {
    if (value !== undefined) envLayer.set(key, { raw: value, source: ENV_SOURCE });
  }
  const localSource: Source = { kind: 'local' };
  const localLayer: Layer = new Map();
  let localTargets = input.localTargets ?? [];
  if (localTargets.length === 0 && input.defaultLocalTargets !== undefined) {
    const envVarsKeys = input.envVars.map((item) => item.slice(0, Math.max(0, item.indexOf(':'))));
    const configured = [...Object.keys(input.env).filter((k) => input.env[k] !== undefined), ...envVarsKeys].some((k) => /^[A-Z][A-Z0-9_]*_SERVERS$/.test(k));
    if (!configured) localTargets = input.defaultLocalTargets;
  }
  for (const t of localTargets) {
    localLayer.set(`${t.name}_SERVERS`, { raw: '', source: localSource });
    localLayer.set(`${t.name}_MODE`, { raw: t.mode, source: localSource });
    for (const [option, raw] of Object.entries(t.options ?? {})) localLayer.set(`${t.name}_${option}`, { raw, source: localSource });
  }
  const topologyOf = new Map(localTargets.map((t) => [t.name, t.topology ?? t.name]));
  // Passwords are registered before anything can fail and echo them.
  registerSecrets([envLayer]);
  for (const [index, item] of input.envVars.entries()) {
    const colon = item.indexOf(':');
    if (colon > 0) registerSecrets([new Map([[item.slice(0, colon), { raw: item.slice(colon + 1), source: ENVVARS_SOURCE }]])]);
    if (index > 0 && /PASSWORD:$/i.test(input.envVars[index - 1] ?? '')) registerSecret(item);
  }
  const envVarsLayer = parseEnvVarsItems(input.envVars);
  const flagLayer: Layer = new Map();
  for (const [key, value] of Object.entries(input.flags)) {
    if (value !== undefined) flagLayer.set(key, { raw: value, source: { kind: 'flag', flag: key.toLowerCase().replace(/_/g, '-') } });
  }
  const warnings: string[] = [];

  const userNames = new Set([...targetNamesOf(envLayer, false), ...targetNamesOf(envVarsLayer, true)]);
  for (const name of targetNamesOf(localLayer, true)) {
    if (userNames.has(name)) {
      throw new ConfigError(`target ${name} is configured by ${name}_SERVERS and is also a local topology to start. Fix: unset ${name}_SERVERS or leave ${name} out of --local`);
    }
  }
  const names = new Set([...userNames, ...targetNamesOf(localLayer, true)]);
  const local = splitLayer(localLayer, names, true);
  const env = splitLayer(envLayer, names, false);
  const envVars = splitLayer(envVarsLayer, names, true);
  const lookAlikes = envLookAlikes(envLayer, names);
  const typos = lookAlikes.filter((l) => l.workload);
  if (input.strictEnv === true && typos.length > 0) {
    throw new ConfigError(`${typos.map((l) => l.message).join('; ')}. Under CI=true a look-alike of a scenario key is an error, since a typo there changes what the job measures. ` +
      'Fix: correct the name, or unset the variable for this step');
  }
  warnings.push(...lookAlikes.map((l) => l.message));

  const targetOptions = new Map<string, Map<string, { raw: string; source: Source }>>();
  for (const layer of [local, env, envVars]) {
    for (const [name, options] of layer.target) {
      const merged = targetOptions.get(name) ?? new Map<string, { raw: string; source: Source }>();
      for (const [option, entry] of options) merged.set(option, entry);
      targetOptions.set(name, merged);
    }
  }
  const localNames = new Set(localTargets.map((t) => t.name));
  let targets = [...targetOptions]
    .map(([name, options]) => (localNames.has(name) ? pendingLocalTarget(name, options, topologyOf.get(name) ?? name) : buildTarget(name, options)))
    .sort((a, b) => a.name.localeCompare(b.name));

  if (input.targets !== undefined) {
    const wanted = input.targets.split(',').map((t) => t.trim()).filter((t) => t !== '');
    if (wanted.length === 0) throw new ConfigError('--targets is empty. Fix: name targets, e.g. --targets REDIS,SOSS');
    const seen = new Set<string>();
    const selected: TargetConfig[] = [];
    for (const name of wanted) {
      if (seen.has(name)) throw new ConfigError(`--targets names ${name} twice (duplicate target name). Fix: name each target once`);
      seen.add(name);
      const target = targets.find((t) => t.name === name);
      if (target === undefined) {
        throw new ConfigError(`--targets names ${name}, which is not configured (configured: ${targets.map((t) => t.name).join(', ') || 'none'}). Fix: set ${name}_SERVERS or drop it from --targets`);
      }
      selected.push(target);
    }
    targets = selected;
  }
  if (input.baseline !== undefined && !targets.some((t) => t.name === input.baseline)) {
    throw new ConfigError(`--baseline ${input.baseline} is not one of the targets (${targets.map((t) => t.name).join(', ') || 'none'}). Fix: name one of them`);
  }

  const files = input.scenarioFiles.length > 0 ? input.scenarioFiles : [undefined];
  const scenarioNames = new Set<string>();
  const scenarios = files.map((file) => {
    const fileLayer = file === undefined ? new Map() : readScenarioFile(file);
    const plan = buildScenario(file, [fileLayer, env.scenario, envVars.scenario, flagLayer], warnings, targets.length);
    if (scenarioNames.has(plan.name)) throw new ConfigError(`scenario ${plan.name} is given twice. Fix: give each scenario file once`);
    scenarioNames.add(plan.name);
    return plan;
  });
  for (const scenario of scenarios) checkFaultTargets(scenario, targets);
  const combinations = scenarios.reduce((n, s) => n + s.cases.length, 0);
  if (combinations * targets.length > MAX_RUN_RESULTS) {
    throw new ConfigError(`the run makes ${combinations} parameter combinations (${scenarios.length} scenario${scenarios.length === 1 ? '' : 's'}) × ${targets.length} targets = ` +
      `${combinations * targets.length} results, and a run may make at most ${MAX_RUN_RESULTS} (report, merge and compare read no more). Fix: split it over several runs (fewer scenario files, shorter sweep lists, or --targets)`);
  }
  checkItemSizes(scenarios, targets);
  checkMemory(scenarios, targets.length, input.machine ?? machineMemory());
  const faultRuns = scenarios.filter((s) => s.controls.fault.kind !== 'none');
  if (faultRuns.length > 0 && faultRuns.length < scenarios.length) {
    const latency = scenarios.filter((s) => s.controls.fault.kind === 'none');
    throw new ConfigError(`scenario${faultRuns.length === 1 ? '' : 's'} ${faultRuns.map((s) => s.name).join(', ')} ${faultRuns.length === 1 ? 'is a fault run' : 'are fault runs'} and ${latency.map((s) => s.name).join(', ')} ${latency.length === 1 ? 'is' : 'are'} not: ` +
      'a fault run connects its clients with an application\'s retries and queues, which a latency run must not have (one connection per target serves the whole run). Fix: run fault scenarios and latency scenarios as separate runs');
  }
  const connection = runLevelTimeouts(scenarios);
  return {
    scenarios, targets, connection, warnings: [...new Set(warnings)],
    ...(input.baseline !== undefined ? { baseline: input.baseline } : {}),
  };
}
