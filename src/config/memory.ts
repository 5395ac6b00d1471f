import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { ConfigError, describeSource, type Source } from './errors.js';
import { KEY_BY_NAME } from './keys.js';
import {
  BASE_PROCESS_BYTES, DELETE_BATCH_KEYS, HEAP_BYTES_PER_CLIENT, HEAP_BYTES_PER_CONNECTION, HEAP_BYTES_PER_KEY, HEAP_BYTES_PER_RESULT,
  HEAP_BYTES_PER_SAMPLE, HEAP_BYTES_PER_SECOND, HEAP_SHARE, MACHINE_SHARE, PILOT_MAX_BYTES, PILOT_MAX_KEYS, PRELOAD_IN_FLIGHT, MIX_MODEL_BYTES_PER_ENTRY,
} from './limits.js';
import type { CaseParams, ScenarioPlan } from './plan.js';
import { largestMixValue, mixEntriesPerKey, mixValuesPerCommand } from './workload.js';

/** What the machine gives a run: V8's heap limit (per process: each load worker has its own) and the memory of the machine. */
export interface MachineMemory {
  /** `v8.getHeapStatistics().heap_size_limit`: the JS heap of one process (strings, objects; not Buffer contents). */
  readonly heapLimitBytes: number;
  /** `os.totalmem()`, or the cgroup's limit when lower: every process's heap and Buffers together. */
  readonly systemBytes: number;
}

/** The machine this process runs on. Load workers are forked with the same flags and environment: the same heap limit. */
export function machineMemory(): MachineMemory {
  const total = totalmem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  return {
    heapLimitBytes: getHeapStatistics().heap_size_limit,
    systemBytes: constrained > 0 && constrained < total ? constrained : total,
  };
}

/** One part of an estimate: its bytes and the keys that drive it (the first is the one to lower). */
export interface MemoryTerm {
  readonly what: string;
  readonly bytes: number;
  /** Whether it lives on the JS heap (bounded by the heap limit) or in Buffers (bounded by the machine). */
  readonly kind: 'heap' | 'buffers';
  readonly keys: readonly string[];
}

/** The estimate of one scenario's worst parameter combination. */
export interface MemoryEstimate {
  readonly scenario: string;
  readonly params: CaseParams;
  /** The process whose heap binds: the cachebench process (latency) or each load worker (throughput). */
  readonly process: 'cachebench' | 'load worker';
  /** Heap of that process. */
  readonly heapBytes: number;
  /** All processes together, heap and Buffers (WORKERS load workers and the cachebench process). */
  readonly totalBytes: number;
  /** The parts of that process's heap and of the total, largest first. */
  readonly heapTerms: readonly MemoryTerm[];
  readonly totalTerms: readonly MemoryTerm[];
}

const num = (scenario: ScenarioPlan, key: string): number => scenario.settings.get(key)?.value as number;
const sum = (terms: readonly MemoryTerm[]): number => terms.reduce((n, t) => n + t.bytes, 0);
const byBytes = (terms: readonly MemoryTerm[]): MemoryTerm[] => terms.filter((t) => t.bytes > 0).sort((a, b) => b.bytes - a.bytes);

/** Keys one latency iteration holds (all targets' with INTERLEAVE=key), as the pilot stage bounds them (latency/runner.ts). */
export function iterationKeys(c: CaseParams, invocationCount: number, targetsHeld: number): number {
  if (invocationCount > 0) return c.WRITE_COUNT * invocationCount * targetsHeld;
  const byKeys = Math.floor(PILOT_MAX_KEYS / targetsHeld / c.WRITE_COUNT);
  const byBytes = Math.floor(PILOT_MAX_BYTES / targetsHeld / Math.max(1, c.WRITE_COUNT * c.PAYLOAD_BYTES));
  return c.WRITE_COUNT * targetsHeld * Math.max(1, Math.min(byKeys, byBytes));
}

/** What the cachebench process keeps for the report over the whole run (every scenario's results). */
export function resultsTerm(scenarios: readonly ScenarioPlan[], targets: number): MemoryTerm {
  let bytes = 0;
  for (const s of scenarios) {
    // A capacity run keeps its steps' summaries and the knee step's record (one DURATION of seconds).
    const perResult = s.controls.load.mode !== 'latency'
      ? HEAP_BYTES_PER_RESULT + (s.controls.load.durationMs / 1000) * HEAP_BYTES_PER_SECOND
      : HEAP_BYTES_PER_RESULT + num(s, 'MAX_ITERATIONS') * HEAP_BYTES_PER_SAMPLE;
    bytes += s.cases.length * targets * perResult;
  }
  return { what: 'the results kept for the report (combinations × targets × MAX_ITERATIONS, or DURATION seconds)', bytes, kind: 'heap', keys: [] };
}

function latencyTerms(s: ScenarioPlan, c: CaseParams, targets: number): MemoryTerm[] {
  if (s.controls.load.workload !== null) return latencyMixTerms(s, c, targets);
  const held = s.controls.interleave === 'key' ? targets : 1;
  const keys = iterationKeys(c, s.controls.invocationCount, held);
  const drivers = ['WRITE_COUNT', ...(s.controls.invocationCount > 0 ? ['INVOCATION_COUNT'] : []), ...(held > 1 ? ['INTERLEAVE'] : [])];
  const of = `${keys} keys one iteration holds${held > 1 ? ` (INTERLEAVE=key: ${held} targets' at once)` : ''}`;
  return [
    { what: `the names and Buffer objects of the ${of}, ${HEAP_BYTES_PER_KEY} bytes each`, bytes: keys * HEAP_BYTES_PER_KEY, kind: 'heap', keys: drivers },
    { what: `the payloads of the ${of}`, bytes: keys * c.PAYLOAD_BYTES, kind: 'buffers', keys: [...drivers, 'PAYLOAD_BYTES'] },
  ];
}

/** One load worker's heap and Buffers (CLIENTS, CONNECTIONS, PIPELINE are per worker). */
function workerTerms(s: ScenarioPlan, c: CaseParams): MemoryTerm[] {
  const load = s.controls.load;
  const inFlight = Math.min(load.clients, load.connections * load.pipeline);
  // The preload runs before the clients: its lanes' values and the clients' never live together, the larger counts.
  const preload = load.keyspace > 0 ? load.connections * PRELOAD_IN_FLIGHT * c.PAYLOAD_BYTES * 2 : 0;
  const clients = load.clients * c.PAYLOAD_BYTES + inFlight * c.PAYLOAD_BYTES * 2;
  return [
    ...mixTerms(s, c, inFlight),
    { what: `${load.clients} virtual clients, ${HEAP_BYTES_PER_CLIENT} bytes each`, bytes: load.clients * HEAP_BYTES_PER_CLIENT, kind: 'heap', keys: ['CLIENTS'] },
    { what: `${load.connections} connections, ${HEAP_BYTES_PER_CONNECTION / 1024} KiB each`, bytes: load.connections * HEAP_BYTES_PER_CONNECTION, kind: 'heap', keys: ['CONNECTIONS'] },
    { what: `${load.durationMs / 1000} measured seconds, ${HEAP_BYTES_PER_SECOND} bytes each`, bytes: (load.durationMs / 1000) * HEAP_BYTES_PER_SECOND, kind: 'heap', keys: ['DURATION'] },
    { what: `the clean-up's batch of ${DELETE_BATCH_KEYS} key names`, bytes: DELETE_BATCH_KEYS * HEAP_BYTES_PER_KEY, kind: 'heap', keys: [] },
    preload > clients
      ? { what: `the KEYSPACE preload's values (CONNECTIONS=${load.connections} × ${PRELOAD_IN_FLIGHT} in flight, sent and copied)`, bytes: preload, kind: 'buffers', keys: ['CONNECTIONS', 'PAYLOAD_BYTES'] }
      : { what: `a value per virtual client and ${inFlight} in flight (sent and received)`, bytes: clients, kind: 'buffers', keys: ['CLIENTS', 'PAYLOAD_BYTES', ...(inFlight < load.clients ? ['CONNECTIONS', 'PIPELINE'] : [])] },
  ];
}

/** A WORKLOAD's own: its value block, the values of its commands in flight, and its model of the worker's keys. */
function mixTerms(s: ScenarioPlan, c: CaseParams, inFlight: number): MemoryTerm[] {
  const load = s.controls.load;
  const plan = load.workload;
  if (plan === null) return [];
  const largest = largestMixValue(plan, c.PAYLOAD_BYTES);
  const values = mixValuesPerCommand(plan);
  const keys = Math.ceil(load.keyspace / load.workers);
  const entries = mixEntriesPerKey(plan, load.keyspace, c.PAYLOAD_BYTES);
  return [
    { what: `the WORKLOAD's value block (${largest} bytes) and ${inFlight} commands in flight of up to ${values} values each (sent and received)`,
      bytes: largest + inFlight * values * largest * 2, kind: 'buffers', keys: ['WORKLOAD', 'VALUE_SIZES', 'CLIENTS'] },
    { what: `the WORKLOAD's model of ${keys} keys, up to ${entries} fields, members or elements each`, bytes: keys * (1 + entries) * MIX_MODEL_BYTES_PER_ENTRY,
      kind: 'heap', keys: ['KEYSPACE', 'WORKLOAD'] },
  ];
}

/**
 * A latency run's WORKLOAD: every target's client at once, each with its value block, one command in flight and its
 * model of the KEYSPACE (earlier states kept for replica reads are bounded apart: MAX_OLDER_ENTRIES in mix-model.ts).
 */
function latencyMixTerms(s: ScenarioPlan, c: CaseParams, targets: number): MemoryTerm[] {
  const load = s.controls.load;
  const plan = load.workload;
  if (plan === null) return [];
  const largest = largestMixValue(plan, c.PAYLOAD_BYTES);
  const entries = mixEntriesPerKey(plan, load.keyspace, c.PAYLOAD_BYTES);
  return [
    { what: `${targets} targets' WORKLOAD value blocks (${largest} bytes) and one command each in flight of up to ${mixValuesPerCommand(plan)} values (sent and received)`,
      bytes: targets * (largest + mixValuesPerCommand(plan) * largest * 2), kind: 'buffers', keys: ['WORKLOAD', 'VALUE_SIZES'] },
    { what: `${targets} targets' models of ${load.keyspace} keys, up to ${entries} fields, members or elements each`,
      bytes: targets * load.keyspace * (1 + entries) * MIX_MODEL_BYTES_PER_ENTRY, kind: 'heap', keys: ['KEYSPACE', 'WORKLOAD'] },
  ];
}

const BASE: MemoryTerm = { what: 'the process itself (code, drivers, live histograms)', bytes: BASE_PROCESS_BYTES, kind: 'heap', keys: [] };

/**
 * The memory a scenario's worst parameter combination needs, from what the code holds (see limits.ts for the figures).
 * Latency runs hold one iteration's keys and payloads until they are deleted by name; throughput runs hold per worker a
 * value per virtual client and per op in flight; KEYSPACE keys are generated and deleted in batches (no per-key state).
 */
export function estimateMemory(s: ScenarioPlan, targets: number, results: MemoryTerm): MemoryEstimate {
  const load = s.controls.load;
  let worst: MemoryEstimate | undefined;
  for (const c of s.cases) {
    let estimate: MemoryEstimate;
    if (load.mode !== 'latency') {
      const worker = workerTerms(s, c);
      // Every target's WORKERS are alive for the whole run (they take turns in slices, the others sleeping).
      const workers = load.workers * targets;
      const times = `${targets > 1 ? `${targets} targets × ` : ''}WORKERS=${load.workers}`;
      const keys = [...(load.workers > 1 ? ['WORKERS'] : [])];
      // Each worker sends its record (one entry per second) to the cachebench process, which holds them all to merge.
      const records: MemoryTerm = { what: `${workers} workers' per-second records while they are merged`, bytes: workers * (load.durationMs / 1000) * HEAP_BYTES_PER_SECOND, kind: 'heap', keys: ['WORKERS', 'DURATION'] };
      const totalTerms = byBytes([
        ...worker.map((t) => (workers === 1 ? t : { ...t, what: `${times} × ${t.what}`, bytes: t.bytes * workers, keys: [...t.keys, ...keys] })),
        { ...BASE, what: `${workers + 1} processes (code, drivers, histograms)`, bytes: BASE.bytes * (workers + 1), keys },
        records, results,
      ]);
      const heapTerms = byBytes([BASE, ...worker.filter((t) => t.kind === 'heap')]);
      estimate = { scenario: s.name, params: c, process: 'load worker', heapBytes: sum(heapTerms), totalBytes: sum(totalTerms), heapTerms, totalTerms };
    } else {
      const terms = load.mode === 'latency' && s.controls.fault.kind === 'none' ? latencyTerms(s, c, targets) : [];
      const heapTerms = byBytes([BASE, results, ...terms.filter((t) => t.kind === 'heap')]);
      const totalTerms = byBytes([BASE, results, ...terms]);
      estimate = { scenario: s.name, params: c, process: 'cachebench', heapBytes: sum(heapTerms), totalBytes: sum(totalTerms), heapTerms, totalTerms };
    }
    if (worst === undefined || estimate.totalBytes > worst.totalBytes || estimate.heapBytes > worst.heapBytes) worst = estimate;
  }
  return worst as MemoryEstimate;
}

/** `1.5 GiB` or `300 MiB`. */
export function sizeText(bytes: number): string {
  const gib = bytes / 2 ** 30;
  return gib >= 1 ? `${gib.toFixed(1)} GiB` : `${Math.max(1, Math.round(bytes / 2 ** 20))} MiB`;
}

/** `WRITE_COUNT=10000000 (from --envVars)`: a key's value in the estimated combination, and its source. */
function keyText(s: ScenarioPlan, e: MemoryEstimate, key: string): string {
  const setting = s.settings.get(key);
  if (setting === undefined) return key;
  const swept = Array.isArray(setting.value);
  const value = swept ? e.params[key as keyof CaseParams] : setting.value;
  return `${key}=${String(value)} (${swept ? 'of its list, ' : ''}from ${describeSource(setting.source as Source)})`;
}

/** How far the first key of the largest term must come down for the total to fit `budget`, as a fix. */
function fixFor(s: ScenarioPlan, e: MemoryEstimate, terms: readonly MemoryTerm[], total: number, budget: number, bound: 'heap' | 'machine'): string {
  const top = terms.find((t) => t.keys.length > 0);
  const key = top?.keys[0];
  if (top === undefined || key === undefined) return 'run fewer scenarios or combinations at once';
  const current = Number(s.settings.get(key)?.value instanceof Array ? e.params[key as keyof CaseParams] : s.settings.get(key)?.value);
  const spec = KEY_BY_NAME.get(key);
  const fitting = Math.floor((current * (budget - (total - top.bytes))) / top.bytes);
  // The keys whose lowering shrinks the term in proportion (not CONNECTIONS or PIPELINE, which bound only the ops in flight).
  const others = top.keys.slice(1).filter((k) => ['WRITE_COUNT', 'PAYLOAD_BYTES', 'CLIENTS'].includes(k));
  const lower = Number.isFinite(fitting) && fitting >= (spec?.min ?? 1) && fitting < current ? `lower ${key} to ${fitting} or less` : `lower ${key}`;
  const alsoOthers = others.length > 0 ? ` (or ${others.join(' or ')})` : '';
  if (e.process === 'load worker' && bound === 'heap') return `${lower}${alsoOthers}; CLIENTS and CONNECTIONS are per worker, each with a heap of its own: spread the load over more WORKERS with fewer CLIENTS each, or over several machines (--shard i/N)`;
  if (e.process === 'load worker') return `${lower}${alsoOthers} (CLIENTS and CONNECTIONS are per worker, so WORKERS multiplies them), or spread the load over several machines (--shard i/N)`;
  if (key === 'INVOCATION_COUNT') return `${lower}, or set it to 0 to let the pilot stage choose`;
  return `${lower}${alsoOthers}: one iteration's keys and payloads are held until they are deleted by name`;
}

function refusal(s: ScenarioPlan, e: MemoryEstimate, bound: 'heap' | 'machine', needed: number, terms: readonly MemoryTerm[], budget: number, available: string, extraFix: string): ConfigError {
  const what = bound === 'machine' ? 'memory on this machine' : `JS heap in ${e.process === 'cachebench' ? 'the cachebench process' : 'each load worker process'}`;
  const drivers = terms.slice(0, 3).map((t) => `${sizeText(t.bytes)} for ${t.what}${t.keys.length > 0 ? ` [${t.keys.filter((k) => s.settings.has(k)).map((k) => keyText(s, e, k)).join(', ')}]` : ''}`);
  return new ConfigError(`scenario ${s.name} needs an estimated ${sizeText(needed)} of ${what}, and ${sizeText(budget)} is available (${available}); ` +
    `it would run out of memory part-way. Largest parts: ${drivers.join('; ')}. Fix: ${fixFor(s, e, terms, needed, budget, bound)}${extraFix}`);
}

/**
 * Refuses, before anything starts, a run whose estimated memory does not fit the machine: the heap of the process that
 * holds the keys (cachebench, or each load worker) against HEAP_SHARE of V8's heap limit, and every process's heap and
 * Buffers together against MACHINE_SHARE of the machine's memory. ConfigError (exit 2) naming the figures, the keys
 * that drive them with their values and sources, and a fix.
 */
export function checkMemory(scenarios: readonly ScenarioPlan[], targets: number, machine: MachineMemory): void {
  const results = resultsTerm(scenarios, Math.max(1, targets));
  const heapBudget = machine.heapLimitBytes * HEAP_SHARE;
  const systemBudget = machine.systemBytes * MACHINE_SHARE;
  for (const s of scenarios) {
    const e = estimateMemory(s, Math.max(1, targets), results);
    if (e.heapBytes > heapBudget) {
      throw refusal(s, e, 'heap', e.heapBytes, e.heapTerms, heapBudget,
        `${HEAP_SHARE * 100}% of Node's heap limit of ${sizeText(machine.heapLimitBytes)}`,
        ', or raise the heap limit (NODE_OPTIONS=--max-old-space-size=<MiB>) if the machine has the memory');
    }
    if (e.totalBytes > systemBudget) {
      throw refusal(s, e, 'machine', e.totalBytes, e.totalTerms, systemBudget, `${MACHINE_SHARE * 100}% of its ${sizeText(machine.systemBytes)}`, '');
    }
  }
}
