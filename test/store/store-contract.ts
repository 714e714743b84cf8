import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Store } from '../../lambdas/store/store.js';

export interface ContractOptions {
  /** A new, empty store for each test. */
  newStore(): Promise<Store>;
  /** Size of the large object (for S3: more than one part). */
  largeSize: number;
  /** Bytes a failing large body delivers before it errors (for S3: more than one part). */
  failAfter: number;
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A byte stream (not object mode) that hands out `bytes` in odd-sized chunks, like a network. */
export function streamOf(bytes: Buffer, chunkSize = 65_537): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < bytes.length; offset += chunkSize) yield bytes.subarray(offset, offset + chunkSize);
    })(),
    { objectMode: false },
  );
}

/** A stream that delivers `bytes` and then fails with `error`, as a cut upstream would. */
export function failingStream(bytes: Buffer, error: Error, chunkSize = 65_537): Readable {
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < bytes.length; offset += chunkSize) yield bytes.subarray(offset, offset + chunkSize);
      throw error;
    })(),
    { objectMode: false },
  );
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function collect(keys: AsyncIterable<string>): Promise<string[]> {
  const all: string[] = [];
  for await (const key of keys) all.push(key);
  return all.sort();
}

async function bytesAt(store: Store, key: string): Promise<Buffer | undefined> {
  const stream = await store.get(key);
  return stream && readAll(stream);
}

const INVALID_KEYS = ['', '/abs/key', 'a/../b', '..', '../escape', 'a//b', 'a/', './a', 'a/./b', 'a\\b'];

/** What every Store backend promises; run by each backend's test file. */
export function storeContract(name: string, options: ContractOptions): void {
  describe(`${name} keeps the Store contract`, () => {
    it('round-trips a large binary object through put, get, head and list', async () => {
      const store = await options.newStore();
      const data = randomBytes(options.largeSize);
      const key = 'git/example.com/org/repo.bundle';

      const result = await store.put(key, streamOf(data));

      expect(result).toEqual({ bytes: data.length, sha256: sha256(data) });
      const read = await bytesAt(store, key);
      expect(read?.length).toBe(data.length);
      expect(sha256(read ?? Buffer.alloc(0))).toBe(sha256(data));
      expect(await store.head(key)).toEqual({ size: data.length });
      expect(await collect(store.list(''))).toEqual([key]);
    });

    it('accepts string, Uint8Array and empty bodies', async () => {
      const store = await options.newStore();
      const json = JSON.stringify({ refs: { 'refs/heads/main': 'a'.repeat(40) }, note: 'ünïcödé' });
      const binary = new Uint8Array(randomBytes(1000).buffer, 100, 500);

      expect(await store.put('runs/r1.json', json, { contentType: 'application/json' })).toEqual({
        bytes: Buffer.byteLength(json),
        sha256: sha256(Buffer.from(json)),
      });
      expect(await store.getText('runs/r1.json')).toBe(json);

      expect((await store.put('bin/part', binary)).sha256).toBe(sha256(binary));
      expect(Buffer.compare((await bytesAt(store, 'bin/part')) ?? Buffer.alloc(0), Buffer.from(binary))).toBe(0);

      expect(await store.put('empty', '')).toEqual({ bytes: 0, sha256: sha256(Buffer.alloc(0)) });
      expect(await store.head('empty')).toEqual({ size: 0 });
      expect(await store.getText('empty')).toBe('');
    });

    it('replaces an object with a new version', async () => {
      const store = await options.newStore();
      await store.put('argocd/c1/manifest.json', 'first');
      await store.put('argocd/c1/manifest.json', streamOf(Buffer.from('second, longer')));
      expect(await store.getText('argocd/c1/manifest.json')).toBe('second, longer');
      expect(await collect(store.list('argocd/'))).toEqual(['argocd/c1/manifest.json']);
    });

    it('leaves the previous object byte-identical when a large body fails half-way', async () => {
      const store = await options.newStore();
      const key = 'git/example.com/org/repo.bundle';
      const previous = randomBytes(options.largeSize);
      await store.put(key, streamOf(previous));

      const cut = new Error('upstream connection reset');
      await expect(store.put(key, failingStream(randomBytes(options.failAfter), cut))).rejects.toBe(cut);

      expect(sha256((await bytesAt(store, key)) ?? Buffer.alloc(0))).toBe(sha256(previous));
      expect(await store.head(key)).toEqual({ size: previous.length });
      expect(await collect(store.list(''))).toEqual([key]);
    });

    it('leaves the previous object untouched when a tiny body fails', async () => {
      const store = await options.newStore();
      await store.put('runs/r1.json', '{"ok":true}');

      const cut = new Error('verification failed');
      await expect(store.put('runs/r1.json', failingStream(Buffer.from('{"ok":'), cut))).rejects.toBe(cut);
      await expect(store.put('runs/new.json', failingStream(Buffer.from('{'), cut))).rejects.toBe(cut);

      expect(await store.getText('runs/r1.json')).toBe('{"ok":true}');
      expect(await store.head('runs/new.json')).toBeUndefined();
      expect(await collect(store.list(''))).toEqual(['runs/r1.json']);
    });

    it('treats a body destroyed without an error as a failure', async () => {
      const store = await options.newStore();
      await store.put('k', 'kept');
      const body = new Readable({ read() {} });
      body.push(Buffer.from('partial'));
      setTimeout(() => body.destroy(), 10);

      await expect(store.put('k', body)).rejects.toThrow(/premature close/i);
      expect(await store.getText('k')).toBe('kept');
      expect(await collect(store.list(''))).toEqual(['k']);
    });

    it('answers undefined for keys with no object', async () => {
      const store = await options.newStore();
      expect(await store.get('git/none.bundle')).toBeUndefined();
      expect(await store.getText('git/none.json')).toBeUndefined();
      expect(await store.head('git/none.bundle')).toBeUndefined();
      expect(await collect(store.list('git/'))).toEqual([]);

      await store.put('git/host/repo.bundle', 'x');
      // A folder-like prefix of a key is not an object either.
      expect(await store.get('git/host')).toBeUndefined();
      expect(await store.getText('git/host')).toBeUndefined();
      expect(await store.head('git/host')).toBeUndefined();
      expect(await store.head('git/host/repo.bundle/more')).toBeUndefined();
    });

    it('lists every key under a prefix, relative to the store, by string prefix', async () => {
      const store = await options.newStore();
      const keys = [
        'argocd/c1/export.yaml',
        'git/github.com/org/repo.bundle',
        'git/github.com/org/repo.json',
        'git/github.com/org/repo2.bundle',
        'git/gitlab.com/a/b/c.bundle',
        'runs/r1.json',
      ];
      for (const key of keys) await store.put(key, key);

      expect(await collect(store.list(''))).toEqual(keys);
      expect(await collect(store.list('git/'))).toEqual(keys.filter((k) => k.startsWith('git/')));
      expect(await collect(store.list('git/github.com/org/repo.'))).toEqual([
        'git/github.com/org/repo.bundle',
        'git/github.com/org/repo.json',
      ]);
      expect(await collect(store.list('git/gitlab.com/a/b/c.bundle'))).toEqual(['git/gitlab.com/a/b/c.bundle']);
      expect(await collect(store.list('nothing/'))).toEqual([]);
    });

    it('rejects invalid keys and prefixes with a clear error', async () => {
      const store = await options.newStore();
      for (const key of INVALID_KEYS) {
        await expect(store.put(key, 'x'), key).rejects.toThrow(/Invalid store key/);
        await expect(store.get(key), key).rejects.toThrow(/Invalid store key/);
        await expect(store.getText(key), key).rejects.toThrow(/Invalid store key/);
        await expect(store.head(key), key).rejects.toThrow(/Invalid store key/);
      }
      for (const prefix of ['/', '/abs/', '../', 'a//', 'a/../']) {
        await expect(collect(store.list(prefix)), prefix).rejects.toThrow(/Invalid store key/);
      }
      expect(await collect(store.list(''))).toEqual([]);
    });
  });
}
