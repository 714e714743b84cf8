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
});
