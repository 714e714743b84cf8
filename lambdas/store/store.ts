import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

/**
 * Where backups live: a local directory or an S3 prefix. Keys are relative, '/'-separated paths
 * such as `git/github.com/org/repo.bundle`.
 *
 * The one promise every backend keeps: an object appears at its key only once all of its bytes
 * were written and the body ended without error. A body stream that errors (a failed check, a
 * cut connection, an interrupted process) leaves whatever was at the key before untouched.
 */
export interface Store {
  /** For messages: `/abs/dir` or `s3://bucket/prefix`. Never contains credentials. */
  readonly location: string;

  /** Writes `body` to `key`, replacing any earlier object only once the new one is complete. */
  put(key: string, body: Readable | Uint8Array | string, options?: PutOptions): Promise<PutResult>;

  /** The object's bytes, or undefined when there is no object at `key`. */
  get(key: string): Promise<Readable | undefined>;

  /** The object's text (UTF-8), or undefined when there is no object at `key`. */
  getText(key: string): Promise<string | undefined>;

  /** Size of the object, or undefined when there is no object at `key`. */
  head(key: string): Promise<{ size: number } | undefined>;

  /** Every key under `prefix` (a folder-like prefix such as `git/`), in no particular order. */
  list(prefix: string): AsyncIterable<string>;

  /** The object's file, for backends that have one (the local directory): readers skip a copy. */
  localPath?(key: string): string;

  /**
   * Every version of the object at `key`, newest first: the current one and those it replaced
   * (S3: the bucket's versioning; a local directory keeps replaced objects itself). [] when the
   * key never held an object. A version is listed only once it was complete.
   */
  listVersions(key: string): Promise<ObjectVersion[]>;

  /** The bytes of one version from listVersions, or undefined when that version is gone. */
  getVersion(key: string, versionId: string): Promise<Readable | undefined>;
}

/** One version of an object, as listVersions reports it. */
export interface ObjectVersion {
  /** Opaque; pass it to getVersion. */
  versionId: string;
  /** When this version was written. */
  modified: Date;
  size: number;
  /** The version get() reads. */
  latest: boolean;
  /** An S3 delete marker: from `modified` on, the key held no object. */
  deleted?: boolean;
}

export interface PutOptions {
  contentType?: string;
}

export interface PutResult {
  /** Bytes written. */
  bytes: number;
  /** Hex SHA-256 of the bytes written, computed as they streamed through. */
  sha256: string;
}

/** Thrown for a key or prefix that is not a relative, '/'-separated path. */
export class InvalidKeyError extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`Invalid store key ${JSON.stringify(key)}: ${reason}. Keys are relative paths such as "git/github.com/org/repo.bundle".`);
    this.name = 'InvalidKeyError';
  }
}

/**
 * Checks that `key` is a relative '/'-separated path with no empty, '.' or '..' segment, so the
 * same key means the same object in a directory and in S3 and can never escape the store's root.
 */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new InvalidKeyError(String(key), problem);
}

/** A list prefix is '' (everything) or a key, optionally ending in '/' (a folder). */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  const problem = keyProblem(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  if (problem !== undefined) throw new InvalidKeyError(prefix, problem);
}

function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key === '') return 'it is empty';
  if (key.startsWith('/')) return 'it is absolute (starts with "/")';
  if (key.includes('\\')) return 'it contains "\\"; use "/" between segments';
  if (key.includes('\0')) return 'it contains a NUL character';
  for (const segment of key.split('/')) {
    if (segment === '') return 'it has an empty segment ("//" or a trailing "/")';
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`;
  }
  return undefined;
}

/** Reads a whole (small) object as UTF-8 text. */
export async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of bodyChunks(body)) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The body as Buffers, whatever form it came in; a stream's error or premature close is thrown. */
export async function* bodyChunks(body: Readable | Uint8Array | string): AsyncGenerator<Buffer, void, undefined> {
  if (typeof body === 'string') {
    yield Buffer.from(body, 'utf8');
    return;
  }
  if (body instanceof Uint8Array) {
    yield Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return;
  }
  for await (const chunk of body as AsyncIterable<unknown>) {
    if (Buffer.isBuffer(chunk)) yield chunk;
    else if (chunk instanceof Uint8Array) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else if (typeof chunk === 'string') yield Buffer.from(chunk, body.readableEncoding ?? 'utf8');
    else throw new TypeError(`Store bodies must yield bytes or strings, got ${typeof chunk}`);
  }
}

/**
 * A put's body as it streams to a backend: counts and hashes it, and remembers whether the body
 * itself failed, so a backend can rethrow the caller's error rather than its own follow-on error.
 */
export class MeasuredBody {
  bytes = 0;
  failure: { error: unknown } | undefined;
  private readonly hash = createHash('sha256');

  constructor(private readonly body: Readable | Uint8Array | string, private readonly onChunk?: (chunk: Buffer) => void) {}

  async *chunks(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of bodyChunks(this.body)) {
        this.hash.update(chunk);
        this.onChunk?.(chunk);
        this.bytes += chunk.length;
        yield chunk;
      }
    } catch (error) {
      this.failure = { error };
      throw error;
    }
  }

  /** Call once, after the last chunk. */
  result(): PutResult {
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}
