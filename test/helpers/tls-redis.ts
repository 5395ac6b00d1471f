import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { findFreePorts, isPortFree } from '../../src/local/ports.js';
import type { CertFiles } from './tls-certs.js';

/** A process this test started; stopped by its own PID only. */
export interface TestProcess {
  readonly pid: number;
  hasExited(): boolean;
  /** SIGTERM, SIGKILL after 3 s; resolves once it is gone. */
  stop(): Promise<void>;
}

/** A redis-server that accepts only TLS connections (no plain port), started by this test. */
export interface TlsRedis {
  readonly host: string;
  readonly port: number;
  readonly process: TestProcess;
}

/** Spawns a server process (output ignored) that the test stops by PID in its `after`. */
export function spawnServer(command: string, args: readonly string[], cwd: string): TestProcess {
  const child = spawn(command, args, { cwd, stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command}`);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  }).then(() => {
    done = true;
  });
  return {
    pid,
    hasExited: () => done,
    async stop() {
      if (done) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (!done) process.kill(pid, 'SIGKILL');
      }, 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface TlsRedisOptions {
  readonly dir: string;
  readonly cert: CertFiles;
  /** CA file the server trusts (for the cluster bus; clients need no certificate). */
  readonly caFile: string;
  /** Loopback address to bind, e.g. 127.0.0.2. @default 127.0.0.1 */
  readonly host?: string;
  /** Cluster-enabled with TLS on the cluster bus. */
  readonly cluster?: boolean;
  readonly port?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One TLS command with the CA (the certificate's names are not checked); rejects on any failure. */
export async function tlsCommand(host: string, port: number, caFile: string, ...args: [string, ...string[]]): Promise<string> {
  const redis = new Redis({
    host, port, tls: { ca: readFileSync(caFile), checkServerIdentity: () => undefined }, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0,
    connectTimeout: 1000, commandTimeout: 2000, protocol: 2, enableReadyCheck: false, disableClientInfo: true,
  });
  redis.on('error', () => undefined); // the rejected command carries the failure
  try {
    await redis.connect();
    const [command, ...rest] = args;
    return String(await redis.call(command, ...rest));
  } finally {
    redis.disconnect();
  }
}

/** Starts a TLS-only redis-server (`--port 0 --tls-port P`) and waits until it answers PING over TLS. */
export async function startTlsRedis(options: TlsRedisOptions): Promise<TlsRedis> {
  const host = options.host ?? '127.0.0.1';
  let port = options.port;
  if (port === undefined || !(await isPortFree(port, host))) [port] = await findFreePorts(1);
  if (port === undefined) throw new Error('no free port');
  const args = [
    '--port', '0', '--tls-port', String(port), '--bind', host,
    '--tls-cert-file', options.cert.cert, '--tls-key-file', options.cert.key, '--tls-ca-cert-file', options.caFile, '--tls-auth-clients', 'no',
    '--save', '', '--appendonly', 'no', '--dir', options.dir, '--logfile', join(options.dir, `redis-${host}-${port}.log`), '--daemonize', 'no',
    ...(options.cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${host}-${port}.conf`, '--tls-cluster', 'yes', '--cluster-node-timeout', '3000', '--cluster-announce-ip', host] : []),
  ];
  const proc = spawnServer('redis-server', args, options.dir);
  const end = Date.now() + 10_000;
  let last: unknown;
  while (Date.now() < end && !proc.hasExited()) {
    try {
      if ((await tlsCommand(host, port, options.caFile, 'PING')) === 'PONG') return { host, port, process: proc };
    } catch (error: unknown) {
      last = error;
    }
    await sleep(50);
  }
  await proc.stop();
  throw new Error(`TLS redis-server on ${host}:${port} did not answer: ${last instanceof Error ? last.message : String(last)}`, { cause: last });
}
