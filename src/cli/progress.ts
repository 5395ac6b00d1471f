import { rolesText } from '../report/roles.js';
import type { RunProgressEvent } from '../run/execute.js';
import { describeParams } from '../report/table.js';
import { redactSecrets } from '../config/redact.js';
import { inertConsole } from './output.js';

/** How often a log (not a TTY) gets a line of a throughput or fault run's live progress. */
const PLAIN_SECONDS_MS = 5000;

const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—');

/**
 * Progress on stderr: a redrawn bar on a TTY, plain lines (at most one every 2 s per case) otherwise.
 * Returns the listener and a function that ends the current bar line.
 */
export function createProgress(stream: { readonly isTTY: boolean; write(text: string): void },
  quiet: boolean): { onProgress: (e: RunProgressEvent) => void; done: () => void } {
  const tty = stream.isTTY;
  // Names, server versions and fault events hold outside text: masked and made inert like every console line.
  const write = (text: string): void => {
    stream.write(inertConsole(redactSecrets(text)));
  };
  let lastPlain = 0;
  let lastPhase = '';
  let barOpen = false;
  let label = '';
  const endBar = (): void => {
    if (barOpen) write('\n');
    barOpen = false;
  };
  const onProgress = (e: RunProgressEvent): void => {
    if (quiet) return;
    switch (e.kind) {
      case 'connected':
        for (const t of e.targets) {
          write(`cachebench: ${t.config.name}: ${t.info.mode}${t.info.modeDetected ? ' (detected)' : ''}, ${rolesText(t.info)}, server ${t.info.serverVersion}, ${t.info.servers.join(',')}\n`);
        }
        return;
      case 'case-start':
        endBar();
        label = `[${e.index}/${e.of}] ${e.scenario} ${describeParams(e.params)}`;
        write(`cachebench: ${label}\n`);
        lastPlain = 0;
        return;
      case 'pilot':
        if (e.pilotMs !== null) {
          const counts = new Set(Object.values(e.targets));
          const per = counts.size <= 1
            ? `${e.invocations} invocation${e.invocations === 1 ? '' : 's'} per iteration`
            : `invocations per iteration: ${Object.entries(e.targets).map(([name, n]) => `${name} ${n}`).join(', ')}`;
          write(`cachebench: pilot: one invocation of the fastest target takes ${e.pilotMs.toFixed(3)} ms: ${per}\n`);
        }
        return;
      case 'warmup':
        // Pilot rounds are warm-up rounds too, as many as sizing the iteration takes: counted, with no total.
        if (!tty) write(`cachebench: warm-up ${e.pilot === true ? `${e.iteration} (pilot: sizing iterations to ITERATION_TIME_MS)` : `${e.iteration}/${e.of}`}\n`);
        return;
      case 'fault-target':
        endBar();
        write(`cachebench: fault run ${e.index}/${e.of}: ${e.target} for ${(e.runMs / 1000).toFixed(0)} s\n`);
        lastPlain = 0;
        lastPhase = '';
        return;
      case 'load-target':
        endBar();
        write(`cachebench: throughput run: ${e.target} for ${(e.runMs / 1000).toFixed(0)} s (warm-ups included${e.sliceSeconds !== undefined ? `; the targets take turns in ${e.sliceSeconds}-s slices` : '; each target in turn'})\n`);
        lastPlain = 0;
        lastPhase = '';
        return;
      case 'preload': {
        const text = `${e.target}: preloaded ${e.written.toLocaleString('en-US')} of ${e.of.toLocaleString('en-US')} KEYSPACE keys${e.workers < e.ofWorkers ? ` (${e.workers} of ${e.ofWorkers} workers reporting)` : ''}`;
        if (tty) {
          stream.write(`\r\x1b[K${inertConsole(redactSecrets(text))}`);
          barOpen = true;
        } else if (Date.now() - lastPlain >= PLAIN_SECONDS_MS) {
          write(`cachebench: ${text}\n`);
          lastPlain = Date.now();
        }
        return;
      }
      case 'cleanup':
        endBar();
        write(`cachebench: ${e.target}: deleted ${e.deleted} of ${e.of} keys${e.workers < e.ofWorkers ? ` (${e.workers} of ${e.ofWorkers} workers reporting)` : ''}` +
          `${e.deleted < e.of ? ' (Ctrl-C twice leaves the rest to expire by KEY_TTL)' : ''}\n`);
        return;
      case 'second': {
        // Throughput and fault runs: the last second's ops, failures and phase. Redrawn each second on a TTY; in a
        // log, a line every PLAIN_SECONDS_MS and whenever the phase changes.
        const text = `${e.target} ${(e.atMs / 1000).toFixed(0)}/${(e.runMs / 1000).toFixed(0)} s, ${e.phase}: ${e.ok.toLocaleString('en-US')} ops/s, ${e.failed.toLocaleString('en-US')} failed`;
        if (tty) {
          const width = 24;
          const filled = Math.round(Math.min(1, e.atMs / e.runMs) * width);
          stream.write(`\r\x1b[K${inertConsole(redactSecrets(`${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${text}`))}`);
          barOpen = true;
        } else if (Date.now() - lastPlain >= PLAIN_SECONDS_MS || e.phase !== lastPhase) {
          write(`cachebench: ${text}\n`);
          lastPlain = Date.now();
        }
        lastPhase = e.phase;
        return;
      }
      case 'fault-event':
        write(`cachebench: ${e.target} +${(e.event.atMs / 1000).toFixed(2)} s: ${e.event.what}\n`);
        return;
      case 'target-errored':
        endBar();
        write(`cachebench: target ${e.target} dropped after repeated failures: ${e.error}\n`);
        return;
      case 'round': {
        const errors = Object.entries(e.relativeErrors).map(([name, x]) => `${name} ±${pct(x)}`).join('  ') || 'none: no target is left';
        const fraction = Math.min(1, Math.max(e.round / e.maxRounds, e.elapsedMs / e.maxTimeMs));
        if (tty) {
          const width = 24;
          const filled = Math.round(fraction * width);
          const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
          stream.write(`\r\x1b[K${inertConsole(redactSecrets(`${bar} round ${e.round}/${e.maxRounds} ${(e.elapsedMs / 1000).toFixed(1)}s  ${errors}`))}`);
          barOpen = true;
        } else {
          const now = Date.now();
          if (now - lastPlain >= 2000) {
            write(`cachebench: round ${e.round}/${e.maxRounds} after ${(e.elapsedMs / 1000).toFixed(1)}s, relative error ${errors}\n`);
            lastPlain = now;
          }
        }
        return;
      }
    }
  };
  return { onProgress, done: endBar };
}
