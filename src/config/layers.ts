import { isMap, isScalar, parseDocument, visit } from 'yaml';
import { ConfigError, badValue, describeSource, type Source } from './errors.js';
import { InputFileError, MAX_SCENARIO_FILE_BYTES, readInputFile } from './input-file.js';
import { KEY_BY_NAME, KEY_SPECS, SLO_PERCENTILES, TARGET_OPTIONS } from './keys.js';
import { registerSecret } from './redact.js';
import { closest } from './suggest.js';

/**
 * Input layers: scenario files, the environment and --envVars read into KEY -> raw value, each with where it came from;
 * the targets they name, look-alikes of our keys, and the passwords in them registered for masking.
 */

export type Layer = Map<string, { raw: unknown; source: Source }>;

const TARGET_NAME = /^[A-Z][A-Z0-9_]*[A-Z0-9]$|^[A-Z]$/;
export const ENVVARS_SOURCE: Source = { kind: 'envVars' };
export const ENV_SOURCE: Source = { kind: 'env' };

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

export function readScenarioFile(file: string): Layer {
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
    // over 30 s), so a 1 MiB file parses in a few seconds at most. A scenario is a flat mapping of keys to scalars or
    // lists: no anchors or aliases (yaml resolves each alias by walking the document, and aliases of lists nest into
    // values of any size), no merge keys, no tagged collections (!!omap, !!set).
    const document = parseDocument(text, { uniqueKeys: false, merge: false });
    const [first] = document.errors;
    if (first !== undefined) throw first;
    let reference = false;
    visit(document, {
      Alias: () => {
        reference = true;
        return visit.BREAK;
      },
      Node: (_key, node) => {
        if (node.anchor === undefined) return undefined;
        reference = true;
        return visit.BREAK;
      },
    });
    if (reference) throw new ConfigError(`scenario file ${file} uses YAML anchors or aliases (&name, *name). Fix: write each value out`);
    const contents = document.contents;
    if (contents !== null && (!isMap(contents) || (contents.tag !== undefined && contents.tag !== 'tag:yaml.org,2002:map'))) {
      throw new ConfigError(`scenario file ${file} must be a YAML mapping of KEY: value${contents.tag !== undefined ? ` (not ${contents.tag.replace('tag:yaml.org,2002:', '!!')})` : ''}. Fix: write e.g. "READ_RATIO: 100" on its own line`);
    }
    if (isMap(contents)) {
      const seen = new Set<string>();
      for (const item of contents.items) {
        const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
        if (key === '<<' || (isScalar(item.key) && typeof item.key.value === 'symbol')) throw new ConfigError(`scenario file ${file} uses a YAML merge key (<<). Fix: write each key out`);
        if (seen.has(key)) throw new ConfigError(`scenario file ${file} sets ${key.slice(0, 80)} twice. Fix: keep one ${key.slice(0, 80)} line`);
        seen.add(key);
      }
    }
    doc = document.toJS();
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

/** Names of targets defined in a layer by `<NAME>_SERVERS` keys (or `<NAME>_SENTINELS`: a Redis Sentinel deployment). */
export function targetNamesOf(layer: Layer, strict: boolean): string[] {
  const names: string[] = [];
  for (const [key, { raw, source }] of layer) {
    const suffix = /_(SERVERS|SENTINELS)$/i.exec(key)?.[0];
    if (suffix === undefined || KEY_BY_NAME.has(key)) continue;
    const name = key.slice(0, -suffix.length);
    const valid = TARGET_NAME.test(name) && key.endsWith(suffix.toUpperCase());
    if (!valid && !strict) continue; // e.g. npm_config_dns_servers in the environment is not ours
    if (!valid) {
      throw badValue(key, raw, source, `target name ${JSON.stringify(name)} is not upper-case letters, digits and _`,
        `rename it, e.g. ${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}${suffix.toUpperCase()}`);
    }
    if (!names.includes(name)) names.push(name);
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
export const SWEEP_KEYS = KEY_SPECS.filter((k) => k.sweepable).map((k) => k.name);

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
export function envLookAlikes(env: Layer, names: ReadonlySet<string>): LookAlike[] {
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
export function registerSecrets(layers: readonly Layer[]): void {
  for (const layer of layers) {
    for (const [key, { raw }] of layer) {
      if (typeof raw !== 'string') continue;
      if (/PASSWORD$/i.test(key)) registerSecret(raw);
      if (/_(SERVERS|SENTINELS)$/i.test(key)) {
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

export function splitLayer(layer: Layer, names: ReadonlySet<string>, strict: boolean): SplitLayer {
  const scenario: Layer = new Map();
  const target = new Map<string, Map<string, { raw: string; source: Source }>>();
  for (const [key, entry] of layer) {
    if (KEY_BY_NAME.has(key)) {
      scenario.set(key, entry);
      continue;
    }
    if (/^SLO_P\d+_MS$/.test(key)) {
      // An objective is never left out silently (a typo would make a capacity run meet an objective nobody set).
      throw new ConfigError(`unknown objective ${key} (from ${describeSource(entry.source)}): the percentiles a capacity objective may name are ` +
        `${Object.values(SLO_PERCENTILES).map((p) => `p${p}`).join(', ')}. Fix: use ${Object.keys(SLO_PERCENTILES).join(', ')} (milliseconds)${entry.source.kind === 'env' ? `, or unset ${key}` : ''}`);
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
