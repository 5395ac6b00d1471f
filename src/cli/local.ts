import { ConfigError } from '../config/errors.js';
import { resolve } from 'node:path';
import { TOPOLOGY_DESCRIPTIONS, startLocal } from '../local/topologies.js';
import { isOurProcess } from '../local/procfs.js';
import { planStop, readState, stopState, writeState, STATE_FILE } from '../local/state.js';
import { reapLeftovers } from '../local/owner.js';
import { EXIT } from './exit.js';
import { explainPath } from './files.js';
import { print, say } from './output.js';
import { checkNodeTimeout, parseTopologies } from './run.js';

/** `cachebench up`: start topologies that outlive this command; print the env lines to export. */
export async function upCommand(names: readonly string[], nodeTimeoutMs: number): Promise<number> {
  const topologies = parseTopologies(names, 'topology');
  const cwd = process.cwd();
  const existing = readState(cwd);
  if (existing !== undefined) {
    throw new ConfigError(`local topologies are already up (${existing.topologies.map((t) => t.name).join(', ')}, ${STATE_FILE}). Fix: run cachebench down first`);
  }
  const started = performance.now();
  const deployment = await startLocal(topologies, { detached: true, persist: true, stateFile: resolve(cwd, STATE_FILE),
    nodeTimeoutMs: checkNodeTimeout(nodeTimeoutMs) });
  try {
    writeState(cwd, deployment);
  } catch (error: unknown) {
    // Servers nothing records could not be stopped by `down`: they go now.
    await deployment.stop();
    say(`cachebench: error: cannot write ${STATE_FILE} (${explainPath(error)}); the servers it would record were stopped. Fix: free space in ${cwd}, or run up in a folder you can write to\n`);
    return EXIT.failed;
  }
  say(`cachebench: up in ${((performance.now() - started) / 1000).toFixed(1)} s; state in ${STATE_FILE}; stop with cachebench down\n`);
  for (const t of deployment.topologies) {
    print(`# ${t.name}: ${TOPOLOGY_DESCRIPTIONS[t.name]}\n`);
    for (const [key, value] of Object.entries(t.settings)) print(`export ${key}=${value}\n`);
  }
  return EXIT.ok;
}

/**
 * `cachebench down`: stop exactly the PIDs `up` recorded, then the leftovers of dead cachebench
 * processes (deployment folders in the temporary directory whose owner is gone; see reapLeftovers).
 * A state file that does not prove to be what `up` wrote here (see planStop) is refused before
 * anything is signalled or deleted: exit 2.
 */
export async function downCommand(): Promise<number> {
  const cwd = process.cwd();
  const state = readState(cwd);
  if (state === undefined) {
    say(`cachebench: nothing is up (no ${STATE_FILE})\n`);
  } else {
    const stopped = await stopState(cwd, planStop(cwd, state));
    say(`cachebench: stopped ${stopped} processes of ${state.topologies.map((t) => t.name).join(', ')}\n`);
  }
  const leftovers = await reapLeftovers();
  if (leftovers.folders.length > 0) {
    say(`cachebench: stopped ${leftovers.stopped} leftover processes of dead cachebench runs and removed ${leftovers.folders.length} folders${leftovers.networks > 0 ? ` and ${leftovers.networks} private networks` : ''}: ${leftovers.folders.join(', ')}\n`);
  }
  return EXIT.ok;
}

/** `cachebench status`: which recorded topologies are alive. Exit 1 if any process is gone. */
export function statusCommand(): number {
  const state = readState(process.cwd());
  if (state === undefined) {
    print('nothing is up\n');
    return EXIT.ok;
  }
  let allAlive = true;
  for (const t of state.topologies) {
    const alive = t.processes.filter((p) => isOurProcess(p.pid, p.name, p.startTime)).length;
    allAlive &&= alive === t.processes.length;
    print(`${t.name}: ${alive === t.processes.length ? 'up' : alive === 0 ? 'down' : 'degraded'} (${alive}/${t.processes.length} processes) ${t.settings[`${t.name}_SERVERS`] ?? t.settings[`${t.name}_SENTINELS`] ?? ''}\n`);
  }
  return allAlive ? EXIT.ok : EXIT.failed;
}
