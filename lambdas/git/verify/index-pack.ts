import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BundleHeader } from './bundle-file.js';
import { quoteBytes, type Finding } from './findings.js';
import { ObjectChecker, ReferenceList, type FindingSink } from './object-checker.js';
import {
  createPackTable, forEachRefChild, idHex, linkDeltas, ObjectIndex, OFS_DELTA, REF_DELTA, TREE, TYPE_NAMES, type PackTable,
} from './object-table.js';
import { EntryError, inflateEntry, PackFile } from './pack-file.js';
import { hashObject, resolveDeltaTrees } from './resolve-deltas.js';
import type { ResolveWorkerData } from './resolve-worker.js';

/** The result of indexing a bundle's pack: every object's id, type and place, checked. */
export interface IndexedPack {
  table: PackTable;
  index: ObjectIndex;
  /** Entry index → size recorded in the pointer, for blobs that are LFS pointers. */
  lfsPointers: Map<number, number>;
  /** Ids of entries some tree names .gitmodules, or .gitattributes. */
  gitmodules: ReferenceList[];
  gitattributes: ReferenceList[];
  packChecksum: string;
  bundleSha256: string;
}

export interface IndexPackOptions {
  /** Fraction done: the first pass counts for one half, delta resolution for the other. */
  onProgress?: (fraction: number) => void;
  /** Resolver threads; default: the machine's parallelism, for packs big enough to pay for them. */
  workers?: number;
}

const WINDOW_BYTES = 16 * 1024 * 1024;
const READ_BYTES = 8 * 1024 * 1024;
// Packs up to this size are held in memory once, shared by the resolver threads (see PackReader).
const PRELOAD_BYTES = 400 * 1024 * 1024;
// Worker start-up costs tens of milliseconds; below this many objects one thread is faster.
const WORKER_MIN_OBJECTS = 20_000;
const MAX_ENTRY_HEADER = 64;

/**
 * Indexes a bundle's pack the way `git index-pack --strict` does: a first pass inflates every
 * entry in order (checking headers, sizes and the trailer, hashing whole objects), a second
 * resolves deltas (in worker threads for big packs), then every object's references and every
 * ref tip are looked up. Problems go to `findings`; undefined means the pack could not be read
 * far enough to go on.
 */
export async function indexPack(path: string, header: BundleHeader, findings: FindingSink, options: IndexPackOptions = {}): Promise<IndexedPack | undefined> {
  const handle = await open(path, 'r');
  const checker = new ObjectChecker(header.objectFormat);
  let firstPass: FirstPass | undefined;
  try {
    firstPass = await readPack(handle, header, checker, findings, options);
  } finally {
    await handle.close();
  }
  if (!firstPass) return undefined;
  const { table } = firstPass;

  linkDeltas(table);
  const gitmodules = [checker.gitmodules];
  const gitattributes = [checker.gitattributes];
  const references = [checker.references];
  const deltas = table.count - wholeObjectCount(table);
  const ticker = options.onProgress && setInterval(() => options.onProgress!(0.5 + Atomics.load(table.resolved, 0) / Math.max(1, deltas) / 2), 250);
  try {
    await resolveDeltas(path, header.packOffset, table, checker, { references, gitmodules, gitattributes }, options.workers);
  } finally {
    if (ticker) clearInterval(ticker);
  }
  options.onProgress?.(1);
  findings.merge(checker.findings);
  reportUnresolved(table, findings);

  const index = new ObjectIndex(table, (first, second) => {
    findings.error('duplicateObject', `object ${idHex(table.ids, first, table.hashLength)} appears twice in the pack (entries ${first} and ${second})`, idHex(table.ids, first, table.hashLength));
  });
  checkReferences(table, index, references, findings);
  for (const ref of header.refs) {
    if (index.findHex(ref.id) < 0) findings.error('missingRefTip', `${ref.name} points at ${ref.id}, which is not in the bundle`, ref.id);
  }
  return { table, index, lfsPointers: checker.lfsPointers, gitmodules, gitattributes, packChecksum: firstPass.packChecksum, bundleSha256: firstPass.bundleSha256 };
}

interface FirstPass {
  table: PackTable;
  packChecksum: string;
  bundleSha256: string;
}

/**
 * Sequential reads of the pack, hashing every byte for the trailer and the bundle's sha256. A
 * pack up to PRELOAD_BYTES is read whole into shared memory, so the resolver threads take entries
 * from it without a system call each; a larger one streams through a window and is re-read.
 */
class PackReader {
  window: Buffer;
  /** Pack offset of window[0], and how many bytes of the window are filled. */
  start = 0;
  filled = 0;
  /** The whole pack, when preloaded. */
  readonly shared: SharedArrayBuffer | undefined;
  private next = 0;
  readonly packHash;
  readonly bundleHash = createHash('sha256');

  constructor(private readonly handle: FileHandle, private readonly packOffset: number, readonly packLength: number, readonly trailerLength: number) {
    this.packHash = createHash(trailerLength === 32 ? 'sha256' : 'sha1');
    if (packLength <= PRELOAD_BYTES) {
      this.shared = new SharedArrayBuffer(packLength);
      this.window = Buffer.from(this.shared);
    } else {
      this.window = Buffer.allocUnsafe(WINDOW_BYTES);
    }
  }

  covers(position: number, length: number): boolean {
    return position >= this.start && position + length <= this.start + this.filled;
  }

  /** Makes [position, position + length) readable in the window, as far as the pack goes. */
  async fill(position: number, length: number): Promise<void> {
    if (!this.shared) this.slide(position, length);
    while (this.start + this.filled < position + length && this.next < this.packLength) {
      const room = Math.min(this.window.length - this.filled, this.packLength - this.next, READ_BYTES);
      const { bytesRead } = await this.handle.read(this.window, this.filled, room, this.packOffset + this.next);
      if (bytesRead === 0) break;
      this.hash(this.window.subarray(this.filled, this.filled + bytesRead), this.next);
      this.filled += bytesRead;
      this.next += bytesRead;
    }
  }

  /** Reads (and hashes) whatever is left, so the bundle's sha256 covers the whole file. */
  async drain(): Promise<void> {
    while (this.next < this.packLength) await this.fill(this.next, Math.min(READ_BYTES, this.packLength - this.next));
  }

  /** Moves the window to start at `position` (never past what was read) with room for `length` bytes. */
  private slide(position: number, length: number): void {
    const from = position - this.start;
    const keep = this.filled - from;
    const target = length > this.window.length ? Buffer.allocUnsafe(Math.max(length, this.window.length * 2)) : this.window;
    if (from > 0 || target !== this.window) this.window.copy(target, 0, from, this.filled);
    this.window = target;
    this.start = position;
    this.filled = keep;
  }

  private hash(bytes: Buffer, at: number): void {
    this.bundleHash.update(bytes);
    const trailerStart = this.packLength - this.trailerLength;
    if (at < trailerStart) this.packHash.update(bytes.subarray(0, Math.min(bytes.length, trailerStart - at)));
  }
}

async function readPack(handle: FileHandle, header: BundleHeader, checker: ObjectChecker, findings: FindingSink, options: IndexPackOptions): Promise<FirstPass | undefined> {
  const objectFormat = header.objectFormat;
  const hashLength = objectFormat === 'sha256' ? 32 : 20;
  const fileSize = (await handle.stat()).size;
  const packLength = fileSize - header.packOffset;
  const reader = new PackReader(handle, header.packOffset, packLength, hashLength);
  const headerBytes = Buffer.alloc(header.packOffset);
  await handle.read(headerBytes, 0, header.packOffset, 0);
  reader.bundleHash.update(headerBytes);

  if (packLength < 12 + hashLength) {
    findings.error('packTruncated', `the pack is only ${Math.max(0, packLength)} bytes: too short for a pack header and trailer`);
    return undefined;
  }
  await reader.fill(0, 12);
  const w = reader.window;
  if (w.toString('latin1', 0, 4) !== 'PACK') {
    findings.error('packSignature', `the pack does not start with "PACK" (${quoteBytes(w.toString('latin1', 0, 4))})`);
    return undefined;
  }
  const version = w.readUInt32BE(4);
  if (version !== 2 && version !== 3) {
    findings.error('packVersion', `unsupported pack version ${version}`);
    return undefined;
  }
  const count = w.readUInt32BE(8);
  const trailerStart = packLength - hashLength;
  // Each entry needs a header byte and an 8-byte zlib stream at least: a larger count is a lie.
  const maxEntries = Math.floor((trailerStart - 12) / 9);
  if (count > maxEntries) {
    findings.error('packObjectCount', `the pack header announces ${count} objects, more than its ${trailerStart - 12} bytes can hold`);
    return undefined;
  }
  const table = createPackTable(objectFormat, count);

  let position = 12;
  let lastProgress = 0;
  for (let i = 0; i < count; i++) {
    if (position >= trailerStart) {
      findings.error('packTruncated', `the pack ends after ${i} of the ${count} objects its header announces`);
      return undefined;
    }
    if (!reader.covers(position, Math.min(MAX_ENTRY_HEADER, trailerStart - position))) await reader.fill(position, Math.min(MAX_ENTRY_HEADER, trailerStart - position));
    const entry = parseEntryHeader(reader.window, position - reader.start, Math.min(reader.filled, trailerStart - reader.start), hashLength);
    if (typeof entry === 'string') {
      findings.error('packEntryHeader', `pack entry ${i} at offset ${position}: ${entry}`);
      return undefined;
    }
    table.offset[i] = position;
    table.kind[i] = entry.kind;
    table.size[i] = entry.size;
    const dataStart = position + entry.headerLength;
    table.dataOffset[i] = dataStart;
    if (entry.kind === OFS_DELTA) {
      const baseOffset = position - entry.baseDistance!;
      const baseIndex = baseOffset >= 12 ? findEntry(table.offset, i, baseOffset) : -1;
      if (baseIndex < 0) {
        findings.error('deltaBaseOffset', `pack entry ${i} at offset ${position}: its delta base offset points to ${baseOffset}, where no entry starts`);
        return undefined;
      }
      table.base[i] = baseIndex;
    } else if (entry.kind === REF_DELTA) {
      table.refBase.set(reader.window.subarray(position - reader.start + entry.headerLength - hashLength, position - reader.start + entry.headerLength), i * hashLength);
    }

    // Deflate never grows data by more than a few bytes per 16 KiB block: this bounds the read.
    let bound = Math.min(trailerStart - dataStart, entry.size + Math.ceil(entry.size / 16_000) * 5 + 64);
    let inflated: { data: Buffer; consumed: number } | undefined;
    for (;;) {
      if (!reader.covers(dataStart, bound)) await reader.fill(dataStart, bound);
      try {
        inflated = inflateEntry(reader.window.subarray(dataStart - reader.start, dataStart - reader.start + bound), entry.size);
        break;
      } catch (error) {
        if (!(error instanceof EntryError)) throw error;
        // An encoder may spend more bytes than deflate's bound (stored blocks): look further before calling it truncated.
        if (/truncated/.test(error.message) && bound < trailerStart - dataStart) {
          bound = Math.min(trailerStart - dataStart, bound * 4 + 1024 * 1024);
          continue;
        }
        findings.error('packEntryCorrupt', `pack entry ${i} (${kindName(entry.kind)}) at offset ${position}: ${error.message}`);
        return undefined;
      }
    }
    position = dataStart + inflated.consumed;
    if (entry.kind < OFS_DELTA) {
      table.type[i] = entry.kind;
      hashObject(table, i, entry.kind, inflated.data);
      checker.check(i, entry.kind, inflated.data, idHex(table.ids, i, hashLength));
    }
    table.count = i + 1;
    if (options.onProgress && position - lastProgress > 4 * 1024 * 1024) {
      lastProgress = position;
      options.onProgress(position / packLength / 2);
    }
  }
  table.offset[count] = position;
  table.count = count;

  if (position !== trailerStart) {
    findings.error('packTrailingData', `${trailerStart - position} bytes follow the last of the ${count} objects before the trailer: the object count or the pack is wrong`);
    return undefined;
  }
  await reader.fill(position, hashLength);
  const trailer = reader.window.toString('hex', position - reader.start, position - reader.start + hashLength);
  const computed = reader.packHash.digest('hex');
  if (trailer !== computed) {
    findings.error('packChecksum', `the pack's trailing checksum ${trailer} does not match its content (${computed})`);
    return undefined;
  }
  await reader.drain();
  options.onProgress?.(0.5);
  if (reader.shared) table.pack = reader.shared;
  return { table, packChecksum: trailer, bundleSha256: reader.bundleHash.digest('hex') };
}

interface EntryHeader {
  kind: number;
  size: number;
  headerLength: number;
  baseDistance?: number;
}

/** Parses an entry's type-and-size varint and its delta base; a string says what is wrong. */
function parseEntryHeader(w: Buffer, at: number, end: number, hashLength: number): EntryHeader | string {
  let p = at;
  if (p >= end) return 'the entry header is cut off';
  let byte = w[p++]!;
  const kind = (byte >> 4) & 7;
  let size = byte & 15;
  let shift = 4;
  while (byte & 0x80) {
    if (p >= end) return 'the entry header is cut off';
    if (shift > 49) return 'the entry size is too large';
    byte = w[p++]!;
    size += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  }
  if (kind === 0 || kind === 5) return `invalid object type ${kind}`;
  if (kind === OFS_DELTA) {
    if (p >= end) return 'the delta base offset is cut off';
    byte = w[p++]!;
    let distance = byte & 0x7f;
    while (byte & 0x80) {
      if (p >= end) return 'the delta base offset is cut off';
      if (distance > 2 ** 45) return 'the delta base offset is too large';
      byte = w[p++]!;
      distance = (distance + 1) * 128 + (byte & 0x7f);
    }
    // The caller checks the base against real entry offsets; zero can never be right.
    if (distance === 0) return 'the delta base offset is zero';
    return { kind, size, headerLength: p - at, baseDistance: distance };
  }
  if (kind === REF_DELTA) {
    if (p + hashLength > end) return 'the delta base id is cut off';
    return { kind, size, headerLength: p + hashLength - at };
  }
  return { kind, size, headerLength: p - at };
}

/** Index of the entry starting at `offset` among the first `count`, or -1. */
function findEntry(offsets: Float64Array, count: number, offset: number): number {
  let low = 0;
  let high = count - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const value = offsets[middle]!;
    if (value === offset) return middle;
    if (value < offset) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}

function kindName(kind: number): string {
  return kind === OFS_DELTA ? 'ofs-delta' : kind === REF_DELTA ? 'ref-delta' : TYPE_NAMES[kind] ?? `type ${kind}`;
}

function wholeObjectCount(table: PackTable): number {
  let whole = 0;
  for (let i = 0; i < table.count; i++) if (table.kind[i]! < OFS_DELTA) whole++;
  return whole;
}

/** Whole objects with deltas on them: the starting points of the second pass. */
function deltaRoots(table: PackTable): Int32Array {
  const roots: number[] = [];
  for (let i = 0; i < table.count; i++) {
    if (table.kind[i]! >= OFS_DELTA) continue;
    let hasChildren = table.childStart[i + 1]! > table.childStart[i]!;
    if (!hasChildren && table.refOrder.length > 0) forEachRefChild(table, table.ids, i * table.hashLength, () => { hasChildren = true; });
    if (hasChildren) roots.push(i);
  }
  return Int32Array.from(roots);
}

function workerUrl(): URL {
  // Under vitest this module runs from its TypeScript source; the worker always runs compiled.
  const url = new URL('./resolve-worker.js', import.meta.url);
  return import.meta.url.endsWith('.ts') ? new URL(url.href.replace('/lambdas/git/verify/', '/dist/lambdas/git/verify/')) : url;
}

async function resolveDeltas(
  path: string,
  packOffset: number,
  table: PackTable,
  checker: ObjectChecker,
  lists: { references: ReferenceList[]; gitmodules: ReferenceList[]; gitattributes: ReferenceList[] },
  workers = table.count >= WORKER_MIN_OBJECTS ? Math.min(availableParallelism(), 8) : 1,
): Promise<void> {
  const roots = deltaRoots(table);
  const nextRoot = new Int32Array(new SharedArrayBuffer(4));
  if (workers <= 1 || roots.length < 2) {
    const file = new PackFile(path, packOffset, table);
    try {
      resolveDeltaTrees(table, file, roots, nextRoot, checker);
    } finally {
      file.close();
    }
    return;
  }
  const data: ResolveWorkerData = { table, path, packOffset, roots, nextRoot };
  const threads = Array.from({ length: workers }, () => new Worker(workerUrl(), { workerData: data }));
  let results: WorkerResult[];
  try {
    results = await Promise.all(threads.map((worker) => new Promise<WorkerResult>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`delta resolver worker exited with code ${code}`)));
    })));
  } catch (error) {
    // One failed worker fails the verification; the others need not finish.
    await Promise.all(threads.map((worker) => worker.terminate()));
    throw error;
  }
  const hashLength = table.hashLength;
  for (const result of results) {
    checker.findings.merge(result.findings);
    lists.references.push(Object.assign(new ReferenceList(hashLength, 1), result.references));
    lists.gitmodules.push(Object.assign(new ReferenceList(hashLength, 1), result.gitmodules));
    lists.gitattributes.push(Object.assign(new ReferenceList(hashLength, 1), result.gitattributes));
    for (const [index, size] of result.lfsPointers) checker.lfsPointers.set(index, size);
  }
}

interface WorkerResult {
  findings: { errors: Finding[]; warnings: Finding[]; dropped: [string, { count: number; error: boolean }][] };
  references: Pick<ReferenceList, 'ids' | 'types' | 'from' | 'length'>;
  gitmodules: Pick<ReferenceList, 'ids' | 'types' | 'from' | 'length'>;
  gitattributes: Pick<ReferenceList, 'ids' | 'types' | 'from' | 'length'>;
  lfsPointers: [number, number][];
}

function reportUnresolved(table: PackTable, findings: FindingSink): void {
  const { hashLength: h } = table;
  for (let i = 0; i < table.count; i++) {
    // A delta that was reached but failed to apply was reported where it failed.
    if (table.type[i] !== 0) continue;
    const base = table.kind[i] === REF_DELTA
      ? `base object ${idHex(table.refBase, i, h)}, which is not in the pack`
      : `base at offset ${table.offset[table.base[i]!]}, which could not be resolved`;
    findings.error('unresolvedDelta', `the delta at offset ${table.offset[i]} cannot be resolved: it needs ${base}`);
  }
}

const EXPECTED = ['', 'commit', 'tree', 'blob', 'tag'];
// git knows the empty tree without storing it, so a pack may name it and leave it out.
const EMPTY_TREE = {
  20: Buffer.from('4b825dc642cb6eb9a060e54bf8d69288fbee4904', 'hex'),
  32: Buffer.from('6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321', 'hex'),
} as Record<number, Buffer>;

/** Every object each object names is in the pack, with the type it is named as (gitlinks excluded). */
function checkReferences(table: PackTable, index: ObjectIndex, lists: ReferenceList[], findings: FindingSink): void {
  const h = table.hashLength;
  for (const list of lists) {
    for (let r = 0; r < list.length; r++) {
      const found = index.find(list.ids, r * h);
      const from = list.from[r]!;
      const expected = list.types[r]!;
      if (found < 0 && expected === TREE && EMPTY_TREE[h]!.equals(list.ids.subarray(r * h, r * h + h))) continue;
      if (found < 0) {
        const missing = idHex(list.ids, r, h);
        findings.error('brokenLink', `${TYPE_NAMES[table.type[from]!]} ${idHex(table.ids, from, h)} refers to ${EXPECTED[expected]} ${missing}, which is not in the bundle`, missing);
      } else if (table.type[found] !== expected) {
        const id = idHex(table.ids, found, h);
        findings.error('wrongObjectType', `${TYPE_NAMES[table.type[from]!]} ${idHex(table.ids, from, h)} refers to ${id} as a ${EXPECTED[expected]}, but it is a ${TYPE_NAMES[table.type[found]!]}`, id);
      }
    }
  }
}
