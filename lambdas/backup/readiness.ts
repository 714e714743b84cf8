/**
 * Restore readiness: could each Application sync again from this backup alone? For every Git source its
 * targetRevision must resolve in the stored bundle, its path must exist at that revision, and the revisions Argo
 * CD recorded as deployed must be in the bundle. Helm charts and OCI artifacts are not in any bundle: reported as
 * not covered, never as ready.
 *
 * Lookups need an opened (so verified) bundle. Their answers are kept per bundle, with the bundle's sha256, in
 * runs/readiness/<bundle key>.json: a run whose repos did not change answers from there without reopening them.
 */
import type { AppSource, AppSources } from '../argocd/app-sources.js';
import { hasTemplate } from '../argocd/app-sources.js';
import type { GitSource } from '../argocd/git-sources.js';
import { repoIdentity } from '../argocd/repo-url.js';
import type { MirrorResult } from '../git/mirror.js';
import { parseRepoUrl, repoStoreKeys } from '../git/repo-url.js';
import { parseSidecar } from '../git/sidecar.js';
import type { BundleReport } from '../git/verify/findings.js';
import { BundleRevisions, type RevisionLookup } from '../git/verify/revision.js';
import { withBundleFile } from '../git/verify/verify-store.js';
import type { Store } from '../store/store.js';
import type { ClusterExport } from './cluster-export.js';
import { getJson, putJson } from './run-store.js';

/** One Application's sources, as the plan step writes them for the run (runs/<run-id>/applications.json). */
export interface ApplicationCheck {
  cluster: string;
  /** "<namespace>/<name>". */
  application: string;
  project: string;
  sources: SourceCheck[];
}

export interface SourceCheck extends AppSource {
  /** Store key of the bundle that must hold it (Git sources with an https, http, ssh or scp-style URL). */
  bundle?: string;
  /**
   * Revisions this Application recorded as deployed from this source (manifest inventory, deployedBy); from a
   * manifest written before deployedBy, those of every Application using the repository.
   */
  deployedRevisions?: string[];
}

export type SourceVerdict = 'ready' | 'not-ready' | 'not-covered';

export interface SourceReadiness {
  repoURL: string;
  field: string;
  targetRevision: string;
  path?: string;
  verdict: SourceVerdict;
  /** The commit targetRevision resolved to. */
  commit?: string;
  reasons?: string[];
}

export interface ApplicationReadiness {
  cluster: string;
  application: string;
  project: string;
  /** not-ready when any source is; not-covered when none is not-ready but one is not covered. */
  verdict: SourceVerdict;
  sources: SourceReadiness[];
}

export interface ReadinessSummary {
  ready: number;
  notReady: number;
  notCovered: number;
  applications: ApplicationReadiness[];
}

/** What a bundle answered, kept for the next runs. */
interface BundleAnswers {
  bundle: string;
  bundleSha256: string;
  /** By revision as written. */
  revisions: Record<string, RevisionLookup>;
  /** By `${commit}:${path}`. */
  paths: Record<string, boolean>;
}

const readinessKey = (bundle: string) => `runs/readiness/${bundle}.json`;
export const applicationsKey = (runId: string) => `runs/${runId}/applications.json`;

/** The bundle a Git repoURL is stored in (its https and ssh spellings share one), when argocd-dr can mirror it. */
export function bundleKeyOf(url: string): string | undefined {
  try {
    return repoStoreKeys(parseRepoUrl(url)).bundle;
  } catch {
    return undefined;
  }
}

/** Every Application of the clusters with what its sources need; written by the plan step. */
export function applicationChecks(clusters: readonly ClusterExport[]): ApplicationCheck[] {
  const checks: ApplicationCheck[] = [];
  for (const exported of clusters) {
    for (const app of exported.applications) {
      const sources = app.sources.map((source): SourceCheck => {
        if (source.kind !== 'git') return source;
        const identity = repoIdentity(source.repoURL);
        const inventoried = exported.manifest.sources.git.find((git) => git.normalizedURL === identity && git.applications.includes(app.application));
        const bundle = bundleKeyOf(source.repoURL);
        const deployed = inventoried ? deployedRevisionsOf(inventoried, app, source) : [];
        return {
          ...source,
          ...(bundle ? { bundle } : {}),
          ...(deployed.length > 0 ? { deployedRevisions: deployed } : {}),
        };
      });
      checks.push({ cluster: exported.cluster, application: app.application, project: app.project, sources });
    }
  }
  return checks.sort((a, b) => a.cluster.localeCompare(b.cluster) || a.application.localeCompare(b.application));
}

/**
 * What `app` recorded as deployed from `source` (in repository `inventoried`): its own deployedBy entries for the
 * source's field, and, on its first source in the repository, those naming a field it has no source in the
 * repository at (a source since removed, or a hydrator's sync branch app-sources.ts does not list). A manifest
 * without deployedBy knows only the repository's list.
 */
function deployedRevisionsOf(inventoried: GitSource, app: AppSources, source: AppSource): string[] {
  if (inventoried.deployedBy === undefined) return inventoried.deployedRevisions;
  const inRepo = app.sources.filter((s) => s.kind === 'git' && repoIdentity(s.repoURL) === inventoried.normalizedURL);
  const first = inRepo[0] === source;
  const revisions = inventoried.deployedBy
    .filter((entry) => entry.application === app.application)
    .filter((entry) => entry.field === source.field || (first && !inRepo.some((s) => s.field === entry.field)))
    .flatMap((entry) => entry.revisions);
  return [...new Set(revisions)].sort();
}

/**
 * Answers, from an opened bundle, every lookup the run's Applications need of it, and keeps the answers. The verify
 * step calls this with the bundle it has just verified, so a new bundle is opened once per run.
 */
export async function answerFromBundle(store: Store, runId: string, bundle: string, revisions: BundleRevisions, bundleSha256: string): Promise<void> {
  const checks = (await getJson<ApplicationCheck[]>(store, applicationsKey(runId))) ?? [];
  const sources = sourcesOf(checks, bundle);
  // A verify sweep has no Applications: nothing to ask, and the answers kept so far stay.
  if (sources.length === 0) return;
  const kept = await getJson<BundleAnswers>(store, readinessKey(bundle));
  const answers: BundleAnswers = kept?.bundleSha256 === bundleSha256 ? kept : { bundle, bundleSha256, revisions: {}, paths: {} };
  answer(revisions, answers, sources);
  await putJson(store, readinessKey(bundle), answers);
}

/** Verifies a stored bundle (it must be whole before anything is read from it) and answers the run's lookups. */
export async function verifyAndAnswer(store: Store, runId: string, bundle: string, onProgress?: (fraction: number) => void): Promise<BundleReport> {
  const sidecar = parseSidecar(await store.getText(`${bundle.slice(0, -'.bundle'.length)}.json`));
  const report = await withBundleFile(store, bundle, async (file) => {
    const opened = await BundleRevisions.open(file, { label: bundle, sidecar: sidecar ?? null, ...(onProgress ? { onProgress } : {}) });
    if (opened.revisions) {
      try {
        await answerFromBundle(store, runId, bundle, opened.revisions, sidecar?.bundleSha256 ?? '');
      } finally {
        opened.revisions.close();
      }
    }
    return opened.report;
  });
  return report ?? { bundle, ok: false, objects: 0, seconds: 0, warnings: [], errors: [{ id: 'bundleMissing', message: `${bundle} is not in ${store.location}` }] };
}

/**
 * The report step's verdict for every Application of the run, from the answers kept per bundle. The plan sent every
 * bundle whose kept answers did not cover the run to the verify step, which answers while it has the bundle open;
 * a bundle still not covered was not verified in this run (its verify failed, crashed or timed out). It is judged
 * not ready rather than opened here: the report function has neither the memory nor the time to open a bundle.
 * `verified`: this run's verify reports, to say why a bundle has no answers.
 */
export async function assessReadiness(store: Store, runId: string, repos: readonly MirrorResult[], verified: readonly BundleReport[] = []): Promise<ReadinessSummary> {
  const checks = (await getJson<ApplicationCheck[]>(store, applicationsKey(runId))) ?? [];
  const failedRepos = new Map<string, MirrorResult>();
  for (const repo of repos) {
    const key = repo.bundle ?? bundleKeyOf(repo.url);
    if (key && repo.status === 'failed') failedRepos.set(key, repo);
  }
  const reports = new Map(verified.map((report) => [report.bundle, report]));
  const bundles = new Map<string, BundleState>();
  for (const bundle of new Set(checks.flatMap((check) => check.sources.map((source) => source.bundle)).filter((key): key is string => key !== undefined))) {
    bundles.set(bundle, await bundleState(store, bundle, sourcesOf(checks, bundle), reports.get(bundle)));
  }
  const applications = checks.map((check): ApplicationReadiness => {
    const sources = check.sources.map((source) => judge(source, source.bundle ? bundles.get(source.bundle) : undefined, source.bundle ? failedRepos.get(source.bundle) : undefined));
    const verdict: SourceVerdict = sources.some((s) => s.verdict === 'not-ready') ? 'not-ready' : sources.some((s) => s.verdict === 'not-covered') ? 'not-covered' : 'ready';
    return { cluster: check.cluster, application: check.application, project: check.project, verdict, sources };
  });
  return {
    ready: applications.filter((app) => app.verdict === 'ready').length,
    notReady: applications.filter((app) => app.verdict === 'not-ready').length,
    notCovered: applications.filter((app) => app.verdict === 'not-covered').length,
    applications,
  };
}

/**
 * Whether the answers kept for a stored bundle cover what `sources` ask of it. The plan step asks this of every
 * unchanged repo: one that is not covered goes to the verify step, which opens the bundle anyway.
 */
export async function readinessAnswered(store: Store, bundle: string, checks: readonly ApplicationCheck[]): Promise<boolean> {
  const sources = sourcesOf(checks, bundle);
  if (sources.length === 0) return true;
  const sidecar = parseSidecar(await store.getText(`${bundle.slice(0, -'.bundle'.length)}.json`));
  const kept = await getJson<BundleAnswers>(store, readinessKey(bundle));
  return kept !== undefined && kept.bundleSha256 === (sidecar?.bundleSha256 ?? '') && answered(kept, sources);
}

type BundleState = { answers: BundleAnswers } | { problem: string };

async function bundleState(store: Store, bundle: string, sources: SourceCheck[], verified: BundleReport | undefined): Promise<BundleState> {
  const sidecar = parseSidecar(await store.getText(`${bundle.slice(0, -'.bundle'.length)}.json`));
  if (sidecar?.status === 'empty') return { problem: 'the repository is empty: there is nothing to restore' };
  if (!sidecar || !(await isListed(store, bundle))) return { problem: `no bundle of the repository in the store (${bundle})` };
  const kept = await getJson<BundleAnswers>(store, readinessKey(bundle));
  if (kept && kept.bundleSha256 === (sidecar.bundleSha256 ?? '') && answered(kept, sources)) return { answers: kept };
  if (verified && !verified.ok) {
    const first = verified.errors[0];
    return { problem: `the stored bundle fails verification${first ? `: ${first.message}` : ''}` };
  }
  return { problem: 'its bundle was not verified in this run (verify left no result)' };
}

/** Whether the bundle is in the store, by listing: the report function may read sidecars, not bundles. */
async function isListed(store: Store, key: string): Promise<boolean> {
  for await (const listed of store.list(key)) if (listed === key) return true;
  return false;
}

function sourcesOf(checks: readonly ApplicationCheck[], bundle: string): SourceCheck[] {
  return checks.flatMap((check) => check.sources.filter((source) => source.bundle === bundle));
}

function answered(answers: BundleAnswers, sources: readonly SourceCheck[]): boolean {
  return sources.every((source) => {
    if (hasTemplate(source)) return true;
    const lookup = answers.revisions[source.targetRevision];
    if (!lookup) return false;
    if ('commit' in lookup && source.path !== undefined && answers.paths[`${lookup.commit}:${source.path}`] === undefined) return false;
    return (source.deployedRevisions ?? []).every((revision) => answers.revisions[revision] !== undefined);
  });
}

function answer(revisions: BundleRevisions, answers: BundleAnswers, sources: readonly SourceCheck[]): void {
  const resolve = (revision: string): RevisionLookup => (answers.revisions[revision] ??= revisions.resolve(revision));
  for (const source of sources) {
    if (hasTemplate(source)) continue;
    const lookup = resolve(source.targetRevision);
    if ('commit' in lookup && source.path !== undefined) answers.paths[`${lookup.commit}:${source.path}`] ??= revisions.pathExists(lookup.commit, source.path);
    for (const revision of source.deployedRevisions ?? []) resolve(revision);
  }
}

function judge(source: SourceCheck, state: BundleState | undefined, failed: MirrorResult | undefined): SourceReadiness {
  const base = { repoURL: source.repoURL, field: source.field, targetRevision: source.targetRevision, ...(source.path !== undefined ? { path: source.path } : {}) };
  const verdict = (v: SourceVerdict, reasons: string[], commit?: string): SourceReadiness => ({ ...base, verdict: v, ...(commit ? { commit } : {}), ...(reasons.length > 0 ? { reasons } : {}) });
  if (source.kind !== 'git') return verdict('not-covered', [`${source.kind === 'oci' ? 'OCI artifact' : 'Helm chart'}: argocd-dr backs up Git repositories only`]);
  if (hasTemplate(source)) return verdict('not-covered', ['the source still holds a template expression']);
  if (!source.bundle) return verdict('not-ready', [`${source.repoURL} is not a Git URL argocd-dr can mirror (https://, http://, ssh:// or git@host:org/repo.git)`]);
  const stale = failed ? [`this run could not mirror the repository (${failed.error ?? 'failed'}); checked against the bundle of an earlier run`] : [];
  if (!state || 'problem' in state) return verdict('not-ready', [...(failed ? [`the repository could not be mirrored: ${failed.error ?? 'failed'}`] : []), ...(state && 'problem' in state ? [state.problem] : [])]);
  const reasons: string[] = [];
  const lookup = state.answers.revisions[source.targetRevision];
  const revisionName = source.targetRevision === '' ? 'HEAD' : source.targetRevision;
  let commit: string | undefined;
  if (!lookup || 'error' in lookup) {
    const error = lookup && 'error' in lookup ? lookup.error : 'not looked up';
    reasons.push(error.startsWith(`${revisionName} `) ? `targetRevision ${error}` : `targetRevision ${revisionName} does not resolve in the bundle: ${error}`);
  }
  else {
    commit = lookup.commit;
    if (source.path !== undefined && state.answers.paths[`${commit}:${source.path}`] !== true) reasons.push(`path ${source.path === '' ? '.' : source.path} does not exist at ${revisionName} (${commit.slice(0, 12)})`);
  }
  const missing = (source.deployedRevisions ?? []).filter((revision) => {
    const found = state.answers.revisions[revision];
    return !found || 'error' in found;
  });
  if (missing.length > 0) reasons.push(`deployed revision${missing.length > 1 ? 's' : ''} ${missing.map((r) => r.slice(0, 12)).join(', ')} not in the bundle`);
  return reasons.length > 0 ? verdict('not-ready', [...reasons, ...stale], commit) : verdict('ready', stale, commit);
}

/** The reasons of an Application's not-ready sources, each prefixed with the source's repo. */
export function notReadyReasons(app: ApplicationReadiness): string[] {
  return app.sources.filter((source) => source.verdict === 'not-ready')
    .map((source) => `${source.repoURL}: ${(source.reasons ?? []).join('; ')}`);
}
