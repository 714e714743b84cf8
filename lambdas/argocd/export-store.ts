import type { Store } from '../store/store.js';
import { TOOL_NAME } from '../shared/version.js';
import type { SourceInventory } from './git-sources.js';
import { Readable } from 'node:stream';
import { parseAllDocuments } from 'yaml';
import { toYamlStream, type ArgoExport, type ExportGap } from './export.js';

/** `argocd/<cluster>/manifest.json`: what the export holds and the Git sources to mirror. */
export interface ExportManifest {
  schema: 1;
  cluster: string;
  namespace: string;
  /** When this content was first exported (an unchanged export rewrites nothing). */
  exportedAt: string;
  tool: string;
  argocdVersion: string;
  crdVersions: Record<string, string[]>;
  counts: Record<string, number>;
  exportSha256: string;
  crdsSha256: string;
  secretsIncluded: boolean;
  /** False when --allow-partial let kinds that could not be read go missing: see gaps. */
  complete: boolean;
  gaps: ExportGap[];
  sources: SourceInventory;
}

export interface StoredExport {
  status: 'written' | 'unchanged';
  manifest: ExportManifest;
  keys: { export: string; crds: string; manifest: string };
}

export class ClusterNameError extends Error {}

export function exportKeys(cluster: string): StoredExport['keys'] {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(cluster)) {
    throw new ClusterNameError(`cluster name "${cluster}" cannot name a folder in the store: use letters, digits, '.', '_' and '-' (pass --cluster-name)`);
  }
  const base = `argocd/${cluster}`;
  return { export: `${base}/export.yaml`, crds: `${base}/crds.yaml`, manifest: `${base}/manifest.json` };
}

/**
 * Writes export.yaml, crds.yaml and, last, manifest.json (which records the others' sha256, so
 * a reader can tell a complete set). When nothing changed since the stored manifest, nothing is
 * written at all.
 */
export async function storeExport(store: Store, cluster: string, exported: ArgoExport): Promise<StoredExport> {
  const keys = exportKeys(cluster);
  const exportYaml = toYamlStream(exported.documents);
  const crdsYaml = toYamlStream(exported.crds);
  const counts: Record<string, number> = {};
  for (const document of [...exported.documents, ...exported.crds]) counts[document.kind!] = (counts[document.kind!] ?? 0) + 1;
  const manifest: ExportManifest = {
    schema: 1,
    cluster,
    namespace: exported.namespace,
    exportedAt: new Date().toISOString(),
    tool: TOOL_NAME,
    argocdVersion: exported.argocdVersion,
    crdVersions: exported.crdVersions,
    counts,
    exportSha256: exportYaml.sha256,
    crdsSha256: crdsYaml.sha256,
    secretsIncluded: !exported.secretsExcluded,
    complete: exported.gaps.length === 0,
    gaps: exported.gaps,
    sources: exported.sources,
  };
  const previous = parseManifest(await store.getText(keys.manifest));
  if (previous && sameContent(previous, manifest)) return { status: 'unchanged', manifest: previous, keys };
  await store.put(keys.export, Readable.from(exportYaml.chunks, { objectMode: false }), { contentType: 'application/yaml' });
  await store.put(keys.crds, Readable.from(crdsYaml.chunks, { objectMode: false }), { contentType: 'application/yaml' });
  await store.put(keys.manifest, `${JSON.stringify(manifest, null, 2)}\n`, { contentType: 'application/json' });
  return { status: 'written', manifest, keys };
}

export function parseManifest(text: string | undefined): ExportManifest | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as ExportManifest;
    return value?.schema === 1 ? value : undefined;
  } catch {
    return undefined;
  }
}

function sameContent(a: ExportManifest, b: ExportManifest): boolean {
  const { exportedAt: _a, tool: _ta, ...restA } = a;
  const { exportedAt: _b, tool: _tb, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
}

/** The objects of a stored export.yaml, as plain values (a document that is not a mapping is skipped). */
export function parseExportYaml(text: string): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  for (const document of parseAllDocuments(text)) {
    if (!('contents' in document)) continue;
    const value: unknown = document.toJS();
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) objects.push(value as Record<string, unknown>);
  }
  return objects;
}
