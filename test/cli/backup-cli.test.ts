import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../lambdas/backup/steps.js';
import { leakedSecrets } from '../../demo/argocd-installation.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../demo/environment.js';
import { removeTempDirs, tempDir } from '../../demo/git.js';
import { argocdDr } from '../support/cli.js';

/** `argocd-dr backup` as a user runs it (the built CLI, not a terminal: plain lines), against the demo environment. */
let env: DemoEnvironment;

beforeAll(async () => {
  env = await startDemoEnvironment({ dir: await tempDir('backup-cli-env') });
});

afterAll(async () => {
  await env?.stop();
  await removeTempDirs();
});

describe('argocd-dr backup', () => {
  it('backs up the cluster, prints plain progress lines and a summary, exits 0 on Succeeded', async () => {
    const store = await tempDir('backup-cli-store');
    const result = await argocdDr(['backup', '--kubeconfig', env.kubeconfig, '--store', store]);
    expect(result.stderr).toMatch(new RegExp(`^export  ${env.context}: written$`, 'm'));
    expect(result.stderr).toMatch(/^plan {4}4 changed, 0 unchanged, 0 failed$/m);
    expect(result.stderr).toMatch(new RegExp(`^mirror  ${env.repoUrls.billing}: mirrored \\d`, 'm'));
    expect(result.stderr).toMatch(/^verify {2}git\/.*billing\.bundle: ok \(\d+ objects/m);
    expect(result.stdout).toMatch(/^CLUSTER\s+EXPORT\s+ARGO CD\s+APPS\s+READY\s+NOT READY\s+NOT COVERED/m);
    expect(result.stdout).toMatch(new RegExp(`^mirrored\\s+${env.repoUrls.billing}\\s+\\S+ \\S+\\s+ok\\s+billing-repo$`, 'm'));
    expect(result.stdout).toMatch(/^Not covered .*\n {2}argocd-demo argocd\/argo-workflows: https:\/\/argoproj\.github\.io\/argo-helm$/m);
    expect(result.stdout).toMatch(/^Backup Succeeded: run backup-\d{8}T\d{6}Z-[0-9a-f]{6}, report .*\.json$/m);
    expect(result.code).toBe(0);
    expect(leakedSecrets(result.stdout + result.stderr)).toEqual([]);
    expect(result.stdout + result.stderr).not.toContain(env.token);

    // Nothing changed: the second run lists and stops.
    const again = await argocdDr(['backup', '--kubeconfig', env.kubeconfig, '--store', store, '--json']);
    expect(again.code).toBe(0);
    const report = JSON.parse(again.stdout) as RunReport;
    expect(report).toMatchObject({ result: 'Succeeded', totals: { reposUnchanged: 4, reposMirrored: 0 } });
    expect(JSON.parse(await readFile(path.join(store, 'runs', `${report.runId}.json`), 'utf8'))).toEqual(report);
    expect(again.stderr).not.toMatch(/^mirror /m);
  });

  it('prints one JSON document with --json and exits 1 when the cluster refuses the token', async () => {
    env.setTokenAccepted(false);
    try {
      const result = await argocdDr(['backup', '--kubeconfig', env.kubeconfig, '--store', await tempDir('backup-cli-store'), '--json']);
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as RunReport;
      expect(report).toMatchObject({ result: 'Failed', clusters: [{ status: 'failed', error: expect.stringMatching(/401 Unauthorized/) }] });
      expect(result.stdout + result.stderr).not.toContain(env.token);
    } finally {
      env.setTokenAccepted(true);
    }
  });

  it('exits 1 with the unreachable repository and the reason in the summary', async () => {
    const missing = `${env.gitBaseUrl}/nowhere/missing.git`;
    const result = await argocdDr(['backup', '--kubeconfig', env.kubeconfig, '--store', await tempDir('backup-cli-store'), '--extra-repo', missing]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^failed\\s+${missing}\\s+.*404`, 'm'));
    expect(result.stdout).toMatch(/^Backup PartiallyFailed: /m);
    expect(leakedSecrets(result.stdout + result.stderr)).toEqual([]);
  });

  it.each([
    [['backup', '--eks-cluster', 'x', '--kubeconfig', 'k'], /either --eks-cluster or --kubeconfig/],
    [['backup', '--eks-cluster', 'x'], /--eks-cluster needs --region/],
    [['backup', '--kubeconfig', '/nonexistent/kubeconfig'], /cannot read the kubeconfig/],
    [['backup', '--refs', 'notes'], /must be HEAD or start with refs\//],
    [['backup', '--extra-repo', 'ftp://example.com/x.git'], /--extra-repo: ftp:\/\/example.com\/x.git: unsupported scheme ftp; give an https:\/\/, http:\/\/, ssh:\/\/ or scp-style/],
    [['backup', '--extra-repo', 'https://someone:PLANTED-extra-token-9d2f@example.com/x.git'], /--extra-repo: https:\/\/example.com\/x.git must not contain credentials \(user@ or user:token@\); give them in --extra-repos-credentials or --extra-repos-secret/],
    [['backup', '--extra-repo', 'https://someone@example.com/x.git'], /--extra-repo: https:\/\/example.com\/x.git must not contain credentials/],
    [['backup', '--concurrency', '0'], /--concurrency must be a whole number/],
    [['backup', '--cluster-name', 'bad/name', '--eks-cluster', 'x', '--region', 'eu-west-1'], /cannot name a folder/],
  ])('exits 2 on a usage error: %j', async (args, message) => {
    const result = await argocdDr(args, { AWS_REGION: '', AWS_DEFAULT_REGION: '' });
    expect(result.stderr).toMatch(message);
    expect(result.stderr + result.stdout).not.toContain('PLANTED-extra-token');
    expect(result.code).toBe(2);
  });
});
