import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LocalSetupError } from './errors.js';

/** Debian package that ships each binary the local topologies use. */
export const PACKAGE_OF: Readonly<Record<string, string>> = {
  'redis-server': 'redis-server',
  'redis-cli': 'redis-tools',
  'redis-benchmark': 'redis-tools',
  nutcracker: 'nutcracker',
  memcached: 'memcached',
  // setpriv --pdeathsig ties a server's life to cachebench's (Debian's util-linux is essential: always there).
  setpriv: 'util-linux',
  taskset: 'util-linux',
  // Network namespaces, the bridge and veth pairs (--network namespaces).
  ip: 'iproute2',
  nsenter: 'util-linux',
};

/** A binary's path on PATH, or undefined. */
export function findBinary(name: string): string | undefined {
  try {
    return requireBinary(name);
  } catch (error: unknown) {
    void error; // not installed: the caller says what that means
    return undefined;
  }
}

/** Finds a binary on PATH or throws a LocalSetupError naming the Debian package and the set-up command. */
export function requireBinary(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch (error: unknown) {
      void error; // not in this folder: keep looking
    }
  }
  const pkg = PACKAGE_OF[name] ?? name;
  throw new LocalSetupError(`${name} not found on PATH. Fix: install Debian's ${pkg} package (npm run setup, or apt-get install ${pkg})`);
}
