import { applicationSources, type AppSources } from '../argocd/app-sources.js';
import { exportKeys, parseExportYaml, parseManifest, type ExportManifest } from '../argocd/export-store.js';
import { connectionContextFromObjects } from '../argocd/connection-config.js';
import { inventorySources } from '../argocd/git-sources.js';
import { matchRepoCredentials, repoCredentialsOf, type RepoCredentials } from '../argocd/repo-credentials.js';
import type { GitConnectionContext } from '../git/credentials.js';
import { redactUserInfo } from '../git/repo-url.js';
import type { Store } from '../store/store.js';

/** What a backup run reads back from one cluster's stored export: its inventory, Applications and repo credentials. */
export interface ClusterExport {
  cluster: string;
  manifest: ExportManifest;
  applications: AppSources[];
  /** Secret values: use them to fetch, never write them anywhere. */
  credentials: RepoCredentials[];
  /** Its argocd-ssh-known-hosts-cm and argocd-tls-certs-cm: how its Argo CD checks Git servers. */
  connection: GitConnectionContext;
  /**
   * The Git repoURLs of its Applications and ApplicationSets as written (user info included), by the redacted
   * spelling the manifest holds: Argo CD matches Secrets against what is written, and its normalisation keeps the
   * user (`https://myorg@dev.azure.com/…`). They may hold a password: use them to match, never write them anywhere.
   */
  writtenRepoURLs: ReadonlyMap<string, readonly string[]>;
}

// export.yaml can be megabytes: parsed once per content, shared by the plan, every mirror and the report.
const cache = new Map<string, ClusterExport>();
const CACHE_LIMIT = 16;

/** The cluster's last stored export (also when this run's export of it failed), or undefined when there is none. */
export async function readClusterExport(store: Store, cluster: string): Promise<ClusterExport | undefined> {
  const keys = exportKeys(cluster);
  const manifest = parseManifest(await store.getText(keys.manifest));
  if (!manifest) return undefined;
  const cacheKey = JSON.stringify([store.location, cluster, manifest.exportSha256]);
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  const text = await store.getText(keys.export);
  const objects = text === undefined ? [] : parseExportYaml(text);
  const parsed: ClusterExport = {
    cluster,
    manifest,
    applications: applicationSources(objects, manifest.namespace),
    credentials: repoCredentialsOf(objects, manifest.namespace),
    connection: connectionContextFromObjects(objects, manifest.namespace),
    writtenRepoURLs: writtenRepoURLs(objects, manifest.namespace),
  };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(cacheKey, parsed);
  return parsed;
}

function writtenRepoURLs(objects: readonly Record<string, unknown>[], namespace: string): Map<string, string[]> {
  const inventory = inventorySources(objects.filter((o) => o.kind === 'Application'), objects.filter((o) => o.kind === 'ApplicationSet'), { defaultNamespace: namespace });
  const written = new Map<string, string[]>();
  for (const url of inventory.git.flatMap((source) => source.repoURLs)) {
    const redacted = redactUserInfo(url);
    if (url !== redacted) written.set(redacted, [...(written.get(redacted) ?? []), url]);
  }
  return written;
}

/** The credentials Argo CD would find for a (redacted) spelling of the cluster's: matched as its Applications write it. */
function matchExported(exported: ClusterExport, repoURL: string, project: string): RepoCredentials | undefined {
  for (const written of [...(exported.writtenRepoURLs.get(repoURL) ?? []), repoURL]) {
    const found = matchRepoCredentials(exported.credentials, written, project);
    if (found) return found;
  }
  return undefined;
}

/**
 * Which exported credentials to fetch a repository with, named without their values so it can travel in a
 * mirror item: the cluster whose Secrets hold them, and the spelling and project to match them with.
 */
export interface CredentialsRef {
  cluster: string;
  repoURL: string;
  project: string;
}

/**
 * The first spelling × project (of the Applications using the repo in each cluster, then no project) for which
 * Argo CD would find credentials. One repo mirrored for Applications of several projects can only use one set.
 */
export function chooseCredentials(clusters: readonly ClusterExport[], spellings: readonly string[], identity: string | undefined): CredentialsRef | undefined {
  for (const exported of clusters) {
    if (exported.credentials.length === 0) continue;
    const source = identity === undefined ? undefined : exported.manifest.sources.git.find((candidate) => candidate.normalizedURL === identity);
    const projects = [...new Set(exported.applications.filter((app) => source?.applications.includes(app.application)).map((app) => app.project))].sort();
    for (const repoURL of new Set([...spellings, ...(source?.repoURLs ?? [])])) {
      for (const project of [...projects, '']) {
        if (matchExported(exported, repoURL, project)) return { cluster: exported.cluster, repoURL, project };
      }
    }
  }
  return undefined;
}

/** The credentials a CredentialsRef names, read from the store again (the mirror Lambda gets only the ref). */
export async function resolveCredentials(store: Store, ref: CredentialsRef | undefined): Promise<RepoCredentials | undefined> {
  if (!ref) return undefined;
  const exported = await readClusterExport(store, ref.cluster);
  return exported ? matchExported(exported, ref.repoURL, ref.project) : undefined;
}
