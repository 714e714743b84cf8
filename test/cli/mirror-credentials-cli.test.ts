import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argocdDr } from '../support/cli.js';
import { removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { issueCertificate, type IssuedCertificate } from '../../demo/git-http/test-certificates.js';
import { createRichRepo } from '../../demo/origin-repos.js';
import { generateSshKey, startSshGitServer, type SshGitServer } from '../../demo/ssh/sshd.js';

const PLANTED_BEARER = 'PLANTED-cli-bearer-4c1d9e';

let dir: string;
let sshd: SshGitServer;
let https: GitHttpServer;
let mtls: GitHttpServer;
let bearer: GitHttpServer;
let key: { privateKey: string; publicKey: string };
let server: IssuedCertificate;
let client: IssuedCertificate;
const file = (name: string) => path.join(dir, name);

beforeAll(async () => {
  dir = await tempDir('cli-creds');
  const root = await tempDir('cli-creds-origins');
  await createRichRepo(root, 'org/app.git');
  key = await generateSshKey();
  [server, client] = await Promise.all([issueCertificate('server'), issueCertificate('client')]);
  sshd = await startSshGitServer({ root, authorizedKeys: [key.publicKey] });
  https = await startGitHttpServer({ root, tls: server });
  mtls = await startGitHttpServer({ root, tls: { ...server, clientCaPem: client.caPem } });
  bearer = await startGitHttpServer({ root, bearerToken: PLANTED_BEARER });
  await writeFile(file('id_ed25519'), key.privateKey, { mode: 0o600 });
  await writeFile(file('known_hosts'), `${sshd.knownHostsLine}\n`);
  await writeFile(file('ca.pem'), server.caPem);
  await writeFile(file('client.pem'), client.certPem);
  await writeFile(file('client.key'), client.keyPem, { mode: 0o600 });
  await writeFile(file('known-hosts-cm.yaml'), `---\n${stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'argocd-ssh-known-hosts-cm', namespace: 'argocd' }, data: { ssh_known_hosts: `${sshd.knownHostsLine}\n` } })}`);
}, 60_000);

afterAll(async () => {
  await Promise.all([sshd?.close(), https?.close(), mtls?.close(), bearer?.close()]);
  await removeTempDirs();
});

function expectNoSecrets(output: string): void {
  for (const secret of [key.privateKey, client.keyPem]) {
    for (const line of secret.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) expect(output).not.toContain(line);
  }
  expect(output).not.toContain(PLANTED_BEARER);
}

describe('argocd-dr mirror with SSH and HTTPS credentials', () => {
  it('mirrors an ssh:// URL with --ssh-key and --known-hosts, into the same bundle as the https URL', async () => {
    const store = await tempDir('cli-store');
    const ssh = await argocdDr(['mirror', '--store', store, '--json', '--ssh-key', file('id_ed25519'), '--known-hosts', file('known_hosts'), sshd.url('org/app.git')]);
    expectNoSecrets(ssh.stdout + ssh.stderr);
    expect(ssh.code, ssh.stderr).toBe(0);
    const viaSsh = JSON.parse(ssh.stdout).repos[0];
    expect(viaSsh).toMatchObject({ status: 'mirrored', bundle: `git/127.0.0.1:${sshd.port}/org/app.bundle` });

    const other = await tempDir('cli-store');
    const viaHttps = await argocdDr(['mirror', '--store', other, '--json', '--ca-cert', file('ca.pem'), `${https.url}/org/app.git`]);
    expect(viaHttps.code, viaHttps.stderr).toBe(0);
    const httpsBundle = JSON.parse(viaHttps.stdout).repos[0].bundle as string;
    expect((await readFile(path.join(store, viaSsh.bundle))).equals(await readFile(path.join(other, httpsBundle)))).toBe(true);
  });

  it('takes the SSH key from ARGOCD_DR_GIT_SSH_KEY and known hosts from a saved argocd-ssh-known-hosts-cm', async () => {
    const result = await argocdDr(['mirror', '--store', await tempDir('cli-store'), '--known-hosts', file('known-hosts-cm.yaml'), sshd.url('org/app.git')], { ARGOCD_DR_GIT_SSH_KEY: key.privateKey });
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/1 mirrored/);
  });

  it('exits 1 on an unknown host key, and 0 with --insecure-ignore-host-key', async () => {
    const empty = file('empty_known_hosts');
    await writeFile(empty, '');
    const refused = await argocdDr(['mirror', '--store', await tempDir('cli-store'), '--ssh-key', file('id_ed25519'), '--known-hosts', empty, sshd.url('org/app.git')]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/SSH host key of \[127\.0\.0\.1\]:\d+ is unknown/);
    expectNoSecrets(refused.stdout + refused.stderr);
    const accepted = await argocdDr(['mirror', '--store', await tempDir('cli-store'), '--ssh-key', file('id_ed25519'), '--known-hosts', empty, '--insecure-ignore-host-key', sshd.url('org/app.git')]);
    expect(accepted.code).toBe(0);
  });

  it('sends a client certificate with --client-cert/--client-key, and a bearer token from ARGOCD_DR_GIT_BEARER_TOKEN', async () => {
    const withCert = await argocdDr(['mirror', '--store', await tempDir('cli-store'), '--ca-cert', file('ca.pem'), '--client-cert', file('client.pem'), '--client-key', file('client.key'), `${mtls.url}/org/app.git`]);
    expect(withCert.code, withCert.stdout).toBe(0);
    expectNoSecrets(withCert.stdout + withCert.stderr);
    const withBearer = await argocdDr(['mirror', '--store', await tempDir('cli-store'), `${bearer.url}/org/app.git`], { ARGOCD_DR_GIT_BEARER_TOKEN: PLANTED_BEARER });
    expect(withBearer.code, withBearer.stdout).toBe(0);
    const wrong = await argocdDr(['mirror', '--store', await tempDir('cli-store'), `${bearer.url}/org/app.git`], { ARGOCD_DR_GIT_BEARER_TOKEN: `${PLANTED_BEARER}x` });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/rejected the credentials \(a bearer token\)/);
    expectNoSecrets(wrong.stdout + wrong.stderr);
  });

  it.each([
    [['--ssh-key', '/nonexistent/key'], /--ssh-key \/nonexistent\/key: cannot read the file \(ENOENT\)/],
    [['--client-cert', '/dev/null'], /needs both --client-cert and --client-key/],
    [['--ca-cert', '/dev/null'], /--ca-cert \/dev\/null: not a PEM certificate file/],
    [['--bearer-token', 'a', '--token', 'b'], /either a bearer token or a password\/token/],
  ])('exits 2 for %j', async (args, message) => {
    const result = await argocdDr(['mirror', '--store', await tempDir('cli-store'), ...args, 'https://git.example.com/org/app.git']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});
