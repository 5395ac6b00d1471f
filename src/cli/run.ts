import { readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { compareInRun, gateExitCode, type Comparison } from '../compare/compare.js';
import { faultGate } from '../compare/faults.js';
import { renderComparison } from '../compare/render.js';
import type { FaultPlan, RunPlan } from '../config/resolve.js';
import { bindLocalServers, localItemSizeMax } from '../config/target.js';
import { cachedClientName, type ConnectedTarget } from '../targets/client.js';
import { TOPOLOGY_DESCRIPTIONS, startLocal, type LocalDeployment } from '../local/topologies.js';
import { applyPlacement } from '../local/placement.js';
import { exitText, type ManagedProcess, type ProcessExit } from '../local/process.js';
import { reapLeftovers } from '../local/owner.js';
import { localInjector, topologyMemory } from '../faults/local.js';
import { GLIDE_MANAGEMENT_NAME, partitionInjector } from '../faults/partition.js';
import type { FaultInjector } from '../faults/nemesis.js';
import { PARTITION_FAULTS } from '../config/keys.js';
import { executeRun } from '../run/execute.js';
import { RESULT_FILES, renderResultFiles } from '../report/write.js';
import { buildDocument } from '../report/model.js';
import { entryFailures, measurementNotes } from '../report/sentences.js';
import { renderConsole } from '../report/console.js';
import { renderExport } from '../report/export.js';
import type { ResultsDocument } from '../report/document.js';
import { EXIT } from './exit.js';
import { tryWrite } from './files.js';
import { publishComparison } from './gate.js';
import { ALL_FILES, unwrittenMessage, writeRendered, writeStepSummary } from './publish.js';
import { print, say, warn } from './output.js';
import { createProgress } from './progress.js';
import { trapSignals } from './signals.js';
import { validateRun, type RunArgs, type ValidatedRun } from './validate.js';

export { checkNodeTimeout, newRunId, parseBdnArgs, parseTopologies, type RunArgs } from './validate.js';

/** What a finished run amounts to; `exitCodeOf` turns it into the process exit code. */
export interface RunOutcome {
  readonly aborted: boolean;
  /** Verification failures, failed ops, dropped targets, in words. */
  readonly failures: readonly string[];
  /** The in-run gate, when --fail-if-slower was given. */
  readonly gate?: Comparison;
  /** Output files that could not be written, with the reason. */
  readonly unwritten: readonly string[];
}

/**
 * The exit policy of `run`, apart from everything else: 130 when interrupted; 1 on failures, a
 * failing gate or an output that could not be written; else 0.
 */
export function exitCodeOf(outcome: RunOutcome): number {
  if (outcome.aborted) return EXIT.interrupted;
  if (outcome.failures.length > 0) return EXIT.failed;
  if (outcome.gate !== undefined && gateExitCode(outcome.gate) !== 0) return EXIT.failed;
  if (outcome.unwritten.length > 0) return EXIT.failed;
  return EXIT.ok;
}

/**
 * Shows and stores a finished run: the console table first (so it survives any file error), then
 * report.md, report.html, the charts, results.csv, results.json, exports, the gate and the step summary.
 */
async function publish(validated: ValidatedRun, doc: ResultsDocument, aborted: boolean): Promise<RunOutcome> {
  const { outputs } = validated;
  const unwritten: string[] = [];
  print(`${renderConsole(doc, { wide: validated.wide })}\n`);
  const gate = validated.gate !== undefined && !aborted ? compareInRun(doc, validated.gate.baseline, validated.gate) : undefined;
  const gateTable = gate !== undefined ? renderComparison(gate) : undefined;
  const rendered = await renderResultFiles(doc, gateTable !== undefined ? { appendix: `\n## Regression gate\n\n${gateTable}` } : {});
  const complete = writeRendered(outputs.dir, rendered, ALL_FILES, unwritten);
  const report = join(outputs.dir, RESULT_FILES.report);
  const html = join(outputs.dir, RESULT_FILES.html);
  const also = unwritten.some((u) => u.startsWith(html)) ? '' : ` (and ${RESULT_FILES.html}, ${rendered.charts.length} chart${rendered.charts.length === 1 ? '' : 's'})`;
  if (!unwritten.some((u) => u.startsWith(report))) print(`Report: ${join(outputs.shownDir, RESULT_FILES.report)}${also}\n`);
  for (const e of outputs.exports) {
    if (!tryWrite(e.file, renderExport(e.format, doc), unwritten)) continue;
    complete.push(e.file);
    say(`cachebench: wrote ${e.file}\n`);
  }
  if (gate !== undefined) publishComparison(gate, unwritten, false);
  writeStepSummary(doc, rendered, outputs.shownDir, unwritten, gateTable);
  const failures = [
    ...doc.results.flatMap((e) => entryFailures(e).map((f) => `${f} (${e.scenario.name})`)),
    ...(aborted ? [] : faultGate(doc, validated.faultLimits)),
    ...(validated.requireRate ? doc.results.filter((e) => e.load?.rate.achieved === false).map((e) => `${e.target.name}: rate not achieved: ${Math.round(e.load?.rate.achievedOpsPerSec ?? 0)} of ${Math.round(e.load?.rate.targetOpsPerSec ?? 0)} ops/s (--require-rate) (${e.scenario.name})`) : []),
  ];
  // Said on stderr too, where a CI log shows it beside the exit code: the table's numbers stand on fewer rounds than asked.
  for (const e of doc.results) for (const note of measurementNotes(e)) warn(`${note} (${e.scenario.name})`);
  if (failures.length > 0) say(`cachebench: failures: ${failures.join('; ')}\n`);
  if (unwritten.length > 0) say(`cachebench: error: ${unwrittenMessage(unwritten, complete)}; the table above is the run's result\n`);
  return { aborted, failures, unwritten, ...(gate !== undefined ? { gate } : {}) };
}

/** The document with each local server exit added to the warnings of the targets on that server's topology. */
function withServerExits(doc: ResultsDocument, plan: RunPlan,
  exits: readonly { readonly topology: string | undefined; readonly text: string }[]): ResultsDocument {
  if (exits.length === 0) return doc;
  const topologyOf = new Map(plan.targets.map((t) => [t.name, t.localTopology]));
  const targets = doc.environment.targets.map((t) => {
    const mine = exits.filter((x) => x.topology === undefined || x.topology === topologyOf.get(t.name));
    return mine.length === 0 ? t : { ...t, warnings: [...t.warnings, ...mine.map((x) => x.text)] };
  });
  return { ...doc, environment: { ...doc.environment, targets } };
}

/** Removes the run folder made during validation when the run ended before writing anything into it. */
function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch (error: unknown) {
    void error; // already gone or not ours to judge: leave it
  }
}

/** `cachebench run`: validate everything, start local topologies if needed, run, publish, clean up. */
/** The injector of a destructive fault on a local topology: a partition's, or a kill's, pause's, restart's or scaling's. */
function injectorOn(topology: LocalDeployment['topologies'][number] | undefined, fault: FaultPlan, validated: ValidatedRun, target: ConnectedTarget): FaultInjector | undefined {
  if (topology === undefined) return undefined;
  if (PARTITION_FAULTS.includes(fault.kind)) {
    const name = cachedClientName(target.config, { fault });
    // GLIDE's management connections (one per node) are its client's too, and track with BCAST.
    const names = name === undefined ? undefined : target.config.client === 'glide' ? [name, GLIDE_MANAGEMENT_NAME] : [name];
    return partitionInjector(topology, fault, names === undefined ? {} : { trackingClient: names });
  }
  // A restarted server gets the servers' CPUs again (it was spawned from the client's).
  return localInjector(topology, fault, (pid) => applyPlacement(validated.placement, [pid]));
}

export async function runCommand(args: RunArgs): Promise<number> {
  const validated = validateRun(args, process.env);
  for (const w of validated.plan.warnings) warn(w);
  if (validated.defaultLocal) {
    say(`cachebench: no <NAME>_SERVERS configured: starting local topologies ${validated.topologies.join(', ')} (set <NAME>_SERVERS to benchmark your own servers; --no-local or CI=true make this an error)\n`);
  }
  // Servers a crashed earlier run left behind (its owner is dead) are stopped by PID first.
  const leftovers = await reapLeftovers();
  if (leftovers.folders.length > 0) {
    say(`cachebench: stopped ${leftovers.stopped} leftover processes of dead cachebench runs${leftovers.networks > 0 ? ` and removed ${leftovers.networks} private networks` : ''} (${leftovers.folders.join(', ')})\n`);
  }
  const traps = trapSignals('deleting this run\'s keys and stopping local servers');
  let deployment: LocalDeployment | undefined;
  // Local servers that exited while the run went on (a crash, the OOM killer, a kill not of our making): said at
  // once on stderr and in the report beside the targets on them, so "connection lost" has its cause next to it.
  const serverExits: { readonly topology: string | undefined; readonly text: string }[] = [];
  const runStarted = performance.now();
  const onServerExit = (p: ManagedProcess, topology: string | undefined, exit: ProcessExit): void => {
    const text = `${p.name} (pid ${p.pid})${topology !== undefined ? ` of ${topology}` : ''}, a server cachebench started, ${exitText(exit)} ` +
      `${((performance.now() - runStarted) / 1000).toFixed(1)} s into the run: ops sent to it fail from then on`;
    serverExits.push({ topology, text });
    warn(text);
  };
  try {
    let plan: RunPlan = validated.plan;
    if (validated.topologies.length > 0) {
      const started = performance.now();
      deployment = await startLocal(validated.topologies, { detached: true, onServerExit, nodeTimeoutMs: validated.nodeTimeoutMs, network: validated.network,
        memcachedItemSize: localItemSizeMax(validated.plan.connection.largestPayloadBytes) });
      say(`cachebench: local topologies up in ${((performance.now() - started) / 1000).toFixed(1)} s: ${deployment.topologies.map((t) => `${t.name} (${TOPOLOGY_DESCRIPTIONS[t.name]}, ${(t.startMs / 1000).toFixed(1)} s)`).join('; ')}\n`);
      if (traps.signal.aborted) return EXIT.interrupted;
      // Every target is measured under the same client/server placement (see --cpu-layout).
      await applyPlacement(validated.placement, deployment.topologies.flatMap((t) => t.processes.map((p) => p.pid)));
      say(`cachebench: CPU layout ${validated.placement.layout}: ${validated.placement.description}\n`);
      if (deployment.network !== undefined) say(`cachebench: network: ${deployment.network.describe()}\n`);
      plan = bindLocalServers(plan, Object.fromEntries(deployment.topologies.map((t) => [t.name, t.settings[`${t.name}_SERVERS`] ?? t.settings[`${t.name}_SENTINELS`] ?? ''])));
    }
    const progress = createProgress({ isTTY: process.stderr.isTTY === true, write: say }, validated.quiet);
    try {
      const onProgress = (e: Parameters<typeof progress.onProgress>[0]): void => {
        // Driver warnings (e.g. a password a server does not need) are said even with --quiet.
        if (e.kind === 'connected') for (const t of e.targets) for (const w of t.info.warnings ?? []) warn(w);
        progress.onProgress(e);
      };
      const local = deployment;
      const topologyOf = (target: ConnectedTarget) => local?.topologies.find((t) => t.name === target.config.localTopology);
      const result = await executeRun(plan, {
        runId: validated.outputs.runId, seed: validated.seed, signal: traps.signal, onProgress,
        ...(validated.shard !== undefined ? { shard: validated.shard } : {}),
        localInjectors: (target: ConnectedTarget, fault: FaultPlan) => injectorOn(topologyOf(target), fault, validated, target),
        localMemory: (target) => {
          const topology = topologyOf(target);
          return topology === undefined ? undefined : () => topologyMemory(topology);
        },
        localPids: (target) => {
          const topology = topologyOf(target);
          // The servers that serve the ops (a Sentinel deployment's sentinels serve none: not counted per op).
          const sentinels = new Set(topology?.sentinel?.sentinels.map((x) => x.process) ?? []);
          return topology === undefined ? undefined : () => topology.processes.filter((p) => !sentinels.has(p)).map((p) => p.pid);
        },
      });
      progress.done();
      await deployment?.settled();
      const { layout, clientCpus, serverCpus, description } = validated.placement;
      const placement = deployment !== undefined ? { layout, clientCpus, serverCpus, description } : undefined;
      const network = deployment?.network !== undefined ? deployment.network.describe() : undefined;
      const doc = buildDocument(result, plan.baseline, { ...(placement !== undefined ? { placement } : {}), ...(network !== undefined ? { network } : {}) });
      return exitCodeOf(await publish(validated, withServerExits(doc, plan, serverExits), result.aborted));
    } finally {
      progress.done();
    }
  } finally {
    removeIfEmpty(validated.outputs.dir);
    await deployment?.stop();
    traps.release();
  }
}
