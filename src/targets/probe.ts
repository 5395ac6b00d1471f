import { Redis, type RedisOptions } from 'ioredis';
import { redactSecrets, registerSecret } from '../config/redact.js';
import type { RunControls, TargetConfig } from '../config/resolve.js';
import type { ServerAddress } from '../config/servers.js';
import { TargetMismatchError, TargetUnreachableError, type Probe, type TargetInfo, type TargetProbe } from './client.js';
import { detectProtocol, diagnoseConnectError } from './diagnose.js';
import { tlsOptionsFor } from './tls.js';

/**
 * What every driver learns before it opens its measured connections: each listed server is probed alone
 * (with ioredis, whatever the target's client), the mode is checked, and a password the servers do not need is found.
 */

/** Parses INFO output into a map of field -> value. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** The user name and password a connection to `server` logs in with: `<NAME>_USERNAME`/`<NAME>_PASSWORD`, else the URL's. */
export function credentialsFor(config: TargetConfig, server: ServerAddress): { username?: string; password?: string } {
  const username = config.username ?? server.username;
  const password = config.password ?? server.password;
  return { ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

/** The option that gave the password: `<NAME>_PASSWORD_FILE` or `<NAME>_PASSWORD`. */
const passwordKey = (config: TargetConfig): string => `${config.name}_PASSWORD${config.passwordFile !== undefined ? '_FILE' : ''}`;

/** Where the password for `server` comes from, for the fix of a refused login (see diagnose.ts). */
function passwordFrom(config: TargetConfig, server: ServerAddress): 'option' | 'file' | 'url' | undefined {
  if (config.password !== undefined) return config.passwordFile !== undefined ? 'file' : 'option';
  return (server.password ?? config.servers[0]?.password) !== undefined ? 'url' : undefined;
}

/**
 * Options shared by every connection of a target. `server` gives URL credentials and the TLS name;
 * for a cluster's shared `redisOptions` pass undefined for `tlsHost` (each node then gets its own, see clusterTlsOptions).
 * `login: false` leaves the credentials out (the probe sends AUTH itself; see probe()).
 */
export function ioredisOptions(config: TargetConfig, server: ServerAddress, controls: RunControls, tlsHost: string | undefined = server.host,
  login = true): RedisOptions {
  const { username, password } = login ? credentialsFor(config, server) : {};
  return {
    // RESP2 on the wire: what proxies (twemproxy) understand, and one round trip less than HELLO 3.
    protocol: 2,
    // CLIENT SETINFO on connect would make a proxy (twemproxy) close the connection.
    disableClientInfo: true,
    connectTimeout: controls.connectTimeoutMs,
    commandTimeout: controls.opTimeoutMs,
    // A failed op is reported, not retried behind our back (retries would hide errors and skew timings).
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    // disconnect() ends the socket and destroys it if the server has not closed it after this long; ioredis's
    // default (2000 ms) timer keeps the process alive after a slow or dead server's run. Nothing is lost:
    // disconnect() is called only once QUIT was answered or given up on.
    disconnectTimeout: 0,
    // A WORKLOAD's fault run: a command whose connection closed before its reply is failed, not sent again (it may have run).
    ...(controls.exactWrites === true ? { autoResendUnfulfilledCommands: false } : {}),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(config.tls ? { tls: tlsOptionsFor(config, tlsHost) } : {}),
  };
}

/** ioredis attaches the failed command to reply errors; AUTH and HELLO carry the password. */
export function dropCredentials(error: unknown): void {
  const command = (error as { command?: { name?: unknown } } | null)?.command;
  if (typeof command?.name === 'string' && ['auth', 'hello'].includes(command.name.toLowerCase())) {
    delete (error as { command?: unknown }).command;
  }
}

/**
 * A server's or ioredis's message with credentials masked by the central redactor. The target's passwords are
 * registered first: configuration does so too, but a driver may be used without it (API, tests).
 */
export function redactFor(text: string, config: TargetConfig): string {
  registerTargetSecrets(config);
  return redactSecrets(text);
}

/** Registers a target's passwords with the redactor (a load worker's process, which never read the configuration, too). */
export function registerTargetSecrets(config: TargetConfig): void {
  for (const secret of [config.password, ...config.servers.map((s) => s.password)]) registerSecret(secret);
}

/** Codes and messages after which it is worth asking whether the server speaks the other protocol. */
function mayBeProtocolMismatch(error: unknown, tls: boolean): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  if (tls) return code === 'ETIMEDOUT' || code === 'ECONNRESET' || message === 'Connection is closed.';
  return code === 'ECONNRESET' || code === 'EPIPE' || message === 'Connection is closed.';
}

/** Builds the TargetUnreachableError for a failed connection to one server, with the fix that applies. */
export async function unreachableError(config: TargetConfig, server: ServerAddress, error: unknown, controls: RunControls): Promise<TargetUnreachableError> {
  dropCredentials(error);
  const speaks = mayBeProtocolMismatch(error, config.tls)
    ? await detectProtocol(server, config.tls, Math.min(controls.connectTimeoutMs, 1000))
    : undefined;
  const from = passwordFrom(config, server);
  const { reason, fix } = diagnoseConnectError(error, server, { ...config, ...(from !== undefined ? { passwordFrom: from } : {}) }, speaks);
  return new TargetUnreachableError(config.name, server.display, redactFor(reason, config), fix, { cause: error });
}

/** AUTH replies that mean the server has no password to check (Redis, and twemproxy without redis_auth). */
const NO_PASSWORD_SET = /no password is set|without any password configured/i;

/**
 * Logs in with the target's credentials, if any. Sent here rather than by ioredis on connect: ioredis answers
 * "no password is set" with a console.warn of its own; here it becomes `passwordUnneeded` (a warning in the
 * target's info), and the measured connection then leaves the password out.
 */
async function login(redis: Redis, config: TargetConfig, server: ServerAddress): Promise<boolean> {
  const { username, password } = credentialsFor(config, server);
  if (password === undefined) return false;
  try {
    await (username !== undefined ? redis.call('AUTH', username, password) : redis.call('AUTH', password));
    return false;
  } catch (error: unknown) {
    if (username === undefined && error instanceof Error && NO_PASSWORD_SET.test(error.message)) return true;
    throw error;
  }
}

/**
 * Connects to one listed server alone, logs in, reads INFO (and CLUSTER NODES when cluster-enabled), disconnects.
 * In proxy mode only PING is sent: proxies such as twemproxy close the connection on INFO.
 */
async function probe(config: TargetConfig, server: ServerAddress, controls: RunControls): Promise<Probe> {
  const redis = new Redis({
    ...ioredisOptions(config, server, controls, server.host, false),
    host: server.host,
    port: server.port,
    lazyConnect: true,
    retryStrategy: () => null,
    enableReadyCheck: false,
  });
  // ioredis rejects connect() with a generic "Connection is closed."; the cause comes as an 'error' event.
  let socketError: Error | undefined;
  redis.on('error', (error: Error) => {
    socketError ??= error;
  });
  try {
    await redis.connect();
    const passwordUnneeded = await login(redis, config, server);
    const unneeded = passwordUnneeded ? { passwordUnneeded } : {};
    if (config.mode === 'proxy') {
      const pong = await redis.ping();
      if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
      return { server, info: new Map(), ...unneeded };
    }
    const info = parseInfo(await redis.info());
    let clusterNodes: string | undefined;
    if (info.get('cluster_enabled') === '1') {
      const state = parseInfo(String(await redis.call('CLUSTER', 'INFO'))).get('cluster_state');
      if (state !== 'ok') throw new Error(`cluster_state is ${state ?? 'unknown'}, not ok`);
      clusterNodes = String(await redis.call('CLUSTER', 'NODES'));
    }
    let rangesWithoutReplica: Probe['rangesWithoutReplica'];
    if (clusterNodes !== undefined && config.readFrom === 'replica') {
      // Clients find replicas in CLUSTER SLOTS (entry: start, end, primary, replicas...).
      const slots = await redis.call('CLUSTER', 'SLOTS') as unknown[][];
      rangesWithoutReplica = { without: slots.filter((range) => range.length <= 3).length, of: slots.length };
    }
    return { server, info, ...(clusterNodes !== undefined ? { clusterNodes } : {}), ...(rangesWithoutReplica !== undefined ? { rangesWithoutReplica } : {}),
      ...unneeded };
  } catch (error: unknown) {
    throw await unreachableError(config, server, socketError ?? error, controls);
  } finally {
    redis.disconnect();
  }
}

function countClusterRoles(nodes: string): { primaries: number; replicas: number } {
  let primaries = 0;
  let replicas = 0;
  for (const line of nodes.split('\n')) {
    const flags = line.split(' ')[2] ?? '';
    if (flags.includes('fail') || flags.includes('noaddr')) continue;
    if (flags.includes('master')) {
      // A primary without slots is not serving data.
      if (line.trim().split(' ').length > 8) primaries++;
    } else if (flags.includes('slave')) replicas++;
  }
  return { primaries, replicas };
}

/** Servers that answered in a way the target's configuration does not allow: exit 3, with the fix. */
function checkMode(config: TargetConfig, probes: readonly Probe[]): 'cluster' | 'standalone' | 'proxy' {
  const name = config.name;
  const clusterEnabled = probes.filter((p) => p.info.get('cluster_enabled') === '1');
  const notCluster = probes.find((p) => p.info.get('cluster_enabled') !== '1');
  if (config.mode === 'auto' && clusterEnabled.length > 0 && notCluster !== undefined) {
    throw new TargetMismatchError(name, notCluster.server.display, `it is a standalone server while ${clusterEnabled[0]?.server.display ?? 'another server'} of ${name}_SERVERS is a Redis Cluster node`,
      `list the servers of one deployment per target in ${name}_SERVERS`);
  }
  const mode = config.mode === 'auto' ? (clusterEnabled.length > 0 ? 'cluster' : 'standalone') : config.mode;
  if (mode === 'cluster' && notCluster !== undefined) {
    throw new TargetMismatchError(name, notCluster.server.display, `${name}_MODE=cluster but the server reports cluster_enabled:0`, `set ${name}_MODE=standalone or auto`);
  }
  const clusterNode = clusterEnabled[0];
  if (mode === 'standalone' && clusterNode !== undefined) {
    throw new TargetMismatchError(name, clusterNode.server.display, `${name}_MODE=standalone but the server is a Redis Cluster node (it would answer MOVED)`, `set ${name}_MODE=cluster or auto`);
  }
  if (mode !== 'cluster' && probes.length > 1) {
    throw new TargetMismatchError(name, probes.map((p) => p.server.display).join(','), `${name}_SERVERS lists ${probes.length} ${mode} servers; a ${mode} target is one server`,
      `list one server in ${name}_SERVERS and give each other server a target of its own (<OTHER>_SERVERS=host:port)`);
  }
  if (mode === 'sentinel') throw new TargetMismatchError(name, probes[0]?.server.display ?? '(none)', 'a Sentinel target is probed through its sentinels', `set ${name}_SENTINELS`);
  return mode;
}

/**
 * Probes every listed server alone (INFO, CLUSTER NODES; PING for a proxy) and checks the answers against the
 * target's configuration. Raises TargetUnreachableError / TargetMismatchError (exit 3); writes nothing.
 */
export async function probeTarget(config: TargetConfig, controls: RunControls): Promise<TargetProbe> {
  if (config.mode === 'sentinel') return probeSentinelTarget(config, controls);
  // Both are rejected by configuration validation (exit 2, before any traffic); checked here again, before
  // this target is probed, for callers that skip validation. Never a ConfigError: other targets may have been probed.
  const name = config.name;
  if ((config.mode === 'standalone' || config.mode === 'proxy') && config.servers.length > 1) {
    throw new TargetMismatchError(name, config.servers.map((s) => s.display).join(','), `${name}_MODE=${config.mode} takes one server but ${name}_SERVERS lists ${config.servers.length}`,
      `list one server in ${name}_SERVERS and give each other server a target of its own, or set ${name}_MODE=cluster (or auto) for a Redis Cluster`);
  }
  const first = config.servers[0];
  if (first === undefined) throw new TargetMismatchError(name, '(none)', `${name}_SERVERS lists no server`, `list at least one server in ${name}_SERVERS`);
  const settled = await Promise.allSettled(config.servers.map((server) => probe(config, server, controls)));
  const probes = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ server: config.servers[i] as ServerAddress, reason: s.reason as unknown }] : []));
  // A cluster client needs one reachable seed: when the servers that answered are cluster nodes, a listed seed that is
  // down is said in a warning and the client starts from the others. Anything else that failed is the target's error.
  const seedsDown = failed.length > 0 && probes.length > 0 && config.mode !== 'standalone' && config.mode !== 'proxy' &&
    probes.every((p) => p.info.get('cluster_enabled') === '1');
  if (failed.length > 0 && !seedsDown) throw failed[0]?.reason;
  const mode = checkMode(config, probes);
  // A password the servers do not need is not sent (ioredis would print its own warning); the user is told instead.
  const passwordUnneeded = probes.every((p) => p.passwordUnneeded === true);
  const warnings: string[] = passwordUnneeded
    ? [config.password !== undefined
        ? `target ${name}: ${passwordKey(config)} is set but ${probes.map((p) => p.server.display).join(',')} requires no password, so none was sent (unset ${passwordKey(config)})`
        : `target ${name}: the URL in ${name}_SERVERS holds a password but ${probes.map((p) => p.server.display).join(',')} requires none, so none was sent (drop it from the URL)`]
    : [];
  for (const { server, reason } of seedsDown ? failed : []) {
    warnings.push(`target ${name}: ${server.display}, listed in ${name}_SERVERS, did not answer (${reason instanceof TargetUnreachableError ? reason.reason : reason instanceof Error ? reason.message : String(reason)}); ` +
      `the cluster client starts from the ${probes.length === 1 ? 'other seed' : `other ${probes.length} seeds`} (${probes.map((p) => p.server.display).join(',')})`);
  }
  const firstProbe = probes[0];
  let roles = { primaries: mode === 'proxy' ? 0 : 1, replicas: Number(firstProbe?.info.get('connected_slaves') ?? 0) };
  if (mode === 'cluster' && firstProbe?.clusterNodes !== undefined) roles = countClusterRoles(firstProbe.clusterNodes);
  if (config.readFrom === 'replica' && mode !== 'cluster') {
    throw new TargetMismatchError(name, first.display, `${name}_READ_FROM=replica but the server is ${mode === 'proxy' ? 'a proxy' : 'a standalone server'}, not a Redis Cluster node`,
      `unset ${name}_READ_FROM, or list a Redis Cluster's nodes in ${name}_SERVERS`);
  }
  if (config.readFrom === 'replica' && roles.replicas === 0) {
    throw new TargetMismatchError(name, first.display, `${name}_READ_FROM=replica but the cluster has no replica`, `unset ${name}_READ_FROM, or add replicas to the cluster`);
  }
  if (config.waitReplicas > 0) {
    // In a cluster each primary has its own replicas: WAIT <n> needs n behind every primary (counted evenly here).
    const perPrimary = mode === 'cluster' ? Math.floor(roles.replicas / Math.max(1, roles.primaries)) : roles.replicas;
    if (perPrimary < config.waitReplicas) {
      throw new TargetMismatchError(name, first.display, `${name}_WAIT=${config.waitReplicas} but ${mode === 'cluster' ? 'the primaries have' : 'the server has'} ${perPrimary} replica${perPrimary === 1 ? '' : 's'}${mode === 'cluster' ? ' each' : ''}, so no write could be acknowledged`,
        `set ${name}_WAIT to ${perPrimary} or less, or add replicas`);
    }
  }
  const missing = firstProbe?.rangesWithoutReplica;
  if (config.readFrom === 'replica' && missing !== undefined && missing.without === missing.of && missing.of > 0) {
    // No range lists a replica: every client would read from the primaries. Refused rather than labelled replica reads.
    throw new TargetMismatchError(name, first.display, `${name}_READ_FROM=replica, but CLUSTER SLOTS lists no replica for any slot range ` +
      '(Redis leaves out replicas that failed or have not reported a replication offset yet, e.g. in a cluster that has taken no write), so every read would go to a primary',
    `write to the cluster once (any key on each primary) and run again a few seconds later, or unset ${name}_READ_FROM`);
  }
  if (config.readFrom === 'replica' && missing !== undefined && missing.without > 0) {
    // Redis leaves out of CLUSTER SLOTS a replica whose replication offset it knows as 0 (a cluster that has taken no
    // write yet) or that failed: clients then read those slots from the primary, and replica reads would be a label only.
    warnings.push(`target ${name}: ${name}_READ_FROM=replica, but CLUSTER SLOTS on ${first.display} lists no replica for ${missing.without} of ${missing.of} slot ranges ` +
      '(Redis leaves out replicas that failed or have not reported a replication offset yet, e.g. in a cluster that has taken no write): reads of those slots go to the primary');
  }
  const serverVersion = firstProbe?.info.get('redis_version') ?? (mode === 'proxy' ? 'unknown (proxy)' : 'unknown');
  return { mode, first: seedsDown ? (probes[0] as Probe).server : first, probes, passwordUnneeded, roles, serverVersion, warnings };
}

/** Options of a connection to one sentinel: its own login (`<NAME>_SENTINEL_USERNAME`/`_PASSWORD`), RESP2, the run's deadlines. */
export function sentinelOptions(config: TargetConfig, controls: RunControls): RedisOptions {
  const s = config.sentinel;
  return {
    protocol: 2, disableClientInfo: true, connectTimeout: controls.connectTimeoutMs, commandTimeout: controls.opTimeoutMs,
    ...(s?.username !== undefined ? { username: s.username } : {}), ...(s?.password !== undefined ? { password: s.password } : {}),
  };
}

/**
 * A sentinel's answer to SENTINEL GET-MASTER-ADDR-BY-NAME as an address: null when it knows no such master; an error
 * for anything that is not a host name or IP and a port (a sentinel's reply is untrusted: it chooses where we connect).
 */
export function masterAddressOf(reply: unknown): ServerAddress | null {
  if (!Array.isArray(reply) || reply.length !== 2) return null;
  const [host, port] = reply.map(String) as [string, string];
  if (!/^[0-9A-Za-z.:_-]{1,255}$/.test(host) || !/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65_535) {
    throw new Error(`SENTINEL GET-MASTER-ADDR-BY-NAME answered an address that is not one: ${JSON.stringify(reply).slice(0, 120)}`);
  }
  return { host, port: Number(port), tls: false, display: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
}

/** What one sentinel says of the master: its address, or null when it monitors no master of that name. */
async function askSentinel(config: TargetConfig, sentinel: ServerAddress, controls: RunControls): Promise<ServerAddress | null> {
  const redis = new Redis({ ...sentinelOptions(config, controls), host: sentinel.host, port: sentinel.port, lazyConnect: true, retryStrategy: () => null,
    enableReadyCheck: false, maxRetriesPerRequest: 0 });
  let socketError: Error | undefined;
  redis.on('error', (error: Error) => {
    socketError ??= error;
  });
  try {
    await redis.connect();
    return masterAddressOf(await redis.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', config.sentinel?.master ?? ''));
  } catch (error: unknown) {
    const sentinelConfig = { ...config, password: config.sentinel?.password, username: config.sentinel?.username, passwordFile: undefined,
      name: `${config.name}`, servers: config.servers } as TargetConfig;
    throw await unreachableError(sentinelConfig, sentinel, socketError ?? error, controls);
  } finally {
    redis.disconnect();
  }
}

/**
 * A Sentinel target: every sentinel is asked where the master is (SENTINEL GET-MASTER-ADDR-BY-NAME); the primary they
 * name is probed as a standalone server (INFO, the data nodes' login) and must say role:master. Sentinels that do not
 * answer are a warning while one does; sentinels that disagree are a warning (a failover under way).
 */
async function probeSentinelTarget(config: TargetConfig, controls: RunControls): Promise<TargetProbe> {
  const name = config.name;
  const master = config.sentinel?.master ?? '';
  const settled = await Promise.allSettled(config.servers.map((s) => askSentinel(config, s, controls)));
  const answers = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [{ sentinel: config.servers[i] as ServerAddress, primary: s.value }] : []));
  const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ sentinel: config.servers[i] as ServerAddress, reason: s.reason as unknown }] : []));
  if (answers.length === 0) throw failed[0]?.reason ?? new TargetMismatchError(name, '(none)', `${name}_SENTINELS lists no sentinel`, `list the sentinels in ${name}_SENTINELS`);
  const named = answers.filter((a) => a.primary !== null);
  const primary = named[0]?.primary;
  if (primary === undefined || primary === null) {
    throw new TargetMismatchError(name, answers.map((a) => a.sentinel.display).join(','), `no sentinel monitors a master named ${JSON.stringify(master)}`,
      `set ${name}_SENTINEL_MASTER to the name in the sentinels' "sentinel monitor <name> ..." line`);
  }
  const warnings: string[] = failed.map(({ sentinel, reason }) => `target ${name}: sentinel ${sentinel.display}, listed in ${name}_SENTINELS, did not answer (${reason instanceof TargetUnreachableError ? reason.reason : reason instanceof Error ? reason.message : String(reason)})`);
  const disagree = named.filter((a) => a.primary?.display !== primary.display);
  if (disagree.length > 0) warnings.push(`target ${name}: the sentinels disagree on the primary (${named.map((a) => `${a.sentinel.display} says ${a.primary?.display ?? '?'}`).join('; ')}): a failover may be under way; the client follows the sentinels`);
  const probed = await probe({ ...config, mode: 'standalone' }, primary, controls);
  const role = probed.info.get('role');
  if (role !== 'master') {
    throw new TargetMismatchError(name, primary.display, `the sentinels name ${primary.display} as master ${master}, but it says role:${role ?? 'unknown'}`,
      'run again once the sentinels agree on a primary (a failover may be under way)');
  }
  const passwordUnneeded = probed.passwordUnneeded === true;
  if (passwordUnneeded) warnings.push(`target ${name}: ${passwordKey(config)} is set but ${primary.display} requires no password, so none was sent (unset ${passwordKey(config)})`);
  return {
    mode: 'sentinel', first: primary, probes: [probed], passwordUnneeded,
    roles: { primaries: 1, replicas: Number(probed.info.get('connected_slaves') ?? 0) },
    serverVersion: probed.info.get('redis_version') ?? 'unknown', warnings,
  };
}

/** The TargetInfo every driver reports: what the probe found, the target's set-up, the driver's name and version. */
export function targetInfo(config: TargetConfig, probe: TargetProbe, client: string, clientVersion: string,
  warnings: readonly string[] = probe.warnings): TargetInfo {
  return {
    mode: probe.mode,
    modeDetected: config.mode === 'auto',
    serverVersion: probe.serverVersion,
    primaries: probe.roles.primaries,
    replicas: probe.roles.replicas,
    client,
    clientVersion,
    servers: config.servers.map((s) => s.display),
    tls: config.tls,
    cache: config.cache,
    ...(config.cache === 'tracking' ? { cacheEntries: config.cacheEntries } : {}),
    readFrom: config.readFrom,
    ...(config.waitReplicas > 0 ? { waitReplicas: config.waitReplicas } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}
