import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its private key, as PEM files. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

/** A private CA made with the openssl CLI; `issue` signs server certificates with it. */
export interface TestCa extends CertFiles {
  /** Signs a certificate for `name` whose subjectAltName is e.g. ['IP:127.0.0.1', 'DNS:localhost']. */
  issue(name: string, altNames: readonly string[]): Promise<CertFiles>;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes a CA (certificate + key) in `dir`, valid for 2 days. Needs the `openssl` command. */
export async function makeTestCa(dir: string, label = 'ca'): Promise<TestCa> {
  const cert = join(dir, `${label}.pem`);
  const key = join(dir, `${label}.key`);
  await run('openssl', ['req', '-x509', ...EC_KEY, '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=cachebench test ${label}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return {
    cert,
    key,
    async issue(name, altNames) {
      const base = join(dir, name);
      const ext = `${base}.ext`;
      writeFileSync(ext, `subjectAltName=${altNames.join(',')}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n`);
      await run('openssl', ['req', ...EC_KEY, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`]);
      await run('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', cert, '-CAkey', key, '-CAcreateserial', '-out', `${base}.pem`, '-days', '2', '-extfile', ext]);
      return { cert: `${base}.pem`, key: `${base}.key` };
    },
  };
}
