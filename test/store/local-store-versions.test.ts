import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStore } from '../../lambdas/store/local-store.js';
import { readText } from '../../lambdas/store/store.js';
import { collect, failingStream } from './store-contract.js';

const roots: string[] = [];
async function newStore(): Promise<LocalStore> {
  const root = await mkdtemp(path.join(tmpdir(), 'local-versions-'));
  roots.push(root);
  return new LocalStore(root);
}
afterAll(async () => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

async function textOf(store: LocalStore, key: string, versionId: string): Promise<string | undefined> {
  const body = await store.getVersion(key, versionId);
  return body && readText(body);
}

describe('LocalStore versions', () => {
  it('keeps every replaced object, newest first, readable by version id; list() never shows them', async () => {
    const store = await newStore();
    const key = 'argocd/prod/manifest.json';
    expect(await store.listVersions(key)).toEqual([]);
    for (const text of ['first', 'second', 'third, longer']) {
      await store.put(key, text);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const versions = await store.listVersions(key);
    expect(versions.map((v) => [v.size, v.latest])).toEqual([[13, true], [6, false], [5, false]]);
    expect(versions[0]!.modified.getTime()).toBeGreaterThan(versions[1]!.modified.getTime());
    expect(await Promise.all(versions.map((v) => textOf(store, key, v.versionId)))).toEqual(['third, longer', 'second', 'first']);
    // The current version's id does not change when it is replaced.
    const currentId = versions[0]!.versionId;
    await store.put(key, 'fourth');
    const after = await store.listVersions(key);
    expect(after.map((v) => v.versionId).slice(1)).toEqual(versions.map((v) => v.versionId));
    expect(await textOf(store, key, currentId)).toBe('third, longer');
    expect(await store.getText(key)).toBe('fourth');
    expect(await collect(store.list(''))).toEqual([key]);
  });

  it('keeps no version of a put that failed, and an unknown version reads as missing', async () => {
    const store = await newStore();
    await store.put('k', 'kept');
    await expect(store.put('k', failingStream(Buffer.from('half'), new Error('cut')))).rejects.toThrow('cut');
    expect((await store.listVersions('k')).map((v) => v.size)).toEqual([4]);
    expect(await store.getVersion('k', '1-2')).toBeUndefined();
    await expect(store.getVersion('k', '../../etc/passwd')).rejects.toThrow(/is not a version id/);
  });

  it('reserves .versions/ so no key can reach the kept versions', async () => {
    const store = await newStore();
    await expect(store.put('.versions/k/1-2', 'x')).rejects.toThrow(/Invalid store key.*earlier versions/);
    await expect(store.getText('.versions/k')).rejects.toThrow(/Invalid store key/);
    await expect(collect(store.list('.versions/'))).rejects.toThrow(/Invalid store key/);
  });
});
