import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorRepo } from '../../lambdas/git/mirror.js';
import { verifyStoredBundle } from '../../lambdas/git/verify/verify-store.js';
import { openStore } from '../../lambdas/store/open-store.js';
import { damageBundle } from '../../demo/damage.js';
import { DEMO_MARKER, DemoStoreError, prepareDemoStore } from '../../demo/demo.js';
import { GitError, git, removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { createRichRepo } from '../../demo/origin-repos.js';

let server: GitHttpServer;

beforeAll(async () => {
  const root = await tempDir('damage-origin');
  await createRichRepo(root, 'org/rich.git');
  server = await startGitHttpServer({ root });
});

afterAll(async () => {
  await server?.close();
  await removeTempDirs();
});

describe('damageBundle', () => {
  it('flips one bit inside the pack of a stored bundle: the verifier and git both reject it', async () => {
    const dir = await tempDir('damage-store');
    const store = openStore(dir);
    const mirrored = await mirrorRepo(`${server.url}/org/rich.git`, { store });
    expect(mirrored.status).toBe('mirrored');
    const file = path.join(dir, mirrored.bundle!);
    const original = await readFile(file);
    expect((await verifyStoredBundle(store, mirrored.bundle!)).ok).toBe(true);

    const damage = await damageBundle(store, mirrored.bundle!);
    const damaged = await readFile(file);
    // One bit, one byte, the size unchanged, past the bundle header and the pack header.
    expect(damaged.length).toBe(original.length);
    const differing = [...damaged.keys()].filter((i) => damaged[i] !== original[i]);
    expect(differing).toEqual([damage.offset]);
    expect(damage.before ^ damage.after).toBe(1);
    expect(damage.offset).toBeGreaterThan(original.indexOf('PACK') + 12);

    const report = await verifyStoredBundle(store, mirrored.bundle!);
    expect(report.ok).toBe(false);
    expect(report.errors.length).toBeGreaterThan(0);
    // Real git is the oracle: it clones the original and refuses the damaged bundle.
    const clone = async (bundle: string) => git(['clone', '-q', '--mirror', bundle, path.join(await tempDir('damage-clone'), 'c.git')]).then(() => undefined, (e: unknown) => e);
    const originalFile = path.join(await tempDir('damage-original'), 'original.bundle');
    await writeFile(originalFile, original);
    expect(await clone(originalFile)).toBeUndefined();
    expect(await clone(file)).toBeInstanceOf(GitError);
  });

  it('names the key when there is nothing to damage', async () => {
    const store = openStore(await tempDir('damage-empty'));
    await expect(damageBundle(store, 'git/nowhere/repo.bundle')).rejects.toThrow(/git\/nowhere\/repo\.bundle: it is not in/);
    await store.put('git/h/not-a-bundle.bundle', 'hello\n');
    await expect(damageBundle(store, 'git/h/not-a-bundle.bundle')).rejects.toThrow(/not a bundle with object data/);
  });
});

describe('the demo store directory', () => {
  it('is created when missing, and marked as the demo\'s', async () => {
    const dir = path.join(await tempDir('demo-store'), 'argocd-dr-demo');
    expect(await prepareDemoStore(dir)).toBe(dir);
    expect(await readdir(dir)).toEqual([DEMO_MARKER]);
  });

  it('replaces what an earlier demo left, and nothing else', async () => {
    const dir = await tempDir('demo-store-again');
    await prepareDemoStore(dir);
    await mkdir(path.join(dir, 'git', '127.0.0.1:40000'), { recursive: true });
    await writeFile(path.join(dir, 'git', '127.0.0.1:40000', 'old.bundle'), 'old');
    await prepareDemoStore(dir);
    expect(await readdir(dir)).toEqual([DEMO_MARKER]);
  });

  it('refuses a directory with other files in it, and leaves them alone', async () => {
    const dir = await tempDir('demo-store-foreign');
    await writeFile(path.join(dir, 'precious.txt'), 'keep me');
    await expect(prepareDemoStore(dir)).rejects.toThrow(DemoStoreError);
    await expect(prepareDemoStore(dir)).rejects.toThrow(/already holds files that an earlier demo did not write; pass --dir/);
    expect(await readFile(path.join(dir, 'precious.txt'), 'utf8')).toBe('keep me');
    expect(existsSync(path.join(dir, DEMO_MARKER))).toBe(false);

    const file = path.join(dir, 'precious.txt');
    await expect(prepareDemoStore(file)).rejects.toThrow(/is not a directory/);
  });
});
