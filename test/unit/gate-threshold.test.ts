import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseThreshold } from '../../src/cli/gate.js';
import { ConfigError } from '../../src/config/errors.js';

describe('parseThreshold: a threshold must carry % (or be a decimal fraction)', () => {
  it('accepts 5%, 0.5%, 100%, 0.05, .05 and 1.0 as fractions', () => {
    assert.equal(parseThreshold('5%', '--fail-if-slower'), 0.05);
    assert.equal(parseThreshold(' 2.5% ', '--fail-if-slower'), 0.025);
    assert.equal(parseThreshold('0.5%', '--threshold'), 0.005);
    assert.equal(parseThreshold('100%', '--threshold'), 1);
    assert.equal(parseThreshold('0.05', '--threshold'), 0.05);
    assert.equal(parseThreshold('.05', '--threshold'), 0.05);
    assert.equal(parseThreshold('1.0', '--threshold'), 1);
    assert.equal(parseThreshold(0.05, '--threshold'), 0.05);
  });

  it('refuses a bare 5 (it used to mean 500% and let every regression pass), naming the flag, the value and the fix', () => {
    assert.throws(() => parseThreshold('5', '--fail-if-slower'), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /^--fail-if-slower "5" is not a threshold: a bare number is ambiguous \(5% or 500%\?\)/);
      assert.match(error.message, /Fix: .*e\.g\. --fail-if-slower 5%/);
      return true;
    });
    assert.throws(() => parseThreshold(5, '--fail-if-slower'), ConfigError);
  });

  for (const bad of ['2', '1', 'abc', '0', '0%', '0.0', '-5%', '-0.05', '150%', '1.5', '', '%', '5%%', '5 percent', '1e-2']) {
    it(`refuses ${JSON.stringify(bad)} with a ConfigError that names the flag and the fix`, () => {
      assert.throws(() => parseThreshold(bad, '--threshold'), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.ok(error.message.startsWith(`--threshold ${JSON.stringify(bad.trim())} is not a threshold`), error.message);
        assert.match(error.message, /Fix: .*--threshold 5%/);
        return true;
      });
    });
  }

  it('says why above 100% is refused', () => {
    assert.throws(() => parseThreshold('150%', '--fail-if-slower'), /above 100% .* almost surely a mistake/);
    assert.throws(() => parseThreshold('1.5', '--threshold'), /did you mean 1\.5%\?/);
  });
});
