import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromChild, ToChild } from './child.js';
import type { LoadRecord } from './record.js';
import type { LoadJob, LoadTick, PreloadProgress } from './job.js';
import type { DeleteProgress } from '../workload/cleanup.js';

/** Whether the run was interrupted (a function: TypeScript would narrow a property read once). */
const isAborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

/** How long after a worker's exit its last message may still arrive. */
const EXIT_GRACE_MS = 250;

/** Margin between the last worker being ready and the common start, so every worker begins on time. */
const START_MARGIN_MS = 250;

/** One worker: a child process behind three steps (ready, start, report). */
interface WorkerHandle {
  /** Connected and preloaded. */
  readonly ready: Promise<void>;
  start(startAtMs: number): Promise<LoadRecord>;
  abort(): void;
  /** Stops a worker that will not be started (another failed to get ready); deletes its keys. */
  dismiss(): Promise<void>;
}

function childError(m: Extract<FromChild, { kind: 'error' }>): Error {
  const error = new Error(m.message);
  error.name = m.name;
  return error;
}

/** Hears a worker's clean-up progress (about once a second per worker). */
export type CleanupListener = (worker: number, progress: DeleteProgress) => void;

/** Hears a worker's KEYSPACE preload progress (about once a second per worker while it runs). */
export type PreloadListener = (worker: number, progress: PreloadProgress) => void;

/** Hears a worker's live second (about once a second per worker while it generates load). */
export type TickListener = (worker: number, tick: LoadTick) => void;

function inChild(job: LoadJob, onCleanup?: CleanupListener, onTick?: TickListener, onPreload?: PreloadListener): WorkerHandle {
  const child: ChildProcess = fork(fileURLToPath(new URL('./child.js', import.meta.url)), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let onMessage: (m: FromChild) => void = () => undefined;
  let onExit: (code: number | null) => void = () => undefined;
  child.on('message', (m: FromChild) => {
    if (m.kind === 'cleanup') onCleanup?.(job.worker.index, m.progress);
    else if (m.kind === 'tick') onTick?.(job.worker.index, m.tick);
    else if (m.kind === 'preload') onPreload?.(job.worker.index, m.progress);
    else onMessage(m);
  });
  // 'exit' can come before the last message on the IPC channel was read: a report sent just before exiting gets a
  // moment to arrive before the exit counts as "no report". ('close' does not come at all once the parent disconnected.)
  child.on('exit', (code) => setTimeout(() => onExit(code), EXIT_GRACE_MS));
  // A worker that is exiting (its second Ctrl-C, a crash) can close its end of the channel while `connected` still
  // says true: the write then fails with EPIPE, which with no callback Node emits as an 'error' event that would end
  // cachebench. What the worker no longer hears it does not need (it is stopping); its exit is handled by 'exit'.
  const send = (m: ToChild): void => {
    if (child.connected) child.send(m, (error) => void error);
  };
  child.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    onMessage = (m) => (m.kind === 'ready' ? resolve() : m.kind === 'error' ? reject(childError(m)) : undefined);
    onExit = (code) => reject(new Error(`load worker ${job.worker.index} exited (code ${String(code)}) before it was ready`));
  });
  send({ kind: 'job', job });
  return {
    ready,
    start: (startAtMs) => new Promise<LoadRecord>((resolve, reject) => {
      onMessage = (m) => (m.kind === 'done' ? resolve(m.record) : m.kind === 'error' ? reject(childError(m)) : undefined);
      onExit = (code) => reject(new Error(`load worker ${job.worker.index} exited (code ${String(code)}) before it reported`));
      send({ kind: 'start', startAtMs });
    }).finally(() => exited),
    abort: () => send({ kind: 'stop' }),
    dismiss: async () => {
      // The child stops, deletes its keys (telling how far) and exits; one that lost its channel does so by itself.
      send({ kind: 'dismiss' });
      await exited;
      // 'exit' can come before the last message was read (as for a report, see onExit).
      await new Promise((resolve) => setTimeout(resolve, EXIT_GRACE_MS));
    },
  };
}

/** One target's workers and who hears their progress. */
export interface WorkerGroup {
  readonly jobs: readonly LoadJob[];
  readonly onCleanup?: CleanupListener;
  readonly onTick?: TickListener;
  readonly onPreload?: PreloadListener;
}

/** What one group's workers gave: every worker's record, or the error that failed the target. */
export type GroupOutcome = { readonly records: LoadRecord[] } | { readonly error: unknown };

/**
 * Runs the load of several targets at once, one group of workers per target, each worker a child process (also for
 * one: its event loop, memory and connections are the load generator's alone, apart from the harness's own connections
 * and timers). All connect and preload, then all start at `startAtMs` (START_AT) or just after the last is ready; each
 * job's windows say when it sends (`onStart` hears the start time). A worker that cannot get ready fails its target (the group's other workers are
 * stopped and their keys deleted); the other targets go on, and the failed one's turns stay idle. Throws only when the
 * run was interrupted before the load started.
 */
export async function runWorkers(groups: readonly WorkerGroup[], startAtMs: number | null, signal?: AbortSignal,
  onStart?: (startMs: number) => void): Promise<GroupOutcome[]> {
  if (signal?.aborted === true) throw new Error('interrupted before the load started');
  const handles = groups.map((g) => g.jobs.map((job) => inChild(job, g.onCleanup, g.onTick, g.onPreload)));
  // Ctrl-C also stops a worker still connecting or preloading.
  const abortAll = (): void => handles.flat().forEach((h) => h.abort());
  signal?.addEventListener('abort', abortAll, { once: true });
  // One worker that cannot get ready fails its target: the group's others stop preloading at once (not after their whole share).
  for (const group of handles) for (const h of group) h.ready.catch(() => group.forEach((g) => g.abort()));
  try {
    const readiness = await Promise.all(handles.map(async (group) => {
      const settled = await Promise.allSettled(group.map((h) => h.ready));
      return settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    }));
    if (isAborted(signal)) {
      await Promise.all(handles.flat().map((h) => h.dismiss()));
      throw new Error('interrupted before the load started');
    }
    await Promise.all(handles.map((group, g) => (readiness[g] !== undefined ? Promise.all(group.map((h) => h.dismiss())) : undefined)));
    const start = startAtMs ?? Date.now() + START_MARGIN_MS;
    onStart?.(start);
    // A start already past (START_AT before every worker was ready) starts at once; each worker records how late.
    return await Promise.all(handles.map(async (group, g): Promise<GroupOutcome> => {
      const failed = readiness[g];
      if (failed !== undefined) return { error: failed.reason };
      const results = await Promise.allSettled(group.map((h) => h.start(start)));
      const error = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      return error !== undefined ? { error: error.reason } : { records: results.map((r) => (r as PromiseFulfilledResult<LoadRecord>).value) };
    }));
  } finally {
    signal?.removeEventListener('abort', abortAll);
  }
}
