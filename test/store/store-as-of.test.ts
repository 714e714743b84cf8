import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStore } from '../../lambdas/store/local-store.js';
import { storeAsOf } from '../../lambdas/store/store-as-of.js';
import { readText } from '../../lambdas/store/store.js';

const roots: string[] = [];
afterAll(async () => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

describe('storeAsOf', () => {
  it('reads the version it chose even when a newer one is written after the listing: get() and head() agree', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'store-as-of-'));
    roots.push(root);
    const local = new LocalStore(root);
    const key = 'git/acme/app.bundle';
    await local.put(key, 'the bundle of the chosen time');
    const [current] = await local.listVersions(key);
    // The current version's id reads the current object.
    expect(await readText((await local.getVersion(key, current!.versionId))!)).toBe('the bundle of the chosen time');

    // A backup run writes a new bundle between the listing and the read.
    let writeAfterListing = true;
    const racing: LocalStore = Object.create(local) as LocalStore;
    racing.listVersions = async (k: string) => {
      const versions = await local.listVersions(k);
      if (writeAfterListing) {
        writeAfterListing = false;
        await new Promise((resolve) => setTimeout(resolve, 5));
        await local.put(k, 'a newer, longer bundle written later');
      }
      return versions;
    };
    const asOf = storeAsOf(racing, new Date(Date.now() + 1));
    expect(await asOf.getText(key)).toBe('the bundle of the chosen time');
    expect(await asOf.head(key)).toEqual({ size: 'the bundle of the chosen time'.length });
  });
});
