import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CertFiles, TestCa } from './tls-certs.js';

const run = promisify(execFile);

/**
 * A server certificate signed by `ca` that names its host in the subject CN only, with no subjectAltName: Node's TLS
 * accepts it for that host name (it falls back to the CN), rustls (GLIDE's TLS) does not.
 */
export async function issueCnOnly(ca: TestCa, dir: string, host: string): Promise<CertFiles> {
  const base = join(dir, `cn-only-${host}`);
  writeFileSync(`${base}.ext`, 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${host}`]);
  await run('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', `${base}.pem`, '-days', '2', '-extfile', `${base}.ext`]);
  return { cert: `${base}.pem`, key: `${base}.key` };
}
