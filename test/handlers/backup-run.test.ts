import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ExportStepResult, MirrorItem, PlanStepResult } from '../../lambdas/backup/events.js';
import type { RepoRunResult, RunReport } from '../../lambdas/backup/steps.js';
import type { MirrorResult } from '../../lambdas/git/mirror.js';
import type { BundleReport } from '../../lambdas/git/verify/findings.js';
import { handler as exportHandler } from '../../lambdas/handlers/export.js';
import { handler as mirrorHandler } from '../../lambdas/handlers/mirror.js';
import { handler as planHandler } from '../../lambdas/handlers/plan.js';
import { handler as reportHandler } from '../../lambdas/handlers/report.js';
import { handler as verifyHandler } from '../../lambdas/handlers/verify.js';
import { openStore } from '../../lambdas/store/open-store.js';
import type { Store } from '../../lambdas/store/store.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';
import { leakedSecrets, minimalInstallation } from '../../demo/argocd-installation.js';
import { startDescribeClusterEndpoint, type DescribeClusterEndpoint } from '../support/eks/describe-cluster-endpoint.js';
import { planted, verifierOptions } from '../support/eks/fake-credentials.js';
import { eksTokenAuthenticator } from '../support/eks/token-verifier.js';
import { git as git_, gitRefs, removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { startKubeApiServer, type KubeApiServer, type KubeObject } from '../../demo/kube/kube-api-server.js';
import { createRichRepo, forcePushBranch, pushCommit } from '../../demo/origin-repos.js';
import { generateSshKey, startSshGitServer, type SshGitServer } from '../../demo/ssh/sshd.js';
import { startGetSecretValueEndpoint, type GetSecretValueEndpoint } from '../support/secrets-manager/get-secret-value-endpoint.js';

/**
 * The backup run's Lambda handlers, invoked in the order the state machine runs them, with the
 * events it sends, against the real local servers: an EKS DescribeCluster endpoint, a
 * kube-apiserver that checks the token's SigV4 signature, git http-backend, a local store.
 */
const CLUSTER = { name: 'prod-eks', region: 'eu-west-1', namespace: 'argocd' };
const context = { functionName: 'argocd-dr-test', awsRequestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:argocd-dr-test', memoryLimitInMB: '1024', functionVersion: '$LATEST', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;

let git: GitHttpServer;
let kube: KubeApiServer;
let eks: DescribeClusterEndpoint;
let origin: string;
let storeDir: string;
const saved = { ...process.env };
/** Where the test reads what the handlers wrote: the vault store and the work store (items). */
let vault: () => Store = () => openStore(storeDir);
let work: () => Store = () => openStore(storeDir);

function installation(repoUrl: string): KubeObject[] {
  return minimalInstallation().map((object) => (object.kind === 'Application'
    ? { ...object, spec: { ...(object.spec as object), source: { repoURL: repoUrl, path: 'apps/guestbook', targetRevision: 'main' } } }
    : object));
}

/** `skipVerify`: the verify step of these bundles never runs (it crashed or timed out). */
async function runBackup(runId: string, options: { skipVerify?: (bundle: string) => boolean } = {}): Promise<{ report: RunReport; plan: PlanStepResult; logs: string }> {
  // Powertools writes logs and EMF metrics straight to stdout and stderr.
  const output: string[] = [];
  const capture = (chunk: unknown) => {
    output.push(String(chunk));
    return true;
  };
  const spies = [vi.spyOn(process.stdout, 'write').mockImplementation(capture), vi.spyOn(process.stderr, 'write').mockImplementation(capture)];
  try {
    const exported = await exportHandler({ runId, cluster: CLUSTER }, context) as ExportStepResult;
    const plan = await planHandler({ runId, exports: [exported] }, context) as PlanStepResult;
    const items = JSON.parse((await work().getText(plan.itemsKey))!) as MirrorItem[];
    for (const item of items) {
      const mirrored = await mirrorHandler(item, context) as RepoRunResult;
      // The Mirrored? choice: verify the bundle the mirror step named.
      if (mirrored.verifyBundle && !options.skipVerify?.(mirrored.verifyBundle)) await verifyHandler({ runId, bundle: mirrored.verifyBundle }, context) as BundleReport;
    }
    await reportHandler({ runId, startedAt: new Date().toISOString(), exports: [exported], plan }, context);
    const report = JSON.parse((await vault().getText(`runs/${runId}.json`))!) as RunReport;
    return { report, plan, logs: output.join('\n') };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

beforeAll(async () => {
  const root = await tempDir('handler-origins');
  origin = await createRichRepo(root, 'org/guestbook.git');
  git = await startGitHttpServer({ root });
  // The cluster also knows s3rver's key, so the S3 run below can sign its token with it.
  const known = verifierOptions(CLUSTER.name);
  kube = await startKubeApiServer({
    objects: installation(`${git.url}/org/guestbook.git`),
    authenticate: eksTokenAuthenticator({
      ...known,
      secrets: { ...known.secrets, S3RVER: 'S3RVER' },
      identities: { ...known.identities, S3RVER: { arn: 'arn:aws:iam::111122223333:role/argocd-dr-export-eu-west-1', user: 'argocd-dr', groups: ['argocd-dr-readers'] } },
    }),
  });
  eks = await startDescribeClusterEndpoint({ clusters: { [CLUSTER.name]: { endpoint: kube.url, caPem: kube.caPem } } });
  storeDir = await tempDir('handler-store');
  Object.assign(process.env, {
    STORE: storeDir,
    AWS_ENDPOINT_URL_EKS: eks.url,
    AWS_ACCESS_KEY_ID: planted.accessKeyId,
    AWS_SECRET_ACCESS_KEY: planted.secretAccessKey,
    AWS_SESSION_TOKEN: planted.sessionToken,
    AWS_REGION: CLUSTER.region,
    POWERTOOLS_TRACE_ENABLED: 'false',
    EXTRA_REPOS: JSON.stringify([`${git.url}/org/extra.git`]),
  });
});

afterAll(async () => {
  process.env = saved;
  await Promise.all([git?.close(), kube?.close(), eks?.close()]);
  await removeTempDirs();
});

describe('a backup run through the Lambda handlers', () => {
  it('exports, plans, mirrors, verifies and reports; the unreachable extra repo makes it PartiallyFailed', async () => {
    const { report, plan, logs } = await runBackup('run-1');
    expect(plan).toMatchObject({ changed: 1, failed: 1 });
    expect(report.result).toBe('PartiallyFailed');
    expect(report.clusters).toEqual([expect.objectContaining({ cluster: 'prod-eks', status: 'written' })]);
    expect(report.repos.map((repo) => [repo.url, repo.status])).toEqual([
      [`${git.url}/org/extra.git`, 'failed'],
      [`${git.url}/org/guestbook.git`, 'mirrored'],
    ]);
    expect(report.verification).toEqual([expect.objectContaining({ ok: true })]);
    expect(report.totals).toMatchObject({ reposMirrored: 1, reposFailed: 1, bundlesVerified: 1, bundlesFailedVerification: 0 });
    // EMF metrics for the alarms, and no secret in anything logged.
    expect(logs).toMatch(/"RunPartiallyFailed":1/);
    expect(logs).toMatch(/"BundlesVerified":1/);
    expect(leakedSecrets(logs)).toEqual([]);
    expect(logs).not.toContain(planted.secretAccessKey);
  });

  it('skips unchanged repos after one ref listing, and succeeds without the unreachable repo', async () => {
    process.env.EXTRA_REPOS = '[]';
    try {
      const { report, plan, logs } = await runBackup('run-2');
      expect(plan).toMatchObject({ changed: 0, unchanged: 1, failed: 0 });
      expect(report.problems).toEqual([]);
      expect(report.result).toBe('Succeeded');
      expect(report.lastSuccessAt).toBe(report.finishedAt);
      expect(logs).toMatch(/"RunSucceeded":1/);

      await pushCommit(origin, 'main', 'apps/guestbook/config.yaml', 'replicas: 2\n');
      const third = await runBackup('run-3');
      expect(third.plan).toMatchObject({ changed: 1 });
      expect(third.report.problems).toEqual([]);
      expect(third.report).toMatchObject({ result: 'Succeeded', totals: { reposMirrored: 1, bundlesVerified: 1 } });
      expect(third.report.readiness).toMatchObject({ ready: 1, notReady: 0 });
    } finally {
      process.env.EXTRA_REPOS = JSON.stringify([`${git.url}/org/extra.git`]);
    }
  });

  it('sends an unchanged repo to verify when an Application now asks it something new, without fetching it', async () => {
    process.env.EXTRA_REPOS = '[]';
    const ref = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', namespace: 'argocd', name: 'guestbook' };
    const app = kube.get(ref)!;
    try {
      // The repo's refs are as the last run left them; only the Application moved to the tag v1.0.
      kube.put({ ...app, spec: { ...(app.spec as object), source: { repoURL: `${git.url}/org/guestbook.git`, path: 'apps/guestbook', targetRevision: 'v1.0' } } });
      const { report, plan } = await runBackup('run-new-revision');
      expect(plan).toMatchObject({ items: 1, changed: 0, unchanged: 1 });
      const items = JSON.parse((await work().getText(plan.itemsKey))!) as MirrorItem[];
      expect(items).toEqual([expect.objectContaining({ readinessOnly: true })]);
      expect(report.totals).toMatchObject({ reposMirrored: 0, reposUnchanged: 1, reposFailed: 0, bundlesVerified: 1 });
      expect(report.repos).toEqual([expect.objectContaining({ status: 'unchanged' })]);
      expect(report.readiness?.applications).toEqual([expect.objectContaining({ verdict: 'ready', sources: [expect.objectContaining({ targetRevision: 'v1.0' })] })]);
      // The next run finds the answers kept: nothing to open.
      const again = await runBackup('run-new-revision-2');
      expect(again.plan).toMatchObject({ items: 0, changed: 0 });
      expect(again.report.result).toBe('Succeeded');
    } finally {
      kube.put(app);
      process.env.EXTRA_REPOS = JSON.stringify([`${git.url}/org/extra.git`]);
    }
  });

  it('when a mirror fails, verifies the earlier bundle if the Applications ask it something new, so readiness is still answered', async () => {
    process.env.EXTRA_REPOS = '[]';
    const ref = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', namespace: 'argocd', name: 'guestbook' };
    const app = kube.get(ref)!;
    const before = (await gitRefs(origin)).get('refs/heads/main')!;
    try {
      // The repo changed (so the plan sends it to mirror), its fetch is cut, and the Application moved to v0.1.
      await pushCommit(origin, 'main', 'apps/guestbook/cut.yaml', 'cut: true\n');
      git.setFault('org/guestbook.git', { kind: 'cut', afterBytes: 64 });
      kube.put({ ...app, spec: { ...(app.spec as object), source: { repoURL: `${git.url}/org/guestbook.git`, path: 'apps/guestbook', targetRevision: 'v0.1' } } });
      const { report } = await runBackup('run-cut-new-revision');
      expect(report.result).toBe('PartiallyFailed');
      expect(report.repos).toEqual([expect.objectContaining({ status: 'failed', verifyBundle: expect.stringMatching(/org\/guestbook\.bundle$/) })]);
      expect(report.totals).toMatchObject({ reposFailed: 1, bundlesVerified: 1, bundlesFailedVerification: 0 });
      expect(report.readiness?.applications).toEqual([expect.objectContaining({
        verdict: 'ready',
        sources: [expect.objectContaining({ targetRevision: 'v0.1', reasons: [expect.stringMatching(/checked against the bundle of an earlier run/)] })],
      })]);
    } finally {
      git.setFault('org/guestbook.git', undefined);
      await git_(['update-ref', 'refs/heads/main', before], { cwd: origin });
      kube.put(app);
      process.env.EXTRA_REPOS = JSON.stringify([`${git.url}/org/extra.git`]);
    }
  });

  it('counts a new bundle, or one sent for readiness, whose verify left no result as a failed verification, and opens neither in the report', async () => {
    process.env.EXTRA_REPOS = '[]';
    const ref = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', namespace: 'argocd', name: 'guestbook' };
    const app = kube.get(ref)!;
    const lastSuccess = async () => JSON.parse((await vault().getText('runs/last-success.json'))!) as { runId: string };
    const notVerified = expect.objectContaining({
      verdict: 'not-ready',
      sources: [expect.objectContaining({ reasons: ['its bundle was not verified in this run (verify left no result)'] })],
    });
    try {
      await pushCommit(origin, 'main', 'apps/guestbook/config.yaml', 'replicas: 3\n');
      const before = await lastSuccess();
      const { report, plan } = await runBackup('run-verify-lost', { skipVerify: () => true });
      expect(plan).toMatchObject({ changed: 1 });
      expect(report.result).toBe('PartiallyFailed');
      expect(report.repos).toEqual([expect.objectContaining({ status: 'mirrored', verified: false })]);
      expect(report.verification).toEqual([expect.objectContaining({ ok: false, errors: [expect.objectContaining({ id: 'verifyNoResult', message: expect.stringMatching(/verify step left no result for git\/.*guestbook\.bundle .*see the verify function's logs for run run-verify-lost$/) })] })]);
      expect(report.totals).toMatchObject({ bundlesVerified: 0, bundlesFailedVerification: 1, applicationsNotReady: 1 });
      expect(report.readiness?.applications).toEqual([notVerified]);
      expect(report.problems).toEqual(expect.arrayContaining([expect.stringMatching(/failed verification: the verify step left no result/)]));
      expect(await lastSuccess()).toEqual(before);

      // Unchanged now, but the Application asks something new: a readinessOnly item, whose verify is lost too.
      kube.put({ ...app, spec: { ...(app.spec as object), source: { repoURL: `${git.url}/org/guestbook.git`, path: 'apps/guestbook', targetRevision: 'v1.0' } } });
      const again = await runBackup('run-verify-lost-2', { skipVerify: () => true });
      expect(again.plan).toMatchObject({ items: 1, changed: 0 });
      expect(again.report.result).toBe('PartiallyFailed');
      expect(again.report.verification).toEqual([expect.objectContaining({ ok: false, errors: [expect.objectContaining({ id: 'verifyNoResult' })] })]);
      expect(again.report.readiness?.applications).toEqual([notVerified]);
      expect(await lastSuccess()).toEqual(before);
    } finally {
      kube.put(app);
      process.env.EXTRA_REPOS = JSON.stringify([`${git.url}/org/extra.git`]);
    }
  });

  it("checks restore readiness in the Lambda path: a force push that drops the app's path makes the run PartiallyFailed", async () => {
    process.env.EXTRA_REPOS = '[]';
    const before = (await gitRefs(origin)).get('refs/heads/main')!;
    try {
      await forcePushBranch(origin, 'main');
      const { report, logs } = await runBackup('run-rewritten');
      expect(report.result).toBe('PartiallyFailed');
      expect(report.totals).toMatchObject({ reposFailed: 0, bundlesFailedVerification: 0, applicationsNotReady: 1 });
      expect(report.readiness?.applications).toEqual([expect.objectContaining({
        application: 'argocd/guestbook',
        verdict: 'not-ready',
        sources: [expect.objectContaining({ reasons: [expect.stringMatching(/^path apps\/guestbook does not exist at main \([0-9a-f]{12}\)$/)] })],
      })]);
      expect(logs).toMatch(/"ApplicationsNotReady":1/);
    } finally {
      await git_(['update-ref', 'refs/heads/main', before], { cwd: origin });
      process.env.EXTRA_REPOS = JSON.stringify([`${git.url}/org/extra.git`]);
    }
  });

  it('runs the weekly verify sweep over every stored bundle, without counting it as a backup', async () => {
    const output: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      output.push(String(chunk));
      return true;
    });
    try {
      const plan = await planHandler({ runId: 'sweep-1', sweep: 'verify' }, context) as PlanStepResult;
      const items = JSON.parse((await openStore(storeDir).getText(plan.itemsKey))!) as { runId: string; bundle: string }[];
      expect(items.map((item) => item.bundle)).toEqual([expect.stringMatching(/org\/guestbook\.bundle$/)]);
      for (const item of items) await verifyHandler(item, context);
      await reportHandler({ runId: 'sweep-1', sweep: 'verify', plan }, context);
    } finally {
      spy.mockRestore();
    }
    const report = JSON.parse((await openStore(storeDir).getText('runs/sweep-1.json'))!) as RunReport;
    expect(report).toMatchObject({ kind: 'verify-sweep', result: 'Succeeded', totals: { bundlesVerified: 1, bundlesFailedVerification: 0 } });
    expect(output.join('')).not.toMatch(/"RunSucceeded"/);
    expect(output.join('')).toMatch(/"BundlesVerified":1/);
  });

  it('counts a planned repo whose mirror left no result as failed', async () => {
    const store = openStore(storeDir);
    await store.put('runs/run-lost/plan-items.json', JSON.stringify([{ runId: 'run-lost', url: `${git.url}/org/lost.git` }]));
    await reportHandler({ runId: 'run-lost', exports: [{ cluster: 'prod-eks', status: 'unchanged', manifest: 'argocd/prod-eks/manifest.json' }] }, context);
    const report = JSON.parse((await store.getText('runs/run-lost.json'))!) as RunReport;
    expect(report.result).toBe('PartiallyFailed');
    expect(report.repos).toEqual([expect.objectContaining({ status: 'failed', error: expect.stringMatching(/left no result/) })]);
  });

  it('counts a bundle the sweep planned but never verified as failed, and a failed sweep map as Failed', async () => {
    const store = openStore(storeDir);
    await store.put('runs/sweep-lost/plan-items.json', JSON.stringify([{ runId: 'sweep-lost', bundle: 'git/example/lost.bundle' }]));
    await reportHandler({ runId: 'sweep-lost', sweep: 'verify' }, context);
    const lost = JSON.parse((await store.getText('runs/sweep-lost.json'))!) as RunReport;
    expect(lost).toMatchObject({ result: 'PartiallyFailed', totals: { bundlesFailedVerification: 1 } });
    await reportHandler({ runId: 'sweep-broken', sweep: 'verify', verifyError: { Error: 'States.ItemReaderFailed' } }, context);
    expect(JSON.parse((await store.getText('runs/sweep-broken.json'))!)).toMatchObject({ result: 'Failed', planError: expect.stringMatching(/verify step failed/) });
  });

  it('reports Failed when the plan step failed, even though the export worked', async () => {
    await reportHandler({ runId: 'run-no-plan', exports: [{ cluster: 'prod-eks', status: 'unchanged', manifest: 'argocd/prod-eks/manifest.json' }], planError: { Error: 'Lambda.Timeout', Cause: 'Task timed out' } }, context);
    const report = JSON.parse((await openStore(storeDir).getText('runs/run-no-plan.json'))!) as RunReport;
    expect(report).toMatchObject({ result: 'Failed', planError: expect.stringMatching(/plan step failed: Lambda\.Timeout/) });
  });

  it('reports Failed when the cluster refuses the token', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = `${planted.secretAccessKey}-wrong`;
    try {
      const { report, plan } = await runBackup('run-4');
      expect(report.result).toBe('Failed');
      // The cluster's last manifest still names its repos: the Git side is still checked.
      expect(plan.changed + plan.unchanged).toBe(1);
      expect(report.clusters[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/401/) });
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = planted.secretAccessKey;
    }
  });
});

describe('ssh repositories and the extra repositories secret, through the Lambda handlers', () => {
  const SECRET = 'argocd-dr/extra-repos';
  let sshd: SshGitServer;
  let endpoint: GetSecretValueEndpoint;
  let key: { privateKey: string; publicKey: string };
  let appUrl: string;
  let extraUrl: string;
  const objects: KubeObject[] = [];
  let env: NodeJS.ProcessEnv;
  const keyLines = () => key.privateKey.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));

  beforeAll(async () => {
    env = { ...process.env };
    const root = await tempDir('handler-ssh-origins');
    await createRichRepo(root, 'org/ssh-app.git');
    await createRichRepo(root, 'org/extra-ssh.git');
    key = await generateSshKey('ed25519');
    sshd = await startSshGitServer({ root, authorizedKeys: [key.publicKey] });
    appUrl = sshd.url('org/ssh-app.git');
    extraUrl = sshd.url('org/extra-ssh.git');
    endpoint = await startGetSecretValueEndpoint({
      keys: { [planted.accessKeyId]: planted.secretAccessKey },
      secrets: { [SECRET]: JSON.stringify([{ url: `ssh://${sshd.user}@127.0.0.1:${sshd.port}/org/extra`, sshPrivateKey: key.privateKey }]) },
      denied: ['forbidden'],
    });
    const metadata = (name: string, labels: Record<string, string> = {}) => ({ name, namespace: 'argocd', labels });
    objects.push(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: metadata('argocd-ssh-known-hosts-cm'), data: { ssh_known_hosts: `${sshd.knownHostsLine}\n` } },
      { apiVersion: 'v1', kind: 'Secret', metadata: metadata('ssh-app-repo', { 'argocd.argoproj.io/secret-type': 'repository' }), data: { url: Buffer.from(appUrl).toString('base64'), sshPrivateKey: Buffer.from(key.privateKey).toString('base64') } },
      { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: metadata('ssh-app'), spec: { project: 'default', source: { repoURL: appUrl, path: 'apps/guestbook', targetRevision: 'main' }, destination: { server: 'https://kubernetes.default.svc', namespace: 'ssh-app' } } },
    );
    kube.putAll(objects);
    Object.assign(process.env, { EXTRA_REPOS: JSON.stringify([extraUrl]), EXTRA_REPOS_SECRET: SECRET, AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint.url });
  }, 60_000);

  afterAll(async () => {
    for (const object of objects) kube.remove({ apiVersion: object.apiVersion, kind: object.kind, namespace: 'argocd', name: object.metadata.name });
    process.env = { ...env };
    await Promise.all([sshd?.close(), endpoint?.close()]);
  });

  it('mirrors an Application\'s ssh repo with its Secret\'s key and an extra ssh repo with the secret\'s, host keys from the export', async () => {
    const { report, plan, logs } = await runBackup('ssh-run-1');
    const repo = (url: string) => report.repos.find((r) => r.url === url);
    expect(repo(appUrl)).toMatchObject({ status: 'mirrored', verified: true, credentialsFrom: 'ssh-app-repo', bundle: `git/127.0.0.1:${sshd.port}/org/ssh-app.bundle` });
    expect(repo(extraUrl)).toMatchObject({ status: 'mirrored', verified: true, credentialsFrom: `extra repositories secret ${SECRET}` });
    expect(report.readiness?.applications.find((app) => app.application === 'argocd/ssh-app')).toMatchObject({ verdict: 'ready' });
    // The plan and the mirror function each read the secret, signed with the function's credentials.
    expect(endpoint.requests.map((request) => [request.secretId, request.status])).toEqual([[SECRET, 200], [SECRET, 200]]);
    // Items name the credentials; they never carry them.
    const items = await work().getText(plan.itemsKey);
    expect(JSON.parse(items!)).toEqual(expect.arrayContaining([
      expect.objectContaining({ url: extraUrl, extraCredentials: true, connectionFrom: ['prod-eks'] }),
      expect.objectContaining({ url: appUrl, credentials: { cluster: 'prod-eks', repoURL: appUrl, project: 'default' }, connectionFrom: ['prod-eks'] }),
    ]));
    const runFiles: string[] = [];
    for await (const name of vault().list(`runs/`)) runFiles.push((await vault().getText(name)) ?? '');
    for (const text of [logs, items!, JSON.stringify(report), ...runFiles]) {
      for (const secret of [key.privateKey, ...keyLines()]) expect(text).not.toContain(secret);
    }
  });

  it('fails the extra repo with the reason when the secret cannot be read, and mirrors the rest', async () => {
    process.env.EXTRA_REPOS_SECRET = 'forbidden';
    const { report } = await runBackup('ssh-run-denied');
    expect(report.result).toBe('PartiallyFailed');
    expect(report.repos.find((r) => r.url === extraUrl)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/not allowed to read the extra repositories secret "forbidden": the role needs secretsmanager:GetSecretValue/),
    });
    expect(report.repos.find((r) => r.url === appUrl)).toMatchObject({ status: 'unchanged' });
  });

  it('the mirror function alone: an ssh item whose host key the named cluster does not know fails with that message', async () => {
    const other = await startSshGitServer({ root: await tempDir('handler-ssh-other'), authorizedKeys: [key.publicKey] });
    try {
      const url = other.url('org/ssh-app.git');
      const result = await mirrorHandler({ runId: 'ssh-run-item', url, credentials: { cluster: 'prod-eks', repoURL: appUrl, project: 'default' }, connectionFrom: ['prod-eks'] }, context) as MirrorResult;
      expect(result).toMatchObject({ status: 'failed', error: expect.stringMatching(/SSH host key of \[127\.0\.0\.1\]:\d+ is unknown; add the server's public host key to argocd-ssh-known-hosts-cm/) });
    } finally {
      await other.close();
    }
  });
});

describe('an https repository written with a user name (https://myorg@dev.azure.com/…), through the Lambda handlers', () => {
  const PAT = 'PLANTED-azure-devops-pat-5e91c0';
  let server: GitHttpServer;
  let userUrl: string;
  const objects: KubeObject[] = [];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    env = { ...process.env };
    process.env.EXTRA_REPOS = '[]';
    const root = await tempDir('handler-user-origins');
    await createRichRepo(root, 'myorg/proj/_git/repo');
    server = await startGitHttpServer({ root, auth: { username: 'myorg', password: PAT } });
    userUrl = `${server.url.replace('://', '://myorg@')}/myorg/proj/_git/repo`;
    const metadata = (name: string, labels: Record<string, string> = {}) => ({ name, namespace: 'argocd', labels });
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    objects.push(
      // Argo CD matches this Secret to the Application's repoURL as written: its normalisation keeps the user.
      { apiVersion: 'v1', kind: 'Secret', metadata: metadata('azure-repo', { 'argocd.argoproj.io/secret-type': 'repository' }), data: { url: b64(userUrl), username: b64('myorg'), password: b64(PAT) } },
      { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: metadata('azure-app'), spec: { project: 'default', source: { repoURL: userUrl, path: 'apps/guestbook', targetRevision: 'main' }, destination: { server: 'https://kubernetes.default.svc', namespace: 'azure-app' } } },
    );
    kube.putAll(objects);
  }, 60_000);

  afterAll(async () => {
    for (const object of objects) kube.remove({ apiVersion: object.apiVersion, kind: object.kind, namespace: 'argocd', name: object.metadata.name });
    process.env = { ...env };
    await server?.close();
  });

  it('mirrors it with the repository Secret written for the user@ URL, and writes the user@ spelling nowhere', async () => {
    const { report, plan, logs } = await runBackup('user-run-1');
    const plainUrl = `${server.url}/myorg/proj/_git/repo`;
    expect(report.repos.find((repo) => repo.url === plainUrl)).toMatchObject({ status: 'mirrored', verified: true, credentialsFrom: 'azure-repo' });
    expect(report.readiness?.applications.find((app) => app.application === 'argocd/azure-app')).toMatchObject({ verdict: 'ready' });
    const items = (await work().getText(plan.itemsKey))!;
    const runFiles: string[] = [];
    for await (const name of vault().list('runs/')) runFiles.push((await vault().getText(name)) ?? '');
    for (const text of [logs, items, JSON.stringify(report), ...runFiles]) expect(text).not.toContain(PAT);
  });
});

describe('the same run with the vault and the work bucket in S3 (s3rver)', () => {
  let s3: S3rver;
  beforeAll(async () => {
    s3 = await startS3rver();
    Object.assign(process.env, {
      STORE: `s3://${s3.bucket}/vault`,
      WORK_BUCKET: s3.bucket,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      EXTRA_REPOS: '[]',
    });
    delete process.env.AWS_SESSION_TOKEN;
    vault = () => openStore(`s3://${s3.bucket}/vault`, { s3Client: s3.client });
    work = () => openStore(`s3://${s3.bucket}`, { s3Client: s3.client });
  });
  afterAll(async () => {
    vault = () => openStore(storeDir);
    work = () => openStore(storeDir);
    await s3?.close();
  });

  it('exports, mirrors, verifies and reports Succeeded, with the items in the work bucket', async () => {
    const { report, plan } = await runBackup('s3-run-1');
    expect(plan.itemsKey).toBe('runs/s3-run-1/plan-items.json');
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ result: 'Succeeded', totals: { reposMirrored: 1, bundlesVerified: 1, bundlesFailedVerification: 0 } });
    expect(await vault().head('argocd/prod-eks/export.yaml')).toBeDefined();
    expect(await work().head('runs/s3-run-1/plan-items.json')).toBeDefined();
  });
});
