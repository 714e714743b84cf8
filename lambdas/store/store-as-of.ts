import type { Readable } from 'node:stream';
import { readText, type ObjectVersion, type PutResult, type Store } from './store.js';

/**
 * The store as it was at `at`: every read answers with the newest version written at or before
 * that time (S3 object versions; the local store's kept versions). Read-only. Used to take the
 * repositories back to the same point in time as Argo CD's state.
 *
 * A key first written after `at` reads as absent. Keys deleted since `at` are not listed (list()
 * walks the current keys); argocd-dr never deletes backups, so this only matters after manual edits.
 */
export function storeAsOf(store: Store, at: Date): Store {
  const chosen = async (key: string): Promise<ObjectVersion | undefined> => {
    const version = (await store.listVersions(key)).find((candidate) => candidate.modified.getTime() <= at.getTime());
    return version && !version.deleted ? version : undefined;
  };
  const get = async (key: string): Promise<Readable | undefined> => {
    const version = await chosen(key);
    if (!version) return undefined;
    // Always by version id, the current one too (both backends answer the current object for its id): a plain
    // get() could read a newer object written since the listing, which head() and the version chosen do not describe.
    return store.getVersion(key, version.versionId);
  };
  return {
    location: `${store.location} as of ${at.toISOString()}`,
    put(key: string): Promise<PutResult> {
      return Promise.reject(new Error(`${key}: the store as of ${at.toISOString()} is read-only`));
    },
    get,
    async getText(key: string) {
      const body = await get(key);
      return body === undefined ? undefined : readText(body);
    },
    async head(key: string) {
      const version = await chosen(key);
      return version ? { size: version.size } : undefined;
    },
    async *list(prefix: string) {
      for await (const key of store.list(prefix)) if (await chosen(key)) yield key;
    },
    async listVersions(key: string) {
      return (await store.listVersions(key)).filter((version) => version.modified.getTime() <= at.getTime());
    },
    getVersion: (key, versionId) => store.getVersion(key, versionId),
  };
}
