import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { requireBinary } from './binaries.js';
import { LocalSetupError } from './errors.js';
import { findFreePorts } from './ports.js';
import { startProcess, type ManagedProcess } from './process.js';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly process: ManagedProcess;
}

export interface StartRedisOptions {
  /** Folder for the server's files (log, cluster config); nothing is written elsewhere. */
  readonly dir: string;
  readonly cluster?: boolean;
  /** cluster-node-timeout in ms. @default 5000 */
  readonly nodeTimeoutMs?: number;
  /** Ports not to use (already handed out). */
  readonly avoid?: ReadonlySet<number>;
  /** Port to try first (from findFreePorts); another free one is used if it was taken meanwhile. */
  readonly port?: number;
  /** Let the server outlive this process (`cachebench up`). */
  readonly detached?: boolean;
}

/** Sends one command on a fresh connection with no retries; rejects on any failure. */
export async function adminCommand(port: number, ...args: string[]): Promise<string> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 2000, protocol: 2, enableReadyCheck: false, disableClientInfo: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const [command, ...rest] = args;
    return String(await redis.call(command as string, ...rest));
  } finally {
    redis.disconnect();
  }
}

export async function waitUntil(what: string, deadlineMs: number, check: () => Promise<boolean>, abortIf?: () => string | undefined): Promise<void> {
  const end = Date.now() + deadlineMs;
  let lastError: unknown;
  while (Date.now() < end) {
    const reason = abortIf?.();
    if (reason !== undefined) throw new LocalSetupError(`${what}: ${reason}`);
    try {
      if (await check()) return;
    } catch (error: unknown) {
      lastError = error;
    }
    await sleep(50);
  }
  throw new LocalSetupError(`${what}: not ready after ${deadlineMs} ms${lastError instanceof Error ? ` (${lastError.message})` : ''}`, { cause: lastError });
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch (error: unknown) {
    return `no log (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
}

/**
 * Starts one redis-server on a free loopback port (no persistence, files in `dir`) and waits for PING.
 * If the port was grabbed in the meantime, tries another one.
 */
export async function startRedisServer(options: StartRedisOptions): Promise<RedisServer> {
  const binary = requireBinary('redis-server');
  const avoid = new Set(options.avoid ?? []);
  for (let attempt = 1; ; attempt++) {
    const [port] = attempt === 1 && options.port !== undefined ? [options.port] : await findFreePorts(1, avoid);
    if (port === undefined) throw new LocalSetupError('no free port');
    avoid.add(port);
    const log = join(options.dir, `redis-${port}.log`);
    const args = [
      '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes',
      '--save', '', '--appendonly', 'no', '--dir', options.dir, '--logfile', log, '--daemonize', 'no',
      ...(options.cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 5000)] : []),
    ];
    const proc = startProcess(`redis-server:${port}`, binary, args, options.dir, options.detached);
    try {
      await waitUntil(`redis-server on port ${port}`, 10_000, async () => (await adminCommand(port, 'PING')) === 'PONG',
        () => (proc.hasExited() ? `exited: ${logTail(log)}` : undefined));
      return { host: '127.0.0.1', port, process: proc };
    } catch (error: unknown) {
      await proc.stop();
      if (attempt >= 3) throw error;
    }
  }
}

/**
 * Starts one server per port in parallel (every port is avoided by the others' fallbacks).
 * If any fails, stops those that started and rethrows.
 */
export async function startRedisServers(ports: readonly number[], options: Omit<StartRedisOptions, 'port' | 'avoid'>): Promise<RedisServer[]> {
  const avoid = new Set(ports);
  const starts = await Promise.allSettled(ports.map((port) => startRedisServer({ ...options, port, avoid })));
  const started = starts.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = starts.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(started.map((server) => server.process.stop()));
    throw failed.reason;
  }
  return started;
}

export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  /** Stops every node (by PID). */
  stop(): Promise<void>;
}

/**
 * Starts `primaries` × (1 + `replicasPerPrimary`) cluster-enabled servers, joins them with
 * `redis-cli --cluster create`, and waits until every node reports cluster_state:ok with
 * all 16384 slots assigned and every node known.
 */
export async function startRedisCluster(options: { dir: string; primaries?: number; replicasPerPrimary?: number; nodeTimeoutMs?: number; detached?: boolean }): Promise<RedisCluster> {
  const primaries = options.primaries ?? 3;
  const replicas = options.replicasPerPrimary ?? 1;
  const cli = requireBinary('redis-cli');
  const nodes: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.process.stop()));
  };
  try {
    const ports = await findFreePorts(primaries * (1 + replicas));
    nodes.push(...(await startRedisServers(ports, {
      dir: options.dir, cluster: true, detached: options.detached === true,
      ...(options.nodeTimeoutMs !== undefined ? { nodeTimeoutMs: options.nodeTimeoutMs } : {}),
    })));
    await run(cli, ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });
    for (const node of nodes) {
      await waitUntil(`cluster node ${node.port}`, 20_000, async () => {
        const info = await adminCommand(node.port, 'CLUSTER', 'INFO');
        if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384') || !info.includes(`cluster_known_nodes:${nodes.length}`)) return false;
        // Every node must also see every replica attached (gossip takes a moment after create).
        const roles = (await adminCommand(node.port, 'CLUSTER', 'NODES')).split('\n').filter((l) => / (myself,)?slave /.test(l));
        return roles.length === primaries * replicas;
      });
    }
    return { nodes, stop };
  } catch (error: unknown) {
    await stop();
    throw error;
  }
}
