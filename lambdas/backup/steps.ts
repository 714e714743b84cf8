import pLimit from 'p-limit';
import { exportArgoCd } from '../argocd/export.js';
import { exportKeys, parseManifest, storeExport } from '../argocd/export-store.js';
import type { KubeAccess } from '../argocd/kube-access.js';
import { mirrorRepo, type MirrorResult } from '../git/mirror.js';
import { parseRepoUrl, repoStoreKeys } from '../git/repo-url.js';
import type { BundleReport } from '../git/verify/findings.js';
import { verifyStoredBundle } from '../git/verify/verify-store.js';
import type { Store } from '../store/store.js';
import type { ExportStepResult, MirrorItem, PlanStepResult, VerifyItem } from './events.js';
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

export interface PlanOptions {
  extraRepos?: readonly string[];
  extraRefPatterns?: readonly string[];
  concurrency?: number;
  /** Where the mirror items go (in AWS, a bucket in the run's own region: the Distributed Map reads it). */
  itemsStore?: Store;
}

/**
 * plan: every Git source of every exported cluster (and the configured extra repos), one ref
 * listing each; only repos whose refs changed become items of the mirror step. Sources that are
 * not http(s) are recorded as failed until the SSH transport exists.
 */
export async function planStep(store: Store, runId: string, exports: readonly ExportStepResult[], options: PlanOptions = {}): Promise<PlanStepResult> {
  const sources: string[] = [...(options.extraRepos ?? [])];
  for (const result of exports) {
    // A cluster whose export failed this time still has its last manifest: keep its repos backed up.
    const manifest = parseManifest(await store.getText(result.manifest ?? exportKeys(result.cluster).manifest));
    for (const source of manifest?.sources.git ?? []) sources.push(source.repoURL);
  }
  // Two spellings of one repository share a bundle: mirror it once.
  const byKey = new Map<string, string>();
  for (const url of sources) {
    let key = url;
    try {
      key = repoStoreKeys(parseRepoUrl(url)).bundle;
    } catch {
      // Not an http(s) URL: it is reported as failed below, under its own spelling.
    }
    if (!byKey.has(key)) byKey.set(key, url);
  }
  const urls = [...byKey.values()];
  const limit = pLimit(options.concurrency ?? 16);
  const results = await Promise.all(urls.sort().map((url) => limit(() => (/^https?:\/\//i.test(url)
    ? mirrorRepo(url, { store, listOnly: true, ...(options.extraRefPatterns ? { extraRefPatterns: options.extraRefPatterns } : {}) })
    : Promise.resolve<MirrorResult>({ url, status: 'failed', error: `${url}: only http(s) repositories can be mirrored so far` })))));
  const items: MirrorItem[] = results.filter((result) => result.status === 'changed').map((result) => ({ runId, url: result.url }));
  await putJson(options.itemsStore ?? store, runKeys.planItems(runId), items);
  await putJson(store, runKeys.planResults(runId), results.filter((result) => result.status !== 'changed'));
  return {
    runId,
    itemsKey: runKeys.planItems(runId),
    changed: items.length,
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
  return { runId, itemsKey: runKeys.planItems(runId), changed: items.length, unchanged: 0, failed: 0 };
}

/** mirror: one repo; its result is kept under the run for the report. */
export async function mirrorStep(store: Store, item: MirrorItem, extraRefPatterns?: readonly string[]): Promise<MirrorResult> {
  const result = await mirrorRepo(item.url, { store, ...(extraRefPatterns ? { extraRefPatterns } : {}) });
  await putJson(store, runKeys.repoResult(item.runId, item.url), result);
  return result;
}

/** verify: one stored bundle against its sidecar; the report is kept under the run. */
export async function verifyStep(store: Store, runId: string, bundle: string): Promise<BundleReport> {
  const report = await verifyStoredBundle(store, bundle);
  await putJson(store, runKeys.verifyResult(runId, bundle), report);
  return report;
}

export type RunResult = 'Succeeded' | 'PartiallyFailed' | 'Failed';

/** runs/<run-id>.json: what each step did, per cluster and per repo. */
export interface RunReport {
  schema: 1;
  kind: 'backup' | 'verify-sweep';
  runId: string;
  result: RunResult;
  finishedAt: string;
  clusters: ExportStepResult[];
  repos: MirrorResult[];
  verification: Pick<BundleReport, 'bundle' | 'ok' | 'objects' | 'errors' | 'seconds'>[];
  totals: {
    reposMirrored: number;
    reposUnchanged: number;
    reposFailed: number;
    bundlesVerified: number;
    bundlesFailedVerification: number;
    bytesMirrored: number;
  };
  /** When the newest successful run finished (this one, or an earlier one). */
  lastSuccessAt?: string;
  /** Why the plan step failed, when it did. */
  planError?: string;
}

/**
 * report: gathers the run's results and decides: Failed when no cluster could be exported,
 * PartiallyFailed when any cluster, repo or bundle failed, Succeeded otherwise.
 */
export async function reportStep(store: Store, runId: string, exports: readonly ExportStepResult[], itemsStore: Store = store, planError?: string): Promise<RunReport> {
  const planned = (await getJson<MirrorResult[]>(store, runKeys.planResults(runId))) ?? [];
  const mirrored = await listJson<MirrorResult>(store, `runs/${runId}/repos/`);
  // A mirror that crashed or timed out wrote no result: it failed, and must not go unnoticed.
  const items = (await getJson<MirrorItem[]>(itemsStore, runKeys.planItems(runId))) ?? [];
  const reported = new Set(mirrored.map((result) => result.url));
  for (const item of items) {
    if (!reported.has(item.url)) mirrored.push({ url: item.url, status: 'failed', error: `${item.url}: the mirror step left no result (it crashed or timed out); see the mirror function's logs for run ${runId}` });
  }
  const verified = await listJson<BundleReport>(store, `runs/${runId}/verify/`);
  const repos = [...planned, ...mirrored].sort((a, b) => a.url.localeCompare(b.url));
  const totals = {
    reposMirrored: repos.filter((repo) => repo.status === 'mirrored').length,
    reposUnchanged: repos.filter((repo) => repo.status === 'unchanged' || repo.status === 'empty').length,
    reposFailed: repos.filter((repo) => repo.status === 'failed').length,
    bundlesVerified: verified.filter((report) => report.ok).length,
    bundlesFailedVerification: verified.filter((report) => !report.ok).length,
    bytesMirrored: repos.reduce((sum, repo) => sum + (repo.status === 'mirrored' ? repo.bytes ?? 0 : 0), 0),
  };
  const exportsFailed = exports.filter((result) => result.status === 'failed').length;
  // Without a plan no repository was even looked at: that is no backup of the Git side at all.
  const result: RunResult = (exports.length > 0 && exportsFailed === exports.length) || planError
    ? 'Failed'
    : exportsFailed > 0 || totals.reposFailed > 0 || totals.bundlesFailedVerification > 0 ? 'PartiallyFailed' : 'Succeeded';
  const finishedAt = new Date().toISOString();
  if (result === 'Succeeded') await putJson(store, runKeys.lastSuccess(), { runId, finishedAt });
  const lastSuccess = await getJson<{ finishedAt: string }>(store, runKeys.lastSuccess());
  const report: RunReport = {
    schema: 1,
    kind: 'backup',
    runId,
    result,
    finishedAt,
    clusters: [...exports],
    repos,
    verification: verified.map(({ bundle, ok, objects, errors, seconds }) => ({ bundle, ok, objects, errors, seconds })),
    totals,
    ...(lastSuccess ? { lastSuccessAt: lastSuccess.finishedAt } : {}),
    ...(planError ? { planError } : {}),
  };
  await putJson(store, runKeys.report(runId), report);
  return report;
}

/** The weekly sweep's report: verification results only; it is not a backup and says nothing about backup age. */
export async function sweepReportStep(store: Store, runId: string, itemsStore: Store = store, stepError?: string): Promise<RunReport> {
  const verified = await listJson<BundleReport>(store, `runs/${runId}/verify/`);
  // As for mirrors: a bundle the sweep planned but never reported on was not verified.
  const items = (await getJson<VerifyItem[]>(itemsStore, runKeys.planItems(runId))) ?? [];
  const reported = new Set(verified.map((report) => report.bundle));
  for (const item of items) {
    if (!reported.has(item.bundle)) {
      verified.push({ bundle: item.bundle, ok: false, objects: 0, seconds: 0, warnings: [], errors: [{ id: 'verifyNoResult', message: `the verify step left no result for ${item.bundle} (it crashed or timed out); see the verify function's logs for run ${runId}` }] });
    }
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
    totals: { reposMirrored: 0, reposUnchanged: 0, reposFailed: 0, bundlesVerified: verified.length - failed, bundlesFailedVerification: failed, bytesMirrored: 0 },
  };
  await putJson(store, runKeys.report(runId), report);
  return report;
}
