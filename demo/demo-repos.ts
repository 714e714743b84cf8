import path from 'node:path';
import { git, gitRefs } from './git.js';
import { WorkTree } from './origin-repos.js';

/**
 * The Git repositories of the demo's Argo CD installation, built with real git and deterministic
 * (fixed identities and dates), so every run has the same commit ids. Each one is what a team would
 * keep: manifests in the directories the Applications point at, branches and tags they track.
 */

/** The demo's repositories by role; the path is where each is served (`<git base URL>/<path>`). */
export const DEMO_REPOS = {
  /** Single-source apps: guestbook/ on HEAD, kustomize-guestbook/ on the staging branch; tags v1.0 (annotated) and v1.1. */
  guestbook: 'apps/guestbook.git',
  /** The multi-source app's own manifests; tag 8.5.1 is what it deploys. */
  billing: 'payments/billing.git',
  /** The multi-source app's `$values` repository: Helm values per chart, on the dev branch. */
  values: 'payments/values.git',
  /** The ApplicationSet's git generator walks addons/* (exclude-me is excluded). */
  clusterAddons: 'platform/cluster-addons.git',
} as const;

export type DemoRepoName = keyof typeof DEMO_REPOS;

/** A generated bare repository and its refs (refname → object id, tags unpeeled). */
export interface DemoRepo {
  name: DemoRepoName;
  /** Path under the Git server's root, e.g. apps/guestbook.git. */
  path: string;
  /** The bare repository on disk. */
  dir: string;
  refs: Map<string, string>;
  /** The commit each ref leads to (annotated tags peeled): what an Application deploys. */
  commits: Map<string, string>;
}

/** The addons the cluster-addons repository holds, and so the Applications its ApplicationSet generates. */
export const DEMO_ADDONS = ['cert-manager', 'ingress-nginx', 'metrics-server'] as const;

/** Builds every demo repository under root. */
export async function createDemoRepos(root: string): Promise<Record<DemoRepoName, DemoRepo>> {
  const builders: Record<DemoRepoName, (root: string, relPath: string) => Promise<string>> = {
    guestbook: createGuestbookRepo,
    billing: createBillingRepo,
    values: createValuesRepo,
    clusterAddons: createClusterAddonsRepo,
  };
  const repos = await Promise.all((Object.keys(DEMO_REPOS) as DemoRepoName[]).map(async (name) => {
    const dir = await builders[name](root, DEMO_REPOS[name]);
    return [name, { name, path: DEMO_REPOS[name], dir, refs: await gitRefs(dir), commits: await peeledCommits(dir) }] as const;
  }));
  return Object.fromEntries(repos) as Record<DemoRepoName, DemoRepo>;
}

async function peeledCommits(dir: string): Promise<Map<string, string>> {
  const out = await git(['for-each-ref', '--format=%(refname) %(objectname) %(*objectname)'], { cwd: dir });
  const commits = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [ref, id, peeled] = line.split(' ');
    if (ref && id) commits.set(ref, peeled || id);
  }
  return commits;
}

function deployment(name: string, image: string, replicas: number): string {
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  replicas: ${replicas}`,
    '  selector:',
    '    matchLabels:',
    `      app: ${name}`,
    '  template:',
    '    metadata:',
    '      labels:',
    `        app: ${name}`,
    '    spec:',
    '      containers:',
    `        - name: ${name}`,
    `          image: ${image}`,
    '          ports:',
    '            - containerPort: 80',
    '',
  ].join('\n');
}

function service(name: string): string {
  return ['apiVersion: v1', 'kind: Service', 'metadata:', `  name: ${name}`, 'spec:', '  ports:', '    - port: 80', '      targetPort: 80', '  selector:', `    app: ${name}`, ''].join('\n');
}

function kustomization(resources: string[], extra: string[] = []): string {
  return ['apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization', 'resources:', ...resources.map((r) => `  - ${r}`), ...extra, ''].join('\n');
}

async function createGuestbookRepo(root: string, relPath: string): Promise<string> {
  const w = await WorkTree.create();
  await w.write('README.md', '# guestbook\n\nThe guestbook application, as plain manifests and as a kustomization.\n');
  await w.write('guestbook/guestbook-ui-deployment.yaml', deployment('guestbook-ui', 'gcr.io/heptio-images/ks-guestbook-demo:0.1', 1));
  await w.write('guestbook/guestbook-ui-svc.yaml', service('guestbook-ui'));
  await w.commit('Add the guestbook');
  w.tick();
  await w.git(['tag', '-a', 'v1.0', '-m', 'Guestbook 1.0']);

  await w.write('kustomize-guestbook/kustomization.yaml', kustomization(['guestbook-ui-deployment.yaml', 'guestbook-ui-svc.yaml'], ['namePrefix: kustomize-']));
  await w.write('kustomize-guestbook/guestbook-ui-deployment.yaml', deployment('guestbook-ui', 'gcr.io/heptio-images/ks-guestbook-demo:0.1', 1));
  await w.write('kustomize-guestbook/guestbook-ui-svc.yaml', service('guestbook-ui'));
  await w.commit('Add a kustomize variant');
  await w.git(['branch', 'staging']);

  await w.write('guestbook/guestbook-ui-deployment.yaml', deployment('guestbook-ui', 'gcr.io/heptio-images/ks-guestbook-demo:0.2', 2));
  await w.commit('Guestbook 0.2 with two replicas');
  await w.git(['tag', 'v1.1']);

  await w.git(['checkout', '-q', 'staging']);
  await w.write('kustomize-guestbook/guestbook-ui-deployment.yaml', deployment('guestbook-ui', 'gcr.io/heptio-images/ks-guestbook-demo:0.3', 1));
  await w.commit('Try 0.3 on staging');
  await w.git(['checkout', '-q', 'main']);
  return w.publish(root, relPath, 'refs/heads/main');
}

async function createBillingRepo(root: string, relPath: string): Promise<string> {
  const w = await WorkTree.create();
  await w.write('README.md', '# billing\n');
  await w.write('manifests/deployment.yaml', deployment('billing', 'ghcr.io/example-org/billing:8.5.0', 2));
  await w.write('manifests/service.yaml', service('billing'));
  await w.commit('Billing 8.5.0');
  w.tick();
  await w.git(['tag', '-a', '8.5.0', '-m', 'Billing 8.5.0']);
  await w.write('manifests/deployment.yaml', deployment('billing', 'ghcr.io/example-org/billing:8.5.1', 2));
  await w.commit('Billing 8.5.1: fix invoice rounding');
  w.tick();
  await w.git(['tag', '-a', '8.5.1', '-m', 'Billing 8.5.1']);
  await w.write('manifests/deployment.yaml', deployment('billing', 'ghcr.io/example-org/billing:8.6.0-rc.1', 2));
  await w.commit('Billing 8.6.0-rc.1');
  return w.publish(root, relPath, 'refs/heads/main');
}

async function createValuesRepo(root: string, relPath: string): Promise<string> {
  const w = await WorkTree.create();
  await w.write('charts/prometheus/values.yaml', 'server:\n  retention: 15d\nalertmanager:\n  enabled: true\n');
  await w.commit('Prometheus values');
  await w.git(['checkout', '-q', '-b', 'dev']);
  await w.write('charts/prometheus/values.yaml', 'server:\n  retention: 7d\n  replicaCount: 1\nalertmanager:\n  enabled: false\n');
  await w.commit('Shorter retention on dev');
  await w.git(['checkout', '-q', 'main']);
  return w.publish(root, relPath, 'refs/heads/main');
}

async function createClusterAddonsRepo(root: string, relPath: string): Promise<string> {
  const w = await WorkTree.create();
  await w.write('README.md', '# cluster add-ons\n\nOne directory per add-on; the cluster-addons ApplicationSet makes an Application of each.\n');
  for (const addon of DEMO_ADDONS) {
    await w.write(path.posix.join('addons', addon, 'kustomization.yaml'), kustomization(['deployment.yaml'], [`namespace: ${addon}`]));
    await w.write(path.posix.join('addons', addon, 'deployment.yaml'), deployment(addon, `registry.example.com/${addon}:1.0.0`, 1));
  }
  await w.write('addons/exclude-me/README.md', 'Work in progress: excluded by the ApplicationSet.\n');
  await w.commit('Add cluster add-ons');
  w.tick();
  await w.git(['tag', '-a', 'v2026.01', '-m', 'January add-on set']);
  await w.write('addons/metrics-server/deployment.yaml', deployment('metrics-server', 'registry.example.com/metrics-server:1.1.0', 2));
  await w.commit('metrics-server 1.1.0');
  return w.publish(root, relPath, 'refs/heads/main');
}
