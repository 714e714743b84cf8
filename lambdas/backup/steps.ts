import pLimit from 'p-limit';
import { exportArgoCd } from '../argocd/export.js';
import { exportKeys, parseManifest, storeExport } from '../argocd/export-store.js';
import type { KubeAccess } from '../argocd/kube-access.js';
import { secretValues, toGitCredentials } from '../argocd/repo-credentials.js';
import { mergeConnectionContexts } from '../argocd/connection-config.js';
import { repoIdentity } from '../argocd/repo-url.js';
import type { GitConnectionContext } from '../git/credentials.js';
import { mirrorRepo, type MirrorOptions, type MirrorProgress, type MirrorResult } from '../git/mirror.js';
import type { ExtraRepoCredentials } from '../git/secrets-manager-credentials.js';
import type { BundleReport } from '../git/verify/findings.js';
import { redactSecrets } from '../shared/redact.js';
import type { Store } from '../store/store.js';
import { chooseCredentials, readClusterExport, resolveCredentials, type ClusterExport } from './cluster-export.js';
import type { ExportStepResult, MirrorItem, PlanStepResult, VerifyItem } from './events.js';
import { applicationChecks, applicationsKey, assessReadiness, readinessAnswered, bundleKeyOf, notReadyReasons, verifyAndAnswer, type ApplicationCheck, type ApplicationReadiness, type ReadinessSummary } from './readiness.js';
import { getJson, listJson, putJson, runKeys } from './run-store.js';

/**
 * The steps of a backup run, as functions of the store: the Lambda handlers and the CLI call
 * these and nothing else, so there is one code path.
 */

/** export: one cluster into argocd/<cluster>/…; a failure is a result, not an exception. */
export async function exportStep(store: Store, clusterName: string, namespace: string, connect: () => Promise<KubeAccess>): Promise<ExportStepResult> {
  try {
    const exported = await exportArgoCd(await connect(), { namespace });
    const stored = await storeExport(store, clusterName, exported);
    if (!stored.manifest.complete) return { cluster: clusterName, status: 'failed', manifest: stored.keys.manifest, error: 'the export is partial' };
    return { cluster: clusterName, status: stored.status, manifest: stored.keys.manifest };
  } catch (error) {
    return { cluster: clusterName, status: 'failed', error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * The extra repositories' credentials (the Secrets Manager secret of config `extraReposSecret`, or a file of the
 * same shape), read only when a repository needs them; a read that fails fails those repositories, not the run.
 */
export type ExtraCredentialsSource = () => Promise<ExtraRepoCredentials>;

export interface PlanOptions {
  extraRepos?: readonly string[];
  extraRefPatterns?: readonly string[];
  /** Credentials for the extra repos no exported Secret covers. */
  extraCredentials?: ExtraCredentialsSource;
  concurrency?: number;
  /** Where the mirror items go (in AWS, a bucket in the run's own region: the Distributed Map reads it). */
  itemsStore?: Store;
  onProgress?: (progress: MirrorProgress) => void;
}

/** A repository's outcome in a run: the mirror's, plus which exported Secret (by name) it was fetched with. */
export type RepoRunResult = MirrorResult & {
  credentialsFrom?: string;
  /**
   * The bundle the verify step must open next, decided here for the state machine's Mirrored? choice and the CLI
   * alike: a new bundle, one the plan sent for readiness, or a stored one whose kept readiness answers do not cover
   * the run (this mirror failed, or the refs changed back since the plan) — the report step opens no bundle.
   */
  verifyBundle?: string;
};

/**
 * plan: every Git source of every exported cluster (and the configured extra repos), one ref listing each, over
 * https or ssh, with the credentials and the connection settings Argo CD would use; only repos whose refs changed
 * become items of the mirror step. Also writes the run's Applications and what their sources need, for the
 * readiness check.
 *
 * Which cluster's settings: a repo is reached with the credentials of the first cluster (in run order) whose
 * Secrets match it, and with that cluster's known hosts and TLS CAs; without credentials, with those of the first
 * cluster whose Applications use it. An extra repo no exported Secret matches takes its credentials from the extra
 * repositories secret, and, when no Application uses it, the known hosts and CAs of every cluster of the run.
 */
export async function planStep(store: Store, runId: string, exports: readonly ExportStepResult[], options: PlanOptions = {}): Promise<PlanStepResult> {
  // A cluster whose export failed this time still has its last export: keep its repos backed up.
  const clusters = (await Promise.all(exports.map((result) => readClusterExport(store, result.cluster))))
    .filter((exported): exported is ClusterExport => exported !== undefined);
  const sources: { spellings: string[]; cluster?: string }[] = [...(options.extraRepos ?? []).map((url) => ({ spellings: [url] }))];
  for (const exported of clusters) {
    for (const source of exported.manifest.sources.git) sources.push({ spellings: [source.repoURL, ...source.repoURLs], cluster: exported.cluster });
  }
  // Two spellings of one repository (https and ssh among them) share a bundle: mirror it once.
  const byKey = new Map<string, { spellings: string[]; clusters: string[] }>();
  for (const { spellings, cluster } of sources) {
    const key = spellings.map(bundleKeyOf).find((bundle) => bundle !== undefined) ?? spellings[0]!;
    const known = byKey.get(key) ?? { spellings: [], clusters: [] };
    known.spellings.push(...spellings);
    if (cluster && !known.clusters.includes(cluster)) known.clusters.push(cluster);
    byKey.set(key, known);
  }
  const checks = applicationChecks(clusters);
  await putJson(store, applicationsKey(runId), checks);
  const extraRepos = new Set(options.extraRepos ?? []);
  const extraCredentials = options.extraCredentials ? once(options.extraCredentials) : undefined;
  const limit = pLimit(options.concurrency ?? 16);
  const groups = [...byKey.values()].map((group) => ({ ...group, first: group.spellings.find((url) => bundleKeyOf(url) !== undefined) ?? group.spellings[0]! }));
  const planned = await Promise.all(groups.sort((a, b) => a.first.localeCompare(b.first)).map((group) => limit(async () => {
    const credentials = chooseCredentials(clusters, group.spellings, repoIdentity(group.first) || undefined);
    // The spelling the Secret was found for: an ssh key goes with the ssh URL.
    const url = credentials && bundleKeyOf(credentials.repoURL) !== undefined ? credentials.repoURL : group.first;
    const extra = !credentials && extraCredentials && group.spellings.some((spelling) => extraRepos.has(spelling))
      // A secret that cannot be read is marked here and reported by the listing, for each repo that needed it.
      && await extraCredentials().then((found) => found.credentialsFor(url) !== undefined, () => true);
    const connectionFrom = credentials ? [credentials.cluster] : group.clusters.length > 0 ? [group.clusters[0]!] : clusters.map((exported) => exported.cluster);
    const item: MirrorItem = {
      runId,
      url,
      ...(credentials ? { credentials } : {}),
      ...(extra ? { extraCredentials: true as const } : {}),
      ...(connectionFrom.length > 0 ? { connectionFrom } : {}),
    };
    const result = await mirrorWith(store, item, { listOnly: true, ...(options.extraRefPatterns ? { extraRefPatterns: options.extraRefPatterns } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}) }, extraCredentials);
    return { result, item };
  })));
  const items: MirrorItem[] = [];
  for (const { result, item } of planned) {
    if (result.status === 'changed') items.push(item);
    else if (result.status === 'unchanged' && result.bundle && !(await readinessAnswered(store, result.bundle, checks))) items.push({ ...item, readinessOnly: true });
  }
  const results = planned.map(({ result }) => result);
  await putJson(options.itemsStore ?? store, runKeys.planItems(runId), items);
  await putJson(store, runKeys.planResults(runId), results.filter((result) => result.status !== 'changed'));
  return {
    runId,
    itemsKey: runKeys.planItems(runId),
    items: items.length,
    changed: items.filter((item) => !item.readinessOnly).length,
    unchanged: results.filter((result) => result.status === 'unchanged' || result.status === 'empty').length,
    failed: results.filter((result) => result.status === 'failed').length,
  };
}

/** The weekly sweep's plan: every bundle in the store becomes an item of the verify step. */
export async function sweepPlanStep(store: Store, runId: string, itemsStore: Store = store): Promise<PlanStepResult> {
  const items: VerifyItem[] = [];
  for await (const key of store.list('git/')) if (key.endsWith('.bundle')) items.push({ runId, bundle: key });
  items.sort((a, b) => a.bundle.localeCompare(b.bundle));
  await putJson(itemsStore, runKeys.planItems(runId), items);
  return { runId, itemsKey: runKeys.planItems(runId), items: items.length, changed: items.length, unchanged: 0, failed: 0 };
}

export interface MirrorStepOptions {
  extraRefPatterns?: readonly string[];
  /** Needed for items marked extraCredentials. */
  extraCredentials?: ExtraCredentialsSource;
  onProgress?: (progress: MirrorProgress) => void;
}

/** mirror: one repo, with the credentials and connection settings its item names; its result is kept under the run for the report. */
export async function mirrorStep(store: Store, item: MirrorItem, options: MirrorStepOptions = {}): Promise<RepoRunResult> {
  // Nothing to fetch: the plan found the repo unchanged and only wants its bundle opened by verify. Its result is
  // the plan's, already kept.
  if (item.readinessOnly) {
    const bundle = bundleKeyOf(item.url);
    return { url: item.url, status: 'unchanged', ...(bundle ? { bundle, verifyBundle: bundle } : {}) };
  }
  const mirrored = await mirrorWith(store, item, { ...(options.extraRefPatterns ? { extraRefPatterns: options.extraRefPatterns } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}) }, options.extraCredentials);
  const verifyBundle = await bundleToVerify(store, item, mirrored);
  const result = verifyBundle ? { ...mirrored, verifyBundle } : mirrored;
  await putJson(store, runKeys.repoResult(item.runId, item.url), result);
  return result;
}

async function bundleToVerify(store: Store, item: MirrorItem, result: RepoRunResult): Promise<string | undefined> {
  if (result.status === 'mirrored' && result.bundle) return result.bundle;
  if (result.status === 'empty') return undefined;
  const bundle = result.bundle ?? bundleKeyOf(item.url);
  if (!bundle || (await store.head(bundle)) === undefined) return undefined;
  const checks = (await getJson<ApplicationCheck[]>(store, applicationsKey(item.runId))) ?? [];
  return (await readinessAnswered(store, bundle, checks)) ? undefined : bundle;
}

async function mirrorWith(store: Store, item: MirrorItem, options: Omit<MirrorOptions, 'store' | 'credentials' | 'context'>, extraCredentials: ExtraCredentialsSource | undefined): Promise<RepoRunResult> {
  const context = await connectionOf(store, item.connectionFrom);
  const mirror = { ...options, store, ...(context ? { context } : {}) };
  if (item.extraCredentials) {
    let extra: ExtraRepoCredentials;
    try {
      if (!extraCredentials) throw new Error('the extra repositories secret is not configured (EXTRA_REPOS_SECRET) in this function');
      extra = await extraCredentials();
    } catch (error) {
      return { url: item.url, status: 'failed', error: `${item.url}: ${error instanceof Error ? error.message : String(error)}` };
    }
    const credentials = extra.credentialsFor(item.url);
    if (!credentials) return { url: item.url, status: 'failed', error: `${item.url}: no entry of the extra repositories secret "${extra.secretId}" matches it any more; add one whose url is a prefix of it` };
    return { ...(await mirrorRepo(item.url, { ...mirror, credentials })), credentialsFrom: `extra repositories secret ${extra.secretId}` };
  }
  const credentials = await resolveCredentials(store, item.credentials);
  const git = toGitCredentials(credentials);
  const result = await mirrorRepo(item.url, { ...mirror, ...(git ? { credentials: git } : {}) });
  // mirror redacts what it sent; the Secret may hold more (a key, a token) that a server could echo back.
  if (result.error) result.error = redactSecrets(result.error, secretValues(credentials));
  return credentials ? { ...result, credentialsFrom: credentials.inheritedFrom ? `${credentials.secretName} (credentials of ${credentials.inheritedFrom})` : credentials.secretName } : result;
}

/** The known hosts and TLS CAs of the clusters an item names, from their stored exports. */
async function connectionOf(store: Store, clusters: readonly string[] | undefined): Promise<GitConnectionContext | undefined> {
  const exported = (await Promise.all((clusters ?? []).map((cluster) => readClusterExport(store, cluster))))
    .filter((cluster): cluster is ClusterExport => cluster !== undefined);
  return exported.length > 0 ? mergeConnectionContexts(exported.map((cluster) => cluster.connection)) : undefined;
}

/** Calls `load` at most once, sharing its promise (a rejection included). */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => (loaded ??= load());
}

/**
 * verify: one stored bundle against its sidecar, and, while it is open, the lookups the run's
 * Applications need of it (readiness.ts); the report is kept under the run.
 */
export async function verifyStep(store: Store, runId: string, bundle: string, onProgress?: (fraction: number) => void): Promise<BundleReport> {
  const report = await verifyAndAnswer(store, runId, bundle, onProgress);
  await putJson(store, runKeys.verifyResult(runId, bundle), report);
  return report;
}

export type RunResult = 'Succeeded' | 'PartiallyFailed' | 'Failed';

/** A cluster in a run report: its export's outcome and what its Applications look like in this backup. */
export interface ClusterReport extends ExportStepResult {
  argocdVersion?: string;
  applications: number;
  gitSources: number;
  /** Applications by restore readiness (see readiness.ts). */
  ready: number;
  notReady: number;
  notCovered: number;
}

/** A repository in a run report: the mirror's outcome and whether its new bundle passed verification. */
export type RepoReport = RepoRunResult & { verified?: boolean };

/** runs/<run-id>.json: what each step did, per cluster and per repo, and which Applications could be restored. */
export interface RunReport {
  schema: 1;
  kind: 'backup' | 'verify-sweep';
  runId: string;
  result: RunResult;
  finishedAt: string;
  clusters: ClusterReport[];
  repos: RepoReport[];
  verification: Pick<BundleReport, 'bundle' | 'ok' | 'objects' | 'errors' | 'seconds'>[];
  /** Every Application of the run's clusters with its verdict; absent in a verify sweep. */
  readiness?: ReadinessSummary;
  totals: {
    reposMirrored: number;
    reposUnchanged: number;
    reposFailed: number;
    bundlesVerified: number;
    bundlesFailedVerification: number;
    bytesMirrored: number;
    applicationsNotReady?: number;
  };
  /** Why the run is not Succeeded, one line each (empty when it is). */
  problems: string[];
  /** When the newest successful run finished (this one, or an earlier one). */
  lastSuccessAt?: string;
  /** Why the plan step failed, when it did. */
  planError?: string;
}

/**
 * report: gathers the run's results, checks every Application's restore readiness and decides:
 * Failed when no cluster could be exported or the plan failed; PartiallyFailed when any cluster,
 * repo or bundle failed or any Application is not restore-ready; Succeeded otherwise.
 */
export async function reportStep(store: Store, runId: string, exports: readonly ExportStepResult[], itemsStore: Store = store, planError?: string): Promise<RunReport> {
  const planned = (await getJson<RepoRunResult[]>(store, runKeys.planResults(runId))) ?? [];
  const mirrored = await listJson<RepoRunResult>(store, `runs/${runId}/repos/`);
  // A mirror that crashed or timed out wrote no result: it failed, and must not go unnoticed.
  const items = (await getJson<MirrorItem[]>(itemsStore, runKeys.planItems(runId))) ?? [];
  const reported = new Set(mirrored.map((result) => result.url));
  for (const item of items) {
    if (!item.readinessOnly && !reported.has(item.url)) mirrored.push({ url: item.url, status: 'failed', error: `${item.url}: the mirror step left no result (it crashed or timed out); see the mirror function's logs for run ${runId}` });
  }
  const verified = await listJson<BundleReport>(store, `runs/${runId}/verify/`);
  // As for mirrors: a new bundle, or one the plan sent to verify for readiness, that verify never reported on was
  // not verified (its verify crashed or timed out): a failed verification, never a success.
  const toVerify = new Set([
    ...mirrored.map((repo) => repo.verifyBundle).filter((bundle): bundle is string => bundle !== undefined),
    ...items.filter((item) => item.readinessOnly).map((item) => bundleKeyOf(item.url)).filter((bundle): bundle is string => bundle !== undefined),
  ]);
  const reportedBundles = new Set(verified.map((report) => report.bundle));
  const verifyReports = [...verified];
  for (const bundle of [...toVerify].sort()) {
    if (!reportedBundles.has(bundle)) verified.push(verifyNoResult(runId, bundle));
  }
  const verdicts = new Map(verified.map((report) => [report.bundle, report.ok]));
  const repos: RepoReport[] = [...planned, ...mirrored].sort((a, b) => a.url.localeCompare(b.url))
    .map((repo) => (repo.bundle && verdicts.has(repo.bundle) ? { ...repo, verified: verdicts.get(repo.bundle)! } : repo));
  const readiness = planError ? undefined : await assessReadiness(store, runId, repos, verifyReports);
  const totals = {
    reposMirrored: repos.filter((repo) => repo.status === 'mirrored').length,
    reposUnchanged: repos.filter((repo) => repo.status === 'unchanged' || repo.status === 'empty').length,
    reposFailed: repos.filter((repo) => repo.status === 'failed').length,
    bundlesVerified: verified.filter((report) => report.ok).length,
    bundlesFailedVerification: verified.filter((report) => !report.ok).length,
    bytesMirrored: repos.reduce((sum, repo) => sum + (repo.status === 'mirrored' ? repo.bytes ?? 0 : 0), 0),
    applicationsNotReady: readiness?.notReady ?? 0,
  };
  const clusters = await Promise.all(exports.map((result) => clusterReport(store, result, readiness?.applications ?? [])));
  const problems = [
    ...(planError ? [planError] : []),
    ...clusters.filter((cluster) => cluster.status === 'failed').map((cluster) => `cluster ${cluster.cluster}: export failed: ${cluster.error ?? 'unknown error'}`),
    ...repos.filter((repo) => repo.status === 'failed').map((repo) => repo.error ?? `${repo.url}: failed`),
    ...verified.filter((report) => !report.ok).map((report) => `${report.bundle}: failed verification: ${report.errors[0]?.message ?? 'see verification'}`),
    ...(readiness?.applications ?? []).filter((app) => app.verdict === 'not-ready').map((app) => `${app.cluster} ${app.application} is not restore-ready: ${notReadyReasons(app).join('; ')}`),
  ];
  const exportsFailed = exports.filter((result) => result.status === 'failed').length;
  // Without a plan no repository was even looked at: that is no backup of the Git side at all.
  const result: RunResult = (exports.length > 0 && exportsFailed === exports.length) || planError
    ? 'Failed'
    : problems.length > 0 ? 'PartiallyFailed' : 'Succeeded';
  const finishedAt = new Date().toISOString();
  if (result === 'Succeeded') await putJson(store, runKeys.lastSuccess(), { runId, finishedAt });
  const lastSuccess = await getJson<{ finishedAt: string }>(store, runKeys.lastSuccess());
  const report: RunReport = {
    schema: 1,
    kind: 'backup',
    runId,
    result,
    finishedAt,
    clusters,
    repos,
    verification: verified.map(({ bundle, ok, objects, errors, seconds }) => ({ bundle, ok, objects, errors, seconds })),
    ...(readiness ? { readiness } : {}),
    totals,
    problems,
    ...(lastSuccess ? { lastSuccessAt: lastSuccess.finishedAt } : {}),
    ...(planError ? { planError } : {}),
  };
  await putJson(store, runKeys.report(runId), report);
  return report;
}

/** Reads the cluster's manifest only: the report function may not read the export, which holds Argo CD's Secrets. */
async function clusterReport(store: Store, result: ExportStepResult, applications: readonly ApplicationReadiness[]): Promise<ClusterReport> {
  const manifest = await store.getText(exportKeys(result.cluster).manifest).then(parseManifest).catch(() => undefined);
  const own = applications.filter((app) => app.cluster === result.cluster);
  return {
    ...result,
    ...(manifest ? { argocdVersion: manifest.argocdVersion } : {}),
    applications: own.length,
    gitSources: manifest?.sources.git.length ?? 0,
    ready: own.filter((app) => app.verdict === 'ready').length,
    notReady: own.filter((app) => app.verdict === 'not-ready').length,
    notCovered: own.filter((app) => app.verdict === 'not-covered').length,
  };
}

/** The verification of a bundle the run planned to verify but whose verify step wrote nothing. */
function verifyNoResult(runId: string, bundle: string): BundleReport {
  return { bundle, ok: false, objects: 0, seconds: 0, warnings: [], errors: [{ id: 'verifyNoResult', message: `the verify step left no result for ${bundle} (it crashed or timed out); see the verify function's logs for run ${runId}` }] };
}

/** The weekly sweep's report: verification results only; it is not a backup and says nothing about backup age. */
export async function sweepReportStep(store: Store, runId: string, itemsStore: Store = store, stepError?: string): Promise<RunReport> {
  const verified = await listJson<BundleReport>(store, `runs/${runId}/verify/`);
  // As for mirrors: a bundle the sweep planned but never reported on was not verified.
  const items = (await getJson<VerifyItem[]>(itemsStore, runKeys.planItems(runId))) ?? [];
  const reported = new Set(verified.map((report) => report.bundle));
  for (const item of items) {
    if (!reported.has(item.bundle)) verified.push(verifyNoResult(runId, item.bundle));
  }
  const failed = verified.filter((report) => !report.ok).length;
  const report: RunReport = {
    schema: 1,
    kind: 'verify-sweep',
    runId,
    result: stepError ? 'Failed' : failed > 0 ? 'PartiallyFailed' : 'Succeeded',
    finishedAt: new Date().toISOString(),
    ...(stepError ? { planError: stepError } : {}),
    clusters: [],
    repos: [],
    verification: verified.map(({ bundle, ok, objects, errors, seconds }) => ({ bundle, ok, objects, errors, seconds })),
    problems: [...(stepError ? [stepError] : []), ...verified.filter((bundle) => !bundle.ok).map((bundle) => `${bundle.bundle}: failed verification: ${bundle.errors[0]?.message ?? 'see verification'}`)],
    totals: { reposMirrored: 0, reposUnchanged: 0, reposFailed: 0, bundlesVerified: verified.length - failed, bundlesFailedVerification: failed, bytesMirrored: 0 },
  };
  await putJson(store, runKeys.report(runId), report);
  return report;
}
