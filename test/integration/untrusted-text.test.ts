import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { marked, type Token } from 'marked';
import { reportDirOf, runCli } from '../helpers/cli.js';
import { standalone, tempDir } from '../helpers/servers.js';

/** A real run whose scenario files and DESCRIPTION are hostile: every output shows them as text. */

let server: Awaited<ReturnType<typeof standalone>>;
const out = tempDir('cachebench-untrusted-');

before(async () => {
  server = await standalone();
});
after(async () => {
  await server?.stop();
  out.remove();
});

const DESCRIPTION = '[link](http://evil.example) <script>alert(1)</script> <img src=x onerror=alert(1)>\n# Heading\n| a | b |\nhttps://evil.example ``` x x_www.evil.example';

describe('hostile scenario file names and DESCRIPTION in a real run', () => {
  it('make no link, heading, table or HTML in report.md, report.html and the step summary; CSV cells cannot run formulas', async () => {
    const files = ['=HYPERLINK("evil")', '[x](evil.example)', '# heading', 'term\x1b]0;owned\x07\x1b[2J\x9b31m'].map((name) => {
      const file = join(out.dir, `${name}.yaml`);
      writeFileSync(file, `DESCRIPTION: ${JSON.stringify(DESCRIPTION)}\nREAD_RATIO: 1\nWRITE_COUNT: 2\nPAYLOAD_BYTES: 10\n`);
      return file;
    });
    const summary = join(out.dir, 'summary.md');
    const cli = await runCli(['run', ...files, '--out', out.dir, '--min-iterations', '2', '--max-iterations', '2', '--warmup-iterations', '1'], {
      env: { EVIL_SERVERS: server.address, EVIL_MODE: 'standalone', GITHUB_STEP_SUMMARY: summary },
    });
    assert.equal(cli.code, 0, cli.stderr);
    // A terminal is steered by none of it: no escape or other control character but our line feeds and tabs.
    assert.deepEqual([...`${cli.stdout}${cli.stderr}`.matchAll(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g)].map((m) => m[0]), []);
    assert.match(cli.stdout, /term\uFFFD\]0;owned/);
    const dir = reportDirOf(cli.stdout);
    for (const [name, md] of [['report.md', readFileSync(join(dir, 'report.md'), 'utf8')], ['step summary', readFileSync(summary, 'utf8')]] as const) {
      const tokens: Token[] = [];
      marked.walkTokens(marked.lexer(md), (t) => void tokens.push(t));
      assert.deepEqual(tokens.filter((t) => t.type === 'link').map((t) => t.raw), [], `links in ${name}`);
      assert.deepEqual(tokens.filter((t) => t.type === 'html' && !/^<\/?(details|summary)>/.test(t.raw.trim())).map((t) => t.raw), [], `HTML in ${name}`);
      const headings = tokens.filter((t): t is Token & { text: string } => t.type === 'heading').map((t) => t.text);
      assert.ok(headings.every((h) => !/^heading\b|^Heading\b/.test(h)), `headings in ${name}: ${headings.join(' / ')}`);
      // Every table is one of ours: none has the text's `| a | b |` header.
      assert.ok(!tokens.some((t) => t.type === 'table' && /^\| a \| b \|/.test(t.raw)), `a table from the text in ${name}`);
    }
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    assert.ok(!/<a\s|<script|<img/i.test(html), 'live HTML in report.html');
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    const csv = readFileSync(join(dir, 'results.csv'), 'utf8');
    assert.match(csv, /^"'=HYPERLINK\(""evil""\)",/m);
    assert.ok(!/^"?=/m.test(csv), 'a formula cell in results.csv');
  });
});
