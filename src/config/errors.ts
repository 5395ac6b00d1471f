/** Where a configuration value came from, in precedence order (lowest first). */
export type Source =
  | { readonly kind: 'default' }
  | { readonly kind: 'scenario'; readonly file: string }
  | { readonly kind: 'local' }
  | { readonly kind: 'env' }
  | { readonly kind: 'envVars' }
  | { readonly kind: 'flag'; readonly flag: string };

/** Human-readable description of a source, used in every error message and in the report. */
export function describeSource(source: Source): string {
  switch (source.kind) {
    case 'default':
      return 'built-in default';
    case 'scenario':
      return `scenario file ${source.file}`;
    case 'local':
      return 'local topology started by cachebench';
    case 'env':
      return 'process environment';
    case 'envVars':
      return '--envVars';
    case 'flag':
      return `flag --${source.flag}`;
  }
}

/**
 * Bad input: a key, a value, a file or a flag that cannot be used.
 * Raised before any traffic; the CLI maps it to exit code 2.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Builds the standard message: which key, which value, where it came from, how to fix it. */
export function badValue(key: string, value: unknown, source: Source, problem: string, fix: string): ConfigError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return new ConfigError(`${key}=${shown} (from ${describeSource(source)}): ${problem}. Fix: ${fix}`);
}
