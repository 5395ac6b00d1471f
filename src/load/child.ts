/**
 * A load-generating child process (WORKERS > 1): runs one LoadWorker for the parent, over the IPC channel.
 * Messages in: job, start, stop. Out: ready, error, done. If the parent goes away (even by SIGKILL) the channel
 * closes: the load stops, this worker's keys are deleted and the process exits.
 */
import { redactedMessage } from '../config/redact.js';
import { registerTargetSecrets } from '../targets/probe.js';
import type { LoadRecord } from './record.js';
import { LoadWorker, type LoadJob } from './worker.js';

export type ToChild = { readonly kind: 'job'; readonly job: LoadJob } | { readonly kind: 'start'; readonly startAtMs: number } | { readonly kind: 'stop' };
export type FromChild =
  | { readonly kind: 'ready' }
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

// Ctrl-C reaches the whole process group: the parent decides (it sends stop), so the child does not die mid-op.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => worker?.abort());
process.on('disconnect', () => {
  worker?.abort();
  setTimeout(() => process.exit(0), ORPHAN_EXIT_MS).unref();
  // Dismissed (another worker failed, Ctrl-C) or orphaned before the load started: delete what the preload wrote, exit.
  if (!running) {
    void preparing.finally(async () => {
      await worker?.close();
      process.exit(0);
    });
  }
});
process.on('message', (message: ToChild) => {
  void (async () => {
    switch (message.kind) {
      case 'job':
        try {
          // Op errors are masked where they are counted (Tally): this process needs the passwords to mask.
          registerTargetSecrets(message.job.target);
          worker = new LoadWorker(message.job);
          preparing = worker.prepare();
          await preparing;
          await send({ kind: 'ready' });
        } catch (error: unknown) {
          // A preload that failed half-way: its keys are deleted before the error is reported.
          await worker?.close();
          await send(describe(error));
          if (process.connected) process.disconnect();
        }
        return;
      case 'start': {
        const w = worker as LoadWorker;
        running = true;
        try {
          const record = await w.run(message.startAtMs);
          const undeletedKeys = await w.close();
          await send({ kind: 'done', record: { ...record, undeletedKeys } });
        } catch (error: unknown) {
          await w.close();
          await send(describe(error));
        }
        if (process.connected) process.disconnect();
        return;
      }
      case 'stop':
        worker?.abort();
        return;
    }
  })();
});
