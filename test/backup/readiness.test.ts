import { stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applicationSources } from '../../lambdas/argocd/app-sources.js';
import { connectionContextFromObjects } from '../../lambdas/argocd/connection-config.js';
import type { ExportManifest } from '../../lambdas/argocd/export-store.js';
import { inventorySources, type SourceInventory } from '../../lambdas/argocd/git-sources.js';
import type { ClusterExport } from '../../lambdas/backup/cluster-export.js';
import { applicationChecks, applicationsKey, assessReadiness, type ApplicationCheck, type SourceCheck } from '../../lambdas/backup/readiness.js';
import { putJson } from '../../lambdas/backup/run-store.js';
import { verifyStep } from '../../lambdas/backup/steps.js';
import { mirrorRepo, type MirrorResult } from '../../lambdas/git/mirror.js';
import { openStore } from '../../lambdas/store/open-store.js';
import type { Store } from '../../lambdas/store/store.js';
import { git, removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { createRichRepo } from '../../demo/origin-repos.js';

/** Restore readiness against a real bundle of the rich origin (branches, tags of every kind, nested paths); real git is the oracle. */
let server: GitHttpServer;
let origin: string;
let url: string;
let storeDir: string;
let store: Store;
let mirrored: MirrorResult;

const rev = (spec: string) => git(['rev-parse', spec], { cwd: origin }).then((out) => out.trim());

function source(targetRevision: string, sourcePath: string | undefined, extra: Partial<SourceCheck> = {}): SourceCheck {
  return { repoURL: url, kind: 'git', targetRevision, ...(sourcePath !== undefined ? { path: sourcePath } : {}), field: 'spec.source', bundle: mirrored.bundle!, ...extra };
}

/** As a run does: the plan writes the checks, the verify step answers them (unless `verify` is false), the report judges. */
async function assess(runId: string, sources: Record<string, SourceCheck[]>, repos: MirrorResult[] = [mirrored], verify = true) {
  const checks: ApplicationCheck[] = Object.entries(sources).map(([name, list]) => ({ cluster: 'c', application: `argocd/${name}`, project: 'default', sources: list }));
  await putJson(store, applicationsKey(runId), checks);
  if (verify) expect(await verifyStep(store, runId, mirrored.bundle!)).toMatchObject({ ok: true });
  const summary = await assessReadiness(store, runId, repos);
  return Object.fromEntries(summary.applications.map((app) => [app.application.slice('argocd/'.length), app]));
}

beforeAll(async () => {
  const root = await tempDir('readiness-origin');
  origin = await createRichRepo(root, 'org/rich.git');
  server = await startGitHttpServer({ root });
  url = `${server.url}/org/rich.git`;
  storeDir = await tempDir('readiness-store');
  store = openStore(storeDir);
  mirrored = await mirrorRepo(url, { store });
});

afterAll(async () => {
  await server?.close();
  await removeTempDirs();
});

describe('restore readiness', () => {
  it('resolves branches, tags (peeled), full and short commit ids, HEAD and an empty targetRevision as git does', async () => {
    const feature = await rev('feature/login');
    const apps = await assess('run-revisions', {
      branch: [source('feature/login', 'apps/login/config')],
      nestedBranch: [source('release/1.x/hotfix', 'apps/guestbook/deployment.yaml')],
      annotatedTag: [source('v1.0', 'scripts')],
      tagOfTag: [source('v1.0-signed-off', '.')],
      fullId: [source(feature, 'apps/login')],
      shortId: [source(feature.slice(0, 7), '')],
      head: [source('HEAD', 'apps/guestbook')],
      empty: [source('', 'apps/guestbook/service.yaml')],
      refOnly: [source('main', undefined)],
    });
    expect(Object.fromEntries(Object.entries(apps).map(([name, app]) => [name, app.verdict]))).toEqual({
      branch: 'ready', nestedBranch: 'ready', annotatedTag: 'ready', tagOfTag: 'ready', fullId: 'ready', shortId: 'ready', head: 'ready', empty: 'ready', refOnly: 'ready',
    });
    expect(apps.annotatedTag!.sources[0]!.commit).toBe(await rev('v1.0^{commit}'));
    expect(apps.tagOfTag!.sources[0]!.commit).toBe(await rev('v1.0^{commit}'));
    expect(apps.empty!.sources[0]!.commit).toBe(await rev('main'));
    expect(apps.nestedBranch!.sources[0]!.commit).toBe(await rev('release/1.x/hotfix'));
  });

  it('says why an Application is not ready: unknown revision, a path missing at that revision, a deployed revision gone', async () => {
    const main = await rev('main');
    const apps = await assess('run-not-ready', {
      unknownRevision: [source('no-such-branch', 'apps')],
      // apps/login exists on main (merged) but not at v0.1.
      pathAtOldTag: [source('v0.1', 'apps/login')],
      // A tag of a blob resolves to no commit.
      blobTag: [source('blob-tag', '.')],
      deployedGone: [source('main', 'apps/guestbook', { deployedRevisions: [main, 'f'.repeat(40)] })],
      // Argo CD takes 7 to 40 hex digits for a commit id (IsTruncatedCommitSHA): 6 is no revision to it.
      sixDigits: [source(main.slice(0, 6), 'apps')],
      helm: [{ repoURL: 'https://charts.example.com', kind: 'helm', targetRevision: '1.2.3', field: 'spec.source' }],
      oci: [{ repoURL: 'oci://registry.example.com/app', kind: 'oci', targetRevision: '1.0', field: 'spec.source' }],
      // ssh and scp-style URLs have bundles; a file:// URL cannot be mirrored.
      fileUrl: [{ repoURL: 'file:///srv/git/repo.git', kind: 'git', targetRevision: 'main', path: '.', field: 'spec.source' }],
    });
    expect(apps.unknownRevision!.sources[0]!.reasons).toEqual(['targetRevision no-such-branch is neither a branch, a tag nor a commit id in the bundle']);
    expect(apps.pathAtOldTag!.sources[0]!.reasons).toEqual([`path apps/login does not exist at v0.1 (${(await rev('v0.1')).slice(0, 12)})`]);
    expect(apps.blobTag!.verdict).toBe('not-ready');
    expect(apps.deployedGone!.sources[0]!.reasons).toEqual([`deployed revision ${'f'.repeat(12)} not in the bundle`]);
    expect(apps.sixDigits!.sources[0]!.reasons).toEqual([`targetRevision ${main.slice(0, 6)} is neither a branch, a tag nor a commit id in the bundle`]);
    expect(apps.helm!.verdict).toBe('not-covered');
    expect(apps.oci!.verdict).toBe('not-covered');
    expect(apps.fileUrl!.sources[0]).toMatchObject({ verdict: 'not-ready', reasons: ['file:///srv/git/repo.git is not a Git URL argocd-dr can mirror (https://, http://, ssh:// or git@host:org/repo.git)'] });
  });

  it('judges each Application by the revisions it deployed itself; a manifest without deployedBy judges by the repository\'s', async () => {
    const [main, feature] = [await rev('main'), await rev('feature/login')];
    const gone = 'f'.repeat(40);
    const application = (name: string, spec: object, status: object) => ({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { name, namespace: 'argocd' }, spec, status });
    const objects = [
      application('fine', { source: { repoURL: url, targetRevision: 'main', path: 'apps/guestbook' } }, { sync: { revision: main }, history: [{ revision: feature }] }),
      application('lost', { source: { repoURL: url, targetRevision: 'main', path: 'apps/guestbook' } }, { sync: { revision: gone } }),
      // A Helm chart version at index 0 is no Git revision: only the Git ones, by index, are checked.
      application('multi', {
        sources: [
          { repoURL: 'https://charts.example.com', chart: 'app', targetRevision: '9.9.9' },
          { repoURL: url, targetRevision: 'main', ref: 'values' },
          { repoURL: url, targetRevision: 'feature/login', path: 'apps/login' },
        ],
      }, { sync: { revisions: ['9.9.9', main, feature] } }),
    ];
    const exported = (sources: SourceInventory): ClusterExport => ({
      cluster: 'c',
      manifest: { namespace: 'argocd', sources } as ExportManifest,
      applications: applicationSources(objects),
      credentials: [],
      connection: connectionContextFromObjects([], 'argocd'),
      writtenRepoURLs: new Map(),
    });
    const inventory = inventorySources(objects, []);
    const judged = async (runId: string, sources: SourceInventory) => {
      const checks = applicationChecks([exported(sources)]);
      await putJson(store, applicationsKey(runId), checks);
      expect(await verifyStep(store, runId, mirrored.bundle!)).toMatchObject({ ok: true });
      const summary = await assessReadiness(store, runId, [mirrored]);
      return { checks, summary, apps: Object.fromEntries(summary.applications.map((app) => [app.application.slice('argocd/'.length), app])) };
    };

    const { checks, summary, apps } = await judged('run-deployed-by', inventory);
    expect(checks.find((check) => check.application === 'argocd/multi')!.sources.map((source) => source.deployedRevisions)).toEqual([undefined, [main], [feature]]);
    expect(apps.fine!.verdict).toBe('ready');
    expect(apps.lost!.sources[0]).toMatchObject({ verdict: 'not-ready', reasons: [`deployed revision ${gone.slice(0, 12)} not in the bundle`] });
    expect(apps.multi!.verdict).toBe('not-covered');
    expect(apps.multi!.sources.map((source) => source.verdict)).toEqual(['not-covered', 'ready', 'ready']);
    expect(summary.notReady).toBe(1);

    // Written before deployedBy: every Application of the repository answers for every deployed revision.
    const old: SourceInventory = { ...inventory, git: inventory.git.map(({ deployedBy: _dropped, ...source }) => source) };
    const before = await judged('run-deployed-old', old);
    expect(Object.fromEntries(Object.entries(before.apps).map(([name, app]) => [name, app.verdict]))).toEqual({ fine: 'not-ready', lost: 'not-ready', multi: 'not-ready' });
    expect(before.apps.fine!.sources[0]!.reasons).toEqual([`deployed revision ${gone.slice(0, 12)} not in the bundle`]);
  });

  it('answers from what the verify step kept, and never opens the bundle itself: a question verify did not answer is not ready', async () => {
    const runId = 'run-kept';
    await putJson(store, applicationsKey(runId), [{ cluster: 'c', application: 'argocd/a', project: 'default', sources: [source('main', 'apps/guestbook')] }]);
    expect(await verifyStep(store, runId, mirrored.bundle!)).toMatchObject({ ok: true });
    const kept = path.join(storeDir, 'runs', 'readiness', `${mirrored.bundle!}.json`);
    const written = await stat(kept);
    expect((await assess(runId, { a: [source('main', 'apps/guestbook')] }, [mirrored], false)).a!.verdict).toBe('ready');
    expect((await stat(kept)).mtimeMs).toBe(written.mtimeMs);
    expect((await assess(runId, { a: [source('master', 'README.md')] }, [mirrored], false)).a!.sources[0]).toMatchObject({
      verdict: 'not-ready', reasons: ['its bundle was not verified in this run (verify left no result)'],
    });
    expect((await stat(kept)).mtimeMs).toBe(written.mtimeMs);
  });

  it('is not ready when the repository has no bundle, and says the mirror failed', async () => {
    const failed: MirrorResult = { url: `${server.url}/org/gone.git`, status: 'failed', error: `${server.url}/org/gone.git: HTTP 404` };
    const apps = await assess('run-missing', { gone: [{ ...source('main', '.'), repoURL: failed.url, bundle: 'git/nowhere/org/gone.bundle' }] }, [{ ...failed, bundle: 'git/nowhere/org/gone.bundle' }]);
    expect(apps.gone!.sources[0]!.reasons).toEqual([
      `the repository could not be mirrored: ${failed.error}`,
      'no bundle of the repository in the store (git/nowhere/org/gone.bundle)',
    ]);
  });
});
