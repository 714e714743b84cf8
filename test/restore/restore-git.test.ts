import { cp, mkdir, open, readFile, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git, gitHead, gitRefs, removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { issueCertificate, type IssuedCertificate } from '../../demo/git-http/test-certificates.js';
import { addTags, createEmptyRepo, createRichRepo, createSha256Repo, deleteTag, pushCommit } from '../../demo/origin-repos.js';
import { mirrorRepos } from '../../lambdas/git/mirror.js';
import { restoreGit, RestoreGitUsageError, type RestoreGitOptions } from '../../lambdas/restore/restore-git.js';
import { openStore } from '../../lambdas/store/open-store.js';
import { packOfBundle } from '../support/bundle-oracle.js';
import { argocdDr } from '../support/cli.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';

// The new host's password: planted, so that any output quoting it fails a test.
const PASSWORD = 'PLANTED-dr-host-push-password-4b1e';
const USERNAME = 'restorer';
const credentials = { username: USERNAME, password: PASSWORD };

let originRoot: string;
let targetRoot: string;
let origin: GitHttpServer;
/** The same origins at a second host: two repositories with one path. */
let secondOrigin: GitHttpServer;
/** The new Git host: pushes allowed, Basic auth required. */
let target: GitHttpServer;
/** A store holding bundles of org/rich, org/many, org/sha256 and org/empty mirrored from `origin`. */
let storeDir: string;
const origins: Record<string, string> = {};
const NAMES = ['org/empty', 'org/many', 'org/rich', 'org/sha256'];

beforeAll(async () => {
  originRoot = await tempDir('restore-git-origins');
  targetRoot = await tempDir('restore-git-targets');
  origins.rich = await createRichRepo(originRoot, 'org/rich.git');
  origins.many = await createRichRepo(originRoot, 'org/many.git');
  // Hundreds of refs: a long command list in one push.
  await addTags(origins.many, 400);
  origins.sha256 = await createSha256Repo(originRoot, 'org/sha256.git');
  origins.empty = await createEmptyRepo(originRoot, 'org/empty.git');
  origin = await startGitHttpServer({ root: originRoot });
  secondOrigin = await startGitHttpServer({ root: originRoot });
  target = await startGitHttpServer({ root: targetRoot, receivePack: true, auth: credentials });
  storeDir = await tempDir('restore-git-store');
  const mirrored = await mirrorRepos(NAMES.map((name) => `${origin.url}/${name}.git`), { store: openStore(storeDir), concurrency: 2 });
  expect(mirrored.map((result) => result.status).sort()).toEqual(['empty', 'mirrored', 'mirrored', 'mirrored']);
});

afterAll(async () => {
  await Promise.all([origin?.close(), secondOrigin?.close(), target?.close()]);
  await removeTempDirs();
});

const hostOf = (server: GitHttpServer) => new URL(server.url).host;

/** Empty bare repositories under targetRoot/<prefix>/ for the given paths, as a host's "new repository" gives. */
async function createTargets(prefix: string, names: readonly string[], initialBranch = 'main'): Promise<void> {
  for (const name of names) {
    const dir = path.join(targetRoot, prefix, `${name}.git`);
    await mkdir(path.dirname(dir), { recursive: true });
    const format = name.endsWith('sha256') ? 'sha256' : 'sha1';
    await git(['init', '-q', '--bare', `--initial-branch=${initialBranch}`, `--object-format=${format}`, dir]);
  }
}

const targetDir = (prefix: string, name: string) => path.join(targetRoot, prefix, `${name}.git`);

function restore(prefix: string, extra: Partial<RestoreGitOptions> = {}) {
  return restoreGit({ store: openStore(storeDir), to: `${target.url}/${prefix}/{path}.git`, credentials, ...extra });
}

let headsAndTagsCount: number;
beforeAll(async () => {
  headsAndTagsCount = Object.keys(headsAndTags(await gitRefs(origins.rich!))).length;
});

function headsAndTags(refs: Map<string, string>): Record<string, string> {
  return Object.fromEntries([...refs].filter(([name]) => /^refs\/(heads|tags)\//.test(name)).sort());
}

/** Receive-pack POSTs the target server has seen since `since` (an index into its request list). */
const pushesSince = (since: number) => target.requests.slice(since).filter((request) => request.method === 'POST' && request.path.endsWith('/git-receive-pack'));

describe('restore-git', () => {
  it('pushes every bundle into empty repositories: refs identical to the origin, fsck --strict clean, clones work', async () => {
    await createTargets('all', NAMES);
    const since = target.requests.length;
    const report = await restore('all');

    expect(report.repos.map((result) => [result.url, result.status])).toEqual([
      [`${origin.url}/org/empty.git`, 'empty'],
      [`${origin.url}/org/many.git`, 'restored'],
      [`${origin.url}/org/rich.git`, 'restored'],
      [`${origin.url}/org/sha256.git`, 'restored'],
    ]);
    expect(report.repos.every((result) => result.error === undefined)).toBe(true);
    expect(report.mapRepo).toEqual(NAMES.map((name) => `${origin.url}/${name}.git=${target.url}/all/${name}.git`));

    for (const name of ['many', 'rich', 'sha256']) {
      const restored = targetDir('all', `org/${name}`);
      const originRefs = headsAndTags(await gitRefs(origins[name]!));
      expect(headsAndTags(await gitRefs(restored))).toEqual(originRefs);
      expect(await gitRefs(restored)).toEqual(new Map(Object.entries(originRefs)));
      await git(['fsck', '--strict', '--no-dangling'], { cwd: restored });
      const result = report.repos.find((r) => r.url.endsWith(`/org/${name}.git`))!;
      expect(result.refs).toBe(Object.keys(originRefs).length);
      expect(result.head).toBe('refs/heads/main');
      // The new repositories were created with main as HEAD: nothing to set by hand.
      expect(result.headNote).toBeUndefined();
    }
    expect(await gitRefs(targetDir('all', 'org/empty'))).toEqual(new Map());

    // A clone from the new host over HTTP, as Argo CD would make it.
    const clone = path.join(await tempDir('restore-git-clone'), 'rich');
    const auth = `Authorization: Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}`;
    await git(['-c', `http.extraHeader=${auth}`, 'clone', '-q', `${target.url}/all/org/rich.git`, clone]);
    expect((await git(['rev-parse', 'HEAD'], { cwd: clone })).trim()).toBe((await gitRefs(origins.rich!)).get('refs/heads/main'));
    expect(await readFile(path.join(clone, 'apps/guestbook/service.yaml'), 'utf8')).toContain('ClusterIP');

    // The pack went out as the bundle holds it, byte for byte.
    const richPush = pushesSince(since).find((request) => request.path === '/all/org/rich.git/git-receive-pack')!;
    const bundlePack = await packOfBundle(path.join(storeDir, `git/${hostOf(origin)}/org/rich.bundle`));
    const body = richPush.requestBody;
    expect(body.subarray(body.indexOf('0000PACK') + 4)).toEqual(bundlePack);
    expect(body.toString('latin1')).toMatch(/\0report-status side-band-64k atomic agent=\S+ object-format=sha1\n/);
  });

  it('--dry-run gives the new URLs and --map-repo values from the store alone, sending nothing', async () => {
    const since = target.requests.length;
    const plan = await restore('planned', { dryRun: true });
    expect(plan.repos.map((result) => [result.status, result.target])).toEqual(NAMES.map((name) => ['planned', `${target.url}/planned/${name}.git`]));
    expect(plan.repos.find((result) => result.url.endsWith('/org/rich.git'))).toMatchObject({ refs: headsAndTagsCount, head: 'refs/heads/main' });
    expect(plan.mapRepo).toEqual(NAMES.map((name) => `${origin.url}/${name}.git=${target.url}/planned/${name}.git`));
    expect(target.requests.length).toBe(since);
  });

  it('is idempotent: a second run finds the refs in place, reports already-restored and pushes nothing', async () => {
    await createTargets('again', ['org/rich']);
    const first = await restore('again', { only: [`${origin.url}/org/rich.git`] });
    expect(first.repos.map((result) => result.status)).toEqual(['restored']);
    const since = target.requests.length;
    const second = await restore('again', { only: [`${origin.url}/org/rich.git`] });
    expect(second.repos).toMatchObject([{ status: 'already-restored', refs: first.repos[0]!.refs }]);
    expect(second.mapRepo).toEqual([`${origin.url}/org/rich.git=${target.url}/again/org/rich.git`]);
    expect(pushesSince(since)).toEqual([]);
  });

  it('refuses a repository that already holds other refs, and changes nothing in it', async () => {
    await createRichRepo(targetRoot, 'occupied/org/rich.git');
    await deleteTag(targetDir('occupied', 'org/rich'), 'v0.1');
    const before = await gitRefs(targetDir('occupied', 'org/rich'));
    const since = target.requests.length;
    const report = await restore('occupied', { only: ['git/' + hostOf(origin) + '/org/rich.bundle'] });
    expect(report.repos).toMatchObject([{ status: 'failed' }]);
    expect(report.repos[0]!.error).toMatch(/is not empty and its refs differ from the bundle's \(1 missing: refs\/tags\/v0\.1\)/);
    expect(report.repos[0]!.error).toMatch(/point --to at a new, empty repository/);
    expect(report.mapRepo).toEqual([]);
    expect(await gitRefs(targetDir('occupied', 'org/rich'))).toEqual(before);
    expect(pushesSince(since)).toEqual([]);
  });

  it('fails with a clear error on wrong or missing credentials, leaving the repository empty', async () => {
    await createTargets('auth', ['org/rich']);
    const wrong = await restore('auth', { only: [`${origin.url}/org/rich.git`], credentials: { username: USERNAME, password: 'not-the-password' } });
    expect(wrong.repos).toMatchObject([{ status: 'failed' }]);
    expect(wrong.repos[0]!.error).toMatch(/HTTP 401 .*rejected the credentials/);
    const none = await restore('auth', { only: [`${origin.url}/org/rich.git`], credentials: undefined });
    expect(none.repos[0]!.error).toMatch(/needs credentials; pass --username and --password \(or --token\)/);
    expect(await gitRefs(targetDir('auth', 'org/rich'))).toEqual(new Map());
    expect(JSON.stringify([wrong, none])).not.toContain(PASSWORD);
  });

  it('reports a push the server rejects as failed, and the atomic push leaves nothing half-restored', async () => {
    await createTargets('hook', ['org/rich']);
    // A server-side rule against one ref, as a protected-tag setting would be.
    const hook = path.join(targetDir('hook', 'org/rich'), 'hooks/update');
    await writeFile(hook, '#!/bin/sh\nif [ "$1" = refs/tags/v1.0 ]; then echo "tag v1.0 is protected" >&2; exit 1; fi\nexit 0\n');
    await chmod(hook, 0o755);
    const report = await restore('hook', { only: [`${origin.url}/org/rich.git`] });
    expect(report.repos).toMatchObject([{ status: 'failed' }]);
    expect(report.repos[0]!.error).toMatch(/the server rejected the push: refs\/tags\/v1\.0 \(hook declined\); the push is atomic, so none of its \d+ refs was created/);
    expect(await gitRefs(targetDir('hook', 'org/rich'))).toEqual(new Map());
  });

  it('fails when the new repository\'s refs, read back after the push, differ from the bundle\'s', async () => {
    await createTargets('rewrites', ['org/rich']);
    // A host that adds a ref of its own on every push. pre-receive, because post-receive runs only
    // after the report went out; its objects go to the repository, not the push's quarantine.
    const hook = path.join(targetDir('rewrites', 'org/rich'), 'hooks/pre-receive');
    await writeFile(hook, [
      '#!/bin/sh',
      'unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES',
      'commit=$(git commit-tree "$(git mktree </dev/null)" -m "added by the host")',
      'git update-ref refs/heads/added-by-host "$commit"',
      '',
    ].join('\n'));
    await chmod(hook, 0o755);
    const report = await restore('rewrites', { only: [`${origin.url}/org/rich.git`] });
    expect(report.repos).toMatchObject([{ status: 'failed' }]);
    expect(report.repos[0]!.error).toMatch(/after the push the new repository's refs differ from the bundle's \(1 extra: refs\/heads\/added-by-host\)/);
    expect(report.mapRepo).toEqual([]);
  });

  it('stops the push of a damaged bundle before it completes: nothing is created', async () => {
    const damagedStore = await tempDir('restore-git-damaged');
    await cp(storeDir, damagedStore, { recursive: true });
    const bundle = path.join(damagedStore, `git/${hostOf(origin)}/org/rich.bundle`);
    const handle = await open(bundle, 'r+');
    const { size } = await handle.stat();
    // One flipped byte in the middle of the pack: only the pack's checksum can tell.
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, size - 200);
    await handle.write(Buffer.from([byte[0]! ^ 0xff]), 0, 1, size - 200);
    await handle.close();
    await createTargets('damaged', ['org/rich']);
    const report = await restoreGit({ store: openStore(damagedStore), to: `${target.url}/damaged/{path}.git`, credentials, only: [`${origin.url}/org/rich.git`] });
    expect(report.repos).toMatchObject([{ status: 'failed' }]);
    expect(report.repos[0]!.error).toMatch(/stored bundle's pack is damaged .*no ref was created; run argocd-dr verify/);
    expect(await gitRefs(targetDir('damaged', 'org/rich'))).toEqual(new Map());
  });

  it('says to create the repository when the new host has none at that URL', async () => {
    const report = await restore('nowhere', { only: [`${origin.url}/org/rich.git`] });
    expect(report.repos[0]!.status).toBe('failed');
    expect(report.repos[0]!.error).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/nowhere\/org\/rich\.git: HTTP 404 .*create an empty one there first/);
  });

  it('refuses a SHA-256 bundle for a SHA-1 repository', async () => {
    await createTargets('format', ['org/sha256-as-sha1']);
    const report = await restoreGit({
      store: openStore(storeDir), to: `${target.url}/format/{path}-as-sha1.git`, credentials, only: [`${origin.url}/org/sha256.git`],
    });
    expect(report.repos[0]!.error).toMatch(/uses sha1 object ids but the bundle is sha256; create the repository with the bundle's object format/);
  });

  it('tells which default branch to set when the new repository\'s HEAD points elsewhere', async () => {
    await createTargets('head', ['org/rich'], 'master');
    const report = await restore('head', { only: [`${origin.url}/org/rich.git`] });
    expect(report.repos[0]).toMatchObject({ status: 'restored', head: 'refs/heads/main' });
    expect(report.repos[0]!.headNote).toMatch(/default branch is main but the new repository's HEAD points at master; a push cannot set HEAD: set the default branch to main/);
    expect(await gitHead(targetDir('head', 'org/rich'))).toBe('refs/heads/master');
  });

  it('builds target URLs from {host} and {path}, and refuses a template that sends two repositories to one URL', async () => {
    const store = openStore(await tempDir('restore-git-two-hosts'));
    await mirrorRepos([`${origin.url}/org/rich.git`, `${secondOrigin.url}/org/rich.git`], { store, concurrency: 2 });

    await expect(restoreGit({ store, to: `${target.url}/clash/{path}.git`, credentials })).rejects.toThrow(RestoreGitUsageError);
    await expect(restoreGit({ store, to: `${target.url}/clash/{path}.git`, credentials })).rejects.toThrow(/sends both .* use \{host\} and \{path\}/);

    const hosts = [hostOf(origin), hostOf(secondOrigin)];
    await createTargets('hosts', hosts.map((host) => `${host}/org/rich`));
    const report = await restoreGit({ store, to: `${target.url}/hosts/{host}/{path}.git`, credentials });
    expect(report.repos.map((result) => result.status)).toEqual(['restored', 'restored']);
    expect(report.mapRepo.sort()).toEqual(hosts.map((host) => `http://${host}/org/rich.git=${target.url}/hosts/${host}/org/rich.git`).sort());
    for (const host of hosts) expect(await gitRefs(targetDir('hosts', `${host}/org/rich`))).toEqual(await gitRefs(origins.rich!));
  });

  it('restores only the --only repositories, named by URL or store key, and rejects names it does not hold', async () => {
    await createTargets('only', NAMES);
    const report = await restore('only', { only: [`${origin.url}/org/rich`, `git/${hostOf(origin)}/org/many.json`] });
    expect(report.repos.map((result) => result.url)).toEqual([`${origin.url}/org/many.git`, `${origin.url}/org/rich.git`]);
    expect(await gitRefs(targetDir('only', 'org/sha256'))).toEqual(new Map());
    await expect(restore('only', { only: ['https://github.com/org/absent.git'] })).rejects.toThrow(/--only https:\/\/github\.com\/org\/absent\.git matches no repository in .* \(it holds/);
  });

  it('follows a redirect to a renamed repository: the push goes where the advertisement came from', async () => {
    await createTargets('renamed', ['org/rich']);
    target.setFault('moved/org/rich.git', { kind: 'redirect', toRepoPath: 'renamed/org/rich.git' });
    try {
      const since = target.requests.length;
      const report = await restore('moved', { only: [`${origin.url}/org/rich.git`] });
      expect(report.repos).toMatchObject([{ status: 'restored', target: `${target.url}/moved/org/rich.git` }]);
      expect(pushesSince(since).map((request) => request.path)).toEqual(['/renamed/org/rich.git/git-receive-pack']);
      expect(await gitRefs(targetDir('renamed', 'org/rich'))).toEqual(await gitRefs(origins.rich!));
    } finally {
      target.setFault('moved/org/rich.git', undefined);
    }
  });

  it('does not send the credentials to another host a redirect points at', async () => {
    // The other host takes the same password, so only the missing Authorization header can stop the push.
    const other = await startGitHttpServer({ root: targetRoot, receivePack: true, auth: credentials });
    await createTargets('elsewhere', ['org/rich']);
    target.setFault('away/org/rich.git', { kind: 'redirect', toRepoPath: 'elsewhere/org/rich.git', toOrigin: other.url.replace('127.0.0.1', 'localhost') });
    try {
      const report = await restore('away', { only: [`${origin.url}/org/rich.git`] });
      expect(report.repos[0]!.error).toMatch(/HTTP 401 .*needs credentials/);
      expect(other.requests.length).toBeGreaterThan(0);
      expect(other.requests.every((request) => request.status === 401)).toBe(true);
      expect(await gitRefs(targetDir('elsewhere', 'org/rich'))).toEqual(new Map());
    } finally {
      target.setFault('away/org/rich.git', undefined);
      await other.close();
    }
  });

  it.each([
    ['ftp://git.dr.example/{path}.git', /unsupported scheme ftp/],
    ['ssh://git@git.dr.example/{path}.git', /restore-git pushes over HTTPS only/],
    ['git@git.dr.example:{path}.git', /restore-git pushes over HTTPS only/],
    ['https://git.dr.example/{repo}.git', /unknown placeholder \{repo\}/],
    ['not a url', /is not a URL/],
  ])('rejects the template %s before doing anything', async (to, message) => {
    await expect(restoreGit({ store: openStore(storeDir), to })).rejects.toThrow(message);
  });
});

describe('restore-git from an S3 store (s3rver)', () => {
  let s3: S3rver;
  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('streams the bundle from S3 into the new repository', async () => {
    const store = openStore(`s3://${s3.bucket}/backups`, { s3Client: s3.client });
    expect((await mirrorRepos([`${origin.url}/org/rich.git`], { store, concurrency: 1 }))[0]!.status).toBe('mirrored');
    await createTargets('from-s3', ['org/rich']);
    const report = await restoreGit({ store, to: `${target.url}/from-s3/{path}.git`, credentials });
    expect(report.repos).toMatchObject([{ status: 'restored', bundle: `git/${hostOf(origin)}/org/rich.bundle` }]);
    expect(await gitRefs(targetDir('from-s3', 'org/rich'))).toEqual(await gitRefs(origins.rich!));
    await git(['fsck', '--strict', '--no-dangling'], { cwd: targetDir('from-s3', 'org/rich') });
  });
});

describe('restore-git to an HTTPS host whose certificate a private CA signed, with a bearer token', () => {
  const BEARER = 'PLANTED-dr-host-bearer-token-91c7';
  let certificate: IssuedCertificate;
  let secure: GitHttpServer;
  let secureRoot: string;
  beforeAll(async () => {
    certificate = await issueCertificate('server');
    secureRoot = await tempDir('restore-git-https');
    secure = await startGitHttpServer({ root: secureRoot, receivePack: true, tls: certificate, bearerToken: BEARER });
  }, 60_000);
  afterAll(async () => {
    await secure?.close();
  });

  async function createSecureTarget(name: string): Promise<string> {
    const dir = path.join(secureRoot, `${name}.git`);
    await mkdir(path.dirname(dir), { recursive: true });
    await git(['init', '-q', '--bare', '--initial-branch=main', dir]);
    return dir;
  }

  it('fails without the CA, saying where to add it, and pushes nothing', async () => {
    const dir = await createSecureTarget('no-ca/org/rich');
    const report = await restoreGit({ store: openStore(storeDir), to: `${secure.url}/no-ca/{path}.git`, credentials: { bearerToken: BEARER }, only: [`${origin.url}/org/rich.git`] });
    expect(report.repos[0]!.error).toMatch(/TLS failure talking to 127\.0\.0\.1:\d+: .*add the CA that signed the server's certificate .*\(--ca-cert\)/);
    expect(await gitRefs(dir)).toEqual(new Map());
  });

  it('restores with the CA and the bearer token; the token never shows', async () => {
    const dir = await createSecureTarget('ca/org/rich');
    const report = await restoreGit({
      store: openStore(storeDir), to: `${secure.url}/ca/{path}.git`, credentials: { bearerToken: BEARER },
      context: { tlsCerts: { '127.0.0.1': certificate.caPem } }, only: [`${origin.url}/org/rich.git`],
    });
    expect(report.repos).toMatchObject([{ status: 'restored' }]);
    expect(await gitRefs(dir)).toEqual(await gitRefs(origins.rich!));
    const wrong = await restoreGit({
      store: openStore(storeDir), to: `${secure.url}/ca/{path}.git`, credentials: { bearerToken: `${BEARER}-old` },
      context: { tlsCerts: { '127.0.0.1': certificate.caPem } }, only: [`${origin.url}/org/rich.git`],
    });
    expect(wrong.repos[0]!.error).toMatch(/HTTP 401 .*rejected the credentials \(a bearer token\); check the token is right, not expired, and allowed to write to this repository/);
    expect(JSON.stringify([report, wrong])).not.toContain(BEARER);
  });

  it('argocd-dr restore-git --ca-cert with ARGOCD_DR_GIT_BEARER_TOKEN', async () => {
    const dir = await createSecureTarget('cli/org/rich');
    const caFile = path.join(await tempDir('restore-git-ca'), 'ca.pem');
    await writeFile(caFile, certificate.caPem);
    const args = ['restore-git', '--store', storeDir, '--to', `${secure.url}/cli/{path}.git`, '--only', `${origin.url}/org/rich.git`, '--ca-cert', caFile];
    const result = await argocdDr(args, { ARGOCD_DR_GIT_BEARER_TOKEN: BEARER });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`--map-repo ${origin.url}/org/rich.git=${secure.url}/cli/org/rich.git`);
    expect(await gitRefs(dir)).toEqual(await gitRefs(origins.rich!));
    expect(`${result.stdout}${result.stderr}`).not.toContain(BEARER);
  });
});

describe('argocd-dr restore-git', () => {
  it('restores the store, prints the --map-repo values, and never the password', async () => {
    await createTargets('cli', NAMES);
    const env = { ARGOCD_DR_GIT_USERNAME: USERNAME, ARGOCD_DR_GIT_PASSWORD: PASSWORD };
    const result = await argocdDr(['restore-git', '--store', storeDir, '--to', `${target.url}/cli/{path}.git`], env);
    // One line per repository as it finishes, in whatever order they finish.
    expect(result.stderr.split('\n').filter(Boolean).sort()).toEqual(
      NAMES.map((name) => `${name === 'org/empty' ? 'empty' : 'restored'} ${origin.url}/${name}.git → ${target.url}/cli/${name}.git`).sort(),
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^STATUS\s+REPOSITORY\s+NEW URL\s+REFS/);
    expect(result.stdout).toContain('0 failed');
    for (const name of NAMES) expect(result.stdout).toContain(`  --map-repo ${origin.url}/${name}.git=${target.url}/cli/${name}.git\n`);

    const again = await argocdDr(['restore-git', '--store', storeDir, '--to', `${target.url}/cli/{path}.git`, '--only', `${origin.url}/org/rich.git`, '--json'], env);
    expect(again.code).toBe(0);
    const report = JSON.parse(again.stdout) as { repos: { status: string; url: string }[]; mapRepo: string[] };
    expect(report.repos).toMatchObject([{ status: 'already-restored', url: `${origin.url}/org/rich.git` }]);
    expect(report.mapRepo).toEqual([`${origin.url}/org/rich.git=${target.url}/cli/org/rich.git`]);
    expect(`${result.stdout}${result.stderr}${again.stdout}${again.stderr}`).not.toContain(PASSWORD);
  });

  it('--at and --run push each bundle as it was at that point in time', async () => {
    const pitOrigin = await createRichRepo(originRoot, 'org/pit.git');
    const pitStore = await tempDir('restore-git-pit-store');
    const url = `${origin.url}/org/pit.git`;
    expect((await mirrorRepos([url], { store: openStore(pitStore), concurrency: 1 }))[0]!.status).toBe('mirrored');
    const first = headsAndTags(await gitRefs(pitOrigin));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const between = new Date();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await pushCommit(pitOrigin, 'main', 'later.txt', 'written after the point in time\n');
    expect((await mirrorRepos([url], { store: openStore(pitStore), concurrency: 1 }))[0]!.status).toBe('mirrored');
    expect(headsAndTags(await gitRefs(pitOrigin))).not.toEqual(first);

    await createTargets('pit-at', ['org/pit']);
    await createTargets('pit-latest', ['org/pit']);
    const env = { ARGOCD_DR_GIT_USERNAME: USERNAME, ARGOCD_DR_GIT_PASSWORD: PASSWORD };
    const atResult = await argocdDr(['restore-git', '--store', pitStore, '--to', `${target.url}/pit-at/{path}.git`, '--at', between.toISOString()], env);
    expect(atResult.stderr).toBe(`restored ${url} → ${target.url}/pit-at/org/pit.git\n`);
    expect(atResult.code).toBe(0);
    expect(headsAndTags(await gitRefs(targetDir('pit-at', 'org/pit')))).toEqual(first);
    expect((await git(['fsck', '--strict'], { cwd: targetDir('pit-at', 'org/pit') })).trim()).toBe('');

    const latest = await argocdDr(['restore-git', '--store', pitStore, '--to', `${target.url}/pit-latest/{path}.git`], env);
    expect(latest.code).toBe(0);
    expect(headsAndTags(await gitRefs(targetDir('pit-latest', 'org/pit')))).toEqual(headsAndTags(await gitRefs(pitOrigin)));

    // Before the first backup there is nothing to push; an unknown run is refused.
    const before = await argocdDr(['restore-git', '--store', pitStore, '--to', `${target.url}/pit-none/{path}.git`, '--at', '2000-01-01T00:00:00Z'], env);
    expect(before.code).toBe(2);
    expect(before.stderr).toContain('as of 2000-01-01T00:00:00.000Z holds no mirrored repositories');
    const noRun = await argocdDr(['restore-git', '--store', pitStore, '--to', `${target.url}/pit-none/{path}.git`, '--run', 'backup-nope'], env);
    expect(noRun.code).toBe(2);
    expect(noRun.stderr).toMatch(/has no run "backup-nope"/);
  });

  it('exits 1 when a repository failed, with the error and without the password', async () => {
    const env = { ARGOCD_DR_GIT_USERNAME: USERNAME, ARGOCD_DR_GIT_PASSWORD: PASSWORD };
    const result = await argocdDr(['restore-git', '--store', storeDir, '--to', `http://${USERNAME}:${PASSWORD}@${hostOf(target)}/cli-missing/{path}.git`, '--only', `${origin.url}/org/rich.git`, '--json'], env);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { repos: { status: string; error: string; target: string }[] };
    expect(report.repos[0]).toMatchObject({ status: 'failed', target: `${target.url}/cli-missing/org/rich.git` });
    expect(report.repos[0]!.error).toMatch(/HTTP 404/);
    expect(`${result.stdout}${result.stderr}`).not.toContain(PASSWORD);
  });

  it.each([
    [['restore-git', '--store', '.'], /required option '--to <url-template>'/],
    [['restore-git', '--to', 'https://x/{nope}'], /unknown placeholder \{nope\}/],
    [['restore-git', '--to', 'https://x/{path}', '--password', 'x'], /a password needs a username/],
    [['restore-git', '--to', 'https://x/{path}', '--store', 's3://'], /s3:\/\//],
    [['restore-git', '--to', 'https://x/{path}', '--bearer-token', 'x', '--token', 'y'], /either a bearer token or a password\/token/],
    [['restore-git', '--to', 'https://{host}.dr.example/{path}', '--ca-cert', 'ca.pem'], /the new host's name contains \{host\}/],
    [['restore-git', '--to', 'https://x/{path}', '--ssh-key', 'key'], /unknown option '--ssh-key'/],
  ])('exits 2 with a clear message for %j', async (args, message) => {
    const result = await argocdDr(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});
