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

  it('has a table of contents that lists every section and subsection, with the anchors GitHub gives them', () => {
    const body = readme.replace(/```[\s\S]*?```/g, '');
    const headings = [...body.matchAll(/^(##|###) (.+)$/gm)].filter((m) => !['Quick start', 'Contents'].includes(m[2]!));
    // GitHub's anchors: lower case, punctuation other than - and _ dropped, spaces to hyphens.
    const slug = (text: string): string => text.toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
    const expected = headings.map((m) => `${m[1] === '###' ? '  ' : ''}- [${m[2]!.replace(/`/g, '')}](#${slug(m[2]!)})`);
    const contents = body.slice(body.indexOf('## Contents\n\n') + '## Contents\n\n'.length);
    assert.deepEqual(contents.slice(0, contents.indexOf('\n\n')).split('\n'), expected);
    assert.ok(body.indexOf('## Quick start') < body.indexOf('## Contents'), 'the quick start comes first');
  });
});
