import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/resolve.js';
import type { RunResult } from '../../src/run/execute.js';
import type { LatencyCase, LatencyTarget } from '../../src/run/result.js';
import { COLUMNS, formatShare } from '../../src/report/columns.js';
import { CSV_COLUMNS, renderCsv, inertCell } from '../../src/report/csv.js';
import { buildDocument } from '../../src/report/model.js';
import { renderConsole } from '../../src/report/console.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { conclusion, formatPercent, setupNotes } from '../../src/report/sentences.js';
import { summarize } from '../../src/stats/describe.js';
import { marked } from 'marked';
import { fenceFor, mdCode, mdInline, mdText } from '../../src/report/escape.js';
import { renderHtml } from '../../src/report/html.js';
import { renderStepSummary } from '../../src/report/step-summary.js';
import type { ResultsDocument } from '../../src/report/document.js';
import type { CacheClient, ConnectedTarget } from '../../src/targets/client.js';

const plan = resolveConfig({ scenarioFiles: [], env: { A_SERVERS: '127.0.0.1:1', A_PASSWORD: 'pw-secret', B_SERVERS: 'redis://u:topsecret@127.0.0.1:2', C_SERVERS: '127.0.0.1:3' }, envVars: [], flags: {} });
const noClient: CacheClient = { set: async () => undefined, get: async () => null, del: async () => undefined, close: async () => undefined };
const targets: ConnectedTarget[] = plan.targets.map((config) => ({
  config,
  client: noClient,
  info: { mode: 'standalone', modeDetected: true, serverVersion: '7.0.15', primaries: 1, replicas: 0, client: 'ioredis', clientVersion: '6.0.0', servers: config.servers.map((s) => s.display), tls: false, cache: 'off', readFrom: 'primary' },
}));

function target(name: string, samplesMs: number[], extra: Partial<LatencyTarget> = {}): LatencyTarget {
  const summary = summarize(samplesMs);
  return {
    kind: 'latency', name, state: 'completed', samplesMs, roundSamplesMs: samplesMs, ...(summary ? { summary } : {}),
    ops: { set: { count: 10, errors: 0, p50Us: 50, p99Us: 90, p999Us: 99 }, get: { count: 1000, errors: 0, p50Us: 60, p99Us: 95.5, p999Us: 120 } },
    verification: { reads: 1000, verified: 1000, missing: 0, mismatched: 0 },
    iterations: { warmup: 1, measured: samplesMs.length, failed: 0 },
    errors: {}, undeletedKeys: 0, invocations: 1, pilotMs: null, ...extra,
  };
}

const run: RunResult = {
  runId: '20261125-000000-abcd',
  startedAt: new Date('2026-11-25T00:00:00Z'),
  finishedAt: new Date('2026-11-25T00:01:00Z'),
  aborted: false,
  seed: 42,
  loadAverage: { before: [0.5, 0.4, 0.3], after: [0.6, 0.45, 0.31] },
  targets,
  scenarios: [{
    scenario: plan.scenarios[0] as NonNullable<(typeof plan.scenarios)[0]>,
    cases: [{
      kind: 'latency', params: { READ_RATIO: 100, WRITE_COUNT: 10, PAYLOAD_BYTES: 20000 },
      invocations: 1, pilotMs: null, rounds: 5, stopReason: 'converged', elapsedMs: 1000, roundOrders: [],
      targets: [
        target('A', [290, 295, 300, 297, 296.5]),
        target('B', [160, 162, 161, 163, 163.5]),
        target('C', [], { state: 'errored', error: 'SET: Command timed out', ops: { set: { count: 0, errors: 3 }, get: { count: 0, errors: 0 } } }),
      ],
    }],
  }],
};

describe('results document', () => {
  const doc = buildDocument(run, undefined);
  const [a, b, c] = doc.results;
  it('takes the fastest target as the default baseline and gives Percent = 100 × Mean / baseline Mean', () => {
    assert.equal(b?.baseline, true);
    assert.equal(b?.stats.percent, 100);
    // A: mean 295.7, B: mean 161.9 (the seed article's table): 182.6%
    assert.ok(Math.abs((a?.stats.percent ?? 0) - (100 * 295.7) / 161.9) < 1e-9);
    assert.equal(c?.stats.percent, null);
    assert.equal(c?.stats.meanMs, null);
  });
  it('uses an explicit baseline', () => {
    const explicit = buildDocument(run, 'A');
    assert.equal(explicit.results[0]?.stats.percent, 100);
    assert.ok(Math.abs((explicit.results[1]?.stats.percent ?? 0) - (100 * 161.9) / 295.7) < 1e-9);
    assert.equal(explicit.baseline.rule, 'explicit');
  });
  it('never takes an errored target as the baseline, even when its few samples are the fastest', () => {
    const scenario = run.scenarios[0] as NonNullable<(typeof run.scenarios)[0]>;
    const theCase = scenario.cases[0] as LatencyCase;
    // D was dropped after failures, with 3 early (fast) samples: it must not become 100%.
    const dead = target('D', [50, 51, 52], { state: 'errored', error: 'GET: connection to 127.0.0.1:1 lost' });
    const withDead: RunResult = { ...run, scenarios: [{ ...scenario, cases: [{ ...theCase, targets: [...theCase.targets, dead] }] }] };
    const fastest = buildDocument(withDead, undefined);
    assert.equal(fastest.results.find((e) => e.target.name === 'B')?.baseline, true);
    assert.equal(fastest.results.find((e) => e.target.name === 'B')?.stats.percent, 100);
    assert.equal(fastest.results.find((e) => e.target.name === 'D')?.baseline, false);
    // An explicit baseline that errored gives no Percent, and the table says why.
    const explicit = buildDocument(withDead, 'D');
    assert.ok(explicit.results.every((e) => e.stats.percent === null && !e.baseline));
    assert.match(renderConsole(explicit), /Percent: NA: the baseline D \(--baseline\) is errored/);
    assert.match(renderMarkdown(explicit), /Percent: NA: the baseline D \(--baseline\) is errored/);
    assert.doesNotMatch(renderConsole(fastest), /Percent: NA/);
  });
  it('Percent always lies inside its interval: both come from the paired rounds, outliers of either left out', () => {
    const scenario = run.scenarios[0] as NonNullable<(typeof run.scenarios)[0]>;
    const theCase = scenario.cases[0] as LatencyCase;
    // Round 3 of Y is an outlier (beyond its fence) and round 5 of X is missing (failed): pairs 1, 2, 4, 6, 7, 8.
    const x = target('X', [100, 102, 101, 99, 100, 103, 101]);
    const xr = [100, 102, 101, 99, null, 100, 103, 101];
    const y = target('Y', [110, 112, 500, 109, 111, 110, 113, 111]);
    const withRounds: RunResult = { ...run, scenarios: [{ ...scenario, cases: [{ ...theCase, targets: [{ ...x, roundSamplesMs: xr }, { ...y,
      roundSamplesMs: y.samplesMs }] }] }] };
    const doc = buildDocument(withRounds, 'X');
    const e = doc.results.find((r) => r.target.name === 'Y');
    const pairs = [[100, 110], [102, 112], [99, 109], [100, 110], [103, 113], [101, 111]];
    const expected = 100 * pairs.reduce((a, p) => a + (p[1] as number), 0) / pairs.reduce((a, p) => a + (p[0] as number), 0);
    assert.ok(Math.abs((e?.stats.percent ?? 0) - expected) < 1e-9, `${e?.stats.percent} vs ${expected}`);
    assert.ok((e?.stats.percentLower ?? Infinity) <= (e?.stats.percent ?? 0) && (e?.stats.percent ?? Infinity) <= (e?.stats.percentUpper ?? 0));
  });
  it('an interrupted case takes its baseline among the aborted targets (cut at the same round); an errored target gets no interval', () => {
    const scenario = run.scenarios[0] as NonNullable<(typeof run.scenarios)[0]>;
    const theCase = scenario.cases[0] as LatencyCase;
    const aborted: RunResult = { ...run, aborted: true, scenarios: [{ ...scenario, cases: [{ ...theCase, stopReason: 'aborted', targets: [
      target('A', [290, 295, 300, 297], { state: 'aborted' }),
      target('B', [160, 162, 161, 163], { state: 'aborted' }),
      target('E', [150, 151, 152, 150], { state: 'errored', error: 'GET: connection to 127.0.0.1:1 lost' }),
    ] }] }] };
    const doc = buildDocument(aborted, undefined);
    assert.equal(doc.results.find((r) => r.target.name === 'B')?.baseline, true);
    assert.ok((doc.results.find((r) => r.target.name === 'A')?.stats.percentLower ?? 0) > 100);
    const errored = doc.results.find((r) => r.target.name === 'E');
    assert.equal(errored?.baseline, false);
    assert.equal(errored?.stats.percentLower, null);
  });
  it('says why a Percent has no interval, and keeps a decimal near 100%', () => {
    const scenario = run.scenarios[0] as NonNullable<(typeof run.scenarios)[0]>;
    const theCase = scenario.cases[0] as LatencyCase;
    const two: RunResult = { ...run, scenarios: [{ ...scenario, cases: [{ ...theCase, targets: [target('A', [100, 101]), target('B', [110, 112])] }] }] };
    const doc2 = buildDocument(two, 'A');
    const b2 = doc2.results.find((e) => e.target.name === 'B');
    assert.equal(b2?.stats.percentPairs, 2);
    assert.equal(formatPercent(b2 as NonNullable<typeof b2>), '110% [too few rounds]');
    assert.match(conclusion(doc2.results) ?? '', /B: only 2 paired rounds, too few for an interval\./);
    const near = { ...(b2 as NonNullable<typeof b2>), stats: { ...(b2 as NonNullable<typeof b2>).stats, percent: 100.4, percentLower: 100.1,
      percentUpper: 100.8, percentPairs: 50 } };
    assert.equal(formatPercent(near), '100.4% [100.1–100.8%]');
    assert.match(conclusion([doc2.results[0] as NonNullable<(typeof doc2.results)[0]>, near]) ?? '', /B is 0\.4% slower than A \(\+0\.1% to \+0\.8%\)/);
  });
  it('an interval that includes 100% gets the ~ mark and the "cannot be told apart" sentence; one that does not, neither', () => {
    const scenario = run.scenarios[0] as NonNullable<(typeof run.scenarios)[0]>;
    const theCase = scenario.cases[0] as LatencyCase;
    const doc = buildDocument({ ...run, scenarios: [{ ...scenario, cases: [{ ...theCase, targets: [target('A', [100, 101, 99, 100, 102, 98]), target('B', [110, 112, 111, 109, 113, 110])] }] }] }, 'A');
    type Entry = NonNullable<(typeof doc.results)[0]>;
    const a = doc.results.find((e) => e.target.name === 'A') as Entry;
    const b = doc.results.find((e) => e.target.name === 'B') as Entry;
    const straddling: Entry = { ...b, target: { ...b.target, name: 'C' }, stats: { ...b.stats, percent: 101.5, percentLower: 98.2, percentUpper: 104.9, percentPairs: 6 } };
    assert.equal(formatPercent(straddling), '~102% [98–105%]');
    assert.ok(!(formatPercent(b) ?? '').startsWith('~'), formatPercent(b) ?? '');
    const text = conclusion([a, b, straddling]) ?? '';
    assert.match(text, /^At 99\.9% confidence \(paired rounds\): B is [\d.]+% slower than A \([^)]*\)\. C \(−2% to \+5%\) cannot be told apart from A: the interval includes no difference\.$/);
    assert.doesNotMatch(conclusion([a, b]) ?? '', /told apart/);
  });
  it('never records a password, only where it came from', () => {
    for (const secret of ['topsecret', 'pw-secret']) {
      assert.ok(!JSON.stringify(doc).includes(secret));
      assert.ok(!renderMarkdown(doc).includes(secret));
    }
    assert.deepEqual(doc.environment.targets[0]?.options.A_PASSWORD, { value: '(hidden)', source: 'process environment' });
  });
});

describe('one column definition feeds console, markdown and CSV', () => {
  const doc = buildDocument(run, undefined);
  const csv = renderCsv(doc).trim().split('\n').map((line) => line.split(','));
  it('writes every column to CSV with raw values from results.json, missing values as empty cells', () => {
    assert.deepEqual(csv[0], [...CSV_COLUMNS.map((col) => col.id), 'run_id']);
    // Every row names its run, so the CSVs of several runs can be concatenated.
    for (const row of csv.slice(1)) assert.equal(row.at(-1), doc.runId);
    const meanIndex = COLUMNS.findIndex((col) => col.id === 'mean_ms');
    assert.equal(Number(csv[1]?.[meanIndex]), doc.results[0]?.stats.meanMs);
    assert.equal(csv[3]?.[meanIndex], '');
    const failedIndex = COLUMNS.findIndex((col) => col.id === 'failed_ops');
    assert.equal(csv[3]?.[failedIndex], '3');
  });
  it('shows the seed table columns with BenchmarkDotNet-style units on the console (--wide) and in markdown', () => {
    const consoleText = renderConsole(doc, { wide: true });
    const markdown = renderMarkdown(doc);
    for (const header of COLUMNS.filter((col) => col.inTable && col.showIf === undefined).map((col) => col.header)) {
      assert.ok(consoleText.includes(header), `console lacks ${header}`);
      assert.ok(markdown.includes(header), `markdown lacks ${header}`);
    }
    // Client set-up, cache and staleness columns appear only where they say something.
    for (const header of ['| Client ', 'Cache hits', 'Stale age']) assert.ok(!consoleText.includes(header), `a plain run shows ${header}`);
    assert.match(consoleText, /\| A +\| +295\.7 ms \|/);
    // Percent with its paired 99.9% interval (the numbers are checked in ratio.test.ts), and the sentence under the table.
    assert.match(consoleText, /\| 183% \[(\d+)–(\d+)%\] \|/);
    const [, lo, hi] = /183% \[(\d+)–(\d+)%\]/.exec(consoleText) ?? [];
    assert.ok(Number(lo) > 100 && Number(lo) < 183 && Number(hi) > 183, `${lo}–${hi}`);
    assert.match(consoleText, new RegExp(`At 99\\.9% confidence \\(paired rounds\\): A is 83% slower than B \\(\\+${Number(lo) - 100}% to \\+${Number(hi) - 100}%\\)\\.`));
    assert.match(markdown, /A is 83% slower than B/);
    assert.match(consoleText, /\| B +\|.*\| +100% \|/, 'the baseline reads 100%, not 100.0%');
    assert.match(consoleText, /\| C \(errored\) \| +NA \|/);
    assert.match(markdown, /C errored\*\*: SET: Command timed out/);
    assert.match(markdown, /bar \[295\.7, 161\.9\]/);
  });
});

describe('the console\'s compact tables', () => {
  it('fit 120 columns, keep Target, Mean, Error, StdDev, Percent, GET p99 and one Checks cell, and say the set-ups under the table', () => {
    const doc = buildDocument(run, undefined);
    const compact = renderConsole(doc);
    const table = compact.split('\n').filter((line) => line.startsWith('|'));
    assert.ok(table.length >= 3);
    for (const line of table) assert.ok(line.length <= 120, `${line.length} columns: ${line}`);
    const header = table[0] ?? '';
    for (const h of ['Target', 'Mean', 'Error', 'StdDev', 'Percent', 'GET p99', 'Checks']) assert.ok(header.includes(` ${h} `), `no ${h}`);
    for (const h of ['Median', 'Outliers', 'Verified', 'SET p99']) assert.ok(!header.includes(` ${h} `), `compact shows ${h}`);
    // The failed ops of C are in its Checks cell; every column is still in the wide table and in markdown.
    assert.match(compact, /\| C \(errored\) .*\| 3 failed ops +\|/);
    assert.match(compact, /--wide shows every column/);
    assert.ok(renderMarkdown(doc).includes('| Median |') || renderMarkdown(doc).includes(' Median '));
  });
});

describe('client set-up, cache and staleness columns', () => {
  const near = targets.map((t) => (t.config.name === 'A'
    ? { ...t, config: { ...t.config, client: 'node-redis' as const, cache: 'tracking' as const }, info: { ...t.info, client: 'node-redis', cache: 'tracking' as const, cacheEntries: 10_000 } }
    : t));
  const stale = { reads: 25, ages: { count: 25, errors: 0, p50Us: 210, p99Us: 1480, maxUs: 2950 }, overwrites: { due: 100, sent: 98, acked: 98, failed: 0 } };
  const cache = { lookups: 1000, hits: 990, misses: 10, invalidations: 12, evictions: 0 };
  const doc = buildDocument({
    ...run,
    targets: near,
    scenarios: [{
      scenario: run.scenarios[0]?.scenario as NonNullable<(typeof run.scenarios)[0]>['scenario'],
      cases: [{
        kind: 'latency', params: { READ_RATIO: 100, WRITE_COUNT: 10, PAYLOAD_BYTES: 20000 },
        invocations: 1, pilotMs: null, rounds: 5, stopReason: 'converged', elapsedMs: 1000, roundOrders: [],
        targets: [target('A', [29, 29.5, 30, 29.7, 29.6], { staleness: stale, cache, invocations: 5 }), target('B', [160, 162, 161, 163, 163.5])],
      }],
    }],
  }, undefined);
  const consoleText = renderConsole(doc, { wide: true });
  it('shows the client set-up, the hit rate, stale reads with their share and ages in ms', () => {
    assert.match(consoleText, /\| A +\| node-redis, tracking cache \|/);
    assert.match(consoleText, /\| B +\| ioredis +\|/);
    assert.match(consoleText, /\| +99\.0% \|/, 'hit rate = 990 / 1000');
    assert.match(consoleText, /\| 25 \(2\.5%\) \|/, 'stale reads = 25 of 1000 reads');
    assert.match(consoleText, /\| 0\.21\/1\.48\/2\.95 ms +\|/);
    assert.match(consoleText, /5 rounds × A 5, B 1 invocations/);
    assert.doesNotMatch(consoleText, /the overwriter sent/, '98 of 100 overwrites is no shortfall');
  });
  it('says when the overwriter fell short of OVERWRITE_RATE; shares never in exponent notation', () => {
    const short = { ...(doc.results[0] as NonNullable<(typeof doc.results)[0]>), staleness: { ...stale, overwrites: { due: 100, sent: 50, acked: 50,
      failed: 0 } } };
    assert.deepEqual(setupNotes(short), ['A: the overwriter sent 50 of the 100 overwrites OVERWRITE_RATE asked for (one SET in flight at a time, on the measured loop\'s event loop): staleness was measured at the lower rate']);
    assert.deepEqual([100, 37.4, 2.5, 0.0123, 0].map(formatShare), ['100%', '37%', '2.5%', '0.012%', '0%']);
    // A cache far below the (R−1)/R hits READ_RATIO allows is named (here: no overwrites, READ_RATIO 100, 50% hits).
    const base = doc.results[0] as NonNullable<(typeof doc.results)[0]>;
    const bypassed = { ...base, staleness: null, cache: { lookups: 1000, hits: 500, misses: 500, invalidations: 0, evictions: 0 } };
    assert.deepEqual(setupNotes(bypassed), ['A: its client cache answered 50.0% of GETs, where 99.0% was expected (each key is read 100 times): the cache is not doing what its set-up says']);
    assert.deepEqual(setupNotes({ ...bypassed, cache: { ...bypassed.cache, hits: 990, misses: 10 } }), []);
  });
  it('writes the raw counters to CSV and results.json', () => {
    // Cells may be quoted (the set-up holds commas).
    const cells = (line: string): string[] => [...line.matchAll(/("(?:[^"]|"")*"|[^,]*)(?:,|$)/g)].map((m) => (m[1] ?? '').replace(/^"|"$/g, '').replace(/""/g, '"')).slice(0, COLUMNS.length);
    const csv = renderCsv(doc).trim().split('\n').map(cells);
    assert.equal(csv[1]?.[COLUMNS.findIndex((c) => c.id === 'setup')], 'node-redis, tracking cache');
    const at = (id: string): string | undefined => csv[1]?.[COLUMNS.findIndex((c) => c.id === id)];
    assert.equal(at('cache_hits'), '990');
    assert.equal(at('cache_invalidations'), '12');
    assert.equal(at('stale_reads'), '25');
    assert.equal(at('stale_age_p99_ms'), '1.48');
    assert.equal(at('overwrites_acked'), '98');
    assert.equal(csv[2]?.[COLUMNS.findIndex((c) => c.id === 'stale_reads')], '', 'no staleness measured for B: empty, not 0');
    assert.deepEqual(doc.results[0]?.cache, cache);
    assert.equal(doc.environment.targets.find((t) => t.name === 'A')?.cacheEntries, 10_000);
  });
});

describe('untrusted text is inert in report.md, report.html, the step summary and results.csv', () => {
  const hostile = [
    '[link](http://evil.example)', '<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '# Heading', '| a | b |',
    'see https://evil.example and www.evil.example and x_www.evil.example', 'a ``` backtick `run', '- item', '1. item', '=HYPERLINK("http://x")', '> quote',
  ].join(' \n');
  const plain = 'plain words';
  /** The run's document with every name, description and message replaced by `text`. */
  function docWith(text: string): ResultsDocument {
    const doc = buildDocument(run, undefined);
    const name = (i: number): string => `${text} ${i}`;
    return {
      ...doc,
      environment: { ...doc.environment, targets: doc.environment.targets.map((t, i) => ({ ...t, name: name(i), serverVersion: text, warnings: [text] })) },
      scenarios: doc.scenarios.map((s) => ({ ...s, name: text, file: `${text}.yaml`, description: text })),
      results: doc.results.map((e, i) => ({
        ...e, scenario: { ...e.scenario, name: text, file: `${text}.yaml`, description: text }, target: { ...e.target, name: name(i) },
        error: e.error === null ? null : text, errors: { [`GET: ${text}`]: 2 }, state: i === 2 ? 'errored' : e.state,
      })),
    };
  }
  /** How many tokens of each kind markdown makes of a text, nested ones included. */
  function kinds(markdown: string): Record<string, number> {
    const counts: Record<string, number> = {};
    marked.walkTokens(marked.lexer(markdown), (token) => {
      const kind = token.type === 'html' ? `html ${token.raw.trim()}` : token.type;
      if (!['text', 'escape', 'space', 'paragraph', 'codespan', 'br', 'strong'].includes(token.type)) counts[kind] = (counts[kind] ?? 0) + 1;
    });
    return counts;
  }
  const bad = docWith(hostile);
  const good = docWith(plain);
  it('report.md: names, descriptions, file names and messages make no link, heading, list, table or HTML of their own', () => {
    const md = renderMarkdown(bad);
    assert.deepEqual(kinds(md), kinds(renderMarkdown(good)));
    // Still shown, as text.
    const html = renderHtml(md, new Map(), 't');
    assert.match(html, /\[link\]\(http:\/\/evil\.example\)/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.ok(!/<script|<img|<a /i.test(html), 'live HTML in report.html');
  });
  it('the step summary and the console-free tables are inert too', () => {
    const summary = (d: ResultsDocument): string => renderStepSummary(d, { charts: [], reportDir: 'results/r', artifactsUrl: null });
    assert.deepEqual(kinds(summary(bad)), kinds(summary(good)));
    assert.ok(!/<script|<img|<a /i.test(renderHtml(summary(bad), new Map(), 't')));
  });
  it('a backtick run or a line break cannot leave a code span or a code block', () => {
    assert.deepEqual(marked.lexer(`x ${mdCode('a `` b')} y`).flatMap((t) => ('tokens' in t ? t.tokens ?? [] : [])).map((t) => t.type), ['text', 'codespan', 'text']);
    assert.equal(marked.lexer(mdCode('a\n# b')).length, 1);
    assert.deepEqual(marked.lexer(mdText('x\n\n# y\n- z')).map((t) => t.type), ['paragraph']);
  });
  it('a text of 400,000 backtick runs (a crafted name or command) gets its fence without a RangeError', () => {
    const text = '`a'.repeat(400_000) + '``';
    assert.equal(mdCode(text), `\`\`\` ${text} \`\`\``);
    assert.equal(fenceFor([text, 'x', '````']), '`````');
    assert.equal(fenceFor(['plain']), '```');
  });
  it('bare URLs and e-mail addresses are no links, in marked as on GitHub (a word joiner breaks them)', () => {
    const html = marked.parse(mdText('https://evil.example www.evil.example me@evil.example')) as string;
    assert.ok(!html.includes('<a '), html);
    assert.match(mdText('https://x'), /https:\u2060\/\/x/);
    assert.ok(!(marked.parse(mdText('x_www.evil.example')) as string).includes('<a '));
  });
  it('GitHub math ($…$, $$…$$) cannot start: every $ is escaped', () => {
    assert.equal(mdInline('cost $x^2$ and $$y$$'), 'cost \\$x^2\\$ and \\$\\$y\\$\\$');
  });
  it('results.csv: a text cell that would start a formula starts with \', numbers stay numbers', () => {
    const doc = buildDocument(run, undefined);
    const evil: ResultsDocument = { ...doc, results: doc.results.map((e) => ({ ...e, scenario: { ...e.scenario, name: '=HYPERLINK("http://x")' }, target: { ...e.target, name: '@SUM(1)' }, stats: { ...e.stats, meanMs: -1.5 } })) };
    const lines = renderCsv(evil).trim().split('\n').slice(1);
    const mean = CSV_COLUMNS.findIndex((col) => col.id === 'mean_ms');
    for (const line of lines) {
      // csv-stringify quotes the cell with quotes in it: `"'=HYPERLINK(""http://x"")"`.
      assert.ok(line.startsWith('"\'=HYPERLINK(""http://x"")",'), line);
      assert.ok(line.includes(",'@SUM(1),"), line);
      assert.equal(line.split(',')[mean], '-1.5');
    }
    for (const cell of ['+1', '-x', '\tx', '\rx', ' =1']) assert.equal(inertCell(cell), `'${cell}`);
    assert.equal(inertCell(-2), -2);
    assert.equal(inertCell('REDIS'), 'REDIS');
  });
});
