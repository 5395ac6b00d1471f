import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, badValue, describeSource, type Source } from './errors.js';
import { CLIENTS, KEY_BY_NAME, KEY_SPECS, MODES, TARGET_OPTIONS, type ClientName, type Mode, type TargetOption } from './keys.js';
import { parseServers, type ServerAddress } from './servers.js';
import { parseBoolean, parseValue, type Scalar } from './values.js';

/** An effective value and where it came from. */
export interface Setting {
  readonly value: Scalar | readonly Scalar[];
  readonly source: Source;
}

/** Workload parameters of one combination of a sweep. */
export interface CaseParams {
  readonly READ_RATIO: number;
  readonly WRITE_COUNT: number;
  readonly PAYLOAD_BYTES: number;
}

/** Run controls: how iterations are scheduled, stopped and bounded. */
export interface RunControls {
  readonly keyTtlSeconds: number;
  readonly warmupIterations: number;
  readonly minIterations: number;
  readonly maxIterations: number;
  readonly maxRelativeError: number;
  readonly maxTimeMs: number;
  readonly opTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export interface ScenarioPlan {
  readonly name: string;
  readonly file?: string;
  readonly description: string;
  /** Every key of KEY_SPECS with its effective value and source. */
  readonly settings: ReadonlyMap<string, Setting>;
  /** The cartesian product of the sweepable keys' values, in file order. */
  readonly cases: readonly CaseParams[];
  readonly controls: RunControls;
}

export interface TargetConfig {
  readonly name: string;
  readonly servers: readonly ServerAddress[];
  readonly mode: Mode;
  readonly client: ClientName;
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
  /** `<NAME>_TLS_CA`: a PEM file of the CA(s) that signed the servers' certificates, read during validation. */
  readonly tlsCa?: { readonly file: string; readonly pem: Buffer };
  /** `<NAME>_TLS_SERVERNAME`: the name to check the servers' certificates against (default: each server's host). */
  readonly tlsServername?: string;
  /** Where each option came from (SERVERS, MODE, ...). Values of PASSWORD are never kept here. */
  readonly sources: Readonly<Partial<Record<TargetOption, Source>>>;
}

export interface RunPlan {
  readonly scenarios: readonly ScenarioPlan[];
  readonly targets: readonly TargetConfig[];
  /** Explicit --baseline, if given (validated to be one of the targets). */
  readonly baseline?: string;
}

export interface ConfigInput {
  /** Paths of scenario files; none means one scenario of built-in defaults. */
  readonly scenarioFiles: readonly string[];
  /** `<NAME>_*` settings of local topologies the harness started (lowest precedence of the target keys). */
  readonly local?: Readonly<Record<string, string>>;
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
}

type Layer = Map<string, { raw: unknown; source: Source }>;

const TARGET_NAME = /^[A-Z][A-Z0-9_]*[A-Z0-9]$|^[A-Z]$/;
const ENVVARS_SOURCE: Source = { kind: 'envVars' };
const ENV_SOURCE: Source = { kind: 'env' };

/** Splits `--envVars` items at the first colon, as BenchmarkDotNet does. */
export function parseEnvVarsItems(items: readonly string[]): Layer {
  const layer: Layer = new Map();
  for (const item of items) {
    const colon = item.indexOf(':');
    if (colon <= 0) {
      throw new ConfigError(
        `--envVars item ${JSON.stringify(item)} has ${colon === 0 ? 'no key before' : 'no'} colon. ` +
          'Fix: write each item as KEY:VALUE, e.g. --envVars READ_RATIO:100 REDIS_SERVERS:127.0.0.1:6379',
      );
    }
    layer.set(item.slice(0, colon), { raw: item.slice(colon + 1), source: ENVVARS_SOURCE });
  }
  return layer;
}

function readScenarioFile(file: string): Layer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `scenario file ${file} cannot be read (${code ?? String(error)}). Fix: give the path of a YAML file, e.g. scenarios/seed-read-heavy.yaml`,
      { cause: error },
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error: unknown) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError(`scenario file ${file} is not valid YAML: ${detail}. Fix: correct the YAML syntax`, { cause: error });
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`scenario file ${file} must be a YAML mapping of KEY: value. Fix: write e.g. "READ_RATIO: 100" on its own line`);
  }
  const source: Source = { kind: 'scenario', file };
  const layer: Layer = new Map();
  for (const [key, raw] of Object.entries(doc as Record<string, unknown>)) {
    if (!KEY_BY_NAME.has(key)) {
      const hint = key.endsWith('_SERVERS') || TARGET_OPTIONS.some((o) => key.endsWith(`_${o}`))
        ? 'targets are set with env vars or --envVars, not in scenario files'
        : `use one of ${KEY_SPECS.map((k) => k.name).join(', ')}`;
      throw new ConfigError(`unknown key ${key} in scenario file ${file}. Fix: ${hint}`);
    }
    layer.set(key, { raw, source });
  }
  return layer;
}

/** Names of targets defined in a layer by `<NAME>_SERVERS` keys. */
function targetNamesOf(layer: Layer, strict: boolean): string[] {
  const names: string[] = [];
  for (const [key, { raw, source }] of layer) {
    if (!/_SERVERS$/i.test(key) || KEY_BY_NAME.has(key)) continue;
    const name = key.slice(0, -'_SERVERS'.length);
    const valid = TARGET_NAME.test(name) && key.endsWith('_SERVERS');
    if (!valid && !strict) continue; // e.g. npm_config_dns_servers in the environment is not ours
    if (!valid) {
      throw badValue(key, raw, source, `target name ${JSON.stringify(name)} is not upper-case letters, digits and _`,
        `rename it, e.g. ${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}_SERVERS`);
    }
    names.push(name);
  }
  return names;
}

/** Finds the target (longest matching name) a key configures, with the option suffix. */
function targetKeyOf(key: string, names: ReadonlySet<string>): { name: string; option: string } | undefined {
  let best: string | undefined;
  for (const name of names) {
    if (key.startsWith(`${name}_`) && (best === undefined || name.length > best.length)) best = name;
  }
  return best === undefined ? undefined : { name: best, option: key.slice(best.length + 1) };
}

interface SplitLayer {
  readonly scenario: Layer;
  readonly target: Map<string, Map<string, { raw: string; source: Source }>>;
}

function splitLayer(layer: Layer, names: ReadonlySet<string>, strict: boolean): SplitLayer {
  const scenario: Layer = new Map();
  const target = new Map<string, Map<string, { raw: string; source: Source }>>();
  for (const [key, entry] of layer) {
    if (KEY_BY_NAME.has(key)) {
      scenario.set(key, entry);
      continue;
    }
    const hit = targetKeyOf(key, names);
    if (hit !== undefined) {
      if (!(TARGET_OPTIONS as readonly string[]).includes(hit.option)) {
        throw new ConfigError(
          `unknown option ${key} for target ${hit.name} (from ${describeSource(entry.source)}). ` +
            `Fix: use one of ${TARGET_OPTIONS.map((o) => `${hit.name}_${o}`).join(', ')}` +
            (entry.source.kind === 'env' ? ` or unset ${key}` : ''),
        );
      }
      const options = target.get(hit.name) ?? new Map<string, { raw: string; source: Source }>();
      options.set(hit.option, { raw: String(entry.raw), source: entry.source });
      target.set(hit.name, options);
      continue;
    }
    if (strict) {
      const option = TARGET_OPTIONS.find((o) => key.endsWith(`_${o}`));
      const fix = option
        ? `define the target first with ${key.slice(0, -option.length - 1)}_SERVERS=host:port`
        : `use one of ${KEY_SPECS.map((k) => k.name).join(', ')} or <NAME>_SERVERS`;
      throw new ConfigError(`unknown key ${key} (from ${describeSource(entry.source)}). Fix: ${fix}`);
    }
  }
  return { scenario, target };
}

function buildTarget(name: string, options: Map<string, { raw: string; source: Source }>): TargetConfig {
  const sources: Partial<Record<TargetOption, Source>> = {};
  for (const [option, { source }] of options) sources[option as TargetOption] = source;
  const serversEntry = options.get('SERVERS');
  if (serversEntry === undefined) throw new ConfigError(`target ${name} has options but no ${name}_SERVERS. Fix: set ${name}_SERVERS=host:port`);
  const servers = parseServers(`${name}_SERVERS`, serversEntry.raw, serversEntry.source);

  const modeEntry = options.get('MODE');
  let mode: Mode = 'auto';
  if (modeEntry !== undefined) {
    const value = modeEntry.raw.trim().toLowerCase();
    if (!(MODES as readonly string[]).includes(value)) {
      throw badValue(`${name}_MODE`, modeEntry.raw, modeEntry.source, 'unknown mode', `set ${name}_MODE to one of ${MODES.join(', ')}`);
    }
    mode = value as Mode;
  }
  const clientEntry = options.get('CLIENT');
  let client: ClientName = 'ioredis';
  if (clientEntry !== undefined) {
    const value = clientEntry.raw.trim().toLowerCase();
    if (!(CLIENTS as readonly string[]).includes(value)) {
      throw badValue(`${name}_CLIENT`, clientEntry.raw, clientEntry.source, 'unknown client driver', `set ${name}_CLIENT to one of ${CLIENTS.join(', ')}`);
    }
    client = value as ClientName;
  }
  const tlsEntry = options.get('TLS');
  const caEntry = options.get('TLS_CA');
  const servernameEntry = options.get('TLS_SERVERNAME');
  const tlsWanted = caEntry !== undefined || servernameEntry !== undefined || servers.some((s) => s.tls);
  const tls = tlsEntry !== undefined ? parseBoolean(`${name}_TLS`, tlsEntry.raw, tlsEntry.source) : tlsWanted;
  if (!tls && (caEntry !== undefined || servernameEntry !== undefined)) {
    const key = caEntry !== undefined ? `${name}_TLS_CA` : `${name}_TLS_SERVERNAME`;
    throw badValue(`${name}_TLS`, tlsEntry?.raw ?? 'false', tlsEntry?.source ?? ENV_SOURCE, `${key} is set but TLS is off`,
      `set ${name}_TLS=true (or leave it unset) or unset ${key}`);
  }
  let tlsCa: TargetConfig['tlsCa'];
  if (caEntry !== undefined) {
    const file = caEntry.raw.trim();
    let pem: Buffer;
    try {
      pem = readFileSync(file);
    } catch (error: unknown) {
      throw badValue(`${name}_TLS_CA`, caEntry.raw, caEntry.source, `the CA file cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
        'give the path of a PEM file holding the CA certificate that signed the servers\' certificates');
    }
    if (!pem.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
      throw badValue(`${name}_TLS_CA`, caEntry.raw, caEntry.source, 'the file holds no PEM certificate (no -----BEGIN CERTIFICATE----- line)',
        'give a PEM file of the CA certificate, e.g. the ca.crt your servers\' certificates were signed with');
    }
    tlsCa = { file, pem };
  }
  let tlsServername: string | undefined;
  if (servernameEntry !== undefined) {
    tlsServername = servernameEntry.raw.trim();
    if (!/^[A-Za-z0-9.*-]+$/.test(tlsServername)) {
      throw badValue(`${name}_TLS_SERVERNAME`, servernameEntry.raw, servernameEntry.source, 'not a host name', `set ${name}_TLS_SERVERNAME to the name in the servers' certificates, e.g. cache.example.com`);
    }
  }
  const username = options.get('USERNAME')?.raw;
  const password = options.get('PASSWORD')?.raw;
  return {
    name, servers, mode, client, tls, sources,
    ...(tlsCa !== undefined ? { tlsCa } : {}),
    ...(tlsServername !== undefined ? { tlsServername } : {}),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  };
}

function cartesian(settings: ReadonlyMap<string, Setting>): CaseParams[] {
  const list = (key: string): number[] => {
    const v = settings.get(key)?.value;
    return (Array.isArray(v) ? v : [v]) as number[];
  };
  const cases: CaseParams[] = [];
  for (const PAYLOAD_BYTES of list('PAYLOAD_BYTES'))
    for (const WRITE_COUNT of list('WRITE_COUNT'))
      for (const READ_RATIO of list('READ_RATIO')) cases.push({ READ_RATIO, WRITE_COUNT, PAYLOAD_BYTES });
  return cases;
}

const MAX_ITERATION_BYTES = 1024 * 1024 * 1024;

function buildScenario(file: string | undefined, layers: readonly Layer[]): ScenarioPlan {
  const settings = new Map<string, Setting>();
  for (const spec of KEY_SPECS) settings.set(spec.name, { value: spec.default, source: { kind: 'default' } });
  for (const layer of layers) {
    for (const [key, { raw, source }] of layer) {
      const spec = KEY_BY_NAME.get(key);
      if (spec !== undefined) settings.set(key, { value: parseValue(spec, raw, source), source });
    }
  }
  const num = (key: string): number => settings.get(key)?.value as number;
  const min = settings.get('MIN_ITERATIONS');
  const max = settings.get('MAX_ITERATIONS');
  if (min && max && (max.value as number) < (min.value as number)) {
    throw badValue('MAX_ITERATIONS', max.value, max.source, `smaller than MIN_ITERATIONS=${String(min.value)} (from ${describeSource(min.source)})`,
      'set MAX_ITERATIONS >= MIN_ITERATIONS');
  }
  const cases = cartesian(settings);
  for (const c of cases) {
    if (c.WRITE_COUNT * c.PAYLOAD_BYTES > MAX_ITERATION_BYTES) {
      const s = settings.get('PAYLOAD_BYTES') as Setting;
      throw badValue('PAYLOAD_BYTES', c.PAYLOAD_BYTES, s.source,
        `WRITE_COUNT=${c.WRITE_COUNT} x PAYLOAD_BYTES=${c.PAYLOAD_BYTES} exceeds the 1 GiB of payloads one iteration may hold in memory`,
        'lower WRITE_COUNT or PAYLOAD_BYTES');
    }
  }
  const name = file === undefined ? 'default' : basename(file, extname(file));
  const controls: RunControls = {
    keyTtlSeconds: num('KEY_TTL'),
    warmupIterations: num('WARMUP_ITERATIONS'),
    minIterations: num('MIN_ITERATIONS'),
    maxIterations: num('MAX_ITERATIONS'),
    maxRelativeError: num('MAX_RELATIVE_ERROR'),
    maxTimeMs: num('MAX_TIME') * 1000,
    opTimeoutMs: num('OP_TIMEOUT_MS'),
    connectTimeoutMs: num('CONNECT_TIMEOUT_MS'),
  };
  return {
    name,
    ...(file !== undefined ? { file } : {}),
    description: String(settings.get('DESCRIPTION')?.value ?? ''),
    settings, cases, controls,
  };
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
  const localLayer: Layer = new Map(Object.entries(input.local ?? {}).map(([key, raw]) => [key, { raw, source: { kind: 'local' } as Source }]));
  const envVarsLayer = parseEnvVarsItems(input.envVars);
  const flagLayer: Layer = new Map();
  for (const [key, value] of Object.entries(input.flags)) {
    if (value !== undefined) flagLayer.set(key, { raw: value, source: { kind: 'flag', flag: key.toLowerCase().replace(/_/g, '-') } });
  }

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

  const targetOptions = new Map<string, Map<string, { raw: string; source: Source }>>();
  for (const layer of [local, env, envVars]) {
    for (const [name, options] of layer.target) {
      const merged = targetOptions.get(name) ?? new Map<string, { raw: string; source: Source }>();
      for (const [option, entry] of options) merged.set(option, entry);
      targetOptions.set(name, merged);
    }
  }
  let targets = [...targetOptions].map(([name, options]) => buildTarget(name, options)).sort((a, b) => a.name.localeCompare(b.name));

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
    const plan = buildScenario(file, [fileLayer, env.scenario, envVars.scenario, flagLayer]);
    if (scenarioNames.has(plan.name)) throw new ConfigError(`scenario ${plan.name} is given twice. Fix: give each scenario file once`);
    scenarioNames.add(plan.name);
    return plan;
  });
  return { scenarios, targets, ...(input.baseline !== undefined ? { baseline: input.baseline } : {}) };
}
