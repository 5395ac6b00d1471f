import { NO_FAULT, NO_LOAD, type RunControls, type TargetConfig } from '../../src/config/resolve.js';

/** A target configuration as validation would build it, for tests that call a driver directly. */
export function targetConfig(name: string, addresses: readonly string[], extra: Partial<TargetConfig> = {}): TargetConfig {
  const servers = addresses.map((a) => {
    const colon = a.lastIndexOf(':');
    return { host: a.slice(0, colon), port: Number(a.slice(colon + 1)), tls: false, display: a };
  });
  const base: TargetConfig = { name, servers, protocol: 'resp', itemSizeMax: 1024 * 1024, mode: 'auto', client: 'ioredis', cache: 'off', cacheEntries: 10_000, readFrom: 'primary', waitReplicas: 0, tls: false, sources: {} };
  return { ...base, ...extra } as TargetConfig;
}

/** Run controls for tests that connect a driver directly: short deadlines, so a failure shows at once. */
export const TEST_CONTROLS: RunControls = {
  keyTtlSeconds: 60, warmupIterations: 0, invocationCount: 1, iterationTimeMs: 100, interleave: 'iteration', minIterations: 2, maxIterations: 3,
  maxRelativeError: 0.02, maxTimeMs: 60_000, opTimeoutMs: 1000, connectTimeoutMs: 1000, overwriteRate: 0, fault: NO_FAULT, load: NO_LOAD,
};
