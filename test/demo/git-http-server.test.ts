import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GitError, git, gitEnv, gitHead, gitRefs, removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer, type GitHttpServerOptions, type RequestRecord } from '../../demo/git-http/git-http-server.js';
import {
  addTags,
  createBrokenRepo,
  createEmptyRepo,
  createRichRepo,
  createSha256Repo,
  createShallowRepo,
  forcePushBranch,
} from '../../demo/origin-repos.js';

const BAND3_ABORT = '\x03aborting due to possible repository corruption on the remote side.\0';

let root: string;
let rich: string;
const servers: GitHttpServer[] = [];

async function serve(options: Omit<GitHttpServerOptions, 'root'> = {}): Promise<GitHttpServer> {
  const server = await startGitHttpServer({ root, ...options });
  servers.push(server);
  return server;
}

/** git clone --mirror; resolves with the clone dir, rejects with a GitError carrying git's stderr. */
async function mirror(url: string, args: string[] = []): Promise<string> {
  const dir = path.join(await tempDir('clone'), 'mirror.git');
  await git(['clone', '--mirror', ...args, url, dir]);
  return dir;
}

async function cloneError(url: string, args: string[] = []): Promise<string> {
  const error = await mirror(url, args).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GitError);
  return (error as GitError).stderr;
}

function posts(server: GitHttpServer, repo: string): RequestRecord[] {
  return server.requests.filter((r) => r.method === 'POST' && r.path === `/${repo}/git-upload-pack`);
}

beforeAll(async () => {
  root = await tempDir('origins');
  rich = await createRichRepo(root, 'org/rich.git');
  await createSha256Repo(root, 'org/sha256.git');
  await createShallowRepo(root, 'org/shallow.git');
  await createBrokenRepo(root, 'org/broken.git');
  await createEmptyRepo(root, 'org/empty.git');
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await removeTempDirs();
});

describe('git http-backend bridge', () => {
  it('serves a full mirror clone over protocol v2', async () => {
    const server = await serve();
    const clone = await mirror(`${server.url}/org/rich.git`);
    expect(await gitRefs(clone)).toEqual(await gitRefs(rich));
    expect(await gitHead(clone)).toBe('refs/heads/main');
    await git(['fsck', '--strict', '--no-dangling'], { cwd: clone });

    const bodies = posts(server, 'org/rich.git').map((r) => r.requestBody.toString('latin1'));
    expect(bodies.some((b) => b.startsWith('0014command=ls-refs\n'))).toBe(true);
    expect(bodies.some((b) => b.startsWith('0011command=fetch'))).toBe(true);
    expect(server.requests.every((r) => r.gitProtocol === 'version=2' && r.status === 200)).toBe(true);

    const advert = await fetch(`${server.url}/org/rich.git/info/refs?service=git-upload-pack`, { headers: { 'Git-Protocol': 'version=2' } });
    expect(advert.headers.get('content-type')).toBe('application/x-git-upload-pack-advertisement');
    expect(await advert.text()).toContain('000eversion 2\n');
  });

  it("serves protocol v0 when told to drop the client's Git-Protocol header", async () => {
    const server = await serve({ protocol: 'v0' });
    const clone = await mirror(`${server.url}/org/rich.git`);
    expect(await gitRefs(clone)).toEqual(await gitRefs(rich));
    expect(await gitHead(clone)).toBe('refs/heads/main');

    const [post, ...more] = posts(server, 'org/rich.git');
    expect(more).toEqual([]);
    const body = post?.requestBody.toString('latin1') ?? '';
    expect(body).toMatch(/^[0-9a-f]{4}want [0-9a-f]{40} /);
    expect(body).not.toContain('command=');
    // The client asked for v2 on the ref advertisement, was answered in v0 and stayed there.
    expect(server.requests[0]?.gitProtocol).toBe('version=2');
    expect(post?.gitProtocol).toBeUndefined();

    const advert = await (await fetch(`${server.url}/org/rich.git/info/refs?service=git-upload-pack`, { headers: { 'Git-Protocol': 'version=2' } })).text();
    expect(advert).not.toContain('version 2');
    expect(advert).toContain(' refs/tags/v1.0-signed-off^{}\n');
  });

  it('requires HTTP Basic credentials when configured, and never records them', async () => {
    const server = await serve({ auth: { username: 'mirror', password: 's3cret' } });
    const host = server.url.replace('http://', '');
    expect(await cloneError(`${server.url}/org/rich.git`)).toContain('terminal prompts disabled');
    expect(await cloneError(`http://mirror:wrong@${host}/org/rich.git`)).toContain('Authentication failed');
    const unauthorized = await fetch(`${server.url}/org/rich.git/info/refs?service=git-upload-pack`);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('www-authenticate')).toBe('Basic realm="git"');

    const clone = await mirror(`http://mirror:s3cret@${host}/org/rich.git`);
    expect(await gitRefs(clone)).toEqual(await gitRefs(rich));
    expect(server.requests.some((r) => r.status === 401)).toBe(true);
    expect(JSON.stringify(server.requests)).not.toContain('s3cret');
  });

  it("'cut' sends exactly afterBytes of the pack response, then drops the connection", async () => {
    const server = await serve();
    server.setFault('org/rich.git', { kind: 'cut', afterBytes: 300 });
    const stderr = await cloneError(`${server.url}/org/rich.git`);
    expect(stderr).toMatch(/transfer closed|early EOF|RPC failed/);
    // ls-refs passed untouched; only the fetch was cut.
    const [lsRefs, fetchPost] = posts(server, 'org/rich.git');
    expect(lsRefs?.responseBytes).toBeGreaterThan(300);
    expect(fetchPost?.responseBytes).toBe(300);

    server.setFault('org/rich.git', undefined);
    await mirror(`${server.url}/org/rich.git`);
  });

  it("'cut' also fails a v0 fetch, and a limit past the end still never ends the body cleanly", async () => {
    const server = await serve({ protocol: 'v0' });
    server.setFault('org/rich.git', { kind: 'cut', afterBytes: 10_000_000 });
    await cloneError(`${server.url}/org/rich.git`);
    const [post] = posts(server, 'org/rich.git');
    expect(post?.responseBytes).toBeGreaterThan(0);
  });

  it('decodes gzip-encoded requests and leaves the chunked-request probe alone', async () => {
    // 200 refs: a want list over 1 KiB, which git gzips; 25000: over http.postBuffer, which git
    // announces with a lone-flush probe POST and then sends chunked.
    for (const [name, tags] of [['gzip', 200], ['chunked', 25_000]] as const) {
      const repo = await createRichRepo(root, `big/${name}.git`);
      await addTags(repo, tags);
      const server = await serve();
      server.setFault(`big/${name}.git`, { kind: 'cut', afterBytes: 100 });
      await cloneError(`${server.url}/big/${name}.git`);
      const fetchPost = posts(server, `big/${name}.git`).at(-1);
      expect(fetchPost?.requestBody.subarray(0, 17).toString('latin1')).toBe('0011command=fetch');
      expect(fetchPost?.requestBody.length).toBeGreaterThan(tags * 50);
      expect(fetchPost?.responseBytes).toBe(100);
      server.setFault(`big/${name}.git`, undefined);
      expect((await gitRefs(await mirror(`${server.url}/big/${name}.git`))).size).toBe(tags + 9);
    }
  });

  it("'stall' sends the head and then nothing until the client gives up", async () => {
    const server = await serve();
    server.setFault('org/rich.git', { kind: 'stall' });
    const started = Date.now();
    const stderr = await cloneError(`${server.url}/org/rich.git`, ['-c', 'http.lowSpeedLimit=1', '-c', 'http.lowSpeedTime=1']);
    expect(stderr).toMatch(/too slow|Operation timed out|RPC failed/);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(posts(server, 'org/rich.git').at(-1)?.status).toBe(200);
  });

  it("close() ends a stalled response even when the client waits forever", async () => {
    const server = await serve({ protocol: 'v0' });
    server.setFault('org/rich.git', { kind: 'stall' });
    const main = (await gitRefs(rich)).get('refs/heads/main') ?? '';
    const response = await fetch(`${server.url}/org/rich.git/git-upload-pack`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-git-upload-pack-request' },
      body: `${pkt(`want ${main} side-band-64k ofs-delta\n`)}0000${pkt('done\n')}`,
    });
    expect(response.status).toBe(200);
    const body = response.arrayBuffer();
    const closing = server.close();
    await expect(body).rejects.toThrow();
    await closing;
  });

  it("'status' answers every request of that repository, and only that one", async () => {
    const server = await serve();
    server.setFault('org/rich.git', { kind: 'status', status: 404 });
    expect(await cloneError(`${server.url}/org/rich.git`)).toContain('not found');
    expect(server.requests.map((r) => r.status)).toEqual([404]);
    await mirror(`${server.url}/org/sha256.git`);
  });

  it("'rewrite' replaces the pack response with what the transform returns", async () => {
    const server = await serve();
    let original: Buffer = Buffer.alloc(0);
    // A packfile-uris section the client never asked for; git 2.39 still tries to download it.
    const uris = Buffer.from(pkt('packfile-uris\n') + pkt(`${'0'.repeat(40)} https://127.0.0.1:1/p.pack\n`) + '0001');
    server.setFault('org/rich.git', {
      kind: 'rewrite',
      transform: (body) => {
        original = body;
        return Buffer.concat([uris, body]);
      },
    });
    const stderr = await cloneError(`${server.url}/org/rich.git`);
    expect(stderr).toContain("failed to get 'https' url");
    expect(original.subarray(0, 13).toString('latin1')).toBe('000dpackfile\n');
    expect(posts(server, 'org/rich.git').at(-1)?.responseBytes).toBe(original.length + uris.length);
  });

  it('relays upload-pack dying mid-pack: band 2 fatal, then the band-3 abort', async () => {
    for (const protocol of ['v2', 'v0'] as const) {
      const server = await serve({ protocol });
      let body: Buffer = Buffer.alloc(0);
      server.setFault('org/broken.git', {
        kind: 'rewrite',
        transform: (b) => {
          body = b;
          return b;
        },
      });
      const stderr = await cloneError(`${server.url}/org/broken.git`);
      expect(stderr).toContain('remote: fatal: unable to read');
      expect(stderr).toContain('aborting due to possible repository corruption on the remote side.');
      const text = body.toString('latin1');
      // Hundreds of KiB of pack went out before the failure; the response ends on band 3, no flush.
      expect(body.length).toBeGreaterThan(400_000);
      expect(text.endsWith(`0048${BAND3_ABORT}`)).toBe(true);
      expect(text).toMatch(new RegExp(`${String.fromCharCode(2)}fatal: unable to read [0-9a-f]{40}\n`));
      expect(posts(server, 'org/broken.git').at(-1)?.stderr).toContain('git-pack-objects died with error');
    }
  });

  it('serves a SHA-256 repository', async () => {
    const server = await serve();
    const clone = await mirror(`${server.url}/org/sha256.git`);
    expect((await git(['rev-parse', '--show-object-format'], { cwd: clone })).trim()).toBe('sha256');
    const refs = await gitRefs(clone);
    expect([...refs.keys()].sort()).toEqual(['refs/heads/dev', 'refs/heads/main', 'refs/tags/v1']);
    expect([...refs.values()].every((oid) => /^[0-9a-f]{64}$/.test(oid))).toBe(true);
    await git(['fsck', '--strict', '--no-dangling'], { cwd: clone });
  });

  it('advertises a shallow origin: shallow lines in v0, a shallow-info section in v2', async () => {
    const v0 = await serve({ protocol: 'v0' });
    const advert = await (await fetch(`${v0.url}/org/shallow.git/info/refs?service=git-upload-pack`)).text();
    expect(advert).toMatch(/0035shallow [0-9a-f]{40}\n0035shallow [0-9a-f]{40}\n0000$/);

    const v2 = await serve();
    let body: Buffer = Buffer.alloc(0);
    v2.setFault('org/shallow.git', {
      kind: 'rewrite',
      transform: (b) => {
        body = b;
        return b;
      },
    });
    const clone = await mirror(`${v2.url}/org/shallow.git`);
    expect(body.subarray(0, 17).toString('latin1')).toBe('0011shallow-info\n');
    expect(existsSync(path.join(clone, 'shallow'))).toBe(true);
  });

  it('serves an empty repository', async () => {
    const server = await serve();
    const clone = await mirror(`${server.url}/org/empty.git`);
    expect((await gitRefs(clone)).size).toBe(0);
  });

  it('refuses pushes unless receivePack is set, then accepts them', async () => {
    const target = await createEmptyRepo(root, 'push/target.git');
    const source = await mirror(`file://${rich}`);
    const refused = await serve({ auth: { username: 'u', password: 'p' } });
    const host = (s: GitHttpServer): string => s.url.replace('http://', 'http://u:p@');
    await expect(git(['push', '--mirror', `${host(refused)}/push/target.git`], { cwd: source })).rejects.toThrow(/403/);

    const allowed = await serve({ auth: { username: 'u', password: 'p' }, receivePack: true });
    await git(['push', '--mirror', `${host(allowed)}/push/target.git`], { cwd: source });
    expect(await gitRefs(target)).toEqual(await gitRefs(rich));

    // A later change of the origin shows up in the next mirror.
    const rewritten = await forcePushBranch(target, 'main');
    expect((await gitRefs(await mirror(`${host(allowed)}/push/target.git`))).get('refs/heads/main')).toBe(rewritten);
  });
});

describe('serve-git-http entry', () => {
  // npm test builds dist/ first; a missing entry is a failure, not a reason to skip.
  const entry = path.resolve('dist/demo/git-http/serve-git-http.js');
  it('prints its URL as JSON, serves, and exits on SIGTERM', async () => {
    const child = spawn(process.execPath, [entry, '--root', root, '--protocol', 'v0'], { env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('error', reject);
        child.once('close', () => reject(new Error('serve-git-http exited before printing its URL')));
      });
      const { url } = JSON.parse(line) as { url: string };
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const clone = await mirror(`${url}/org/rich.git`);
      expect(await readFile(path.join(clone, 'HEAD'), 'utf8')).toBe('ref: refs/heads/main\n');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});

function pkt(payload: string): string {
  return (payload.length + 4).toString(16).padStart(4, '0') + payload;
}
