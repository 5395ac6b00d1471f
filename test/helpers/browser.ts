import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

/**
 * A real headless Chromium (Debian's `chromium`, installed by src/local/setup.sh) driven over the DevTools protocol on
 * a pipe (--remote-debugging-pipe: JSON messages separated by NUL on fds 3 and 4), so no port and no WebSocket
 * library. It records everything a page says or fetches: console messages, uncaught exceptions, log entries (a CSP
 * violation, a failed load) and every network request.
 */
export interface PageReport {
  /** console.error/warn calls, uncaught exceptions, error-level log entries, in words. */
  readonly problems: readonly string[];
  /** URLs the page requested (the page itself included). */
  readonly requests: readonly string[];
}

/** The browser: CACHEBENCH_CHROMIUM, or Debian's `chromium` on the PATH. */
const BINARY = process.env.CACHEBENCH_CHROMIUM ?? 'chromium';

interface Message {
  id?: number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { message: string }; sessionId?: string;
}

export class Browser {
  readonly #child: ChildProcess;
  readonly #profile: string;
  readonly #pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  readonly #listeners: ((m: Message) => void)[] = [];
  #nextId = 1;
  #buffer = '';
  #exited = false;
  #why = 'chromium exited';

  private constructor(child: ChildProcess, profile: string) {
    this.#child = child;
    this.#profile = profile;
    const out = child.stdio[4] as Readable;
    out.setEncoding('utf8');
    out.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let end: number;
      while ((end = this.#buffer.indexOf('\0')) >= 0) {
        const message = JSON.parse(this.#buffer.slice(0, end)) as Message;
        this.#buffer = this.#buffer.slice(end + 1);
        if (message.id !== undefined) {
          const waiter = this.#pending.get(message.id);
          this.#pending.delete(message.id);
          if (message.error) waiter?.reject(new Error(message.error.message));
          else waiter?.resolve(message.result ?? {});
        } else {
          for (const l of this.#listeners) l(message);
        }
      }
    });
    const gone = (why: string): void => {
      this.#exited = true;
      this.#why = why;
      for (const w of this.#pending.values()) w.reject(new Error(why));
      this.#pending.clear();
    };
    child.on('exit', (code, signal) => gone(`chromium exited (${signal ?? code})`));
    // A write to a browser that never started or already left: the pending calls are rejected by 'exit' or 'error'.
    (child.stdio[3] as Writable).on('error', (error: Error) => gone(`chromium's pipe closed (${error.message})`));
    child.on('error', (error: NodeJS.ErrnoException) => gone(`cannot start ${BINARY} (${error.code ?? error.message}). Fix: bash src/local/setup.sh installs Debian's chromium, or set CACHEBENCH_CHROMIUM to a Chromium or Chrome binary`));
  }

  /** Starts headless Chromium with a fresh profile folder below `root` (removed by close(), and with `root`). */
  static launch(root: string = tmpdir()): Browser {
    const profile = mkdtempSync(join(root, 'chromium-'));
    const child = spawn(BINARY, [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--disable-extensions',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--mute-audio', '--hide-scrollbars',
      `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
    return new Browser(child, profile);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    if (this.#exited) return Promise.reject(new Error(this.#why));
    const id = this.#nextId++;
    const promise = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method}: no answer from chromium within 30 s`));
      }, 30_000);
      this.#pending.set(id, { resolve: (r) => { clearTimeout(timer); resolve(r); }, reject: (e) => { clearTimeout(timer); reject(e); } });
    });
    (this.#child.stdio[3] as Writable).write(`${JSON.stringify({ id, method, params, ...(sessionId !== undefined ? { sessionId } : {}) })}\0`);
    return promise;
  }

  /**
   * Opens `file` in a new page of `width` × `height` CSS pixels (a phone: 390 wide), waits for its load event and lets
   * `inspect` work on it while console messages, exceptions, log entries and requests are recorded.
   */
  async open<T>(file: string, size: { width: number; height: number; mobile: boolean },
    inspect: (page: Page) => Promise<T>): Promise<{ report: PageReport; result: T }> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' }) as { targetId: string };
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string };
    const problems: string[] = [];
    const requests: string[] = [];
    let loaded: () => void = () => undefined;
    const load = new Promise<void>((resolve) => { loaded = resolve; });
    const listener = (m: Message): void => {
      if (m.sessionId !== sessionId) return;
      const p = m.params ?? {};
      if (m.method === 'Runtime.consoleAPICalled' && (p['type'] === 'error' || p['type'] === 'warning' || p['type'] === 'assert')) {
        problems.push(`console.${String(p['type'])}: ${JSON.stringify((p['args'] as unknown[] | undefined) ?? [])}`);
      } else if (m.method === 'Runtime.exceptionThrown') {
        problems.push(`exception: ${JSON.stringify(p['exceptionDetails'])}`);
      } else if (m.method === 'Log.entryAdded') {
        const entry = p['entry'] as { level: string; text: string; url?: string };
        if (entry.level === 'error' || entry.level === 'warning') problems.push(`log ${entry.level}: ${entry.text}${entry.url ? ` (${entry.url})` : ''}`);
      } else if (m.method === 'Network.requestWillBeSent') {
        requests.push(String((p['request'] as { url: string }).url));
      } else if (m.method === 'Page.loadEventFired') {
        loaded();
      }
    };
    this.#listeners.push(listener);
    try {
      for (const domain of ['Page', 'Runtime', 'Log', 'Network']) await this.send(`${domain}.enable`, {}, sessionId);
      await this.send('Emulation.setDeviceMetricsOverride', { width: size.width, height: size.height, deviceScaleFactor: 1, mobile: size.mobile }, sessionId);
      await this.send('Page.navigate', { url: pathToFileURL(file).href }, sessionId);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([load, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${file}: no load event within 30 s`)), 30_000); })]).finally(() => clearTimeout(timer));
      const result = await inspect(new Page(this, sessionId));
      return { report: { problems, requests }, result };
    } finally {
      this.#listeners.splice(this.#listeners.indexOf(listener), 1);
      await this.send('Target.closeTarget', { targetId }).catch(() => undefined);
    }
  }

  /** Closes the browser (Browser.close, then SIGKILL of its PID if it lingers) and removes its profile. */
  async close(): Promise<void> {
    if (!this.#exited) {
      const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
      await this.send('Browser.close').catch(() => undefined);
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#profile, { recursive: true, force: true });
  }
}

export class Page {
  constructor(private readonly browser: Browser, private readonly sessionId: string) {}

  /** Evaluates `expression` in the page and returns its value (JSON). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.browser.send('Runtime.evaluate', { expression, returnByValue: true }, this.sessionId) as { result: { value: T }; exceptionDetails?: unknown };
    if (r.exceptionDetails !== undefined) throw new Error(`evaluate failed: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value;
  }

  /** A PNG screenshot of a region of the page (CSS pixels, page coordinates, beyond the viewport too). */
  async screenshot(clip: { x: number; y: number; width: number; height: number }): Promise<Buffer> {
    const r = await this.browser.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { ...clip, scale: 1 } }, this.sessionId) as { data: string };
    return Buffer.from(r.data, 'base64');
  }
}
