import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';

/**
 * FAULT_COMMAND's supervisor: a small process between cachebench and the user's command. It runs the command with
 * `sh -c` in a process group of its own, keeps only a bounded tail of its output (so a flood of output costs the
 * measured loop nothing: it never reaches cachebench), and kills the whole group when told to, when cachebench exits
 * (its IPC channel closes) or dies (also on SIGKILL: the channel closes, and setpriv's parent-death signal sends SIGTERM).
 */

/** Lines of a fault command's output kept (the last ones; blank lines are not kept). */
export const KEEP_LINES = 10;
/** Characters kept of one line (its end, after `…`). */
export const MAX_LINE_CHARS = 1000;

/** Messages from cachebench. */
export type ToSupervisor = { readonly type: 'start'; readonly command: string } | { readonly type: 'kill' };
/** Messages to cachebench. */
export type FromSupervisor =
  | { readonly type: 'started'; readonly pid: number }
  | { readonly type: 'exit'; readonly exitCode: number | null; readonly signal: string | null; readonly durationMs: number; readonly lines: readonly string[]; readonly error?: string };

/** Control characters other than tab would act on a terminal (escape sequences, bells) or break a table. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

function clip(line: string): string {
  return line.length > MAX_LINE_CHARS ? `…${line.slice(-MAX_LINE_CHARS)}` : line;
}

/**
 * The last KEEP_LINES lines of a stream of output, each at most MAX_LINE_CHARS (+1) characters: memory and work per
 * chunk are bounded by the chunk, however long the output or its lines. Lines end at `\n`, `\r\n` or `\r` (a progress
 * bar's redraws are lines too); blank lines are dropped; control characters are replaced by U+FFFD.
 */
export class OutputTail {
  private readonly decoder = new StringDecoder('utf8');
  private readonly kept: string[] = [];
  private partial = '';

  push(chunk: Buffer): void {
    this.add(this.decoder.write(chunk));
  }

  /** The kept lines, the unfinished last one included. */
  lines(): string[] {
    const rest = this.decoder.end();
    if (rest !== '') this.add(rest);
    const all = [...this.kept];
    if (this.partial.trim() !== '') all.push(this.clean(this.partial));
    return all.slice(-KEEP_LINES);
  }

  private add(text: string): void {
    const parts = text.split(/\r\n?|\n/);
    const last = parts.pop() ?? '';
    if (parts.length > 0) {
      parts[0] = this.partial + (parts[0] ?? '');
      this.partial = '';
      for (const line of parts.slice(-KEEP_LINES)) {
        if (line.trim() === '') continue;
        this.kept.push(this.clean(line));
        if (this.kept.length > KEEP_LINES) this.kept.shift();
      }
    }
    // The unfinished line grows by at most one chunk before it is cut back.
    this.partial = clip(this.partial + last);
  }

  private clean(line: string): string {
    return clip(line).replace(CONTROL, '\uFFFD');
  }
}

/** How long output is still read after the command exited. */
const OUTPUT_GRACE_MS = 100;

/** The supervisor's main: waits for `start`, runs the command, reports its end, kills its group when it must. */
function supervise(): void {
  const send = (message: FromSupervisor, then?: () => void): void => {
    if (process.connected) process.send?.(message, undefined, {}, () => then?.());
    else then?.();
  };
  let child: ChildProcess | undefined;
  let ended = false;
  let afterEnd: (() => void) | undefined;
  const killGroup = (): void => {
    if (child?.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch (error: unknown) {
      void error; // ESRCH: nothing of the group is left
    }
  };
  const stop = (): never => {
    killGroup();
    process.exit(0);
  };
  // cachebench is gone (exit, crash or SIGKILL): its end of the channel closed, or setpriv's parent-death signal came.
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
  // A terminal's Ctrl-C reaches cachebench too, which deletes its keys and then says `kill`.
  process.on('SIGINT', () => undefined);
  process.on('message', (message: ToSupervisor) => {
    if (message.type === 'kill') {
      killGroup();
      if (child === undefined || ended) process.exit(0);
      afterEnd = () => process.exit(0);
      return;
    }
    if (child !== undefined) return;
    const started = performance.now();
    const tail = new OutputTail();
    const spawned = spawn('sh', ['-c', message.command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child = spawned;
    spawned.stdout.on('data', (chunk: Buffer) => tail.push(chunk));
    spawned.stderr.on('data', (chunk: Buffer) => tail.push(chunk));
    const end = (outcome: FromSupervisor): void => {
      if (ended) return;
      ended = true;
      send(outcome, () => afterEnd?.());
    };
    spawned.once('error', (error) => end({ type: 'exit', exitCode: null, signal: null, durationMs: 0, lines: [], error: error.message }));
    // 'exit', not 'close': a process the command left in the background may hold its output pipes for ever.
    // Output still buffered is read for a moment more, then the pipes are let go.
    spawned.once('exit', (code, signal) => {
      const durationMs = Math.round(performance.now() - started);
      setTimeout(() => {
        spawned.stdout.destroy();
        spawned.stderr.destroy();
        end({ type: 'exit', exitCode: code, signal, durationMs, lines: tail.lines() });
      }, OUTPUT_GRACE_MS);
    });
    if (spawned.pid !== undefined) send({ type: 'started', pid: spawned.pid });
  });
}

/** The path of this file as compiled (what cachebench runs as the supervisor). */
export const SUPERVISOR_PATH = fileURLToPath(import.meta.url);

if (process.argv[1] !== undefined && process.send !== undefined && realpathSync(process.argv[1]) === realpathSync(SUPERVISOR_PATH)) supervise();
