import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { TargetConfig } from '../config/resolve.js';

/**
 * The name a server's certificate is checked against (and sent as SNI): `<NAME>_TLS_SERVERNAME` when
 * set, else the server's own host. For an IP address it is undefined: Node then sends no SNI
 * (RFC 6066 forbids IP addresses there) and checks the IP against the certificate's IP SANs.
 */
export function tlsServernameFor(config: Pick<TargetConfig, 'tlsServername'>, host: string | undefined): string | undefined {
  if (config.tlsServername !== undefined) return config.tlsServername;
  return host !== undefined && isIP(host) === 0 ? host : undefined;
}

/**
 * Node TLS options for one server: the target's private CA (if any) and that server's name.
 * Without a host, only `<NAME>_TLS_SERVERNAME` (if set) is given: Node then checks each connection's own host.
 */
export function tlsOptionsFor(config: Pick<TargetConfig, 'tlsCa' | 'tlsServername'>, host: string | undefined): ConnectionOptions {
  const servername = tlsServernameFor(config, host);
  return {
    ...(config.tlsCa !== undefined ? { ca: config.tlsCa.pem } : {}),
    ...(servername !== undefined ? { servername } : {}),
  };
}
