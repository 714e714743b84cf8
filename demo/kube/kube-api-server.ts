import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { groupOf, type Identity, type KubeObject, type ObjectRef } from './kube-object.js';
import { LabelSelectorError, parseLabelSelector, type LabelRequirement } from './label-selector.js';
import { ObjectStore, type ContinuePosition } from './object-store.js';
import { RbacAuthorizer, forbiddenReason, type RequestAttributes } from './rbac.js';
import {
  alreadyExists, badRequest, deleted, expired, failure, forbidden, forbiddenPath, objectNotFound, pathNotFound,
  reasonFor, unauthorized, type StatusError,
} from './status.js';
import { testTls } from './tls.js';

export type { Identity, KubeObject, ObjectMeta, ObjectRef } from './kube-object.js';

/** A misbehaviour applied to every request for one resource ("applicationsets" or "applicationsets.argoproj.io"). */
export type Fault =
  /** Answers with this code and a Status body (reason from the code unless given). */
  | { kind: 'status'; code: number; message?: string; reason?: string; times?: number; verbs?: string[] }
  /** Waits this long before handling the request. */
  | { kind: 'delay'; ms: number; times?: number; verbs?: string[] }
  /** The next `times` (default 1) requests that carry a continue token answer 410 Expired. */
  | { kind: 'expire-continue'; times?: number }
  /** Answers 403 with the message RBAC would give, whoever asks. */
  | { kind: 'deny'; times?: number; verbs?: string[] };

export interface KubeApiServerOptions {
  /** Objects stored at start (cloned; server metadata added). */
  objects?: readonly KubeObject[];
  /** Static bearer tokens. */
  tokens?: Record<string, Identity>;
  /** Checks a bearer token the static ones do not know (e.g. an EKS token by its SigV4 signature). */
  authenticate?: (token: string) => Identity | undefined | Promise<Identity | undefined>;
  /**
   * Role, ClusterRole, RoleBinding and ClusterRoleBinding objects; when given, every request is
   * authorized by them as Kubernetes RBAC would (system:masters bypasses it, as in a real cluster).
   */
  rbac?: readonly KubeObject[];
  /** The server never returns more than this many items per list page, whatever limit asks for. */
  maxPageSize?: number;
  /** Also store default, kube-system, kube-public and kube-node-lease (default true). */
  builtinNamespaces?: boolean;
  /** What /version answers. */
  version?: { major: string; minor: string; gitVersion: string };
  /** Clock for creationTimestamp and managedFields times. */
  now?: () => Date;
  host?: string;
  port?: number;
}

export interface KubeRequestRecord {
  method: string;
  /** URL path, e.g. /api/v1/namespaces/argocd/configmaps. */
  path: string;
  /** Query string without '?'. */
  query: string;
  /** The authenticated user; undefined when authentication failed. Tokens are never recorded. */
  user: string | undefined;
  /** 0 until the response is sent. */
  status: number;
  /** Time the server spent on the request, including fault delays. */
  durationMs: number;
}

export interface KubeApiServer {
  /** e.g. https://127.0.0.1:40123 */
  readonly url: string;
  /** The CA that signed the server certificate. */
  readonly caPem: string;
  /** Every request so far, in arrival order. */
  readonly requests: KubeRequestRecord[];
  /** Current global resource version. */
  readonly resourceVersion: string;
  /** A kubeconfig for this server with the CA embedded and a bearer token. */
  kubeconfig(token: string, options?: { context?: string; namespace?: string }): string;
  /** Creates or replaces an object; returns a copy of what is stored (with server metadata). */
  put(object: KubeObject): KubeObject;
  putAll(objects: readonly KubeObject[]): void;
  /** A copy of the stored object, or undefined. */
  get(ref: ObjectRef): KubeObject | undefined;
  /** True if the object existed. */
  remove(ref: ObjectRef): boolean;
  /** Copies of every stored object of a kind (apiVersion decides the group), in key order. */
  list(apiVersion: string, kind: string): KubeObject[];
  /** Sets (or with undefined clears) the faults for a resource. */
  setFault(resource: string, fault: Fault | Fault[] | undefined): void;
  /** Turns RBAC on with these objects, or off with undefined. */
  setRbac(objects: readonly KubeObject[] | undefined): void;
  /** Makes every continue token issued so far answer 410 Expired, as an etcd compaction does. */
  compact(): void;
  close(): Promise<void>;
}

interface ServedType {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  /** Built-in types' list items come without kind and apiVersion. */
  builtin: boolean;
  shortNames?: string[];
}

const BUILTIN_TYPES: ServedType[] = [
  { group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', listKind: 'NamespaceList', namespaced: false, builtin: true, shortNames: ['ns'] },
  { group: '', version: 'v1', plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', listKind: 'ConfigMapList', namespaced: true, builtin: true, shortNames: ['cm'] },
  { group: '', version: 'v1', plural: 'secrets', singular: 'secret', kind: 'Secret', listKind: 'SecretList', namespaced: true, builtin: true },
  { group: 'apps', version: 'v1', plural: 'deployments', singular: 'deployment', kind: 'Deployment', listKind: 'DeploymentList', namespaced: true, builtin: true, shortNames: ['deploy'] },
  {
    group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', singular: 'customresourcedefinition',
    kind: 'CustomResourceDefinition', listKind: 'CustomResourceDefinitionList', namespaced: false, builtin: true, shortNames: ['crd', 'crds'],
  },
];

const VERBS = ['get', 'list', 'create', 'patch', 'delete'];
const BODY_LIMIT = 16 * 1024 * 1024;
const ADMIN: Identity = { user: 'kubernetes-admin', groups: ['system:masters'] };

interface FaultState {
  fault: Fault;
  remaining: number;
}

/** What the path says, as kube-apiserver's RequestInfoFactory reads it. */
interface RequestInfo extends RequestAttributes {
  version: string;
  /** The namespace named in the path's /namespaces/<ns>/<resource> form ('' otherwise). */
  pathNamespace: string;
}

/** Starts an HTTPS server on loopback that answers like kube-apiserver for the Argo CD kinds and a few built-in ones. */
export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const tls = await testTls();
  const now = options.now ?? (() => new Date());
  const store = new ObjectStore(now);
  const requests: KubeRequestRecord[] = [];
  const faults = new Map<string, FaultState[]>();
  let authorizer = options.rbac ? new RbacAuthorizer(options.rbac) : undefined;
  const tokens = new Map(Object.entries(options.tokens ?? {}));
  const authConfigured = options.tokens !== undefined || options.authenticate !== undefined;
  const version = options.version ?? { major: '1', minor: '33', gitVersion: 'v1.33.1-eks-7308294' };

  if (options.builtinNamespaces !== false) {
    for (const name of ['default', 'kube-node-lease', 'kube-public', 'kube-system']) store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
  for (const object of options.objects ?? []) store.put(object);

  let customTypes: { generation: number; types: ServedType[] } = { generation: -1, types: [] };
  // Custom resources are served only while their CRD is stored, so "Argo CD not installed" is a 404 as in a real cluster.
  const servedTypes = (): ServedType[] => {
    if (customTypes.generation !== store.crdGeneration) {
      customTypes = { generation: store.crdGeneration, types: store.all('apiextensions.k8s.io', 'CustomResourceDefinition').flatMap(typesOfCrd) };
    }
    return [...BUILTIN_TYPES, ...customTypes.types];
  };
  const findType = (group: string, version: string, plural: string) =>
    servedTypes().find((type) => type.group === group && type.version === version && type.plural === plural);

  async function identify(request: IncomingMessage): Promise<Identity | undefined> {
    if (!authConfigured) return ADMIN;
    const header = request.headers.authorization ?? '';
    const match = /^bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return undefined;
    const token = match[1]!;
    const known = tokens.get(token);
    if (known) return known;
    try {
      return options.authenticate ? await options.authenticate(token) : undefined;
    } catch {
      // A failing authenticator is a rejected token, as with a webhook that errors.
      return undefined;
    }
  }

  function takeFault(info: RequestInfo, kinds: Fault['kind'][], hasContinue: boolean): Fault | undefined {
    const states = [...(faults.get(`${info.resource}.${info.apiGroup}`) ?? []), ...(faults.get(info.resource) ?? [])];
    for (const state of states) {
      const { fault } = state;
      if (!kinds.includes(fault.kind) || state.remaining <= 0) continue;
      if (fault.kind === 'expire-continue' ? !hasContinue : fault.verbs && !fault.verbs.includes(info.verb)) continue;
      state.remaining--;
      return fault;
    }
    return undefined;
  }

  async function handle(request: IncomingMessage, record: KubeRequestRecord): Promise<Reply> {
    const identity = await identify(request);
    if (!identity) return statusReply(unauthorized());
    record.user = identity.user;
    const url = new URL(request.url ?? '/', 'https://kube-apiserver.invalid');
    const info = requestInfo(request.method ?? 'GET', url);
    if (!info) return statusReply(failure(405, `the server does not allow this method on the requested resource`));

    if (info.isResourceRequest && takeFault(info, ['deny'], false)) {
      return statusReply(forbidden(info.resource, info.apiGroup, info.name, forbiddenReason(identity, info)));
    }
    if (authorizer && !authorizer.allows(identity, info)) {
      const reason = forbiddenReason(identity, info);
      return statusReply(info.isResourceRequest ? forbidden(info.resource, info.apiGroup, info.name, reason) : forbiddenPath(reason));
    }
    if (!info.isResourceRequest) return nonResourceReply(info);

    const delay = takeFault(info, ['delay'], false);
    if (delay?.kind === 'delay') await sleep(delay.ms);
    const status = takeFault(info, ['status'], false);
    if (status?.kind === 'status') {
      return statusReply(failure(status.code, status.message ?? `injected ${status.code} for ${info.resource}`, status.reason ?? reasonFor(status.code)));
    }
    const continueToken = url.searchParams.get('continue') ?? '';
    if (info.verb === 'list' && continueToken && takeFault(info, ['expire-continue'], true)) return statusReply(expired());

    const type = findType(info.apiGroup, info.version, info.resource);
    if (!type || info.subresource) return statusReply(pathNotFound());
    // A namespaced kind is named only inside a namespace; a cluster-scoped one never has one in its path.
    if (type.namespaced ? info.name !== '' && info.pathNamespace === '' : info.pathNamespace !== '') return statusReply(pathNotFound());
    const namespace = type.namespaced && info.pathNamespace !== '' ? info.pathNamespace : undefined;

    switch (info.verb) {
      case 'list':
        return listReply(type, namespace, url);
      case 'get': {
        const json = store.json(type.group, type.kind, namespace, info.name);
        return json === undefined ? statusReply(objectNotFound(type.plural, type.group, info.name)) : { code: 200, body: json };
      }
      case 'create':
        return createReply(type, namespace, await readBody(request));
      case 'patch':
        if (contentTypeOf(request) === 'application/merge-patch+json') return mergePatchReply(type, namespace, info.name, await readBody(request), url);
        return applyReply(type, namespace, info.name, request, url);
      case 'delete': {
        const result = store.delete(type.group, type.kind, namespace, info.name);
        if (!result) return statusReply(objectNotFound(type.plural, type.group, info.name));
        // An object with finalizers stays, marked for deletion, and the answer is the object itself.
        if (!result.removed) return jsonReply(200, result.object);
        return jsonReply(200, deleted(type.plural, type.group, info.name, result.object.metadata.uid as string));
      }
      default:
        return statusReply(failure(405, `${info.verb} is not supported by this test server`, 'MethodNotAllowed'));
    }
  }

  function listReply(type: ServedType, namespace: string | undefined, url: URL): Reply {
    let selector: LabelRequirement[];
    try {
      selector = parseLabelSelector(url.searchParams.get('labelSelector') ?? '');
    } catch (error) {
      if (error instanceof LabelSelectorError) return statusReply(badRequest(error.message));
      throw error;
    }
    let limit = Number(url.searchParams.get('limit') ?? '0');
    if (!Number.isInteger(limit) || limit < 0) limit = 0;
    if (options.maxPageSize && (limit === 0 || limit > options.maxPageSize)) limit = options.maxPageSize;
    let from: ContinuePosition | undefined;
    const token = url.searchParams.get('continue');
    if (token) {
      from = decodeContinue(token);
      if (!from) return statusReply(badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)'));
      if (from.rv < store.compactedRevision) return statusReply(expired());
    }
    const page = store.page(type.group, type.kind, { namespace, limit, from, selector, bare: type.builtin });
    let metadata = `{"resourceVersion":"${page.rv}"`;
    if (page.next) metadata += `,"continue":${JSON.stringify(encodeContinue(page.next))}`;
    if (page.remainingItemCount !== undefined) metadata += `,"remainingItemCount":${page.remainingItemCount}`;
    metadata += '}';
    const apiVersion = type.group ? `${type.group}/${type.version}` : type.version;
    // The list is assembled from each object's cached JSON: no copy of the collection, no re-serialization.
    return { code: 200, body: `{"kind":"${type.listKind}","apiVersion":"${apiVersion}","metadata":${metadata},"items":[${page.items.join(',')}]}` };
  }

  function checkNamespace(type: ServedType, namespace: string | undefined): StatusError | undefined {
    if (!type.namespaced || namespace === undefined) return undefined;
    return store.get('', 'Namespace', undefined, namespace) ? undefined : objectNotFound('namespaces', '', namespace);
  }

  function createReply(type: ServedType, namespace: string | undefined, body: string): Reply {
    const object = parseBody(body);
    if (!object) return statusReply(badRequest('the request body is not a Kubernetes object'));
    const mismatch = checkIdentity(type, namespace, undefined, object);
    if (mismatch) return statusReply(mismatch);
    const missing = checkNamespace(type, namespace);
    if (missing) return statusReply(missing);
    if (store.get(type.group, type.kind, namespace, object.metadata.name)) return statusReply(alreadyExists(type.plural, type.group, object.metadata.name));
    if (namespace) object.metadata.namespace = namespace;
    return jsonReply(201, store.put(object, { manager: 'unknown', operation: 'Update' }).object);
  }

  /** A JSON merge patch (RFC 7386) of a stored object, e.g. `{"metadata":{"finalizers":null}}`. */
  function mergePatchReply(type: ServedType, namespace: string | undefined, name: string, body: string, url: URL): Reply {
    let patch: unknown;
    try {
      patch = JSON.parse(body);
    } catch {
      return statusReply(badRequest('error decoding patch: invalid JSON'));
    }
    if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return statusReply(badRequest('a merge patch must be a JSON object'));
    const existing = store.get(type.group, type.kind, namespace, name);
    if (!existing) return statusReply(objectNotFound(type.plural, type.group, name));
    const merged = mergePatch(existing, patch) as KubeObject;
    const mismatch = checkIdentity(type, namespace, name, merged);
    if (mismatch) return statusReply(mismatch);
    const { object: stored } = store.put(merged, { manager: url.searchParams.get('fieldManager') ?? 'unknown', operation: 'Update' });
    // The last finalizer removed from an object being deleted lets the delete finish.
    store.finishDeletion(type.group, type.kind, namespace, name);
    return jsonReply(200, stored);
  }

  async function applyReply(type: ServedType, namespace: string | undefined, name: string, request: IncomingMessage, url: URL): Promise<Reply> {
    if (contentTypeOf(request) !== 'application/apply-patch+yaml') {
      return statusReply(failure(415, `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml, application/merge-patch+json (this test server supports these two)`));
    }
    const manager = url.searchParams.get('fieldManager');
    if (!manager) return statusReply(failure(422, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch', 'Invalid'));
    const object = parseBody(await readBody(request));
    if (!object) return statusReply(badRequest('error decoding YAML: the request body is not a Kubernetes object'));
    const mismatch = checkIdentity(type, namespace, name, object);
    if (mismatch) return statusReply(mismatch);
    const missing = checkNamespace(type, namespace);
    if (missing) return statusReply(missing);
    const existing = store.get(type.group, type.kind, namespace, name);
    // As a real apply merges with fields other managers own: maps merge key by key, so what the applier does
    // not mention stays (status, another manager's label, spec.syncPolicy.automated set in the UI); lists and
    // scalars it sends replace what is there (finalizers too, though real ones merge as a set). Per-manager
    // ownership is not tracked, so fields this same manager applied earlier and now omits are not removed
    // either (a real server would remove them): the conservative side for a client checking its result.
    const merged = mergePatch(existing ?? {}, object) as KubeObject;
    merged.metadata.name = name;
    if (namespace) merged.metadata.namespace = namespace;
    const { object: stored, created } = store.put(merged, { manager, operation: 'Apply' });
    store.finishDeletion(type.group, type.kind, namespace, name);
    return jsonReply(created ? 201 : 200, stored);
  }

  function nonResourceReply(info: RequestInfo): Reply {
    if (info.verb !== 'get') return statusReply(failure(405, 'the server does not allow this method on the requested resource', 'MethodNotAllowed'));
    const segments = info.path.split('/').filter(Boolean);
    const types = servedTypes();
    const groupVersions = new Map<string, Set<string>>();
    for (const type of types) if (type.group) (groupVersions.get(type.group) ?? groupVersions.set(type.group, new Set()).get(type.group)!).add(type.version);
    const apiGroup = (group: string) => {
      const versions = [...groupVersions.get(group)!].map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
      return { name: group, versions, preferredVersion: versions[0] };
    };
    const resourceList = (group: string, version: string) => {
      const resources = types.filter((t) => t.group === group && t.version === version).map((t) => ({
        name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: VERBS, ...(t.shortNames ? { shortNames: t.shortNames } : {}),
      }));
      return resources.length ? { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources } : undefined;
    };
    if (info.path === '/version') {
      return jsonReply(200, { ...version, gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean', buildDate: '2025-05-01T00:00:00Z', goVersion: 'go1.24.2', compiler: 'gc', platform: 'linux/amd64' });
    }
    if (segments[0] === 'api' && segments.length === 1) {
      return jsonReply(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: 'kube-apiserver:443' }] });
    }
    if (segments[0] === 'api' && segments.length === 2) {
      const list = resourceList('', segments[1]!);
      return list ? jsonReply(200, list) : statusReply(pathNotFound());
    }
    if (segments[0] === 'apis' && segments.length === 1) {
      return jsonReply(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groupVersions.keys()].map(apiGroup) });
    }
    if (segments[0] === 'apis' && segments.length === 2 && groupVersions.has(segments[1]!)) {
      return jsonReply(200, { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(segments[1]!) });
    }
    if (segments[0] === 'apis' && segments.length === 3) {
      const list = resourceList(segments[1]!, segments[2]!);
      if (list) return jsonReply(200, list);
    }
    return statusReply(pathNotFound());
  }

  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (request: IncomingMessage, response: ServerResponse) => {
    const started = performance.now();
    const [path, query = ''] = (request.url ?? '/').split('?', 2) as [string, string?];
    const record: KubeRequestRecord = { method: request.method ?? 'GET', path: safeDecode(path), query, user: undefined, status: 0, durationMs: 0 };
    requests.push(record);
    handle(request, record)
      .catch((error: unknown) => statusReply(failure(500, `test server failed: ${error instanceof Error ? error.message : String(error)}`)))
      .then((reply) => {
        record.status = reply.code;
        response.writeHead(reply.code, {
          'Content-Type': 'application/json',
          'Cache-Control': 'no-cache, private',
          'Audit-Id': randomUUID(),
          ...(reply.code === 429 ? { 'Retry-After': '1' } : {}),
        });
        response.end(reply.body);
        record.durationMs = performance.now() - started;
      })
      .catch(() => response.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `https://${host}:${address.port}`;

  return {
    url,
    caPem: tls.caPem,
    requests,
    get resourceVersion() {
      return String(store.resourceVersion);
    },
    kubeconfig(token, kubeconfigOptions = {}) {
      const name = kubeconfigOptions.context ?? 'kube-api-server';
      const context: Record<string, string> = { cluster: name, user: name };
      if (kubeconfigOptions.namespace) context.namespace = kubeconfigOptions.namespace;
      return stringifyYaml({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name, cluster: { server: url, 'certificate-authority-data': Buffer.from(tls.caPem).toString('base64') } }],
        users: [{ name, user: { token } }],
        contexts: [{ name, context }],
        'current-context': name,
      });
    },
    put: (object) => copy(store.put(object).object),
    putAll(objects) {
      for (const object of objects) store.put(object);
    },
    get(ref) {
      const object = store.get(groupOf(ref.apiVersion), ref.kind, ref.namespace, ref.name);
      return object && copy(object);
    },
    remove: (ref) => store.remove(groupOf(ref.apiVersion), ref.kind, ref.namespace, ref.name) !== undefined,
    list: (apiVersion, kind) => store.all(groupOf(apiVersion), kind).map(copy),
    setFault(resource, fault) {
      if (fault === undefined) faults.delete(resource);
      else faults.set(resource, (Array.isArray(fault) ? fault : [fault]).map((f) => ({ fault: f, remaining: f.times ?? (f.kind === 'expire-continue' ? 1 : Infinity) })));
    },
    setRbac(objects) {
      authorizer = objects ? new RbacAuthorizer(objects) : undefined;
    },
    compact() {
      store.compactedRevision = store.resourceVersion + 1;
    },
    close: () => new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    }),
  };
}

interface Reply {
  code: number;
  body: string;
}

// Stored objects are plain JSON, so a JSON round trip is a complete (and fast) deep copy.
const copy = (object: KubeObject): KubeObject => JSON.parse(JSON.stringify(object)) as KubeObject;
const statusReply = (status: StatusError): Reply => ({ code: status.code, body: JSON.stringify(status.body) });
const jsonReply = (code: number, body: unknown): Reply => ({ code, body: JSON.stringify(body) });

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

// Mirrors k8s.io/apiserver's RequestInfoFactory: /api/v1/..., /apis/<group>/<version>/..., everything else non-resource.
function requestInfo(method: string, url: URL): RequestInfo | undefined {
  const path = safeDecode(url.pathname);
  const base: RequestInfo = {
    verb: '', isResourceRequest: false, path, apiGroup: '', resource: '', subresource: '', namespace: '', name: '', version: '', pathNamespace: '',
  };
  const segments = path.split('/').filter(Boolean);
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 3) {
    base.version = segments[1]!;
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    base.apiGroup = segments[1]!;
    base.version = segments[2]!;
    rest = segments.slice(3);
  } else {
    const verb = ({ GET: 'get', HEAD: 'get', POST: 'post', PUT: 'put', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[method];
    return verb ? { ...base, verb } : undefined;
  }
  base.isResourceRequest = true;
  if (rest[0] === 'namespaces' && rest.length > 1) {
    base.namespace = rest[1]!;
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) {
      base.pathNamespace = rest[1]!;
      rest = rest.slice(2);
    }
  }
  base.resource = rest[0] ?? '';
  base.name = rest[1] ?? '';
  base.subresource = rest.slice(2).join('/');
  const watch = url.searchParams.get('watch');
  switch (method) {
    case 'GET':
    case 'HEAD':
      base.verb = base.name ? 'get' : watch === 'true' || watch === '1' ? 'watch' : 'list';
      break;
    case 'POST': base.verb = 'create'; break;
    case 'PUT': base.verb = 'update'; break;
    case 'PATCH': base.verb = 'patch'; break;
    case 'DELETE': base.verb = base.name ? 'delete' : 'deletecollection'; break;
    default: return undefined;
  }
  return base;
}

function typesOfCrd(crd: KubeObject): ServedType[] {
  const spec = crd.spec as {
    group: string;
    scope: string;
    names: { plural: string; singular?: string; kind: string; listKind?: string; shortNames?: string[] };
    versions: { name: string; served: boolean }[];
  };
  return spec.versions.filter((v) => v.served).map((v) => ({
    group: spec.group,
    version: v.name,
    plural: spec.names.plural,
    singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
    kind: spec.names.kind,
    listKind: spec.names.listKind ?? `${spec.names.kind}List`,
    namespaced: spec.scope === 'Namespaced',
    builtin: false,
    ...(spec.names.shortNames ? { shortNames: spec.names.shortNames } : {}),
  }));
}

function checkIdentity(type: ServedType, namespace: string | undefined, name: string | undefined, object: KubeObject): StatusError | undefined {
  if (groupOf(object.apiVersion) !== type.group || object.kind !== type.kind) {
    return badRequest(`the API version in the data (${object.apiVersion}) does not match the expected API version (${type.group ? `${type.group}/` : ''}${type.version}) or kind ${object.kind} is not ${type.kind}`);
  }
  if (!object.metadata?.name) return failure(422, `${type.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, 'Invalid');
  if (name !== undefined && object.metadata.name !== name) {
    return badRequest(`the name of the object (${object.metadata.name}) does not match the name on the URL (${name})`);
  }
  if (namespace && object.metadata.namespace && object.metadata.namespace !== namespace) {
    return badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  return undefined;
}

function contentTypeOf(request: IncomingMessage): string {
  return (request.headers['content-type'] ?? '').split(';')[0]!.trim();
}

/** RFC 7386: objects merge key by key, null removes a key, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function parseBody(body: string): KubeObject | undefined {
  try {
    // YAML is a superset of JSON, so one parser reads both create (JSON) and apply (YAML) bodies.
    const value = parseYaml(body) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const object = value as KubeObject;
      if (typeof object.apiVersion === 'string' && typeof object.kind === 'string' && object.metadata && typeof object.metadata === 'object') return object;
    }
  } catch {
    // Answered as a bad request below.
  }
  return undefined;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// Tokens as kube-apiserver makes them: unpadded base64url of {"v":"meta.k8s.io/v1","rv":<n>,"start":"<key>\u0000"}.
function encodeContinue(position: ContinuePosition): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: position.rv, start: position.start })).toString('base64url');
}

function decodeContinue(token: string): ContinuePosition | undefined {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: unknown; rv?: unknown; start?: unknown };
    if (value.v !== 'meta.k8s.io/v1' || typeof value.rv !== 'number' || typeof value.start !== 'string' || value.start === '') return undefined;
    return { rv: value.rv, start: value.start };
  } catch {
    return undefined;
  }
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
