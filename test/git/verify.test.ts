import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorRepo } from '../../lambdas/git/mirror.js';
import { BundleRevisions } from '../../lambdas/git/verify/revision.js';
import { verifyBundleFile } from '../../lambdas/git/verify/verify.js';
import { verifyStore } from '../../lambdas/git/verify/verify-store.js';
import { openStore } from '../../lambdas/store/open-store.js';
import { argocdDr } from '../support/cli.js';
import { bundleBytes, encodeDeltaVarint, encodeEntryHeader, withTrailer } from '../support/corrupt-bundles.js';
import { git, gitRefs, reachableObjects, removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { createRichRepo } from '../../demo/origin-repos.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';

let server: GitHttpServer;
let rich: string;
let hostKey: string;

/** A repository with Git LFS pointer files, written by hand as git-lfs would (git-lfs itself is not needed). */
async function createLfsRepo(root: string): Promise<string> {
  const work = await tempDir('lfs-work');
  await git(['init', '-q', '-b', 'main', work]);
  await writeFile(path.join(work, '.gitattributes'), '*.bin filter=lfs diff=lfs merge=lfs -text\n');
  for (const [name, size] of [['a.bin', 1000], ['b.bin', 2500]] as const) {
    await writeFile(path.join(work, name), `version https://git-lfs.github.com/spec/v1\noid sha256:${name.charCodeAt(0).toString(16).repeat(32).slice(0, 64)}\nsize ${size}\n`);
  }
  await git(['add', '-A'], { cwd: work });
  await git(['commit', '-q', '-m', 'lfs'], { cwd: work });
  const bare = path.join(root, 'org/lfs.git');
  await git(['clone', '-q', '--bare', work, bare]);
  return bare;
}

async function mirroredStore(...repos: string[]) {
  const dir = await tempDir('verify-store');
  const store = openStore(dir);
  for (const repo of repos) expect((await mirrorRepo(`${server.url}/org/${repo}.git`, { store })).status).toBe('mirrored');
  return { dir, store };
}

beforeAll(async () => {
  const root = await tempDir('verify-origins');
  rich = await createRichRepo(root, 'org/rich.git');
  await createLfsRepo(root);
  server = await startGitHttpServer({ root });
  hostKey = `git/127.0.0.1:${new URL(server.url).port}`;
});

afterAll(async () => {
  await server?.close();
  await removeTempDirs();
});

describe('verify a mirrored store', () => {
  it('passes every bundle, counts its objects and agrees with the sidecars', async () => {
    const { store } = await mirroredStore('rich', 'lfs');
    const reports = await verifyStore(store);
    expect(reports.map((report) => [report.bundle, report.ok])).toEqual([[`${hostKey}/org/lfs.bundle`, true], [`${hostKey}/org/rich.bundle`, true]]);
    const richReport = reports[1]!;
    expect(richReport.objects).toBe((await reachableObjectsOfHeadsAndTags(rich)).size);
    expect(richReport.errors).toEqual([]);
    // The rich fixture has a .gitmodules, a symlink and a gitlink: clean under git's strict checks.
    expect(richReport.warnings).toEqual([]);
  });

  it('warns about LFS pointers at the ref tips, with their count and size', async () => {
    const { store } = await mirroredStore('lfs');
    const [report] = await verifyStore(store);
    expect(report!.ok).toBe(true);
    expect(report!.warnings).toEqual([expect.objectContaining({ id: 'lfsPointers', message: expect.stringMatching(/^2 Git LFS pointer files .*3500 bytes/) })]);
  });

  it('fails a bundle whose sidecar disagrees, and a sidecar whose bundle is gone', async () => {
    const { dir, store } = await mirroredStore('rich', 'lfs');
    const sidecarPath = path.join(dir, `${hostKey}/org/rich.json`);
    const sidecar = JSON.parse(await readFile(sidecarPath, 'utf8'));
    sidecar.refs['refs/heads/main'] = '0'.repeat(40);
    sidecar.bundleSha256 = 'f'.repeat(64);
    await writeFile(sidecarPath, JSON.stringify(sidecar));
    await rm(path.join(dir, `${hostKey}/org/lfs.bundle`));
    const reports = await verifyStore(store);
    expect(reports.map((report) => [report.bundle, report.ok, report.errors.map((error) => error.id).sort()])).toEqual([
      [`${hostKey}/org/lfs.bundle`, false, ['bundleMissing']],
      [`${hostKey}/org/rich.bundle`, false, ['sidecarRefs', 'sidecarSha256']],
    ]);
  });

  it('gives the same verdicts with delta resolution spread over worker threads', async () => {
    const { dir } = await mirroredStore('rich');
    const file = path.join(dir, `${hostKey}/org/rich.bundle`);
    const [single, threaded] = await Promise.all([verifyBundleFile(file, { workers: 1 }), verifyBundleFile(file, { workers: 2 })]);
    expect({ ...threaded, seconds: 0 }).toEqual({ ...single, seconds: 0 });
    expect(threaded.ok).toBe(true);
  });
});

describe('hostile packs', () => {
  it('gives a verdict quickly on duplicated objects whose REF deltas would resolve again and again', async () => {
    // Each level holds two identical REF deltas on the previous level's object, which is itself
    // duplicated: resolving children by id without claiming them once would take 2^40 steps.
    const levels = 40;
    const blobId = (content: Buffer) => createHash('sha1').update(`blob ${content.length}\0`).update(content).digest();
    const entries: Buffer[] = [];
    let content = Buffer.from('base\n');
    const whole = Buffer.concat([encodeEntryHeader(3, content.length), deflateSync(content)]);
    entries.push(whole, whole);
    for (let level = 1; level <= levels; level++) {
      const base = content;
      content = Buffer.concat([base, Buffer.from('x')]);
      // Copy the whole base (offset 0, size in two bytes), then insert one byte.
      const delta = Buffer.concat([encodeDeltaVarint(base.length), encodeDeltaVarint(content.length), Buffer.from([0x80 | 0x10 | 0x20, base.length & 0xff, base.length >> 8, 1, 0x78])]);
      const entry = Buffer.concat([encodeEntryHeader(7, delta.length), blobId(base), deflateSync(delta)]);
      entries.push(entry, entry);
    }
    const header = Buffer.alloc(12);
    header.write('PACK');
    header.writeUInt32BE(2, 4);
    header.writeUInt32BE(entries.length, 8);
    const file = path.join(await tempDir('hostile'), 'dup.bundle');
    await writeFile(file, bundleBytes({ refs: [[blobId(content).toString('hex'), 'refs/tags/blob']], pack: withTrailer(Buffer.concat([header, ...entries])) }));
    const started = performance.now();
    const report = await verifyBundleFile(file, { sidecar: null });
    expect(performance.now() - started).toBeLessThan(5000);
    expect(report.ok).toBe(false);
    expect(report.errors.map((error) => error.id)).toContain('duplicateObject');
  });
});

describe('revisions in a verified bundle', () => {
  let revisions: BundleRevisions;
  let refs: Map<string, string>;
  beforeAll(async () => {
    const { dir } = await mirroredStore('rich');
    const opened = await BundleRevisions.open(path.join(dir, `${hostKey}/org/rich.bundle`));
    expect(opened.report.ok).toBe(true);
    revisions = opened.revisions!;
    refs = await gitRefs(rich);
  });
  afterAll(() => revisions?.close());

  const peeled = (ref: string) => git(['rev-parse', `${ref}^{commit}`], { cwd: rich }).then((out) => out.trim());

  it('resolves HEAD, branches, annotated tags, a tag of a tag, and full and short commit ids', async () => {
    expect(revisions.resolve('HEAD')).toEqual({ commit: refs.get('refs/heads/main'), ref: 'HEAD' });
    expect(revisions.resolve('')).toEqual({ commit: refs.get('refs/heads/main'), ref: 'HEAD' });
    expect(revisions.resolve('feature/login')).toEqual({ commit: refs.get('refs/heads/feature/login'), ref: 'refs/heads/feature/login' });
    expect(revisions.resolve('v1.0')).toEqual({ commit: await peeled('v1.0'), ref: 'refs/tags/v1.0' });
    expect(revisions.resolve('v1.0-signed-off')).toEqual({ commit: await peeled('v1.0-signed-off'), ref: 'refs/tags/v1.0-signed-off' });
    expect(revisions.resolve('refs/heads/release/1.x/hotfix')).toMatchObject({ commit: refs.get('refs/heads/release/1.x/hotfix') });
    const main = refs.get('refs/heads/main')!;
    expect(revisions.resolve(main)).toEqual({ commit: main });
    expect(revisions.resolve(main.slice(0, 7))).toEqual({ commit: main });
  });

  it('says why a revision does not resolve', () => {
    expect(revisions.resolve('no-such-branch')).toEqual({ error: expect.stringMatching(/neither a branch, a tag nor a commit/) });
    expect(revisions.resolve('blob-tag')).toEqual({ error: expect.stringMatching(/does not point at a commit/) });
    expect(revisions.resolve('deadbeef')).toEqual({ error: expect.stringMatching(/no commit deadbeef/) });
  });

  it('tells whether a path exists at a commit', () => {
    const main = refs.get('refs/heads/main')!;
    expect(revisions.pathExists(main, 'apps/guestbook')).toBe(true);
    expect(revisions.pathExists(main, 'apps/guestbook/service.yaml')).toBe(true);
    expect(revisions.pathExists(main, '/apps/guestbook/')).toBe(true);
    expect(revisions.pathExists(main, 'apps/missing')).toBe(false);
    expect(revisions.pathExists(main, 'README.md/inside-a-file')).toBe(false);
    expect(revisions.pathExists('0'.repeat(40), 'apps')).toBe(false);
  });
});

describe('argocd-dr verify', () => {
  it('exits 0 with one JSON document for a good store and 1 once a bundle is damaged', async () => {
    const { dir } = await mirroredStore('rich');
    const good = await argocdDr(['verify', '--json', dir]);
    expect(good.code).toBe(0);
    const report = JSON.parse(good.stdout) as { bundles: Array<Record<string, unknown>> };
    expect(report.bundles).toEqual([{ bundle: `${hostKey}/org/rich.bundle`, ok: true, objects: expect.any(Number), errors: [], warnings: [], seconds: expect.any(Number) }]);

    const file = path.join(dir, `${hostKey}/org/rich.bundle`);
    const bytes = await readFile(file);
    bytes[bytes.length - 30]! ^= 0x40;
    await writeFile(file, bytes);
    const bad = await argocdDr(['verify', file]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAILED/);
    expect(bad.stdout).toMatch(/0 of 1 bundles passed verification/);
  });

  it('exits 2 for a path that does not exist, and 1 for a store with no bundles', async () => {
    expect((await argocdDr(['verify', '/nonexistent/bundle'])).code).toBe(2);
    const empty = await tempDir('empty-store');
    const none = await argocdDr(['verify', empty]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no bundles found/);
    expect((await argocdDr(['verify', '--help'])).stdout).toMatch(/index-pack --strict/);
  });

  describe('with an S3 store', () => {
    let s3: S3rver;
    beforeAll(async () => {
      s3 = await startS3rver();
    });
    afterAll(async () => s3?.close());

    it('downloads and verifies every bundle under the prefix', async () => {
      const store = openStore(`s3://${s3.bucket}/dr`, { s3Client: s3.client });
      expect((await mirrorRepo(`${server.url}/org/rich.git`, { store })).status).toBe('mirrored');
      const result = await argocdDr(['verify', '--json', `s3://${s3.bucket}/dr`], {
        AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1',
      });
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout).bundles).toEqual([expect.objectContaining({ bundle: `${hostKey}/org/rich.bundle`, ok: true, warnings: [] })]);
    });
  });
});

async function reachableObjectsOfHeadsAndTags(repo: string): Promise<Set<string>> {
  const clone = path.join(await tempDir('count'), 'c.git');
  await git(['clone', '-q', '--mirror', repo, clone]);
  for (const ref of (await gitRefs(clone)).keys()) if (!/^refs\/(heads|tags)\//.test(ref)) await git(['update-ref', '-d', ref], { cwd: clone });
  return reachableObjects(clone);
}
