import { generateKeyPairSync } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigAccess } from '../../lambdas/argocd/kube-access.js';
import { runBackup } from '../../lambdas/backup/backup-run.js';
import type { RunReport } from '../../lambdas/backup/steps.js';
import { parseExtraRepoCredentials } from '../../lambdas/git/secrets-manager-credentials.js';
import { openStore } from '../../lambdas/store/open-store.js';
import { leakedSecrets } from '../../demo/argocd-installation.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../demo/environment.js';
import { git, removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { issueCertificate, type IssuedCertificate } from '../../demo/git-http/test-certificates.js';
import type { KubeObject } from '../../demo/kube/kube-api-server.js';
import { generateSshKey, startSshGitServer, type SshGitServer } from '../../demo/ssh/sshd.js';
import { argocdDr } from '../support/cli.js';
import { startForwardProxy, type ForwardProxy } from '../support/forward-proxy.js';
import { startGitHubAppEndpoint, type GitHubAppEndpoint } from '../support/github-app-endpoint.js';

/**
 * A backup run that needs every kind of Argo CD credential, all taken from the exported installation: an ssh
 * repository Secret with its key served by a real sshd whose host key is only in argocd-ssh-known-hosts-cm, an
 * HTTPS server behind a private CA given only in argocd-tls-certs-cm that wants a client certificate and a bearer
 * token from a repo-creds template, a GitHub App repository reached through the Secret's proxy, and an sshd whose
 * host key Argo CD does not know.
 */
const BEARER = 'PLANTED-bearer-token-for-tls-git-4b1f';
const APP_ID = '424242';
const INSTALLATION_ID = '31337';
const APP_TOKEN = 'ghs_PLANTEDbackupRunInstallationToken42';

let env: DemoEnvironment;
let sshd: SshGitServer;
let stranger: SshGitServer;
let https: GitHttpServer;
let appGit: GitHttpServer;
let github: GitHubAppEndpoint;
let proxy: ForwardProxy;
let key: { privateKey: string; publicKey: string };
let client: IssuedCertificate;
let urls: { ssh: string; addons: string; tls: string; app: string; unknownHost: string; extra: string };

const appKey = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs1', format: 'pem' } });

/** What must never show outside the export: the planted keys (and each line of them), the tokens, the client key. */
function leaks(text: string): string[] {
  const secrets = [key.privateKey, client.keyPem, appKey.privateKey, BEARER, APP_TOKEN];
  const lines = secrets.flatMap((secret) => secret.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----')));
  return [...secrets, ...lines].filter((secret) => text.includes(secret.trim())).map((secret) => secret.slice(0, 12)).concat(leakedSecrets(text));
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

function secret(name: string, type: 'repository' | 'repo-creds', values: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name, namespace: 'argocd', labels: { 'argocd.argoproj.io/secret-type': type } },
    data: Object.fromEntries(Object.entries(values).map(([field, value]) => [field, b64(value)])),
  };
}

function configMap(name: string, data: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'argocd', labels: { 'app.kubernetes.io/part-of': 'argocd' } }, data };
}

function application(name: string, repoURL: string, sourcePath: string, targetRevision: string): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1', kind: 'Application',
    metadata: { name, namespace: 'argocd' },
    spec: { project: 'default', source: { repoURL, path: sourcePath, targetRevision }, destination: { server: 'https://kubernetes.default.svc', namespace: name } },
  };
}

/** Every file of the store except the exports, which hold Argo CD's Secrets on purpose. */
async function storeTextOutsideExports(store: string): Promise<string> {
  const texts: string[] = [];
  for (const file of await readdir(store, { recursive: true, withFileTypes: true })) {
    const full = path.join(file.parentPath, file.name);
    if (file.isFile() && !/argocd\/[^/]+\/export\.yaml$/.test(full)) texts.push((await readFile(full)).toString('latin1'));
  }
  return texts.join('\n');
}

async function backup(store: string, extraRepos: string[] = []): Promise<RunReport> {
  return runBackup({
    store: openStore(store),
    clusters: [{ name: env.context, namespace: env.namespace, connect: () => Promise.resolve(kubeconfigAccess(env.kubeconfig, env.context)) }],
    extraRepos,
  });
}

beforeAll(async () => {
  env = await startDemoEnvironment({ dir: await tempDir('backup-credentials-env') });
  const root = path.join(env.dir, 'git');
  key = await generateSshKey('ed25519');
  const server = await issueCertificate('server');
  client = await issueCertificate('client');
  sshd = await startSshGitServer({ root, authorizedKeys: [key.publicKey] });
  stranger = await startSshGitServer({ root, authorizedKeys: [key.publicKey] });
  https = await startGitHttpServer({ root, tls: { certPem: server.certPem, keyPem: server.keyPem, clientCaPem: client.caPem }, bearerToken: BEARER });
  // GitHub takes an installation token as the password of user x-access-token.
  appGit = await startGitHttpServer({ root, auth: { username: 'x-access-token', password: APP_TOKEN } });
  github = await startGitHubAppEndpoint({ appId: APP_ID, publicKey: appKey.publicKey, installations: { [INSTALLATION_ID]: APP_TOKEN } });
  // git.test resolves only at the proxy, so the repository is reachable only through the Secret's proxy.
  proxy = await startForwardProxy({ resolve: { 'git.test': '127.0.0.1' } });
  urls = {
    ssh: sshd.url(env.repos.guestbook.path),
    addons: sshd.url(env.repos.clusterAddons.path),
    tls: `${https.url}/${env.repos.billing.path}`,
    app: `${appGit.url.replace('127.0.0.1', 'git.test')}/${env.repos.clusterAddons.path}`,
    unknownHost: stranger.url(env.repos.values.path),
    extra: sshd.url(env.repos.values.path),
  };
  const known = env.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'argocd', name: 'argocd-ssh-known-hosts-cm' })!;
  const certs = env.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'argocd', name: 'argocd-tls-certs-cm' })!;
  env.kube.putAll([
    configMap('argocd-ssh-known-hosts-cm', { ssh_known_hosts: `${(known.data as Record<string, string>).ssh_known_hosts}${sshd.knownHostsLine}\n` }),
    configMap('argocd-tls-certs-cm', { ...(certs.data as Record<string, string>), '127.0.0.1': server.caPem }),
    secret('ssh-guestbook', 'repository', { type: 'git', url: urls.ssh, sshPrivateKey: key.privateKey }),
    // A template for every repository of both sshds: the key, never a host key.
    secret('ssh-creds', 'repo-creds', { type: 'git', url: `ssh://${sshd.user}@127.0.0.1:${stranger.port}/`, sshPrivateKey: key.privateKey }),
    secret('ssh-addons', 'repository', { type: 'git', url: urls.addons, sshPrivateKey: key.privateKey }),
    secret('tls-creds', 'repo-creds', { type: 'git', url: `${https.url}/`, bearerToken: BEARER, tlsClientCertData: client.certPem, tlsClientCertKey: client.keyPem }),
    secret('github-app', 'repository', {
      type: 'git', url: urls.app, proxy: proxy.url,
      githubAppID: APP_ID, githubAppInstallationID: INSTALLATION_ID, githubAppPrivateKey: appKey.privateKey, githubAppEnterpriseBaseUrl: github.baseUrl,
    }),
    application('ssh-guestbook', urls.ssh, 'guestbook', 'HEAD'),
    application('ssh-addons', urls.addons, 'addons/cert-manager', 'HEAD'),
    application('tls-billing', urls.tls, 'manifests', '8.5.1'),
    application('app-addons', urls.app, 'addons/cert-manager', 'HEAD'),
    application('unknown-host', urls.unknownHost, 'charts', 'dev'),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([env?.stop(), sshd?.close(), stranger?.close(), https?.close(), appGit?.close(), github?.close(), proxy?.close()]);
  await removeTempDirs();
});

describe('a backup run with every kind of Argo CD credential', () => {
  let store: string;
  let report: RunReport;

  beforeAll(async () => {
    store = await tempDir('backup-credentials-store');
    report = await backup(store);
  }, 120_000);

  it('mirrors the ssh repositories with their Secret\'s key and the ConfigMap\'s host key, and the private-CA HTTPS one with its template', async () => {
    const repo = (url: string) => report.repos.find((r) => r.url === url);
    expect(repo(urls.ssh)).toMatchObject({ status: 'mirrored', verified: true, credentialsFrom: 'ssh-guestbook', bundle: `git/127.0.0.1:${sshd.port}/apps/guestbook.bundle` });
    expect(repo(urls.addons)).toMatchObject({ status: 'mirrored', verified: true, credentialsFrom: 'ssh-addons' });
    expect(repo(urls.tls)).toMatchObject({ status: 'mirrored', verified: true, credentialsFrom: 'tls-creds' });
    // The https server saw the token (and the TLS layer the client certificate) on every request.
    expect(https.requests.length).toBeGreaterThan(0);
    expect((await sshd.commands()).some((line) => line.startsWith(`git-upload-pack '/${env.repos.guestbook.path}'`))).toBe(true);
  });

  it('mirrors the GitHub App repository with an installation token bought with the Secret\'s key, through the Secret\'s proxy', () => {
    expect(report.repos.find((r) => r.url === urls.app)).toMatchObject({ status: 'mirrored', verified: true, credentialsFrom: 'github-app' });
    expect(github.requests).toContainEqual({ path: `/api/v3/app/installations/${INSTALLATION_ID}/access_tokens`, status: 201 });
    expect(proxy.seen).toContain(`POST ${urls.app}/git-upload-pack`);
    expect(report.readiness!.applications.find((app) => app.application === 'argocd/app-addons')).toMatchObject({ verdict: 'ready' });
  });

  it('fails the repository whose host key is not in argocd-ssh-known-hosts-cm, saying what to do: PartiallyFailed', () => {
    expect(report.result).toBe('PartiallyFailed');
    const failed = report.repos.filter((repo) => repo.status === 'failed');
    expect(failed).toEqual([expect.objectContaining({
      url: urls.unknownHost,
      credentialsFrom: 'ssh-creds',
      error: expect.stringMatching(/SSH host key of .*127\.0\.0\.1.* is unknown; add the server's public host key to argocd-ssh-known-hosts-cm/),
    })]);
    expect(report.problems).toEqual(expect.arrayContaining([expect.stringMatching(/is unknown/), expect.stringMatching(/unknown-host is not restore-ready/)]));
  });

  it('stores bundles real git reads back, and finds the ssh- and TLS-sourced Applications restore-ready', async () => {
    for (const [url, repo] of [[urls.ssh, env.repos.guestbook], [urls.tls, env.repos.billing]] as const) {
      const bundle = report.repos.find((r) => r.url === url)!.bundle!;
      await expect(git(['bundle', 'verify', path.join(store, bundle)], { cwd: repo.dir })).resolves.toMatch(/^The bundle contains these \d+ refs/);
      const listed = await git(['bundle', 'list-heads', path.join(store, bundle)]);
      for (const [ref, id] of repo.refs) expect(listed).toContain(`${id} ${ref}`);
    }
    const verdict = (name: string) => report.readiness!.applications.find((app) => app.application === `argocd/${name}`);
    expect(verdict('ssh-guestbook')).toMatchObject({ verdict: 'ready', sources: [{ commit: env.repos.guestbook.commits.get('refs/heads/main') }] });
    expect(verdict('ssh-addons')).toMatchObject({ verdict: 'ready' });
    expect(verdict('tls-billing')).toMatchObject({ verdict: 'ready', sources: [{ commit: env.repos.billing.commits.get('refs/tags/8.5.1') }] });
    expect(verdict('unknown-host')!.verdict).toBe('not-ready');
  });

  it('never writes the planted key, token or client key outside the export: not in the report, items or results', async () => {
    const written = await storeTextOutsideExports(store);
    expect(written).toContain('"credentialsFrom": "ssh-guestbook"');
    expect(leaks(written)).toEqual([]);
    expect(leaks(JSON.stringify(report))).toEqual([]);
    const items = await readdir(path.join(store, 'runs', report.runId));
    expect(items).toContain('plan-items.json');
  });
});

describe('argocd-dr backup with the extra repositories\' credentials', () => {
  it('mirrors an ssh repository Argo CD does not know with a key from --extra-repos-credentials, host key from the export', async () => {
    const dir = await tempDir('backup-credentials-cli');
    const file = path.join(dir, 'extra-repos.json');
    // The prefix covers the repo; the unknown-host repo keeps its exported template (exported Secrets first).
    await writeFile(file, JSON.stringify([{ url: `ssh://${sshd.user}@127.0.0.1:${sshd.port}/payments/`, sshPrivateKey: key.privateKey }]), { mode: 0o600 });
    expect(parseExtraRepoCredentials(await readFile(file, 'utf8'), file).entries).toBe(1);
    const store = path.join(dir, 'store');
    const result = await argocdDr(['backup', '--kubeconfig', env.kubeconfig, '--store', store, '--extra-repo', urls.extra, '--extra-repos-credentials', file, '--json']);
    const report = JSON.parse(result.stdout) as RunReport;
    expect(report.repos.find((repo) => repo.url === urls.extra)).toMatchObject({ status: 'mirrored', verified: true, credentialsFrom: `extra repositories secret ${file}` });
    expect(report.repos.find((repo) => repo.url === urls.unknownHost)).toMatchObject({ status: 'failed', credentialsFrom: 'ssh-creds' });
    expect(result.code).toBe(1);
    expect(leaks(result.stdout + result.stderr)).toEqual([]);
    expect(leaks(await storeTextOutsideExports(store))).toEqual([]);
  }, 120_000);

  it('refuses an unreadable or malformed credentials file as a usage error, naming it and never quoting it', async () => {
    const dir = await tempDir('backup-credentials-cli');
    const missing = await argocdDr(['backup', '--kubeconfig', env.kubeconfig, '--store', dir, '--extra-repos-credentials', path.join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--extra-repos-credentials: cannot read .*nope\.json \(ENOENT\)/);
    const broken = path.join(dir, 'broken.json');
    await writeFile(broken, `[{"url": "ssh://h/x", "sshPrivateKey": ${JSON.stringify(key.privateKey)}, "password": 7}]`);
    const bad = await argocdDr(['backup', '--kubeconfig', env.kubeconfig, '--store', dir, '--extra-repos-credentials', broken]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/broken\.json", entry 0: password:/);
    expect(leaks(bad.stdout + bad.stderr)).toEqual([]);
    const both = await argocdDr(['backup', '--kubeconfig', env.kubeconfig, '--extra-repos-credentials', broken, '--extra-repos-secret', 'x']);
    expect(both).toMatchObject({ code: 2, stderr: expect.stringMatching(/either --extra-repos-secret or --extra-repos-credentials/) });
  });
});
