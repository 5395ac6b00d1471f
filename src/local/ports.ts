import { createServer } from 'node:net';

/** True when nothing listens on host:port (we could bind it). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Finds `count` free ports below the kernel's ephemeral range (10000–19999), each with its
 * +10000 cluster-bus port free too. Ports in use, or in `avoid`, are skipped, never reused.
 */
export async function findFreePorts(count: number, avoid: ReadonlySet<number> = new Set()): Promise<number[]> {
  const ports: number[] = [];
  const taken = new Set(avoid);
  for (let attempt = 0; ports.length < count; attempt++) {
    if (attempt > 2000) throw new Error(`no ${count} free loopback ports found in 10000-19999`);
    const port = 10000 + Math.floor(Math.random() * 10000);
    if (taken.has(port)) continue;
    taken.add(port);
    if ((await isPortFree(port)) && (await isPortFree(port + 10000))) ports.push(port);
  }
  return ports;
}
