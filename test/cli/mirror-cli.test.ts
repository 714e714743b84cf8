import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argocdDr, CLI } from '../support/cli.js';
import { removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { createEmptyRepo, createRichRepo, forcePushBranch } from '../../demo/origin-repos.js';
import { openStore } from '../../lambdas/store/open-store.js';

const SECRET = 'planted-Token-93b7d2';

let server: GitHttpServer;
let authServer: GitHttpServer;
let root: string;

beforeAll(async () => {
  root = await tempDir('cli-origins');
  await createRichRepo(root, 'org/app.git');
  await createRichRepo(root, 'org/killed.git');
  await createEmptyRepo(root, 'org/empty.git');
  server = await startGitHttpServer({ root });
  authServer = await startGitHttpServer({ root, auth: { username: 'ci', password: SECRET } });
});

afterAll(async () => {
  await Promise.all([server?.close(), authServer?.close()]);
  await removeTempDirs();
});

describe('argocd-dr mirror', () => {
  it('has --help for the program and the command', async () => {
    const top = await argocdDr(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('mirror');
    const mirror = await argocdDr(['mirror', '--help']);
    expect(mirror.code).toBe(0);
    expect(mirror.stdout).toMatch(/--store <dir\|s3:\/\/bucket\/prefix>/);
    expect(mirror.stdout).toContain('--refs <pattern>');
  });

  it.each([
    [['mirror'], /missing required argument/],
    [['mirror', 'ftp://example.com/repo.git'], /unsupported scheme ftp/],
    [['mirror', '--concurrency', '0', 'https://example.com/r.git'], /--concurrency must be a whole number/],
    [['mirror', '--refs', 'notes/*', 'https://example.com/r.git'], /must be HEAD or start with refs\//],
    [['mirror', '--password', 'x', 'https://example.com/r.git'], /a password needs a username/],
    [['mirror', '--store', 's3://', 'https://example.com/r.git'], /s3:\/\//],
    [['nonsense'], /unknown command/],
  ])('exits 2 with a clear message for %j', async (args, message) => {
    const result = await argocdDr(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('prints one JSON document and exits 1 when any repository failed', async () => {
    const store = await tempDir('cli-store');
    const urls = [`${server.url}/org/app.git`, `${server.url}/org/empty.git`, `${server.url}/org/absent.git`];
    const result = await argocdDr(['mirror', '--store', store, '--json', ...urls]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { repos: Array<Record<string, unknown>> };
    expect(report.repos.map((repo) => [repo.url, repo.status])).toEqual([
      [urls[0], 'mirrored'], [urls[1], 'empty'], [urls[2], 'failed'],
    ]);
    expect(report.repos[0]).toMatchObject({ bundle: expect.stringMatching(/^git\/127\.0\.0\.1:\d+\/org\/app\.bundle$/), refs: expect.any(Number), bytes: expect.any(Number), seconds: expect.any(Number) });
    expect(report.repos[2]!.error).toMatch(/404/);

    const again = await argocdDr(['mirror', '--store', store, '--json', urls[0]!, urls[1]!]);
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { repos: Array<{ status: string }> }).repos.map((repo) => repo.status)).toEqual(['unchanged', 'empty']);
  });

  it('prints a plain summary when not on a terminal, and never the token', async () => {
    const store = await tempDir('cli-store');
    const url = `${authServer.url}/org/app.git`;
    const ok = await argocdDr(['mirror', '--store', store, url], { ARGOCD_DR_GIT_USERNAME: 'ci', ARGOCD_DR_GIT_TOKEN: SECRET });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^mirrored .*org\/app\.git/m);
    expect(ok.stdout).toMatch(/1 mirrored, 0 unchanged, 0 empty, 0 failed/);
    const denied = await argocdDr(['mirror', '--store', store, '--username', 'ci', '--password', `${SECRET}x`, url]);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toMatch(/rejected the credentials/);
    for (const output of [ok.stdout, ok.stderr, denied.stdout, denied.stderr]) expect(output).not.toContain(SECRET);
    const sidecar = await readFile(path.join(store, `git/127.0.0.1:${new URL(authServer.url).port}/org/app.json`), 'utf8');
    expect(sidecar).not.toContain(SECRET);
  });

  it('leaves the previous bundle intact when the process is killed mid-transfer', async () => {
    const store = await tempDir('cli-store');
    const url = `${server.url}/org/killed.git`;
    expect((await argocdDr(['mirror', '--store', store, url])).code).toBe(0);
    const bundlePath = path.join(store, `git/127.0.0.1:${new URL(server.url).port}/org/killed.bundle`);
    const before = await readFile(bundlePath);
    await forcePushBranch(path.join(root, 'org/killed.git'), 'main');

    server.setFault('org/killed.git', { kind: 'stall' });
    try {
      const child = spawn(process.execPath, [CLI, 'mirror', '--store', store, url], { stdio: 'ignore' });
      // Once the pack request has its response head, the bundle's header is in a temporary file.
      await expect.poll(() => server.requests.some((r) => r.path === '/org/killed.git/git-upload-pack' && r.requestBody.includes('command=fetch') && r.status === 200), { timeout: 20_000 }).toBe(true);
      await expect.poll(async () => (await readdir(path.dirname(bundlePath))).some((name) => name.includes('.partial-')), { timeout: 5_000 }).toBe(true);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    } finally {
      server.setFault('org/killed.git', undefined);
    }
    expect((await readFile(bundlePath)).equals(before)).toBe(true);
    const keys = [];
    for await (const key of openStore(store).list('git/')) keys.push(key);
    expect(keys.filter((key) => key.includes('killed')).sort()).toEqual([
      `git/127.0.0.1:${new URL(server.url).port}/org/killed.bundle`,
      `git/127.0.0.1:${new URL(server.url).port}/org/killed.json`,
    ]);
    // The next run replaces it with the new history, and the stale temporary file does no harm.
    const next = await argocdDr(['mirror', '--store', store, '--json', url]);
    expect(JSON.parse(next.stdout).repos[0].status).toBe('mirrored');
  });
});
