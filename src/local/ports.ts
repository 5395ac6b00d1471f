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
 * Ports this process handed out lately (oldest first, at most HANDED_OUT_MAX). Topologies start in parallel, and a
 * port is free until its server binds it: without this, two starts could be given the same port and one server
 * would exit with "address in use".
 */
const handedOut = new Set<number>();
const HANDED_OUT_MAX = 2000;

function handOut(port: number): void {
  handedOut.add(port);
  if (handedOut.size > HANDED_OUT_MAX) handedOut.delete(handedOut.values().next().value as number);
}

/**
 * Finds `count` free ports below the kernel's ephemeral range (10000–19999), each with its
 * +10000 cluster-bus port free too. Ports in use, in `avoid`, or handed out lately by this process
 * (to a start still under way) are skipped, never reused.
 */
export async function findFreePorts(count: number, avoid: ReadonlySet<number> = new Set()): Promise<number[]> {
  const ports: number[] = [];
  const taken = new Set(avoid);
  for (let attempt = 0; ports.length < count; attempt++) {
    if (attempt > 2000) throw new Error(`no ${count} free loopback ports found in 10000-19999`);
    const port = 10000 + Math.floor(Math.random() * 10000);
    if (taken.has(port) || handedOut.has(port)) continue;
    taken.add(port);
    if ((await isPortFree(port)) && (await isPortFree(port + 10000)) && !handedOut.has(port)) {
      handOut(port);
      ports.push(port);
    }
  }
  return ports;
}
