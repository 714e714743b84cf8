import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshInstallation, fullInstallation, leakedSecrets } from '../../demo/argocd-installation.js';
import { removeTempDirs, tempDir } from '../../demo/git.js';
import type { KubeObject } from '../../demo/kube/kube-api-server.js';
import { argocdDr } from '../support/cli.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';
import { ARGO, exportCluster, exportText, startCluster, type Cluster } from './restore-env.js';

const clusters: Cluster[] = [];
async function cluster(objects: readonly KubeObject[]): Promise<Cluster> {
  const started = await startCluster(objects);
  clusters.push(started);
  return started;
}
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let source: Cluster;
let store: string;
let first: string;
let second: string;
let between: string;
let before: string;

beforeAll(async () => {
  source = await cluster(fullInstallation());
  store = await tempDir('pit-store');
  before = new Date().toISOString();
  await pause(20);
  await exportCluster(source, store);
  first = await exportText(store);
  await pause(20);
  between = new Date().toISOString();
  await pause(20);
  // The change between the two backups: guestbook follows another revision, payments is gone.
  const guestbook = source.server.get({ apiVersion: ARGO, kind: 'Application', namespace: 'argocd', name: 'guestbook' })!;
  (guestbook.spec as { source: { targetRevision: string } }).source.targetRevision = 'v2.0.0';
  source.server.put(guestbook);
  source.server.remove({ apiVersion: ARGO, kind: 'Application', namespace: 'argocd', name: 'payments' });
  await exportCluster(source, store);
  second = await exportText(store);
  // A backup run that finished between the two exports, as the report step writes it.
  await mkdir(path.join(store, 'runs'), { recursive: true });
  await writeFile(path.join(store, 'runs', 'run-1.json'), JSON.stringify({
    schema: 1, kind: 'backup', runId: 'run-1', result: 'Succeeded', finishedAt: between, clusters: [{ cluster: 'prod', status: 'written' }], repos: [], verification: [],
    totals: { reposMirrored: 0, reposUnchanged: 0, reposFailed: 0, bundlesVerified: 0, bundlesFailedVerification: 0, bytesMirrored: 0 },
  }));
  // Runs that finished after the second export without writing one of prod: one failed it, one did not export it.
  for (const [runId, clusters, later] of [['run-2', [{ cluster: 'prod', status: 'failed' }], 1000], ['run-3', [{ cluster: 'staging', status: 'written' }], 2000]] as const) {
    await writeFile(path.join(store, 'runs', `${runId}.json`), JSON.stringify({
      schema: 1, kind: 'backup', runId, result: 'Failed', finishedAt: new Date(Date.now() + later).toISOString(), clusters, repos: [], verification: [],
      totals: { reposMirrored: 0, reposUnchanged: 0, reposFailed: 0, bundlesVerified: 0, bundlesFailedVerification: 0, bytesMirrored: 0 },
    }));
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(clusters.map((c) => c.server.close()));
  await removeTempDirs();
});

async function restoredExport(args: string[]): Promise<{ code: number; text?: string; output: string }> {
  const target = await cluster(freshInstallation());
  const result = await argocdDr(['restore', '--store', store, '--kubeconfig', target.kubeconfig, ...args]);
  if (result.code !== 0) return { code: result.code, output: result.stdout + result.stderr };
  const out = await tempDir('pit-export');
  await exportCluster(target, out);
  return { code: 0, text: await exportText(out), output: result.stdout + result.stderr };
}

describe('point in time', () => {
  it('history lists both backups, newest first, and the run', async () => {
    expect(first).not.toBe(second);
    const result = await argocdDr(['history', '--store', store, '--json']);
    expect(result.code).toBe(0);
    const history = JSON.parse(result.stdout) as { clusters: { cluster: string; points: { writtenAt: string; latest: boolean; counts: Record<string, number> }[] }[]; runs: { runId: string; result: string }[] };
    expect(history.clusters.map((c) => c.cluster)).toEqual(['prod']);
    const points = history.clusters[0]!.points;
    expect(points.map((p) => p.latest)).toEqual([true, false]);
    expect(points[0]!.writtenAt > between && points[1]!.writtenAt < between).toBe(true);
    expect(points[1]!.counts.Application! - points[0]!.counts.Application!).toBe(1);
    expect(history.runs).toMatchObject([{ runId: 'run-3' }, { runId: 'run-2' }, { runId: 'run-1', result: 'Succeeded' }]);

    const text = await argocdDr(['history', '--store', store]);
    expect(text.stdout).toMatch(/^cluster prod \(.*\):\n {2}STORED +EXPORTED +ARGO CD +APPS +APPSETS +PROJECTS +SECRETS +SHA256/);
    expect(text.stdout).toContain('latest');
    expect(text.stdout).toMatch(/runs:\n {2}RUN +KIND +RESULT +FINISHED +CLUSTERS\n {2}run-3 .*\n {2}run-2 .*\n {2}run-1 +backup +Succeeded/);

    // A misspelt cluster is an error naming those the store has, not an empty history.
    const unknown = await argocdDr(['history', '--store', store, '--cluster', 'prdo']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`has no export of cluster "prdo"; it has: prod`);
  });

  it('--at between the backups restores the first state; no --at the second; --run the run\'s', async () => {
    const atFirst = await restoredExport(['--at', between]);
    expect(atFirst.output).toContain(`chosen for ${between}`);
    expect(atFirst.text).toBe(first);
    expect((await restoredExport([])).text).toBe(second);
    expect((await restoredExport(['--run', 'run-1'])).text).toBe(first);
    expect(leakedSecrets(atFirst.output)).toEqual([]);
  });

  it('--run of a run that failed to export the cluster, or did not export it, warns which earlier backup is restored instead', async () => {
    for (const [runId, said] of [['run-2', 'failed to export'], ['run-3', 'did not export']]) {
      const restored = await restoredExport(['--run', runId!]);
      expect(restored.code).toBe(0);
      expect(restored.text).toBe(second);
      expect(restored.output).toMatch(new RegExp(`argocd-dr: warning: run ${runId} ${said} cluster prod: restoring instead the earlier backup exported \\S+ \\(stored \\S+\\)`));
    }
    // A run that exported the cluster restores without that warning.
    expect((await restoredExport(['--run', 'run-1'])).output).not.toContain('warning: run');
  });

  it('a time before every backup, an unknown run and a bad time are refused', async () => {
    const early = await restoredExport(['--at', before]);
    expect(early.code).toBe(1);
    expect(early.output).toMatch(/has no backup of cluster "prod" at or before .*; the oldest is from /);
    const run = await restoredExport(['--run', 'run-9']);
    expect(run.code).toBe(1);
    expect(run.output).toContain('has no run "run-9" (runs/run-9.json)');
    const bad = await restoredExport(['--at', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('--at "yesterday" is not an ISO 8601 time');
    const local = await restoredExport(['--at', '2026-03-01T12:00:00']);
    expect(local.code).toBe(2);
    expect(local.output).toContain('--at "2026-03-01T12:00:00" has no time zone: add Z for UTC');
  });

  it('an earlier export version that was damaged is refused, naming the version', async () => {
    const kept = path.join(store, '.versions', 'argocd', 'prod', 'export.yaml');
    const [version] = await readdir(kept);
    const file = path.join(kept, version!);
    const original = await readFile(file, 'utf8');
    const { atime, mtime } = await stat(file);
    // Damage that leaves the file's time alone, as bit rot or a bad copy would.
    await writeFile(file, original.replace('targetRevision: HEAD', 'targetRevision: EVIL'));
    await utimes(file, atime, mtime);
    try {
      const target = await cluster(freshInstallation());
      const result = await argocdDr(['restore', '--store', store, '--kubeconfig', target.kubeconfig, '--at', between]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`argocd/prod/export.yaml version ${version} (`);
      expect(result.stderr).toContain('the export is damaged or incomplete; nothing was applied');
      expect(target.server.requests).toEqual([]);
    } finally {
      await writeFile(file, original);
      await utimes(file, atime, mtime);
    }
  });
});

describe('restore from S3 (s3rver)', () => {
  let s3: S3rver;
  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => s3?.close());

  it('restores the latest backup from s3://; s3rver cannot list versions, which history says', async () => {
    const env = { AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
    const location = `s3://${s3.bucket}/dr`;
    const exported = await argocdDr(['export', '--kubeconfig', source.kubeconfig, '--store', location, '--cluster-name', 'prod'], env);
    expect(exported.code).toBe(0);
    const target = await cluster(freshInstallation());
    const restored = await argocdDr(['restore', '--store', location, '--kubeconfig', target.kubeconfig], env);
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    const out = await tempDir('pit-s3');
    await exportCluster(target, out);
    expect(await exportText(out)).toBe(second);
    const history = await argocdDr(['history', '--store', location], env);
    expect(history.code).toBe(0);
    expect(history.stdout).toContain('warning: only the latest backup is listed: Could not list the versions of');
    expect(history.stdout).toContain('latest');
  });
});
