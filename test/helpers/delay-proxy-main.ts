/**
 * The delay proxy as a process of its own (`node delay-proxy-main.js <targetPort> <delayMs>`): prints its port, then
 * forwards until killed. A proxy in the test's own process would share the event loop with the client under test,
 * so its delays would depend on when that client yields.
 */
import { startDelayProxy } from './delay-proxy.js';

const proxy = await startDelayProxy(Number(process.argv[2]), Number(process.argv[3]));
process.stdout.write(`${proxy.port}\n`);
// Bounded: a proxy whose test died stops by itself.
setTimeout(() => process.exit(0), 120_000).unref();
process.on('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
await new Promise(() => undefined);
