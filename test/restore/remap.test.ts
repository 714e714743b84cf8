import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../lambdas/argocd/clean.js';
import { mapRepoUrl, mapServer, parseMapping, remapObjects } from '../../lambdas/restore/remap.js';

describe('repository and cluster mappings', () => {
  it('maps a repository with or without .git, and everything below a prefix at a path boundary only', () => {
    const org = parseMapping('--map-repo', 'https://github.com/org=https://git.example.com/org');
    expect(mapRepoUrl('https://github.com/org', org)).toBe('https://git.example.com/org');
    expect(mapRepoUrl('https://github.com/org/app.git', org)).toBe('https://git.example.com/org/app.git');
    expect(mapRepoUrl('https://github.com/org/*', org)).toBe('https://git.example.com/org/*');
    expect(mapRepoUrl('https://github.com/organisation/app.git', org)).toBeUndefined();
    const repo = parseMapping('--map-repo', 'https://github.com/org/app.git=https://git.example.com/app');
    expect(mapRepoUrl('https://github.com/org/app', repo)).toBe('https://git.example.com/app');
    const scp = parseMapping('--map-repo', 'git@github.com:=git@git.example.com:');
    expect(mapRepoUrl('git@github.com:org/app.git', scp)).toBe('git@git.example.com:org/app.git');
    expect(mapServer('https://1.2.3.4/', parseMapping('--map-cluster', 'https://1.2.3.4=https://5.6.7.8'))).toBe('https://5.6.7.8');
    expect(() => parseMapping('--map-repo', '=x')).toThrow('--map-repo "=x" must be OLD=NEW');
  });

  it('reports rewrites without credentials, leaves the input alone and names mappings that matched nothing', () => {
    const app: KubeObject = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { name: 'a' }, spec: { source: { repoURL: 'https://bot:s3cret-token@github.com/org/a.git' } } };
    const { objects, changes, unused } = remapObjects([app], [
      { from: 'https://bot:s3cret-token@github.com/org', to: 'https://bot:s3cret-token@git.example.com/org' },
      { from: 'https://gitlab.com/x', to: 'https://y' },
    ], []);
    expect((objects[0]!.spec as { source: { repoURL: string } }).source.repoURL).toBe('https://bot:s3cret-token@git.example.com/org/a.git');
    expect((app.spec as { source: { repoURL: string } }).source.repoURL).toBe('https://bot:s3cret-token@github.com/org/a.git');
    expect(changes).toEqual([{ object: 'Application argocd/a', field: 'spec.source.repoURL', from: 'https://github.com/org/a.git', to: 'https://git.example.com/org/a.git' }]);
    expect(unused).toEqual(['--map-repo https://gitlab.com/x']);
  });

  it('matches URLs as Argo CD compares them (case, .git, trailing slash, scp-style or ssh://), keeping what lies below the prefix as written', () => {
    const https = parseMapping('--map-repo', 'https://github.com/acme/app=https://git.example.com/acme/app.git');
    for (const url of ['https://github.com/acme/app', 'https://GitHub.com/acme/app.git', 'https://github.com/acme/app/', ' https://github.com/Acme/App ']) {
      expect(mapRepoUrl(url, https), url).toBe('https://git.example.com/acme/app.git');
    }
    const ssh = parseMapping('--map-repo', 'git@github.com:acme/app.git=git@git.example.com:acme/app.git');
    for (const url of ['git@github.com:acme/app.git', 'git@GitHub.com:acme/app', 'ssh://git@github.com/acme/app.git']) {
      expect(mapRepoUrl(url, ssh), url).toBe('git@git.example.com:acme/app.git');
    }
    const org = parseMapping('--map-repo', 'https://GitHub.com/Acme=https://git.example.com/acme');
    expect(mapRepoUrl('https://github.com/acme/Billing.git', org)).toBe('https://git.example.com/acme/Billing.git');
    expect(mapRepoUrl('https://github.com/acme/*', org)).toBe('https://git.example.com/acme/*');
    expect(mapRepoUrl('https://github.com/acmecorp/app', org)).toBeUndefined();
  });

  it('uses the longest matching mapping, maps negated AppProject entries keeping the "!", and maps destinationServiceAccounts servers', () => {
    const app: KubeObject = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { name: 'a' }, spec: { source: { repoURL: 'https://github.com/acme/app.git' } } };
    const project: KubeObject = {
      apiVersion: 'argoproj.io/v1alpha1', kind: 'AppProject', metadata: { name: 'p' },
      spec: {
        sourceRepos: ['!https://github.com/acme/secret-repo', 'https://github.com/acme/*'],
        destinations: [{ server: '!https://old.example.com:6443', namespace: '*' }],
        destinationServiceAccounts: [{ server: 'https://old.example.com:6443', namespace: 'team', defaultServiceAccount: 'deployer' }],
      },
    };
    const { objects } = remapObjects([app, project], [
      { from: 'https://github.com/acme', to: 'https://git.example.com/acme' },
      { from: 'https://github.com/acme/app', to: 'https://git.example.com/special/app' },
    ], [{ from: 'https://old.example.com:6443', to: 'https://new.example.com' }]);
    expect((objects[0]!.spec as { source: { repoURL: string } }).source.repoURL).toBe('https://git.example.com/special/app');
    expect(objects[1]!.spec).toEqual({
      sourceRepos: ['!https://git.example.com/acme/secret-repo', 'https://git.example.com/acme/*'],
      destinations: [{ server: '!https://new.example.com', namespace: '*' }],
      destinationServiceAccounts: [{ server: 'https://new.example.com', namespace: 'team', defaultServiceAccount: 'deployer' }],
    });
  });
});
