import { ApiException, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportManifest } from '../../lambdas/argocd/export-store.js';
import { leakedSecrets } from '../../demo/argocd-installation.js';
import { DEMO_ADDONS } from '../../demo/demo-repos.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../demo/environment.js';
import { GitError, git, gitRefs, removeTempDirs, tempDir } from '../../demo/git.js';
import { argocdDr } from '../support/cli.js';

let env: DemoEnvironment;

/** `git clone --mirror` of url; the clone's directory, or the GitError git failed with. */
async function mirrorClone(url: string): Promise<string | GitError> {
  const dir = path.join(await tempDir('demo-clone'), 'clone.git');
  return git(['clone', '-q', '--mirror', url, dir]).then(() => dir, (error: unknown) => {
    if (error instanceof GitError) return error;
    throw error;
  });
}

function withCredentials(url: string, username: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = username;
  parsed.password = password;
  return parsed.href;
}

function client(): { core: CoreV1Api; custom: CustomObjectsApi } {
  const config = new KubeConfig();
  config.loadFromFile(env.kubeconfig);
  return { core: config.makeApiClient(CoreV1Api), custom: config.makeApiClient(CustomObjectsApi) };
}

/** Every Application, page by page: the environment's server pages every list (maxPageSize 5). */
async function applicationNames(namespace = env.namespace): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await client().custom.listNamespacedCustomObject({
      group: 'argoproj.io', version: 'v1alpha1', namespace, plural: 'applications', ...(token ? { _continue: token } : {}),
    }) as { metadata: { continue?: string }; items: { metadata: { name: string } }[] };
    names.push(...page.items.map((item) => item.metadata.name));
    token = page.metadata.continue || undefined;
  } while (token);
  return names;
}

beforeAll(async () => {
  env = await startDemoEnvironment({ dir: await tempDir('demo-env') });
});

afterAll(async () => {
  await env?.stop();
  await removeTempDirs();
});

describe('the demo environment', () => {
  it('serves every repository to real git with the credentials, and refuses it without them', async () => {
    const { username, password } = env.credentials!;
    for (const repo of Object.values(env.repos)) {
      const url = env.repoUrls[repo.name];
      expect(url).toBe(`${env.gitBaseUrl}/${repo.path}`);
      const clone = await mirrorClone(withCredentials(url, username, password));
      if (clone instanceof GitError) throw clone;
      // Everything the origin has arrives: branches and tags, with the same ids.
      expect(await gitRefs(clone)).toEqual(repo.refs);

      const refused = await mirrorClone(url);
      expect(refused).toBeInstanceOf(GitError);
      expect((refused as GitError).stderr).toMatch(/Authentication failed|could not read Username|terminal prompts disabled/);
      const wrong = await mirrorClone(withCredentials(url, username, 'not-the-password'));
      expect(wrong).toBeInstanceOf(GitError);
    }
    // The directories and refs the Applications point at exist in the repositories.
    const guestbook = env.repos.guestbook;
    expect([...guestbook.refs.keys()]).toEqual(expect.arrayContaining(['refs/heads/main', 'refs/heads/staging', 'refs/tags/v1.0', 'refs/tags/v1.1']));
    expect(await git(['ls-tree', '--name-only', 'staging', 'kustomize-guestbook/'], { cwd: guestbook.dir })).toMatch(/kustomization\.yaml/);
    expect(await git(['ls-tree', '--name-only', 'main', 'addons/'], { cwd: env.repos.clusterAddons.dir })).toBe(
      [...DEMO_ADDONS, 'exclude-me'].sort().map((addon) => `addons/${addon}\n`).join(''),
    );
    expect(env.repos.billing.refs.has('refs/tags/8.5.1')).toBe(true);
    expect(env.repos.values.refs.has('refs/heads/dev')).toBe(true);
  });

  it('serves the installation through @kubernetes/client-node with the kubeconfig, under argocd-dr\'s read-only RBAC', async () => {
    const kubeconfig = await readFile(env.kubeconfig, 'utf8');
    expect(kubeconfig).toContain(`current-context: ${env.context}`);
    expect((await applicationNames()).sort()).toEqual(['argo-workflows', 'billing', 'guestbook', 'guestbook-staging', ...DEMO_ADDONS].sort());

    const { core, custom } = client();
    const appSets = await custom.listNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: 'argocd', plural: 'applicationsets' }) as { items: { spec: { generators: { git?: { repoURL: string } }[] } }[] };
    expect(appSets.items.map((set) => set.spec.generators[0]?.git?.repoURL)).toEqual([env.repoUrls.clusterAddons]);

    // Four of them: one page.
    const repoSecrets = (await core.listNamespacedSecret({ namespace: 'argocd', labelSelector: 'argocd.argoproj.io/secret-type in (repository,repo-creds)' })).items;
    expect(repoSecrets).toHaveLength(4);
    const decoded = repoSecrets.map((s) => Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])));
    expect(decoded).toEqual(expect.arrayContaining([
      expect.objectContaining({ url: env.repoUrls.billing, username: env.credentials!.username, password: env.credentials!.password }),
      expect.objectContaining({ url: `${env.gitBaseUrl}/`, username: env.credentials!.username, password: env.credentials!.password }),
    ]));

    // The reader's RBAC is read-only and namespaced: no writes, no other namespace's Secrets.
    const denied = await core.listNamespacedSecret({ namespace: 'kube-system' }).then(() => undefined, (e: unknown) => e);
    expect(denied).toBeInstanceOf(ApiException);
    expect((denied as ApiException<unknown>).code).toBe(403);
    const write = await core.createNamespacedConfigMap({ namespace: 'argocd', body: { metadata: { name: 'x' } } }).then(() => undefined, (e: unknown) => e);
    expect((write as ApiException<unknown>).code).toBe(403);
  });

  it('refuses the token when told to, and accepts it again', async () => {
    env.setTokenAccepted(false);
    try {
      const refused = await applicationNames().then(() => undefined, (e: unknown) => e);
      expect((refused as ApiException<unknown>).code).toBe(401);
    } finally {
      env.setTokenAccepted(true);
    }
    expect(await applicationNames()).toContain('guestbook');
  });

  it('is one the export finds every Git source in, with the Helm charts listed as not mirrored and no secret printed', async () => {
    const store = await tempDir('demo-export');
    const result = await argocdDr(['export', '--kubeconfig', env.kubeconfig, '--store', store, '--json']);
    expect(result.stderr).not.toMatch(/failed/);
    expect(result.code).toBe(0);
    const manifest = JSON.parse(await readFile(path.join(store, 'argocd', env.context, 'manifest.json'), 'utf8')) as ExportManifest;
    expect(manifest.sources.git.map((source) => source.repoURL).sort()).toEqual(Object.values(env.repoUrls).sort());
    expect(manifest.sources.unresolved).toEqual([]);
    expect(manifest.sources.notMirrored.map((source) => [source.repoURL, source.kind]).sort()).toEqual([
      ['https://argoproj.github.io/argo-helm', 'helm'],
      ['https://prometheus-community.github.io/helm-charts', 'helm'],
    ]);
    const billing = manifest.sources.git.find((source) => source.repoURL === env.repoUrls.billing)!;
    expect(billing.revisions).toEqual(['8.5.1']);
    expect(billing.deployedRevisions).toContain(env.repos.billing.commits.get('refs/tags/8.5.1'));
    const addons = manifest.sources.git.find((source) => source.repoURL === env.repoUrls.clusterAddons)!;
    expect(addons.applications).toContain('applicationset:argocd/cluster-addons');
    expect(addons.paths).toContain('addons/*');
    expect(leakedSecrets(result.stdout + result.stderr)).toEqual([]);
    expect(result.stdout + result.stderr).not.toContain(env.token);
  });

  it('takes extra objects, commits to a repository, and stops both servers', async () => {
    const other = await startDemoEnvironment({
      dir: await tempDir('demo-env-extra'),
      credentials: false,
      context: 'other',
      extraObjects: [{
        apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { name: 'no-revision', namespace: 'argocd' },
        spec: { project: 'default', source: { repoURL: 'placeholder', path: 'guestbook' }, destination: { server: 'https://kubernetes.default.svc', namespace: 'x' } },
      }],
    });
    try {
      expect(other.credentials).toBeUndefined();
      // Without auth, a plain clone works.
      expect(await mirrorClone(other.repoUrls.guestbook)).toEqual(expect.any(String));
      expect(other.kube.get({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', namespace: 'argocd', name: 'no-revision' })).toBeDefined();
      const commit = await other.commit('guestbook', 'guestbook/notes.txt', 'hello\n');
      expect(await git(['ls-remote', other.repoUrls.guestbook, 'refs/heads/main'])).toBe(`${commit}\trefs/heads/main\n`);
      expect(other.repos.guestbook.refs.get('refs/heads/main')).toBe(commit);
    } finally {
      await other.stop();
      await other.stop();
    }
    const gone = await git(['ls-remote', other.repoUrls.guestbook]).then(() => undefined, (e: unknown) => e);
    expect(gone).toBeInstanceOf(GitError);
    const kubeGone = await fetch(`${other.kube.url}/version`).then(() => undefined, (e: unknown) => e);
    expect(kubeGone).toBeInstanceOf(Error);
    expect(existsSync(other.kubeconfig)).toBe(true);
  });
});
