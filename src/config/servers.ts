import { ConfigError, describeSource, type Source } from './errors.js';
import { redactSecrets } from './redact.js';

/** One server of a target's list. Credentials, if any, came from a URL. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  /** True for `rediss://` URLs. */
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
  /** `host:port` or `[v6]:port`: safe to print, never contains credentials. */
  readonly display: string;
}

export function displayAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function fail(key: string, item: string, source: Source, problem: string, fix: string): ConfigError {
  return new ConfigError(`${key} item ${JSON.stringify(redactSecrets(item))} (from ${describeSource(source)}): ${problem}. Fix: ${fix}`);
}

const FORMS = 'write host:port, [ipv6]:port, redis://host:port or rediss://host:port, separated by commas';

function parsePort(key: string, item: string, text: string, source: Source): number {
  if (!/^\d+$/.test(text)) throw fail(key, item, source, `port ${JSON.stringify(text)} is not a number`, FORMS);
  const port = Number(text);
  if (port < 1 || port > 65535) throw fail(key, item, source, `port ${port} is out of range`, 'use a port from 1 to 65535');
  return port;
}

function parseUrl(key: string, item: string, source: Source): ServerAddress {
  let url: URL;
  try {
    url = new URL(item);
  } catch (error: unknown) {
    void error;
    throw fail(key, item, source, 'not a valid URL', `${FORMS}; percent-encode special characters of a password (/ as %2F, @ as %40, : as %3A)`);
  }
  const tls = url.protocol === 'rediss:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw fail(key, item, source, 'the URL has no host', FORMS);
  const portMatch = /^rediss?:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/]*)(?::([^/]*))?/i.exec(item);
  const port = portMatch?.[1] !== undefined ? parsePort(key, item, portMatch[1], source) : 6379;
  if (url.pathname && url.pathname !== '/' && url.pathname !== '/0') {
    throw fail(key, item, source, 'a database number other than 0 is not supported', 'drop the /db part of the URL');
  }
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  return { host, port, tls, display: displayAddress(host, port), ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** Parses a comma-separated `<NAME>_SERVERS` value. */
export function parseServers(key: string, raw: string, source: Source): ServerAddress[] {
  // A URL password with a comma splits the list inside the credentials: echo no part of such a value.
  if (/:\/\/(?:(?!:\/\/)[^@])*,(?:(?!:\/\/)[^@])*@/.test(raw)) {
    throw new ConfigError(`${key} (from ${describeSource(source)}) has a comma inside a URL's credentials, which splits the server list. ` +
      'Fix: percent-encode the comma in the password as %2C (and / as %2F, @ as %40, : as %3A)');
  }
  if (raw.trim() === '') {
    throw new ConfigError(`${key} (from ${describeSource(source)}) is empty. Fix: list at least one server, ${FORMS}`);
  }
  const servers: ServerAddress[] = [];
  for (const part of raw.split(',')) {
    const item = part.trim();
    if (item === '') throw fail(key, raw, source, 'the list has an empty entry', FORMS);
    let server: ServerAddress;
    if (/^rediss?:\/\//i.test(item)) {
      server = parseUrl(key, item, source);
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(item)) {
      throw fail(key, item, source, 'unsupported URL scheme', 'use redis:// or rediss://');
    } else if (item.startsWith('[')) {
      const m = /^\[([0-9a-fA-F:.]+)\](?::(.*))?$/.exec(item);
      if (!m?.[1]) throw fail(key, item, source, 'malformed IPv6 address', 'write [ipv6]:port, e.g. [::1]:6379');
      if (m[2] === undefined) throw fail(key, item, source, 'no port given', `add the port, e.g. [${m[1]}]:6379`);
      const port = parsePort(key, item, m[2], source);
      server = { host: m[1], port, tls: false, display: displayAddress(m[1], port) };
    } else {
      const colons = item.split(':').length - 1;
      if (colons === 0) throw fail(key, item, source, 'no port given', `add the port, e.g. ${item}:6379`);
      if (colons > 1) throw fail(key, item, source, 'IPv6 addresses need brackets', 'write [ipv6]:port, e.g. [::1]:6379');
      const [host = '', portText = ''] = item.split(':');
      if (!/^[A-Za-z0-9.-]+$/.test(host)) throw fail(key, item, source, `host ${JSON.stringify(host)} is not a host name or IPv4 address`, FORMS);
      const port = parsePort(key, item, portText, source);
      server = { host, port, tls: false, display: displayAddress(host, port) };
    }
    if (servers.some((s) => s.display === server.display)) {
      throw fail(key, item, source, `${server.display} is listed twice`, 'list each server once');
    }
    servers.push(server);
  }
  return servers;
}
