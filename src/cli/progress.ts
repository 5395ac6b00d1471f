import { rolesText } from '../report/roles.js';
import type { RunProgressEvent } from '../run/execute.js';
import { describeParams } from '../report/table.js';
import { redactSecrets } from '../config/redact.js';
import { inertConsole } from './output.js';

/** How often a log (not a TTY) gets a line of a throughput or fault run's live progress. */
const PLAIN_SECONDS_MS = 5000;

const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—');

/** A TTY bar of `fraction`, 24 cells wide. */
function bar(fraction: number): string {
  const width = 24;
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

/** The one-line description of an event that gets a line of its own (null: a live event, or none). */
function lineOf(e: RunProgressEvent): string | null {
  switch (e.kind) {
    case 'connected':
      return e.targets.map((t) => `cachebench: ${t.config.name}: ${t.info.mode}${t.info.modeDetected ? ' (detected)' : ''}, ${rolesText(t.info)}, server ${t.info.serverVersion}, ${t.info.servers.join(',')}\n`).join('');
    case 'pilot': {
      if (e.pilotMs === null) return null;
      const counts = new Set(Object.values(e.targets));
      const per = counts.size <= 1
        ? `${e.invocations} invocation${e.invocations === 1 ? '' : 's'} per iteration`
        : `invocations per iteration: ${Object.entries(e.targets).map(([name, n]) => `${name} ${n}`).join(', ')}`;
      return `cachebench: pilot: one invocation of the fastest target takes ${e.pilotMs.toFixed(3)} ms: ${per}\n`;
    }
    case 'fault-event':
      return `cachebench: ${e.target} +${(e.event.atMs / 1000).toFixed(2)} s: ${e.event.what}\n`;
    case 'fault-target':
      return `cachebench: fault run ${e.index}/${e.of}: ${e.target} for ${(e.runMs / 1000).toFixed(0)} s\n`;
    case 'load-target':
      return `cachebench: throughput run: ${e.target} for ${(e.runMs / 1000).toFixed(0)} s (warm-ups included${e.sliceSeconds !== undefined ? `; the targets take turns in ${e.sliceSeconds}-s slices` : '; each target in turn'})\n`;
    case 'capacity-step':
      return `cachebench: ${e.target} capacity step ${e.step} (${e.phase}) at ${Math.round(e.rate).toLocaleString('en-US')} ops/s: ` +
        `${e.clientBound ? 'CLIENT-BOUND (the search stops: a lower bound)' : e.met ? 'objective met' : `not met (${e.why ?? ''})`}\n`;
    case 'cleanup':
      return `cachebench: ${e.target}: deleted ${e.deleted} of ${e.of} keys${e.workers < e.ofWorkers ? ` (${e.workers} of ${e.ofWorkers} workers reporting)` : ''}` +
        `${e.deleted < e.of ? ' (Ctrl-C twice leaves the rest to expire by KEY_TTL)' : ''}\n`;
    case 'target-errored':
      return `cachebench: target ${e.target} ${e.at === 'setup' ? 'not measured' : 'dropped after repeated failures'}: ${e.error}\n`;
    default:
      return null;
  }
}

/**
 * Progress on stderr: a redrawn bar on a TTY, plain lines (at most one every 2 s per case) otherwise.
 * Returns the listener and a function that ends the current bar line.
 */
export function createProgress(stream: { readonly isTTY: boolean; write(text: string): void },
  quiet: boolean): { onProgress: (e: RunProgressEvent) => void; done: () => void } {
  const printer = new ProgressPrinter(stream);
  return { onProgress: (e) => (quiet ? undefined : printer.on(e)), done: () => printer.endBar() };
}

class ProgressPrinter {
  readonly #stream: { readonly isTTY: boolean; write(text: string): void };
  #lastPlain = 0;
  #lastPhase = '';
  #barOpen = false;

  constructor(stream: { readonly isTTY: boolean; write(text: string): void }) {
    this.#stream = stream;
  }

  /** Names, server versions and fault events hold outside text: masked and made inert like every console line. */
  #write(text: string): void {
    this.#stream.write(inertConsole(redactSecrets(text)));
  }

  endBar(): void {
    if (this.#barOpen) this.#write('\n');
    this.#barOpen = false;
  }

  /** A live line: redrawn on a TTY; in a log, a line when `due` says so (then the plain clock restarts). */
  #live(ttyText: string, plainText: string, due: (sinceMs: number) => boolean): void {
    if (this.#stream.isTTY) {
      this.#stream.write(`\r\x1b[K${inertConsole(redactSecrets(ttyText))}`);
      this.#barOpen = true;
    } else if (due(Date.now() - this.#lastPlain)) {
      this.#write(`cachebench: ${plainText}\n`);
      this.#lastPlain = Date.now();
    }
  }

  on(e: RunProgressEvent): void {
    // A line of its own ends a bar; a new case or target restarts the plain lines' pace.
    const line = lineOf(e);
    if (e.kind === 'case-start' || e.kind === 'fault-target' || e.kind === 'load-target' || e.kind === 'cleanup' || e.kind === 'target-errored') this.endBar();
    if (e.kind === 'case-start') this.#write(`cachebench: [${e.index}/${e.of}] ${e.scenario} ${describeParams(e.params)}\n`);
    if (line !== null) this.#write(line);
    if (e.kind === 'case-start' || e.kind === 'fault-target' || e.kind === 'load-target') {
      this.#lastPlain = 0;
      if (e.kind !== 'case-start') this.#lastPhase = '';
    }
    switch (e.kind) {
      case 'warmup':
        // Pilot rounds are warm-up rounds too, as many as sizing the iteration takes: counted, with no total.
        if (!this.#stream.isTTY) this.#write(`cachebench: warm-up ${e.pilot === true ? `${e.iteration} (pilot: sizing iterations to ITERATION_TIME_MS)` : `${e.iteration}/${e.of}`}\n`);
        return;
      case 'preload': {
        const text = `${e.target}: preloaded ${e.written.toLocaleString('en-US')} of ${e.of.toLocaleString('en-US')} KEYSPACE keys${e.workers < e.ofWorkers ? ` (${e.workers} of ${e.ofWorkers} workers reporting)` : ''}`;
        this.#live(text, text, (since) => since >= PLAIN_SECONDS_MS);
        return;
      }
      case 'second': {
        // Throughput and fault runs: the last second's ops, failures and phase. Redrawn each second on a TTY; in a
        // log, a line every PLAIN_SECONDS_MS and whenever the phase changes.
        const text = `${e.target} ${(e.atMs / 1000).toFixed(0)}/${(e.runMs / 1000).toFixed(0)} s, ${e.phase}: ${e.ok.toLocaleString('en-US')} ops/s, ${e.failed.toLocaleString('en-US')} failed`;
        this.#live(`${bar(e.atMs / e.runMs)} ${text}`, text, (since) => since >= PLAIN_SECONDS_MS || e.phase !== this.#lastPhase);
        this.#lastPhase = e.phase;
        return;
      }
      case 'round': {
        // With MAX_PERCENT_ERROR: how precisely each Percent is known so far (its interval's half-width over it).
        const errors = e.percentErrors !== undefined
          ? `Percent ${Object.entries(e.percentErrors).map(([name, x]) => `${name} ±${pct(x)}`).join('  ')}`
          : Object.entries(e.relativeErrors).map(([name, x]) => `${name} ±${pct(x)}`).join('  ') || 'none: no target is left';
        const what = e.percentErrors !== undefined ? 'precision' : 'relative error';
        const fraction = Math.min(1, Math.max(e.round / e.maxRounds, e.elapsedMs / e.maxTimeMs));
        this.#live(`${bar(fraction)} round ${e.round}/${e.maxRounds} ${(e.elapsedMs / 1000).toFixed(1)}s  ${errors}`,
          `round ${e.round}/${e.maxRounds} after ${(e.elapsedMs / 1000).toFixed(1)}s, ${what} ${errors}`, (since) => since >= 2000);
        return;
      }
    }
  }
}
