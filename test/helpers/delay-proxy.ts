import { connect, createServer, type Socket } from 'node:net';

/**
 * A test-only TCP proxy on loopback that forwards requests at once and holds every reply
 * chunk back by `delayMs` (order kept): the same server, made slower by a known amount.
 */
export async function startDelayProxy(targetPort: number, delayMs: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    // Nagle off both ways: small writes (an invalidation push) would otherwise wait up to ~40 ms for a delayed ACK.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
      }, delayMs);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A test server in a child process of its own (`script` beside this file, with `args`): it prints its port on its
 * first line, and `stop` kills it by its PID.
 */
async function serverProcess(script: string, args: readonly string[]): Promise<{ port: number; stop: () => Promise<void> }> {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before it listened`)));
  });
  return {
    port,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The delay proxy in a child process (see delay-proxy-main.ts); `stop` kills it by its PID. */
export function startDelayProxyProcess(targetPort: number, delayMs: number): Promise<{ port: number; stop: () => Promise<void> }> {
  return serverProcess('./delay-proxy-main.js', [String(targetPort), String(delayMs)]);
}

/** The serial RESP server of known capacity in a child process (see serial-server-main.ts); `stop` kills it by its PID. */
export function startSerialServer(serviceMs: number): Promise<{ port: number; stop: () => Promise<void> }> {
  return serverProcess('./serial-server-main.js', [String(serviceMs)]);
}
