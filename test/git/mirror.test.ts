import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorRepo, mirrorRepos } from '../../lambdas/git/mirror.js';
import { parseSidecar } from '../../lambdas/git/sidecar.js';
import { openStore } from '../../lambdas/store/open-store.js';
import { bundleHeaderLines, expectBundleMatchesOrigin, packOfBundle } from '../support/bundle-oracle.js';
import { git, gitHead, gitRefs, removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import {
  createBrokenRepo, createEmptyRepo, createRichRepo, createSha256Repo, createShallowRepo, deleteTag, forcePushBranch,
} from '../../demo/origin-repos.js';

let root: string;
let v2: GitHttpServer;
let v0: GitHttpServer;
const origins: Record<string, string> = {};

beforeAll(async () => {
  root = await tempDir('origins');
  origins.rich = await createRichRepo(root, 'org/rich.git');
  origins.sha256 = await createSha256Repo(root, 'org/sha256.git');
  origins.empty = await createEmptyRepo(root, 'org/empty.git');
  origins.shallow = await createShallowRepo(root, 'org/shallow.git');
  origins.broken = await createBrokenRepo(root, 'org/broken.git');
  // Notes exist only to show --refs picks up refs outside heads and tags.
  await git(['notes', '--ref=commits', 'add', '-m', 'reviewed', 'main'], { cwd: origins.rich });
  v2 = await startGitHttpServer({ root });
  v0 = await startGitHttpServer({ root, protocol: 'v0' });
});

afterAll(async () => {
  await Promise.all([v2?.close(), v0?.close()]);
  await removeTempDirs();
});

async function newStore() {
  const dir = await tempDir('store');
  return { dir, store: openStore(dir) };
}

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

describe.each([
  ['protocol v2', () => v2, 2],
  ['protocol v0 (old server)', () => v0, 0],
] as const)('mirror over %s', (_name, server, protocol) => {
  it('writes a bundle real git accepts, with the origin\'s refs and objects, and a truthful sidecar', async () => {
    const { dir, store } = await newStore();
    const url = `${server().url}/org/rich.git`;
    const result = await mirrorRepo(url, { store });
    expect(result).toMatchObject({ url, status: 'mirrored', bundle: `git/127.0.0.1:${new URL(url).port}/org/rich.bundle` });

    const bundlePath = path.join(dir, result.bundle!);
    await expectBundleMatchesOrigin(bundlePath, origins.rich!);

    const sidecar = parseSidecar(await readFile(path.join(dir, result.bundle!.replace(/\.bundle$/, '.json')), 'utf8'))!;
    const originRefs = await gitRefs(origins.rich!);
    const expectedRefs = Object.fromEntries([...originRefs].filter(([name]) => /^refs\/(heads|tags)\//.test(name)));
    expectedRefs.HEAD = originRefs.get('refs/heads/main')!;
    expect(sidecar.refs).toEqual(expectedRefs);
    expect(sidecar.head).toBe(await gitHead(origins.rich!));
    expect(sidecar.head).toBe('refs/heads/main');
    expect(sidecar).toMatchObject({ url, status: 'mirrored', objectFormat: 'sha1', protocol });
    expect(sidecar.bundleSha256).toBe(await sha256(bundlePath));
    expect(sidecar.bundleBytes).toBe((await stat(bundlePath)).size);
    const pack = await packOfBundle(bundlePath);
    expect(sidecar.packChecksum).toBe(pack.subarray(pack.length - 20).toString('hex'));
    expect(sidecar.objects).toBe(pack.readUInt32BE(8));
    expect(sidecar.tool).toMatch(/^argocd-dr \d+\.\d+\.\d+/);

    // Bundle ref lines: sorted refs, HEAD last, tag objects unpeeled — as git bundle create --all.
    const lines = await bundleHeaderLines(bundlePath);
    expect(lines[0]).toBe('# v2 git bundle');
    expect(lines.at(-1)).toBe(`${expectedRefs.HEAD} HEAD`);
    expect(lines).toContain(`${originRefs.get('refs/tags/v1.0-signed-off')} refs/tags/v1.0-signed-off`);
  });

  it('mirrors a SHA-256 repository into a v3 bundle', async () => {
    const { dir, store } = await newStore();
    const result = await mirrorRepo(`${server().url}/org/sha256.git`, { store });
    expect(result.status).toBe('mirrored');
    const bundlePath = path.join(dir, result.bundle!);
    expect((await bundleHeaderLines(bundlePath)).slice(0, 2)).toEqual(['# v3 git bundle', '@object-format=sha256']);
    await expectBundleMatchesOrigin(bundlePath, origins.sha256!, 'sha256');
  });

  it('records an empty repository as empty, never as a bundle', async () => {
    const { store } = await newStore();
    const result = await mirrorRepo(`${server().url}/org/empty.git`, { store });
    expect(result.status).toBe('empty');
    expect(await store.head(`git/127.0.0.1:${new URL(server().url).port}/org/empty.bundle`)).toBeUndefined();
    const sidecar = parseSidecar(await store.getText(`git/127.0.0.1:${new URL(server().url).port}/org/empty.json`));
    expect(sidecar).toMatchObject({ status: 'empty', refs: {} });
  });

  it('refuses a shallow server repository', async () => {
    const { store } = await newStore();
    const result = await mirrorRepo(`${server().url}/org/shallow.git`, { store });
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/shallow/);
  });

  it('fails a repository whose server dies mid-pack (band-3 error) with the server\'s words', async () => {
    const { store } = await newStore();
    const result = await mirrorRepo(`${server().url}/org/broken.git`, { store });
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/pack-objects died|server failed/);
  });
});

describe('a v0 server that offers no side-band, as git before 1.6 did', () => {
  it('reads the pack unframed after the NAK, into a bundle real git accepts', async () => {
    const { dir, store } = await newStore();
    v0.setFault('org/rich.git', { kind: 'advertise', transform: withoutCapabilities(['side-band', 'side-band-64k']) });
    let result;
    try {
      result = await mirrorRepo(`${v0.url}/org/rich.git`, { store });
    } finally {
      v0.setFault('org/rich.git', undefined);
    }
    expect(result).toMatchObject({ status: 'mirrored' });
    await expectBundleMatchesOrigin(path.join(dir, result.bundle!), origins.rich!);
    // The want line asked for no side-band, so upload-pack sent the pack bytes as they are.
    const fetch = v0.requests.filter((request) => request.method === 'POST' && request.path === '/org/rich.git/git-upload-pack').at(-1)!;
    expect(fetch.requestBody.toString('latin1')).toMatch(/^[0-9a-f]{4}want [0-9a-f]{40} /);
    expect(fetch.requestBody.toString('latin1')).not.toMatch(/side-band/);
  });
});

describe('incremental runs', () => {
  it('reports unchanged and rewrites nothing when the refs did not move', async () => {
    const { dir, store } = await newStore();
    const url = `${v2.url}/org/rich.git`;
    const first = await mirrorRepo(url, { store });
    const bundlePath = path.join(dir, first.bundle!);
    const sidecarPath = bundlePath.replace(/\.bundle$/, '.json');
    const before = { bundle: await stat(bundlePath), sidecar: await readFile(sidecarPath) };
    const requestsBefore = v2.requests.length;

    const second = await mirrorRepo(url, { store });
    expect(second).toMatchObject({ status: 'unchanged', bundle: first.bundle });
    expect((await stat(bundlePath)).mtimeMs).toBe(before.bundle.mtimeMs);
    expect(await readFile(sidecarPath)).toEqual(before.sidecar);
    const fetches = v2.requests.slice(requestsBefore).filter((request) => request.requestBody.includes('command=fetch'));
    expect(fetches).toEqual([]);
  });

  it('follows a force-push and a deleted tag on the next run', async () => {
    const originRoot = await tempDir('moving');
    const origin = await createRichRepo(originRoot, 'org/moving.git');
    const server = await startGitHttpServer({ root: originRoot });
    try {
      const { dir, store } = await newStore();
      const url = `${server.url}/org/moving.git`;
      expect((await mirrorRepo(url, { store })).status).toBe('mirrored');
      await forcePushBranch(origin, 'feature/login');
      await deleteTag(origin, 'v0.1');
      const next = await mirrorRepo(url, { store });
      expect(next.status).toBe('mirrored');
      const bundlePath = path.join(dir, next.bundle!);
      await expectBundleMatchesOrigin(bundlePath, origin);
      const lines = await bundleHeaderLines(bundlePath);
      expect(lines.some((line) => line.endsWith(' refs/tags/v0.1'))).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('follows a redirect to a renamed repository and keeps the requested URL\'s store key', async () => {
    const { dir, store } = await newStore();
    v2.setFault('org/old-name.git', { kind: 'redirect', toRepoPath: 'org/rich.git' });
    try {
      const before = v2.requests.length;
      const result = await mirrorRepo(`${v2.url}/org/old-name.git`, { store });
      expect(result).toMatchObject({ status: 'mirrored', bundle: `git/127.0.0.1:${new URL(v2.url).port}/org/old-name.bundle` });
      expect(v2.requests.slice(before).filter((r) => r.method === 'POST').map((r) => r.path)).toEqual([
        '/org/rich.git/git-upload-pack', '/org/rich.git/git-upload-pack',
      ]);
      await expectBundleMatchesOrigin(path.join(dir, result.bundle!), origins.rich!);
    } finally {
      v2.setFault('org/old-name.git', undefined);
    }
  });

  it('mirrors extra refs such as refs/notes/* when asked', async () => {
    const { dir, store } = await newStore();
    const result = await mirrorRepo(`${v2.url}/org/rich.git`, { store, extraRefPatterns: ['refs/notes/*'] });
    const lines = await bundleHeaderLines(path.join(dir, result.bundle!));
    const notes = (await gitRefs(origins.rich!)).get('refs/notes/commits');
    expect(lines).toContain(`${notes} refs/notes/commits`);
    const without = await mirrorRepo(`${v2.url}/org/rich.git`, { store });
    // Dropping the pattern changes the ref set, so the bundle is rewritten without the notes.
    expect(without.status).toBe('mirrored');
    expect((await bundleHeaderLines(path.join(dir, without.bundle!))).some((line) => line.includes('refs/notes/'))).toBe(false);
  });
});

describe('failures stay with their repository', () => {
  const SECRET = 'planted-Secret-4f9c1e';
  let authRoot: string;
  let authServer: GitHttpServer;

  beforeAll(async () => {
    authRoot = await tempDir('auth-origins');
    await createRichRepo(authRoot, 'team/private.git');
    authServer = await startGitHttpServer({ root: authRoot, auth: { username: 'robot', password: SECRET } });
  });
  afterAll(async () => authServer?.close());

  it('mirrors with a username and password, and the password appears nowhere', async () => {
    const { dir, store } = await newStore();
    const result = await mirrorRepo(`${authServer.url}/team/private.git`, { store, credentials: { username: 'robot', password: SECRET } });
    expect(result.status).toBe('mirrored');
    expect(JSON.stringify(result)).not.toContain(SECRET);
    expect(await readFile(path.join(dir, result.bundle!.replace(/\.bundle$/, '.json')), 'utf8')).not.toContain(SECRET);
  });

  it('takes credentials written into the URL and keeps them out of results and sidecars', async () => {
    const { dir, store } = await newStore();
    const url = `${authServer.url.replace('://', `://robot:${SECRET}@`)}/team/private.git`;
    const result = await mirrorRepo(url, { store });
    expect(result.status).toBe('mirrored');
    expect(result.url).toBe(`${authServer.url}/team/private.git`);
    expect(await readFile(path.join(dir, result.bundle!.replace(/\.bundle$/, '.json')), 'utf8')).not.toContain(SECRET);
  });

  it('says credentials are needed, or were rejected, without quoting them', async () => {
    const { store } = await newStore();
    const url = `${authServer.url}/team/private.git`;
    const missing = await mirrorRepo(url, { store });
    expect(missing.status).toBe('failed');
    expect(missing.error).toMatch(/401.*needs credentials/);
    const wrong = await mirrorRepo(url, { store, credentials: { username: 'robot', password: `${SECRET}-old` } });
    expect(wrong.status).toBe('failed');
    expect(wrong.error).toMatch(/401.*rejected the credentials/);
    expect(JSON.stringify([missing, wrong])).not.toContain(SECRET);
  });

  it('does not send credentials to another host a redirect points at', async () => {
    // The other host wants the same password: it gets none, so it answers 401.
    const other = await startGitHttpServer({ root: authRoot, auth: { username: 'robot', password: SECRET } });
    authServer.setFault('team/moved.git', { kind: 'redirect', toRepoPath: 'team/private.git', toOrigin: other.url.replace('127.0.0.1', 'localhost') });
    try {
      const { store } = await newStore();
      const result = await mirrorRepo(`${authServer.url}/team/moved.git`, { store, credentials: { username: 'robot', password: SECRET } });
      expect(result.status).toBe('failed');
      expect(result.error).toMatch(/401.*needs credentials/);
      expect(other.requests.length).toBeGreaterThan(0);
      expect(other.requests.every((request) => request.status === 401)).toBe(true);
    } finally {
      authServer.setFault('team/moved.git', undefined);
      await other.close();
    }
  });

  it('keeps a mirrored backup when the server suddenly advertises no refs', async () => {
    const root = await tempDir('emptied');
    const origin = await createRichRepo(root, 'org/emptied.git');
    const server = await startGitHttpServer({ root });
    try {
      const { dir, store } = await newStore();
      const url = `${server.url}/org/emptied.git`;
      const first = await mirrorRepo(url, { store });
      const sidecarPath = path.join(dir, first.bundle!.replace(/\.bundle$/, '.json'));
      const before = await readFile(sidecarPath);
      for (const [ref] of await gitRefs(origin)) await git(['update-ref', '-d', ref], { cwd: origin });
      const emptied = await mirrorRepo(url, { store });
      expect(emptied.status).toBe('failed');
      expect(emptied.error).toMatch(/now advertises no refs, but the last backup holds \d+; the backup is kept/);
      expect((await readFile(sidecarPath)).equals(before)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('fails a 404 and a 403 without stopping the other repositories', async () => {
    const { store } = await newStore();
    v2.setFault('org/forbidden.git', { kind: 'status', status: 403 });
    try {
      const results = await mirrorRepos(
        [`${v2.url}/org/missing.git`, `${v2.url}/org/rich.git`, `${v2.url}/org/forbidden.git`],
        { store, concurrency: 2 },
      );
      expect(results.map((result) => result.status)).toEqual(['failed', 'mirrored', 'failed']);
      expect(results[0]!.error).toMatch(/404.*not found/);
      expect(results[2]!.error).toMatch(/403.*access denied/);
    } finally {
      v2.setFault('org/forbidden.git', undefined);
    }
  });

  describe('a bad transfer never replaces the last good bundle', () => {
    let originRoot: string;
    let origin: string;
    let server: GitHttpServer;
    beforeAll(async () => {
      originRoot = await tempDir('faulty');
      origin = await createRichRepo(originRoot, 'org/faulty.git');
      server = await startGitHttpServer({ root: originRoot });
    });
    afterAll(async () => server?.close());

    async function mirroredThenMoved() {
      const { dir, store } = await newStore();
      const url = `${server.url}/org/faulty.git`;
      const first = await mirrorRepo(url, { store });
      expect(first.status).toBe('mirrored');
      const bundlePath = path.join(dir, first.bundle!);
      const sidecarPath = bundlePath.replace(/\.bundle$/, '.json');
      const before = { bundle: await readFile(bundlePath), sidecar: await readFile(sidecarPath) };
      await forcePushBranch(origin, 'main', `moved ${Math.random()}`);
      return {
        url,
        store,
        expectUntouched: async () => {
          expect((await readFile(bundlePath)).equals(before.bundle)).toBe(true);
          expect((await readFile(sidecarPath)).equals(before.sidecar)).toBe(true);
        },
      };
    }

    it.each([
      ['the connection is cut mid-pack', { kind: 'cut', afterBytes: 700 } as const, /closed by the server|ended before the pack was complete/],
      ['the server stalls', { kind: 'stall' } as const, /no data from the server/],
      ['a pack byte is flipped (bad trailer)', { kind: 'rewrite', transform: flipLastPackByte } as const, /trailing checksum/],
      ['the server offers packfile-uris', { kind: 'rewrite', transform: injectPackfileUris } as const, /packfile URIs/],
    ])('when %s', async (_name, fault, message) => {
      const { url, store, expectUntouched } = await mirroredThenMoved();
      server.setFault('org/faulty.git', fault);
      try {
        const result = await mirrorRepo(url, { store, idleTimeoutMs: 1500 });
        expect(result.status).toBe('failed');
        expect(result.error).toMatch(message);
      } finally {
        server.setFault('org/faulty.git', undefined);
      }
      await expectUntouched();
      // Once the server behaves, the next run catches up.
      expect((await mirrorRepo(url, { store })).status).toBe('mirrored');
    });
  });
});

/** A v0 ref advertisement transform that drops these capabilities from the first ref's line. */
function withoutCapabilities(dropped: string[]): (body: Buffer) => Buffer {
  return (body) => {
    const packets = pkts(body);
    const index = packets.findIndex((pkt) => pkt.includes(0));
    const text = packets[index]!.subarray(4).toString('latin1');
    const [ref, capabilities] = text.split('\0') as [string, string];
    const kept = capabilities.trimEnd().split(' ').filter((capability) => !dropped.includes(capability)).join(' ');
    packets[index] = pktLineOf(`${ref}\0${kept}\n`);
    return Buffer.concat(packets);
  };
}

/** One pkt-line of latin1 text, length prefix included; written out here so the tests do not lean on the code under test. */
function pktLineOf(text: string): Buffer {
  return Buffer.from(`${(text.length + 4).toString(16).padStart(4, '0')}${text}`, 'latin1');
}

/** Splits a v2 fetch response into pkt-lines (length prefix included). */
function pkts(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < body.length;) {
    const length = parseInt(body.toString('latin1', offset, offset + 4), 16);
    const size = length < 4 ? 4 : length;
    out.push(body.subarray(offset, offset + size));
    offset += size;
  }
  return out;
}

/** Flips the last byte of the pack (inside the last band-1 packet): the trailer no longer matches. */
function flipLastPackByte(body: Buffer): Buffer {
  const copy = Buffer.from(body);
  const packets = pkts(copy);
  const last = packets.filter((pkt) => pkt.length > 5 && pkt[4] === 1).at(-1)!;
  last[last.length - 1]! ^= 0xff;
  return copy;
}

/** Puts a packfile-uris section in front of the packfile section, as a server with offloading would. */
function injectPackfileUris(body: Buffer): Buffer {
  const index = body.indexOf('packfile\n');
  const start = index - 4;
  return Buffer.concat([
    body.subarray(0, start),
    pktLineOf('packfile-uris\n'),
    pktLineOf(`${'a'.repeat(40)} https://cdn.example/pack.pack\n`),
    Buffer.from('0001'),
    body.subarray(start),
  ]);
}
