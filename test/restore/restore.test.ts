import { execFile, execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshInstallation, fullInstallation, leakedSecrets } from '../../demo/argocd-installation.js';
import { removeTempDirs, tempDir } from '../../demo/git.js';
import type { KubeObject } from '../../demo/kube/kube-api-server.js';
import { kubeconfigAccess } from '../../lambdas/argocd/kube-access.js';
import { applyExport } from '../../lambdas/restore/apply.js';
import { argocdDr } from '../support/cli.js';
import { crdValidators } from '../support/crd-schema.js';
import { ARGO, documentsOf, exportCluster, exportText, startCluster, writes, type Cluster } from './restore-env.js';

const hasKubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const installation = () => fullInstallation({ appNamespaces: ['team-a', 'team-b'], appNamespacePatterns: ['team-*'] });
const clusters: Cluster[] = [];
async function cluster(objects: readonly KubeObject[]): Promise<Cluster> {
  const started = await startCluster(objects);
  clusters.push(started);
  return started;
}

let source: Cluster;
let store: string;
let sourceExport: string;

beforeAll(async () => {
  source = await cluster(installation());
  store = await tempDir('restore-store');
  await exportCluster(source, store);
  sourceExport = await exportText(store);
}, 60_000);

afterAll(async () => {
  await Promise.all(clusters.map((c) => c.server.close()));
  await removeTempDirs();
});

const restore = (target: Cluster, ...args: string[]) => argocdDr(['restore', '--store', store, '--kubeconfig', target.kubeconfig, ...args]);
const output = (result: { stdout: string; stderr: string }) => result.stdout + result.stderr;

describe('restore round trip', () => {
  it('restores A into an empty Argo CD B: B exports exactly as A did, every object is valid, no operation, no secret printed', async () => {
    const target = await cluster(freshInstallation());
    const result = await restore(target);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^restore of prod from .*: backup exported/);
    expect(result.stdout).toContain('created Namespace team-a');
    expect(result.stdout).toContain('created Application team-a/team-a-service');
    expect(result.stdout).toContain('updated ConfigMap argocd/argocd-cm');
    expect(result.stdout).toContain('unchanged AppProject argocd/default');
    expect(leakedSecrets(output(result))).toEqual([]);
    // Argo CD's objects are read by listing, not one GET each (10,000 Applications would be 10,000 requests).
    expect(target.server.requests.filter((r) => r.method === 'GET' && /\/namespaces\/argocd\/applications\/[^/]+$/.test(r.path))).toEqual([]);

    const exportB = await tempDir('restore-b');
    await exportCluster(target, exportB);
    expect(await exportText(exportB)).toBe(sourceExport);

    const validate = crdValidators();
    let checked = 0;
    for (const kind of ['AppProject', 'Application', 'ApplicationSet']) {
      for (const object of target.server.list(ARGO, kind)) {
        const { metadata: _metadata, ...rest } = object;
        const check = validate.get(kind)!;
        const valid = check({ ...rest, metadata: { name: object.metadata.name, namespace: object.metadata.namespace } } as unknown);
        expect(valid ? [] : check.errors, `${kind} ${object.metadata.name}`).toEqual([]);
        expect(object).not.toHaveProperty('operation');
        checked++;
      }
    }
    expect(checked).toBe(documentsOf(sourceExport).filter((o) => o.apiVersion === ARGO).length);
    const payments = target.server.get({ apiVersion: ARGO, kind: 'Application', namespace: 'argocd', name: 'payments' })!;
    expect(payments.metadata.managedFields).toMatchObject([{ manager: 'argocd-dr', operation: 'Apply' }]);
    // Safe order: every ConfigMap and Secret before any AppProject, every project before any Application.
    const kinds = target.server.requests.filter((r) => r.method === 'PATCH').map((r) => r.path.split('/').at(-2));
    const order = ['namespaces', 'configmaps', 'secrets', 'appprojects', 'applications', 'applicationsets'];
    expect(kinds).toEqual([...kinds].sort((a, b) => order.indexOf(a!) - order.indexOf(b!)));
    expect(new Set(kinds)).toEqual(new Set(order));

    // Applying the same backup again changes nothing.
    const before = target.server.requests.length;
    const again = await restore(target, '--json');
    const report = JSON.parse(again.stdout) as { status: string; objects: { action: string }[] };
    expect(report.status).toBe('restored');
    expect(new Set(report.objects.map((o) => o.action))).toEqual(new Set(['unchanged']));
    expect(target.server.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('rewrites repositories and clusters everywhere they occur', async () => {
    const target = await cluster(freshInstallation());
    const oldRepo = 'https://github.com/example-org';
    const newRepo = 'https://git.dr.example.com/example-org';
    const result = await restore(target, '--map-repo', `${oldRepo}=${newRepo}`, '--map-cluster', 'https://1.2.3.4=https://5.6.7.8',
      '--map-cluster', 'https://mycluster.example.com=https://mycluster.dr.example.com', '--json');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { remapped: { object: string; field: string }[] };
    const fields = report.remapped.map((change) => `${change.object} ${change.field}`);
    expect(fields).toEqual(expect.arrayContaining([
      'Application argocd/billing spec.sources[2].repoURL',
      'Secret argocd/private-repo data.url',
      'Secret argocd/github-app-creds data.url',
      'AppProject argocd/my-project spec.sourceRepos[0]',
      'Secret argocd/mycluster-secret data.server',
      'ApplicationSet argocd/service-repos spec.generators[0].matrix.generators[0].list.elements[0].repo',
    ]));
    expect(fields.some((field) => /^ApplicationSet .*generators.*repoURL$/.test(field))).toBe(true);
    expect(fields.some((field) => /^Application .*spec\.destination\.server$/.test(field))).toBe(true);

    // Oracle: B's export, Secrets decoded, is A's with the URLs replaced, and nothing else changed.
    const exportB = await tempDir('restore-remap');
    await exportCluster(target, exportB);
    const readable = (text: string) => documentsOf(text).filter((o) => o.kind !== 'ConfigMap').map((object) => JSON.stringify(object.kind === 'Secret'
      ? { ...object, data: Object.fromEntries(Object.entries(object.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])) }
      : object)).join('\n');
    const expected = readable(sourceExport).replaceAll(oldRepo, newRepo).replaceAll('https://1.2.3.4', 'https://5.6.7.8')
      .replaceAll('"server":"https://mycluster.example.com"', '"server":"https://mycluster.dr.example.com"');
    expect(expected).not.toBe(readable(sourceExport));
    expect(readable(await exportText(exportB))).toBe(expected);
    expect(leakedSecrets(output(result))).toEqual([]);
  });

  it('warns of a mapping that matches nothing, and refuses a malformed one before touching the cluster', async () => {
    const target = await cluster(freshInstallation());
    const typo = await restore(target, '--dry-run', '--map-repo', 'https://github.com/exmaple-org=https://x.example.com');
    expect(typo.code).toBe(0);
    expect(typo.stderr).toContain('argocd-dr: warning: --map-repo https://github.com/exmaple-org matched nothing in the backup of prod');
    const malformed = await restore(target, '--map-cluster', 'https://1.2.3.4');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('--map-cluster "https://1.2.3.4" must be OLD=NEW');
    expect(writes(target.server)).toEqual([]);
  });
});

describe('restore safety', () => {
  it('refuses a corrupted export: nothing is applied', async () => {
    const corrupt = await tempDir('restore-corrupt');
    await exportCluster(source, corrupt);
    const file = path.join(corrupt, 'argocd', 'prod', 'export.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('name: guestbook', 'name: guestbooq'));
    const target = await cluster(freshInstallation());
    const result = await argocdDr(['restore', '--store', corrupt, '--kubeconfig', target.kubeconfig]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/restore refused: argocd\/prod\/export.yaml \(current\) has sha256 [0-9a-f]{64}, but argocd\/prod\/manifest.json records [0-9a-f]{64}: the export is damaged or incomplete; nothing was applied/);
    expect(target.server.requests).toEqual([]);
  });

  it('a dry run says create / update / unchanged with a diff, masks Secret values, and changes nothing', async () => {
    const target = await cluster([
      ...freshInstallation(),
      // B already has one repository, with another password and URL.
      ...installation().filter((o) => o.kind === 'Secret' && o.metadata.name === 'private-repo').map((secret) => ({
        ...secret, data: { ...(secret.data as object), password: Buffer.from('live-password-0000').toString('base64'), url: Buffer.from('https://old.example.com/x.git').toString('base64') },
      })),
    ]);
    const before = JSON.stringify([...target.server.list('v1', 'Secret'), ...target.server.list('v1', 'ConfigMap'), ...target.server.list(ARGO, 'Application')]);
    const result = await restore(target, '--dry-run', '--prune');
    expect(result.code).toBe(0);
    expect(writes(target.server)).toEqual([]);
    expect(JSON.stringify([...target.server.list('v1', 'Secret'), ...target.server.list('v1', 'ConfigMap'), ...target.server.list(ARGO, 'Application')])).toBe(before);
    expect(result.stdout).toContain('create Namespace team-a');
    expect(result.stdout).toContain('create Application argocd/guestbook\n===================================================================\n--- /dev/null\n+++ backup/Application argocd/guestbook');
    expect(result.stdout).toContain('unchanged AppProject argocd/default');
    expect(result.stdout).toMatch(/update Secret argocd\/private-repo\n[^]*- {2}password: "\*\*\* \(live\)"\n\+ {2}password: "\*\*\* \(backup\)"/);
    expect(result.stdout).toContain('  username: "***"');
    expect(result.stdout).toMatch(/dry run: \d+ to create, \d+ to update, 1 unchanged, 0 to delete; nothing was changed/);
    expect(result.stdout).not.toContain('live-password-0000');
    expect(leakedSecrets(output(result))).toEqual([]);
  });

  it('stops at the first failed write and reports exactly what was applied', async () => {
    const target = await cluster(freshInstallation());
    target.server.setFault('applications', { kind: 'deny', verbs: ['patch'] });
    const result = await restore(target, '--json');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as {
      status: string; objects: { kind: string; action: string }[]; failed: { object: string; error: string }; notAttempted: string[]; namespacesCreated: string[];
    };
    expect(report.status).toBe('failed');
    expect(report.failed.object).toMatch(/^Application /);
    expect(report.failed.error).toContain('may not patch applications.argoproj.io in namespace');
    expect(report.failed.error).toContain('403 Forbidden');
    // What the report calls applied is exactly what the server holds.
    const applied = report.objects.filter((o) => o.action !== 'unchanged').map((o) => o.kind);
    expect(new Set(applied)).toEqual(new Set(['ConfigMap', 'Secret', 'AppProject']));
    expect(report.namespacesCreated).toEqual(['team-a', 'team-b']);
    expect(target.server.list(ARGO, 'Application')).toEqual([]);
    expect(target.server.list(ARGO, 'ApplicationSet')).toEqual([]);
    const appPatches = target.server.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/applications/'));
    expect(appPatches.length).toBeGreaterThanOrEqual(1);
    expect(report.notAttempted.filter((o) => o.startsWith('ApplicationSet ')).length).toBe(installation().filter((o) => o.kind === 'ApplicationSet' && o.metadata.namespace !== 'sandbox').length);
    const configMaps = target.server.list('v1', 'ConfigMap').map((o) => o.metadata.name);
    expect(configMaps).toContain('argocd-cmd-params-cm');
    expect(leakedSecrets(output(result))).toEqual([]);

    const text = await restore(target);
    expect(text.stdout).toMatch(/FAILED at Application [^:]+: .*403 Forbidden/);
    expect(text.stdout).toMatch(/applied before the failure: 0 namespace\(s\), 0 object\(s\) written/);
  });

  it('--prune deletes what the backup lacks, Application finalizers removed first; it needs --yes off a terminal', async () => {
    const extra = (kind: string, name: string, metadata: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): KubeObject =>
      ({ apiVersion: ARGO, kind, metadata: { name, namespace: 'argocd', ...metadata }, spec });
    const target = await cluster([
      ...freshInstallation(),
      extra('Application', 'leftover', { finalizers: ['resources-finalizer.argocd.argoproj.io'] }, { project: 'default', destination: { server: 'https://kubernetes.default.svc', namespace: 'x' } }),
      extra('ApplicationSet', 'old-set', {}, { generators: [], template: { metadata: {}, spec: { project: 'default', destination: {} } } }),
      extra('AppProject', 'retired', {}, { sourceRepos: ['*'] }),
    ]);
    const refused = await restore(target, '--prune');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--prune deletes objects: pass --yes to confirm when not on a terminal');
    expect(writes(target.server)).toEqual([]);

    const result = await restore(target, '--prune', '--yes');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('deleted Application argocd/leftover');
    expect(result.stdout).toContain('deleted ApplicationSet argocd/old-set');
    expect(result.stdout).toContain('deleted AppProject argocd/retired');
    expect(target.server.get({ apiVersion: ARGO, kind: 'Application', namespace: 'argocd', name: 'leftover' })).toBeUndefined();
    expect(target.server.get({ apiVersion: ARGO, kind: 'AppProject', namespace: 'argocd', name: 'default' })).toBeDefined();
    const leftover = writes(target.server).filter((w) => w.endsWith('/applications/leftover'));
    expect(leftover).toEqual(['PATCH /apis/argoproj.io/v1alpha1/namespaces/argocd/applications/leftover', 'DELETE /apis/argoproj.io/v1alpha1/namespaces/argocd/applications/leftover']);
    const setDelete = target.server.requests.find((r) => r.method === 'DELETE' && r.path.endsWith('/applicationsets/old-set'));
    expect(setDelete?.query).toContain('propagationPolicy=Orphan');
    // Restored Applications keep their own finalizers.
    const withFinalizer = installation().find((o) => o.kind === 'Application' && o.metadata.namespace === 'argocd' && o.metadata.finalizers)!;
    expect(target.server.get({ apiVersion: ARGO, kind: 'Application', namespace: 'argocd', name: withFinalizer.metadata.name })?.metadata.finalizers).toEqual(withFinalizer.metadata.finalizers);
  });
});

describe('restore over objects others changed', () => {
  it('removes fields other managers added, so B exports exactly as A did and a second dry run finds nothing to do', async () => {
    const planted = 'PLANTED-someone-elses-token-1b7e';
    const changedBySomeoneElse = (object: KubeObject): KubeObject => {
      const { operation: _operation, ...changed } = structuredClone(object);
      const spec = changed.spec as { source: Record<string, unknown>; syncPolicy?: { automated?: Record<string, unknown> } };
      if (object.metadata.name === 'guestbook') {
        spec.source.helm = { valueFiles: ['values-ui.yaml'] };
        spec.syncPolicy!.automated!.allowEmpty = true;
      }
      if (object.metadata.name === 'payments') {
        spec.syncPolicy = { automated: { prune: true } };
      }
      if (object.kind === 'Secret') changed.data = { ...(changed.data as object), bearerToken: Buffer.from(planted).toString('base64') };
      return changed;
    };
    const existing = installation().filter((o) => (o.kind === 'Application' && o.metadata.namespace === 'argocd') || (o.kind === 'Secret' && o.metadata.name === 'private-repo'));
    const target = await cluster([...freshInstallation(), ...existing.map(changedBySomeoneElse)]);

    const dryRun = await restore(target, '--dry-run');
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toMatch(/update Application argocd\/payments\n[^]*-\s+syncPolicy:\n-\s+automated:/);
    expect(dryRun.stdout).toMatch(/update Secret argocd\/private-repo\n[^]*- {2}bearerToken: "\*\*\* \(live\)"/);

    const result = await restore(target);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('updated Application argocd/guestbook (fields set by other managers removed: spec.source.helm, spec.syncPolicy.automated.allowEmpty)');
    expect(result.stdout).toContain('updated Application argocd/payments (fields set by other managers removed: spec.syncPolicy)');
    expect(result.stdout).toContain('updated Secret argocd/private-repo (fields set by other managers removed: data.bearerToken)');

    const exportB = await tempDir('restore-over-changed');
    await exportCluster(target, exportB);
    expect(await exportText(exportB)).toBe(sourceExport);
    // Only what the backup lacks went: the Application controller's status stays, no operation appears.
    const payments = target.server.get({ apiVersion: ARGO, kind: 'Application', namespace: 'argocd', name: 'payments' })!;
    expect(payments.status).toEqual(existing.find((o) => o.metadata.name === 'payments')!.status);
    expect(payments).not.toHaveProperty('operation');

    const again = await restore(target, '--dry-run', '--json');
    const report = JSON.parse(again.stdout) as { objects: { kind: string; name: string; action: string }[] };
    expect(report.objects.filter((o) => o.action !== 'unchanged')).toEqual([]);
    for (const text of [dryRun, result, again].map(output)) {
      expect(leakedSecrets(text)).toEqual([]);
      expect(text).not.toContain(planted);
      expect(text).not.toContain(Buffer.from(planted).toString('base64'));
    }
  });

  it("keeps labels and annotations the backup lacks: an installer's ownership (Helm's) survives the restore", async () => {
    const helmOwned = (object: KubeObject): KubeObject => (object.kind === 'ConfigMap' && object.metadata.name === 'argocd-cm'
      ? { ...object, metadata: { ...object.metadata, labels: { ...object.metadata.labels, 'app.kubernetes.io/managed-by': 'Helm' }, annotations: { ...object.metadata.annotations, 'meta.helm.sh/release-name': 'argocd' } } }
      : object);
    const target = await cluster(freshInstallation().map(helmOwned));
    const result = await restore(target);
    expect(result.code).toBe(0);
    const cm = target.server.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'argocd', name: 'argocd-cm' })!;
    expect(cm.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'Helm' });
    expect(cm.metadata.annotations).toMatchObject({ 'meta.helm.sh/release-name': 'argocd' });
    // The data is the backup's.
    const backupCm = installation().find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'argocd-cm')!;
    expect(cm.data).toEqual(backupCm.data);
    expect(result.stdout).not.toContain('meta.helm.sh');
  });
});

describe('restore --pause-sync', () => {
  it('removes automated sync (so it is off on every Argo CD version) and prints commands that put the original block back', async () => {
    const target = await cluster(freshInstallation());
    const result = await restore(target, '--pause-sync');
    expect(result.code).toBe(0);
    const automated = installation().filter((o) => o.kind === 'Application' && o.metadata.namespace !== 'sandbox' && (o.spec as { syncPolicy?: { automated?: unknown } }).syncPolicy?.automated);
    expect(automated.length).toBeGreaterThan(2);
    const resumes: string[] = [];
    for (const app of automated) {
      const restored = target.server.get({ apiVersion: ARGO, kind: 'Application', namespace: app.metadata.namespace!, name: app.metadata.name })!;
      // Not `enabled: false`: CRDs before Argo CD 3.1 prune that field and automated sync would stay on.
      expect((restored.spec as { syncPolicy?: Record<string, unknown> }).syncPolicy ?? {}).not.toHaveProperty('automated');
      const original = (app.spec as { syncPolicy: { automated: object } }).syncPolicy.automated;
      const prefix = `  kubectl --kubeconfig ${target.kubeconfig} --context test-cluster -n ${app.metadata.namespace} patch applications.argoproj.io ${app.metadata.name} --type merge -p '`;
      const resume = result.stdout.split('\n').find((line) => line.startsWith(prefix));
      expect(resume, app.metadata.name).toBeDefined();
      expect(JSON.parse(resume!.slice(prefix.length, -1))).toEqual({ spec: { syncPolicy: { automated: original } } });
      resumes.push(resume!);
    }
    expect(result.stdout).toMatch(/paused automated sync of \d+ Application\(s\)\/ApplicationSet\(s\); when ready, turn it back on with:/);
    if (hasKubectl) {
      // Running one printed command puts that Application's block back exactly as the backup had it.
      await promisify(execFile)('sh', ['-c', resumes[0]!]);
      const app = automated[0]!;
      const resumed = target.server.get({ apiVersion: ARGO, kind: 'Application', namespace: app.metadata.namespace!, name: app.metadata.name })!;
      expect((resumed.spec as { syncPolicy: { automated: object } }).syncPolicy.automated).toEqual((app.spec as { syncPolicy: { automated: object } }).syncPolicy.automated);
    }
  });

  it('turns automated sync off in Applications that already exist, as apply alone would leave it on', async () => {
    const guestbook = installation().find((o) => o.kind === 'Application' && o.metadata.name === 'guestbook')!;
    const target = await cluster([...freshInstallation(), guestbook]);
    const result = await restore(target, '--pause-sync');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('updated Application argocd/guestbook (fields set by other managers removed: spec.syncPolicy.automated)');
    const restored = target.server.get({ apiVersion: ARGO, kind: 'Application', namespace: 'argocd', name: 'guestbook' })!;
    expect((restored.spec as { syncPolicy: Record<string, unknown> }).syncPolicy).toEqual({ syncOptions: ['CreateNamespace=true'] });
  });

  it('resume commands name the kubeconfig from $KUBECONFIG and the context it resolved to, so they cannot patch another cluster later', async () => {
    const target = await cluster(freshInstallation());
    const result = await argocdDr(['restore', '--store', store, '--pause-sync'], { KUBECONFIG: target.kubeconfig });
    expect(result.code).toBe(0);
    const resumes = result.stdout.split('\n').filter((line) => line.startsWith('  kubectl '));
    expect(resumes.length).toBeGreaterThan(2);
    for (const line of resumes) expect(line).toMatch(new RegExp(`^  kubectl --kubeconfig ${target.kubeconfig.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --context test-cluster -n `));
  });

  it('pauses automated sync in ApplicationSet templates too, since the controller would regenerate paused Applications', async () => {
    const target = await cluster(freshInstallation());
    const appSet: KubeObject = {
      apiVersion: ARGO, kind: 'ApplicationSet', metadata: { name: 'fleet' },
      spec: {
        generators: [{ list: { elements: [{ name: 'one' }] } }],
        template: {
          metadata: { name: '{{.name}}' },
          spec: {
            project: 'default', source: { repoURL: 'https://github.com/example-org/fleet.git', path: '{{.name}}', targetRevision: 'HEAD' },
            destination: { server: 'https://kubernetes.default.svc', namespace: '{{.name}}' }, syncPolicy: { automated: { prune: true } },
          },
        },
      },
    };
    const result = await applyExport(kubeconfigAccess(target.kubeconfig), [appSet], { namespace: 'argocd', pauseSync: true, secretsIncluded: true, kubectlArgs: ['--context', 'dr cluster'] });
    expect(result.paused).toEqual([{
      kind: 'ApplicationSet', namespace: 'argocd', name: 'fleet',
      resume: `kubectl --context 'dr cluster' -n argocd patch applicationsets.argoproj.io fleet --type merge -p '{"spec":{"template":{"spec":{"syncPolicy":{"automated":{"prune":true}}}}}}'`,
    }]);
    const stored = target.server.get({ apiVersion: ARGO, kind: 'ApplicationSet', namespace: 'argocd', name: 'fleet' })!;
    expect((stored.spec as { template: { spec: { syncPolicy: unknown } } }).template.spec.syncPolicy).toEqual({});
    const check = crdValidators().get('ApplicationSet')!;
    expect(check({ ...stored, metadata: { name: 'fleet', namespace: 'argocd' } } as unknown) ? [] : check.errors).toEqual([]);
  });
});

describe('restore keeps credentials in URLs out of its output', () => {
  const TOKEN = 'PLANTED-url-token-8c1f';
  const url = `https://ci-bot:${TOKEN}@git.example.com/acme/private.git`;
  let urlStore: string;

  beforeAll(async () => {
    const app: KubeObject = {
      apiVersion: ARGO, kind: 'Application', metadata: { name: 'private', namespace: 'argocd' },
      spec: { project: 'default', source: { repoURL: url, path: '.', targetRevision: 'HEAD' }, destination: { server: 'https://kubernetes.default.svc', namespace: 'private' } },
    };
    const repoSecret: KubeObject = {
      apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
      metadata: { name: 'private-repo', namespace: 'argocd', labels: { 'argocd.argoproj.io/secret-type': 'repository' } },
      data: { type: Buffer.from('git').toString('base64'), url: Buffer.from(url).toString('base64') },
    };
    const withUrls = await cluster([...installation(), app, repoSecret]);
    urlStore = await tempDir('restore-url-store');
    const exported = await argocdDr(['export', '--kubeconfig', withUrls.kubeconfig, '--store', urlStore, '--cluster-name', 'prod', '--json']);
    expect(exported.code).toBe(0);
  }, 60_000);

  it('dry-run diffs (text and --json) show repoURLs without user info', async () => {
    const target = await cluster(freshInstallation());
    for (const json of [[], ['--json']]) {
      const result = await argocdDr(['restore', '--store', urlStore, '--kubeconfig', target.kubeconfig, '--dry-run', ...json]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('repoURL: https://git.example.com/acme/private.git');
      expect(output(result)).not.toContain(TOKEN);
      expect(leakedSecrets(output(result))).toEqual([]);
    }
  });

  it('a failed write quoting the URL (as a 422 does), or the token of a repository Secret url, is redacted', async () => {
    const target = await cluster(freshInstallation());
    target.server.setFault('secrets', { kind: 'status', code: 422, message: `Secret "private-repo" is invalid: data.url: Invalid value: "${url}", token ${TOKEN}`, verbs: ['patch'] });
    const secretFailed = await argocdDr(['restore', '--store', urlStore, '--kubeconfig', target.kubeconfig]);
    expect(secretFailed.code).toBe(1);
    expect(secretFailed.stdout).toContain('FAILED at Secret ');
    expect(output(secretFailed)).not.toContain(TOKEN);

    target.server.setFault('secrets', undefined);
    target.server.setFault('applications', { kind: 'status', code: 422, message: `Application.argoproj.io "private" is invalid: spec.source.repoURL: Invalid value: "${url}"`, verbs: ['patch'] });
    const appFailed = await argocdDr(['restore', '--store', urlStore, '--kubeconfig', target.kubeconfig, '--json']);
    expect(appFailed.code).toBe(1);
    expect(appFailed.stdout).toContain('https://git.example.com/acme/private.git');
    expect(output(appFailed)).not.toContain(TOKEN);
  });
});
