import { open } from 'node:fs/promises';
import type { ObjectFormat } from '../ref-advertisement.js';
import { quoteBytes, type Finding } from './findings.js';
import { isValidRefName } from './fsck.js';

/** What a bundle's header says: its refs, its prerequisites and where its pack starts. */
export interface BundleHeader {
  version: 2 | 3;
  objectFormat: ObjectFormat;
  capabilities: Map<string, string | true>;
  prerequisites: { id: string; comment: string }[];
  refs: { id: string; name: string }[];
  /** Byte offset of the pack within the file. */
  packOffset: number;
}

// Headers are small; this only bounds what a damaged file can make us read before giving up.
const MAX_HEADER_BYTES = 256 * 1024 * 1024;
// git's hex parser takes either case; ids are kept lower-case.
const HEX = { sha1: /^[0-9a-f]{40}$/i, sha256: /^[0-9a-f]{64}$/i } as const;

/**
 * Reads and checks a bundle's header as git does (gitformat-bundle): the signature line, v3
 * capabilities (git refuses ones it does not know), prerequisites and ref lines, then the blank
 * line before the pack. Problems are findings; undefined means the pack cannot be found.
 */
export async function readBundleHeader(path: string, errors: Finding[]): Promise<BundleHeader | undefined> {
  const handle = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let length = 0;
    let end = -1;
    for (let position = 0; end < 0 && length < MAX_HEADER_BYTES;) {
      const chunk = Buffer.allocUnsafe(length === 0 ? 64 * 1024 : Math.min(length, 16 * 1024 * 1024));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      position += bytesRead;
      const text = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      end = text.indexOf('\n\n');
      // A header line never has a NUL: it is a pack, or garbage, without a bundle header.
      const nul = text.indexOf(0);
      if (nul >= 0 && (end < 0 || nul < end)) break;
      if (chunks.length > 1) chunks.splice(0, chunks.length, text);
    }
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (length === 0) {
      errors.push({ id: 'bundleEmpty', message: 'the file is empty' });
      return undefined;
    }
    return parseHeader(bytes, end, errors);
  } finally {
    await handle.close();
  }
}

/**
 * The same header checks on the front of a byte stream (a store object, local or S3): the header
 * is read and parsed, and the pack after it comes back as a stream of its own, never buffered, so
 * a push can send it on as it is. `header` is undefined when no pack can be found.
 */
export async function splitBundleStream(source: AsyncIterable<Buffer>, errors: Finding[]): Promise<{ header?: BundleHeader; pack: AsyncGenerator<Buffer> }> {
  const iterator = source[Symbol.asyncIterator]();
  let bytes: Buffer = Buffer.alloc(0);
  let end = -1;
  while (end < 0 && bytes.length < MAX_HEADER_BYTES) {
    const next = await iterator.next();
    if (next.done) break;
    bytes = bytes.length === 0 ? next.value : Buffer.concat([bytes, next.value]);
    end = bytes.indexOf('\n\n');
    const nul = bytes.indexOf(0);
    if (nul >= 0 && (end < 0 || nul < end)) break;
  }
  if (bytes.length === 0) errors.push({ id: 'bundleEmpty', message: 'the file is empty' });
  const header = bytes.length === 0 ? undefined : parseHeader(bytes, end, errors);
  const first = header ? bytes.subarray(header.packOffset) : Buffer.alloc(0);
  async function* pack(): AsyncGenerator<Buffer> {
    try {
      if (first.length > 0) yield first;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      await iterator.return?.();
    }
  }
  return header ? { header, pack: pack() } : { pack: pack() };
}

function parseHeader(bytes: Buffer, end: number, errors: Finding[]): BundleHeader | undefined {
  const firstLine = bytes.toString('latin1', 0, Math.min(bytes.length, 64)).split('\n')[0] ?? '';
  const version = firstLine === '# v2 git bundle' ? 2 : firstLine === '# v3 git bundle' ? 3 : undefined;
  if (!version) {
    errors.push({ id: 'bundleSignature', message: `not a git bundle: the file starts with ${quoteBytes(firstLine, 40)} instead of "# v2 git bundle" or "# v3 git bundle"` });
    return undefined;
  }
  if (end < 0) {
    errors.push({ id: 'bundleHeaderUnterminated', message: 'the bundle header never ends (no blank line before the pack)' });
    return undefined;
  }
  const lines = bytes.toString('utf8', 0, end).split('\n').slice(1);
  const capabilities = new Map<string, string | true>();
  const prerequisites: BundleHeader['prerequisites'] = [];
  const refs: BundleHeader['refs'] = [];
  let objectFormat: ObjectFormat = 'sha1';
  let index = 0;
  for (; index < lines.length && lines[index]!.startsWith('@'); index++) {
    const line = lines[index]!;
    if (version === 2) {
      errors.push({ id: 'bundleCapability', message: `a v2 bundle cannot carry capabilities (${quoteBytes(line)})` });
      continue;
    }
    const eq = line.indexOf('=');
    const key = eq < 0 ? line.slice(1) : line.slice(1, eq);
    const value = eq < 0 ? true : line.slice(eq + 1);
    capabilities.set(key, value);
    if (key === 'object-format' && (value === 'sha1' || value === 'sha256')) objectFormat = value;
    else if (key === 'object-format') errors.push({ id: 'bundleCapability', message: `unknown object format ${quoteBytes(String(value))}` });
    else if (key === 'filter') errors.push({ id: 'bundleFiltered', message: `the bundle is filtered (${quoteBytes(String(value))}): it is missing objects by design, not a full backup` });
    else errors.push({ id: 'bundleCapability', message: `unknown bundle capability ${quoteBytes(key)}; git refuses such bundles` });
  }
  for (; index < lines.length; index++) {
    const line = lines[index]!;
    if (line.startsWith('-')) {
      const [id = '', ...comment] = line.slice(1).split(' ');
      if (!HEX[objectFormat].test(id)) errors.push({ id: 'bundleRefLine', message: `malformed prerequisite line ${quoteBytes(line)}` });
      else prerequisites.push({ id: id.toLowerCase(), comment: comment.join(' ') });
      continue;
    }
    const space = line.indexOf(' ');
    const id = line.slice(0, space);
    const name = line.slice(space + 1);
    if (space < 0 || !HEX[objectFormat].test(id) || !isRefName(name)) {
      errors.push({ id: 'bundleRefLine', message: `malformed ref line ${quoteBytes(line)}` });
      continue;
    }
    refs.push({ id: id.toLowerCase(), name });
  }
  for (const prerequisite of prerequisites) {
    errors.push({
      id: 'bundlePrerequisite',
      object: prerequisite.id,
      message: `the bundle needs prerequisite ${prerequisite.id}${prerequisite.comment ? ` (${quoteBytes(prerequisite.comment)})` : ''}: it is incremental, not a full backup`,
    });
  }
  if (refs.length === 0) errors.push({ id: 'bundleNoRefs', message: 'the bundle lists no refs' });
  return { version, objectFormat, capabilities, prerequisites, refs, packOffset: end + 2 };
}

/** HEAD, or a name `git check-ref-format` accepts: anything else could not be restored as a ref. */
function isRefName(name: string): boolean {
  return name === 'HEAD' || isValidRefName(name);
}
