import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TargetConfig } from '../config/resolve.js';
import type { ServerAddress } from '../config/servers.js';

/** What went wrong when connecting to one server, and what the user can do about it. */
export interface Diagnosis {
  readonly reason: string;
  readonly fix: string;
}

/**
 * The target options the messages refer to. No password (it is never shown): only where one was given,
 * `<NAME>_PASSWORD` ('option'), `<NAME>_PASSWORD_FILE` ('file') or a server URL ('url'); undefined when none was.
 */
export type DiagnoseContext = Pick<TargetConfig, 'name' | 'tls' | 'tlsCa' | 'tlsServername' | 'servers'> & {
  readonly passwordFrom?: 'option' | 'file' | 'url';
};

/** The URL form in fixes; angle brackets keep it a placeholder (and out of the reach of URL redaction). */
const URL_FORM = 'redis://<user>:<password>@host:port';

/** The fix for a refused login: set the credentials when none were given, else check the ones given. */
function authFix(ctx: DiagnoseContext): string {
  const name = ctx.name;
  if (ctx.passwordFrom === 'url') {
    return `check the user name and password in the URL in ${name}_SERVERS (${URL_FORM}): the server rejected them`;
  }
  if (ctx.passwordFrom === 'file') {
    return `check the password in the file ${name}_PASSWORD_FILE names (and ${name}_USERNAME): the server rejected it; its first line is sent as it is, spaces included`;
  }
  if (ctx.passwordFrom === 'option') {
    return `check ${name}_PASSWORD (and ${name}_USERNAME): the server rejected them; or put them in the URL: ${URL_FORM}`;
  }
  return `set ${name}_PASSWORD (and ${name}_USERNAME for an ACL user), or put them in the URL: ${URL_FORM}`;
}

/** The fix for a refused, timed-out or otherwise unreachable server. */
export const CHECK_ADDRESS = 'check that the server runs and the address is right';

const TLS_UNTRUSTED_ISSUER = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT']);
/** OpenSSL codes Node reports when a TLS client gets bytes that are not TLS. */
const TLS_GOT_PLAIN_TEXT = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_RECORD_LAYER_FAILURE']);
const CLIENT_CERT_ALERTS = new Set(['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE']);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** How to turn TLS off, given what turned it on. */
function disableTls(ctx: DiagnoseContext): string {
  const steps: string[] = [];
  if (ctx.servers.some((s) => s.tls)) steps.push(`list the servers in ${ctx.name}_SERVERS as host:port or redis:// instead of rediss://`);
  else steps.push(`set ${ctx.name}_TLS=false`);
  const set = [ctx.tlsCa !== undefined ? `${ctx.name}_TLS_CA` : undefined, ctx.tlsServername !== undefined ? `${ctx.name}_TLS_SERVERNAME` : undefined].filter((k) => k !== undefined);
  if (set.length > 0) steps.push(`unset ${set.join(' and ')}`);
  return `if the server does not use TLS on this port, ${steps.join(' and ')}`;
}

function caFix(ctx: DiagnoseContext, what: string): string {
  return ctx.tlsCa !== undefined
    ? `${ctx.name}_TLS_CA=${ctx.tlsCa.file} does not hold the CA that signed the server's certificate: set ${ctx.name}_TLS_CA to ${what}`
    : `set ${ctx.name}_TLS_CA=/path/ca.pem (${what})`;
}

/** The name Node checked the certificate against, and the names the certificate holds. */
function altnameDetails(error: unknown, server: ServerAddress, ctx: DiagnoseContext): { checked: string; names: string | undefined } {
  const e = error as { host?: unknown; cert?: { subjectaltname?: unknown; subject?: { CN?: unknown } } };
  const checked = typeof e.host === 'string' ? e.host : (ctx.tlsServername ?? server.host);
  const san = e.cert?.subjectaltname;
  const cn = e.cert?.subject?.CN;
  const names = typeof san === 'string' && san !== '' ? san : typeof cn === 'string' ? `CN=${cn}` : undefined;
  return { checked, names };
}

/** A TLS handshake or certificate failure, or undefined if the error is not one. */
function diagnoseTls(error: unknown, server: ServerAddress, ctx: DiagnoseContext): Diagnosis | undefined {
  const code = codeOf(error);
  if (code === undefined) return undefined;
  const name = ctx.name;
  if (code === 'SELF_SIGNED_CERT_IN_CHAIN') {
    return { reason: 'TLS: the server\'s certificate was signed by a CA that is not trusted (self-signed certificate in certificate chain)', fix: caFix(ctx, 'the PEM file of that CA certificate') };
  }
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT') {
    return { reason: 'TLS: the server\'s certificate is self-signed and not trusted', fix: caFix(ctx, 'the server\'s own certificate (PEM): a self-signed certificate is its own CA') };
  }
  if (TLS_UNTRUSTED_ISSUER.has(code)) {
    return { reason: `TLS: the issuer of the server's certificate is not trusted (${code})`, fix: caFix(ctx, 'a PEM file with the CA that issued the server\'s certificate (and any intermediate CAs)') };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const { checked, names } = altnameDetails(error, server, ctx);
    const inCert = names !== undefined ? ` (the certificate holds ${names})` : '';
    return {
      reason: `TLS: the server's certificate is not valid for ${checked}${inCert}`,
      fix: ctx.tlsServername !== undefined
        ? `set ${name}_TLS_SERVERNAME to a name in the certificate, or unset it to check each server's own host`
        : `set ${name}_TLS_SERVERNAME=name-in-cert, or list the server in ${name}_SERVERS by a name or IP address its certificate holds`,
    };
  }
  if (code === 'CERT_HAS_EXPIRED') {
    const validTo = (error as { cert?: { valid_to?: unknown } }).cert?.valid_to;
    return { reason: `TLS: the server's certificate has expired${typeof validTo === 'string' ? ` (valid to ${validTo})` : ''}`, fix: 'renew the server\'s certificate (or check this machine\'s clock)' };
  }
  if (code === 'CERT_NOT_YET_VALID') {
    return { reason: 'TLS: the server\'s certificate is not valid yet', fix: 'check the clocks of this machine and the server, or reissue the certificate' };
  }
  if (TLS_GOT_PLAIN_TEXT.has(code)) {
    return { reason: 'TLS: the server answered in plain text, not TLS', fix: disableTls(ctx) };
  }
  if (CLIENT_CERT_ALERTS.has(code)) {
    return { reason: `TLS: the server refused the handshake (${code}); it probably requires a client certificate`, fix: 'client certificates are not supported: let the server accept clients without one (tls-auth-clients no or optional)' };
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('CERT_') || code.includes('_CERT')) {
    return { reason: `TLS: ${messageOf(error)}`, fix: `check the server's certificate and TLS set-up; ${name}_TLS_CA names the CA to trust, ${name}_TLS_SERVERNAME the name to check` };
  }
  return undefined;
}

/** Well-known first bytes of other protocols, for a reply that is not RESP. */
const OTHER_PROTOCOLS: Readonly<Record<string, string>> = { '<': 'HTML', H: 'HTTP', S: 'SSH', '{': 'JSON', P: 'PostgreSQL or another protocol', '\u0016': 'TLS' };

/**
 * What a RESP parser's own failure says about the server's reply, in words (the parsers' messages name their
 * internals: "Unknown RESP type 60 \"<\". Please report this.", a stack overflow on a deeply nested reply, a null
 * read as text); undefined for other errors.
 */
function notRespReply(message: string, error: unknown): string | undefined {
  const type = /Unknown RESP type (\d+)/i.exec(message) ?? /unknown reply type.*?(\d+)/i.exec(message);
  if (type !== null) {
    const byte = Number(type[1]);
    const char = String.fromCharCode(byte);
    const printable = byte >= 0x21 && byte <= 0x7e ? `"${char}"` : `byte 0x${byte.toString(16).padStart(2, '0')}`;
    const looks = OTHER_PROTOCOLS[char];
    return `its reply begins with ${printable}, which no RESP reply does${looks !== undefined ? ` (it looks like ${looks})` : ''}`;
  }
  if (error instanceof RangeError && /call stack/i.test(message)) return 'its reply is nested deeper than any Redis reply';
  if (error instanceof TypeError && /Cannot read properties of (null|undefined)/.test(message)) return 'it answered a command with an empty (null) reply where Redis sends text';
  if (/Protocol error/i.test(message)) return `its reply is not valid RESP (${message.replace(/\.? ?Please report this\.?/i, '')})`;
  return undefined;
}

/**
 * Turns the error of a failed connection to one server into a reason and a fix.
 * `serverSpeaks` tells whether the server was found to speak the other protocol than configured (see {@link detectProtocol}).
 */
export function diagnoseConnectError(error: unknown, server: ServerAddress, ctx: DiagnoseContext, serverSpeaks?: 'tls' | 'plain'): Diagnosis {
  const name = ctx.name;
  if (ctx.tls && serverSpeaks === 'plain') {
    return { reason: 'TLS: the server speaks plain text, not TLS (the TLS handshake got no answer)', fix: disableTls(ctx) };
  }
  if (!ctx.tls && serverSpeaks === 'tls') {
    return { reason: `the server expects TLS and closed the plain-text connection (${codeOf(error) ?? messageOf(error)})`, fix: `set ${name}_TLS=true (and ${name}_TLS_CA=/path/ca.pem for a private CA), or list the server as rediss://host:port` };
  }
  const tls = diagnoseTls(error, server, ctx);
  if (tls !== undefined) return tls;
  const message = messageOf(error);
  const code = codeOf(error);
  // memcached answers a Redis command with `ERROR\r\n`, which RESP parsers read as an unknown type byte "E".
  if (/Unknown RESP type 69\b|unknown reply type.*'E'|Protocol error.*"E"/i.test(message)) {
    return { reason: 'the server answered a Redis command with something that is not RESP (memcached answers ERROR)', fix: `for memcached set ${name}_PROTOCOL=memcache; for Redis, check the address` };
  }
  const notResp = notRespReply(message, error);
  if (notResp !== undefined) {
    return {
      reason: `the server does not answer as a Redis server: ${notResp}`,
      fix: `check the port in ${name}_SERVERS: it must be a Redis or Valkey server, a cluster node or a twemproxy (for memcached set ${name}_PROTOCOL=memcache)`,
    };
  }
  if (/^(NOAUTH|WRONGPASS)\b|invalid username-password pair|Authentication required/i.test(message)) {
    return { reason: message, fix: authFix(ctx) };
  }
  if (/wrong number of arguments for 'auth'/i.test(message)) {
    return {
      reason: 'the server refused AUTH with a user name (Redis before 6 has no ACL users)',
      fix: `unset ${name}_USERNAME (and drop the user name from the URL): this server takes a password only`,
    };
  }
  if (/^NOPERM\b/.test(message)) {
    return { reason: message, fix: `give the ACL user the commands and keys cachebench uses (e.g. ACL SETUSER <user> +@all ~cachebench:*), or set ${name}_USERNAME and ${name}_PASSWORD to another user` };
  }
  if (/AUTH.*(without any password configured|no password is set)/i.test(message)) {
    return { reason: 'a password was sent but the server has none configured', fix: `unset ${name}_PASSWORD or ${name}_PASSWORD_FILE (and drop the password from the URL), or configure the password on the server` };
  }
  if (/^cluster_state is /.test(message)) {
    return { reason: message, fix: 'wait until CLUSTER INFO reports cluster_state:ok, or fix the cluster (failed nodes, unassigned slots: redis-cli --cluster check / fix)' };
  }
  if (/^LOADING\b/.test(message)) {
    return { reason: message, fix: 'wait until the server has loaded its dataset and run again' };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { reason: `the host name ${server.host} does not resolve (${code})`, fix: `check the host name in ${name}_SERVERS` };
  }
  // Refused, timed out, unreachable, closed: the default.
  return { reason: message, fix: CHECK_ADDRESS };
}

/**
 * After a failed connection, finds out whether the server speaks the other protocol than configured:
 * with TLS on, whether it answers a plain-text PING; with TLS off, whether it completes a TLS handshake
 * (certificate not checked: this only identifies the protocol). Sends at most one PING. Never rejects.
 */
export function detectProtocol(server: ServerAddress, tls: boolean, timeoutMs: number): Promise<'tls' | 'plain' | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: 'tls' | 'plain' | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const socket = tls
      ? netConnect({ host: server.host, port: server.port }, () => socket.write('PING\r\n'))
      : tlsConnect({ host: server.host, port: server.port, rejectUnauthorized: false }, () => finish('tls'));
    if (tls) {
      socket.once('data', (data: Buffer) => {
        const first = data[0];
        // RESP replies start with + (PONG) or - (NOAUTH, ...).
        finish(first === 0x2b || first === 0x2d ? 'plain' : undefined);
      });
    }
    socket.once('error', () => finish(undefined));
    socket.once('close', () => finish(undefined));
  });
}
