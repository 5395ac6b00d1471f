import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { KEY_SPECS } from '../../src/config/keys.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every scenario key with its real default and description', () => {
    for (const spec of KEY_SPECS) {
      const row = `| ${spec.name} | ${String(spec.default)} | ${spec.description} |`;
      assert.ok(readme.includes(row), `README lacks the row: ${row}`);
    }
    const table = readme.slice(readme.indexOf('| Key | Default | Meaning |'));
    const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
    assert.equal(rows.length, KEY_SPECS.length, 'README lists a key the registry does not have');
  });

  it('starts with exactly two set-up commands', () => {
    const block = /```bash\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    assert.deepEqual(block.trim().split('\n'), ['npm run setup && npm run bench', 'npm test']);
  });
});
