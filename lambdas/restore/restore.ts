import type { KubeAccess } from '../argocd/kube-access.js';
import { getJson, runKeys } from '../backup/run-store.js';
import type { RunReport } from '../backup/steps.js';
import type { Store } from '../store/store.js';
import { applyExport, RestoreRefusedError, type ApplyOptions, type RestoreResult } from './apply.js';
import { resolveCluster, selectBackup, type PointInTime } from './point-in-time.js';
import { remapObjects, type Mapping, type RemapChange } from './remap.js';

export interface RestoreRequest extends Omit<ApplyOptions, 'secretsIncluded'> {
  /** The cluster's name in the store; optional when the store holds one. */
  cluster?: string;
  when?: PointInTime;
  repoMaps?: Mapping[];
  clusterMaps?: Mapping[];
}

export interface RestoreReport extends RestoreResult {
  status: 'restored' | 'dry-run' | 'failed';
  cluster: string;
  backup: {
    exportedAt: string;
    argocdVersion: string;
    exportSha256: string;
    /** The manifest.json version chosen for a point in time. */
    version?: { versionId: string; writtenAt: string };
    at?: string;
  };
  remapped: RemapChange[];
  warnings: string[];
}

/**
 * The restore command's core: picks the backup for the point in time, checks its integrity,
 * rewrites repositories and clusters, and applies it (or, in a dry run, says what it would do).
 */
export async function restoreFromStore(store: Store, access: KubeAccess, request: RestoreRequest): Promise<RestoreReport> {
  const cluster = await resolveCluster(store, request.cluster);
  const backup = await selectBackup(store, cluster, request.when ?? {});
  const { manifest } = backup;
  if (request.prune && !manifest.complete) {
    // What the export could not read is absent from it: pruning would delete all of it from the cluster.
    throw new RestoreRefusedError(`the backup of ${cluster} is partial (missing: ${manifest.gaps.map((gap) => gap.resource).join(', ')}), so --prune would delete objects the backup merely failed to read; restore without --prune, or pick a complete backup (argocd-dr history); nothing was applied`);
  }
  const remapped = remapObjects(backup.documents, request.repoMaps ?? [], request.clusterMaps ?? [], request.namespace);
  const warnings: string[] = [];
  // Not a refusal: restore-git prints a mapping for every repository in the store (extra repos, other
  // clusters' repos), and the runbook passes them all. A typo shows here, and in --dry-run first.
  if (remapped.unused.length > 0) warnings.push(`${remapped.unused.join(', ')} matched nothing in the backup of ${cluster} (expected for repositories this cluster does not use; otherwise check the URL as the Applications spell it)`);
  const runId = request.when?.runId;
  if (runId !== undefined) {
    // The run's time picks the newest stored export before it: when this run did not write one, that is an older run's.
    const run = await getJson<RunReport>(store, runKeys.report(runId));
    const exported = run?.clusters?.find((entry) => entry.cluster === cluster);
    if (!exported || exported.status === 'failed') {
      warnings.push(`run ${runId} ${exported ? 'failed to export' : 'did not export'} cluster ${cluster}: restoring instead the earlier backup exported ${manifest.exportedAt}`
        + `${backup.manifestVersion ? ` (stored ${backup.manifestVersion.modified.toISOString()})` : ''}; argocd-dr history lists the backups`);
    }
  }
  if (!manifest.complete) warnings.push(`the backup is partial; missing: ${manifest.gaps.map((gap) => gap.resource).join(', ')}`);
  if (!manifest.secretsIncluded) warnings.push('the backup has no Secrets (exported with --exclude-secrets): add repository credentials and clusters by hand, Secrets are never pruned');
  const result = await applyExport(access, remapped.objects, { ...request, secretsIncluded: manifest.secretsIncluded });
  return {
    status: result.failed ? 'failed' : result.dryRun ? 'dry-run' : 'restored',
    cluster,
    backup: {
      exportedAt: manifest.exportedAt,
      argocdVersion: manifest.argocdVersion,
      exportSha256: manifest.exportSha256,
      ...(backup.manifestVersion ? { version: { versionId: backup.manifestVersion.versionId, writtenAt: backup.manifestVersion.modified.toISOString() } } : {}),
      ...(backup.at ? { at: backup.at.toISOString() } : {}),
    },
    remapped: remapped.changes,
    warnings,
    ...result,
  };
}
