import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseExportYaml } from '../../lambdas/argocd/export-store.js';
import { matchRepoCredentials, repoCredentialsOf, toGitCredentials, type RepoCredentials } from '../../lambdas/argocd/repo-credentials.js';

/** Secrets as export.yaml holds them: data base64-encoded, no namespace for Argo CD's own. */
function secret(name: string, type: string, values: Record<string, string>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, labels: { 'argocd.argoproj.io/secret-type': type }, ...extra },
    data: Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Buffer.from(value).toString('base64')])),
  };
}

function exportYaml(...objects: Record<string, unknown>[]): string {
  return objects.map((object) => `---\n${stringify(object)}`).join('');
}

function names(found: RepoCredentials | undefined): string | undefined {
  return found?.secretName;
}

describe('repoCredentialsOf', () => {
  it('reads repository and repo-creds Secrets (data and stringData) and nothing else', () => {
    const parsed = repoCredentialsOf(parseExportYaml(exportYaml(
      secret('repo', 'repository', { url: 'https://git.example.com/org/a.git', username: 'u', password: 'p', project: 'team', insecure: 'true' }),
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tpl', labels: { 'argocd.argoproj.io/secret-type': 'repo-creds' } }, stringData: { url: 'https://git.example.com', githubAppID: '42', githubAppPrivateKey: 'KEY' } },
      secret('cluster', 'cluster', { server: 'https://k8s', config: '{}' }),
      secret('write', 'repository-write', { url: 'https://git.example.com/org/a.git', password: 'w' }),
      secret('elsewhere', 'repository', { url: 'https://git.example.com/org/a.git', password: 'x' }, { namespace: 'team-a' }),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'argocd-cm' }, data: { url: 'https://argocd.example.com' } },
    )));
    expect(parsed).toEqual([
      { secretType: 'repository', secretName: 'repo', url: 'https://git.example.com/org/a.git', username: 'u', password: 'p', project: 'team', insecure: 'true' },
      { secretType: 'repo-creds', secretName: 'tpl', url: 'https://git.example.com', githubAppID: '42', githubAppPrivateKey: 'KEY' },
    ]);
  });
});

describe('matchRepoCredentials follows Argo CD', () => {
  const all = repoCredentialsOf(parseExportYaml(exportYaml(
    secret('tpl-host', 'repo-creds', { url: 'https://github.com', username: 'host', password: 'host-pw' }),
    secret('tpl-org', 'repo-creds', { url: 'https://github.com/example-org', username: 'org', password: 'org-pw' }),
    secret('tpl-org-dup', 'repo-creds', { url: 'https://GitHub.com/Example-Org', username: 'dup', password: 'dup-pw' }),
    secret('exact', 'repository', { url: 'https://github.com/example-org/app.git', username: 'exact', password: 'exact-pw' }),
    secret('exact-team', 'repository', { url: 'https://github.com/example-org/app', username: 'team', password: 'team-pw', project: 'team' }),
    secret('other-project', 'repository', { url: 'https://github.com/example-org/scoped.git', username: 'o', password: 'o-pw', project: 'other' }),
    secret('no-creds', 'repository', { url: 'https://github.com/example-org/public-ish.git', insecure: 'true' }),
    secret('ssh-tpl', 'repo-creds', { url: 'git@gitlab.com:group', sshPrivateKey: 'SSH' }),
    secret('ssh-exact', 'repository', { url: 'ssh://git@gitlab.com/group/exact.git', sshPrivateKey: 'SSH2' }),
  )));

  it('an exact repository Secret beats any template', () => {
    expect(names(matchRepoCredentials(all, 'https://github.com/example-org/app.git', 'default'))).toBe('exact');
  });

  it("prefers the Secret scoped to the Application's project", () => {
    expect(names(matchRepoCredentials(all, 'https://github.com/example-org/app.git', 'team'))).toBe('exact-team');
  });

  it("never uses a Secret scoped to another project; the template applies instead", () => {
    expect(names(matchRepoCredentials(all, 'https://github.com/example-org/scoped.git', 'default'))).toBe('tpl-org');
    expect(names(matchRepoCredentials(all, 'https://github.com/example-org/scoped.git', 'other'))).toBe('other-project');
  });

  it('takes the longest-prefix template, the first of equally long ones', () => {
    expect(names(matchRepoCredentials(all, 'https://github.com/example-org/new.git'))).toBe('tpl-org');
    expect(names(matchRepoCredentials(all, 'https://github.com/someone-else/x.git'))).toBe('tpl-host');
    expect(matchRepoCredentials(all, 'https://gitlab.example.com/x.git')).toBeUndefined();
  });

  it('normalises case, .git and scp-style URLs the way Argo CD does', () => {
    expect(names(matchRepoCredentials(all, 'HTTPS://GITHUB.COM/Example-Org/App', 'default'))).toBe('exact');
    expect(names(matchRepoCredentials(all, 'git@gitlab.com:group/exact.git'))).toBe('ssh-exact');
    expect(names(matchRepoCredentials(all, 'ssh://git@gitlab.com/group/other.git'))).toBe('ssh-tpl');
    expect(names(matchRepoCredentials(all, 'git@GitLab.com:Group/another'))).toBe('ssh-tpl');
    // An https URL is not an ssh one: no template for gitlab.com over https.
    expect(matchRepoCredentials(all, 'https://gitlab.com/group/exact.git')).toBeUndefined();
  });

  it('a repository Secret without credentials takes them from the template, keeping its own settings', () => {
    const found = matchRepoCredentials(all, 'https://github.com/example-org/public-ish');
    expect(found).toMatchObject({ secretName: 'no-creds', inheritedFrom: 'tpl-org', insecure: 'true', username: 'org', password: 'org-pw' });
  });

  it('maps username and password to the mirror', () => {
    expect(toGitCredentials(matchRepoCredentials(all, 'https://github.com/example-org/app.git'))).toEqual({ username: 'exact', password: 'exact-pw' });
    expect(toGitCredentials(undefined)).toBeUndefined();
  });
});

describe('toGitCredentials', () => {
  const one = (values: Record<string, string>, type = 'repository') => repoCredentialsOf(parseExportYaml(exportYaml(secret('s', type, values))))[0];

  it('maps every field the transports take, under its own name, flags as booleans', () => {
    expect(toGitCredentials(one({
      url: 'https://git.example.com/a.git', type: 'git', project: 'team', bearerToken: 'B', tlsClientCertData: 'CERT', tlsClientCertKey: 'KEY',
      insecure: 'true', proxy: 'http://proxy:3128', noProxy: '.internal', githubAppID: '42', githubAppInstallationID: '7',
      githubAppPrivateKey: 'APPKEY', githubAppEnterpriseBaseUrl: 'https://ghe.example.com/api/v3', enableLfs: 'true',
    }))).toEqual({
      bearerToken: 'B', tlsClientCertData: 'CERT', tlsClientCertKey: 'KEY', insecure: true, insecureIgnoreHostKey: true, proxy: 'http://proxy:3128', noProxy: '.internal',
    });
    expect(toGitCredentials(one({
      url: 'https://git.example.com/a.git', githubAppID: '42', githubAppInstallationID: '7', githubAppPrivateKey: 'APPKEY', githubAppEnterpriseBaseUrl: 'https://ghe.example.com/api/v3',
    }))).toEqual({ githubAppID: '42', githubAppInstallationID: '7', githubAppPrivateKey: 'APPKEY', githubAppEnterpriseBaseUrl: 'https://ghe.example.com/api/v3' });
    expect(toGitCredentials(one({ url: 'git@gitlab.com:group', sshPrivateKey: 'SSH' }, 'repo-creds'))).toEqual({ sshPrivateKey: 'SSH' });
    expect(toGitCredentials(one({ url: 'git@h:o/r', sshPrivateKey: 'K', insecureIgnoreHostKey: 'True' }))).toEqual({ sshPrivateKey: 'K', insecure: true, insecureIgnoreHostKey: true });
  });

  it('sends Basic auth only when a password is set, as Argo CD does (a user name alone sends nothing)', () => {
    expect(toGitCredentials(one({ url: 'https://h/r', password: 'token' }))).toEqual({ username: '', password: 'token' });
    expect(toGitCredentials(one({ url: 'https://h/r', username: 'someone' }))).toBeUndefined();
  });

  it('uses a GitHub App only with all three of id, installation id and key, and a password or token wins over it (Argo CD\'s order)', () => {
    const app = { githubAppID: '42', githubAppInstallationID: '7', githubAppPrivateKey: 'APPKEY' };
    expect(toGitCredentials(one({ url: 'https://h/r', githubAppID: '42', githubAppPrivateKey: 'APPKEY' }))).toBeUndefined();
    expect(toGitCredentials(one({ url: 'https://h/r', ...app, username: 'u', password: 'p' }))).toEqual({ username: 'u', password: 'p' });
    expect(toGitCredentials(one({ url: 'https://h/r', ...app, bearerToken: 'B' }))).toEqual({ bearerToken: 'B' });
  });

  it('reads flags as Go\'s ParseBool does: "false", "no" or junk is false', () => {
    for (const value of ['false', '0', 'no', 'yes', '']) expect(toGitCredentials(one({ url: 'git@h:o/r', sshPrivateKey: 'K', insecureIgnoreHostKey: value, insecure: value }))).toEqual({ sshPrivateKey: 'K' });
  });

  it('never takes insecure or insecureIgnoreHostKey from a template, as Argo CD copies only credentials', () => {
    expect(toGitCredentials(one({ url: 'git@h:o', sshPrivateKey: 'K', insecureIgnoreHostKey: 'true', insecure: 'true' }, 'repo-creds'))).toEqual({ sshPrivateKey: 'K' });
  });

  it('is undefined for a Secret with settings but nothing to send', () => {
    expect(toGitCredentials(one({ url: 'https://h/r', enableLfs: 'true' }))).toBeUndefined();
  });
});
