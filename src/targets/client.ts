import type { RunControls, TargetConfig } from '../config/resolve.js';

/**
 * The narrow interface every driver implements: what the seed loop needs, nothing more.
 * Every method rejects (never hangs) once the op deadline passes.
 */
export interface CacheClient {
  /** SET key value EX ttlSeconds */
  set(key: string, value: Buffer, ttlSeconds: number): Promise<void>;
  /** GET key, as bytes; null when the key does not exist. */
  get(key: string): Promise<Buffer | null>;
  /** DEL key (exact name). */
  del(key: string): Promise<void>;
  /** Closes all connections; never throws, never hangs. */
  close(): Promise<void>;
}

/** What the harness learned about a target when it connected; goes into the report header. */
export interface TargetInfo {
  readonly mode: 'cluster' | 'standalone' | 'proxy';
  /** Whether the mode was asked of the server (auto) or set by `<NAME>_MODE`. */
  readonly modeDetected: boolean;
  readonly serverVersion: string;
  readonly primaries: number;
  readonly replicas: number;
  readonly client: string;
  readonly clientVersion: string;
  /** Server addresses as host:port (never credentials). */
  readonly servers: readonly string[];
  readonly tls: boolean;
}

export interface ConnectedTarget {
  readonly config: TargetConfig;
  readonly info: TargetInfo;
  readonly client: CacheClient;
}

/** A driver turns a target's configuration into a connected client. */
export interface Driver {
  readonly name: string;
  readonly version: string;
  connect(config: TargetConfig, controls: RunControls): Promise<ConnectedTarget>;
}

/**
 * A listed server cannot be reached (refused, timed out, auth failed, cluster down).
 * Raised before any traffic; the CLI maps it to exit code 3.
 */
export class TargetUnreachableError extends Error {
  override readonly name = 'TargetUnreachableError';
  constructor(
    readonly target: string,
    readonly server: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`target ${target}: cannot use ${server}: ${reason}`, options);
  }
}
