import { randomBytes } from 'node:crypto';
import { ConfigError } from '../config/errors.js';
import { KEY_SPECS, flagName } from '../config/keys.js';
import { resolveConfig, type RunPlan } from '../config/resolve.js';
import { TOPOLOGIES, TOPOLOGY_DESCRIPTIONS, startLocal, type LocalDeployment, type TopologyName } from '../local/index.js';
import { executeRun } from '../measure/run.js';
import { buildDocument, entryFailures, renderConsole, writeResults } from '../report/index.js';
import { appendFileSync } from 'node:fs';
import { compareInRun, gateExitCode, renderComparison, type GateOptions } from '../compare/index.js';
import { EXIT } from './exit.js';
import { parseAlpha, parseExports, parseThreshold, publishComparison, writeExports } from './gate.js';
import { createProgress } from './progress.js';
import { trapSignals } from './signals.js';

export interface RunArgs {
  scenarios?: string[];
  envVars?: string[];
  targets?: string;
  baseline?: string;
  local?: string[];
  'cluster-node-timeout': number;
  'fail-if-slower'?: string;
  alpha: number;
  export?: string[];
  out: string;
  quiet: boolean;
  '--'?: string[];
  [key: string]: unknown;
}

/** A run id that sorts by time: 20261125-104800-3fa2. */
export function newRunId(date = new Date()): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}-${randomBytes(2).toString('hex')}`;
}

/**
 * BenchmarkDotNet-style arguments after `--` (as in `dotnet run -c Release -- --envVars K:V ...`):
 * `--envVars` followed by KEY:VALUE items up to the next `--flag`.
 */
export function parseBdnArgs(rest: readonly string[]): string[] {
  const items: string[] = [];
  let inEnvVars = false;
  for (const token of rest) {
    if (token === '--envVars' || token === '--envvars') {
      inEnvVars = true;
    } else if (inEnvVars && !token.startsWith('--')) {
      items.push(token);
    } else {
      throw new ConfigError(`unsupported argument ${JSON.stringify(token)} after --. Fix: only --envVars KEY:VALUE ... may follow --; put other flags before --`);
    }
  }
  return items;
}

/** Validates --cluster-node-timeout. */
export function checkNodeTimeout(ms: number): number {
  if (!Number.isInteger(ms) || ms < 100 || ms > 600_000) {
    throw new ConfigError(`--cluster-node-timeout ${String(ms)} is not a whole number of ms from 100 to 600000. Fix: e.g. --cluster-node-timeout 5000`);
  }
  return ms;
}

/** Validates `--local` names; an empty list means all topologies. */
export function parseTopologies(names: readonly string[], flag: string): TopologyName[] {
  if (names.length === 0) return [...TOPOLOGIES];
  const out: TopologyName[] = [];
  for (const raw of names.flatMap((n) => n.split(','))) {
    const name = raw.trim().toUpperCase();
    if (!(TOPOLOGIES as readonly string[]).includes(name)) {
      throw new ConfigError(`${flag} ${JSON.stringify(raw)} is not a local topology. Fix: use ${TOPOLOGIES.join(', ')}`);
    }
    if (!out.includes(name as TopologyName)) out.push(name as TopologyName);
  }
  return out;
}

function plan(args: RunArgs, local: Readonly<Record<string, string>>): RunPlan {
  const flags: Record<string, string | undefined> = {};
  for (const spec of KEY_SPECS) {
    const v = args[flagName(spec.name)];
    if (v !== undefined) flags[spec.name] = String(v);
  }
  return resolveConfig({
    scenarioFiles: args.scenarios ?? [],
    env: process.env,
    envVars: [...(args.envVars ?? []).map(String), ...parseBdnArgs((args['--'] ?? []).map(String))],
    flags,
    local,
    ...(args.targets !== undefined ? { targets: args.targets } : {}),
    ...(args.baseline !== undefined ? { baseline: args.baseline } : {}),
  });
}

/** Placeholder settings that let the configuration be validated before the topologies exist. */
function placeholders(names: readonly TopologyName[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((n) => [[`${n}_SERVERS`, '127.0.0.1:1'], [`${n}_MODE`, n === 'TWEMPROXY' ? 'proxy' : 'auto']]));
}

/** `cachebench run`: validate everything, start local topologies if needed, run, report, clean up. */
export async function runCommand(args: RunArgs): Promise<number> {
  let topologies: TopologyName[] = args.local !== undefined ? parseTopologies(args.local, '--local') : [];
  // Validate all input before starting or touching anything.
  const nodeTimeoutMs = checkNodeTimeout(args['cluster-node-timeout']);
  const exports = parseExports(args.export ?? []);
  let gate: GateOptions | undefined;
  if (args['fail-if-slower'] !== undefined) {
    gate = { threshold: parseThreshold(args['fail-if-slower'], '--fail-if-slower'), alpha: parseAlpha(args.alpha) };
    if (args.baseline === undefined) throw new ConfigError('--fail-if-slower needs --baseline NAME: the target the others must not be slower than. Fix: add e.g. --baseline REDIS');
  }
  if (plan(args, placeholders(topologies)).targets.length === 0 && args.local === undefined) {
    topologies = [...TOPOLOGIES];
    process.stderr.write(`cachebench: no <NAME>_SERVERS configured: starting local topologies ${topologies.join(', ')} (set <NAME>_SERVERS to benchmark your own servers)\n`);
    plan(args, placeholders(topologies));
  }

  const traps = trapSignals('deleting this run\'s keys and stopping local servers');
  let deployment: LocalDeployment | undefined;
  try {
    if (topologies.length > 0) {
      const started = performance.now();
      deployment = await startLocal(topologies, { detached: true, nodeTimeoutMs });
      process.stderr.write(`cachebench: local topologies up in ${((performance.now() - started) / 1000).toFixed(1)} s: ${deployment.topologies.map((t) => `${t.name} (${TOPOLOGY_DESCRIPTIONS[t.name]}, ${(t.startMs / 1000).toFixed(1)} s)`).join('; ')}\n`);
      if (traps.signal.aborted) return EXIT.interrupted;
    }
    const local = Object.assign({}, ...(deployment?.topologies.map((t) => t.settings) ?? [])) as Record<string, string>;
    const runPlan = plan(args, local);
    if (runPlan.targets.length === 0) {
      throw new ConfigError('no targets configured. Fix: set <NAME>_SERVERS=host:port (env var or --envVars REDIS_SERVERS:127.0.0.1:6379), or use --local');
    }
    const runId = newRunId();
    const progress = createProgress(process.stderr, args.quiet);
    try {
      const result = await executeRun(runPlan, { runId, signal: traps.signal, onProgress: progress.onProgress });
      progress.done();
      const doc = buildDocument(result, runPlan.baseline);
      const files = writeResults(args.out, doc);
      process.stdout.write(`${renderConsole(doc)}\n`);
      process.stdout.write(`Report: ${files.report}\n`);
      for (const file of writeExports(exports, doc, files.dir)) process.stderr.write(`cachebench: wrote ${file}\n`);
      if (result.aborted) return EXIT.interrupted;
      let gateCode: number = EXIT.ok;
      if (gate !== undefined && runPlan.baseline !== undefined) {
        const comparison = compareInRun(doc, runPlan.baseline, gate);
        publishComparison(comparison);
        appendFileSync(files.report, `\n## Regression gate\n\n${renderComparison(comparison)}`);
        gateCode = gateExitCode(comparison);
      }
      const failures = doc.results.flatMap((e) => entryFailures(e).map((f) => `${f} (${e.scenario.name})`));
      if (failures.length > 0) {
        process.stderr.write(`cachebench: failures: ${failures.join('; ')}\n`);
        return EXIT.failed;
      }
      return gateCode === 0 ? EXIT.ok : EXIT.failed;
    } finally {
      progress.done();
    }
  } finally {
    await deployment?.stop();
    traps.release();
  }
}
