import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import type { KubeAccess } from '../argocd/kube-access.js';
import type { MirrorProgress } from '../git/mirror.js';
import { parseRepoUrl, repoStoreKeys } from '../git/repo-url.js';
import { parseSidecar } from '../git/sidecar.js';
import type { BundleReport } from '../git/verify/findings.js';
import type { Store } from '../store/store.js';
import type { ExportStepResult, MirrorItem, PlanStepResult } from './events.js';
import { getJson } from './run-store.js';
import { exportStep, mirrorStep, planStep, reportStep, verifyStep, type ExtraCredentialsSource, type RepoRunResult, type RunReport } from './steps.js';

/**
 * A whole backup run in one process (the CLI, the demo): the same steps the Lambda handlers run,
 * in the order the state machine runs them; mirrors run concurrently and each new bundle is
 * verified as soon as it is written.
 */

export interface BackupCluster {
  /** The cluster's folder in the store (argocd/<name>/). */
  name: string;
  /** Argo CD's namespace. */
  namespace: string;
  connect: () => Promise<KubeAccess>;
}

export interface BackupRunOptions {
  store: Store;
  clusters: readonly BackupCluster[];
  /** Default: backup-<UTC time>-<random>. */
  runId?: string;
  /** Repositories to mirror besides the Applications' (e.g. a config repo no Application names). */
  extraRepos?: readonly string[];
  /** Credentials for the extra repos no exported Secret covers (read once, when first needed). */
  extraCredentials?: ExtraCredentialsSource;
  /** Ref patterns added to HEAD, refs/heads/* and refs/tags/*. */
  refs?: readonly string[];
  /** Repositories listed and mirrored at once (default 4). */
  concurrency?: number;
  onEvent?: (event: BackupEvent) => void;
}

/** What a person watching a run sees, step by step and repo by repo. */
export type BackupEvent =
  | { step: 'export'; cluster: string; result?: ExportStepResult }
  | { step: 'plan'; progress?: MirrorProgress; result?: PlanStepResult }
  | { step: 'mirror'; url: string; progress?: MirrorProgress; result?: RepoRunResult; /** The last bundle's size: this one's likely size. */ expectedBytes?: number }
  | { step: 'verify'; bundle: string; fraction?: number; report?: BundleReport }
  | { step: 'report'; report: RunReport };

export function newRunId(now = new Date()): string {
  return `backup-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

export async function runBackup(options: BackupRunOptions): Promise<RunReport> {
  const { store } = options;
  const runId = options.runId ?? newRunId();
  const emit = options.onEvent ?? (() => {});
  const concurrency = options.concurrency ?? 4;
  let extraRead: ReturnType<ExtraCredentialsSource> | undefined;
  const extraCredentials = options.extraCredentials && (() => (extraRead ??= options.extraCredentials!()));

  const exports: ExportStepResult[] = [];
  for (const cluster of options.clusters) {
    emit({ step: 'export', cluster: cluster.name });
    const result = await exportStep(store, cluster.name, cluster.namespace, cluster.connect);
    emit({ step: 'export', cluster: cluster.name, result });
    exports.push(result);
  }

  emit({ step: 'plan' });
  let plan: PlanStepResult;
  try {
    plan = await planStep(store, runId, exports, {
      concurrency,
      ...(options.extraRepos ? { extraRepos: options.extraRepos } : {}),
      ...(options.refs ? { extraRefPatterns: options.refs } : {}),
      ...(extraCredentials ? { extraCredentials } : {}),
      onProgress: (progress) => emit({ step: 'plan', progress }),
    });
  } catch (error) {
    // As in the state machine: a plan that fails as a whole makes the run Failed, with the reason.
    const report = await reportStep(store, runId, exports, store, `the plan step failed: ${error instanceof Error ? error.message : String(error)}`);
    emit({ step: 'report', report });
    return report;
  }
  emit({ step: 'plan', result: plan });

  const items = (await getJson<MirrorItem[]>(store, plan.itemsKey)) ?? [];
  const mirrorLimit = pLimit(concurrency);
  // Verification already uses every core: one bundle at a time, while the next mirrors stream in.
  const verifyLimit = pLimit(1);
  const verifications: Promise<unknown>[] = [];
  await Promise.all(items.map((item) => mirrorLimit(async () => {
    const expectedBytes = await lastBundleBytes(store, item.url);
    emit({ step: 'mirror', url: item.url, ...(expectedBytes ? { expectedBytes } : {}) });
    const result = await mirrorStep(store, item, {
      ...(options.refs ? { extraRefPatterns: options.refs } : {}),
      ...(extraCredentials ? { extraCredentials } : {}),
      onProgress: (progress) => emit({ step: 'mirror', url: item.url, progress, ...(expectedBytes ? { expectedBytes } : {}) }),
    });
    emit({ step: 'mirror', url: item.url, result });
    const bundle = result.verifyBundle;
    if (bundle) {
      verifications.push(verifyLimit(async () => {
        emit({ step: 'verify', bundle });
        const report = await verifyStep(store, runId, bundle, (fraction) => emit({ step: 'verify', bundle, fraction }));
        emit({ step: 'verify', bundle, report });
      }));
    }
  })));
  await Promise.all(verifications);

  const report = await reportStep(store, runId, exports);
  emit({ step: 'report', report });
  return report;
}

async function lastBundleBytes(store: Store, url: string): Promise<number | undefined> {
  try {
    return parseSidecar(await store.getText(repoStoreKeys(parseRepoUrl(url)).sidecar))?.bundleBytes;
  } catch {
    return undefined;
  }
}
