import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigAccess } from '../../lambdas/argocd/kube-access.js';
import { runBackup, type BackupEvent } from '../../lambdas/backup/backup-run.js';
import type { RunReport } from '../../lambdas/backup/steps.js';
import { openStore } from '../../lambdas/store/open-store.js';
import { leakedSecrets } from '../../demo/argocd-installation.js';
import { DEMO_ADDONS } from '../../demo/demo-repos.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../demo/environment.js';
import { git, removeTempDirs, tempDir } from '../../demo/git.js';

/**
 * End-to-end backups (the same steps the Lambda handlers run) of the demo environment: a cluster
 * with a full Argo CD installation whose repositories need the basic-auth credentials held in its
 * repository and repo-creds Secrets.
 */
let env: DemoEnvironment;

async function backup(store: string, options: { extraRepos?: string[] } = {}): Promise<{ report: RunReport; events: BackupEvent[] }> {
  const events: BackupEvent[] = [];
  const report = await runBackup({
    store: openStore(store),
    clusters: [{ name: env.context, namespace: env.namespace, connect: () => Promise.resolve(kubeconfigAccess(env.kubeconfig, env.context)) }],
    ...options,
    onEvent: (event) => events.push(event),
  });
  return { report, events };
}

/** Every file of the store except the exports, which hold Argo CD's Secrets on purpose. */
async function storeTextOutsideExports(store: string): Promise<string> {
  const files = await readdir(store, { recursive: true, withFileTypes: true });
  const texts: string[] = [];
  for (const file of files) {
    if (!file.isFile()) continue;
    const full = path.join(file.parentPath, file.name);
    if (/argocd\/[^/]+\/export\.yaml$/.test(full)) continue;
    texts.push((await readFile(full)).toString('latin1'));
  }
  return texts.join('\n');
}

function verdicts(report: RunReport): Record<string, string> {
  return Object.fromEntries((report.readiness?.applications ?? []).map((app) => [app.application, app.verdict]));
}

beforeAll(async () => {
  env = await startDemoEnvironment({ dir: await tempDir('backup-env') });
});

afterAll(async () => {
  await env?.stop();
  await removeTempDirs();
});

describe('a backup run of a full installation', () => {
  let store: string;
  let first: RunReport;

  beforeAll(async () => {
    store = await tempDir('backup-store');
    first = (await backup(store)).report;
  });

  it('mirrors every repository with the credentials Argo CD would use, and Succeeds', () => {
    expect(first.problems).toEqual([]);
    expect(first.result).toBe('Succeeded');
    expect(first.clusters).toEqual([expect.objectContaining({ cluster: env.context, status: 'written', applications: 4 + DEMO_ADDONS.length })]);
    expect(first.repos.map((repo) => [repo.url, repo.status, repo.verified, repo.credentialsFrom])).toEqual([
      [env.repoUrls.guestbook, 'mirrored', true, 'demo-git-creds'],
      // The billing app's project has a repository Secret of its own: it wins over the template.
      [env.repoUrls.billing, 'mirrored', true, 'billing-repo'],
      [env.repoUrls.values, 'mirrored', true, 'demo-git-creds'],
      [env.repoUrls.clusterAddons, 'mirrored', true, 'demo-git-creds'],
    ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  });

  it('stores bundles real git reads back with every ref of the origin', async () => {
    for (const repo of Object.values(env.repos)) {
      const bundle = first.repos.find((r) => r.url === env.repoUrls[repo.name])!.bundle!;
      const heads = await git(['bundle', 'list-heads', path.join(store, bundle)]);
      const listed = new Map(heads.trim().split('\n').map((line) => line.split(' ') as [string, string]).map(([id, ref]) => [ref, id]));
      for (const [ref, id] of repo.refs) expect(listed.get(ref), `${repo.path} ${ref}`).toBe(id);
    }
  });

  it('finds every Git-sourced Application restore-ready, and says which are not covered', () => {
    expect(verdicts(first)).toEqual({
      'argocd/guestbook': 'ready',
      'argocd/guestbook-staging': 'ready',
      // A Helm chart from a Helm repository beside its Git sources: the chart is not in any bundle.
      'argocd/billing': 'not-covered',
      'argocd/argo-workflows': 'not-covered',
      ...Object.fromEntries(DEMO_ADDONS.map((addon) => [`argocd/${addon}`, 'ready'])),
    });
    const billing = first.readiness!.applications.find((app) => app.application === 'argocd/billing')!;
    expect(billing.sources.map((source) => [source.field, source.verdict])).toEqual([
      ['spec.sources[0]', 'not-covered'], ['spec.sources[1]', 'ready'], ['spec.sources[2]', 'ready'],
    ]);
    expect(billing.sources[2]!.commit).toBe(env.repos.billing.commits.get('refs/tags/8.5.1'));
  });

  it('never writes a planted secret outside the export, nor into the run report', async () => {
    expect(leakedSecrets(await storeTextOutsideExports(store))).toEqual([]);
    expect(await storeTextOutsideExports(store)).not.toContain(env.token);
  });

  it('rewrites nothing when nothing changed: same bundles (inode, mtime, bytes), byte-identical export', async () => {
    const files = [`argocd/${env.context}/export.yaml`, `argocd/${env.context}/manifest.json`, ...first.repos.flatMap((repo) => [repo.bundle!, repo.bundle!.replace(/\.bundle$/, '.json')])];
    const before = await Promise.all(files.map(async (file) => ({ file, stat: await stat(path.join(store, file)), bytes: await readFile(path.join(store, file)) })));
    const { report, events } = await backup(store);
    expect(report.result).toBe('Succeeded');
    expect(report.clusters[0]).toMatchObject({ status: 'unchanged' });
    expect(report.repos.every((repo) => repo.status === 'unchanged')).toBe(true);
    expect(events.filter((event) => event.step === 'mirror' || event.step === 'verify')).toEqual([]);
    expect(verdicts(report)).toEqual(verdicts(first));
    for (const { file, stat: was, bytes } of before) {
      const now = await stat(path.join(store, file));
      expect({ file, ino: now.ino, mtime: now.mtimeMs, size: now.size }).toEqual({ file, ino: was.ino, mtime: was.mtimeMs, size: was.size });
      expect((await readFile(path.join(store, file))).equals(bytes), file).toBe(true);
    }
  });
});

describe('a backup run that cannot do everything', () => {
  it('reports an Application whose targetRevision is not in its repository as not restore-ready: PartiallyFailed', async () => {
    const broken = structuredClone(env.kube.get({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', namespace: env.namespace, name: 'guestbook-staging' })!);
    const original = structuredClone(broken);
    (broken.spec as { source: { targetRevision: string } }).source.targetRevision = 'release-2027';
    env.kube.put(broken);
    try {
      const { report } = await backup(await tempDir('backup-store'));
      expect(report.result).toBe('PartiallyFailed');
      expect(report.totals).toMatchObject({ reposFailed: 0, bundlesFailedVerification: 0, applicationsNotReady: 1 });
      const app = report.readiness!.applications.find((a) => a.application === 'argocd/guestbook-staging')!;
      expect(app).toMatchObject({ verdict: 'not-ready', sources: [{ verdict: 'not-ready', reasons: [expect.stringMatching(/^targetRevision release-2027 is neither a branch, a tag nor a commit id in the bundle$/)] }] });
      expect(report.problems).toEqual([expect.stringMatching(/argocd\/guestbook-staging is not restore-ready: .*release-2027/)]);
      expect(verdicts(report)['argocd/guestbook']).toBe('ready');
    } finally {
      env.kube.put(original);
    }
  });

  it('keeps going past an unreachable repository: everything else is stored, the run is PartiallyFailed', async () => {
    const store = await tempDir('backup-store');
    env.git.setFault(env.repos.values.path, { kind: 'status', status: 503 });
    let report: RunReport;
    try {
      report = (await backup(store, { extraRepos: [`${env.gitBaseUrl}/nowhere/missing.git`] })).report;
    } finally {
      env.git.setFault(env.repos.values.path, undefined);
    }
    expect(report.result).toBe('PartiallyFailed');
    expect(Object.fromEntries(report.repos.map((repo) => [repo.url, repo.status]))).toEqual({
      [env.repoUrls.guestbook]: 'mirrored',
      [env.repoUrls.billing]: 'mirrored',
      [env.repoUrls.values]: 'failed',
      [env.repoUrls.clusterAddons]: 'mirrored',
      [`${env.gitBaseUrl}/nowhere/missing.git`]: 'failed',
    });
    expect(report.repos.find((repo) => repo.url === env.repoUrls.values)!.error).toMatch(/503/);
    // The billing app needs the unreachable $values repository, of which the store has no bundle.
    const billing = report.readiness!.applications.find((app) => app.application === 'argocd/billing')!;
    expect(billing).toMatchObject({ verdict: 'not-ready' });
    expect(billing.sources[1]!.reasons!.join(' ')).toMatch(/could not be mirrored.*503.*no bundle of the repository/);
    expect(verdicts(report)['argocd/guestbook']).toBe('ready');
    expect(report.totals).toMatchObject({ reposMirrored: 3, reposFailed: 2, bundlesVerified: 3 });
    expect(leakedSecrets(JSON.stringify(report))).toEqual([]);
  });

  it('is Failed when the cluster refuses the token, and says so', async () => {
    env.setTokenAccepted(false);
    try {
      const { report } = await backup(await tempDir('backup-store'));
      expect(report.result).toBe('Failed');
      expect(report.clusters).toEqual([expect.objectContaining({ status: 'failed', error: expect.stringMatching(/401 Unauthorized/) })]);
      expect(report.repos).toEqual([]);
      expect(JSON.stringify(report)).not.toContain(env.token);
    } finally {
      env.setTokenAccepted(true);
    }
  });
});
