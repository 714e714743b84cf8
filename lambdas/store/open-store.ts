import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { LocalStore } from './local-store.js';
import type { ObjectVersion, PutOptions, PutResult, Store } from './store.js';

export interface OpenStoreOptions {
  /** KMS key id or ARN for SSE-KMS on S3; ignored for a local directory. */
  kmsKeyId?: string;
  /** Use this client instead of one built from the environment (tests, custom endpoints). */
  s3Client?: S3Client;
}

export interface S3Location {
  bucket: string;
  /** '' or a prefix without leading/trailing '/'. */
  prefix: string;
}

const EXPECTED = 'a directory path or s3://bucket[/prefix]';

/**
 * Opens `s3://bucket[/prefix]` as an S3 store and anything else as a local directory. The AWS SDK
 * is imported only when an S3 store is first used, so local runs never load it.
 */
export function openStore(location: string, options: OpenStoreOptions = {}): Store {
  if (location.trim() === '') throw new Error(`The store location is empty; expected ${EXPECTED}.`);
  const s3 = parseS3Location(location);
  if (s3) {
    return new LazyStore(s3.prefix ? `s3://${s3.bucket}/${s3.prefix}` : `s3://${s3.bucket}`, async () => {
      const { S3Store, createS3Client } = await import('./s3-store.js');
      return new S3Store({
        client: options.s3Client ?? createS3Client(),
        bucket: s3.bucket,
        prefix: s3.prefix,
        ...(options.kmsKeyId ? { kmsKeyId: options.kmsKeyId } : {}),
      });
    });
  }
  if (/^file:\/\//i.test(location)) return new LocalStore(fileURLToPath(location));
  // Another scheme is almost certainly a typo or an unsupported service, not a directory name.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new Error(`Unsupported store location ${JSON.stringify(location)}; expected ${EXPECTED}.`);
  }
  return new LocalStore(path.resolve(location));
}

/** The bucket and prefix of an `s3://` location; undefined for anything that is not `s3:`. */
export function parseS3Location(location: string): S3Location | undefined {
  if (!/^s3:/i.test(location)) return undefined;
  const malformed = (why: string): Error =>
    new Error(`Malformed S3 store location ${JSON.stringify(location)}: ${why}. Expected s3://bucket or s3://bucket/prefix.`);
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(location);
  if (!match) throw malformed('it must start with "s3://"');
  const bucket = match[1] ?? '';
  if (bucket === '') throw malformed('the bucket name is missing');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket)) throw malformed(`${JSON.stringify(bucket)} is not a bucket name`);
  const prefix = (match[2] ?? '').replace(/\/+$/, '');
  if (prefix.split('/').some((segment) => segment === '.' || segment === '..') || (prefix !== '' && prefix.split('/').includes(''))) {
    throw malformed('the prefix has an empty, "." or ".." segment');
  }
  return { bucket, prefix };
}

/** Defers building the real store (and importing its SDK) until the first call. */
class LazyStore implements Store {
  private store: Promise<Store> | undefined;

  constructor(
    readonly location: string,
    private readonly load: () => Promise<Store>,
  ) {}

  async put(key: string, body: Readable | Uint8Array | string, options?: PutOptions): Promise<PutResult> {
    return (await this.resolve()).put(key, body, options);
  }

  async get(key: string): Promise<Readable | undefined> {
    return (await this.resolve()).get(key);
  }

  async getText(key: string): Promise<string | undefined> {
    return (await this.resolve()).getText(key);
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    return (await this.resolve()).head(key);
  }

  async *list(prefix: string): AsyncIterable<string> {
    yield* (await this.resolve()).list(prefix);
  }

  async listVersions(key: string): Promise<ObjectVersion[]> {
    return (await this.resolve()).listVersions(key);
  }

  async getVersion(key: string, versionId: string): Promise<Readable | undefined> {
    return (await this.resolve()).getVersion(key, versionId);
  }

  private resolve(): Promise<Store> {
    this.store ??= this.load();
    return this.store;
  }
}
