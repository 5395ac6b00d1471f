import { ConfigError, badValue, describeSource, type Source } from './errors.js';
import { InputFileError, MAX_CA_FILE_BYTES, MAX_PASSWORD_FILE_BYTES, readInputFile } from './input-file.js';
import { CACHE_MODES, CLIENTS, CLIENT_SUPPORT, DEFAULT_CACHE_ENTRIES, DEFAULT_SENTINEL_MASTER, DEFAULT_ITEM_SIZE_MAX, ITEM_OVERHEAD_BYTES, MODES, PROTOCOLS, PROTOCOL_CLIENTS, READ_FROM, type ClientName, type Mode, type Protocol, type TargetOption } from './keys.js';
import { registerSecret } from './redact.js';
import { parseServers, type ServerAddress } from './servers.js';
import { parseBoolean } from './values.js';
import type { RunPlan, TargetConfig } from './plan.js';
import { ENV_SOURCE } from './layers.js';

/** One target from its `<NAME>_*` options: servers, protocol, client set-up, credentials, TLS, item size. */

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

type TlsSetup = { tls: boolean; tlsCa: TargetConfig['tlsCa']; tlsServername: string | undefined };

/** TLS and its CA file and server name: on when asked, or when a CA, a server name or a rediss:// server says so. */
function tlsSetup(name: string, servers: readonly ServerAddress[], client: TargetConfig['client'], options: Map<string, { raw: string; source: Source }>): TlsSetup {
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
  return { tls, tlsCa, tlsServername };
}

/**
 * A Redis Sentinel target: `<NAME>_SENTINELS` lists the sentinels (host:port), `<NAME>_SENTINEL_MASTER` the name they
 * monitor the primary by (default mymaster), `<NAME>_SENTINEL_USERNAME`/`_PASSWORD` their own login. What Sentinel
 * targets do not have yet is refused, naming why: SERVERS beside SENTINELS, another MODE, memcache, TLS, replica reads.
 */
function sentinelSetup(name: string, options: TargetOptions): TargetConfig['sentinel'] {
  const sentinels = options.get('SENTINELS');
  const others = ['SENTINEL_MASTER', 'SENTINEL_USERNAME', 'SENTINEL_PASSWORD'].filter((o) => options.has(o));
  if (sentinels === undefined) {
    const first = others[0];
    if (first !== undefined) {
      const entry = options.get(first) as { raw: string; source: Source };
      throw badValue(`${name}_${first}`, first === 'SENTINEL_PASSWORD' ? '(hidden)' : entry.raw, entry.source, `${name}_SENTINELS is not set, so ${name} is not a Sentinel target`,
        `set ${name}_SENTINELS=host:port,... (the sentinels), or unset ${name}_${first}`);
    }
    return undefined;
  }
  const serversEntry = options.get('SERVERS');
  if (serversEntry !== undefined && serversEntry.source.kind !== 'local') {
    throw badValue(`${name}_SERVERS`, serversEntry.raw, serversEntry.source, `${name}_SENTINELS is set too: a Sentinel target's client asks the sentinels where the primary is`,
      `unset ${name}_SERVERS (or ${name}_SENTINELS for a target of its own servers)`);
  }
  const modeEntry = options.get('MODE');
  if (modeEntry !== undefined && modeEntry.raw.trim().toLowerCase() !== 'sentinel') {
    throw badValue(`${name}_MODE`, modeEntry.raw, modeEntry.source, `${name}_SENTINELS makes ${name} a Sentinel target`, `unset ${name}_MODE (or set it to sentinel)`);
  }
  for (const [option, why] of [
    ['PROTOCOL', 'Sentinel monitors Redis servers, which speak RESP'],
    ['TLS', 'Sentinel targets over TLS are not supported yet'], ['TLS_CA', 'Sentinel targets over TLS are not supported yet'], ['TLS_SERVERNAME', 'Sentinel targets over TLS are not supported yet'],
    ['READ_FROM', 'replica reads through Sentinel are not supported yet'],
  ] as const) {
    const entry = options.get(option);
    const harmless = entry !== undefined && ((option === 'TLS' && /^(false|0|no|off)$/i.test(entry.raw.trim())) || (option === 'PROTOCOL' && /^resp$/i.test(entry.raw.trim()))
      || (option === 'READ_FROM' && /^primary$/i.test(entry.raw.trim())));
    if (entry !== undefined && !harmless) throw badValue(`${name}_${option}`, entry.raw, entry.source, why, `unset ${name}_${option}`);
  }
  const master = (options.get('SENTINEL_MASTER')?.raw ?? DEFAULT_SENTINEL_MASTER).trim();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(master)) {
    const entry = options.get('SENTINEL_MASTER') as { raw: string; source: Source };
    throw badValue(`${name}_SENTINEL_MASTER`, entry.raw, entry.source, 'not a master name (letters, digits, . _ -; at most 64)', `set ${name}_SENTINEL_MASTER to the name in the sentinels' "sentinel monitor <name> ..." line`);
  }
  const username = options.get('SENTINEL_USERNAME')?.raw;
  const password = options.get('SENTINEL_PASSWORD')?.raw;
  if (password !== undefined) registerSecret(password);
  return { master, ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

export function buildTarget(name: string, options: Map<string, { raw: string; source: Source }>): TargetConfig {
  const sources: Partial<Record<TargetOption, Source>> = {};
  for (const [option, { source }] of options) sources[option as TargetOption] = source;
  const sentinel = sentinelSetup(name, options);
  const serversKey = sentinel !== undefined ? 'SENTINELS' : 'SERVERS';
  const serversEntry = options.get(serversKey);
  if (serversEntry === undefined) throw new ConfigError(`target ${name} has options but no ${name}_SERVERS. Fix: set ${name}_SERVERS=host:port (or ${name}_SENTINELS=host:port,... for Redis Sentinel)`);
  const servers = parseServers(`${name}_${serversKey}`, serversEntry.raw, serversEntry.source);
  if (sentinel !== undefined && servers.some((s) => s.tls || s.username !== undefined || s.password !== undefined)) {
    throw badValue(`${name}_SENTINELS`, serversEntry.raw, serversEntry.source,
      'a rediss:// sentinel or one with credentials in its URL: Sentinel over TLS is not supported yet, and the sentinels\' login has keys of its own',
      `list the sentinels as host:port, with ${name}_SENTINEL_USERNAME / ${name}_SENTINEL_PASSWORD for their login`);
  }
  const protocol = choice(`${name}_PROTOCOL`, options.get('PROTOCOL'), PROTOCOLS, 'resp', 'protocol');

  const modeEntry = options.get('MODE');
  let mode: Mode = sentinel !== undefined ? 'sentinel' : 'auto';
  if (modeEntry !== undefined) {
    const value = modeEntry.raw.trim().toLowerCase();
    if (!(MODES as readonly string[]).includes(value)) {
      throw badValue(`${name}_MODE`, modeEntry.raw, modeEntry.source, 'unknown mode', `set ${name}_MODE to one of ${MODES.join(', ')}`);
    }
    mode = value as Mode;
    if (mode === 'sentinel' && sentinel === undefined) {
      throw badValue(`${name}_MODE`, modeEntry.raw, modeEntry.source, `a Sentinel target is named by ${name}_SENTINELS (the sentinels), not ${name}_SERVERS`,
        `set ${name}_SENTINELS=host:port,... and ${name}_SENTINEL_MASTER, and unset ${name}_SERVERS and ${name}_MODE`);
    }
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
  const { tls, tlsCa, tlsServername } = tlsSetup(name, servers, client, options);
  const username = options.get('USERNAME')?.raw;
  const password = passwordOf(name, options);
  return {
    name, servers, protocol, itemSizeMax: DEFAULT_ITEM_SIZE_MAX, mode, client, cache, cacheEntries, readFrom, waitReplicas, tls, sources,
    ...(sentinel !== undefined ? { sentinel } : {}),
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
function memcacheTarget(name: string, servers: readonly ServerAddress[], mode: Mode, options: TargetOptions,
  sources: Partial<Record<TargetOption, Source>>): TargetConfig {
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

/** A local topology's target before its servers exist: mode from the topology, servers bound later. */
export function pendingLocalTarget(name: string, options: Map<string, { raw: string; source: Source }>, topology: string): TargetConfig {
  for (const [option, entry] of options) {
    if (entry.source.kind !== 'local') {
      throw new ConfigError(`${name}_${option} (from ${describeSource(entry.source)}) is set for the local topology ${name}, which cachebench configures itself. Fix: unset ${name}_${option}`);
    }
  }
  const mode = (options.get('MODE')?.raw ?? 'auto') as Mode;
  const protocol = (options.get('PROTOCOL')?.raw ?? 'resp') as Protocol;
  const sources: Partial<Record<TargetOption, Source>> = {};
  // A local Sentinel target's servers are its sentinels: recorded as SENTINELS, as a user would set them.
  for (const [option, { source }] of options) sources[(mode === 'sentinel' && option === 'SERVERS' ? 'SENTINELS' : option) as TargetOption] = source;
  return { name, servers: [], protocol, itemSizeMax: DEFAULT_ITEM_SIZE_MAX, mode, ...clientSetup(name, mode, options, protocol), tls: false, sources,
    // A local Sentinel target's servers are its sentinels (bound once they run).
    ...(mode === 'sentinel' ? { sentinel: { master: options.get('SENTINEL_MASTER')?.raw ?? DEFAULT_SENTINEL_MASTER } } : {}),
    pendingServers: true, localTopology: topology };
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
