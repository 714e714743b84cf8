import { isDeepStrictEqual } from 'node:util';
import { CoreV1Api, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import pLimit from 'p-limit';
import { cleanObject, type KubeObject } from '../argocd/clean.js';
import { exportArgoCd } from '../argocd/export.js';
import type { KubeAccess } from '../argocd/kube-access.js';
import { explainKubeError } from '../argocd/kube-errors.js';
import { namespaceMatcher } from '../argocd/namespaces.js';
import { redactUserInfo } from '../git/repo-url.js';
import { redactSecrets } from '../shared/redact.js';
import { canonicalYaml, objectDiff } from './object-diff.js';

/** The field manager of every write, so `kubectl get --show-managed-fields` tells a restore apart. */
export const FIELD_MANAGER = 'argocd-dr';

/** The safe order: what Applications need (settings, credentials, projects) exists before them. */
const KINDS = ['ConfigMap', 'Secret', 'AppProject', 'Application', 'ApplicationSet'] as const;
type Kind = (typeof KINDS)[number];
const TYPES: Record<Kind | 'Namespace', { apiVersion: string; resource: string; group: string }> = {
  Namespace: { apiVersion: 'v1', resource: 'namespaces', group: '' },
  ConfigMap: { apiVersion: 'v1', resource: 'configmaps', group: '' },
  Secret: { apiVersion: 'v1', resource: 'secrets', group: '' },
  AppProject: { apiVersion: 'argoproj.io/v1alpha1', resource: 'appprojects', group: 'argoproj.io' },
  Application: { apiVersion: 'argoproj.io/v1alpha1', resource: 'applications', group: 'argoproj.io' },
  ApplicationSet: { apiVersion: 'argoproj.io/v1alpha1', resource: 'applicationsets', group: 'argoproj.io' },
};
const SECRET_TYPE = 'argocd.argoproj.io/secret-type';

export type Action = 'create' | 'update' | 'unchanged' | 'delete';

export interface ObjectOutcome {
  kind: string;
  namespace: string;
  name: string;
  action: Action;
  /** Dry run only: unified diff from the live object to the backup's (Secret values masked). */
  diff?: string;
  /** What the restore removed or replaced besides its apply: fields other managers had set (paths only, never values). */
  note?: string;
}

/** An Application or ApplicationSet whose automated sync --pause-sync turned off. */
export interface PausedSync {
  kind: 'Application' | 'ApplicationSet';
  namespace: string;
  name: string;
  /** The command that turns it back on. */
  resume: string;
}

export interface RestoreResult {
  dryRun: boolean;
  /** In the order applied (or, in a dry run, that would be applied). */
  objects: ObjectOutcome[];
  namespacesCreated: string[];
  /** The write that failed; nothing after it was attempted. */
  failed?: { object: string; error: string };
  notAttempted: string[];
  paused: PausedSync[];
  pruned: ObjectOutcome[];
}

export interface ApplyOptions {
  /** Argo CD's namespace: where objects without a namespace go. */
  namespace: string;
  dryRun?: boolean;
  pauseSync?: boolean;
  prune?: boolean;
  /** Whether the backup holds Secrets: without them, no Secret is ever pruned. */
  secretsIncluded: boolean;
  /** Asked before any change when --prune would delete objects; false cancels the restore. */
  confirmPrune?: (objects: string[]) => Promise<boolean>;
  /** kubectl arguments that reach this cluster (e.g. --kubeconfig f), for the printed resume commands. */
  kubectlArgs?: string[];
  concurrency?: number;
}

/** The restore could not start; nothing was applied. */
export class RestoreRefusedError extends Error {}

/**
 * Applies Argo CD's objects from an export to a cluster: missing namespaces, then ConfigMaps,
 * Secrets, AppProjects, Applications and ApplicationSets, by server-side apply under the field
 * manager argocd-dr. Never an `operation` or a `status`. Stops at the first failed write and
 * reports what was applied before it. A dry run reads and compares, and writes nothing.
 */
export async function applyExport(access: KubeAccess, documents: readonly KubeObject[], options: ApplyOptions): Promise<RestoreResult> {
  const { namespace: argoNamespace } = options;
  const desired = documents.map((document) => prepare(document, argoNamespace));
  const paused = options.pauseSync ? pauseSync(desired, argoNamespace, options.kubectlArgs ?? []) : [];
  const secretValues = desired.filter((o) => o.kind === 'Secret').flatMap(secretStrings);

  // The live state, read and cleaned exactly as an export reads it: "unchanged" means an export would not differ.
  let live: KubeObject[];
  try {
    live = (await exportArgoCd(access, { namespace: argoNamespace })).documents;
  } catch (error) {
    throw new RestoreRefusedError(`cannot read Argo CD's current state in ${access.server}: ${message(error)}; nothing was applied`);
  }
  const liveByKey = new Map(live.map((object) => [keyOf(object, argoNamespace), json(object)]));
  const listed = listedBy(live, argoNamespace);

  const kube = await access.kubeConfig();
  const objects = KubernetesObjectApi.makeApiClient(kube);
  const core = kube.makeApiClient(CoreV1Api);

  const namespaces = [...new Set([argoNamespace, ...desired.map((o) => o.metadata?.namespace ?? argoNamespace)])].sort();
  const missingNamespaces: string[] = [];
  for (const name of namespaces) {
    try {
      await core.readNamespace({ name });
    } catch (error) {
      if ((error as { code?: unknown }).code !== 404) throw new RestoreRefusedError(`cannot read namespace ${name}: ${explainKubeError(error, { verb: 'get', resource: 'namespaces', group: '', name }, access).message}; nothing was applied`);
      missingNamespaces.push(name);
    }
  }

  const planned: { object: KubeObject; outcome: ObjectOutcome }[] = [];
  for (const object of desired) {
    const label = labelOf(object, argoNamespace);
    let current = liveByKey.get(keyOf(object, argoNamespace));
    // Not in the listing, which covers only what Argo CD watches today (and labelled ConfigMaps and Secrets): ask by name.
    const namespace = object.metadata?.namespace ?? argoNamespace;
    if (!current && !missingNamespaces.includes(namespace) && !listed(object.kind!, namespace)) current = await readLive(objects, object, argoNamespace, access);
    const action: Action = !current ? 'create' : canonicalYaml(current) === canonicalYaml(object) ? 'unchanged' : 'update';
    const outcome: ObjectOutcome = { kind: object.kind!, namespace: object.metadata?.namespace ?? argoNamespace, name: object.metadata!.name!, action };
    // A repoURL may carry a token (`https://user:token@host/…`): the diff shows URLs without user info.
    if (options.dryRun && action !== 'unchanged') outcome.diff = redactUserInfo(objectDiff(label, current, object));
    planned.push({ object, outcome });
  }

  const wanted = new Set(desired.map((o) => keyOf(o, argoNamespace)));
  const toPrune = options.prune ? live.filter((o) => !wanted.has(keyOf(o, argoNamespace)) && prunable(o, options.secretsIncluded)) : [];
  pruneOrder(toPrune);
  const pruned = toPrune.map((o): ObjectOutcome => ({ kind: o.kind!, namespace: o.metadata?.namespace ?? argoNamespace, name: o.metadata!.name!, action: 'delete' }));
  if (options.dryRun) {
    for (const outcome of pruned) {
      const object = toPrune[pruned.indexOf(outcome)]!;
      outcome.diff = redactUserInfo(objectDiff(labelOf(object, argoNamespace), json(object), undefined));
    }
    return { dryRun: true, objects: planned.map((p) => p.outcome), namespacesCreated: missingNamespaces, notAttempted: [], paused, pruned };
  }
  if (toPrune.length > 0 && !(await (options.confirmPrune ?? (async () => false))(toPrune.map((o) => labelOf(o, argoNamespace))))) {
    throw new RestoreRefusedError(`--prune would delete ${toPrune.length} object(s) and was not confirmed; nothing was applied`);
  }

  const result: RestoreResult = { dryRun: false, objects: [], namespacesCreated: [], notAttempted: [], paused, pruned: [] };
  const fail = (label: string, error: string, rest: string[]): RestoreResult => {
    // The API server quotes invalid values, a repoURL with its token among them.
    result.failed = { object: label, error: redactUserInfo(redactSecrets(error, secretValues)) };
    result.notAttempted = rest;
    return result;
  };

  for (const [index, name] of missingNamespaces.entries()) {
    try {
      await objects.patch({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      result.namespacesCreated.push(name);
    } catch (error) {
      return fail(`Namespace ${name}`, explainWrite(error, 'patch', 'Namespace', undefined, name, access), [
        ...missingNamespaces.slice(index + 1).map((n) => `Namespace ${n}`), ...planned.map((p) => labelOf(p.object, argoNamespace)),
      ]);
    }
  }

  const limit = pLimit(options.concurrency ?? 8);
  for (const kind of KINDS) {
    const batch = planned.filter((p) => p.object.kind === kind);
    let failure: { label: string; error: string } | undefined;
    const skipped: string[] = [];
    await Promise.all(batch.map((item) => limit(async () => {
      const label = labelOf(item.object, argoNamespace);
      if (failure) {
        skipped.push(label);
        return;
      }
      if (item.outcome.action !== 'unchanged') {
        try {
          const applied = await objects.patch(applyForm(item.object, argoNamespace), undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
          // Apply leaves fields other managers own (automated sync set in the UI, an extra label or Secret key): remove them.
          const leftover = item.outcome.action === 'update' ? leftoverPatch(applied as KubeObject, item.object, argoNamespace) : undefined;
          if (leftover) {
            await objects.patch(leftover.patch, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch);
            item.outcome.note = leftover.note;
          }
        } catch (error) {
          failure ??= { label, error: explainWrite(error, 'patch', kind, item.object.metadata?.namespace ?? argoNamespace, item.object.metadata!.name!, access) };
          if (failure.label !== label) skipped.push(label);
          return;
        }
      }
      result.objects.push(item.outcome);
    })));
    if (failure) {
      const later = planned.filter((p) => KINDS.indexOf(p.object.kind as Kind) > KINDS.indexOf(kind)).map((p) => labelOf(p.object, argoNamespace));
      return fail(failure.label, failure.error, [...skipped, ...later]);
    }
  }

  for (const [index, object] of toPrune.entries()) {
    const label = labelOf(object, argoNamespace);
    const namespace = object.metadata?.namespace ?? argoNamespace;
    const header = { apiVersion: TYPES[object.kind as Kind].apiVersion, kind: object.kind!, metadata: { name: object.metadata!.name!, namespace } };
    try {
      // Argo CD's resources finalizer deletes an Application's workloads: drop it, the workloads stay.
      if ((object.metadata?.finalizers ?? []).length > 0) {
        await objects.patch({ ...header, metadata: { ...header.metadata, finalizers: null } } as unknown as KubeObject, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch);
      }
      // Orphan: an ApplicationSet's generated Applications must not be garbage-collected with it.
      await objects.delete(header, undefined, undefined, undefined, undefined, object.kind === 'ApplicationSet' ? 'Orphan' : undefined);
      result.pruned.push(pruned[index]!);
    } catch (error) {
      return fail(label, explainWrite(error, 'delete', object.kind!, namespace, object.metadata!.name!, access), toPrune.slice(index + 1).map((o) => `delete ${labelOf(o, argoNamespace)}`));
    }
  }
  return result;
}

/** Whether the live listing (an export of the target) holds every object of this kind in this namespace. */
function listedBy(live: KubeObject[], argoNamespace: string): (kind: string, namespace: string) => boolean {
  const params = (live.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === 'argocd-cmd-params-cm')?.data ?? {}) as Record<string, string>;
  const apps = namespaceMatcher(params['application.namespaces']);
  const appSets = namespaceMatcher(params['applicationsetcontroller.namespaces']);
  return (kind, namespace) => {
    if (kind === 'ConfigMap' || kind === 'Secret') return false;
    if (namespace === argoNamespace) return true;
    return kind === 'Application' ? apps(namespace) : kind === 'ApplicationSet' ? appSets(namespace) : false;
  };
}

/** `Kind namespace/name`, the way messages and the report name an object. */
export function labelOf(object: KubeObject, argoNamespace: string): string {
  return `${object.kind} ${object.metadata?.namespace ?? argoNamespace}/${object.metadata?.name}`;
}

/** The backup's object as it is applied and compared: cleaned as an export cleans, never an operation or status. */
function prepare(document: KubeObject, argoNamespace: string): KubeObject {
  const kind = document.kind as Kind | undefined;
  if (!kind || !KINDS.includes(kind)) {
    throw new RestoreRefusedError(`the export holds a ${document.kind ?? 'document without kind'} ("${document.metadata?.name ?? '?'}"), which a restore does not apply; nothing was applied`);
  }
  if (!document.metadata?.name) throw new RestoreRefusedError(`the export holds a ${kind} without a name; nothing was applied`);
  return json(cleanObject(document, { apiVersion: TYPES[kind].apiVersion, kind }, argoNamespace, false));
}

function applyForm(object: KubeObject, argoNamespace: string): KubeObject {
  return { ...object, metadata: { ...object.metadata, namespace: object.metadata?.namespace ?? argoNamespace } };
}

/**
 * What server-side apply left different from the backup's object: fields the backup lacks that other
 * field managers own stay after an apply. Returns the JSON merge patch that makes the object, cleaned as
 * an export cleans it, equal to the backup's apart from extra labels and annotations (never status, operation or the server's metadata, which
 * cleaning leaves out of both sides), and a note naming the fields (paths only: a Secret's key names,
 * never its values).
 */
function leftoverPatch(applied: KubeObject, backup: KubeObject, argoNamespace: string): { patch: KubeObject; note: string } | undefined {
  const live = cleanObject(json(applied), { apiVersion: backup.apiVersion!, kind: backup.kind! }, argoNamespace, false);
  if (canonicalYaml(live) === canonicalYaml(backup)) return undefined;
  const removed: string[] = [];
  const replaced: string[] = [];
  const patch = mergePatchBetween(live, backup, '', removed, replaced) as KubeObject;
  if (!patch || Object.keys(patch).length === 0) return undefined;
  const { apiVersion, kind, metadata } = applyForm(backup, argoNamespace);
  const parts = [removed.length ? `fields set by other managers removed: ${removed.join(', ')}` : '', replaced.length ? `replaced: ${replaced.join(', ')}` : ''];
  return {
    patch: { ...patch, apiVersion, kind, metadata: { ...(patch.metadata ?? {}), name: metadata!.name, namespace: metadata!.namespace } },
    note: parts.filter(Boolean).join('; '),
  };
}

/** RFC 7386 in reverse: the merge patch from `live` to `wanted`, collecting the paths it removes and replaces. */
function mergePatchBetween(live: Record<string, unknown>, wanted: Record<string, unknown>, path: string, removed: string[], replaced: string[]): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  // Labels and annotations the backup lacks stay: installers record ownership there (Helm's
  // meta.helm.sh/* and app.kubernetes.io/managed-by), and removing it breaks their next upgrade.
  const keepExtraKeys = path === 'metadata.labels' || path === 'metadata.annotations';
  for (const key of Object.keys(live)) {
    if (!(key in wanted) && !keepExtraKeys) {
      patch[key] = null;
      removed.push(pathOf(path, key));
    }
  }
  for (const [key, value] of Object.entries(wanted)) {
    const current = live[key];
    if (isDeepStrictEqual(current, value)) continue;
    if (isMap(current) && isMap(value)) {
      const inner = mergePatchBetween(current, value, pathOf(path, key), removed, replaced);
      if (Object.keys(inner).length > 0) patch[key] = inner;
    } else {
      patch[key] = value;
      replaced.push(pathOf(path, key));
    }
  }
  return patch;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `spec.syncPolicy.automated`; a key with dots or slashes (a label) in brackets: `metadata.labels["team.example.com/x"]`. */
function pathOf(parent: string, key: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent ? `${parent}.${key}` : key;
}

function keyOf(object: KubeObject, argoNamespace: string): string {
  return `${object.kind}/${object.metadata?.namespace ?? argoNamespace}/${object.metadata?.name}`;
}

async function readLive(objects: KubernetesObjectApi, object: KubeObject, argoNamespace: string, access: KubeAccess): Promise<KubeObject | undefined> {
  const namespace = object.metadata?.namespace ?? argoNamespace;
  try {
    const found = await objects.read({ apiVersion: object.apiVersion!, kind: object.kind!, metadata: { name: object.metadata!.name!, namespace } });
    return cleanObject(json(found as KubeObject), { apiVersion: object.apiVersion!, kind: object.kind! }, argoNamespace, false);
  } catch (error) {
    if ((error as { code?: unknown }).code === 404) return undefined;
    const type = TYPES[object.kind as Kind];
    throw new RestoreRefusedError(`${explainKubeError(error, { verb: 'get', resource: type.resource, group: type.group, namespace, name: object.metadata!.name! }, access).message}; nothing was applied`);
  }
}

/**
 * Turns off automated sync on Applications and ApplicationSet templates by removing
 * `syncPolicy.automated`, and says how to put that exact block back. Removing it works on every
 * Argo CD version: `automated.enabled: false` exists only in the CRDs of Argo CD 3.1 and later, and
 * older CRDs prune it, leaving automated sync on.
 */
function pauseSync(objects: KubeObject[], argoNamespace: string, kubectlArgs: string[]): PausedSync[] {
  const paused: PausedSync[] = [];
  for (const object of objects) {
    if (object.kind !== 'Application' && object.kind !== 'ApplicationSet') continue;
    const spec = (object.kind === 'Application' ? object.spec : (object.spec as { template?: { spec?: unknown } } | undefined)?.template?.spec) as
      { syncPolicy?: { automated?: { enabled?: boolean } | null } } | undefined;
    const syncPolicy = spec?.syncPolicy;
    const automated = syncPolicy?.automated;
    // Already off (Argo CD 3.1's enabled: false): nothing to pause, nothing to resume.
    if (!syncPolicy || !automated || automated.enabled === false) continue;
    delete syncPolicy.automated;
    const namespace = object.metadata?.namespace ?? argoNamespace;
    const restore = { syncPolicy: { automated } };
    const patch = object.kind === 'Application' ? { spec: restore } : { spec: { template: { spec: restore } } };
    const resource = object.kind === 'Application' ? 'applications.argoproj.io' : 'applicationsets.argoproj.io';
    const resume = ['kubectl', ...kubectlArgs, '-n', namespace, 'patch', resource, object.metadata!.name!, '--type', 'merge', '-p', JSON.stringify(patch)].map(shellQuote).join(' ');
    paused.push({ kind: object.kind, namespace, name: object.metadata!.name!, resume });
  }
  return paused;
}

/** Argo CD objects --prune may delete: never ConfigMaps or the default project; Secrets only when the backup has them. */
function prunable(object: KubeObject, secretsIncluded: boolean): boolean {
  if (object.kind === 'AppProject') return object.metadata?.name !== 'default';
  if (object.kind === 'Secret') return secretsIncluded && Boolean(object.metadata?.labels?.[SECRET_TYPE]);
  return object.kind === 'Application' || object.kind === 'ApplicationSet';
}

/** ApplicationSets first (they would recreate Applications), projects after their Applications. */
function pruneOrder(objects: KubeObject[]): void {
  const order = ['ApplicationSet', 'Application', 'AppProject', 'Secret'];
  objects.sort((a, b) => order.indexOf(a.kind!) - order.indexOf(b.kind!));
}

/** A failed write, explained: who may not do what, or what the API server refused and why. */
function explainWrite(error: unknown, verb: 'patch' | 'delete', kind: string, namespace: string | undefined, name: string, access: KubeAccess): string {
  const type = TYPES[kind as Kind | 'Namespace'];
  const resource = type.group ? `${type.resource}.${type.group}` : type.resource;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'number') return explainKubeError(error, { verb: 'get', resource: type.resource, group: type.group, ...(namespace ? { namespace } : {}), name }, access).message;
  const status = parseStatus((error as { body?: unknown }).body);
  const said = status.message ? `: ${status.message}` : '';
  switch (code) {
    case 401:
      return `the API server ${access.server} rejected the credentials of ${access.identity} (401 Unauthorized)`;
    case 403:
      return `${access.identity} may not ${verb} ${resource}${namespace ? ` in namespace ${namespace}` : ''} (403 Forbidden${said}); the restoring identity needs get, list and patch${verb === 'delete' ? ' and delete' : ''} on it`;
    case 404:
      return `${verb} failed with 404${said}`;
    case 409:
      return `conflict (409${said}); retry the restore`;
    case 422:
      return `the API server refused it as invalid (422${said}); check that the installed Argo CD CRDs are at least the backup's version`;
    default:
      return `${verb} failed: HTTP ${code}${said}${code >= 500 ? '; the API server failed, retry the restore' : ''}`;
  }
}

function parseStatus(body: unknown): { message?: string } {
  if (typeof body === 'object' && body !== null) return body as { message?: string };
  if (typeof body !== 'string' || body === '') return {};
  try {
    return JSON.parse(body) as { message?: string };
  } catch {
    return { message: body.slice(0, 200) };
  }
}

// Fields of Argo CD's Secrets that name things rather than grant access: they may show in messages (a url or proxy
// without user info).
const PUBLIC_SECRET_FIELDS = new Set(['type', 'url', 'name', 'project', 'username', 'server', 'namespaces', 'enableOCI', 'githubAppID', 'githubAppInstallationID', 'insecure', 'enableLfs', 'proxy', 'noProxy', 'tls.crt', 'admin.passwordMtime']);

/** The confidential values of a Secret (decoded, as stored, and the strings inside JSON ones): kept out of every message. */
function secretStrings(secret: KubeObject): string[] {
  const values: string[] = [];
  for (const [field, encoded] of [['data', true], ['stringData', false]] as const) {
    for (const [key, value] of Object.entries((secret[field] ?? {}) as Record<string, string>)) {
      const plain = encoded ? Buffer.from(value, 'base64').toString('utf8') : value;
      if (PUBLIC_SECRET_FIELDS.has(key)) {
        // A url or proxy may carry credentials (`https://user:token@host`): those are not public.
        const userInfo = /^[a-z][a-z0-9+.-]*:\/\/([^/\s]*)@/i.exec(plain)?.[1];
        if ((key === 'url' || key === 'proxy') && userInfo) {
          const password = userInfo.split(':').slice(1).join(':');
          // Not the plain URL: messages may show it once redactUserInfo has taken the user info out.
          values.push(value, userInfo, password, safeDecode(password));
        }
        continue;
      }
      values.push(value, plain);
      try {
        // A cluster's config is JSON around a bearer token or keys.
        JSON.stringify(JSON.parse(plain), (_key, leaf: unknown) => {
          if (typeof leaf === 'string' && leaf.length >= 8) values.push(leaf);
          return leaf;
        });
      } catch {
        // Not JSON: the value itself is enough.
      }
    }
  }
  return values.filter((value) => value.length >= 6);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function json(object: unknown): KubeObject {
  return JSON.parse(JSON.stringify(object)) as KubeObject;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
