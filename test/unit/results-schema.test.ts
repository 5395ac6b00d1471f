import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { ConfigError } from '../../src/config/errors.js';
import { InputFileError, readInputFile } from '../../src/config/input-file.js';
import { RESULT_LIMITS, checkResults, loadResults } from '../../src/report/schema.js';
import { renderResultFiles } from '../../src/report/write.js';
import { MergeError, mergeDocuments } from '../../src/report/merge.js';
import { MAX_CHARTED_COMBINATIONS, buildCharts } from '../../src/report/charts.js';
import { MALFORMED, encodeHistogram, fixtureDoc, fixturePath, setField as set, type FixtureDoc as Doc } from '../helpers/entries.js';

describe('results.json is checked before anything reads it', () => {
  for (const kind of ['latency', 'fault', 'throughput'] as const) {
    it(`a real ${kind} run's results.json passes and renders`, async () => {
      const doc = loadResults(fixturePath(kind));
      const rendered = await renderResultFiles(doc);
      assert.ok(rendered.files.report.includes('REDIS'));
    });
  }

  it('schemaVersion written as text is named as text, not as a different version', () => {
    assert.throws(() => checkResults(set(fixtureDoc('latency'), 'schemaVersion', '1'), 'bad.json'), /^ConfigError: bad\.json: schemaVersion: expected the number 1, found the text "1"/);
    assert.throws(() => checkResults(set(fixtureDoc('latency'), 'schemaVersion', null), 'bad.json'), /schemaVersion: expected the number 1, found null/);
    assert.throws(() => checkResults(set(fixtureDoc('latency'), 'schemaVersion', 2), 'bad.json'), /has schemaVersion 2, this cachebench reads 1/);
  });

  it('interval bounds out of order are refused, naming the lower one', () => {
    const latency = set(set(fixtureDoc('latency'), 'results[0].stats.percentLower', 120), 'results[0].stats.percentUpper', 80);
    assert.throws(() => checkResults(latency, 'bad.json'), /bad\.json: results\[0\]\.stats\.percentLower: expected at most percentUpper \(80\), found 120/);
    const throughput = set(set(fixtureDoc('throughput'), 'results[0].load.throughput.percentLower', 1e16), 'results[0].load.throughput.percentUpper', 0);
    assert.throws(() => checkResults(throughput, 'bad.json'), /results\[0\]\.load\.throughput\.percentLower: expected at most percentUpper \(0\)/);
    checkResults(set(set(fixtureDoc('latency'), 'results[0].stats.percentLower', 80), 'results[0].stats.percentUpper', 120), 'ok.json');
  });

  for (const c of MALFORMED) {
    const label = `${c.kind} ${c.path} = ${c.value === undefined ? '(missing)' : Array.isArray(c.value) ? `a list of ${c.value.length}` : JSON.stringify(c.value)}`;
    it(`refuses ${label}, naming the field`, () => {
      const doc = set(fixtureDoc(c.kind), c.path, c.value);
      const field = c.field ?? new RegExp(c.path.replace(/[[\].]/g, (x) => `\\${x}`));
      assert.throws(() => checkResults(doc, 'bad.json'), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, /^bad\.json: /);
        assert.match(error.message, field);
        assert.match(error.message, /Fix: /);
        return true;
      });
    });
  }

  it('refuses documents that are not objects, or of another schema version', () => {
    for (const doc of [null, 5, 'x', [], {}, { schemaVersion: 2, results: [] }]) {
      assert.throws(() => checkResults(doc, 'bad.json'), ConfigError);
    }
  });
});

describe('what a reader gets is the checked document, rebuilt', () => {
  it('fields the schema does not name are dropped, however deep (a 100,000-level nest would overflow JSON.stringify)', async () => {
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const doc = set(set(fixtureDoc('latency'), 'results[0].extra', deep), 'environment.junk', { a: 1 });
    set(doc, 'results[0].stats.hidden', 'x');
    const checked = checkResults(doc, 'x.json');
    const text = JSON.stringify(checked);
    assert.ok(!text.includes('"extra"') && !text.includes('"junk"') && !text.includes('"hidden"'), 'an unchecked field rode along');
    assert.equal(checked.results[0]?.stats.meanMs, (fixtureDoc('latency').results as { stats: { meanMs: number } }[])[0]?.stats.meanMs);
    assert.ok((await renderResultFiles(checked)).files.report.includes('REDIS'));
  });

  it('an error message "__proto__" is a message like any other: kept by the reader and counted by merge', () => {
    const raw = fixtureDoc('throughput');
    const proto = JSON.parse('{"__proto__": 3, "GET: timeout": 1}') as Record<string, number>;
    set(raw, 'results[0].errors', proto);
    const doc = checkResults(raw, 'x.json');
    assert.ok(Object.hasOwn(doc.results[0]?.errors ?? {}, '__proto__'));
    const other = checkResults(JSON.parse(JSON.stringify(raw)) as unknown, 'y.json');
    const merged = mergeDocuments([{ file: 'x.json', doc }, { file: 'y.json', doc: { ...other, runId: `${other.runId}b` } }], 'm');
    const errors = merged.doc.results.find((e) => e.target.name === doc.results[0]?.target.name)?.errors ?? {};
    assert.equal(Object.getOwnPropertyDescriptor(errors, '__proto__')?.value, 6, JSON.stringify(errors));
    assert.equal(errors['GET: timeout'], 2);
    assert.match(JSON.stringify(merged.doc), /"__proto__":6/);
  });
});

describe('merge refuses shards of one target measured through different client set-ups', () => {
  it('ioredis in one file and resp in another: the target, both set-ups and both files named, and the fix', () => {
    const raw = fixtureDoc('throughput');
    const a = checkResults(raw, 'a.json');
    const b = checkResults(set(JSON.parse(JSON.stringify(raw)) as typeof raw, 'results[0].target.client', 'resp'), 'b.json');
    const name = a.results[0]?.target.name ?? '';
    assert.throws(() => mergeDocuments([{ file: 'a.json', doc: a }, { file: 'b.json', doc: { ...b, runId: `${b.runId}b` } }], 'm'), (e: unknown) => e instanceof MergeError
      && e.message.includes(`${name} was measured through different client set-ups`) && /"ioredis".* in a\.json, \["resp".* in b\.json/.test(e.message)
      && (e.fix ?? '').includes(`${name}_CLIENT=resp`));
    // The same set-up merges.
    assert.ok(mergeDocuments([{ file: 'a.json', doc: a }, { file: 'c.json', doc: { ...a, runId: `${a.runId}c` } }], 'm').totals.length > 0);
  });
});

describe('merge refuses shards of one target that ran different WORKLOADs', () => {
  it('mixes that differ only after 300 characters, or only in VALUE_SIZES, are not merged; the same mix is', () => {
    const raw = fixtureDoc('throughput');
    const long = Array.from({ length: 40 }, (_, i) => `${i + 1}:GET {key}`).join(', ');
    const withMix = (mix: string, sizes?: string): ReturnType<typeof checkResults> => {
      const doc = set(JSON.parse(JSON.stringify(raw)) as typeof raw, 'results[0].load.settings.workload', mix);
      return checkResults(sizes === undefined ? doc : set(doc, 'results[0].load.settings.valueSizes', sizes), 'x.json');
    };
    const a = withMix(long);
    const refused = (other: ReturnType<typeof checkResults>): void => {
      assert.throws(() => mergeDocuments([{ file: 'a.json', doc: a }, { file: 'b.json', doc: { ...other, runId: `${other.runId}b` } }], 'm'),
        (e: unknown) => e instanceof MergeError && e.message.includes('ran different WORKLOADs') && (e.fix ?? '').includes('same WORKLOAD'));
    };
    refused(withMix(`${long}, 1:GET {key}`));
    refused(withMix(long, '100-200'));
    assert.ok(mergeDocuments([{ file: 'a.json', doc: a }, { file: 'c.json', doc: { ...a, runId: `${a.runId}c` } }], 'm').totals.length > 0);
  });
});

describe('a results file of many combinations is reported in bounded time', () => {
  it(`charts for the first ${MAX_CHARTED_COMBINATIONS} combinations only (and every sweep), every table kept, and the report says so`, async () => {
    const raw = fixtureDoc('latency') as { results: { scenario: { params: Record<string, number> } }[]; cases?: { params: Record<string, number> }[] };
    const n = MAX_CHARTED_COMBINATIONS + 16;
    const one = raw.results[0];
    assert.ok(one);
    raw.results = Array.from({ length: n }, (_, i) => ({ ...one, scenario: { ...one.scenario, params: { ...one.scenario.params, READ_RATIO: i + 1 } } }));
    const c = raw.cases?.[0];
    if (c !== undefined) raw.cases = raw.results.map((e) => ({ ...c, params: e.scenario.params }));
    const doc = checkResults(raw, 'many.json');
    const charts = buildCharts(doc);
    const groups = new Set(charts.filter((x) => !x.group.startsWith('sweep:')).map((x) => x.group));
    assert.equal(groups.size, MAX_CHARTED_COMBINATIONS);
    assert.ok(charts.some((x) => x.group.startsWith('sweep:')), 'the sweep chart is drawn');
    const rendered = await renderResultFiles(doc);
    assert.ok(rendered.files.report.includes(`Charts are drawn for the first ${MAX_CHARTED_COMBINATIONS} of ${n} parameter combinations`));
    assert.equal(rendered.files.report.match(/^### /gm)?.length, n, 'a table per combination');
  });
});

describe('encoded histograms are checked before hdr-histogram-js decodes them', () => {
  const withHistogram = (encoded: string): Doc => set(fixtureDoc('latency'), 'results[0].ops.get.histogram', encoded);

  it('the helper encodes what hdr-histogram-js decodes (a count of 1 at the first bucket)', () => {
    const text = encodeHistogram({ digits: 3, lowest: 1, highest: 2 ** 36 }, Buffer.from([2]));
    assert.equal(decodeFromCompressedBase64(text).totalCount, 1);
    checkResults(withHistogram(text), 'ok.json');
  });

  it('a header claiming 4 or 5 digits up to 2^53 (up to 5 million buckets) is refused; 3 digits from 1 ns to 2^53 is the most allowed', () => {
    for (const digits of [4, 5]) {
      assert.throws(() => checkResults(withHistogram(encodeHistogram({ digits, lowest: 1, highest: 2 ** 53 })), 'bomb.json'),
        new RegExp(`bomb\\.json: results\\[0\\]\\.ops\\.get\\.histogram: the histogram claims ${digits} significant digits`));
    }
    // The largest header cachebench could write is accepted, and hdr-histogram-js allocates no more than the limit.
    const widest = encodeHistogram({ digits: 3, lowest: 1, highest: 2 ** 53 }, Buffer.from([2]));
    checkResults(withHistogram(widest), 'ok.json');
    const decoded = decodeFromCompressedBase64(widest) as unknown as { countsArrayLength: number };
    assert.ok(decoded.countsArrayLength > 40_000 && decoded.countsArrayLength <= RESULT_LIMITS.histogramCounts, String(decoded.countsArrayLength));
  });

  it('a header beyond 2^53, or 6 significant digits, is refused', () => {
    assert.throws(() => checkResults(withHistogram(encodeHistogram({ digits: 3, lowest: 1, highest: 2 ** 62 })), 'bomb.json'), /highest trackable value/);
    assert.throws(() => checkResults(withHistogram(encodeHistogram({ digits: 6, lowest: 1, highest: 2 ** 36 })), 'bomb.json'), /6 significant digits/);
  });

  it('counts that inflate from a few KB to 16 MB are refused at the inflate limit', () => {
    const text = encodeHistogram({ digits: 3, lowest: 1, highest: 2 ** 36 }, Buffer.alloc(16 << 20));
    assert.ok(text.length < 100_000, `${text.length}`);
    assert.throws(() => checkResults(withHistogram(text), 'bomb.json'), /inflates to more than 4 MiB/);
  });

  it('a run of zeros past the end of the counts array is refused', () => {
    // zig-zag of −2^40: one LEB128 number claiming 2^40 empty buckets.
    const n = 2 * 2 ** 40 - 1;
    const bytes: number[] = [];
    let v = n;
    while (v >= 128) {
      bytes.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    bytes.push(v);
    assert.throws(() => checkResults(withHistogram(encodeHistogram({ digits: 3, lowest: 1, highest: 2 ** 36 }, Buffer.from(bytes))), 'bomb.json'), /run past its \d+ buckets/);
  });
});

describe('input files are read only when regular and small', () => {
  it('a FIFO, a device, a folder and an oversized file are refused without reading', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachebench-input-'));
    try {
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const big = join(dir, 'big');
      writeFileSync(big, Buffer.alloc(2048));
      const cases: [string, number, RegExp][] = [
        [fifo, 1024, /FIFO/], ['/dev/zero', 1024, /character device/], [dir, 1024, /folder/], [big, 1024, /larger than the limit of 1 KiB \(2 KiB\)/],
        [join(dir, 'missing'), 1024, /ENOENT/],
      ];
      for (const [file, max, reason] of cases) {
        assert.throws(() => readInputFile(file, max), (error: unknown) => error instanceof InputFileError && reason.test(error.reason));
      }
      assert.equal(readInputFile(big, 4096).length, 2048);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
