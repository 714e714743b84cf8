import { createHash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../argocd/clean.js';
import { exportKeys, parseManifest, type ExportManifest } from '../argocd/export-store.js';
import { getJson, runKeys } from '../backup/run-store.js';
import type { RunReport } from '../backup/steps.js';
import { readText, type ObjectVersion, type Store } from '../store/store.js';

/** Which backup to restore: the latest, the newest at or before a time, or the one a run left. */
export type PointInTime = { at?: Date; runId?: string };

/** One export read back from the store, checked against its manifest. */
export interface SelectedBackup {
  cluster: string;
  manifest: ExportManifest;
  /** The manifest.json version read; undefined when the current object was read. */
  manifestVersion?: ObjectVersion;
  exportVersion?: ObjectVersion;
  /** The time asked for (from --at, or the run's finishedAt). */
  at?: Date;
  documents: KubeObject[];
}

/** The store holds nothing to restore for what was asked: no cluster, no version, no run. */
export class BackupNotFoundError extends Error {}

/** export.yaml is not the file its manifest describes: nothing may be applied from it. */
export class IntegrityError extends Error {}

/** The clusters with an export in the store. */
export async function listClusters(store: Store): Promise<string[]> {
  const clusters: string[] = [];
  for await (const key of store.list('argocd/')) {
    const match = /^argocd\/([^/]+)\/manifest\.json$/.exec(key);
    if (match) clusters.push(match[1]!);
  }
  return clusters.sort();
}

/** The cluster named, or the only one in the store. */
export async function resolveCluster(store: Store, cluster: string | undefined): Promise<string> {
  const clusters = await listClusters(store);
  if (cluster !== undefined) {
    if (!clusters.includes(cluster)) {
      throw new BackupNotFoundError(`${store.location} has no export of cluster "${cluster}"; it has: ${clusters.join(', ') || 'none'}`);
    }
    return cluster;
  }
  if (clusters.length === 1) return clusters[0]!;
  if (clusters.length === 0) throw new BackupNotFoundError(`${store.location} holds no Argo CD export (argocd/<cluster>/manifest.json); check --store`);
  throw new BackupNotFoundError(`${store.location} holds exports of ${clusters.length} clusters (${clusters.join(', ')}); pass --cluster`);
}

/**
 * Reads the backup of `cluster` for a point in time and checks that export.yaml is the file
 * manifest.json describes (its sha256). A time selects the newest manifest.json version at or
 * before it, and the export.yaml written for that manifest: written after the previous manifest
 * version and no later than this one.
 */
export async function selectBackup(store: Store, cluster: string, when: PointInTime = {}): Promise<SelectedBackup> {
  const keys = exportKeys(cluster);
  const at = await timeOf(store, when);

  if (at === undefined) {
    const manifestText = await store.getText(keys.manifest);
    const manifest = parseManifest(manifestText);
    if (!manifest) throw new BackupNotFoundError(`${store.location}/${keys.manifest} is missing or not an export manifest`);
    const exportText = await store.getText(keys.export);
    if (exportText === undefined) throw new IntegrityError(`${store.location}/${keys.export} is missing although its manifest exists; nothing was applied`);
    checkSha(exportText, manifest, `${keys.export} (current)`, keys.manifest);
    return { cluster, manifest, documents: parseExport(exportText, keys.export) };
  }

  const manifests = await store.listVersions(keys.manifest);
  const index = manifests.findIndex((version) => version.modified.getTime() <= at.getTime());
  const chosen = manifests[index];
  if (!chosen || chosen.deleted) {
    const oldest = manifests.filter((version) => !version.deleted).at(-1);
    throw new BackupNotFoundError(
      `${store.location} has no backup of cluster "${cluster}" at or before ${at.toISOString()}`
      + (oldest ? `; the oldest is from ${oldest.modified.toISOString()}` : '') + ' (argocd-dr history lists them)',
    );
  }
  const manifest = parseManifest(await textOf(store, keys.manifest, chosen));
  if (!manifest) throw new IntegrityError(`${keys.manifest} version ${chosen.versionId} (${chosen.modified.toISOString()}) is not an export manifest; nothing was applied`);
  const previous = manifests.slice(index + 1).find((version) => !version.deleted);
  const candidates = (await store.listVersions(keys.export)).filter((version) =>
    !version.deleted && version.modified <= chosen.modified && (!previous || version.modified >= previous.modified));
  if (candidates.length === 0) {
    throw new IntegrityError(`${keys.export} has no version written for manifest.json of ${chosen.modified.toISOString()}; nothing was applied`);
  }
  let mismatch = '';
  for (const candidate of candidates) {
    const text = await textOf(store, keys.export, candidate);
    const sha = sha256(text);
    if (sha === manifest.exportSha256) {
      return { cluster, manifest, manifestVersion: chosen, exportVersion: candidate, at, documents: parseExport(text, keys.export) };
    }
    mismatch ||= `${keys.export} version ${candidate.versionId} (${candidate.modified.toISOString()}) has sha256 ${sha}`;
  }
  throw new IntegrityError(`${mismatch}, but ${keys.manifest} of ${chosen.modified.toISOString()} records ${manifest.exportSha256}: the export is damaged or incomplete; nothing was applied. Pick another point in time (argocd-dr history).`);
}

/** The time a point in time stands for: `at` itself, or when run `runId` finished; undefined for "the latest". */
export async function timeOf(store: Store, when: PointInTime): Promise<Date | undefined> {
  if (when.runId === undefined) return when.at;
  if (!/^[A-Za-z0-9._:-]+$/.test(when.runId)) throw new BackupNotFoundError(`"${when.runId}" is not a run id; argocd-dr history lists the runs`);
  const run = await getJson<RunReport>(store, runKeys.report(when.runId));
  if (!run) throw new BackupNotFoundError(`${store.location} has no run "${when.runId}" (${runKeys.report(when.runId)}); argocd-dr history lists the runs`);
  return new Date(run.finishedAt);
}

async function textOf(store: Store, key: string, version: ObjectVersion): Promise<string> {
  const body = await store.getVersion(key, version.versionId);
  if (!body) throw new IntegrityError(`${key} version ${version.versionId} is listed but cannot be read; nothing was applied`);
  return readText(body);
}

function checkSha(text: string, manifest: ExportManifest, what: string, manifestKey: string): void {
  const sha = sha256(text);
  if (sha !== manifest.exportSha256) {
    throw new IntegrityError(`${what} has sha256 ${sha}, but ${manifestKey} records ${manifest.exportSha256}: the export is damaged or incomplete; nothing was applied. Pick another point in time (argocd-dr history).`);
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function parseExport(text: string, key: string): KubeObject[] {
  const documents = parseAllDocuments(text);
  const objects: KubeObject[] = [];
  for (const [index, document] of documents.entries()) {
    if (document.errors.length > 0) throw new IntegrityError(`${key}: document ${index + 1} is not valid YAML (${document.errors[0]!.message}); nothing was applied`);
    const value = document.toJS() as KubeObject | null;
    if (value !== null) objects.push(value);
  }
  return objects;
}
