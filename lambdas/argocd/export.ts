import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { cleanDefinition, cleanObject, type KubeObject } from './clean.js';
import { redactUserInfo } from '../git/repo-url.js';
import { inventorySources, type SourceInventory } from './git-sources.js';
import type { KubeAccess } from './kube-access.js';
import { explainKubeError, KubeRequestError, type KubeRequest } from './kube-errors.js';
import { listAllPages, type ListPage } from './list-pages.js';
import { namespaceMatcher } from './namespaces.js';

export interface ExportOptions {
  /** Argo CD's namespace. */
  namespace: string;
  excludeSecrets?: boolean;
  keepStatus?: boolean;
  /** Record a kind that cannot be read as a gap instead of failing the export. */
  allowPartial?: boolean;
  pageSize?: number;
  onProgress?: (what: string, count: number) => void;
}

/** A kind that could not be read, recorded when --allow-partial lets the export go on. */
export interface ExportGap {
  resource: string;
  error: string;
}

/** Everything read from one cluster, cleaned and in `argocd admin export`'s order. */
export interface ArgoExport {
  namespace: string;
  /** ConfigMaps, Secrets, AppProjects, Applications, ApplicationSets. */
  documents: KubeObject[];
  crds: KubeObject[];
  argocdVersion: string;
  crdVersions: Record<string, string[]>;
  sources: SourceInventory;
  gaps: ExportGap[];
  secretsExcluded: boolean;
}

// The ConfigMaps Argo CD reads by name; more come by the part-of label.
export const ARGOCD_CONFIGMAPS = [
  'argocd-cm', 'argocd-rbac-cm', 'argocd-cmd-params-cm', 'argocd-ssh-known-hosts-cm',
  'argocd-tls-certs-cm', 'argocd-gpg-keys-cm', 'argocd-notifications-cm',
];
export const ARGOCD_SECRETS = ['argocd-secret', 'argocd-notifications-secret'];
const PART_OF = 'app.kubernetes.io/part-of';
const SECRET_TYPE = 'argocd.argoproj.io/secret-type';
const ARGO_GROUP = 'argoproj.io';
const ARGO_VERSION = 'v1alpha1';
export const ARGOCD_CRDS = ['applications.argoproj.io', 'applicationsets.argoproj.io', 'appprojects.argoproj.io'];

/**
 * Reads Argo CD's state from a cluster: its ConfigMaps and Secrets, AppProjects, Applications and
 * ApplicationSets (in every namespace Argo CD watches), the CRDs and the Argo CD version. Every
 * list is paginated. A kind that cannot be read fails the export unless `allowPartial`.
 */
export async function exportArgoCd(access: KubeAccess, options: ExportOptions): Promise<ArgoExport> {
  const { namespace } = options;
  const limit = options.pageSize ?? 500;
  const gaps: ExportGap[] = [];
  const config = () => access.kubeConfig();

  /** Runs one read; a failure fails the export, or with allowPartial becomes a gap. */
  async function read<T>(request: KubeRequest, fallback: T, run: (kube: KubeConfig) => Promise<T>): Promise<T> {
    try {
      return await run(await config());
    } catch (error) {
      const explained = error instanceof KubeRequestError ? error : explainKubeError(error, request, access);
      if (!options.allowPartial || explained.status === 401) throw explained;
      gaps.push({ resource: describe(request), error: explained.message });
      return fallback;
    }
  }

  const listCore = (resource: 'configmaps' | 'secrets') => read({ verb: 'list', resource, group: '', namespace }, [], async (kube) => {
    const core = kube.makeApiClient(CoreV1Api);
    return (await listAllPages((token) => (resource === 'configmaps'
      ? core.listNamespacedConfigMap({ namespace, limit, _continue: token })
      : core.listNamespacedSecret({ namespace, limit, _continue: token })) as Promise<ListPage>)) as KubeObject[];
  });

  const listArgo = (plural: string, namespaces: (ns: string) => boolean, everywhere: boolean) => {
    const request: KubeRequest = everywhere ? { verb: 'list', resource: plural, group: ARGO_GROUP } : { verb: 'list', resource: plural, group: ARGO_GROUP, namespace };
    return read(request, [], async (kube) => {
      const custom = kube.makeApiClient(CustomObjectsApi);
      const items = await listAllPages((token) => (everywhere
        ? custom.listClusterCustomObject({ group: ARGO_GROUP, version: ARGO_VERSION, plural, limit, _continue: token })
        : custom.listNamespacedCustomObject({ group: ARGO_GROUP, version: ARGO_VERSION, namespace, plural, limit, _continue: token })) as Promise<ListPage>);
      const kept = (items as KubeObject[]).filter((item) => {
        const ns = item.metadata?.namespace ?? namespace;
        return ns === namespace || namespaces(ns);
      });
      options.onProgress?.(plural, kept.length);
      return kept;
    });
  };

  const configMaps = (await listCore('configmaps')).filter((cm) => ARGOCD_CONFIGMAPS.includes(cm.metadata?.name ?? '') || cm.metadata?.labels?.[PART_OF] === 'argocd');
  if (!configMaps.some((cm) => cm.metadata?.name === 'argocd-cm') && !gaps.some((gap) => gap.resource.startsWith('configmaps'))) {
    throw new KubeRequestError(`Argo CD is not installed in namespace ${namespace} of ${access.server}: there is no argocd-cm ConfigMap; pass --namespace with Argo CD's namespace`, 404);
  }
  options.onProgress?.('configmaps', configMaps.length);
  const secrets = options.excludeSecrets ? [] : (await listCore('secrets')).filter((secret) => {
    const labels = secret.metadata?.labels ?? {};
    return ARGOCD_SECRETS.includes(secret.metadata?.name ?? '') || SECRET_TYPE in labels || labels[PART_OF] === 'argocd';
  });
  options.onProgress?.('secrets', secrets.length);

  const params = (configMaps.find((cm) => cm.metadata?.name === 'argocd-cmd-params-cm')?.data ?? {}) as Record<string, string>;
  const appNamespaces = params['application.namespaces'];
  const appSetNamespaces = params['applicationsetcontroller.namespaces'];
  const projects = await listArgo('appprojects', () => false, false);
  const applications = await listArgo('applications', namespaceMatcher(appNamespaces), Boolean(appNamespaces?.trim()));
  const applicationSets = await listArgo('applicationsets', namespaceMatcher(appSetNamespaces), Boolean(appSetNamespaces?.trim()));

  const crds: KubeObject[] = [];
  const crdVersions: Record<string, string[]> = {};
  for (const name of ARGOCD_CRDS) {
    const crd = await read({ verb: 'get', resource: 'customresourcedefinitions', group: 'apiextensions.k8s.io', name }, undefined, async (kube) => {
      try {
        return (await kube.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name })) as unknown as KubeObject;
      } catch (error) {
        // A missing ApplicationSet CRD is an older or trimmed install, not a failure.
        if ((error as { code?: unknown }).code === 404 && name !== 'applications.argoproj.io') return undefined;
        throw error;
      }
    });
    if (!crd) continue;
    crds.push(cleanDefinition(crd));
    const versions = ((crd.spec as { versions?: { name?: string; storage?: boolean }[] } | undefined)?.versions ?? []);
    crdVersions[name] = versions.map((version) => `${version.name}${version.storage ? ' (storage)' : ''}`);
  }

  const argocdVersion = await read({ verb: 'get', resource: 'deployments', group: 'apps', namespace, name: 'argocd-server' }, 'unknown', async (kube) => {
    try {
      const deployment = await kube.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'argocd-server', namespace });
      const image = deployment.spec?.template.spec?.containers.find((container) => /argocd/.test(container.image ?? ''))?.image ?? '';
      return imageTag(image);
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return 'unknown';
      throw error;
    }
  });

  const keepStatus = options.keepStatus ?? false;
  const byName = (a: KubeObject, b: KubeObject) => key(a).localeCompare(key(b));
  const core = (kind: string) => ({ apiVersion: 'v1', kind });
  const argo = (kind: string) => ({ apiVersion: `${ARGO_GROUP}/${ARGO_VERSION}`, kind });
  // Deployed revisions live in status, so the inventory reads the objects before cleaning.
  const sources = withoutCredentials(inventorySources(applications, applicationSets, { defaultNamespace: namespace }));
  const documents = [
    ...configMaps.sort(byName).map((o) => cleanObject(o, core('ConfigMap'), namespace, keepStatus)),
    ...secrets.sort(byName).map((o) => cleanObject(o, core('Secret'), namespace, keepStatus)),
    ...projects.sort(byName).map((o) => cleanObject(o, argo('AppProject'), namespace, keepStatus)),
    ...applications.sort(byName).map((o) => cleanObject(o, argo('Application'), namespace, keepStatus)),
    ...applicationSets.sort(byName).map((o) => cleanObject(o, argo('ApplicationSet'), namespace, keepStatus)),
  ];
  return { namespace, documents, crds, argocdVersion, crdVersions, sources, gaps, secretsExcluded: options.excludeSecrets ?? false };
}

/** The tag of an image reference: registry ports and digests are not versions. */
export function imageTag(image: string): string {
  const name = image.split('@')[0]!;
  const lastPart = name.slice(name.lastIndexOf('/') + 1);
  return lastPart.includes(':') ? lastPart.slice(lastPart.indexOf(':') + 1) : 'unknown';
}

/** repoURLs written with `user:token@` must not carry the token into manifest.json. */
function withoutCredentials(inventory: SourceInventory): SourceInventory {
  return {
    git: inventory.git.map((source) => ({ ...source, repoURL: redactUserInfo(source.repoURL), repoURLs: [...new Set(source.repoURLs.map(redactUserInfo))] })),
    notMirrored: inventory.notMirrored.map((source) => ({ ...source, repoURL: redactUserInfo(source.repoURL) })),
    unresolved: inventory.unresolved.map((source) => ({ ...source, repoURL: redactUserInfo(source.repoURL) })),
  };
}

function key(object: KubeObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

function describe(request: KubeRequest): string {
  const resource = request.group ? `${request.resource}.${request.group}` : request.resource;
  return `${resource}${request.name ? `/${request.name}` : ''}${request.namespace ? ` in ${request.namespace}` : ''}`;
}

/**
 * One YAML stream, as one chunk per document (10,000 Applications need not be one string too);
 * keys sorted so an unchanged cluster gives a byte-identical file.
 */
export function toYamlStream(documents: KubeObject[]): { chunks: string[]; sha256: string } {
  const hash = createHash('sha256');
  const chunks = documents.map((document) => {
    const chunk = `---\n${stringify(document, { sortMapEntries: true, lineWidth: 0 })}`;
    hash.update(chunk);
    return chunk;
  });
  return { chunks, sha256: hash.digest('hex') };
}
