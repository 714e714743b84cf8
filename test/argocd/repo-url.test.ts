import { describe, expect, it } from 'vitest';
import {
  gitUrlProblem,
  isHelmOciRepo,
  isTemplated,
  normalizeRepoUrl,
  repoIdentity,
  repoKind,
  sameRepoUrl,
  sshUser,
} from '../../lambdas/argocd/repo-url.js';

describe('normalizeRepoUrl (Argo CD util/git NormalizeGitURL)', () => {
  it('lower-cases the whole URL, trims one .git and converts scp-style, then drops ssh://', () => {
    expect(normalizeRepoUrl('https://GitHub.com/Org/Repo.git')).toBe('https://github.com/org/repo');
    expect(normalizeRepoUrl('https://github.com/Org/Repo')).toBe('https://github.com/org/repo');
    expect(normalizeRepoUrl('git@GitHub.com:Org/Repo.git')).toBe('git@github.com/org/repo');
    expect(normalizeRepoUrl('ssh://git@github.com/org/repo.git')).toBe('git@github.com/org/repo');
    expect(normalizeRepoUrl('https://github.com/org/repo.git.git')).toBe('https://github.com/org/repo.git');
  });

  it('keeps ports and trailing slashes as Argo CD does', () => {
    expect(normalizeRepoUrl('https://github.com:443/org/repo')).toBe('https://github.com:443/org/repo');
    expect(normalizeRepoUrl('ssh://git@github.com:22/org/repo')).toBe('git@github.com:22/org/repo');
    expect(normalizeRepoUrl('ssh://git@gerrit.example.com:29418/project.git')).toBe('git@gerrit.example.com:29418/project');
    expect(normalizeRepoUrl('https://github.com/argoproj/argocd-example-apps/')).toBe('https://github.com/argoproj/argocd-example-apps/');
    expect(normalizeRepoUrl('https://github.com/org/repo.git/')).toBe('https://github.com/org/repo.git/');
  });

  it('reads scp-style paths as paths, never as ports', () => {
    expect(normalizeRepoUrl('git@github.com:22/org/repo.git')).toBe('git@github.com/22/org/repo');
    // Go splits user info at the last '@' and escapes an '@' inside the user name when printing.
    expect(normalizeRepoUrl('john@doe.org@john-server.org:project')).toBe('john%40doe.org@john-server.org/project');
  });

  it('trims Go white space, including NEL, at both ends only', () => {
    expect(normalizeRepoUrl(' https://github.com/argoproj/test ')).toBe('https://github.com/argoproj/test');
    expect(normalizeRepoUrl('\thttps://github.com/argoproj/test\n')).toBe('https://github.com/argoproj/test');
    expect(normalizeRepoUrl('\u0085https://github.com/argoproj/test\u00a0')).toBe('https://github.com/argoproj/test');
  });

  it('prints what Go net/url prints', () => {
    expect(normalizeRepoUrl('https://github.com/org/my repo')).toBe('https://github.com/org/my%20repo');
    expect(normalizeRepoUrl('https://github.com/org/a%2Fb')).toBe('https://github.com/org/a%2fb');
    expect(normalizeRepoUrl('https://git.example.com/org/repo?ref=x#frag')).toBe('https://git.example.com/org/repo?ref=x#frag');
    expect(normalizeRepoUrl('https://gitlab.exämple.com/org/repo')).toBe('https://gitlab.ex%C3%A4mple.com/org/repo');
    expect(normalizeRepoUrl('https://user:p%40ss@github.com/org/repo')).toBe('https://user:p%40ss@github.com/org/repo');
    expect(normalizeRepoUrl('https://[::1]:8443/org/repo')).toBe('https://[::1]:8443/org/repo');
    // No scheme: a relative path to Go. An ssh:// URL without a user is not SSH to Argo CD, and loses ssh:// anyway.
    expect(normalizeRepoUrl('github.com/org/repo')).toBe('github.com/org/repo');
    expect(normalizeRepoUrl('ssh://github.com/org/repo')).toBe('github.com/org/repo');
  });

  it("returns '' where Go's url.Parse fails", () => {
    expect(normalizeRepoUrl('')).toBe('');
    expect(normalizeRepoUrl('ssh://git@github.com:argoproj/test')).toBe('');
    expect(normalizeRepoUrl('https://github.com:abc/org/repo')).toBe('');
    expect(normalizeRepoUrl('https://github.com/org/%zz')).toBe('');
    expect(normalizeRepoUrl('https://github.com/org/re\tpo')).toBe('');
    expect(normalizeRepoUrl(':org/repo')).toBe('');
    expect(normalizeRepoUrl('my_host:org/repo')).toBe('');
    expect(normalizeRepoUrl('https://[not-ip]/org/repo')).toBe('');
    expect(normalizeRepoUrl('https://us{er@github.com/org/repo')).toBe('');
  });
});

describe('sameRepoUrl (Argo CD util/git SameURL)', () => {
  // The table of Argo CD's TestSameURL (util/git/git_test.go).
  const same: [string, string][] = [
    ['git@GITHUB.com:argoproj/test', 'git@github.com:argoproj/test.git'],
    ['git@GITHUB.com:argoproj/test.git', 'git@github.com:argoproj/test.git'],
    ['git@GITHUB.com:test', 'git@github.com:test.git'],
    ['git@GITHUB.com:test.git', 'git@github.com:test.git'],
    ['https://GITHUB.com/argoproj/test', 'https://github.com/argoproj/test.git'],
    ['https://GITHUB.com/argoproj/test.git', 'https://github.com/argoproj/test.git'],
    ['https://github.com/FOO', 'https://github.com/foo'],
    ['https://github.com/TEST', 'https://github.com/TEST.git'],
    ['https://github.com/TEST.git', 'https://github.com/TEST.git'],
    ['https://github.com:4443/TEST', 'https://github.com:4443/TEST.git'],
    ['https://github.com:4443/TEST.git', 'https://github.com:4443/TEST'],
    ['ssh://git@GITHUB.com/argoproj/test', 'git@github.com:argoproj/test.git'],
    ['ssh://git@GITHUB.com/argoproj/test.git', 'git@github.com:argoproj/test.git'],
    ['ssh://git@GITHUB.com/test.git', 'git@github.com:test.git'],
    ['ssh://git@github.com/test', 'git@github.com:test.git'],
    [' https://github.com/argoproj/test ', 'https://github.com/argoproj/test.git'],
    ['\thttps://github.com/argoproj/test\n', 'https://github.com/argoproj/test.git'],
    ['https://1234.visualstudio.com/myproj/_git/myrepo', 'https://1234.visualstudio.com/myproj/_git/myrepo'],
    ['https://dev.azure.com/1234/myproj/_git/myrepo', 'https://dev.azure.com/1234/myproj/_git/myrepo'],
  ];
  it.each(same)('%s is %s', (left, right) => {
    expect(sameRepoUrl(left, right)).toBe(true);
  });

  it('tells different repositories and spellings Argo CD keeps apart', () => {
    expect(sameRepoUrl('https://github.com/org/repo', 'git@github.com:org/repo.git')).toBe(false);
    expect(sameRepoUrl('https://github.com/org/repo', 'https://github.com/org/repo/')).toBe(false);
    expect(sameRepoUrl('https://github.com/org/repo', 'https://github.com:443/org/repo')).toBe(false);
    expect(sameRepoUrl('', '')).toBe(false);
  });

  it('compares URLs Go cannot parse as written', () => {
    expect(sameRepoUrl('ssh://git@github.com:org/repo', 'ssh://git@github.com:org/repo')).toBe(true);
    expect(sameRepoUrl('ssh://git@github.com:org/repo', 'SSH://git@github.com:org/repo')).toBe(false);
  });
});

describe('sshUser (Argo CD util/git IsSSHURL)', () => {
  // Argo CD's TestIsSSHURL and TestIsSSHURLUserName.
  it.each([
    ['git://github.com/argoproj/test.git', undefined],
    ['git@GITHUB.com:argoproj/test.git', 'git'],
    ['git@github.com:test', 'git'],
    ['https://github.com/argoproj/test', undefined],
    ['https://user@github.com/argoproj/test', undefined],
    ['ssh://git@GITHUB.com:argoproj/test', 'git'],
    ['ssh://john@john-server.org:29418/project', 'john'],
    ['john@john-server.org:29418/project', 'john'],
    ['john@doe.org@john-server.org:29418/project', 'john@doe.org'],
    ['ssh://john@doe.org@john-server.org:29418/project', 'john@doe.org'],
    ['ssh://github.com/org/repo', undefined],
  ])('%s', (url, user) => {
    expect(sshUser(url)).toBe(user);
  });
});

describe('repoIdentity', () => {
  it('merges spellings of one repository beyond Argo CD normalisation', () => {
    const id = 'https://github.com/argoproj/argocd-example-apps';
    for (const url of [
      'https://github.com/argoproj/argocd-example-apps/',
      'https://github.com/argoproj/argocd-example-apps.git',
      'https://GitHub.com/ArgoProj/argocd-example-apps.git/',
      'https://github.com:443/argoproj/argocd-example-apps',
      'https://someone@github.com/argoproj/argocd-example-apps',
      'https://someone:token@github.com/argoproj/argocd-example-apps',
    ]) {
      expect(repoIdentity(url), url).toBe(id);
    }
  });

  it('keeps what designates another repository or account', () => {
    expect(repoIdentity('git@github.com:org/repo.git')).toBe('git@github.com/org/repo');
    expect(repoIdentity('ssh://git@github.com:22/org/repo')).toBe('git@github.com/org/repo');
    expect(repoIdentity('ssh://git@github.com:2222/org/repo')).toBe('git@github.com:2222/org/repo');
    expect(repoIdentity('ssh://deploy@github.com/org/repo')).toBe('deploy@github.com/org/repo');
    expect(repoIdentity('http://git.local:8080/org/repo/')).toBe('http://git.local:8080/org/repo');
    expect(repoIdentity('http://git.local:80/org/repo')).toBe('http://git.local/org/repo');
    expect(repoIdentity('https://github.com/')).toBe('https://github.com');
    expect(repoIdentity('ssh://git@github.com:org/repo')).toBe('');
  });
});

describe('repoKind (Argo CD runRepoOperation dispatch)', () => {
  it('oci:// first, then chart, then Git', () => {
    expect(repoKind({ repoURL: 'oci://registry-1.docker.io/bitnamicharts/nginx', path: '.' })).toBe('oci');
    expect(repoKind({ repoURL: 'oci://ghcr.io/org/charts', chart: 'app' })).toBe('oci');
    expect(repoKind({ repoURL: 'https://bitnami.github.io/sealed-secrets', chart: 'sealed-secrets' })).toBe('helm');
    expect(repoKind({ repoURL: 'registry-1.docker.io/bitnamicharts', chart: 'nginx' })).toBe('helm');
    // A Git URL with `chart` is fetched as a Helm repository by Argo CD.
    expect(repoKind({ repoURL: 'https://github.com/argoproj/argocd-example-apps.git', path: 'guestbook', chart: 'chart-name' })).toBe('helm');
    expect(repoKind({ repoURL: 'https://github.com/argoproj/argocd-example-apps.git', path: 'guestbook', chart: '' })).toBe('git');
    expect(repoKind({ repoURL: 'OCI://ghcr.io/org/app' })).toBe('git');
    expect(repoKind({ repoURL: 'https://github.com/org/values.git', ref: 'values' })).toBe('git');
  });

  it('does not throw on odd shapes', () => {
    expect(repoKind(null)).toBe('git');
    expect(repoKind('oci://x')).toBe('git');
    expect(repoKind({ repoURL: 42, chart: 7 })).toBe('git');
  });
});

describe('isTemplated, isHelmOciRepo, gitUrlProblem', () => {
  it('isTemplated', () => {
    expect(isTemplated('{{ .url }}')).toBe(true);
    expect(isTemplated('https://github.com/{{organization}}/{{repository}}')).toBe(true);
    expect(isTemplated('https://github.com/org/repo')).toBe(false);
    expect(isTemplated(undefined)).toBe(false);
  });

  it('isHelmOciRepo (Argo CD util/helm IsHelmOciRepo: no host once parsed)', () => {
    expect(isHelmOciRepo('registry-1.docker.io/bitnamicharts')).toBe(true);
    expect(isHelmOciRepo('https://charts.bitnami.com/bitnami')).toBe(false);
    expect(isHelmOciRepo('')).toBe(false);
  });

  it('gitUrlProblem', () => {
    expect(gitUrlProblem('https://github.com/org/repo')).toBeUndefined();
    expect(gitUrlProblem('git@github.com:org/repo.git')).toBeUndefined();
    expect(gitUrlProblem('ssh://git@github.com:2222/org/repo')).toBeUndefined();
    expect(gitUrlProblem('git://git.example.com/repo')).toBeUndefined();
    expect(gitUrlProblem('   ')).toBe('repoURL is empty');
    expect(gitUrlProblem('registry-1.docker.io')).toMatch(/no scheme/);
    expect(gitUrlProblem('file:///tmp/repo')).toMatch(/local path/);
    expect(gitUrlProblem('oci://ghcr.io/org/app')).toMatch(/not a Git transport/);
    expect(gitUrlProblem('ssh://git@github.com:org/repo')).toMatch(/not a valid URL/);
    expect(gitUrlProblem('https:///org/repo')).toMatch(/no host/);
  });
});
