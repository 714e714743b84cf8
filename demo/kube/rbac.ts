import type { Identity, KubeObject } from './kube-object.js';

/** What kube-apiserver's RequestInfoFactory makes of a request, as the authorizer sees it. */
export interface RequestAttributes {
  verb: string;
  isResourceRequest: boolean;
  /** URL path, for non-resource requests. */
  path: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  /** '' for cluster-scoped requests and for lists across all namespaces. */
  namespace: string;
  /** '' for list, watch and create. */
  name: string;
}

interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Subject {
  kind?: string;
  name?: string;
  namespace?: string;
}

interface Binding {
  /** '' for a ClusterRoleBinding. */
  namespace: string;
  roleKind: string;
  roleName: string;
  subjects: Subject[];
}

/** Decides requests the way Kubernetes' RBAC authorizer does, from Role, ClusterRole, RoleBinding and ClusterRoleBinding objects. */
export class RbacAuthorizer {
  private readonly roles = new Map<string, PolicyRule[]>();
  private readonly clusterRoles = new Map<string, PolicyRule[]>();
  private readonly bindings: Binding[] = [];

  constructor(objects: readonly KubeObject[]) {
    const clusterRoleObjects: KubeObject[] = [];
    for (const object of objects) {
      if (!object.apiVersion.startsWith('rbac.authorization.k8s.io/')) continue;
      const namespace = object.metadata.namespace ?? 'default';
      switch (object.kind) {
        case 'Role':
          this.roles.set(`${namespace}/${object.metadata.name}`, rulesOf(object));
          break;
        case 'ClusterRole':
          clusterRoleObjects.push(object);
          break;
        case 'RoleBinding':
        case 'ClusterRoleBinding': {
          const roleRef = (object.roleRef ?? {}) as { kind?: string; name?: string };
          this.bindings.push({
            namespace: object.kind === 'RoleBinding' ? namespace : '',
            roleKind: roleRef.kind ?? '',
            roleName: roleRef.name ?? '',
            subjects: (object.subjects ?? []) as Subject[],
          });
          break;
        }
      }
    }
    for (const role of clusterRoleObjects) this.clusterRoles.set(role.metadata.name, aggregatedRules(role, clusterRoleObjects));
  }

  /** True when some binding that applies to the identity grants the request. */
  allows(identity: Identity, request: RequestAttributes): boolean {
    const groups = effectiveGroups(identity);
    // system:masters is bound to cluster-admin in every cluster and bypasses RBAC in the real server too.
    if (groups.includes('system:masters')) return true;
    // The bootstrap policy lets every authenticated user read discovery and version paths.
    if (!request.isResourceRequest && request.verb === 'get' && isPublicPath(request.path)) return true;
    for (const binding of this.bindings) {
      // A RoleBinding grants only within its own namespace; a list across all namespaces has none.
      if (binding.namespace !== '' && binding.namespace !== request.namespace) continue;
      if (!binding.subjects.some((subject) => subjectMatches(subject, binding.namespace, identity.user, groups))) continue;
      const rules = this.rulesOf(binding);
      if (rules.some((rule) => ruleAllows(rule, request))) return true;
    }
    return false;
  }

  private rulesOf(binding: Binding): PolicyRule[] {
    if (binding.roleKind === 'ClusterRole') return this.clusterRoles.get(binding.roleName) ?? [];
    // A ClusterRoleBinding may only reference a ClusterRole; a RoleBinding's Role lives in its namespace.
    if (binding.roleKind === 'Role' && binding.namespace !== '') return this.roles.get(`${binding.namespace}/${binding.roleName}`) ?? [];
    return [];
  }
}

/** kube-apiserver's 403 message for a denied request, without the "<resource> is forbidden: " prefix the Status adds. */
export function forbiddenReason(identity: Identity, request: RequestAttributes): string {
  if (!request.isResourceRequest) return `User "${identity.user}" cannot ${request.verb} path "${request.path}"`;
  const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  const scope = request.namespace ? `in the namespace "${request.namespace}"` : 'at the cluster scope';
  return `User "${identity.user}" cannot ${request.verb} resource "${resource}" in API group "${request.apiGroup}" ${scope}`;
}

/** The groups the real authenticators add: every identity is in system:authenticated, service accounts in theirs. */
export function effectiveGroups(identity: Identity): string[] {
  const groups = [...identity.groups];
  const serviceAccount = /^system:serviceaccount:([^:]+):[^:]+$/.exec(identity.user);
  if (serviceAccount) groups.push('system:serviceaccounts', `system:serviceaccounts:${serviceAccount[1]}`);
  if (!groups.includes('system:authenticated') && identity.user !== 'system:anonymous') groups.push('system:authenticated');
  return groups;
}

function rulesOf(object: KubeObject): PolicyRule[] {
  return Array.isArray(object.rules) ? (object.rules as PolicyRule[]) : [];
}

// An aggregated ClusterRole's rules are the union of the ClusterRoles its selectors pick (matchLabels only).
function aggregatedRules(role: KubeObject, all: readonly KubeObject[]): PolicyRule[] {
  const aggregation = role.aggregationRule as { clusterRoleSelectors?: { matchLabels?: Record<string, string> }[] } | undefined;
  if (!aggregation?.clusterRoleSelectors) return rulesOf(role);
  const rules = [...rulesOf(role)];
  for (const other of all) {
    if (other === role) continue;
    const labels = other.metadata.labels ?? {};
    const picked = aggregation.clusterRoleSelectors.some((selector) =>
      Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value));
    if (picked) rules.push(...rulesOf(other));
  }
  return rules;
}

function subjectMatches(subject: Subject, bindingNamespace: string, user: string, groups: readonly string[]): boolean {
  switch (subject.kind) {
    case 'User':
      return subject.name === user;
    case 'Group':
      return subject.name !== undefined && groups.includes(subject.name);
    case 'ServiceAccount': {
      // A RoleBinding's ServiceAccount subject without a namespace means the binding's namespace.
      const namespace = subject.namespace || bindingNamespace;
      return user === `system:serviceaccount:${namespace}:${subject.name}`;
    }
    default:
      return false;
  }
}

function ruleAllows(rule: PolicyRule, request: RequestAttributes): boolean {
  if (!matchesAny(rule.verbs, request.verb)) return false;
  if (!request.isResourceRequest) return nonResourceURLMatches(rule.nonResourceURLs, request.path);
  if (!matchesAny(rule.apiGroups, request.apiGroup)) return false;
  if (!resourceMatches(rule.resources, request.resource, request.subresource)) return false;
  // resourceNames can only match requests that name an object: list, watch and create never do.
  if (rule.resourceNames && rule.resourceNames.length > 0) return request.name !== '' && rule.resourceNames.includes(request.name);
  return true;
}

function matchesAny(list: readonly string[] | undefined, value: string): boolean {
  return list !== undefined && (list.includes('*') || list.includes(value));
}

// As rbac/v1's ResourceMatches: "*", the exact resource[/subresource], or "*/subresource".
function resourceMatches(resources: readonly string[] | undefined, resource: string, subresource: string): boolean {
  if (!resources) return false;
  const combined = subresource ? `${resource}/${subresource}` : resource;
  return resources.some((rule) => rule === '*' || rule === combined || (subresource !== '' && rule === `*/${subresource}`));
}

function nonResourceURLMatches(urls: readonly string[] | undefined, path: string): boolean {
  if (!urls) return false;
  return urls.some((url) => url === '*' || url === path || (url.endsWith('*') && path.startsWith(url.slice(0, -1))));
}

function isPublicPath(path: string): boolean {
  return ['/api', '/apis', '/version', '/healthz', '/livez', '/readyz'].includes(path)
    || path.startsWith('/api/') || path.startsWith('/apis/') || path.startsWith('/openapi/');
}
