/**
 * A load-generating child process (WORKERS > 1): runs one LoadWorker for the parent, over the IPC channel.
 * Messages in: job, start, stop. Out: ready, error, done. If the parent goes away (even by SIGKILL) the channel
 * closes: the load stops, this worker's keys are deleted and the process exits.
 */
import { redactedMessage } from '../config/redact.js';
import { registerTargetSecrets } from '../targets/probe.js';
import type { LoadRecord } from './record.js';
import { LoadWorker } from './worker.js';
import type { LoadJob, LoadTick, PreloadProgress } from './job.js';
import type { DeleteProgress } from '../workload/cleanup.js';

/** `dismiss`: the load will not start (Ctrl-C, another worker failed): delete what the preload wrote, telling how far, and exit. */
export type ToChild = { readonly kind: 'job'; readonly job: LoadJob } | { readonly kind: 'start'; readonly startAtMs: number } | { readonly kind: 'stop' } | { readonly kind: 'dismiss' };
export type FromChild =
  | { readonly kind: 'ready' }
  /** The clean-up's progress (about once a second): keys deleted (and failed) of this worker's total. */
  | { readonly kind: 'cleanup'; readonly progress: DeleteProgress }
  | { readonly kind: 'tick'; readonly tick: LoadTick }
  /** The KEYSPACE preload's progress (about once a second while it runs). */
  | { readonly kind: 'preload'; readonly progress: PreloadProgress }
  | { readonly kind: 'error'; readonly name: string; readonly message: string }
  | { readonly kind: 'done'; readonly record: LoadRecord };

/**
 * How long a child may take to stop after losing its parent: a last resort against a hung connection; the normal
 * path (abort, delete the keys, exit) ends well before, also after a large KEYSPACE.
 */
const ORPHAN_EXIT_MS = 300_000;

let worker: LoadWorker | undefined;
/** Connecting and preloading (the job), until settled. */
let preparing: Promise<unknown> = Promise.resolve();
/** The load is running: its own path deletes the keys and exits. */
let running = false;
/**
 * Sends a message and resolves once it was handed to the channel: a record of many seconds is large, and disconnecting
 * before the write completed would lose it (the parent would see the exit and no report).
 */
const send = (message: FromChild): Promise<void> => new Promise((resolve) => {
  if (!process.connected || process.send === undefined) {
    resolve();
    return;
  }
  process.send(message, undefined, undefined, () => resolve());
});
const describe = (error: unknown): FromChild => ({
  kind: 'error', name: error instanceof Error ? error.name : 'Error', message: redactedMessage(error),
});

let currentJob: LoadJob | undefined;
let cleaning = false;
let sigints = 0;
/** Why the clean-up was ended early (the second Ctrl-C, or an orphan's time ran out); undefined: it runs to the end. */
let leaveReason: string | undefined;
/** The clean-up's last progress, for a worker that has to stop before it ends. */
let lastProgress: DeleteProgress | undefined;

/**
 * What is left, said on stderr by the worker itself: the parent may be gone. `left` counts keys not tried and keys
 * whose DEL failed.
 */
let saidLeft = false;
function sayLeft(progress: DeleteProgress | undefined): void {
  const job = currentJob;
  if (job === undefined || leaveReason === undefined || saidLeft) return;
  saidLeft = true;
  const left = progress === undefined ? 'its keys are' : `${progress.total - progress.deleted} of its ${progress.total} keys are`;
  process.stderr.write(`cachebench: load worker ${job.worker.index + 1}/${job.worker.of} (${job.target.name}): ${leaveReason}: stopped deleting; ${left} left and expire by KEY_TTL (${job.controls.keyTtlSeconds} s)\n`);
}

/** Ends the clean-up after the batch in flight (now, or as soon as it starts). */
function leaveTheRest(why: string): void {
  leaveReason ??= why;
  worker?.stopCleanup();
}

// Ctrl-C reaches the whole process group: the parent decides (it sends stop), so the child does not die mid-op. A
// second Ctrl-C (the parent then exits at once) ends the clean-up: the rest expires by KEY_TTL.
//
// After a Ctrl-C the parent leaves only by a second one (it waits for the clean-up otherwise). Two SIGINTs sent close
// together can reach a busy worker as one (a pending signal is not queued twice), and the parent's exit can be seen
// before the signal: a Ctrl-C and a parent gone, in either order, count as the second Ctrl-C too.
// SIGTERM to the group counts as SIGINT does (the parent counts both); alone it also stops the load at once.
let parentGone = false;
/** How the last signal is named in what is said when the clean-up ends early. */
let secondSignal = 'second Ctrl-C';
const onSignal = (name: 'SIGINT' | 'SIGTERM'): void => {
  sigints++;
  secondSignal = name === 'SIGINT' ? 'second Ctrl-C' : 'second SIGTERM';
  if (sigints >= 2 || parentGone) leaveTheRest(secondSignal);
};
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => {
  worker?.abort();
  onSignal('SIGTERM');
});
// parentGone is set by our own disconnect too (after the job failed or the run ended): by then the clean-up is over.
process.on('disconnect', () => {
  worker?.abort();
  parentGone = true;
  if (sigints >= 1) leaveTheRest(secondSignal);
  setTimeout(() => {
    if (cleaning) {
      leaveTheRest(`no parent for ${ORPHAN_EXIT_MS / 1000} s`);
      sayLeft(lastProgress);
    }
    process.exit(0);
  }, ORPHAN_EXIT_MS).unref();
  // Dismissed (another worker failed, Ctrl-C) or orphaned before the load started: delete what the preload wrote, exit.
  if (!running) {
    void preparing.finally(async () => {
      await cleanUp(worker);
      process.exit(0);
    });
  }
});
/** Deletes what the worker left, telling the parent how far it got about once a second. */
async function cleanUp(w: LoadWorker | undefined): Promise<number> {
  if (w === undefined) return 0;
  if (leaveReason !== undefined) w.stopCleanup();
  cleaning = true;
  try {
    return await w.close((progress) => {
      lastProgress = progress;
      void send({ kind: 'cleanup', progress });
    });
  } finally {
    cleaning = false;
    sayLeft(w.cleanup);
  }
}

/** The job's preparation: true once ready, false once it failed (its keys deleted, the error sent). */
let jobSettled: Promise<boolean> = Promise.resolve(false);
async function handleJob(job: LoadJob): Promise<boolean> {
  try {
    currentJob = job;
    // Op errors are masked where they are counted (Tally): this process needs the passwords to mask.
    registerTargetSecrets(job.target);
    worker = new LoadWorker(job);
    preparing = worker.prepare((progress) => void send({ kind: 'preload', progress }));
    await preparing;
    await send({ kind: 'ready' });
    return true;
  } catch (error: unknown) {
    // A preload that failed half-way: its keys are deleted before the error is reported.
    await cleanUp(worker);
    await send(describe(error));
    if (process.connected) process.disconnect();
    return false;
  }
}

process.on('message', (message: ToChild) => {
  void (async () => {
    switch (message.kind) {
      case 'job':
        jobSettled = handleJob(message.job);
        return;
      case 'start': {
        const w = worker as LoadWorker;
        running = true;
        try {
          const record = await w.run(message.startAtMs, (tick) => void send({ kind: 'tick', tick }));
          const undeletedKeys = await cleanUp(w);
          await send({ kind: 'done', record: { ...record, undeletedKeys } });
        } catch (error: unknown) {
          await cleanUp(w);
          await send(describe(error));
        }
        if (process.connected) process.disconnect();
        return;
      }
      case 'stop':
        worker?.abort();
        return;
      case 'dismiss':
        // Still connected: the clean-up's progress reaches the parent, which waits for this exit; the last count is sent
        // (and handed to the channel) before exiting. A job that failed has deleted its keys already.
        worker?.abort();
        if (await jobSettled) {
          await cleanUp(worker);
          if (worker?.cleanup !== undefined) await send({ kind: 'cleanup', progress: worker.cleanup });
        }
        process.exit(0);
    }
  })();
});
