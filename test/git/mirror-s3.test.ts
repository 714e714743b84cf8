import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorRepo } from '../../lambdas/git/mirror.js';
import { parseSidecar } from '../../lambdas/git/sidecar.js';
import { openStore } from '../../lambdas/store/open-store.js';
import { expectBundleMatchesOrigin } from '../support/bundle-oracle.js';
import { git, removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { createRichRepo, forcePushBranch } from '../../demo/origin-repos.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';

let s3: S3rver;
let server: GitHttpServer;
let origins: { rich: string; large: string };
let hostKey: string;

/** An origin whose bundle spans several 8 MiB parts, so a cut lands mid multipart upload. */
async function createLargeRepo(root: string): Promise<string> {
  const origin = await createRichRepo(root, 'org/large.git');
  const work = await tempDir('large-work');
  await git(['clone', '-q', origin, work]);
  for (let i = 0; i < 3; i++) await writeFile(path.join(work, `blob-${i}.bin`), randomBytes(6 * 1024 * 1024));
  await git(['add', '-A'], { cwd: work });
  await git(['commit', '-q', '-m', 'large blobs'], { cwd: work });
  await git(['push', '-q', 'origin', 'main'], { cwd: work });
  return origin;
}

async function objectBytes(client: S3Client, key: string): Promise<Buffer> {
  const response = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

beforeAll(async () => {
  const root = await tempDir('s3-origins');
  origins = { rich: await createRichRepo(root, 'org/rich.git'), large: await createLargeRepo(root) };
  [s3, server] = await Promise.all([startS3rver(), startGitHttpServer({ root })]);
  hostKey = `git/127.0.0.1:${new URL(server.url).port}`;
});

afterAll(async () => {
  await Promise.all([s3?.close(), server?.close()]);
  await removeTempDirs();
});

describe('mirror into S3 (s3rver)', () => {
  it('stores a bundle real git accepts and its sidecar under the prefix, then reports unchanged', async () => {
    const store = openStore(`s3://${s3.bucket}/backups`, { s3Client: s3.client });
    const url = `${server.url}/org/rich.git`;
    const first = await mirrorRepo(url, { store });
    expect(first).toMatchObject({ status: 'mirrored', bundle: `${hostKey}/org/rich.bundle` });

    const bundle = await objectBytes(s3.client, `backups/${hostKey}/org/rich.bundle`);
    const local = path.join(await tempDir('s3-bundle'), 'rich.bundle');
    await writeFile(local, bundle);
    await expectBundleMatchesOrigin(local, origins.rich);
    const sidecar = parseSidecar((await objectBytes(s3.client, `backups/${hostKey}/org/rich.json`)).toString('utf8'))!;
    expect(sidecar.bundleBytes).toBe(bundle.length);

    const before = server.requests.length;
    expect((await mirrorRepo(url, { store })).status).toBe('unchanged');
    expect(server.requests.slice(before).some((request) => request.requestBody.includes('command=fetch'))).toBe(false);
  });

  it('keeps the previous multipart bundle byte-identical when the connection is cut mid-upload', async () => {
    const store = openStore(`s3://${s3.bucket}/cut`, { s3Client: s3.client });
    const url = `${server.url}/org/large.git`;
    const first = await mirrorRepo(url, { store });
    expect(first.status).toBe('mirrored');
    expect(first.bytes).toBeGreaterThan(16 * 1024 * 1024);
    const key = `cut/${first.bundle!}`;
    const before = await objectBytes(s3.client, key);
    const sidecarBefore = await objectBytes(s3.client, key.replace(/\.bundle$/, '.json'));

    await forcePushBranch(origins.large, 'feature/login');
    server.setFault('org/large.git', { kind: 'cut', afterBytes: 12 * 1024 * 1024 });
    try {
      const cut = await mirrorRepo(url, { store });
      expect(cut.status).toBe('failed');
      expect(cut.error).toMatch(/closed by the server|ended before the pack was complete/);
    } finally {
      server.setFault('org/large.git', undefined);
    }
    expect((await objectBytes(s3.client, key)).equals(before)).toBe(true);
    expect((await objectBytes(s3.client, key.replace(/\.bundle$/, '.json'))).equals(sidecarBefore)).toBe(true);

    const next = await mirrorRepo(url, { store });
    expect(next.status).toBe('mirrored');
    const local = path.join(await tempDir('s3-bundle'), 'large.bundle');
    await writeFile(local, await objectBytes(s3.client, key));
    await expectBundleMatchesOrigin(local, origins.large);
  });

  it('works from the command line with the endpoint and credentials from the environment', async () => {
    const url = `${server.url}/org/rich.git`;
    const { stdout } = await promisify(execFile)(process.execPath, [path.resolve('bin/argocd-dr.js'), 'mirror', '--json', '--store', `s3://${s3.bucket}/cli`, url], {
      env: {
        ...process.env,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_REGION: 'us-east-1',
      },
    });
    const report = JSON.parse(stdout) as { repos: Array<{ status: string; bundle: string }> };
    expect(report.repos[0]).toMatchObject({ status: 'mirrored', bundle: `${hostKey}/org/rich.bundle` });
    expect((await objectBytes(s3.client, `cli/${hostKey}/org/rich.bundle`)).subarray(0, 15).toString()).toBe('# v2 git bundle');
  });
});
