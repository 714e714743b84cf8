import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { KubeObject as ExportedObject } from '../../lambdas/argocd/clean.js';
import { exportArgoCd, imageTag, type ArgoExport } from '../../lambdas/argocd/export.js';
import { parseManifest, storeExport } from '../../lambdas/argocd/export-store.js';
import { kubeconfigAccess } from '../../lambdas/argocd/kube-access.js';
import { openStore } from '../../lambdas/store/open-store.js';
import {
  ARGOCD_VERSION, argocdCrds, fullInstallation, leakedSecrets, LABELLED_CONFIGMAP, manyApplications, minimalInstallation,
  STRAY_NAMESPACE, UNRELATED_CONFIGMAPS, UNRELATED_SECRETS,
} from '../../demo/argocd-installation.js';
import { argocdDr } from '../support/cli.js';
import { removeTempDirs, tempDir } from '../../demo/git.js';
import { startKubeApiServer, type KubeApiServer, type KubeObject } from '../../demo/kube/kube-api-server.js';
import { startDescribeClusterEndpoint } from '../support/eks/describe-cluster-endpoint.js';
import { planted, verifierOptions } from '../support/eks/fake-credentials.js';
import { eksTokenAuthenticator } from '../support/eks/token-verifier.js';

const READER_TOKEN = 'reader-token-5b8e';

async function kubeconfigFile(server: KubeApiServer, token = READER_TOKEN): Promise<string> {
  const file = path.join(await tempDir('kubeconfig'), 'config');
  await writeFile(file, server.kubeconfig(token, { context: 'test-cluster' }));
  return file;
}

async function exportFrom(server: KubeApiServer, options: { namespace?: string; allowPartial?: boolean; keepStatus?: boolean; excludeSecrets?: boolean; pageSize?: number } = {}): Promise<ArgoExport> {
  return exportArgoCd(kubeconfigAccess(await kubeconfigFile(server)), { namespace: 'argocd', ...options });
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const names = (documents: ExportedObject[], kind: string) => documents.filter((d) => d.kind === kind).map((d) => `${d.metadata?.namespace ?? ''}/${d.metadata?.name}`);

describe('export of a full installation with apps in other namespaces', () => {
  let server: KubeApiServer;
  let exported: ArgoExport;
  let installed: KubeObject[];
  beforeAll(async () => {
    installed = fullInstallation({ appNamespaces: ['team-a', 'team-b'], appNamespacePatterns: ['team-*'] });
    server = await startKubeApiServer({ objects: installed, tokens: { [READER_TOKEN]: { user: 'dr', groups: ['system:masters'] } } });
    exported = await exportFrom(server);
  });
  afterAll(async () => server?.close());

  it("keeps admin export's order and takes Argo CD's objects, and only those", () => {
    const kinds = exported.documents.map((d) => d.kind);
    const order = ['ConfigMap', 'Secret', 'AppProject', 'Application', 'ApplicationSet'];
    expect(kinds).toEqual([...kinds].sort((a, b) => order.indexOf(a!) - order.indexOf(b!)));
    const configMaps = names(exported.documents, 'ConfigMap');
    expect(configMaps).toContain('/argocd-cm');
    expect(configMaps).toContain('/argocd-cmd-params-cm');
    expect(configMaps).toContain(`/${LABELLED_CONFIGMAP}`);
    for (const unrelated of UNRELATED_CONFIGMAPS) expect(configMaps).not.toContain(`/${unrelated}`);
    const secrets = names(exported.documents, 'Secret');
    expect(secrets).toContain('/argocd-secret');
    for (const unrelated of UNRELATED_SECRETS) expect(secrets).not.toContain(`/${unrelated}`);
    expect(secrets.every((name) => name.startsWith('/'))).toBe(true);
    const applications = names(exported.documents, 'Application');
    expect(applications.some((name) => name.startsWith('team-a/'))).toBe(true);
    expect(applications.some((name) => name.startsWith('team-b/'))).toBe(true);
    expect(applications.some((name) => name.startsWith(`${STRAY_NAMESPACE}/`))).toBe(false);
    const installedApps = installed.filter((o) => o.kind === 'Application' && o.metadata?.namespace !== STRAY_NAMESPACE).length;
    expect(applications).toHaveLength(installedApps);
    expect(names(exported.documents, 'ApplicationSet').length).toBeGreaterThan(0);
  });

  it('cleans every document as admin export does, and never keeps an operation', () => {
    for (const document of exported.documents) {
      expect(document.apiVersion).toBeTruthy();
      expect(document.kind).toBeTruthy();
      expect(Object.keys(document.metadata!).every((key) => ['name', 'namespace', 'labels', 'annotations', 'finalizers'].includes(key))).toBe(true);
      expect(document.metadata?.namespace).not.toBe('argocd');
      expect(document).not.toHaveProperty('operation');
      expect(document).not.toHaveProperty('status');
    }
    expect(installed.some((o) => o.kind === 'Application' && 'operation' in o)).toBe(true);
  });

  it('writes objects that validate against the CRD schemas', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    for (const crd of argocdCrds()) {
      const spec = crd.spec as { names: { kind: string }; versions: { name: string; schema: { openAPIV3Schema: object } }[] };
      const validate = ajv.compile(spec.versions[0]!.schema.openAPIV3Schema);
      const documents = exported.documents.filter((d) => d.kind === spec.names.kind);
      expect(documents.length).toBeGreaterThan(0);
      for (const document of documents) expect(validate(document) ? [] : validate.errors).toEqual([]);
    }
  });

  it('records versions, counts, the sha256 and the Git source inventory in manifest.json, and rewrites nothing when nothing changed', async () => {
    const dir = await tempDir('export-store');
    const store = openStore(dir);
    const first = await storeExport(store, 'prod', exported);
    expect(first.status).toBe('written');
    const exportYaml = await readFile(path.join(dir, 'argocd/prod/export.yaml'), 'utf8');
    const manifest = parseManifest(await readFile(path.join(dir, 'argocd/prod/manifest.json'), 'utf8'))!;
    expect(manifest).toMatchObject({ cluster: 'prod', namespace: 'argocd', argocdVersion: ARGOCD_VERSION, complete: true, secretsIncluded: true });
    expect(manifest.counts.Application).toBe(names(exported.documents, 'Application').length);
    expect(manifest.counts.CustomResourceDefinition).toBe(3);
    expect(manifest.crdVersions['applications.argoproj.io']).toEqual(['v1alpha1 (storage)']);
    const { createHash } = await import('node:crypto');
    expect(manifest.exportSha256).toBe(createHash('sha256').update(exportYaml).digest('hex'));
    expect(manifest.sources.git.length).toBeGreaterThan(3);
    expect(manifest.sources.notMirrored.map((s) => s.kind).sort()).toEqual(expect.arrayContaining(['helm', 'oci']));
    expect(manifest.sources.unresolved.some((s) => s.repoURL.includes('{{'))).toBe(true);
    expect(manifest.sources.git.some((s) => s.deployedRevisions.length > 0)).toBe(true);
    // Every document parses back, each with kind and apiVersion.
    const documents = parseAllDocuments(exportYaml).map((d) => d.toJS() as KubeObject);
    expect(documents).toHaveLength(exported.documents.length);
    // Secrets are in export.yaml (a restore needs them), never in the manifest.
    expect(leakedSecrets(exportYaml).length).toBeGreaterThan(0);
    expect(leakedSecrets(JSON.stringify(manifest))).toEqual([]);

    const before = await stat(path.join(dir, 'argocd/prod/export.yaml'));
    const again = await storeExport(store, 'prod', await exportFrom(server));
    expect(again.status).toBe('unchanged');
    expect((await stat(path.join(dir, 'argocd/prod/export.yaml'))).mtimeMs).toBe(before.mtimeMs);
  });

  it('keeps status when asked, and leaves Secrets out when asked', async () => {
    const withStatus = await exportFrom(server, { keepStatus: true, excludeSecrets: true });
    expect(withStatus.documents.some((d) => d.kind === 'Application' && d.status)).toBe(true);
    expect(withStatus.documents.some((d) => d.kind === 'Secret')).toBe(false);
    expect(withStatus.documents.some((d) => 'operation' in d)).toBe(false);
  });
});

describe('export failures and edge cases', () => {
  let server: KubeApiServer;
  beforeAll(async () => {
    server = await startKubeApiServer({ objects: fullInstallation(), tokens: { [READER_TOKEN]: { user: 'dr', groups: ['system:masters'] } } });
  });
  afterAll(async () => server?.close());

  it('exports a minimal installation without argocd-cmd-params-cm', async () => {
    const minimal = await startKubeApiServer({ objects: minimalInstallation(), tokens: { [READER_TOKEN]: { user: 'dr', groups: ['system:masters'] } } });
    try {
      const exported = await exportFrom(minimal);
      expect(names(exported.documents, 'Application')).toEqual(['/guestbook']);
      expect(exported.gaps).toEqual([]);
    } finally {
      await minimal.close();
    }
  });

  it('fails when ApplicationSets cannot be read, and records the gap with --allow-partial', async () => {
    server.setFault('applicationsets', { kind: 'deny' });
    try {
      await expect(exportFrom(server)).rejects.toThrow(/may not list applicationsets\.argoproj\.io in namespace argocd \(403.*resources: \["applicationsets"\]/s);
      const partial = await exportFrom(server, { allowPartial: true });
      expect(partial.gaps).toEqual([expect.objectContaining({ resource: 'applicationsets.argoproj.io in argocd' })]);
      expect(partial.documents.some((d) => d.kind === 'ApplicationSet')).toBe(false);
      expect(partial.documents.some((d) => d.kind === 'Application')).toBe(true);
    } finally {
      server.setFault('applicationsets', undefined);
    }
  });

  it('starts a list over when its continue token expires', async () => {
    const full = await exportFrom(server, { pageSize: 5 });
    server.setFault('applications', { kind: 'expire-continue', times: 1 });
    const before = server.requests.length;
    const restarted = await exportFrom(server, { pageSize: 5 });
    expect(server.requests.slice(before).some((r) => r.status === 410)).toBe(true);
    expect(names(restarted.documents, 'Application')).toEqual(names(full.documents, 'Application'));
  });

  it('says who was rejected (401), and that Argo CD is not in the namespace given (404)', async () => {
    await expect(exportArgoCd(kubeconfigAccess(await kubeconfigFile(server, 'wrong-token')), { namespace: 'argocd' }))
      .rejects.toThrow(/rejected the credentials of kubeconfig user .* \(401 Unauthorized\)/);
    await expect(exportFrom(server, { namespace: 'argo' })).rejects.toThrow(/Argo CD is not installed in namespace argo/);
  });

  it('explains TLS and connection failures', async () => {
    const file = await kubeconfigFile(server);
    const config = parse(await readFile(file, 'utf8'));
    // A CA that did not sign the server's certificate.
    const { execFileSync } = await import('node:child_process');
    const dir = path.dirname(file);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'ca.pem'), '-subj', '/CN=other-ca', '-days', '1'], { stdio: 'ignore' });
    const otherCa = await readFile(path.join(dir, 'ca.pem'), 'utf8');
    config.clusters[0].cluster['certificate-authority-data'] = Buffer.from(otherCa).toString('base64');
    const wrongCa = path.join(path.dirname(file), 'wrong-ca');
    await writeFile(wrongCa, JSON.stringify(config));
    await expect(exportArgoCd(kubeconfigAccess(wrongCa), { namespace: 'argocd' })).rejects.toThrow(/TLS failure talking to https:\/\/127\.0\.0\.1:\d+/);
    const port = await freePort();
    config.clusters[0].cluster.server = `https://127.0.0.1:${port}`;
    const closed = path.join(path.dirname(file), 'closed');
    await writeFile(closed, JSON.stringify(config));
    await expect(exportArgoCd(kubeconfigAccess(closed), { namespace: 'argocd' })).rejects.toThrow(new RegExp(`cannot reach the API server https://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
  });

  it('reads 10,000 Applications over 200 projects in pages of 500', async () => {
    const big = await startKubeApiServer({ objects: [...minimalInstallation(), ...manyApplications(10_000, 200)], maxPageSize: 500, tokens: { [READER_TOKEN]: { user: 'dr', groups: ['system:masters'] } } });
    try {
      const exported = await exportFrom(big);
      expect(names(exported.documents, 'Application')).toHaveLength(10_001);
      expect(names(exported.documents, 'AppProject')).toHaveLength(201);
      expect(big.requests.filter((r) => r.path.endsWith('/applications')).length).toBeGreaterThanOrEqual(21);
    } finally {
      await big.close();
    }
  });
});

describe('the Argo CD version', () => {
  it('is the tag of the argocd-server image, not a registry port or a digest', () => {
    expect(imageTag('quay.io/argoproj/argocd:v3.5.1')).toBe('v3.5.1');
    expect(imageTag('registry.local:5000/argoproj/argocd:v2.11.0@sha256:abcd')).toBe('v2.11.0');
    expect(imageTag('registry.local:5000/argoproj/argocd')).toBe('unknown');
  });
});

describe('the shipped read-only RBAC', () => {
  it('is enough for a full export, and a missing rule names the rule', async () => {
    const rbac = parseAllDocuments(await readFile('deploy/rbac/argocd-dr-reader.yaml', 'utf8')).map((d) => d.toJS() as KubeObject);
    const server = await startKubeApiServer({
      objects: fullInstallation({ appNamespaces: ['team-a'], appNamespacePatterns: ['team-*'] }),
      tokens: { [READER_TOKEN]: { user: 'backup', groups: ['argocd-dr-readers'] } },
      rbac,
    });
    try {
      const exported = await exportFrom(server);
      expect(exported.gaps).toEqual([]);
      expect(names(exported.documents, 'Application').some((name) => name.startsWith('team-a/'))).toBe(true);
      expect(exported.argocdVersion).toBe(ARGOCD_VERSION);
      expect(exported.crds).toHaveLength(3);

      const withoutClusterList = rbac.map((o) => (o.kind === 'ClusterRole'
        ? { ...o, rules: (o.rules as { resources: string[] }[]).filter((rule) => !rule.resources.includes('applications')) }
        : o));
      server.setRbac(withoutClusterList);
      await expect(exportFrom(server)).rejects.toThrow(/may not list applications\.argoproj\.io at cluster scope \(403.*a ClusterRole/s);
    } finally {
      await server.close();
    }
  });
});

describe('argocd-dr export', () => {
  let server: KubeApiServer;
  beforeAll(async () => {
    server = await startKubeApiServer({
      objects: fullInstallation(),
      tokens: { [READER_TOKEN]: { user: 'dr', groups: ['system:masters'] } },
      authenticate: eksTokenAuthenticator(verifierOptions('prod-eks')),
    });
  });
  afterAll(async () => server?.close());

  it('exports from a kubeconfig context, warns about Secrets in a local directory, and reports unchanged the second time', async () => {
    const store = await tempDir('cli-export');
    const kubeconfig = await kubeconfigFile(server);
    const first = await argocdDr(['export', '--kubeconfig', kubeconfig, '--store', store]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^exported test-cluster \(Argo CD v3\.5\.1, namespace argocd\)/);
    expect(first.stderr).toMatch(/holds Argo CD's Secrets .* unencrypted/);
    const second = await argocdDr(['export', '--kubeconfig', kubeconfig, '--store', store, '--json']);
    expect(JSON.parse(second.stdout)).toMatchObject({ cluster: 'test-cluster', status: 'unchanged', complete: true });
    for (const output of [first.stdout, first.stderr, second.stdout, second.stderr]) expect(leakedSecrets(output)).toEqual([]);
  });

  it('exports from EKS with an in-process token the API server verifies', async () => {
    const eks = await startDescribeClusterEndpoint({ clusters: { 'prod-eks': { endpoint: server.url, caPem: server.caPem } } });
    try {
      const store = await tempDir('cli-export-eks');
      const result = await argocdDr(['export', '--eks-cluster', 'prod-eks', '--region', 'eu-west-1', '--store', store, '--json'], {
        AWS_ENDPOINT_URL_EKS: eks.url,
        AWS_ACCESS_KEY_ID: planted.accessKeyId,
        AWS_SECRET_ACCESS_KEY: planted.secretAccessKey,
        AWS_SESSION_TOKEN: planted.sessionToken,
      });
      expect(result.stderr).not.toMatch(/failed|error/i);
      expect(JSON.parse(result.stdout)).toMatchObject({ cluster: 'prod-eks', status: 'written', complete: true });
      expect(server.requests.some((r) => r.user === 'argocd-dr')).toBe(true);
      for (const output of [result.stdout, result.stderr]) {
        expect(output).not.toContain(planted.secretAccessKey);
        expect(output).not.toContain(planted.sessionToken);
      }
      const missing = await argocdDr(['export', '--eks-cluster', 'nope', '--region', 'eu-west-1', '--store', store], {
        AWS_ENDPOINT_URL_EKS: eks.url, AWS_ACCESS_KEY_ID: planted.accessKeyId, AWS_SECRET_ACCESS_KEY: planted.secretAccessKey,
      });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/nope/);
    } finally {
      await eks.close();
    }
  });

  it.each([
    [['export', '--eks-cluster', 'x', '--kubeconfig', 'k'], /either --eks-cluster or --kubeconfig/],
    [['export', '--kubeconfig', '/nonexistent/kubeconfig'], /cannot read the kubeconfig/],
  ])('exits 2 for %j', async (args, message) => {
    const result = await argocdDr(args, { AWS_REGION: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('exits 1 and says why when the export fails', async () => {
    const kubeconfig = await kubeconfigFile(server, 'bad-token');
    const result = await argocdDr(['export', '--kubeconfig', kubeconfig, '--store', await tempDir('cli-export')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/401 Unauthorized/);
  });
});

afterAll(async () => removeTempDirs());
