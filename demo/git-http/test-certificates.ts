import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../git.js';

const run = promisify(execFile);

/** A private CA and a certificate it signed, PEM text, made with the openssl CLI. */
export interface IssuedCertificate {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * A throwaway CA and one certificate from it: a server certificate for 127.0.0.1, localhost and
 * git.test (a name only a test proxy resolves), or a client certificate (clientAuth) for a Git
 * server that asks for one.
 */
export async function issueCertificate(purpose: 'server' | 'client', commonName = purpose === 'server' ? 'git.test' : 'argocd-dr'): Promise<IssuedCertificate> {
  const dir = await tempDir('certs');
  const file = (name: string) => path.join(dir, name);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=argocd-dr test ${purpose} CA`, '-keyout', file('ca.key'), '-out', file('ca.pem')]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${commonName}`, '-keyout', file('leaf.key'), '-out', file('leaf.csr')]);
  const extensions = purpose === 'server'
    ? 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:git.test\nextendedKeyUsage=serverAuth\n'
    : 'extendedKeyUsage=clientAuth\n';
  await writeFile(file('ext.cnf'), extensions);
  await run('openssl', ['x509', '-req', '-in', file('leaf.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('ext.cnf'), '-out', file('leaf.pem')]);
  return { caPem: await readFile(file('ca.pem'), 'utf8'), certPem: await readFile(file('leaf.pem'), 'utf8'), keyPem: await readFile(file('leaf.key'), 'utf8') };
}
