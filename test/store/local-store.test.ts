import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { LocalStore } from '../../lambdas/store/local-store.js';
import { openStore } from '../../lambdas/store/open-store.js';
import { collect, failingStream, storeContract } from './store-contract.js';

// Records whether the AWS SDK gets imported, to prove local-only runs never load it.
const sdkLoads = vi.hoisted(() => [] as string[]);
vi.mock('@aws-sdk/client-s3', async (importOriginal) => {
  sdkLoads.push('@aws-sdk/client-s3');
  return importOriginal();
});
vi.mock('@aws-sdk/lib-storage', async (importOriginal) => {
  sdkLoads.push('@aws-sdk/lib-storage');
  return importOriginal();
});

const tempRoots: string[] = [];
async function tempRoot(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'local-store-'));
  tempRoots.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(tempRoots.map((dir) => rm(dir, { recursive: true, force: true })));
});

storeContract('LocalStore', {
  newStore: async () => new LocalStore(path.join(await tempRoot(), 'backups')),
  largeSize: 6 * 1024 * 1024 + 123,
  failAfter: 3 * 1024 * 1024,
});

describe('LocalStore', () => {
  it('creates its directory only on the first write', async () => {
    const root = path.join(await tempRoot(), 'not', 'yet');
    const store = new LocalStore(root);
    expect(store.location).toBe(root);
    expect(await collect(store.list(''))).toEqual([]);
    expect(await store.head('a')).toBeUndefined();
    await expect(stat(root)).rejects.toMatchObject({ code: 'ENOENT' });

    await store.put('git/h/r.bundle', 'x');
    expect((await stat(path.join(root, 'git', 'h', 'r.bundle'))).isFile()).toBe(true);
  });

  it('leaves no temporary file behind, after success or failure', async () => {
    const root = await tempRoot();
    const store = new LocalStore(root);
    await store.put('git/h/r.bundle', 'good');
    await expect(store.put('git/h/r.bundle', failingStream(Buffer.alloc(200_000), new Error('cut')))).rejects.toThrow('cut');
    await expect(store.put('git/h/other.bundle', failingStream(Buffer.alloc(10), new Error('cut')))).rejects.toThrow('cut');
    expect(await readdir(path.join(root, 'git', 'h'))).toEqual(['r.bundle']);
  });

  it('writes the temporary file beside the final one and renames it only when the body ended', async () => {
    const root = await tempRoot();
    const store = new LocalStore(root);
    await store.put('runs/r.json', 'old');
    const body = new Readable({ read() {} });
    const writing = store.put('runs/r.json', body);
    body.push(Buffer.from('new, half'));
    await vi.waitFor(async () => expect((await readdir(path.join(root, 'runs'))).length).toBe(2));

    const [partial] = (await readdir(path.join(root, 'runs'))).filter((name) => name !== 'r.json');
    expect(partial).toMatch(/^\.r\.json\.partial-[0-9a-f]+$/);
    expect(await store.getText('runs/r.json')).toBe('old');
    expect(await collect(store.list(''))).toEqual(['runs/r.json']);

    body.push(Buffer.from(' and done'));
    body.push(null);
    await writing;
    expect(await store.getText('runs/r.json')).toBe('new, half and done');
    expect(await readdir(path.join(root, 'runs'))).toEqual(['r.json']);
  });

  it('ignores stale partial files of a killed process', async () => {
    const root = await tempRoot();
    const store = new LocalStore(root);
    await store.put('git/h/r.bundle', 'good');
    await writeFile(path.join(root, 'git', 'h', '.r.bundle.partial-0123abcd'), 'half a bundle');
    await mkdir(path.join(root, 'git', 'h2'), { recursive: true });
    await writeFile(path.join(root, 'git', 'h2', '.x.bundle.partial-ff'), 'junk');

    expect(await collect(store.list(''))).toEqual(['git/h/r.bundle']);
    expect(await store.getText('git/h/r.bundle')).toBe('good');
    await store.put('git/h/r.bundle', 'better');
    expect(await store.getText('git/h/r.bundle')).toBe('better');
    expect(await store.head('git/h2/x.bundle')).toBeUndefined();
  });

  it('refuses keys that would look like its own temporary files', async () => {
    const store = new LocalStore(await tempRoot());
    await expect(store.put('git/.r.bundle.partial-abc', 'x')).rejects.toThrow(/reserved for unfinished writes/);
  });

  it('names the store and key when the file system refuses a write', async () => {
    const root = await tempRoot();
    const store = new LocalStore(root);
    await store.put('git/h', 'a file where a directory is needed');
    await expect(store.put('git/h/r.bundle', 'x')).rejects.toThrow(`Could not write "git/h/r.bundle" to ${root}`);
  });
});

describe('openStore', () => {
  it('opens a local directory without loading the AWS SDK', async () => {
    const root = await tempRoot();
    const store = openStore(path.join(root, 'rel', '..', 'backups'));
    expect(store.location).toBe(path.join(root, 'backups'));
    await store.put('runs/r.json', '{}');
    expect(await store.getText('runs/r.json')).toBe('{}');
    expect(openStore(`file://${root}/b`).location).toBe(path.join(root, 'b'));
    expect(openStore('s3://bucket/some/prefix/').location).toBe('s3://bucket/some/prefix');
    expect(sdkLoads).toEqual([]);
  });

  it('loads the SDK only when an S3 store is first used', async () => {
    const notFound = Object.assign(new Error('not found'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });
    const client = { send: async () => Promise.reject(notFound) } as unknown as S3Client;
    const store = openStore('s3://bucket/prefix', { s3Client: client });
    expect(sdkLoads).toEqual([]);
    expect(await store.head('git/x.bundle')).toBeUndefined();
    expect(sdkLoads).toContain('@aws-sdk/client-s3');
  });

  it.each([
    ['s3://', /Malformed S3 store location "s3:\/\/": the bucket name is missing\. Expected s3:\/\/bucket or s3:\/\/bucket\/prefix/],
    ['s3:///prefix', /Malformed S3 store location "s3:\/\/\/prefix": the bucket name is missing/],
    ['s3:bucket', /Malformed S3 store location "s3:bucket": it must start with "s3:\/\/"/],
    ['s3://bucket//x', /Malformed S3 store location "s3:\/\/bucket\/\/x"/],
    ['s3://bucket/../x', /Malformed S3 store location/],
    ['s3://bad bucket', /Malformed S3 store location "s3:\/\/bad bucket": "bad bucket" is not a bucket name/],
    ['gs://bucket', /Unsupported store location "gs:\/\/bucket"; expected a directory path or s3:\/\/bucket\[\/prefix\]/],
    ['', /The store location is empty/],
  ])('rejects %j with a message naming it and the expected form', (location, message) => {
    expect(() => openStore(location)).toThrow(message);
  });
});
