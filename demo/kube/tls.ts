import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A throwaway certificate authority and a server certificate it signed, as PEM text. */
export interface TestTls {
  /** The CA certificate: what a kubeconfig's certificate-authority-data carries. */
  caPem: string;
  /** Server certificate for 127.0.0.1, ::1 and localhost. */
  certPem: string;
  /** The server certificate's private key (unencrypted PKCS#8). */
  keyPem: string;
}

// One CA per process: the openssl calls cost about 100 ms and every server can share it.
let cached: Promise<TestTls> | undefined;

/** Returns this process's test CA and server certificate, creating them with the openssl CLI on first use. */
export function testTls(): Promise<TestTls> {
  if (!cached) {
    cached = createTestTls();
    // A failed openssl run should not poison later calls with the same rejection.
    cached.catch(() => { cached = undefined; });
  }
  return cached;
}

async function createTestTls(): Promise<TestTls> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kube-tls-'));
  const file = (name: string) => path.join(dir, name);
  try {
    // EC P-256 keys: generated in milliseconds, unlike RSA, and accepted by Node's TLS defaults.
    const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await run('openssl', [
      'req', '-x509', ...ecKey, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '7',
      '-subj', '/CN=argocd-dr test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await run('openssl', ['req', ...ecKey, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=kube-apiserver']);
    // Hostname checks use the SAN only; the IPs matter because kubeconfigs point at https://127.0.0.1:<port>.
    await writeFile(file('server.ext'), [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes.default.svc',
      '',
    ].join('\n'));
    await run('openssl', [
      'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-out', file('server.crt'), '-days', '7', '-extfile', file('server.ext'),
    ]);
    const [caPem, certPem, keyPem] = await Promise.all(['ca.crt', 'server.crt', 'server.key'].map((name) => readFile(file(name), 'utf8')));
    return { caPem: caPem!, certPem: certPem!, keyPem: keyPem! };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
