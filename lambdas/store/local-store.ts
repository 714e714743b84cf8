import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { assertValidKey, assertValidPrefix, InvalidKeyError, MeasuredBody, type ObjectVersion, type PutResult, type Store } from './store.js';

/** Temporary files of unfinished puts: `.<basename>.partial-<hex>`, next to their final path. */
const PARTIAL_FILE = /^\..*\.partial-[0-9a-f]+$/;

/**
 * Replaced objects are kept under `.versions/<key>/<version-id>` (never listed), so a local store
 * has the same point-in-time history as a versioned bucket. A version id is the file's mtime in
 * nanoseconds and its inode: the same whether the file is current or kept.
 */
const VERSIONS = '.versions';
const VERSION_ID = /^\d+-\d+$/;

/** Codes that mean "there is no object at this key" rather than a real failure. */
const MISSING = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

/**
 * A store in a local directory. Each put writes a temporary file beside the final one, fsyncs it
 * and renames it into place, so readers see either the old object or the complete new one. The
 * object it replaces is kept as an earlier version (see VERSIONS): nothing is ever deleted.
 */
export class LocalStore implements Store {
  readonly location: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.location = this.root;
  }

  async put(key: string, body: Readable | Uint8Array | string): Promise<PutResult> {
    const finalPath = this.pathOf(key);
    if (PARTIAL_FILE.test(path.basename(finalPath))) {
      throw new Error(`Cannot store ${JSON.stringify(key)} in ${this.location}: names like ".<name>.partial-<hex>" are reserved for unfinished writes.`);
    }
    const dir = path.dirname(finalPath);
    const tempPath = path.join(dir, `.${path.basename(finalPath)}.partial-${randomBytes(8).toString('hex')}`);
    const measured = new MeasuredBody(body);

    let handle: FileHandle | undefined;
    try {
      await mkdir(dir, { recursive: true });
      // 'wx' never follows or reuses an existing path, so two writers cannot share a temp file.
      handle = await open(tempPath, 'wx');
      for await (const chunk of measured.chunks()) {
        // Awaiting each write is the backpressure: the body is read no faster than the disk takes it.
        for (let offset = 0; offset < chunk.length; ) offset += (await handle.write(chunk, offset)).bytesWritten;
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      await this.keepVersion(key, finalPath);
      await rename(tempPath, finalPath);
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      if (measured.failure) throw measured.failure.error;
      throw new Error(`Could not write ${JSON.stringify(key)} to ${this.location}: ${describe(error)}`, { cause: error });
    }
    await fsyncDirectory(dir);
    return measured.result();
  }

  async get(key: string): Promise<Readable | undefined> {
    const file = this.pathOf(key);
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.readError(key, error);
    }
    try {
      // Opening a directory succeeds on Linux; a directory is not an object.
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        return undefined;
      }
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw this.readError(key, error);
    }
    return handle.createReadStream();
  }

  async getText(key: string): Promise<string | undefined> {
    const file = this.pathOf(key);
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.readError(key, error);
    }
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    const file = this.pathOf(key);
    try {
      const info = await stat(file);
      return info.isFile() ? { size: info.size } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.readError(key, error);
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    assertValidPrefix(prefix);
    assertNotReserved(prefix);
    // Walk only the folder the prefix names, then match the rest as a string prefix, like S3.
    const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    for await (const key of this.walk(folder)) {
      if (key.startsWith(prefix)) yield key;
    }
  }

  private async *walk(folder: string): AsyncGenerator<string> {
    let entries: Dirent[];
    try {
      entries = await readdir(path.join(this.root, ...folder.split('/')), { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw new Error(`Could not list ${JSON.stringify(folder)} in ${this.location}: ${describe(error)}`, { cause: error });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (folder === '' && entry.name === VERSIONS) continue;
      if (entry.isDirectory()) yield* this.walk(`${folder}${entry.name}/`);
      else if (entry.isFile() && !PARTIAL_FILE.test(entry.name)) yield `${folder}${entry.name}`;
    }
  }

  async listVersions(key: string): Promise<ObjectVersion[]> {
    const current = await this.statFile(key, this.pathOf(key));
    const versions: ObjectVersion[] = [];
    if (current) versions.push({ versionId: versionIdOf(current), modified: mtimeOf(current), size: Number(current.size), latest: true });
    let names: string[] = [];
    try {
      names = await readdir(this.versionsDir(key));
    } catch (error) {
      if (!isMissing(error)) throw this.readError(key, error);
    }
    for (const name of names) {
      if (!VERSION_ID.test(name) || name === versions[0]?.versionId) continue;
      const kept = await this.statFile(key, path.join(this.versionsDir(key), name));
      if (kept) versions.push({ versionId: name, modified: mtimeOf(kept), size: Number(kept.size), latest: false });
    }
    return versions.sort((a, b) => Number(b.latest) - Number(a.latest) || b.modified.getTime() - a.modified.getTime() || b.versionId.localeCompare(a.versionId));
  }

  async getVersion(key: string, versionId: string): Promise<Readable | undefined> {
    if (!VERSION_ID.test(versionId)) throw new Error(`${JSON.stringify(versionId)} is not a version id of ${this.location}; take one from listVersions (argocd-dr history).`);
    const current = await this.statFile(key, this.pathOf(key));
    if (current && versionIdOf(current) === versionId) return this.get(key);
    try {
      return (await open(path.join(this.versionsDir(key), versionId), 'r')).createReadStream();
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.readError(key, error);
    }
  }

  localPath(key: string): string {
    return this.pathOf(key);
  }

  /** Keeps the object about to be replaced: a hard link (no copy), or a copy where links fail. */
  private async keepVersion(key: string, finalPath: string): Promise<void> {
    const previous = await this.statFile(key, finalPath);
    if (!previous) return;
    const dir = this.versionsDir(key);
    const kept = path.join(dir, versionIdOf(previous));
    await mkdir(dir, { recursive: true });
    try {
      await link(finalPath, kept);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'EEXIST') return;
      if (code !== 'EPERM' && code !== 'EXDEV' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
      // Written under a temporary name first, so a kept version too appears only when complete.
      const temp = path.join(dir, `.${versionIdOf(previous)}.partial-${randomBytes(8).toString('hex')}`);
      await copyFile(finalPath, temp);
      await utimes(temp, mtimeOf(previous), mtimeOf(previous));
      await rename(temp, kept);
    }
  }

  private async statFile(key: string, file: string): Promise<BigIntStats | undefined> {
    try {
      const info = await stat(file, { bigint: true });
      return info.isFile() ? info : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw this.readError(key, error);
    }
  }

  private versionsDir(key: string): string {
    assertValidKey(key);
    return path.join(this.root, VERSIONS, ...key.split('/'));
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    assertNotReserved(key);
    return path.join(this.root, ...key.split('/'));
  }

  private readError(key: string, error: unknown): Error {
    return new Error(`Could not read ${JSON.stringify(key)} from ${this.location}: ${describe(error)}`, { cause: error });
  }
}

function assertNotReserved(key: string): void {
  if (key === VERSIONS || key.startsWith(`${VERSIONS}/`)) throw new InvalidKeyError(key, `"${VERSIONS}/" holds the earlier versions of objects in a local store`);
}

function versionIdOf(info: BigIntStats): string {
  return `${info.mtimeNs}-${info.ino}`;
}

function mtimeOf(info: BigIntStats): Date {
  return new Date(Number(info.mtimeNs / 1_000_000n));
}

/** Makes the rename itself durable; some platforms cannot fsync a directory, which is fine there. */
async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Durability of the rename is best effort; the object is already complete and in place.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' && MISSING.has(error.code);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
