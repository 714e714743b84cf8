import { describe, expect, test } from 'vitest';
import {
  ARGOCD_CONFIGMAPS, ARGOCD_IMAGE, ARGOCD_SECRETS, LABELLED_CONFIGMAP, PLANTED_SECRETS, STRAY_NAMESPACE, UNRELATED_CONFIGMAPS, UNRELATED_SECRETS,
  demoInstallation, fullInstallation, leakedSecrets, manyApplications, minimalInstallation, secretProbes, sha,
} from '../../demo/argocd-installation.js';
import type { KubeObject } from '../../demo/kube/kube-object.js';
import { crdValidators as validators } from '../support/crd-schema.js';

const byName = (objects: KubeObject[], kind: string, namespace = 'argocd') =>
  new Map(objects.filter((o) => o.kind === kind && o.metadata.namespace === namespace).map((o) => [o.metadata.name, o]));

describe('argocd-installation fixtures', () => {
  const full = fullInstallation({ appNamespaces: ['team-a', 'team-b'], appNamespacePatterns: ['team-*'] });

  test('every Argo CD object validates against its CRD schema, with undeclared fields refused', () => {
    const validate = validators();
    const demo = demoInstallation({
      gitBaseUrl: 'http://127.0.0.1:8080',
      repoUrls: { guestbook: 'http://127.0.0.1:8080/apps/guestbook.git', billing: 'http://127.0.0.1:8080/payments/billing.git', values: 'http://127.0.0.1:8080/payments/values.git', clusterAddons: 'http://127.0.0.1:8080/platform/cluster-addons.git' },
      commitOf: (repo, ref) => sha(`${repo}@${ref}`),
      credentials: { username: 'argocd', password: 'demo' },
    });
    const objects = [...full, ...minimalInstallation(), ...manyApplications(30, 4), ...fullInstallation({ extraApps: 5, projects: 2 }), ...demo];
    let checked = 0;
    for (const object of objects) {
      const check = validate.get(object.kind);
      if (!check || object.apiVersion !== 'argoproj.io/v1alpha1') continue;
      // Passed as unknown: ajv's validator is a type guard and would narrow the object to never when it fails.
      const valid = check(object as unknown);
      expect(valid ? [] : check.errors?.map((e) => `${object.kind} ${object.metadata.name}: ${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`)).toEqual([]);
      checked++;
    }
    expect(checked).toBeGreaterThan(60);
    const typo = { ...minimalInstallation().find((o) => o.kind === 'Application')! };
    typo.spec = { ...(typo.spec as object), sourc: {} };
    expect(validate.get('Application')!(typo)).toBe(false);
  });

  test('a full installation has every ConfigMap and Secret an export needs, and the decoys', () => {
    const configMaps = byName(full, 'ConfigMap');
    for (const name of [...ARGOCD_CONFIGMAPS, LABELLED_CONFIGMAP, ...UNRELATED_CONFIGMAPS]) expect(configMaps.has(name), name).toBe(true);
    expect(configMaps.get(LABELLED_CONFIGMAP)?.metadata.labels?.['app.kubernetes.io/part-of']).toBe('argocd');
    expect(configMaps.get('argocd-cmd-params-cm')?.data).toMatchObject({ 'application.namespaces': 'team-*', 'applicationsetcontroller.namespaces': 'team-*' });
    const secrets = byName(full, 'Secret');
    for (const name of [...ARGOCD_SECRETS, ...UNRELATED_SECRETS]) expect(secrets.has(name), name).toBe(true);
    for (const name of ARGOCD_SECRETS) {
      const labels = secrets.get(name)!.metadata.labels ?? {};
      const wanted = name === 'argocd-secret' || name === 'argocd-notifications-secret' || labels['argocd.argoproj.io/secret-type'] !== undefined || labels['app.kubernetes.io/part-of'] === 'argocd';
      expect(wanted, name).toBe(true);
    }
    for (const name of UNRELATED_SECRETS) {
      const labels = secrets.get(name)!.metadata.labels ?? {};
      expect(labels['argocd.argoproj.io/secret-type'] ?? labels['app.kubernetes.io/part-of'], name).toBeUndefined();
    }
    // Secrets are as read from the API: base64 data only.
    for (const secret of full.filter((o) => o.kind === 'Secret')) expect(secret.stringData).toBeUndefined();
    const deployment = full.find((o) => o.kind === 'Deployment' && o.metadata.name === 'argocd-server') as { spec: { template: { spec: { containers: { image: string }[] } } } } | undefined;
    expect(deployment?.spec.template.spec.containers[0]?.image).toBe(ARGOCD_IMAGE);
  });

  test('Applications cover every source shape; ApplicationSets nest git generators', () => {
    const apps = byName(full, 'Application');
    const spec = (name: string) => apps.get(name)!.spec as Record<string, unknown>;
    expect((spec('billing').sources as { ref?: string }[]).some((s) => s.ref === 'values')).toBe(true);
    expect(spec('argo-workflows').source).toMatchObject({ chart: 'argo-workflows' });
    expect((spec('my-custom-image').source as { repoURL: string }).repoURL).toMatch(/^oci:\/\//);
    expect(spec('hydrated-guestbook').sourceHydrator).toBeDefined();
    expect(apps.get('payments')!.operation).toBeDefined();
    expect(apps.get('guestbook')!.status).toMatchObject({ sync: { revision: expect.stringMatching(/^[0-9a-f]{40}$/) }, history: expect.any(Array) });
    expect(apps.get('billing')!.status).toMatchObject({ sync: { revisions: expect.any(Array) } });
    expect(byName(full, 'Application', 'team-a').has('team-a-service')).toBe(true);
    expect(byName(full, 'Application', STRAY_NAMESPACE).has('stray-app')).toBe(true);
    const appSets = JSON.stringify([...byName(full, 'ApplicationSet').values()]);
    expect(appSets).toContain('"repoURL":"{{.repo}}"');
    expect(appSets).toContain('"merge":{');
    expect(byName(full, 'AppProject').get('team-apps')?.spec).toMatchObject({ sourceNamespaces: ['team-*'] });
  });

  test('planted secrets are in the fixtures, as plain text and as the base64 Secrets carry', () => {
    const text = JSON.stringify(full);
    const probes = secretProbes();
    expect(probes.length).toBeGreaterThan(Object.keys(PLANTED_SECRETS).length);
    // The Secret data holds base64; each planted value is reachable through one probe.
    for (const value of Object.values(PLANTED_SECRETS)) {
      expect(probes.some((probe) => probe !== value && Buffer.from(probe, 'base64').toString('utf8').includes(value)), value).toBe(true);
    }
    expect(leakedSecrets(text).length).toBeGreaterThan(0);
    expect(leakedSecrets(JSON.stringify(full.filter((o) => o.kind !== 'Secret')))).toEqual([]);
  });

  test('a minimal installation has no argocd-cmd-params-cm; builders are deterministic', () => {
    const minimal = minimalInstallation();
    expect(minimal.some((o) => o.metadata.name === 'argocd-cmd-params-cm')).toBe(false);
    expect(minimal.length).toBeLessThan(15);
    expect(JSON.stringify(fullInstallation())).toBe(JSON.stringify(fullInstallation()));
    const many = manyApplications(10_000, 200);
    expect(many.filter((o) => o.kind === 'AppProject').length).toBe(200);
    expect(many.filter((o) => o.kind === 'Application').length).toBe(10_000);
    expect(new Set(many.map((o) => (o.spec as { project?: string }).project).filter(Boolean)).size).toBe(200);
  });
});
