import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

/**
 * Collects garbage now (outside the timed region), as BenchmarkDotNet does before each iteration,
 * so a collection of the previous iteration's garbage does not land inside the next measurement.
 * Uses V8's gc() exposed at run time (no --expose-gc flag needed on the command line).
 */
export function forceGc(): void {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}
