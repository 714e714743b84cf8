import { exportKeys, parseManifest } from '../argocd/export-store.js';
import { getJson } from '../backup/run-store.js';
import type { RunReport } from '../backup/steps.js';
import { readText, type ObjectVersion, type Store } from '../store/store.js';
import { listClusters, resolveCluster } from './point-in-time.js';

/** One restorable point: a version of a cluster's manifest.json. */
export interface RestorePoint {
  /** When this backup was written to the store: what --at compares with. */
  writtenAt: string;
  versionId?: string;
  latest: boolean;
  exportedAt: string;
  argocdVersion: string;
  exportSha256: string;
  counts: Record<string, number>;
  complete: boolean;
  secretsIncluded: boolean;
}

export interface ClusterHistory {
  cluster: string;
  points: RestorePoint[];
  /** Why only the latest backup is listed (a store without version listing). */
  warning?: string;
}

export interface RunEntry {
  runId: string;
  kind: RunReport['kind'];
  result: RunReport['result'];
  finishedAt: string;
  clusters: { cluster: string; status: string }[];
}

export interface BackupHistory {
  store: string;
  clusters: ClusterHistory[];
  runs: RunEntry[];
}

/** What can be restored: every version of each cluster's export, newest first, and every backup run. */
export async function backupHistory(store: Store, cluster?: string): Promise<BackupHistory> {
  // A cluster not in the store is an error naming those that are, not an empty history.
  const clusters = cluster === undefined ? await listClusters(store) : [await resolveCluster(store, cluster)];
  const histories: ClusterHistory[] = [];
  for (const name of clusters) {
    const key = exportKeys(name).manifest;
    let versions: ObjectVersion[];
    let warning: string | undefined;
    try {
      versions = await store.listVersions(key);
    } catch (error) {
      versions = [];
      warning = `only the latest backup is listed: ${error instanceof Error ? error.message : String(error)}`;
    }
    const points: RestorePoint[] = [];
    if (warning) {
      const manifest = parseManifest(await store.getText(key));
      if (manifest) points.push({ writtenAt: manifest.exportedAt, latest: true, ...summary(manifest) });
    }
    for (const version of versions) {
      if (version.deleted) continue;
      const body = await store.getVersion(key, version.versionId);
      const manifest = parseManifest(body && (await readText(body)));
      if (manifest) points.push({ writtenAt: version.modified.toISOString(), versionId: version.versionId, latest: version.latest, ...summary(manifest) });
    }
    histories.push({ cluster: name, points, ...(warning ? { warning } : {}) });
  }

  const runs: RunEntry[] = [];
  for await (const key of store.list('runs/')) {
    const match = /^runs\/([^/]+)\.json$/.exec(key);
    if (!match || match[1] === 'last-success') continue;
    const report = await getJson<RunReport>(store, key).catch(() => undefined);
    if (!report?.finishedAt) continue;
    runs.push({
      runId: report.runId ?? match[1]!,
      kind: report.kind,
      result: report.result,
      finishedAt: report.finishedAt,
      clusters: (report.clusters ?? []).map((c) => ({ cluster: c.cluster, status: c.status })),
    });
  }
  runs.sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
  return { store: store.location, clusters: histories, runs };
}

function summary(manifest: NonNullable<ReturnType<typeof parseManifest>>): Omit<RestorePoint, 'writtenAt' | 'versionId' | 'latest'> {
  return {
    exportedAt: manifest.exportedAt,
    argocdVersion: manifest.argocdVersion,
    exportSha256: manifest.exportSha256,
    counts: manifest.counts,
    complete: manifest.complete,
    secretsIncluded: manifest.secretsIncluded,
  };
}
