/**
 * The sources each exported Application deploys from, one by one (where the inventory in git-sources.ts groups
 * them by repository): what a restore needs to find in the backup for that Application to sync again.
 */
import { redactUserInfo } from '../git/repo-url.js';
import { isTemplated, repoKind } from './repo-url.js';

export interface AppSource {
  /** As written in the Application, without user info. */
  repoURL: string;
  kind: 'git' | 'helm' | 'oci';
  /** As written; '' means HEAD. */
  targetRevision: string;
  /** Undefined for a ref-only source (it supplies $values and deploys nothing itself) and for Helm charts. */
  path?: string;
  /** Where in the Application, e.g. spec.sources[1]. */
  field: string;
}

export interface AppSources {
  /** "<namespace>/<name>". */
  application: string;
  project: string;
  sources: AppSource[];
}

/**
 * The Applications of an export (parseExportYaml) with their sources, as Argo CD takes them (ApplicationSpec.GetSources): the
 * source hydrator's dry source and sync branch when set, else spec.sources when not empty, else spec.source.
 */
export function applicationSources(objects: readonly Record<string, unknown>[], argocdNamespace = 'argocd'): AppSources[] {
  const found: AppSources[] = [];
  for (const object of objects) {
    if (object.kind !== 'Application') continue;
    const metadata = record(object.metadata);
    const spec = record(object.spec);
    const namespace = typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : argocdNamespace;
    const name = typeof metadata.name === 'string' ? metadata.name : '(unnamed)';
    const project = typeof spec.project === 'string' && spec.project !== '' ? spec.project : 'default';
    found.push({ application: `${namespace}/${name}`, project, sources: specSources(spec) });
  }
  return found;
}

function specSources(spec: Record<string, unknown>): AppSource[] {
  const hydrator = isRecord(spec.sourceHydrator) ? spec.sourceHydrator : undefined;
  if (hydrator) {
    const dry = record(hydrator.drySource);
    const sync = record(hydrator.syncSource);
    const out = [toSource(dry, 'spec.sourceHydrator.drySource')];
    // The sync branch is what Argo CD deploys from: it lives in syncSource.repoURL, else in the dry repository.
    if (typeof sync.targetBranch === 'string' && sync.targetBranch !== '') {
      out.push(toSource({ repoURL: sync.repoURL || dry.repoURL, targetRevision: sync.targetBranch, path: sync.path }, 'spec.sourceHydrator.syncSource'));
    }
    return out.filter((source): source is AppSource => source !== undefined);
  }
  if (Array.isArray(spec.sources) && spec.sources.length > 0) {
    return spec.sources.map((source, i) => toSource(record(source), `spec.sources[${i}]`)).filter((source): source is AppSource => source !== undefined);
  }
  const single = isRecord(spec.source) ? toSource(spec.source, 'spec.source') : undefined;
  return single ? [single] : [];
}

function toSource(source: Record<string, unknown>, field: string): AppSource | undefined {
  if (typeof source.repoURL !== 'string' || source.repoURL === '') return undefined;
  const kind = repoKind(source);
  const targetRevision = typeof source.targetRevision === 'string' ? source.targetRevision : '';
  const refOnly = typeof source.ref === 'string' && source.ref !== '' && (typeof source.path !== 'string' || source.path === '');
  const path = kind === 'git' && !refOnly ? (typeof source.path === 'string' ? source.path : '') : undefined;
  return { repoURL: redactUserInfo(source.repoURL), kind, targetRevision, ...(path !== undefined ? { path } : {}), field };
}

/** True when a value still holds a template expression (an ApplicationSet template that did not resolve). */
export function hasTemplate(source: AppSource): boolean {
  return isTemplated(source.repoURL) || isTemplated(source.targetRevision) || isTemplated(source.path ?? '');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}
