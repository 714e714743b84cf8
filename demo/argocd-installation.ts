// Argo CD installations as a cluster would hold them, written for these tests from the object shapes
// documented by the Argo CD project (github.com/argoproj/argo-cd, Apache-2.0, Copyright The Argo Authors).
// The CRDs are that project's own files, read at run time (see crdDirectory).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEMO_ADDONS, type DemoRepoName } from './demo-repos.js';
import type { KubeObject } from './kube/kube-object.js';

export const ARGOCD_VERSION = 'v3.5.1';
export const ARGOCD_IMAGE = `quay.io/argoproj/argocd:${ARGOCD_VERSION}`;

/**
 * Secret values planted in the fixtures. A test can assert that none of them (nor the base64 of the
 * Secret fields holding them, see secretProbes) shows up in logs, manifest.json, or an export made
 * with --exclude-secrets.
 */
export const PLANTED_SECRETS = {
  adminPasswordHash: '$2a$10$PLANTEDadminHash.0123456789abcdefghijklmnopqrstuvwxy',
  serverSecretKey: 'PLANTED-server-secretkey-6f1d0c2e',
  serverTlsKey: 'PLANTED-argocd-server-tls-key-93b1',
  githubWebhookSecret: 'PLANTED-github-webhook-secret-2a7e',
  dexGithubClientSecret: 'PLANTED-dex-github-client-secret-c4d8',
  slackToken: 'xoxb-PLANTED-slack-token-5e9a',
  redisPassword: 'PLANTED-redis-auth-0b3f',
  repoPassword: 'PLANTED-repo-password-7f3c9a',
  repoSshPrivateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nPLANTED-repo-ssh-private-key-1d4e\n-----END OPENSSH PRIVATE KEY-----\n',
  githubAppPrivateKey: '-----BEGIN RSA PRIVATE KEY-----\nPLANTED-github-app-private-key-8c2b\n-----END RSA PRIVATE KEY-----\n',
  helmOciPassword: 'PLANTED-helm-oci-password-3e6f',
  hydratorWritePassword: 'PLANTED-hydrator-write-token-7a10',
  clusterBearerToken: 'PLANTED-cluster-bearer-token-eyJhbGciOi',
  appNamespaceRepoPassword: 'PLANTED-team-repo-password-55c1',
  /** In a Secret Argo CD does not own: must not be exported at all. */
  unrelatedDatabasePassword: 'PLANTED-unrelated-db-password-9d2c',
  /** In a Helm release Secret: must not be exported at all. */
  helmReleasePayload: 'PLANTED-helm-release-payload-41aa',
  /** In a repository Secret outside the Argo CD namespace: Argo CD never reads it. */
  strayRepoPassword: 'PLANTED-stray-repo-password-e07b',
} as const;

/** The ConfigMaps Argo CD reads by name. */
export const ARGOCD_CONFIGMAPS = [
  'argocd-cm', 'argocd-rbac-cm', 'argocd-cmd-params-cm', 'argocd-ssh-known-hosts-cm', 'argocd-tls-certs-cm', 'argocd-gpg-keys-cm', 'argocd-notifications-cm',
] as const;
/** A ConfigMap found only by its app.kubernetes.io/part-of=argocd label. */
export const LABELLED_CONFIGMAP = 'argocd-cmp-cm';
/** Secrets of a full installation that belong in an export (by name or label), in the Argo CD namespace. */
export const ARGOCD_SECRETS = [
  'argocd-secret', 'argocd-notifications-secret', 'argocd-redis', 'private-repo', 'private-repo-ssh', 'argo-helm', 'oci-helm-chart',
  'github-app-creds', 'hydrator-write', 'mycluster-secret', 'eks-prod-cluster',
] as const;
/** Objects in the Argo CD namespace (or elsewhere) that an export must leave out. */
export const UNRELATED_CONFIGMAPS = ['kube-root-ca.crt', 'team-settings', 'other-app-config'] as const;
export const UNRELATED_SECRETS = ['unrelated-db-credentials', 'sh.helm.release.v1.argocd.v1', 'argocd-dr-reader-token'] as const;
/** Namespace with Argo CD objects that no application.namespaces glob of the fixtures matches. */
export const STRAY_NAMESPACE = 'sandbox';

export interface FullInstallationOptions {
  /** Argo CD's namespace (default argocd). */
  namespace?: string;
  /** Namespaces holding further Applications and ApplicationSets ("apps in any namespace"). */
  appNamespaces?: string[];
  /** What argocd-cmd-params-cm lists for them (default: appNamespaces); e.g. ['team-*']. */
  appNamespacePatterns?: string[];
  /** This many more Applications, spread over the extra projects (or the default project). */
  extraApps?: number;
  /** This many more AppProjects (project-000, project-001, ...). */
  projects?: number;
}

/** Every kind of object a well-used Argo CD installation has, plus objects an export must not pick up. */
export function fullInstallation(options: FullInstallationOptions = {}): KubeObject[] {
  const ns = options.namespace ?? 'argocd';
  const appNamespaces = options.appNamespaces ?? [];
  const patterns = options.appNamespacePatterns ?? appNamespaces;
  const objects: KubeObject[] = [
    namespace(ns),
    ...appNamespaces.map(namespace),
    namespace(STRAY_NAMESPACE),
    ...argocdCrds(),
    argocdDeployment(ns, 'argocd-server', 'server'),
    argocdDeployment(ns, 'argocd-repo-server', 'repo-server'),
    argocdCm(ns, true),
    argocdRbacCm(ns, true),
    cmdParamsCm(ns, patterns),
    sshKnownHostsCm(ns),
    tlsCertsCm(ns),
    gpgKeysCm(ns),
    notificationsCm(ns),
    cmpCm(ns),
    ...unrelatedConfigMaps(ns),
    argocdSecret(ns),
    notificationsSecret(ns),
    secret(ns, 'argocd-redis', { 'app.kubernetes.io/name': 'argocd-redis', 'app.kubernetes.io/part-of': 'argocd' }, { auth: PLANTED_SECRETS.redisPassword }),
    ...repositorySecrets(ns),
    ...clusterSecrets(ns),
    ...unrelatedSecrets(ns),
    defaultProject(ns),
    myProject(ns),
    ...(appNamespaces.length > 0 ? [teamProject(ns, patterns)] : []),
    ...applications(ns),
    ...applicationSets(ns),
  ];
  for (const appNamespace of appNamespaces) objects.push(...appNamespaceObjects(appNamespace));
  // Argo CD ignores Applications outside the allowed namespaces; so must an export.
  objects.push(
    application(STRAY_NAMESPACE, 'stray-app', 'default', { source: gitSource('https://github.com/example-org/stray.git', 'deploy', 'main') }),
    secret(STRAY_NAMESPACE, 'stray-repo', { 'argocd.argoproj.io/secret-type': 'repository' }, {
      type: 'git', url: 'https://github.com/example-org/stray.git', username: 'git', password: PLANTED_SECRETS.strayRepoPassword,
    }),
  );
  const projectCount = options.projects ?? 0;
  objects.push(...numberedProjects(ns, projectCount));
  objects.push(...numberedApplications(ns, options.extraApps ?? 0, projectCount));
  return objects;
}

/** A small installation: no argocd-cmd-params-cm, no notifications, one Application. */
export function minimalInstallation(options: { namespace?: string } = {}): KubeObject[] {
  const ns = options.namespace ?? 'argocd';
  return [
    ...unconfiguredInstallation(ns, argocdSecret(ns)),
    application(ns, 'guestbook', 'default', {
      source: gitSource('https://github.com/argoproj/argocd-example-apps.git', 'guestbook', 'HEAD'),
      status: syncedStatus({ source: gitSource('https://github.com/argoproj/argocd-example-apps.git', 'guestbook', 'HEAD'), revision: sha('minimal-guestbook') }),
    }),
  ];
}

/** Where the demo installation's repositories are and what their refs point at (see demo-repos.ts). */
export interface DemoInstallationOptions {
  /** Argo CD's namespace (default argocd). */
  namespace?: string;
  /** Base URL of the Git server: the repo-creds template Secret matches every repository under it. */
  gitBaseUrl: string;
  /** The URL of each demo repository. */
  repoUrls: Record<DemoRepoName, string>;
  /** The commit a ref (refs/heads/…, refs/tags/…) of a demo repository leads to: the deploy history uses real ids. */
  commitOf: (repo: DemoRepoName, ref: string) => string;
  /** Carried by the repository Secret and the repo-creds template; without them the Secrets name the repos only. */
  credentials?: { username: string; password: string };
}

/**
 * What the demo backs up: a realistic installation whose Git sources are the demo's own local
 * repositories. Single-source apps on a branch and on HEAD, a multi-source app (a Helm chart, its
 * `$values` from Git, manifests at a tag), a Helm app, an ApplicationSet with a git directory
 * generator and the Applications it made, a repository Secret and a repo-creds template carrying
 * the Git credentials, Argo CD's ConfigMaps and Secrets, and objects an export must leave out.
 */
export function demoInstallation(options: DemoInstallationOptions): KubeObject[] {
  const ns = options.namespace ?? 'argocd';
  const { repoUrls, commitOf } = options;
  const helmCharts = 'https://prometheus-community.github.io/helm-charts';
  const argoHelm = 'https://argoproj.github.io/argo-helm';
  const credentials: Record<string, string> = options.credentials ? { ...options.credentials } : {};
  const repoType = (t: string) => ({ 'argocd.argoproj.io/secret-type': t });
  const destination = (namespace: string) => ({ server: IN_CLUSTER, namespace });
  const automated = { automated: { prune: true, selfHeal: true }, syncOptions: ['CreateNamespace=true'] };

  const guestbookSource = gitSource(repoUrls.guestbook, 'guestbook', 'HEAD');
  const stagingSource = gitSource(repoUrls.guestbook, 'kustomize-guestbook', 'staging');
  const billingSources = (chartVersion: string, billingTag: string): Source[] => [
    { repoURL: helmCharts, chart: 'prometheus', targetRevision: chartVersion, helm: { valueFiles: ['$values/charts/prometheus/values.yaml'] } },
    // A ref-only source: it supplies $values to the chart and deploys nothing itself.
    { repoURL: repoUrls.values, targetRevision: 'dev', ref: 'values' },
    gitSource(repoUrls.billing, 'manifests', billingTag),
  ];
  const helmSource: Source = {
    repoURL: argoHelm, chart: 'argo-workflows', targetRevision: '0.45.27',
    helm: { releaseName: 'argo-workflows', valuesObject: { server: { extraArgs: ['--auth-mode=server'] } } },
  };
  const appSetUid = '6d1f0c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f';
  const addonsGenerator = {
    git: {
      repoURL: repoUrls.clusterAddons,
      revision: 'HEAD',
      directories: [{ path: 'addons/*' }, { path: 'addons/exclude-me', exclude: true }],
    },
  };

  return [
    namespace(ns),
    ...argocdCrds(),
    argocdDeployment(ns, 'argocd-server', 'server'),
    argocdDeployment(ns, 'argocd-repo-server', 'repo-server'),
    argocdCm(ns, true),
    argocdRbacCm(ns, true),
    cmdParamsCm(ns, []),
    sshKnownHostsCm(ns),
    tlsCertsCm(ns),
    gpgKeysCm(ns),
    notificationsCm(ns),
    ...unrelatedConfigMaps(ns),
    argocdSecret(ns),
    notificationsSecret(ns),
    secret(ns, 'argocd-redis', { 'app.kubernetes.io/name': 'argocd-redis', 'app.kubernetes.io/part-of': 'argocd' }, { auth: PLANTED_SECRETS.redisPassword }),
    secret(ns, 'billing-repo', repoType('repository'), { type: 'git', url: repoUrls.billing, ...credentials, project: 'payments' }),
    // Credentials for every repository under the Git server, as Argo CD matches them by URL prefix.
    secret(ns, 'demo-git-creds', repoType('repo-creds'), { type: 'git', url: `${options.gitBaseUrl}/`, ...credentials }),
    secret(ns, 'argo-helm', repoType('repository'), { name: 'argo', type: 'helm', url: argoHelm }),
    secret(ns, 'prometheus-community', repoType('repository'), { name: 'prometheus-community', type: 'helm', url: helmCharts }),
    ...clusterSecrets(ns),
    ...unrelatedSecrets(ns),
    defaultProject(ns),
    project(ns, 'payments', {
      description: 'Payments and billing services',
      sourceRepos: [repoUrls.billing, repoUrls.values, helmCharts],
      destinations: [{ namespace: 'payments-*', server: IN_CLUSTER }],
      clusterResourceWhitelist: [{ group: '', kind: 'Namespace' }],
    }, { metadata: { name: 'payments', namespace: ns, finalizers: [RESOURCES_FINALIZER] } }),
    project(ns, 'platform', {
      description: 'Cluster add-ons',
      sourceRepos: [repoUrls.clusterAddons],
      destinations: [{ namespace: '*', server: IN_CLUSTER }],
      clusterResourceWhitelist: [{ group: '*', kind: '*' }],
    }),
    application(ns, 'guestbook', 'default', {
      source: guestbookSource,
      destination: destination('guestbook'),
      syncPolicy: automated,
      labels: { team: 'web' },
      finalizers: [RESOURCES_FINALIZER],
      status: syncedStatus({
        source: guestbookSource, destination: destination('guestbook'),
        revision: commitOf('guestbook', 'refs/heads/main'), previous: [[commitOf('guestbook', 'refs/tags/v1.0')]],
      }),
    }),
    application(ns, 'guestbook-staging', 'default', {
      source: stagingSource,
      destination: destination('guestbook-staging'),
      syncPolicy: automated,
      labels: { team: 'web', env: 'staging' },
      status: syncedStatus({ source: stagingSource, destination: destination('guestbook-staging'), revision: commitOf('guestbook', 'refs/heads/staging'), sourceType: 'Kustomize' }),
    }),
    application(ns, 'billing', 'payments', {
      sources: billingSources('25.8.0', '8.5.1'),
      destination: destination('payments-billing'),
      syncPolicy: automated,
      labels: { team: 'payments' },
      status: syncedStatus({
        sources: billingSources('25.8.0', '8.5.1'),
        destination: destination('payments-billing'),
        revisions: ['25.8.0', commitOf('values', 'refs/heads/dev'), commitOf('billing', 'refs/tags/8.5.1')],
        previous: [['25.7.0', commitOf('values', 'refs/heads/dev'), commitOf('billing', 'refs/tags/8.5.0')]],
        sourceTypes: ['Helm', 'Directory', 'Directory'],
      }),
    }),
    application(ns, 'argo-workflows', 'default', {
      source: helmSource,
      destination: destination('argo-workflows'),
      syncPolicy: { automated: { prune: true } },
      status: syncedStatus({ source: helmSource, revision: '0.45.27', destination: destination('argo-workflows'), sourceType: 'Helm', images: ['quay.io/argoproj/workflow-controller:v3.6.5'] }),
    }),
    applicationSet(ns, 'cluster-addons', {
      ...goTemplate,
      generators: [addonsGenerator],
      template: appSetTemplate('{{.path.basename}}', 'platform', { repoURL: repoUrls.clusterAddons, targetRevision: 'HEAD', path: '{{.path.path}}' }, destination('{{.path.basename}}')),
      syncPolicy: { preserveResourcesOnDeletion: true },
    }),
    // What the ApplicationSet generated: one Application per add-on directory.
    ...DEMO_ADDONS.map((addon) => {
      const source = gitSource(repoUrls.clusterAddons, `addons/${addon}`, 'HEAD');
      return application(ns, addon, 'platform', {
        source,
        destination: destination(addon),
        syncPolicy: automated,
        labels: { 'app.kubernetes.io/instance': 'cluster-addons' },
        ownerReferences: [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'ApplicationSet', name: 'cluster-addons', uid: appSetUid, controller: true, blockOwnerDeletion: true }],
        status: syncedStatus({ source, destination: destination(addon), revision: commitOf('clusterAddons', 'refs/heads/main'), sourceType: 'Kustomize' }),
      });
    }),
  ];
}

/**
 * Argo CD as `kubectl apply -f install.yaml` leaves it, before anyone configures it: the target of a
 * restore. Its argocd-secret has only the server key argocd-server generates at first start.
 */
export function freshInstallation(options: { namespace?: string } = {}): KubeObject[] {
  const ns = options.namespace ?? 'argocd';
  return unconfiguredInstallation(ns, secret(ns, 'argocd-secret', { 'app.kubernetes.io/name': 'argocd-secret', ...PART_OF }, { 'server.secretkey': 'fresh-install-generated-key' }));
}

/** Argo CD's namespace, CRDs, server, default ConfigMaps and project, with the given argocd-secret. */
function unconfiguredInstallation(ns: string, argocdSecretObject: KubeObject): KubeObject[] {
  return [
    namespace(ns),
    ...argocdCrds(),
    argocdDeployment(ns, 'argocd-server', 'server'),
    argocdCm(ns, false),
    argocdRbacCm(ns, false),
    argocdSecretObject,
    defaultProject(ns),
  ];
}

/** `projects` AppProjects (project-000, ...) and `count` Applications (app-00000, ...) spread over them, for scale tests; no namespace or CRDs. */
export function manyApplications(count: number, projects: number, options: { namespace?: string } = {}): KubeObject[] {
  const ns = options.namespace ?? 'argocd';
  return [...numberedProjects(ns, projects), ...numberedApplications(ns, count, projects)];
}

/** The three Argo CD CRDs as a cluster returns them (with the status the API server adds). */
export function argocdCrds(): KubeObject[] {
  cachedCrds ??= ['application-crd.yaml', 'applicationset-crd.yaml', 'appproject-crd.yaml'].map((file) => {
    const crd = parseYaml(readFileSync(path.join(crdDirectory(), file), 'utf8')) as KubeObject;
    const spec = crd.spec as { names: Record<string, unknown>; versions: { name: string; storage?: boolean }[] };
    crd.status = {
      acceptedNames: spec.names,
      conditions: [
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: '2026-01-12T09:00:00Z' },
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: '2026-01-12T09:00:00Z' },
      ],
      storedVersions: spec.versions.filter((v) => v.storage).map((v) => v.name),
    };
    return crd;
  });
  return structuredClone(cachedCrds);
}

/**
 * Where the CRD files are: $ARGOCD_CRDS_DIR, else demo/crds in the repository, else
 * the shared reference copy of the Argo CD repository's manifests/crds.
 */
export function crdDirectory(): string {
  const candidates = [process.env.ARGOCD_CRDS_DIR, path.join(repositoryRoot(), 'demo', 'crds'), '/work/shared/reference/argocd/crds'];
  const found = candidates.find((dir) => dir && existsSync(path.join(dir, 'application-crd.yaml')));
  if (!found) throw new Error(`Argo CD CRDs not found; set ARGOCD_CRDS_DIR (looked in ${candidates.filter(Boolean).join(', ')})`);
  return found;
}

/**
 * What a leak of planted secrets looks like in text: each planted value, and the base64 of every
 * Secret field of fullInstallation() that carries one (that is how Secrets hold them).
 */
export function secretProbes(): string[] {
  const probes = new Set<string>(Object.values(PLANTED_SECRETS));
  const markers = Object.values(PLANTED_SECRETS);
  for (const object of fullInstallation({ appNamespaces: ['team-a'] })) {
    if (object.kind !== 'Secret') continue;
    for (const encoded of Object.values((object.data ?? {}) as Record<string, string>)) {
      const plain = Buffer.from(encoded, 'base64').toString('utf8');
      if (markers.some((marker) => plain.includes(marker))) probes.add(encoded);
    }
  }
  return [...probes];
}

/** The probes from secretProbes() that occur in the text. */
export function leakedSecrets(text: string): string[] {
  return secretProbes().filter((probe) => text.includes(probe));
}

let cachedCrds: KubeObject[] | undefined;

/** The repository (or installed package) root: the first directory up with a package.json. */
export function repositoryRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  // tsc copies package.json into dist/ (the version is imported from it): from dist/demo/ the root is one further up.
  if (path.basename(dir) === 'dist' && existsSync(path.join(path.dirname(dir), 'package.json'))) dir = path.dirname(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Building blocks

const IN_CLUSTER = 'https://kubernetes.default.svc';
const PART_OF = { 'app.kubernetes.io/part-of': 'argocd' };
const RESOURCES_FINALIZER = 'resources-finalizer.argocd.argoproj.io';

/** A 40-hex commit id derived from a seed, so fixtures are the same on every run. */
export function sha(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}

function namespace(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

function configMap(ns: string, name: string, labels: Record<string, string> | undefined, data: Record<string, string> | undefined): KubeObject {
  const object: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, ...(labels ? { labels } : {}) } };
  if (data) object.data = data;
  return object;
}

// Secrets as read back from the API: base64 data, never stringData.
function secret(ns: string, name: string, labels: Record<string, string> | undefined, values: Record<string, string>, type = 'Opaque', annotations?: Record<string, string>): KubeObject {
  const data = Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Buffer.from(value, 'utf8').toString('base64')]));
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: ns, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
    type,
    data,
  };
}

function argocdDeployment(ns: string, name: string, component: string): KubeObject {
  const labels = { 'app.kubernetes.io/name': name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: ns,
      labels: { 'app.kubernetes.io/component': component, 'app.kubernetes.io/name': name, ...PART_OF },
      annotations: { 'deployment.kubernetes.io/revision': '3' },
    },
    spec: {
      replicas: 1,
      revisionHistoryLimit: 3,
      selector: { matchLabels: labels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          containers: [{
            name,
            image: ARGOCD_IMAGE,
            imagePullPolicy: 'Always',
            args: [`/usr/local/bin/${name}`],
            ports: component === 'server' ? [{ containerPort: 8080, protocol: 'TCP' }, { containerPort: 8083, protocol: 'TCP' }] : [{ containerPort: 8081, protocol: 'TCP' }],
            env: [{ name: 'ARGOCD_SERVER_INSECURE', valueFrom: { configMapKeyRef: { name: 'argocd-cmd-params-cm', key: 'server.insecure', optional: true } } }],
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
          }],
        },
      },
    },
    status: { observedGeneration: 3, replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1 },
  };
}

function argocdCm(ns: string, full: boolean): KubeObject {
  const labels = { 'app.kubernetes.io/name': 'argocd-cm', ...PART_OF };
  if (!full) return configMap(ns, 'argocd-cm', labels, undefined);
  const cm = configMap(ns, 'argocd-cm', labels, {
    url: 'https://argocd.example.com',
    'admin.enabled': 'true',
    'application.resourceTrackingMethod': 'annotation',
    'timeout.reconciliation': '180s',
    'accounts.ci-bot': 'apiKey',
    'dex.config': [
      'connectors:',
      '  - type: github',
      '    id: github',
      '    name: GitHub',
      '    config:',
      '      clientID: 0a1b2c3d4e5f60718293',
      '      clientSecret: $dex.github.clientSecret',
      '      orgs:',
      '        - name: example-org',
      '',
    ].join('\n'),
    'resource.exclusions': '- apiGroups:\n    - cilium.io\n  kinds:\n    - CiliumIdentity\n  clusters:\n    - "*"\n',
    'resource.customizations.health.argoproj.io_Application': 'hs = {}\nhs.status = "Progressing"\nif obj.status ~= nil and obj.status.health ~= nil then\n  hs.status = obj.status.health.status\nend\nreturn hs\n',
    'kustomize.buildOptions': '--enable-helm',
  });
  // kubectl apply leaves this annotation: a realistic large annotation an export keeps as is.
  cm.metadata.annotations = {
    'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'argocd-cm', namespace: ns, labels }, data: { url: 'https://argocd.example.com' } })}\n`,
  };
  return cm;
}

function argocdRbacCm(ns: string, full: boolean): KubeObject {
  const labels = { 'app.kubernetes.io/name': 'argocd-rbac-cm', ...PART_OF };
  if (!full) return configMap(ns, 'argocd-rbac-cm', labels, undefined);
  return configMap(ns, 'argocd-rbac-cm', labels, {
    'policy.csv': [
      'p, role:deployer, applications, sync, my-project/*, allow',
      'p, role:deployer, applications, get, my-project/*, allow',
      'g, example-org:platform, role:admin',
      'g, example-org:developers, role:deployer',
      '',
    ].join('\n'),
    'policy.default': 'role:readonly',
    scopes: '[groups, email]',
  });
}

function cmdParamsCm(ns: string, appNamespacePatterns: readonly string[]): KubeObject {
  const data: Record<string, string> = {
    'server.insecure': 'false',
    'reposerver.parallelism.limit': '10',
    'controller.status.processors': '20',
    'controller.operation.processors': '10',
    'controller.self.heal.timeout.seconds': '5',
    'applicationsetcontroller.policy': 'sync',
    'hydrator.enabled': 'true',
  };
  if (appNamespacePatterns.length > 0) {
    data['application.namespaces'] = appNamespacePatterns.join(', ');
    data['applicationsetcontroller.namespaces'] = appNamespacePatterns.join(', ');
    data['applicationsetcontroller.allowed.scm.providers'] = 'https://github.com/';
  }
  return configMap(ns, 'argocd-cmd-params-cm', { 'app.kubernetes.io/name': 'argocd-cmd-params-cm', ...PART_OF }, data);
}

function sshKnownHostsCm(ns: string): KubeObject {
  // Public host keys of well-known Git hosts, one per line, as ssh_known_hosts lists them.
  return configMap(ns, 'argocd-ssh-known-hosts-cm', { 'app.kubernetes.io/name': 'argocd-ssh-known-hosts-cm', ...PART_OF }, {
    ssh_known_hosts: [
      'github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
      'gitlab.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAfuCHKVTjquxvt6CM6tdG4SLp1Btn/nOeHHE5UOzRdf',
      'git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFixtureHostKeyForTestsOnly0123456789abcdef',
      '',
    ].join('\n'),
  });
}

function tlsCertsCm(ns: string): KubeObject {
  return configMap(ns, 'argocd-tls-certs-cm', { 'app.kubernetes.io/name': 'argocd-tls-certs-cm', ...PART_OF }, {
    'git.example.com': '-----BEGIN CERTIFICATE-----\nMIIBfixtureCertificateForGitExampleCom0123456789abcdefghijklmnop\nqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ==\n-----END CERTIFICATE-----\n',
  });
}

function gpgKeysCm(ns: string): KubeObject {
  return configMap(ns, 'argocd-gpg-keys-cm', { 'app.kubernetes.io/name': 'argocd-gpg-keys-cm', ...PART_OF }, {
    '4AEE18F83AFDEB23': '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBFixturePublicKeyForTests0123456789abcdefghijklmnopqrstuvwxyz\n=fixt\n-----END PGP PUBLIC KEY BLOCK-----\n',
  });
}

function notificationsCm(ns: string): KubeObject {
  return configMap(ns, 'argocd-notifications-cm', { 'app.kubernetes.io/name': 'argocd-notifications-cm', ...PART_OF }, {
    'service.slack': 'token: $slack-token\nusername: argocd\n',
    'trigger.on-sync-succeeded': "- when: app.status.operationState.phase in ['Succeeded']\n  oncePer: app.status.sync.revision\n  send: [app-sync-succeeded]\n",
    'template.app-sync-succeeded': 'message: |\n  Application {{.app.metadata.name}} is now running revision {{.app.status.sync.revision}}.\n',
    context: 'argocdUrl: https://argocd.example.com\n',
    defaultTriggers: '- on-sync-succeeded\n',
  });
}

function cmpCm(ns: string): KubeObject {
  return configMap(ns, LABELLED_CONFIGMAP, { 'app.kubernetes.io/name': LABELLED_CONFIGMAP, ...PART_OF }, {
    'plugin.yaml': [
      'apiVersion: argoproj.io/v1alpha1',
      'kind: ConfigManagementPlugin',
      'metadata:',
      '  name: envsubst',
      'spec:',
      '  generate:',
      '    command: [sh, -c, "envsubst < manifests.yaml"]',
      '',
    ].join('\n'),
  });
}

function unrelatedConfigMaps(ns: string): KubeObject[] {
  return [
    // Every namespace of a real cluster has this one, written by kube-controller-manager.
    configMap(ns, 'kube-root-ca.crt', undefined, { 'ca.crt': '-----BEGIN CERTIFICATE-----\nMIIBfixtureClusterRootCA\n-----END CERTIFICATE-----\n' }),
    configMap(ns, 'team-settings', undefined, { owner: 'platform-team' }),
    configMap(ns, 'other-app-config', { 'app.kubernetes.io/part-of': 'other-app' }, { 'config.yaml': 'level: debug\n' }),
  ];
}

function argocdSecret(ns: string): KubeObject {
  return secret(ns, 'argocd-secret', { 'app.kubernetes.io/name': 'argocd-secret', ...PART_OF }, {
    'admin.password': PLANTED_SECRETS.adminPasswordHash,
    'admin.passwordMtime': '2026-01-12T09:05:11Z',
    'server.secretkey': PLANTED_SECRETS.serverSecretKey,
    'tls.crt': '-----BEGIN CERTIFICATE-----\nMIIBfixtureArgoCDServerCertificate\n-----END CERTIFICATE-----\n',
    'tls.key': `-----BEGIN EC PRIVATE KEY-----\n${PLANTED_SECRETS.serverTlsKey}\n-----END EC PRIVATE KEY-----\n`,
    'webhook.github.secret': PLANTED_SECRETS.githubWebhookSecret,
    'dex.github.clientSecret': PLANTED_SECRETS.dexGithubClientSecret,
  });
}

function notificationsSecret(ns: string): KubeObject {
  return secret(ns, 'argocd-notifications-secret', { 'app.kubernetes.io/name': 'argocd-notifications-secret', ...PART_OF }, {
    'slack-token': PLANTED_SECRETS.slackToken,
  });
}

function repositorySecrets(ns: string): KubeObject[] {
  const type = (t: string) => ({ 'argocd.argoproj.io/secret-type': t });
  return [
    secret(ns, 'private-repo', type('repository'), {
      type: 'git', url: 'https://github.com/example-org/private-config.git', username: 'argocd', password: PLANTED_SECRETS.repoPassword, project: 'my-project',
    }),
    secret(ns, 'private-repo-ssh', type('repository'), {
      type: 'git', url: 'git@github.com:argoproj/my-private-repository.git', sshPrivateKey: PLANTED_SECRETS.repoSshPrivateKey,
    }),
    secret(ns, 'argo-helm', type('repository'), { name: 'argo', type: 'helm', url: 'https://argoproj.github.io/argo-helm' }),
    secret(ns, 'oci-helm-chart', type('repository'), {
      name: 'oci-helm-chart', type: 'helm', url: 'registry-1.docker.io/bitnamicharts', enableOCI: 'true', username: 'robot', password: PLANTED_SECRETS.helmOciPassword,
    }),
    secret(ns, 'github-app-creds', type('repo-creds'), {
      type: 'git', url: 'https://github.com/example-org', githubAppID: '123456', githubAppInstallationID: '7654321', githubAppPrivateKey: PLANTED_SECRETS.githubAppPrivateKey,
    }),
    // The source hydrator pushes rendered manifests with these credentials.
    secret(ns, 'hydrator-write', type('repository-write'), {
      type: 'git', url: 'https://github.com/argoproj/argocd-example-apps', username: 'hydrator-bot', password: PLANTED_SECRETS.hydratorWritePassword,
    }),
  ];
}

function clusterSecrets(ns: string): KubeObject[] {
  const labels = { 'argocd.argoproj.io/secret-type': 'cluster' };
  return [
    secret(ns, 'mycluster-secret', labels, {
      name: 'mycluster.example.com',
      server: 'https://mycluster.example.com',
      config: JSON.stringify({ bearerToken: PLANTED_SECRETS.clusterBearerToken, tlsClientConfig: { insecure: false, caData: 'LS0tLS1CRUdJTi1maXh0dXJlLWNhLS0tLS0K' } }, null, 2),
    }),
    secret(ns, 'eks-prod-cluster', { ...labels, environment: 'prod' }, {
      name: 'eks-prod',
      server: 'https://0123456789ABCDEF0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com',
      config: JSON.stringify({ awsAuthConfig: { clusterName: 'eks-prod', roleARN: 'arn:aws:iam::111122223333:role/argocd-deployer' }, tlsClientConfig: { insecure: false, caData: 'LS0tLS1CRUdJTi1maXh0dXJlLWVrcy1jYS0tLS0tCg==' } }, null, 2),
    }, 'Opaque', { 'managed-by': 'argocd.argoproj.io' }),
  ];
}

function unrelatedSecrets(ns: string): KubeObject[] {
  return [
    secret(ns, 'unrelated-db-credentials', { app: 'billing-db' }, { username: 'billing', password: PLANTED_SECRETS.unrelatedDatabasePassword }),
    // Helm keeps every release's values (secrets included) in a Secret like this one.
    secret(ns, 'sh.helm.release.v1.argocd.v1', { name: 'argocd', owner: 'helm', status: 'deployed', version: '1' }, {
      release: `H4sIAAAAAAAA/${PLANTED_SECRETS.helmReleasePayload}`,
    }, 'helm.sh/release.v1'),
    secret(ns, 'argocd-dr-reader-token', undefined, { token: 'eyJhbGciOiJSUzI1NiJ9.fixture-service-account-token', 'ca.crt': 'fixture', namespace: ns }, 'kubernetes.io/service-account-token', {
      'kubernetes.io/service-account.name': 'argocd-dr-reader',
    }),
  ];
}

function project(ns: string, name: string, spec: Record<string, unknown>, extra: Partial<KubeObject> = {}): KubeObject {
  return { apiVersion: 'argoproj.io/v1alpha1', kind: 'AppProject', metadata: { name, namespace: ns }, spec, ...extra };
}

function defaultProject(ns: string): KubeObject {
  return project(ns, 'default', {
    sourceRepos: ['*'],
    destinations: [{ namespace: '*', server: '*' }],
    clusterResourceWhitelist: [{ group: '*', kind: '*' }],
  });
}

function myProject(ns: string): KubeObject {
  return project(ns, 'my-project', {
    description: 'Payments and billing services',
    sourceRepos: ['https://github.com/example-org/*', 'git@github.com:argoproj/*', 'https://prometheus-community.github.io/helm-charts', 'https://git.example.com/org/value-files.git'],
    destinations: [
      { namespace: 'payments-*', server: IN_CLUSTER, name: 'in-cluster' },
      { namespace: '*', name: 'eks-prod' },
    ],
    clusterResourceWhitelist: [{ group: '', kind: 'Namespace' }],
    namespaceResourceBlacklist: [{ group: '', kind: 'ResourceQuota' }, { group: '', kind: 'LimitRange' }],
    orphanedResources: { warn: true },
    roles: [
      {
        name: 'ci-role',
        description: 'Sync privileges for CI',
        policies: ['p, proj:my-project:ci-role, applications, sync, my-project/*, allow'],
        jwtTokens: [{ iat: 1767200000, id: 'b5f1c2d3-0000-4000-8000-000000000001' }],
        groups: ['example-org:ci'],
      },
    ],
    syncWindows: [{ kind: 'deny', schedule: '0 22 * * *', duration: '1h', applications: ['*'], manualSync: true }],
  }, {
    metadata: { name: 'my-project', namespace: ns, finalizers: [RESOURCES_FINALIZER] },
    status: { jwtTokensByRole: { 'ci-role': { items: [{ iat: 1767200000, id: 'b5f1c2d3-0000-4000-8000-000000000001' }] } } },
  });
}

function teamProject(ns: string, patterns: readonly string[]): KubeObject {
  return project(ns, 'team-apps', {
    description: 'Applications that live in team namespaces',
    sourceRepos: ['https://gitlab.com/example-org/*'],
    destinations: [{ namespace: '*', server: IN_CLUSTER }],
    // Applications outside Argo CD's namespace must be allowed by their project too.
    sourceNamespaces: [...patterns],
  });
}

function numberedProjects(ns: string, count: number): KubeObject[] {
  return Array.from({ length: count }, (_, i) => project(ns, projectName(i), {
    description: `Team ${i}`,
    sourceRepos: [`https://github.com/example-org/team-${i}-*`, 'https://github.com/example-org/shared-*'],
    destinations: [{ namespace: `team-${i}-*`, server: IN_CLUSTER }],
    clusterResourceWhitelist: [{ group: '', kind: 'Namespace' }],
  }));
}

const projectName = (i: number) => `project-${String(i).padStart(3, '0')}`;

interface Source {
  repoURL: string;
  path?: string;
  chart?: string;
  ref?: string;
  targetRevision?: string;
  [field: string]: unknown;
}

function gitSource(repoURL: string, path: string, targetRevision: string): Source {
  return { repoURL, path, targetRevision };
}

interface AppSpec {
  source?: Source;
  sources?: Source[];
  sourceHydrator?: Record<string, unknown>;
  destination?: Record<string, unknown>;
  syncPolicy?: Record<string, unknown>;
  status?: Record<string, unknown>;
  operation?: Record<string, unknown>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: Record<string, unknown>[];
}

function application(ns: string, name: string, projectName: string, spec: AppSpec): KubeObject {
  const metadata: KubeObject['metadata'] = { name, namespace: ns };
  if (spec.labels) metadata.labels = spec.labels;
  if (spec.annotations) metadata.annotations = spec.annotations;
  if (spec.ownerReferences) metadata.ownerReferences = spec.ownerReferences;
  if (spec.finalizers) metadata.finalizers = spec.finalizers;
  const appSpec: Record<string, unknown> = { project: projectName };
  if (spec.source) appSpec.source = spec.source;
  if (spec.sources) appSpec.sources = spec.sources;
  if (spec.sourceHydrator) appSpec.sourceHydrator = spec.sourceHydrator;
  appSpec.destination = spec.destination ?? { server: IN_CLUSTER, namespace: name };
  if (spec.syncPolicy) appSpec.syncPolicy = spec.syncPolicy;
  const object: KubeObject = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata, spec: appSpec };
  if (spec.operation) object.operation = spec.operation;
  if (spec.status) object.status = spec.status;
  return object;
}

interface StatusInput {
  source?: Source;
  sources?: Source[];
  revision?: string;
  revisions?: string[];
  /** Earlier deployed revisions, oldest first (the current one is added last). */
  previous?: string[][];
  destination?: Record<string, unknown>;
  sourceType?: string;
  sourceTypes?: string[];
  images?: string[];
}

// What the application controller writes: sync state, health, the deploy history and the last operation.
function syncedStatus(input: StatusInput): Record<string, unknown> {
  const destination = input.destination ?? { server: IN_CLUSTER, namespace: 'default' };
  const multi = input.sources !== undefined;
  const revisionFields = (revisions: string[]) => (multi ? { revisions } : { revision: revisions[0]! });
  const sourceFields = multi ? { sources: input.sources } : { source: input.source };
  const current = multi ? input.revisions! : [input.revision!];
  const deployed = [...(input.previous ?? []), current];
  const history = deployed.map((revisions, i) => ({
    id: i,
    ...revisionFields(revisions),
    deployStartedAt: `2026-02-0${i + 1}T10:00:00Z`,
    deployedAt: `2026-02-0${i + 1}T10:00:12Z`,
    ...sourceFields,
    initiatedBy: { automated: true },
  }));
  return {
    sync: { status: 'Synced', ...revisionFields(current), comparedTo: { ...sourceFields, destination } },
    health: { status: 'Healthy', lastTransitionTime: '2026-02-01T10:00:30Z' },
    history,
    operationState: {
      operation: { sync: { ...revisionFields(current), syncStrategy: { hook: {} } }, initiatedBy: { automated: true }, retry: { limit: 5 } },
      phase: 'Succeeded',
      message: 'successfully synced (all tasks run)',
      startedAt: history.at(-1)!.deployStartedAt,
      finishedAt: history.at(-1)!.deployedAt,
      syncResult: {
        ...(multi ? { revision: current[0]!, revisions: current } : { revision: current[0]! }),
        ...sourceFields,
        resources: [
          { group: '', version: 'v1', kind: 'Service', namespace: destination.namespace, name: 'web', status: 'Synced', message: 'service/web configured', hookPhase: 'Running', syncPhase: 'Sync' },
          { group: 'apps', version: 'v1', kind: 'Deployment', namespace: destination.namespace, name: 'web', status: 'Synced', message: 'deployment.apps/web configured', hookPhase: 'Running', syncPhase: 'Sync' },
        ],
      },
    },
    resources: [
      { version: 'v1', kind: 'Service', namespace: destination.namespace, name: 'web', status: 'Synced', health: { status: 'Healthy' } },
      { group: 'apps', version: 'v1', kind: 'Deployment', namespace: destination.namespace, name: 'web', status: 'Synced', health: { status: 'Healthy' } },
    ],
    reconciledAt: '2026-02-10T08:00:00Z',
    ...(input.sourceTypes ? { sourceTypes: input.sourceTypes } : { sourceType: input.sourceType ?? 'Directory' }),
    summary: { images: input.images ?? ['ghcr.io/example-org/web:1.4.2'] },
    controllerNamespace: 'argocd',
  };
}

function applications(ns: string): KubeObject[] {
  const guestbookSource = gitSource('https://github.com/argoproj/argocd-example-apps.git', 'guestbook', 'HEAD');
  const billingSources: Source[] = [
    { repoURL: 'https://prometheus-community.github.io/helm-charts', chart: 'prometheus', targetRevision: '15.7.1', helm: { valueFiles: ['$values/charts/prometheus/values.yaml'] } },
    // A ref-only source: it supplies $values to the chart and deploys nothing itself.
    { repoURL: 'https://git.example.com/org/value-files.git', targetRevision: 'dev', ref: 'values' },
    gitSource('https://github.com/example-org/billing-app.git', 'manifests', '8.5.1'),
  ];
  const helmSource: Source = {
    repoURL: 'https://argoproj.github.io/argo-helm',
    chart: 'argo-workflows',
    targetRevision: '0.45.27',
    helm: { releaseName: 'argo-workflows', valuesObject: { server: { extraArgs: ['--auth-mode=server'] }, workflow: { serviceAccount: { create: true } } } },
  };
  const ociSource: Source = { repoURL: 'oci://registry-1.docker.io/some-user/my-custom-image', path: '.', targetRevision: '1.16.1' };
  const hydrator = {
    drySource: { repoURL: 'https://github.com/argoproj/argocd-example-apps', path: 'helm-guestbook', targetRevision: 'HEAD', helm: { valueFiles: ['values-prod.yaml'] } },
    syncSource: { targetBranch: 'environments/dev', path: 'helm-guestbook' },
  };
  const paymentsSource = gitSource('https://github.com/example-org/payments.git', 'deploy/overlays/prod', 'release-2026.02');
  const privateSource = gitSource('git@github.com:argoproj/my-private-repository.git', 'clusters/prod', 'main');
  const generatedSource = gitSource('https://github.com/argoproj/argo-cd.git', 'applicationset/examples/matrix/cluster-addons/argo-workflows', 'HEAD');
  const childrenSource = gitSource('https://github.com/example-org/platform-apps.git', 'apps', 'main');
  const automated = { automated: { prune: true, selfHeal: true }, syncOptions: ['CreateNamespace=true'] };
  const appDestination = (namespace: string) => ({ server: IN_CLUSTER, namespace });

  return [
    application(ns, 'guestbook', 'default', {
      source: guestbookSource,
      destination: appDestination('guestbook'),
      syncPolicy: automated,
      labels: { team: 'platform', tier: 'frontend' },
      annotations: {
        'notifications.argoproj.io/subscribe.on-sync-succeeded.slack': 'deployments',
        'argocd.argoproj.io/tracking-id': 'platform-apps:argoproj.io/Application:argocd/guestbook',
      },
      finalizers: [RESOURCES_FINALIZER],
      status: syncedStatus({ source: guestbookSource, revision: sha('guestbook-3'), previous: [[sha('guestbook-1')], [sha('guestbook-2')]], destination: appDestination('guestbook') }),
    }),
    application(ns, 'billing', 'my-project', {
      sources: billingSources,
      destination: appDestination('payments-billing'),
      syncPolicy: automated,
      labels: { team: 'payments' },
      status: syncedStatus({
        sources: billingSources,
        revisions: ['15.7.1', sha('values-2'), sha('billing-2')],
        previous: [['15.7.0', sha('values-1'), sha('billing-1')]],
        destination: appDestination('payments-billing'),
        sourceTypes: ['Helm', 'Directory', 'Kustomize'],
      }),
    }),
    application(ns, 'argo-workflows', 'default', {
      source: helmSource,
      destination: { name: 'in-cluster', namespace: 'argo-workflows' },
      syncPolicy: { automated: { prune: true, allowEmpty: true } },
      status: syncedStatus({ source: helmSource, revision: '0.45.27', previous: [['0.45.26']], destination: { name: 'in-cluster', namespace: 'argo-workflows' }, sourceType: 'Helm', images: ['quay.io/argoproj/workflow-controller:v3.6.5'] }),
    }),
    application(ns, 'my-custom-image', 'default', {
      source: ociSource,
      destination: appDestination('my-namespace'),
      status: syncedStatus({ source: ociSource, revision: `sha256:${createHash('sha256').update('oci').digest('hex')}`, destination: appDestination('my-namespace') }),
    }),
    application(ns, 'hydrated-guestbook', 'default', {
      sourceHydrator: hydrator,
      destination: appDestination('hydrated-guestbook'),
      status: {
        ...syncedStatus({ source: { repoURL: 'https://github.com/argoproj/argocd-example-apps', path: 'helm-guestbook', targetRevision: 'environments/dev' }, revision: sha('hydrated-1'), destination: appDestination('hydrated-guestbook') }),
        sourceHydrator: {
          lastSuccessfulOperation: { drySHA: sha('dry-1'), hydratedSHA: sha('hydrated-1'), sourceHydrator: hydrator },
          currentOperation: {
            drySHA: sha('dry-1'), hydratedSHA: sha('hydrated-1'), phase: 'Hydrated', message: '', startedAt: '2026-02-09T12:00:00Z', finishedAt: '2026-02-09T12:00:04Z', sourceHydrator: hydrator,
          },
        },
      },
    }),
    application(ns, 'payments', 'my-project', {
      source: paymentsSource,
      destination: appDestination('payments-api'),
      labels: { team: 'payments' },
      // A sync is running: restoring this operation would start it again in the new cluster.
      operation: {
        sync: { revision: sha('payments-2'), prune: true, syncStrategy: { hook: {} }, syncOptions: ['ServerSideApply=true'] },
        initiatedBy: { username: 'alice@example.com' },
        info: [{ name: 'Reason', value: 'hotfix INC-4711' }],
        retry: { limit: 2, backoff: { duration: '5s', factor: 2, maxDuration: '3m' } },
      },
      status: {
        ...syncedStatus({ source: paymentsSource, revision: sha('payments-1'), destination: appDestination('payments-api'), sourceType: 'Kustomize' }),
        sync: { status: 'OutOfSync', revision: sha('payments-2'), comparedTo: { source: paymentsSource, destination: appDestination('payments-api') } },
        operationState: {
          operation: { sync: { revision: sha('payments-2'), prune: true, syncStrategy: { hook: {} } }, initiatedBy: { username: 'alice@example.com' }, retry: { limit: 2 } },
          phase: 'Running',
          message: 'waiting for healthy state of apps/Deployment/payments-api',
          startedAt: '2026-02-10T07:59:40Z',
        },
      },
    }),
    application(ns, 'private-config', 'my-project', {
      source: privateSource,
      destination: { name: 'eks-prod', namespace: 'payments-config' },
      status: syncedStatus({ source: privateSource, revision: sha('private-1'), destination: { name: 'eks-prod', namespace: 'payments-config' } }),
    }),
    application(ns, 'platform-apps', 'default', {
      source: childrenSource,
      destination: appDestination(ns),
      syncPolicy: { automated: { prune: false, selfHeal: true } },
      status: syncedStatus({ source: childrenSource, revision: sha('platform-apps-1'), destination: appDestination(ns) }),
    }),
    // Made by the list-git ApplicationSet: the owner reference points at an object whose uid a restore will not keep.
    application(ns, 'argo-workflows-engineering-dev', 'default', {
      source: generatedSource,
      destination: { server: 'https://1.2.3.4', namespace: 'argo-workflows' },
      labels: { 'app.kubernetes.io/instance': 'list-git' },
      ownerReferences: [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'ApplicationSet', name: 'list-git', uid: '0b7e1b1e-5a2c-4c1e-9f57-2f1c7c2a0001', controller: true, blockOwnerDeletion: true }],
      finalizers: [RESOURCES_FINALIZER],
      status: syncedStatus({ source: generatedSource, revision: sha('argo-cd-1'), destination: { server: 'https://1.2.3.4', namespace: 'argo-workflows' } }),
    }),
  ];
}

function applicationSet(ns: string, name: string, spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject {
  return { apiVersion: 'argoproj.io/v1alpha1', kind: 'ApplicationSet', metadata: { name, namespace: ns }, spec, ...(status ? { status } : {}) };
}

function appSetTemplate(name: string, project: string, source: Source, destination: Record<string, unknown>): Record<string, unknown> {
  return { metadata: { name }, spec: { project, source, destination } };
}

const goTemplate = { goTemplate: true, goTemplateOptions: ['missingkey=error'] };

function applicationSets(ns: string): KubeObject[] {
  const argoCd = 'https://github.com/argoproj/argo-cd.git';
  const upToDate = {
    conditions: [
      { type: 'ErrorOccurred', status: 'False', reason: 'ApplicationSetUpToDate', message: 'Successfully generated parameters for all Applications', lastTransitionTime: '2026-02-01T10:00:00Z' },
      { type: 'ParametersGenerated', status: 'True', reason: 'ParametersGenerated', message: 'Successfully generated parameters for all Applications', lastTransitionTime: '2026-02-01T10:00:00Z' },
      { type: 'ResourcesUpToDate', status: 'True', reason: 'ApplicationSetUpToDate', message: 'ApplicationSet up to date', lastTransitionTime: '2026-02-01T10:00:00Z' },
    ],
    resources: [{ group: 'argoproj.io', version: 'v1alpha1', kind: 'Application', name: 'argo-workflows-engineering-dev', namespace: ns, status: 'Synced', health: { status: 'Healthy' } }],
  };
  return [
    applicationSet(ns, 'cluster-addons', {
      ...goTemplate,
      generators: [{
        git: {
          repoURL: argoCd,
          revision: 'HEAD',
          directories: [{ path: 'applicationset/examples/git-generator-directory/cluster-addons/*' }, { path: 'applicationset/examples/git-generator-directory/cluster-addons/exclude-me', exclude: true }],
        },
      }],
      template: appSetTemplate('{{.path.basename}}', 'default', { repoURL: argoCd, targetRevision: 'HEAD', path: '{{.path.path}}' }, { server: IN_CLUSTER, namespace: '{{.path.basename}}' }),
      syncPolicy: { preserveResourcesOnDeletion: true },
    }),
    applicationSet(ns, 'list-git', {
      ...goTemplate,
      generators: [{
        matrix: {
          generators: [
            { git: { repoURL: argoCd, revision: 'HEAD', directories: [{ path: 'applicationset/examples/matrix/cluster-addons/*' }] } },
            { list: { elements: [{ cluster: 'engineering-dev', url: 'https://1.2.3.4', values: { project: 'default' } }, { cluster: 'engineering-prod', url: 'https://2.4.6.8', values: { project: 'default' } }] } },
          ],
        },
      }],
      template: appSetTemplate('{{.path.basename}}-{{.cluster}}', '{{.values.project}}', { repoURL: argoCd, targetRevision: 'HEAD', path: '{{.path.path}}' }, { server: '{{.url}}', namespace: '{{.path.basename}}' }),
    }, upToDate),
    applicationSet(ns, 'merge-matrix', {
      ...goTemplate,
      generators: [{
        merge: {
          mergeKeys: ['name', 'environment'],
          generators: [
            {
              matrix: {
                generators: [
                  { clusters: { selector: { matchLabels: { 'argocd.argoproj.io/secret-type': 'cluster' } } } },
                  // A git generator two levels down: the Git source inventory must find it.
                  { git: { repoURL: 'https://github.com/example-org/cluster-config.git', revision: 'main', files: [{ path: 'environments/*/config.json' }] } },
                ],
              },
            },
            { list: { elements: [{ name: 'eks-prod', environment: 'prod', replicas: '3' }] } },
          ],
        },
      }],
      template: appSetTemplate('{{.name}}-{{.environment}}-guestbook', 'default', {
        repoURL: 'https://github.com/argoproj/argocd-example-apps/', targetRevision: 'HEAD', path: 'helm-guestbook', helm: { parameters: [{ name: 'replicaCount', value: '{{.replicas}}' }] },
      }, { server: '{{.server}}', namespace: 'guestbook-{{.environment}}' }),
    }),
    applicationSet(ns, 'service-repos', {
      ...goTemplate,
      generators: [{
        matrix: {
          generators: [
            { list: { elements: [{ repo: 'https://github.com/example-org/svc-orders.git' }, { repo: 'https://github.com/example-org/svc-invoices.git' }] } },
            // repoURL filled from the list: only known when the generator runs.
            { git: { repoURL: '{{.repo}}', revision: 'main', files: [{ path: 'deploy/app.json' }] } },
          ],
        },
      }],
      template: appSetTemplate('{{.app.name}}', 'my-project', { repoURL: '{{.repo}}', targetRevision: 'main', path: 'deploy/manifests' }, { server: IN_CLUSTER, namespace: 'payments-{{.app.name}}' }),
      strategy: { type: 'RollingSync', rollingSync: { steps: [{ matchExpressions: [{ key: 'env', operator: 'In', values: ['staging'] }] }, { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }], maxUpdate: '50%' }] } },
    }),
  ];
}

function appNamespaceObjects(ns: string): KubeObject[] {
  const repo = `https://gitlab.com/example-org/${ns}/service.git`;
  const source = gitSource(repo, 'k8s', 'main');
  return [
    application(ns, `${ns}-service`, 'team-apps', {
      source,
      destination: { server: IN_CLUSTER, namespace: `${ns}-service` },
      syncPolicy: { automated: { prune: true } },
      status: syncedStatus({ source, revision: sha(`${ns}-service`), destination: { server: IN_CLUSTER, namespace: `${ns}-service` } }),
    }),
    applicationSet(ns, `${ns}-previews`, {
      ...goTemplate,
      generators: [{ git: { repoURL: `https://gitlab.com/example-org/${ns}/previews.git`, revision: 'HEAD', directories: [{ path: 'previews/*' }] } }],
      template: appSetTemplate(`${ns}-{{.path.basename}}`, 'team-apps', {
        repoURL: `https://gitlab.com/example-org/${ns}/previews.git`, targetRevision: 'HEAD', path: '{{.path.path}}',
      }, { server: IN_CLUSTER, namespace: `${ns}-{{.path.basename}}` }),
    }),
    configMap(ns, 'kube-root-ca.crt', undefined, { 'ca.crt': '-----BEGIN CERTIFICATE-----\nMIIBfixtureClusterRootCA\n-----END CERTIFICATE-----\n' }),
    // Argo CD reads repository Secrets only from its own namespace; this one is the team's business.
    secret(ns, `${ns}-repo`, { 'argocd.argoproj.io/secret-type': 'repository' }, { type: 'git', url: repo, username: 'gitlab-ci-token', password: PLANTED_SECRETS.appNamespaceRepoPassword }),
  ];
}

function numberedApplications(ns: string, count: number, projects: number): KubeObject[] {
  const apps: KubeObject[] = [];
  for (let i = 0; i < count; i++) {
    const name = `app-${String(i).padStart(5, '0')}`;
    const team = projects > 0 ? i % projects : 0;
    // 1,000 repositories shared by many apps, as a monorepo-heavy organisation has.
    const source = gitSource(`https://github.com/example-org/shared-${String(i % 1000).padStart(4, '0')}.git`, `apps/${name}`, i % 10 === 0 ? 'main' : 'HEAD');
    const destination = { server: IN_CLUSTER, namespace: `team-${team}-${name}` };
    apps.push(application(ns, name, projects > 0 ? projectName(team) : 'default', {
      source,
      destination,
      syncPolicy: { automated: { prune: true, selfHeal: true }, syncOptions: ['CreateNamespace=true'] },
      labels: { team: `team-${team}`, env: i % 3 === 0 ? 'prod' : 'staging' },
      finalizers: [RESOURCES_FINALIZER],
      status: syncedStatus({ source, revision: sha(`${name}-2`), previous: [[sha(`${name}-1`)]], destination }),
    }));
  }
  return apps;
}
