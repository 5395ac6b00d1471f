import { join } from 'node:path';
import { loadResults } from '../report/schema.js';
import { ConfigError } from '../config/errors.js';
import { MergeError, mergeDocuments, type MergeInput } from '../report/merge.js';
import { RESULT_FILES, renderResultFiles } from '../report/write.js';
import { entryFailures } from '../report/sentences.js';
import { renderConsole } from '../report/console.js';
import { EXIT } from './exit.js';
import { absolutePath, explainPath, makeDirs } from './files.js';
import { ALL_FILES, unwrittenMessage, writeRendered, writeStepSummary } from './publish.js';
import { print, say, warn } from './output.js';
import { newRunId } from './validate.js';

export interface MergeArgs {
  readonly files: readonly string[];
  readonly out?: string;
  readonly baseline?: string;
  readonly wide?: boolean;
}

/**
 * `cachebench merge a.json b.json … [--out DIR]`: merges throughput (or planned capacity) results of several processes or
 * machines into one report (report.md, report.html and charts, results.csv, results.json in DIR); what looked wrong
 * in the inputs is said on stderr and kept in the document (report.md shows it). Exit 0, 1 when the merged results
 * hold failures, 2 on bad input.
 */
export async function mergeCommand(args: MergeArgs): Promise<number> {
  if (args.files.length < 1) throw new ConfigError('merge needs results.json files. Fix: cachebench merge results/*/results.json --out merged');
  const inputs: MergeInput[] = args.files.map((file) => ({ file, doc: loadResults(file) }));
  const runId = `merged-${newRunId(new Date())}`;
  let merged: ReturnType<typeof mergeDocuments>;
  try {
    merged = mergeDocuments(inputs, runId, args.baseline);
  } catch (error: unknown) {
    if (error instanceof MergeError) throw new ConfigError(`${error.message}. Fix: ${error.fix ?? 'give results.json files of throughput or capacity runs (MODE=throughput or capacity), e.g. the --shard runs of one scenario'}`, { cause: error });
    throw error;
  }
  if (args.baseline !== undefined && !merged.doc.results.some((e) => e.target.name === args.baseline)) {
    throw new ConfigError(`--baseline ${args.baseline} is not a target of these results (${[...new Set(merged.doc.results.map((e) => e.target.name))].join(', ')}). Fix: name one of them`);
  }
  const dir = absolutePath(args.out ?? join('results', runId), '--out');
  try {
    makeDirs(dir);
  } catch (error: unknown) {
    throw new ConfigError(`--out ${args.out ?? dir}: cannot create ${dir} (${explainPath(error)}). Fix: give --out a folder you can write to`, { cause: error });
  }
  for (const note of merged.notes) warn(note);
  print(`${renderConsole(merged.doc, { wide: args.wide === true })}\n`);
  const unwritten: string[] = [];
  const rendered = await renderResultFiles(merged.doc);
  const complete = writeRendered(dir, rendered, ALL_FILES, unwritten);
  writeStepSummary(merged.doc, rendered, args.out ?? join('results', runId), unwritten);
  if (unwritten.length > 0) {
    say(`cachebench: error: ${unwrittenMessage(unwritten, complete)}\n`);
    return EXIT.failed;
  }
  print(`Merged ${inputs.length} results: ${join(dir, RESULT_FILES.report)}\n`);
  const failures = merged.totals.flatMap(entryFailures);
  if (failures.length > 0) say(`cachebench: failures: ${failures.join('; ')}\n`);
  return failures.length > 0 ? EXIT.failed : EXIT.ok;
}
