import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadResults } from '../report/schema.js';
import { ConfigError } from '../config/errors.js';
import { RESULT_FILES, renderResultFiles } from '../report/write.js';
import { renderConsole } from '../report/console.js';
import { EXIT } from './exit.js';
import { absolutePath, explainPath, makeDirs, makeRunDir } from './files.js';
import { ALL_FILES, unwrittenMessage, writeRendered, writeStepSummary } from './publish.js';
import { print, say } from './output.js';

export interface ReportArgs {
  readonly files: readonly string[];
  readonly out?: string;
  readonly wide?: boolean;
}

/**
 * `cachebench report results.json…`: renders report.md, report.html, the charts and results.csv again from saved results (a run's, or a merge's),
 * without running anything. Each goes next to its results.json, or into `--out DIR/<runId>/`. Exit 0; 1 when a file
 * could not be written; 2 when a results file cannot be read.
 */
export async function reportCommand(args: ReportArgs): Promise<number> {
  if (args.files.length === 0) throw new ConfigError('report needs results.json files. Fix: cachebench report results/<runId>/results.json');
  const docs = args.files.map((file) => {
    const doc = loadResults(file);
    return { file, doc, dir: args.out === undefined ? dirname(absolutePath(file, 'results file')) : join(absolutePath(args.out, '--out'), doc.runId) };
  });
  // Two results files whose reports would land in one folder: the second would overwrite the first, so neither is
  // written. Folders are compared as they are on disk (a link to a folder, `a/../a`), runIds under one --out.
  const byDir = new Map<string, string>();
  for (const { file, doc, dir } of docs) {
    // runIds in any case: on a case-insensitive file system RunA and runa are one folder.
    const key = args.out === undefined ? sameFolderKey(dir) : doc.runId.toLowerCase();
    const earlier = byDir.get(key);
    if (earlier !== undefined) {
      throw new ConfigError(args.out === undefined
        ? `${earlier} and ${file} are in one folder, so their reports would overwrite each other in ${dir}. Fix: give --out DIR (each run gets DIR/<runId>/), or report them one at a time`
        : `${earlier} and ${file} both have runId ${doc.runId}, so both reports would go to ${dir}. Fix: report them one at a time, each with its own --out folder`);
    }
    byDir.set(key, file);
  }
  const unwritten: string[] = [];
  const complete: string[] = [];
  for (const { doc, dir } of docs) {
    try {
      if (args.out === undefined) makeDirs(dir);
      else makeRunDir(absolutePath(args.out, '--out'), doc.runId);
    } catch (error: unknown) {
      throw new ConfigError(`--out ${args.out ?? dir}: cannot create ${dir} (${explainPath(error)}). Fix: give --out a folder you can write to${(error as NodeJS.ErrnoException).code === 'ELOOP' ? `, where ${doc.runId} is not a symbolic link` : ''}`, { cause: error });
    }
    print(`${renderConsole(doc, { wide: args.wide === true })}\n`);
    const rendered = await renderResultFiles(doc);
    // results.json is the input: rewritten only into another folder.
    complete.push(...writeRendered(dir, rendered, args.out === undefined ? ['report', 'html', 'csv'] : ALL_FILES, unwritten));
    writeStepSummary(doc, rendered, dir, unwritten);
    print(`Report: ${join(dir, RESULT_FILES.report)} (and ${RESULT_FILES.html}, ${rendered.charts.length} chart${rendered.charts.length === 1 ? '' : 's'})\n`);
  }
  if (unwritten.length > 0) {
    say(`cachebench: error: ${unwrittenMessage(unwritten, complete)}\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

/** A folder as the file system knows it: its device and inode (any spelling or link to it gives the same). */
function sameFolderKey(dir: string): string {
  try {
    const stat = statSync(dir);
    return `${stat.dev}:${stat.ino}`;
  } catch (error: unknown) {
    void error; // not there (yet): its spelled path is all there is to compare
    return resolve(dir);
  }
}
