import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors.js';
import { resolveConfig, type ConfigInput } from '../../src/config/resolve.js';

/** A ConfigInput with nothing set but `over`. */
export const input = (over: Partial<ConfigInput>): ConfigInput => ({ scenarioFiles: [], env: {}, envVars: [], flags: {}, ...over });

/** Asserts that resolving fails with a ConfigError whose message has every fragment and a fix. */
export function rejects(over: Partial<ConfigInput>, ...fragments: string[]): void {
  assert.throws(() => resolveConfig(input(over)), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    for (const f of fragments) assert.ok(error.message.includes(f), `message ${JSON.stringify(error.message)} lacks ${JSON.stringify(f)}`);
    assert.match(error.message, /Fix: /);
    return true;
  });
}
