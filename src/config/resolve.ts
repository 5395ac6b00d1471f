import { availableParallelism } from 'node:os';
import { basename, extname } from 'node:path';
import { isAlias, isMap, isScalar, parseDocument, visit } from 'yaml';
import { ConfigError, badValue, describeSource, type Source } from './errors.js';
import { InputFileError, MAX_CA_FILE_BYTES, MAX_PASSWORD_FILE_BYTES, MAX_SCENARIO_FILE_BYTES, readInputFile } from './input-file.js';
import {
  CACHE_MODES, CLIENTS, CLIENT_SUPPORT, DEFAULT_CACHE_ENTRIES, DEFAULT_ITEM_SIZE_MAX, DESTRUCTIVE_FAULTS, ITEM_OVERHEAD_BYTES, KEY_BY_NAME, SCALING_FAULTS, KEY_SPECS, MODES,
  PROTOCOLS, PROTOCOL_CLIENTS, READ_FROM, TARGET_OPTIONS,
  type ClientName, type FaultKind, type Mode, type Protocol, type RunMode, type TargetOption,
} from './keys.js';
import { registerSecret } from './redact.js';
import { parseServers, type ServerAddress } from './servers.js';
import { closest } from './suggest.js';
import { checkSweep, parseBoolean, parseValue } from './values.js';
import { checkMemory, machineMemory, type MachineMemory } from './memory.js';
import { KEYSPACE_HEADER_BYTES, MAX_RUN_RESULTS, MIN_VERSIONED_PAYLOAD_BYTES, PRELOAD_KEYS_PER_S, VERSION_BYTES } from './limits.js';
import { NO_LOAD, type CaseParams, type FaultPlan, type KeyDistribution, type LoadPlan, type LocalTargetSpec, type RunControls, type RunPlan, type ScenarioPlan, type Setting, type TargetConfig } from './plan.js';

/** YAML aliases (*name) a scenario file may use: yaml resolves each by walking the document (quadratic in their number). */
const MAX_SCENARIO_ALIASES = 100;

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

type Layer = Map<string, { raw: unknown; source: Source }>;

const TARGET_NAME = /^[A-Z][A-Z0-9_]*[A-Z0-9]$|^[A-Z]$/;
const ENVVARS_SOURCE: Source = { kind: 'envVars' };
const ENV_SOURCE: Source = { kind: 'env' };

/** Splits `--envVars` items at the first colon, as BenchmarkDotNet does. */
export function parseEnvVarsItems(items: readonly string[]): Layer {
  const layer: Layer = new Map();
  for (const [index, item] of items.entries()) {
    const colon = item.indexOf(':');
    if (colon <= 0) {
      // `A_PASSWORD: hunter2` (a space after the colon) makes the password an item of its own: never echo it.
      const afterEmptyPassword = index > 0 && /PASSWORD:$/i.test(items[index - 1] ?? '');
      if (afterEmptyPassword) {
        throw new ConfigError(`--envVars item ${index + 1} (after ${JSON.stringify(items[index - 1])}) has no colon; was there a space after the colon? ` +
          'Fix: write KEY:VALUE with no space, e.g. --envVars REDIS_PASSWORD:secret');
      }
      const shown = /PASSWORD/i.test(item) ? `${item.split(/[=\s]/)[0] ?? ''}=***` : item;
      throw new ConfigError(
        `--envVars item ${JSON.stringify(shown)} has ${colon === 0 ? 'no key before' : 'no'} colon. ` +
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
    text = readInputFile(file, MAX_SCENARIO_FILE_BYTES).toString('utf8');
  } catch (error: unknown) {
    const reason = error instanceof InputFileError ? error.reason : String(error);
    throw new ConfigError(
      `scenario file ${file} cannot be read (${reason}). Fix: give the path of a YAML file, e.g. scenarios/seed-read-heavy.yaml`,
      { cause: error },
    );
  }
  let doc: unknown;
  try {
    // Unique keys are checked here, not by yaml: its check compares each key with every earlier one (60,000 keys took
    // over 30 s), so a 1 MiB file parses in a few seconds at most. Aliases are few (yaml resolves each one by a walk
    // of the document: 40,000 took minutes) and expand at most 100 times each (a YAML bomb); no `<<` merge keys.
    const document = parseDocument(text, { uniqueKeys: false, merge: false });
    const [first] = document.errors;
    if (first !== undefined) throw first;
    let aliases = 0;
    visit(document, { Alias: () => (++aliases > MAX_SCENARIO_ALIASES ? visit.BREAK : undefined) });
    if (aliases > MAX_SCENARIO_ALIASES) {
      throw new ConfigError(`scenario file ${file} uses more than ${MAX_SCENARIO_ALIASES} YAML aliases (*name). Fix: write the values out instead of referring to anchors`);
    }
    const keys: string[] = [];
    if (isMap(document.contents)) {
      const seen = new Set<string>();
      for (const item of document.contents.items) {
        const key = isScalar(item.key) ? String(item.key.value) : isAlias(item.key) ? `*${item.key.source}` : String(item.key);
        if (key === '<<' || (isScalar(item.key) && typeof item.key.value === 'symbol')) throw new ConfigError(`scenario file ${file} uses a YAML merge key (<<). Fix: write each key out`);
        if (seen.has(key)) throw new ConfigError(`scenario file ${file} sets ${key.slice(0, 80)} twice. Fix: keep one ${key.slice(0, 80)} line`);
        seen.add(key);
        keys.push(key);
      }
    }
    doc = document.toJS({ maxAliasCount: 100 });
    // A key written through an alias (`*k : 2`) is only known once resolved: fewer keys than lines means one came twice.
    if (isMap(document.contents) && doc !== null && typeof doc === 'object' && Object.keys(doc).length < keys.length) {
      throw new ConfigError(`scenario file ${file} sets a key twice (one of them through a YAML alias). Fix: write each key once, without aliases`);
    }
  } catch (error: unknown) {
    if (error instanceof ConfigError) throw error;
    const detail = (error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error)).replace(/[\s.:]+$/, '');
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
        : didYouMean(key) ?? `use one of ${KEY_SPECS.map((k) => k.name).join(', ')}`;
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

const SCENARIO_KEYS = KEY_SPECS.map((k) => k.name);
const SWEEP_KEYS = KEY_SPECS.filter((k) => k.sweepable).map((k) => k.name);

/** `did you mean READ_RATIO?` for a misspelt scenario key or `_SERVERS` suffix, else undefined. */
function didYouMean(key: string): string | undefined {
  const upper = key.toUpperCase();
  const scenarioKey = closest(upper, SCENARIO_KEYS);
  if (scenarioKey !== undefined) return `did you mean ${scenarioKey}? (${key} is not a cachebench key)`;
  const cut = upper.lastIndexOf('_');
  if (cut > 0) {
    const suffix = upper.slice(cut + 1);
    const option = closest(suffix, TARGET_OPTIONS.filter((o) => !o.includes('_')));
    if (option !== undefined && (option !== suffix || upper !== key)) return `did you mean ${upper.slice(0, cut)}_${option}?`;
  }
  return undefined;
}

function optionHint(target: string, option: string): string {
  const near = closest(option, TARGET_OPTIONS);
  const all = `use one of ${TARGET_OPTIONS.map((o) => `${target}_${o}`).join(', ')}`;
  return near !== undefined ? `did you mean ${target}_${near}? Otherwise ${all}` : all;
}

/**
 * What a package manager puts into the environment of `npm run …` (npm, pnpm, yarn) and what CI systems
 * set (GitLab's CI_SERVER): never ours, never a typo of ours (NODE is one edit from MODE), so never flagged.
 */
const FOREIGN_ENV = new Set(['NODE', 'INIT_CWD', 'COLOR', 'EDITOR', 'PROJECT_CWD', 'BERRY_BIN_FOLDER', 'PNPM_HOME', 'PNPM_SCRIPT_SRC_DIR', 'CI_SERVER']);
const isForeignEnv = (key: string): boolean => FOREIGN_ENV.has(key) || /^(npm|pnpm|yarn)_/i.test(key);

/** A variable of the process environment that looks like a misspelt cachebench key. */
interface LookAlike {
  readonly message: string;
  /** It looks like a scenario (workload) key, e.g. READ_RATO: under CI=true that is an error. */
  readonly workload: boolean;
}

/**
 * Variables of the process environment that look like misspelt cachebench keys: they are not
 * read (the environment holds much that is not ours), so they are named in a warning instead.
 */
function envLookAlikes(env: Layer, names: ReadonlySet<string>): LookAlike[] {
  const found: LookAlike[] = [];
  for (const key of env.keys()) {
    if (KEY_BY_NAME.has(key) || isForeignEnv(key) || targetKeyOf(key, names) !== undefined) continue;
    const upper = key.toUpperCase();
    let hint: string | undefined;
    let workload = false;
    if (upper !== key && (KEY_BY_NAME.has(upper) || upper.endsWith('_SERVERS'))) {
      hint = `names are upper case: did you mean ${upper}?`;
      workload = KEY_BY_NAME.has(upper);
    } else if (upper === key) {
      const scenarioKey = closest(key, SCENARIO_KEYS);
      const cut = key.lastIndexOf('_');
      const suffix = cut > 0 ? key.slice(cut + 1) : '';
      if (scenarioKey !== undefined) {
        hint = `did you mean ${scenarioKey}?`;
        workload = true;
      } else if (suffix !== 'SERVERS' && suffix.length >= 5 && closest(suffix, ['SERVERS']) !== undefined) hint = `did you mean ${key.slice(0, cut)}_SERVERS?`;
    }
    if (hint !== undefined) found.push({ message: `${key} in the environment is not a cachebench key and is ignored: ${hint}`, workload });
  }
  return found;
}

/** Registers every password the input holds (PASSWORD keys, URL credentials) with the redactor. */
function registerSecrets(layers: readonly Layer[]): void {
  for (const layer of layers) {
    for (const [key, { raw }] of layer) {
      if (typeof raw !== 'string') continue;
      if (/PASSWORD$/i.test(key)) registerSecret(raw);
      if (/_SERVERS$/i.test(key)) {
        for (const m of raw.matchAll(/rediss?:\/\/[^:@/\s,]*:([^\s,]*)@/gi)) {
          const password = m[1] ?? '';
          registerSecret(password);
          try {
            registerSecret(decodeURIComponent(password));
          } catch (error: unknown) {
            void error; // not percent-encoded: the raw form is registered
          }
        }
      }
    }
  }
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
            `Fix: ${optionHint(hit.name, hit.option)}` +
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
        : didYouMean(key) ?? `use one of ${KEY_SPECS.map((k) => k.name).join(', ')} or <NAME>_SERVERS`;
      throw new ConfigError(`unknown key ${key} (from ${describeSource(entry.source)}). Fix: ${fix}`);
    }
  }
  return { scenario, target };
}

type TargetOptions = Map<string, { raw: string; source: Source }>;

/** One of `choices`, case-insensitive, or a ConfigError naming the key, the value, where it came from and the choices. */
function choice<T extends string>(key: string, entry: { raw: string; source: Source } | undefined, choices: readonly T[], fallback: T, what: string): T {
  if (entry === undefined) return fallback;
  const value = entry.raw.trim().toLowerCase();
  if (!(choices as readonly string[]).includes(value)) throw badValue(key, entry.raw, entry.source, `unknown ${what}`, `set ${key} to one of ${choices.join(', ')}`);
  return value as T;
}

/** The RESP drivers that support `mode` (and, if asked, caching or replica reads in it), for fixes. */
function supportedClients(mode: Mode, need: 'mode' | 'cache' | 'replicaReads'): string {
  const names = PROTOCOL_CLIENTS.resp.filter((c) => CLIENT_SUPPORT[c].modes.includes(mode) && (need === 'mode' || CLIENT_SUPPORT[c][need].includes(mode)));
  return names.length > 0 ? names.join(', ') : 'none';
}

/**
 * `<NAME>_CLIENT`, `_CACHE`, `_CACHE_ENTRIES`, `_READ_FROM`, checked against what the driver supports in the
 * target's mode (CLIENT_SUPPORT): an unsupported combination is a ConfigError (exit 2) that names the supported ones.
 */
function clientSetup(name: string, mode: Mode, options: TargetOptions, protocol: Protocol = 'resp'): Pick<TargetConfig, 'client' | 'cache' | 'cacheEntries' | 'readFrom' | 'waitReplicas'> {
  const clientEntry = options.get('CLIENT');
  const cacheEntry = options.get('CACHE');
  const readFromEntry = options.get('READ_FROM');
  const entriesEntry = options.get('CACHE_ENTRIES');
  const client = choice(`${name}_CLIENT`, clientEntry, CLIENTS, PROTOCOL_CLIENTS[protocol][0] as ClientName, 'client driver');
  if (!PROTOCOL_CLIENTS[protocol].includes(client)) {
    throw badValue(`${name}_CLIENT`, clientEntry?.raw ?? client, clientEntry?.source ?? ENV_SOURCE,
      protocol === 'memcache' ? `the ${client} driver speaks RESP (Redis), and ${name}_PROTOCOL is memcache` : `the ${client} driver speaks memcached's protocol, and ${name}_PROTOCOL is resp (the default)`,
      protocol === 'memcache' ? `unset ${name}_CLIENT (memcache targets use the memcache driver)` : `set ${name}_PROTOCOL=memcache for memcached servers, or ${name}_CLIENT to one of ${PROTOCOL_CLIENTS.resp.join(', ')}`);
  }
  const cache = choice(`${name}_CACHE`, cacheEntry, CACHE_MODES, 'off', 'cache mode');
  const readFrom = choice(`${name}_READ_FROM`, readFromEntry, READ_FROM, 'primary', 'read source');
  const support = CLIENT_SUPPORT[client];
  const modeText = mode === 'auto' ? 'any mode' : `${name}_MODE=${mode}`;
  if (!support.modes.includes(mode)) {
    throw badValue(`${name}_CLIENT`, clientEntry?.raw ?? client, clientEntry?.source ?? ENV_SOURCE, `the ${client} driver does not support ${modeText}`,
      `set ${name}_CLIENT to one of ${supportedClients(mode, 'mode')}`);
  }
  if (cache === 'tracking' && protocol === 'memcache') {
    throw badValue(`${name}_CACHE`, cacheEntry?.raw ?? cache, cacheEntry?.source ?? ENV_SOURCE,
      'client-side caching needs the server to track keys and send invalidations (RESP3 CLIENT TRACKING); memcached has no such thing',
      `unset ${name}_CACHE (or set it to off)`);
  }
  if (cache === 'tracking' && !support.cache.includes(mode)) {
    const others = supportedClients(mode, 'cache');
    throw badValue(`${name}_CACHE`, cacheEntry?.raw ?? cache, cacheEntry?.source ?? ENV_SOURCE,
      mode === 'proxy' ? `client-side caching needs the server's CLIENT TRACKING, which a proxy (${name}_MODE=proxy) does not pass on` : `the ${client} driver has no client-side cache${mode === 'auto' ? '' : ` in ${modeText}`}`,
      others === 'none' ? `unset ${name}_CACHE (or set it to off)` : `set ${name}_CLIENT to one of ${others}, or unset ${name}_CACHE`);
  }
  if (readFrom === 'replica' && protocol === 'memcache') {
    throw badValue(`${name}_READ_FROM`, readFromEntry?.raw ?? readFrom, readFromEntry?.source ?? ENV_SOURCE,
      'memcached has no replicas: each key lives on one server of the pool',
      `unset ${name}_READ_FROM`);
  }
  if (readFrom === 'replica' && !support.replicaReads.includes(mode)) {
    throw badValue(`${name}_READ_FROM`, readFromEntry?.raw ?? readFrom, readFromEntry?.source ?? ENV_SOURCE,
      `replica reads need a Redis Cluster (its replicas are found from CLUSTER SLOTS); ${modeText} has none to read from`,
      `unset ${name}_READ_FROM, or list a Redis Cluster's nodes in ${name}_SERVERS with ${name}_MODE=cluster (or auto)`);
  }
  let cacheEntries = DEFAULT_CACHE_ENTRIES;
  if (entriesEntry !== undefined) {
    const value = Number(entriesEntry.raw.trim());
    if (!Number.isInteger(value) || value < 1 || value > 100_000_000) {
      throw badValue(`${name}_CACHE_ENTRIES`, entriesEntry.raw, entriesEntry.source, 'not a whole number from 1 to 100000000', `set ${name}_CACHE_ENTRIES to e.g. ${DEFAULT_CACHE_ENTRIES}`);
    }
    if (cache !== 'tracking') {
      throw badValue(`${name}_CACHE_ENTRIES`, entriesEntry.raw, entriesEntry.source, `${name}_CACHE is off, so there is no cache to size`, `set ${name}_CACHE=tracking, or unset ${name}_CACHE_ENTRIES`);
    }
    cacheEntries = value;
  }
  let waitReplicas = 0;
  const waitEntry = options.get('WAIT');
  if (waitEntry !== undefined) {
    const value = Number(waitEntry.raw.trim());
    if (!Number.isInteger(value) || value < 0 || value > 16) {
      throw badValue(`${name}_WAIT`, waitEntry.raw, waitEntry.source, 'not a whole number of replicas from 0 to 16', `set ${name}_WAIT to e.g. 1 (each SET waits for one replica), or 0`);
    }
    if (value > 0 && protocol === 'memcache') {
      throw badValue(`${name}_WAIT`, waitEntry.raw, waitEntry.source, 'memcached has no replicas and no WAIT: a write is acknowledged by the one server that holds it', `unset ${name}_WAIT`);
    }
    if (value > 0 && mode === 'proxy') {
      throw badValue(`${name}_WAIT`, waitEntry.raw, waitEntry.source, `a proxy (${name}_MODE=proxy) does not pass WAIT on to the server that took the write`, `unset ${name}_WAIT, or point the target at the servers themselves`);
    }
    waitReplicas = value;
  }
  return { client, cache, cacheEntries, readFrom, waitReplicas };
}

function buildTarget(name: string, options: Map<string, { raw: string; source: Source }>): TargetConfig {
  const sources: Partial<Record<TargetOption, Source>> = {};
  for (const [option, { source }] of options) sources[option as TargetOption] = source;
  const serversEntry = options.get('SERVERS');
  if (serversEntry === undefined) throw new ConfigError(`target ${name} has options but no ${name}_SERVERS. Fix: set ${name}_SERVERS=host:port`);
  const servers = parseServers(`${name}_SERVERS`, serversEntry.raw, serversEntry.source);
  const protocol = choice(`${name}_PROTOCOL`, options.get('PROTOCOL'), PROTOCOLS, 'resp', 'protocol');

  const modeEntry = options.get('MODE');
  let mode: Mode = 'auto';
  if (modeEntry !== undefined) {
    const value = modeEntry.raw.trim().toLowerCase();
    if (!(MODES as readonly string[]).includes(value)) {
      throw badValue(`${name}_MODE`, modeEntry.raw, modeEntry.source, 'unknown mode', `set ${name}_MODE to one of ${MODES.join(', ')}`);
    }
    mode = value as Mode;
  }
  if ((mode === 'standalone' || mode === 'proxy') && servers.length > 1 && protocol === 'memcache') {
    throw badValue(`${name}_MODE`, modeEntry?.raw ?? mode, modeEntry?.source ?? serversEntry.source,
      `${name}_SERVERS lists ${servers.length} servers, but a ${mode} memcache target is one server`,
      mode === 'proxy' ? `list only the proxy's address in ${name}_SERVERS` : `unset ${name}_MODE: several memcached servers are a pool the client shards`);
  }
  if ((mode === 'standalone' || mode === 'proxy') && servers.length > 1) {
    throw badValue(`${name}_MODE`, modeEntry?.raw ?? mode, modeEntry?.source ?? serversEntry.source,
      `${name}_SERVERS lists ${servers.length} servers, but a ${mode} target is one server (${mode === 'proxy' ? 'the proxy\'s listen address' : 'one Redis'})`,
      mode === 'proxy' ? `list only the proxy's address in ${name}_SERVERS` : `list one server, set ${name}_MODE=cluster (or auto) for a Redis Cluster, or make one target per server`);
  }
  if (protocol === 'memcache') return memcacheTarget(name, servers, mode, options, sources);
  const itemSizeEntry = options.get('ITEM_SIZE_MAX');
  if (itemSizeEntry !== undefined) {
    throw badValue(`${name}_ITEM_SIZE_MAX`, itemSizeEntry.raw, itemSizeEntry.source, `it is memcached's item size limit, and ${name}_PROTOCOL is resp (the default)`, `set ${name}_PROTOCOL=memcache, or unset ${name}_ITEM_SIZE_MAX`);
  }
  const { client, cache, cacheEntries, readFrom, waitReplicas } = clientSetup(name, mode, options);
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
      pem = readInputFile(file, MAX_CA_FILE_BYTES);
    } catch (error: unknown) {
      throw badValue(`${name}_TLS_CA`, caEntry.raw, caEntry.source, `the CA file cannot be read (${error instanceof InputFileError ? error.reason : String(error)})`,
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
    if (client === 'glide') {
      throw badValue(`${name}_TLS_SERVERNAME`, servernameEntry.raw, servernameEntry.source, 'the glide driver checks each certificate against the address it connects to and cannot be given another name',
        `list the servers in ${name}_SERVERS by the name in their certificates and unset ${name}_TLS_SERVERNAME, or set ${name}_CLIENT to ioredis or node-redis`);
    }
  }
  const username = options.get('USERNAME')?.raw;
  const password = passwordOf(name, options);
  return {
    name, servers, protocol, itemSizeMax: DEFAULT_ITEM_SIZE_MAX, mode, client, cache, cacheEntries, readFrom, waitReplicas, tls, sources,
    ...(tlsCa !== undefined ? { tlsCa } : {}),
    ...(tlsServername !== undefined ? { tlsServername } : {}),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(options.has('PASSWORD_FILE') ? { passwordFile: (options.get('PASSWORD_FILE')?.raw ?? '').trim() } : {}),
  };
}

/**
 * The password: `<NAME>_PASSWORD`, or the first line of the file `<NAME>_PASSWORD_FILE` names (a secret mounted as a
 * file: neither the command line nor the environment holds it). The file is read only if it is a regular file of at
 * most MAX_PASSWORD_FILE_BYTES; its password is masked in every output like any other.
 */
function passwordOf(name: string, options: TargetOptions): string | undefined {
  const fileEntry = options.get('PASSWORD_FILE');
  if (fileEntry === undefined) return options.get('PASSWORD')?.raw;
  const key = `${name}_PASSWORD_FILE`;
  if (options.has('PASSWORD')) {
    throw badValue(key, fileEntry.raw, fileEntry.source, `${name}_PASSWORD is set too`, `set one of ${name}_PASSWORD and ${key}`);
  }
  let text: string;
  try {
    text = readInputFile(fileEntry.raw.trim(), MAX_PASSWORD_FILE_BYTES).toString('utf8');
  } catch (error: unknown) {
    throw badValue(key, fileEntry.raw, fileEntry.source, `the password file cannot be read (${error instanceof InputFileError ? error.reason : String(error)})`,
      'give the path of a regular file holding the password on one line');
  }
  const password = text.replace(/\r?\n$/, '');
  registerSecret(password);
  if (password === '' || /[\r\n]/.test(password)) {
    throw badValue(key, fileEntry.raw, fileEntry.source, password === '' ? 'the file is empty' : 'the file holds more than one line',
      'write the password alone on the first line (a final line break is allowed)');
  }
  return password;
}

/** `<NAME>_ITEM_SIZE_MAX`: bytes, or memcached -I's form (`2m`, `512k`); from 1 KiB to 1 GiB as memcached allows. */
function parseItemSize(key: string, entry: { raw: string; source: Source }): number {
  const m = /^\s*(\d+)\s*([kmg]?)\s*$/i.exec(entry.raw);
  const unit = { '': 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 }[(m?.[2] ?? '').toLowerCase()] ?? 1;
  const bytes = m === null ? Number.NaN : Number(m[1]) * unit;
  if (!Number.isInteger(bytes) || bytes < 1024 || bytes > 1024 * 1024 * 1024) {
    throw badValue(key, entry.raw, entry.source, 'not an item size from 1k to 1g', `set ${key} to the servers' memcached -I value, e.g. 2m (the default is 1m)`);
  }
  return bytes;
}

/**
 * A `<NAME>_PROTOCOL=memcache` target: one memcached, a pool of them sharded by the client (MODE auto), or a proxy
 * (MODE proxy). What only RESP servers have is refused, naming why: cluster mode, client-side caching, replica reads,
 * WAIT, ACL users and passwords, TLS.
 */
function memcacheTarget(name: string, servers: readonly ServerAddress[], mode: Mode, options: TargetOptions, sources: Partial<Record<TargetOption, Source>>): TargetConfig {
  const modeEntry = options.get('MODE');
  if (mode === 'cluster') {
    throw badValue(`${name}_MODE`, modeEntry?.raw ?? mode, modeEntry?.source ?? ENV_SOURCE, 'memcached has no cluster mode: several servers in a memcache target are a pool the client shards with consistent hashing',
      `unset ${name}_MODE (auto: a pool), or set it to proxy for twemproxy's address`);
  }
  const url = servers.find((s) => s.tls || /^rediss?:/i.test(s.display));
  const serversEntry = options.get('SERVERS') as { raw: string; source: Source };
  if (url !== undefined || /rediss?:\/\//i.test(serversEntry.raw)) {
    throw badValue(`${name}_SERVERS`, serversEntry.raw, serversEntry.source, 'redis:// and rediss:// URLs name Redis servers, and this target speaks memcache', `list the memcached servers as host:port, e.g. ${name}_SERVERS=10.0.0.1:11211,10.0.0.2:11211`);
  }
  for (const [option, why] of [
    ['USERNAME', 'memcached\'s text protocol has no login (SASL needs the binary protocol, which twemproxy does not speak)'],
    ['PASSWORD', 'memcached\'s text protocol has no login (SASL needs the binary protocol, which twemproxy does not speak)'],
    ['PASSWORD_FILE', 'memcached\'s text protocol has no login (SASL needs the binary protocol, which twemproxy does not speak)'],
    ['TLS', 'the memcache driver does not speak TLS'], ['TLS_CA', 'the memcache driver does not speak TLS'], ['TLS_SERVERNAME', 'the memcache driver does not speak TLS'],
  ] as const) {
    const entry = options.get(option);
    if (entry !== undefined && !(option === 'TLS' && /^(false|0|no|off)$/i.test(entry.raw.trim()))) {
      throw badValue(`${name}_${option}`, option === 'PASSWORD' ? '(hidden)' : entry.raw, entry.source, why, `unset ${name}_${option}`);
    }
  }
  const itemSizeEntry = options.get('ITEM_SIZE_MAX');
  const itemSizeMax = itemSizeEntry === undefined ? DEFAULT_ITEM_SIZE_MAX : parseItemSize(`${name}_ITEM_SIZE_MAX`, itemSizeEntry);
  const setup = clientSetup(name, mode, options, 'memcache');
  return { name, servers, protocol: 'memcache', itemSizeMax, mode, ...setup, tls: false, sources };
}

/** The item size (whole MiB, at least memcached's default 1 MiB) that holds values of `largestPayloadBytes`. */
export function localItemSizeMax(largestPayloadBytes: number): number {
  const MiB = 1024 * 1024;
  return Math.max(DEFAULT_ITEM_SIZE_MAX, Math.ceil((largestPayloadBytes + ITEM_OVERHEAD_BYTES) / MiB) * MiB);
}

/**
 * Values a memcache target cannot store: PAYLOAD_BYTES plus room for the key and item header above the servers' item
 * size limit is a ConfigError before any traffic, naming the limit and memcached's -I that raises it.
 */
function checkItemSizes(scenarios: readonly ScenarioPlan[], targets: readonly TargetConfig[]): void {
  // Local memcached is started with an item size that fits the run's largest value (localItemSizeMax).
  for (const t of targets.filter((x) => x.protocol === 'memcache' && x.pendingServers !== true)) {
    for (const scenario of scenarios) {
      const largest = scenario.cases.reduce((m, c) => Math.max(m, c.PAYLOAD_BYTES), 0);
      if (largest + ITEM_OVERHEAD_BYTES <= t.itemSizeMax) continue;
      const setting = scenario.settings.get('PAYLOAD_BYTES') as Setting;
      const limit = t.itemSizeMax === DEFAULT_ITEM_SIZE_MAX ? '1 MiB, memcached\'s default item size limit (-I 1m)' : `${t.itemSizeMax} bytes (${t.name}_ITEM_SIZE_MAX)`;
      const needed = `${localItemSizeMax(largest) / (1024 * 1024)}m`;
      throw badValue('PAYLOAD_BYTES', setting.value, setting.source,
        `target ${t.name} is memcached, which stores an item (value, key and about 50 bytes of header) of at most ${limit}: values up to ${t.itemSizeMax - ITEM_OVERHEAD_BYTES} bytes fit, and scenario ${scenario.name} writes ${largest}`,
        `lower PAYLOAD_BYTES to ${t.itemSizeMax - ITEM_OVERHEAD_BYTES} or less, or start memcached with a larger item size (memcached -I ${needed}) and set ${t.name}_ITEM_SIZE_MAX=${needed}`);
    }
  }
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

/** How long a fault run's keys must outlive DURATION: healing (up to 30 s) and the final check (10 s), with room to spare. */
const FAULT_TTL_MARGIN_S = 60;

/** FAULT and its timing, checked against each other (not yet against the targets: see checkFaultTargets). */
function faultPlan(settings: ReadonlyMap<string, Setting>): FaultPlan {
  const get = (key: string): Setting => settings.get(key) as Setting;
  const kind = get('FAULT').value as FaultKind;
  const plan: FaultPlan = {
    kind,
    atMs: Math.round((get('FAULT_AT').value as number) * 1000),
    durationMs: Math.round((get('FAULT_DURATION').value as number) * 1000),
    runMs: Math.round((get('DURATION').value as number) * 1000),
    command: String(get('FAULT_COMMAND').value),
  };
  const command = get('FAULT_COMMAND');
  if (kind === 'command' && plan.command.trim() === '') {
    throw badValue('FAULT_COMMAND', '', command.source, 'FAULT=command needs the shell command that makes the fault', 'set FAULT_COMMAND, e.g. FAULT_COMMAND="kubectl delete pod cache-0"');
  }
  if (kind !== 'command' && plan.command !== '') {
    const fault = get('FAULT');
    throw badValue('FAULT_COMMAND', plan.command, command.source, `it runs only with FAULT=command, and FAULT is ${kind} (${describeSource(fault.source)})`, 'set FAULT=command, or unset FAULT_COMMAND');
  }
  if (kind === 'none') return plan;
  const at = get('FAULT_AT');
  const duration = get('DURATION');
  if (plan.atMs >= plan.runMs) {
    throw badValue('FAULT_AT', at.value, at.source, `the fault would come after the run ends (DURATION=${String(duration.value)} s, ${describeSource(duration.source)})`, 'set FAULT_AT below DURATION, leaving time to see the recovery');
  }
  if ((kind === 'pause-primary' || kind === 'restart-primary') && plan.atMs + plan.durationMs >= plan.runMs) {
    const d = get('FAULT_DURATION');
    throw badValue('FAULT_DURATION', d.value, d.source, `FAULT_AT=${String(at.value)} s + FAULT_DURATION ends at or after DURATION=${String(duration.value)} s (${describeSource(duration.source)}), so the run would not see the server come back`, 'raise DURATION or lower FAULT_AT / FAULT_DURATION');
  }
  if (plan.atMs < 1000) {
    throw badValue('FAULT_AT', at.value, at.source, 'a fault run needs at least 1 s before the fault: the throughput recovery is measured against', 'set FAULT_AT to 1 or more (the shipped scenarios use 10)');
  }
  const actionEndMs = plan.atMs + (kind === 'pause-primary' || kind === 'restart-primary' ? plan.durationMs : 0);
  if (plan.runMs - actionEndMs < 2000) {
    throw badValue('DURATION', duration.value, duration.source, `it leaves ${((plan.runMs - actionEndMs) / 1000).toFixed(1)} s after the fault${actionEndMs > plan.atMs ? ' ends' : ''}: too little to see a window close (it needs a full second without failures) or throughput recover`, 'give DURATION at least a few seconds more than FAULT_AT (+ FAULT_DURATION)');
  }
  const ttl = get('KEY_TTL');
  const minTtl = Math.ceil(plan.runMs / 1000) + FAULT_TTL_MARGIN_S;
  if ((ttl.value as number) < minTtl) {
    throw badValue('KEY_TTL', ttl.value, ttl.source, `in a fault run a write may wait to be read back until after the run (failed SETs always do, then healing and the final check): keys must outlive DURATION=${String(duration.value)} s (${describeSource(duration.source)}) by ${FAULT_TTL_MARGIN_S} s, or the harness's own expiries would count as lost writes`, `set KEY_TTL to ${minTtl} or more, or shorten DURATION`);
  }
  const overwrite = get('OVERWRITE_RATE');
  if ((overwrite.value as number) > 0) {
    throw badValue('OVERWRITE_RATE', overwrite.value, overwrite.source, `a fault run (FAULT=${kind}) judges acknowledged writes by reading them back, which an overwriter would confuse`, 'set OVERWRITE_RATE to 0 for a fault run, or run staleness and faults as separate scenarios');
  }
  return plan;
}

/** Keys that only a throughput run reads: set (by anything but the default) in a latency run, they are an error. */
const THROUGHPUT_KEYS = ['CLIENTS', 'CONNECTIONS', 'PIPELINE', 'RATE', 'WARMUP_SECONDS', 'WORKERS', 'KEYSPACE', 'KEY_DISTRIBUTION', 'START_AT'] as const;
/** Keys that only a latency run reads: set in a throughput scenario, they are said to do nothing (a warning: flags apply to every scenario of a run). */
const LATENCY_ONLY_KEYS = ['WRITE_COUNT', 'INVOCATION_COUNT', 'ITERATION_TIME_MS', 'INTERLEAVE', 'WARMUP_ITERATIONS', 'MIN_ITERATIONS', 'MAX_ITERATIONS', 'MAX_RELATIVE_ERROR', 'MAX_TIME'] as const;
/** What a KEYSPACE may hold on the servers (preloaded values). */
const MAX_KEYSPACE_BYTES = 4 * 1024 * 1024 * 1024;
/** How far ahead START_AT may be. */
const MAX_START_AHEAD_MS = 24 * 3600 * 1000;

/** KEY_DISTRIBUTION: uniform, sequential or zipf:<exponent>. */
export function parseDistribution(raw: string, source: Source): KeyDistribution {
  const text = raw.trim().toLowerCase();
  if (text === 'uniform' || text === 'sequential') return { kind: text };
  const zipf = /^zipf:\s*(\d+(?:\.\d*)?|\.\d+)$/.exec(text);
  const exponent = zipf === null ? NaN : Number(zipf[1]);
  if (zipf !== null && exponent > 0 && exponent <= 10) return { kind: 'zipf', exponent };
  throw badValue('KEY_DISTRIBUTION', raw, source, zipf === null ? 'not uniform, sequential or zipf:<exponent>' : 'the zipf exponent must be above 0 and at most 10',
    'set KEY_DISTRIBUTION to uniform, sequential, or zipf:<exponent> such as zipf:0.99');
}

/** START_AT: ISO 8601 with a time zone, or Unix seconds; as Unix ms. */
export function parseStartAt(raw: string, source: Source, nowMs: number): number | null {
  const text = raw.trim();
  if (text === '') return null;
  const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/i.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) {
    throw badValue('START_AT', raw, source, 'not a time', 'set START_AT to an ISO 8601 time with its zone, e.g. 2026-11-26T10:00:00Z, or to Unix seconds (date +%s)');
  }
  if (ms <= nowMs) {
    throw badValue('START_AT', raw, source, `it is ${((nowMs - ms) / 1000).toFixed(0)} s in the past (now ${new Date(nowMs).toISOString()})`,
      'set START_AT to a time far enough ahead for every process to connect (and preload a KEYSPACE), e.g. START_AT=$(date -u -d "+1 min" +%Y-%m-%dT%H:%M:%SZ)');
  }
  if (ms - nowMs > MAX_START_AHEAD_MS) {
    throw badValue('START_AT', raw, source, 'it is more than 24 h ahead', 'set START_AT to a time within the next 24 hours');
  }
  return ms;
}

/** MODE and the throughput keys, checked against each other. */
function loadPlan(settings: ReadonlyMap<string, Setting>, cases: readonly CaseParams[], warnings: string[]): LoadPlan {
  const get = (key: string): Setting => settings.get(key) as Setting;
  const num = (key: string): number => get(key).value as number;
  const mode = get('MODE').value as RunMode;
  if (mode === 'latency') {
    const stray = THROUGHPUT_KEYS.find((k) => get(k).source.kind !== 'default');
    if (stray !== undefined) {
      const s = get(stray);
      throw badValue(stray, s.value, s.source, `it applies to throughput runs only, and MODE is latency (${describeSource(get('MODE').source)})`, `set MODE=throughput, or unset ${stray}`);
    }
    return NO_LOAD;
  }
  const duration = get('DURATION');
  if (!Number.isInteger(duration.value)) {
    throw badValue('DURATION', duration.value, duration.source, 'a throughput run measures whole seconds (its statistics are over 1-second intervals)', 'set DURATION to a whole number of seconds');
  }
  if (num('DURATION') < 3) {
    throw badValue('DURATION', duration.value, duration.source, 'a throughput run needs at least 3 one-second intervals for its Error (a 99.9% confidence interval)', 'set DURATION to 3 or more (10 or more for a useful Error)');
  }
  const fault = get('FAULT');
  if (fault.value !== 'none') {
    throw badValue('FAULT', fault.value, fault.source, 'a fault run has its own time-based loop, and MODE is throughput', 'run faults and throughput as separate scenarios (MODE=latency for the fault scenario)');
  }
  const overwrite = get('OVERWRITE_RATE');
  if ((overwrite.value as number) > 0) {
    throw badValue('OVERWRITE_RATE', overwrite.value, overwrite.source, 'the overwriter follows the one key a latency run is reading, and MODE is throughput', 'set OVERWRITE_RATE to 0, or MODE=latency');
  }
  const keyspace = num('KEYSPACE');
  const dist = get('KEY_DISTRIBUTION');
  const distribution = parseDistribution(String(dist.value), dist.source);
  if (keyspace === 0 && dist.source.kind !== 'default') {
    throw badValue('KEY_DISTRIBUTION', dist.value, dist.source, 'it picks keys of a KEYSPACE, and KEYSPACE is 0 (fresh keys, the seed loop)', 'set KEYSPACE to the number of keys, or unset KEY_DISTRIBUTION');
  }
  for (const c of cases) {
    if (keyspace > 0 && c.PAYLOAD_BYTES < KEYSPACE_HEADER_BYTES) {
      const p = get('PAYLOAD_BYTES');
      throw badValue('PAYLOAD_BYTES', c.PAYLOAD_BYTES, p.source, `a KEYSPACE value names its key in its first ${KEYSPACE_HEADER_BYTES} bytes (so a misrouted value cannot pass), so values need at least ${KEYSPACE_HEADER_BYTES} bytes`, `set PAYLOAD_BYTES to ${KEYSPACE_HEADER_BYTES} or more, or KEYSPACE to 0`);
    }
    if (keyspace * c.PAYLOAD_BYTES > MAX_KEYSPACE_BYTES) {
      const k = get('KEYSPACE');
      throw badValue('KEYSPACE', keyspace, k.source, `KEYSPACE=${keyspace} x PAYLOAD_BYTES=${c.PAYLOAD_BYTES} preloads more than 4 GiB onto the servers`, 'lower KEYSPACE or PAYLOAD_BYTES');
    }
  }
  const ttl = get('KEY_TTL');
  // Preloaded keys are written before the warm-up: they must outlive the preload (at a conservative speed) and the run.
  const preloadS = Math.ceil(keyspace / PRELOAD_KEYS_PER_S);
  const runS = preloadS + num('WARMUP_SECONDS') + num('DURATION');
  if (keyspace > 0 && (ttl.value as number) < runS + 60) {
    warnings.push(`KEY_TTL=${String(ttl.value)} s (${describeSource(ttl.source)}) is shorter than a target's preload of KEYSPACE=${keyspace} keys (up to ${preloadS} s at a conservative ${PRELOAD_KEYS_PER_S} keys/s) + warm-up + DURATION + 60 s: ` +
      `preloaded keys may expire during the preload or the run and show as misses. Fix: set KEY_TTL to ${runS + 60} or more`);
  }
  const clients = num('CLIENTS');
  const connections = num('CONNECTIONS');
  const pipeline = get('PIPELINE');
  const perConnection = Math.ceil(clients / connections);
  if ((pipeline.value as number) > perConnection) {
    warnings.push(`PIPELINE=${String(pipeline.value)} (${describeSource(pipeline.source)}) has no effect beyond ${perConnection}: each virtual client keeps one op in flight, and CLIENTS=${clients} on CONNECTIONS=${connections} puts at most ${perConnection} on a connection (raise CLIENTS or lower CONNECTIONS for deeper pipelines)`);
  }
  const ignored = LATENCY_ONLY_KEYS.filter((k) => get(k).source.kind !== 'default');
  if (ignored.length > 0) {
    warnings.push(`${ignored.map((k) => `${k}=${String(get(k).value)} (${describeSource(get(k).source)})`).join(', ')} ${ignored.length === 1 ? 'does' : 'do'} not apply to the throughput scenario: it runs for WARMUP_SECONDS + DURATION per target, and each client writes fresh keys as it goes (or uses KEYSPACE)`);
  }
  const workers = get('WORKERS');
  const cores = availableParallelism();
  if ((workers.value as number) > cores) {
    warnings.push(`WORKERS=${String(workers.value)} (${describeSource(workers.source)}) is more than the ${cores} CPU core${cores === 1 ? '' : 's'} of this machine: workers will share cores and measure the load generator, not the servers`);
  }
  const start = get('START_AT');
  return {
    mode,
    clients: num('CLIENTS'),
    connections: num('CONNECTIONS'),
    pipeline: num('PIPELINE'),
    rate: num('RATE'),
    warmupMs: Math.round(num('WARMUP_SECONDS') * 1000),
    durationMs: num('DURATION') * 1000,
    workers: workers.value as number,
    keyspace,
    distribution,
    startAtMs: parseStartAt(String(start.value), start.source, Date.now()),
  };
}

function buildScenario(file: string | undefined, layers: readonly Layer[], warnings: string[]): ScenarioPlan {
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
    // A smoke run (--max-iterations 3) should not need a second flag: the minimum follows the maximum.
    warnings.push(`MIN_ITERATIONS lowered from ${String(min.value)} (${describeSource(min.source)}) to ${String(max.value)}: ` +
      `MAX_ITERATIONS=${String(max.value)} (${describeSource(max.source)}) is below it`);
    settings.set('MIN_ITERATIONS', { value: max.value, source: max.source });
  }
  checkSweep(settings, SWEEP_KEYS);
  const cases = cartesian(settings);
  for (const c of cases) {
    const invocations = Math.max(1, num('INVOCATION_COUNT'));
    if (invocations > 1 && c.WRITE_COUNT * c.PAYLOAD_BYTES * invocations > MAX_ITERATION_BYTES) {
      const s = settings.get('INVOCATION_COUNT') as Setting;
      throw badValue('INVOCATION_COUNT', invocations, s.source,
        `INVOCATION_COUNT=${invocations} x WRITE_COUNT=${c.WRITE_COUNT} x PAYLOAD_BYTES=${c.PAYLOAD_BYTES} exceeds the 1 GiB of payloads one iteration may hold in memory`,
        'lower INVOCATION_COUNT, or set it to 0 to let the pilot stage choose');
    }
    if (num('OVERWRITE_RATE') > 0 && c.PAYLOAD_BYTES < MIN_VERSIONED_PAYLOAD_BYTES) {
      const s = settings.get('PAYLOAD_BYTES') as Setting;
      const rate = settings.get('OVERWRITE_RATE') as Setting;
      throw badValue('PAYLOAD_BYTES', c.PAYLOAD_BYTES, s.source,
        `OVERWRITE_RATE=${String(rate.value)} (${describeSource(rate.source)}) versions every value in its first ${VERSION_BYTES} bytes and needs ${MIN_VERSIONED_PAYLOAD_BYTES - VERSION_BYTES} random bytes after them to tell keys apart, so values need at least ${MIN_VERSIONED_PAYLOAD_BYTES} bytes`,
        `set PAYLOAD_BYTES to ${MIN_VERSIONED_PAYLOAD_BYTES} or more, or OVERWRITE_RATE to 0`);
    }
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
    invocationCount: num('INVOCATION_COUNT'),
    iterationTimeMs: num('ITERATION_TIME_MS'),
    interleave: settings.get('INTERLEAVE')?.value === 'key' ? 'key' : 'iteration',
    minIterations: num('MIN_ITERATIONS'),
    maxIterations: num('MAX_ITERATIONS'),
    maxRelativeError: num('MAX_RELATIVE_ERROR'),
    maxTimeMs: num('MAX_TIME') * 1000,
    opTimeoutMs: num('OP_TIMEOUT_MS'),
    connectTimeoutMs: num('CONNECT_TIMEOUT_MS'),
    overwriteRate: num('OVERWRITE_RATE'),
    fault: faultPlan(settings),
    load: loadPlan(settings, cases, warnings),
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
    const plan = buildScenario(file, [fileLayer, env.scenario, envVars.scenario, flagLayer], warnings);
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

/**
 * A destructive fault (kill, pause, restart) touches only servers cachebench starts in this run; a fault that needs
 * replicas needs a topology that has them. Checked before anything starts: exit 2, no traffic.
 */
function checkFaultTargets(scenario: ScenarioPlan, targets: readonly TargetConfig[]): void {
  const kind = scenario.controls.fault.kind;
  if (kind === 'none') return;
  const fault = scenario.settings.get('FAULT') as Setting;
  const where = `${describeSource(fault.source)}, scenario ${scenario.name}`;
  if (DESTRUCTIVE_FAULTS.includes(kind)) {
    const remote = targets.filter((t) => t.localTopology === undefined);
    if (remote.length > 0) {
      throw new ConfigError(`FAULT=${kind} (from ${where}) kills or stops server processes, which cachebench does only to the local topologies it starts itself; ` +
        `${remote.map((t) => t.name).join(', ')} ${remote.length === 1 ? 'is' : 'are'} not one (set by ${remote.map((t) => `${t.name}_SERVERS`).join(', ')}). ` +
        `Fix: run it on local topologies (cachebench run --local REDIS_CLUSTER ...), or use ${remote.every((t) => t.protocol === 'memcache') ? '' : 'FAULT=failover (a graceful CLUSTER FAILOVER) or '}FAULT=command with your own FAULT_COMMAND on these servers`);
    }
  }
  if (SCALING_FAULTS.includes(kind)) {
    const other = targets.filter((t) => t.localTopology !== 'REDIS_CLUSTER');
    if (other.length > 0) {
      throw new ConfigError(`FAULT=${kind} (from ${where}) adds or removes nodes of the local Redis Cluster cachebench starts; ${other.map((t) => `${t.name}${t.localTopology !== undefined ? ` (${t.localTopology})` : ''}`).join(', ')} ${other.length === 1 ? 'is' : 'are'} not on it. ` +
        'Fix: run it on --local REDIS_CLUSTER (and its client set-ups REDIS_CLUSTER_NEARCACHE, REDIS_CLUSTER_GLIDE) only');
    }
  }
  if (kind === 'failover' || kind === 'kill-replica') {
    const memcache = targets.filter((t) => t.protocol === 'memcache');
    if (memcache.length > 0) {
      throw new ConfigError(`FAULT=${kind} (from ${where}) needs replicas, and ${memcache.map((t) => t.name).join(', ')} ${memcache.length === 1 ? 'is' : 'are'} memcached, which has none (each key lives on one server). ` +
        'Fix: use FAULT=kill-primary, pause-primary or restart-primary on --local MEMCACHED_POOL or TWEMPROXY_MEMCACHED, or FAULT=command with your own FAULT_COMMAND');
    }
    const without = targets.filter((t) => t.localTopology !== undefined && t.localTopology !== 'REDIS_CLUSTER');
    if (without.length > 0) {
      throw new ConfigError(`FAULT=${kind} (from ${where}) needs replicas, and the local topolog${without.length === 1 ? 'y' : 'ies'} of ${without.map((t) => `${t.name} (${t.localTopology ?? t.name})`).join(', ')} ${without.length === 1 ? 'has' : 'have'} none. ` +
        'Fix: run it on --local REDIS_CLUSTER, or use FAULT=kill-primary / pause-primary / restart-primary there');
    }
  }
}

/** OP_TIMEOUT_MS and CONNECT_TIMEOUT_MS hold for the whole run: scenarios that disagree are an error. */
function runLevelTimeouts(scenarios: readonly ScenarioPlan[]): RunPlan['connection'] {
  const first = scenarios[0];
  if (first === undefined) throw new ConfigError('no scenario to run. Fix: give a scenario file or none for the built-in one');
  for (const key of ['OP_TIMEOUT_MS', 'CONNECT_TIMEOUT_MS'] as const) {
    const a = first.settings.get(key);
    const other = scenarios.find((s) => s.settings.get(key)?.value !== a?.value);
    if (a !== undefined && other !== undefined) {
      const b = other.settings.get(key) as Setting;
      throw badValue(key, b.value, b.source,
        `scenario ${other.name} has ${String(b.value)} (${describeSource(b.source)}) but scenario ${first.name} has ${String(a.value)} (${describeSource(a.source)}); ` +
          'deadlines are set once per run on the connections every scenario shares',
        `give ${key} one value for the run (env var, --envVars or --${key.toLowerCase().replace(/_/g, '-')}), or run the scenarios separately`);
    }
  }
  const largestPayloadBytes = scenarios.reduce((m, s) => s.cases.reduce((n, c) => Math.max(n, c.PAYLOAD_BYTES), m), 0);
  const resilient = scenarios.some((s) => s.controls.fault.kind !== 'none');
  return { opTimeoutMs: first.controls.opTimeoutMs, connectTimeoutMs: first.controls.connectTimeoutMs, largestPayloadBytes, resilient };
}

/** A local topology's target before its servers exist: mode from the topology, servers bound later. */
function pendingLocalTarget(name: string, options: Map<string, { raw: string; source: Source }>, topology: string): TargetConfig {
  for (const [option, entry] of options) {
    if (entry.source.kind !== 'local') {
      throw new ConfigError(`${name}_${option} (from ${describeSource(entry.source)}) is set for the local topology ${name}, which cachebench configures itself. Fix: unset ${name}_${option}`);
    }
  }
  const mode = (options.get('MODE')?.raw ?? 'auto') as Mode;
  const protocol = (options.get('PROTOCOL')?.raw ?? 'resp') as Protocol;
  const sources: Partial<Record<TargetOption, Source>> = {};
  for (const [option, { source }] of options) sources[option as TargetOption] = source;
  return { name, servers: [], protocol, itemSizeMax: DEFAULT_ITEM_SIZE_MAX, mode, ...clientSetup(name, mode, options, protocol), tls: false, sources, pendingServers: true, localTopology: topology };
}

/**
 * Fills in the servers of local topologies once they run (`<NAME>_SERVERS` values written by
 * cachebench itself). Every other part of the plan was validated before anything started.
 */
export function bindLocalServers(plan: RunPlan, servers: Readonly<Record<string, string>>): RunPlan {
  const targets = plan.targets.map((t) => {
    if (t.pendingServers !== true) return t;
    const topology = t.localTopology ?? t.name;
    const list = servers[topology];
    if (list === undefined) throw new ConfigError(`local topology ${topology} (of target ${t.name}) was not started. Fix: report this as a cachebench bug`);
    const { pendingServers: _pending, ...rest } = t;
    void _pending;
    const itemSizeMax = t.protocol === 'memcache' ? localItemSizeMax(plan.connection.largestPayloadBytes) : t.itemSizeMax;
    return { ...rest, itemSizeMax, servers: parseServers(`${t.name}_SERVERS`, list, { kind: 'local' }) };
  });
  return { ...plan, targets };
}
