import { fail, EXIT } from './exit.js';

/**
 * SIGINT/SIGTERM abort the returned signal so the run stops after the current op and cleans up;
 * a second signal exits at once. `release` removes the handlers.
 */
export function trapSignals(what: string): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  let count = 0;
  const handler = (name: NodeJS.Signals): void => {
    count++;
    if (count > 1) fail(`second ${name}: exiting without cleanup (keys expire by KEY_TTL)`, EXIT.interrupted);
    process.stderr.write(`\ncachebench: ${name}: stopping, ${what}...\n`);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
