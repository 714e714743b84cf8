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
