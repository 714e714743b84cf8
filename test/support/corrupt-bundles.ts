import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import pLimit from 'p-limit';
import { git, gitBuffer, gitEnv } from '../../demo/git.js';
import { createRichRepo, createSha256Repo } from '../../demo/origin-repos.js';

/**
 * A corpus of good and bad bundles for the verifier, every one built with real git (plumbing,
 * `git fast-import`, `git pack-objects`, `git bundle create`) plus byte surgery on the packs, and
 * every verdict taken from real git: `git bundle verify`, `git index-pack --strict` on the pack,
 * `git rev-list --objects` of every ref tip and `git check-ref-format` of every ref name (see
 * gitOracle). The expected fsck ids are the ones git prints; for a broken tag that index-pack
 * cannot even parse ("fatal: invalid tag"), `git mktag` names the problem instead. Deterministic
 * (fixed dates, one pack-objects thread), a few seconds to build, nothing cached across runs.
 */

export type ObjectFormat = 'sha1' | 'sha256';

export interface CorpusCase {
  name: string;
  /** The bundle file. */
  file: string;
  /** What real git makes of the bundle (gitOracle). */
  gitVerdict: 'ok' | 'fail';
  /** git's stderr (and which step failed), for debugging. */
  gitSays: string;
  /**
   * fsck message ids git reported for the bundle's objects (errors, and INFO/WARN findings that
   * index-pack prints as warnings); absent when git stopped before naming one.
   */
  expectIds?: string[];
  /**
   * The fsck ids the case was built to provoke (documentation only: git may stop before fsck, e.g.
   * index-pack dies with "invalid tag" when it cannot parse a tag, and then reports no id).
   */
  builtFor?: string[];
}

// ---------------------------------------------------------------------------------------------
// The git oracle
// ---------------------------------------------------------------------------------------------

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs git and resolves with its exit code and output whatever the exit code (never rejects on failure). */
function runGit(args: string[], cwd: string, input?: string | Buffer): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env: gitEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/** The bundle's header and pack: the pack starts after the first empty line, as git reads it. */
export function splitBundle(bytes: Buffer): { header: Buffer; pack: Buffer } | undefined {
  const end = bytes.indexOf('\n\n');
  if (end < 0) return undefined;
  return { header: bytes.subarray(0, end + 1), pack: bytes.subarray(end + 2) };
}

/** The object format a bundle claims: sha256 only for a v3 header with `@object-format=sha256`. */
export function claimedObjectFormat(bytes: Buffer): ObjectFormat {
  const split = splitBundle(bytes);
  const text = (split ? split.header : bytes.subarray(0, 64 * 1024)).toString('latin1');
  const lines = text.split('\n');
  if (lines[0] !== '# v3 git bundle') return 'sha1';
  return lines.includes('@object-format=sha256') ? 'sha256' : 'sha1';
}

/**
 * The ref lines of a bundle header (not prerequisites or capabilities), as git reads them: the line
 * right-trimmed, the object id, one whitespace character, then the name up to any NUL.
 */
function headerRefs(header: Buffer, format: ObjectFormat): { id: string; name: string }[] {
  const hexLength = hashLength(format) * 2;
  const refs: { id: string; name: string }[] = [];
  for (const line of header.toString('utf8').split('\n').slice(1)) {
    if (line === '' || line.startsWith('-') || line.startsWith('@')) continue;
    const trimmed = line.replace(/\s+$/, '');
    const name = trimmed.slice(hexLength + 1);
    refs.push({ id: trimmed.slice(0, hexLength), name: name.includes('\0') ? name.slice(0, name.indexOf('\0')) : name });
  }
  return refs;
}

/** fsck message ids in git's output: "error: object <oid>: <msgId>: <text>". */
export function fsckIdsIn(stderr: string): string[] {
  const ids = new Set<string>();
  for (const match of stderr.matchAll(/object [0-9a-f]{40,64}: ([a-zA-Z][a-zA-Z0-9]*):/g)) ids.add(match[1]!);
  // git mktag: "error: tag input does not pass fsck: <msgId>: <text>"
  for (const match of stderr.matchAll(/does not pass fsck: ([a-zA-Z][a-zA-Z0-9]*):/g)) ids.add(match[1]!);
  return [...ids];
}

export interface GitVerdict {
  verdict: 'ok' | 'fail';
  says: string;
  ids: string[];
}

/**
 * Real git's verdict on a bundle file, in a new empty repository (made under scratchRoot) of the
 * object format the bundle claims: `git bundle verify` (header and prerequisites), then
 * `git index-pack --strict` on the pack bytes after the header's blank line, then, with that pack
 * and its index in the repository, `git rev-list --objects` of every ref tip of the header. 'ok'
 * only when all pass, and when `git check-ref-format` accepts every ref name but HEAD: `git bundle
 * verify` takes any bytes for a name, but `git clone` of the bundle drops a name that fails that
 * check ("error: * Ignoring funny ref"), so such a bundle does not restore its refs.
 */
export async function gitOracle(file: string, scratchRoot: string): Promise<GitVerdict> {
  const bytes = await readFile(file);
  const format = claimedObjectFormat(bytes);
  const repo = await mkdtemp(path.join(scratchRoot, 'oracle-'));
  const init = await runGit(['init', '-q', '--bare', `--object-format=${format}`, repo], scratchRoot);
  if (init.code !== 0) throw new Error(`git init failed: ${init.stderr}`);
  const says: string[] = [];
  const fail = (step: string, stderr: string): GitVerdict => ({
    verdict: 'fail',
    says: [...says, `${step}: ${stderr.trim()}`].join('\n'),
    ids: fsckIdsIn([...says, stderr].join('\n')),
  });

  const verify = await runGit(['bundle', 'verify', file], repo);
  if (verify.code !== 0) return fail('git bundle verify', verify.stderr);
  const split = splitBundle(bytes);
  if (!split) return fail('header', 'no empty line ends the bundle header');

  const packFile = path.join(repo, 'objects', 'pack', 'pack-bundle.pack');
  await writeFile(packFile, split.pack);
  const index = await runGit(['index-pack', '--strict', `--object-format=${format}`, packFile], repo);
  if (index.code !== 0) return fail('git index-pack --strict', index.stderr);
  if (index.stderr.trim() !== '') says.push(`git index-pack --strict: ${index.stderr.trim()}`);

  const refs = headerRefs(split.header, format);
  if (refs.length > 0) {
    const revList = await runGit(['rev-list', '--objects', ...refs.map((r) => r.id), '--'], repo);
    if (revList.code !== 0) return fail('git rev-list --objects', revList.stderr);
  }
  const names = [...new Set(refs.map((r) => r.name).filter((name) => name !== 'HEAD'))];
  const checks = await Promise.all(names.map((name) => runGit(['check-ref-format', name], repo)));
  const funny = names.filter((_, i) => checks[i]!.code !== 0);
  if (funny.length > 0) return fail('git check-ref-format', `not valid ref names: ${funny.map((n) => JSON.stringify(n)).join(', ')}`);
  return { verdict: 'ok', says: says.length > 0 ? says.join('\n') : 'ok', ids: fsckIdsIn(says.join('\n')) };
}

/**
 * Whether a message meant for people carries raw bytes: C0 controls other than tab and newline,
 * DEL, C1 controls, or the replacement character undecodable bytes turn into.
 */
export function hasRawBinary(message: string): boolean {
  for (const ch of message) {
    const code = ch.codePointAt(0)!;
    if ((code < 0x20 && ch !== '\t' && ch !== '\n') || (code >= 0x7f && code <= 0x9f) || code === 0xfffd) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// A tiny pack walker and pack surgery (test-only: assumes a well-formed input pack)
// ---------------------------------------------------------------------------------------------

export const OBJ_COMMIT = 1;
export const OBJ_TREE = 2;
export const OBJ_BLOB = 3;
export const OBJ_TAG = 4;
export const OBJ_OFS_DELTA = 6;
export const OBJ_REF_DELTA = 7;
const TYPE_NAMES: Record<number, string> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };

export function hashLength(format: ObjectFormat): number {
  return format === 'sha256' ? 32 : 20;
}

export interface PackEntry {
  index: number;
  /** Offset of the entry's first header byte in the pack. */
  offset: number;
  /** Type from the entry header (1-4, or 6/7 for deltas). */
  type: number;
  /** Inflated size from the entry header. */
  size: number;
  /** Absolute offset of the base entry (OFS_DELTA). */
  baseOffset?: number;
  /** Hex id of the base (REF_DELTA). */
  baseId?: string;
  /** Where the zlib stream starts and ends. */
  dataStart: number;
  dataEnd: number;
}

export interface WalkedPack {
  version: number;
  count: number;
  entries: PackEntry[];
  /** Offset of the trailing checksum. */
  trailerStart: number;
}

export function walkPack(pack: Buffer, format: ObjectFormat = 'sha1'): WalkedPack {
  if (pack.toString('latin1', 0, 4) !== 'PACK') throw new Error('walkPack: not a pack');
  const version = pack.readUInt32BE(4);
  const count = pack.readUInt32BE(8);
  const entries: PackEntry[] = [];
  let pos = 12;
  for (let index = 0; index < count; index++) {
    const offset = pos;
    let c = pack[pos++]!;
    const type = (c >> 4) & 7;
    let size = c & 15;
    let shift = 4;
    while (c & 0x80) {
      c = pack[pos++]!;
      size += (c & 0x7f) * 2 ** shift;
      shift += 7;
    }
    const entry: PackEntry = { index, offset, type, size, dataStart: 0, dataEnd: 0 };
    if (type === OBJ_OFS_DELTA) {
      c = pack[pos++]!;
      let distance = c & 0x7f;
      while (c & 0x80) {
        c = pack[pos++]!;
        distance = (distance + 1) * 128 + (c & 0x7f);
      }
      entry.baseOffset = offset - distance;
    } else if (type === OBJ_REF_DELTA) {
      entry.baseId = pack.toString('hex', pos, pos + hashLength(format));
      pos += hashLength(format);
    }
    entry.dataStart = pos;
    const inflated = inflateSync(pack.subarray(pos), { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    if (inflated.buffer.length !== size) throw new Error(`walkPack: entry ${index} inflates to ${inflated.buffer.length}, header says ${size}`);
    pos += inflated.engine.bytesWritten;
    entry.dataEnd = pos;
    entries.push(entry);
  }
  if (pos + hashLength(format) !== pack.length) throw new Error(`walkPack: ${pack.length - pos} bytes after the last entry`);
  return { version, count, entries, trailerStart: pos };
}

export function inflateEntry(pack: Buffer, entry: PackEntry): Buffer {
  return inflateSync(pack.subarray(entry.dataStart, entry.dataEnd));
}

/** Reads a delta's size varint at pos. */
function readDeltaVarint(delta: Buffer, pos: number): { value: number; next: number } {
  let value = 0;
  let shift = 0;
  let c: number;
  do {
    c = delta[pos++]!;
    value += (c & 0x7f) * 2 ** shift;
    shift += 7;
  } while (c & 0x80);
  return { value, next: pos };
}

export function encodeDeltaVarint(value: number): Buffer {
  const out: number[] = [];
  do {
    let c = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) c |= 0x80;
    out.push(c);
  } while (value > 0);
  return Buffer.from(out);
}

export interface DeltaParts {
  baseSize: number;
  resultSize: number;
  /** Offset of the first instruction. */
  instructions: number;
}

export function parseDelta(delta: Buffer): DeltaParts {
  const base = readDeltaVarint(delta, 0);
  const result = readDeltaVarint(delta, base.next);
  return { baseSize: base.value, resultSize: result.value, instructions: result.next };
}

/** Applies a git delta to base (test-only; throws on a bad delta). */
export function applyDelta(base: Buffer, delta: Buffer): Buffer {
  const { baseSize, resultSize, instructions } = parseDelta(delta);
  if (baseSize !== base.length) throw new Error('applyDelta: base size mismatch');
  const out = Buffer.alloc(resultSize);
  let outPos = 0;
  let pos = instructions;
  while (pos < delta.length) {
    const cmd = delta[pos++]!;
    if (cmd & 0x80) {
      let offset = 0;
      let size = 0;
      for (let i = 0; i < 4; i++) if (cmd & (1 << i)) offset += delta[pos++]! * 2 ** (8 * i);
      for (let i = 0; i < 3; i++) if (cmd & (16 << i)) size += delta[pos++]! * 2 ** (8 * i);
      if (size === 0) size = 0x10000;
      if (offset + size > base.length || outPos + size > resultSize) throw new Error('applyDelta: copy out of range');
      base.copy(out, outPos, offset, offset + size);
      outPos += size;
    } else if (cmd > 0) {
      if (outPos + cmd > resultSize) throw new Error('applyDelta: insert out of range');
      delta.copy(out, outPos, pos, pos + cmd);
      pos += cmd;
      outPos += cmd;
    } else throw new Error('applyDelta: opcode 0');
  }
  if (outPos !== resultSize) throw new Error('applyDelta: result size mismatch');
  return out;
}

/** Offset of the first insert instruction's first literal byte in a delta, if there is one. */
export function firstInsertByte(delta: Buffer): number | undefined {
  let pos = parseDelta(delta).instructions;
  while (pos < delta.length) {
    const cmd = delta[pos++]!;
    if (cmd & 0x80) {
      for (let bit = 0; bit < 7; bit++) if (cmd & (1 << bit)) pos++;
    } else return pos;
  }
  return undefined;
}

export interface ResolvedEntry {
  id: string;
  /** The object's real type (1-4). */
  type: number;
  /** Delta chain length (0 for a whole object). */
  depth: number;
  data: Buffer;
}

/** Resolves every entry whose base is in the pack; entries with a missing base stay undefined. */
export function resolvePack(pack: Buffer, walked: WalkedPack, format: ObjectFormat = 'sha1'): (ResolvedEntry | undefined)[] {
  const out: (ResolvedEntry | undefined)[] = walked.entries.map(() => undefined);
  const byOffset = new Map(walked.entries.map((e) => [e.offset, e.index]));
  const byId = new Map<string, number>();
  const objectId = (type: number, data: Buffer): string =>
    createHash(format === 'sha256' ? 'sha256' : 'sha1')
      .update(`${TYPE_NAMES[type]} ${data.length}\0`)
      .update(data)
      .digest('hex');
  let progress = true;
  while (progress) {
    progress = false;
    for (const entry of walked.entries) {
      if (out[entry.index]) continue;
      const raw = inflateEntry(pack, entry);
      let resolved: ResolvedEntry | undefined;
      if (entry.type >= 1 && entry.type <= 4) resolved = { id: objectId(entry.type, raw), type: entry.type, depth: 0, data: raw };
      else {
        const baseIndex = entry.type === OBJ_OFS_DELTA ? byOffset.get(entry.baseOffset!) : byId.get(entry.baseId!);
        const base = baseIndex === undefined ? undefined : out[baseIndex];
        if (base) {
          const data = applyDelta(base.data, raw);
          resolved = { id: objectId(base.type, data), type: base.type, depth: base.depth + 1, data };
        }
      }
      if (resolved) {
        out[entry.index] = resolved;
        byId.set(resolved.id, entry.index);
        progress = true;
      }
    }
  }
  return out;
}

/** The pack with its trailing checksum recomputed over everything before it. */
export function fixTrailer(pack: Buffer, format: ObjectFormat = 'sha1'): Buffer {
  const body = pack.subarray(0, pack.length - hashLength(format));
  return withTrailer(body, format);
}

export function withTrailer(body: Buffer, format: ObjectFormat = 'sha1'): Buffer {
  return Buffer.concat([body, createHash(format === 'sha256' ? 'sha256' : 'sha1').update(body).digest()]);
}

/** A copy of buf with one bit flipped. */
export function flipBit(buf: Buffer, offset: number, bit = 0): Buffer {
  const out = Buffer.from(buf);
  out[offset] = out[offset]! ^ (1 << bit);
  return out;
}

export function encodeEntryHeader(type: number, size: number): Buffer {
  const out: number[] = [];
  let c = (type << 4) | (size & 15);
  size = Math.floor(size / 16);
  while (size > 0) {
    out.push(c | 0x80);
    c = size & 0x7f;
    size = Math.floor(size / 128);
  }
  out.push(c);
  return Buffer.from(out);
}

export function encodeOfsDistance(distance: number): Buffer {
  const bytes = [distance & 0x7f];
  distance = Math.floor(distance / 128);
  while (distance > 0) {
    distance -= 1;
    bytes.unshift(0x80 | (distance & 0x7f));
    distance = Math.floor(distance / 128);
  }
  return Buffer.from(bytes);
}

/** Changes to one entry when rebuilding a pack. */
export interface EntryOverride {
  type?: number;
  size?: number;
  /** Raw OFS_DELTA distance to write instead of the recomputed one. */
  ofsDistance?: number;
  baseId?: string;
  /** New inflated data (deflated again); the size follows it unless size is also given. */
  inflated?: Buffer;
}

/**
 * Writes the pack again entry by entry, with OFS_DELTA distances recomputed for the new offsets,
 * the given overrides applied, extra raw entries appended, the given object count (default: the
 * number of entries written) and a fresh trailer.
 */
export function rebuildPack(
  pack: Buffer,
  walked: WalkedPack,
  options: { overrides?: Map<number, EntryOverride>; appendRaw?: Buffer[]; count?: number; format?: ObjectFormat; version?: number } = {},
): Buffer {
  const format = options.format ?? 'sha1';
  const parts: Buffer[] = [];
  const newOffset = new Map<number, number>();
  let pos = 12;
  for (const entry of walked.entries) {
    const o = options.overrides?.get(entry.index) ?? {};
    newOffset.set(entry.offset, pos);
    const data = o.inflated ? deflateSync(o.inflated) : pack.subarray(entry.dataStart, entry.dataEnd);
    const size = o.size ?? (o.inflated ? o.inflated.length : entry.size);
    const type = o.type ?? entry.type;
    const chunk: Buffer[] = [encodeEntryHeader(type, size)];
    if (type === OBJ_OFS_DELTA) {
      const distance = o.ofsDistance ?? pos - newOffset.get(entry.baseOffset!)!;
      chunk.push(encodeOfsDistance(distance));
    } else if (type === OBJ_REF_DELTA) chunk.push(Buffer.from(o.baseId ?? entry.baseId!, 'hex'));
    chunk.push(data);
    const bytes = Buffer.concat(chunk);
    parts.push(bytes);
    pos += bytes.length;
  }
  const extra = options.appendRaw ?? [];
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(options.version ?? walked.version, 4);
  header.writeUInt32BE(options.count ?? walked.entries.length + extra.length, 8);
  return withTrailer(Buffer.concat([header, ...parts, ...extra]), format);
}

// ---------------------------------------------------------------------------------------------
// Building objects and bundles with real git
// ---------------------------------------------------------------------------------------------

const IDENT = 'Fixture Author <author@example.com> 1700000000 +0000';
const COMMITTER = 'Fixture Committer <committer@example.com> 1700000000 +0000';
const TAGGER = 'Fixture Tagger <tagger@example.com> 1700000060 +0000';

/** A bare scratch repository where fixture objects are made. */
class Workshop {
  private constructor(
    readonly dir: string,
    readonly format: ObjectFormat,
  ) {}

  static async create(dir: string, format: ObjectFormat = 'sha1'): Promise<Workshop> {
    await git(['init', '-q', '--bare', '--initial-branch=main', `--object-format=${format}`, dir]);
    return new Workshop(dir, format);
  }

  git(args: string[], input?: string | Buffer): Promise<string> {
    return git(args, { cwd: this.dir, ...(input === undefined ? {} : { input }) });
  }

  /** Writes any bytes as an object of the given type, unchecked. */
  async raw(type: 'blob' | 'tree' | 'commit' | 'tag', content: string | Buffer): Promise<string> {
    return (await this.git(['hash-object', '-t', type, '--literally', '-w', '--stdin'], content)).trim();
  }

  async mktree(text: string): Promise<string> {
    return (await this.git(['mktree'], text)).trim();
  }

  /** `git rev-list --objects` of tips as "<oid> <path>" lines (pack-objects input). */
  async objectLines(tips: string[]): Promise<string[]> {
    const out = await this.git(['rev-list', '--objects', ...tips, '--']);
    return out.split('\n').filter((line) => line !== '');
  }

  /** `git pack-objects --stdout` of exactly these objects: OFS_DELTA with ofs, REF_DELTA without. */
  async pack(lines: string[], ofs: boolean, extra: string[] = []): Promise<Buffer> {
    const args = ['pack-objects', '--stdout', '-q', '--threads=1', '--no-reuse-delta', ...(ofs ? ['--delta-base-offset'] : []), ...extra];
    return gitBuffer(args, { cwd: this.dir, input: `${lines.join('\n')}\n` });
  }

  async fastImport(stream: string): Promise<void> {
    await this.git(['fast-import', '--quiet', '--date-format=raw'], stream);
  }

  async rev(name: string): Promise<string> {
    return (await this.git(['rev-parse', '--verify', name])).trim();
  }
}

type Ref = readonly [oid: string, name: string];

/** Bundle bytes: signature, capabilities, prerequisites, refs, empty line, pack. */
export function bundleBytes(opts: { version?: 2 | 3; capabilities?: string[]; prerequisites?: string[]; refs: readonly Ref[]; pack: Buffer }): Buffer {
  const lines = [`# v${opts.version ?? 2} git bundle`];
  for (const cap of opts.capabilities ?? []) lines.push(`@${cap}`);
  for (const pre of opts.prerequisites ?? []) lines.push(`-${pre}`);
  for (const [oid, name] of opts.refs) lines.push(`${oid} ${name}`);
  return Buffer.concat([Buffer.from(`${lines.join('\n')}\n\n`, 'utf8'), opts.pack]);
}

function data(text: string): string {
  return `data ${Buffer.byteLength(text)}\n${text}\n`;
}

/** A 60-line text file whose versions delta well against each other. */
function appText(version: number): string {
  const lines = Array.from({ length: 60 }, (_, i) => `line ${i}: the quick brown fox jumps over the lazy dog ${i * 7}\n`);
  if (version >= 2) {
    lines[30] = 'line 30: changed in version 2\n';
    lines.push('line 60: appended in version 2\n');
  }
  return lines.join('');
}

/** main: c1 (README.md, src/app.txt) ← c2 (src/app.txt changed) ← c3 (docs/guide.txt); dev → c2; annotated tag v1 → c3. */
function simpleHistory(): string {
  const commit = (mark: number, message: string, files: [string, string][], from?: number): string =>
    [
      `commit refs/heads/main\nmark :${mark}\nauthor ${IDENT}\ncommitter ${COMMITTER}\n${data(message)}`,
      from === undefined ? '' : `from :${from}\n`,
      ...files.map(([name, text]) => `M 100644 inline ${name}\n${data(text)}`),
      '\n',
    ].join('');
  return [
    commit(1, 'First commit\n', [
      ['README.md', '# simple\n\nA fixture for the verifier corpus.\n'],
      ['src/app.txt', appText(1)],
    ]),
    commit(2, 'Change the app\n', [['src/app.txt', appText(2)]], 1),
    commit(3, 'Add a guide\n', [['docs/guide.txt', 'How to use this repository:\n\n1. Clone it.\n2. Read it.\n']], 2),
    'reset refs/heads/dev\nfrom :2\n\n',
    `tag v1\nfrom :3\ntagger ${TAGGER}\n${data('Release v1\n')}`,
  ].join('');
}

/** 40 versions of one file on main: a delta chain about 40 deep. */
function deepHistory(): string {
  const parts: string[] = [];
  const lines = Array.from({ length: 120 }, (_, i) => `key${i}: value ${i} of a long enough yaml file for deltas\n`);
  for (let v = 1; v <= 40; v++) {
    lines[(v * 3) % lines.length] = `key${(v * 3) % lines.length}: changed in version ${v}\n`;
    lines.push(`added${v}: version ${v}\n`);
    parts.push(
      `commit refs/heads/main\nmark :${v}\nauthor ${IDENT}\ncommitter ${COMMITTER}\n${data(`Version ${v}\n`)}`,
      v > 1 ? `from :${v - 1}\n` : '',
      `M 100644 inline chart/values.yaml\n${data(lines.join(''))}\n`,
    );
  }
  return parts.join('');
}

interface CaseSpec {
  name: string;
  bytes: Buffer;
  /** fsck ids the case is built to provoke (documentation; see CorpusCase.builtFor). */
  intends?: string[];
  /** More of git's own word on the case: `git mktag` output for a tag it could not index. */
  extra?: { says: string; ids: string[] };
}

function find<T>(items: readonly T[], predicate: (item: T) => boolean, what: string): T {
  const found = items.find(predicate);
  if (found === undefined) throw new Error(`corpus: no ${what}`);
  return found;
}

/** Every case built by the corpus; see CorpusCase. Takes a few seconds. */
export async function buildCorpus(dir: string): Promise<CorpusCase[]> {
  await mkdir(dir, { recursive: true });
  const work = path.join(dir, 'work');
  const oracleRoot = path.join(dir, 'oracle');
  await mkdir(work, { recursive: true });
  await mkdir(oracleRoot, { recursive: true });
  const specs: CaseSpec[] = [];
  const add: Add = (name, bytes, intends, extra) => {
    if (specs.some((s) => s.name === name)) throw new Error(`corpus: duplicate case ${name}`);
    specs.push({ name, bytes, ...(intends ? { intends } : {}), ...(extra ? { extra } : {}) });
  };

  await Promise.all([
    simpleCases(work, add),
    objectCases(work, add),
    deepCases(work, add),
    richAndSha256Cases(work, add),
  ]);

  const limit = pLimit(4);
  const cases = await Promise.all(
    specs.map((spec) =>
      limit(async (): Promise<CorpusCase> => {
        const file = path.join(dir, `${spec.name}.bundle`);
        await writeFile(file, spec.bytes);
        const oracle = await gitOracle(file, oracleRoot);
        const ids = [...new Set([...oracle.ids, ...(spec.extra?.ids ?? [])])];
        return {
          name: spec.name,
          file,
          gitVerdict: oracle.verdict,
          gitSays: spec.extra ? `${oracle.says}\n${spec.extra.says}` : oracle.says,
          ...(ids.length > 0 ? { expectIds: ids } : {}),
          ...(spec.intends ? { builtFor: spec.intends } : {}),
        };
      }),
    ),
  );
  return cases;
}

type Add = (name: string, bytes: Buffer, intends?: string[], extra?: { says: string; ids: string[] }) => void;

/** Pack-level, delta, missing-object and header cases on a small three-commit history. */
async function simpleCases(work: string, add: Add): Promise<void> {
  const w = await Workshop.create(path.join(work, 'simple.git'));
  await w.fastImport(simpleHistory());
  const [c1, c2, c3, tag] = await Promise.all(['main~2', 'main~1', 'main', 'refs/tags/v1'].map((r) => w.rev(r)));
  const refs: Ref[] = [
    [c2!, 'refs/heads/dev'],
    [c3!, 'refs/heads/main'],
    [tag!, 'refs/tags/v1'],
    [c3!, 'HEAD'],
  ];
  const lines = await w.objectLines([tag!, c2!]);
  const [ofsPack, refPack] = await Promise.all([w.pack(lines, true), w.pack(lines, false)]);
  const bundle = (pack: Buffer, r: readonly Ref[] = refs): Buffer => bundleBytes({ refs: r, pack });
  const ofs = walkPack(ofsPack);
  const ref = walkPack(refPack);
  const ofsResolved = resolvePack(ofsPack, ofs);
  const refResolved = resolvePack(refPack, ref);
  const header = bundle(Buffer.alloc(0));

  // Clean.
  add('clean-simple-ofs-delta', bundle(ofsPack));
  add('clean-simple-ref-delta', bundle(refPack));
  add('clean-v3-sha1', bundleBytes({ version: 3, capabilities: ['object-format=sha1'], refs, pack: ofsPack }));
  add('clean-pack-version-3', bundle(rebuildPack(ofsPack, ofs, { version: 3 })));

  // Entries to operate on.
  const ofsDelta = find(ofs.entries, (e) => e.type === OBJ_OFS_DELTA && ofsResolved[e.index]?.type === OBJ_BLOB, 'OFS_DELTA blob in the simple pack');
  const wholeBlob = [...ofs.entries].filter((e) => e.type === OBJ_BLOB).sort((a, b) => b.dataEnd - b.dataStart - (a.dataEnd - a.dataStart))[0];
  if (!wholeBlob) throw new Error('corpus: no whole blob in the simple pack');
  const refDelta = find(ref.entries, (e) => e.type === OBJ_REF_DELTA && refResolved[e.index]?.type === OBJ_BLOB, 'REF_DELTA blob in the simple pack');
  const refDeltaData = inflateEntry(refPack, refDelta);
  const refDeltaParts = parseDelta(refDeltaData);
  const middle = (e: PackEntry): number => e.dataStart + Math.floor((e.dataEnd - e.dataStart) / 2);

  // Empty, truncated, trailing garbage.
  add('empty-file', Buffer.alloc(0));
  add('signature-only', Buffer.from('# v2 git bundle\n'));
  add('header-without-pack', header);
  add('truncated-in-bundle-header', header.subarray(0, 16 + 20));
  add('truncated-in-pack-header', bundle(ofsPack.subarray(0, 8)));
  add('truncated-mid-entry', bundle(ofsPack.subarray(0, middle(wholeBlob))));
  add('truncated-at-entry-boundary', bundle(ofsPack.subarray(0, ofs.entries.at(-1)!.offset)));
  add('truncated-before-trailer', bundle(ofsPack.subarray(0, ofs.trailerStart)));
  add('truncated-mid-trailer', bundle(ofsPack.subarray(0, ofs.trailerStart + 10)));
  add('trailing-garbage', Buffer.concat([bundle(ofsPack), Buffer.from('garbage after the pack\n')]));
  add('trailing-newline', Buffer.concat([bundle(ofsPack), Buffer.from('\n')]));

  // Pack header.
  const badSignature = Buffer.from(ofsPack);
  badSignature.write('PACX', 0, 'latin1');
  add('pack-signature-wrong', bundle(fixTrailer(badSignature)));
  add('pack-version-4', bundle(rebuildPack(ofsPack, ofs, { version: 4 })));
  add('pack-count-plus-one', bundle(rebuildPack(ofsPack, ofs, { count: ofs.count + 1 })));
  add('pack-count-minus-one', bundle(rebuildPack(ofsPack, ofs, { count: ofs.count - 1 })));
  const staleCount = Buffer.from(ofsPack);
  staleCount.writeUInt32BE(ofs.count + 1, 8);
  add('pack-count-plus-one-stale-trailer', bundle(staleCount));

  // Flipped bits.
  add('flip-trailer', bundle(flipBit(ofsPack, ofsPack.length - 5, 3)));
  add('flip-compressed-data-stale-trailer', bundle(flipBit(ofsPack, middle(wholeBlob), 2)));
  add('flip-compressed-data', bundle(fixTrailer(flipBit(ofsPack, middle(wholeBlob), 2))));
  add('flip-zlib-header', bundle(fixTrailer(flipBit(ofsPack, wholeBlob.dataStart, 4))));
  add('flip-zlib-adler32', bundle(fixTrailer(flipBit(ofsPack, wholeBlob.dataEnd - 1, 0))));
  add('flip-compressed-delta-data', bundle(fixTrailer(flipBit(ofsPack, middle(ofsDelta), 1))));

  // Entry headers.
  add('entry-type-reserved-5', bundle(rebuildPack(ofsPack, ofs, { overrides: new Map([[wholeBlob.index, { type: 5 }]]) })));
  add('entry-type-blob-as-tree', bundle(rebuildPack(ofsPack, ofs, { overrides: new Map([[wholeBlob.index, { type: OBJ_TREE }]]) })));
  add('entry-type-blob-as-commit', bundle(rebuildPack(ofsPack, ofs, { overrides: new Map([[wholeBlob.index, { type: OBJ_COMMIT }]]) })));
  add('entry-size-too-large', bundle(rebuildPack(ofsPack, ofs, { overrides: new Map([[wholeBlob.index, { size: wholeBlob.size + 1 }]]) })));
  add('entry-size-too-small', bundle(rebuildPack(ofsPack, ofs, { overrides: new Map([[wholeBlob.index, { size: wholeBlob.size - 1 }]]) })));

  // Delta bases and delta data.
  const ofsDistance = ofsDelta.offset - ofsDelta.baseOffset!;
  add('ofs-delta-offset-off-by-one', bundle(rebuildPack(ofsPack, ofs, { overrides: new Map([[ofsDelta.index, { ofsDistance: ofsDistance + 1 }]]) })));
  add('ofs-delta-offset-out-of-bound', bundle(rebuildPack(ofsPack, ofs, { overrides: new Map([[ofsDelta.index, { ofsDistance: ofsDelta.offset + 1000 }]]) })));
  add('ofs-delta-offset-self', bundle(rebuildPack(ofsPack, ofs, { overrides: new Map([[ofsDelta.index, { ofsDistance: 0 }]]) })));
  add('flip-ofs-delta-offset-bit', bundle(fixTrailer(flipBit(ofsPack, ofsDelta.dataStart - 1, 2))));
  add('clean-ofs-pack-with-one-ref-delta', bundle(rebuildPack(ofsPack, ofs, { overrides: new Map([[ofsDelta.index, { type: OBJ_REF_DELTA, baseId: ofsResolved[ofs.entries.findIndex((e) => e.offset === ofsDelta.baseOffset)]!.id }]]) })));
  const flippedBase = Buffer.from(refDelta.baseId!, 'hex');
  flippedBase[7] = flippedBase[7]! ^ 0x10;
  add('ref-delta-base-flipped', bundle(rebuildPack(refPack, ref, { overrides: new Map([[refDelta.index, { baseId: flippedBase.toString('hex') }]]) })));
  add('ref-delta-base-self', bundle(rebuildPack(refPack, ref, { overrides: new Map([[refDelta.index, { baseId: refResolved[refDelta.index]!.id }]]) })));
  const withBaseSize = (baseSize: number, resultSize = refDeltaParts.resultSize, tail: Buffer = refDeltaData.subarray(refDeltaParts.instructions)): Buffer =>
    Buffer.concat([encodeDeltaVarint(baseSize), encodeDeltaVarint(resultSize), tail]);
  const deltaCase = (name: string, inflated: Buffer): void =>
    add(name, bundle(rebuildPack(refPack, ref, { overrides: new Map([[refDelta.index, { inflated }]]) })));
  deltaCase('delta-base-size-wrong', withBaseSize(refDeltaParts.baseSize + 1));
  deltaCase('delta-result-size-wrong', withBaseSize(refDeltaParts.baseSize, refDeltaParts.resultSize + 1));
  const copyBeyond = Buffer.concat([refDeltaData.subarray(refDeltaParts.instructions), Buffer.from([0x80 | 0x03 | 0x10, ...[refDeltaParts.baseSize & 0xff, refDeltaParts.baseSize >> 8], 1])]);
  deltaCase('delta-copy-beyond-base', withBaseSize(refDeltaParts.baseSize, refDeltaParts.resultSize + 1, copyBeyond));
  deltaCase('delta-opcode-zero', withBaseSize(refDeltaParts.baseSize, refDeltaParts.resultSize, Buffer.concat([Buffer.from([0]), refDeltaData.subarray(refDeltaParts.instructions)])));
  const insertAt = firstInsertByte(refDeltaData);
  if (insertAt === undefined) throw new Error('corpus: the REF_DELTA has no insert instruction');
  deltaCase('delta-insert-byte-changed', flipBit(refDeltaData, insertAt, 0));

  // Duplicate object: a whole blob entry written twice.
  add('duplicate-object', bundle(rebuildPack(ofsPack, ofs, { appendRaw: [ofsPack.subarray(wholeBlob.offset, wholeBlob.dataEnd)] })));

  // Missing objects.
  const pathOf = (line: string): string => line.slice(line.indexOf(' ') + 1);
  const idOf = (line: string): string => line.split(' ')[0]!;
  const without = (drop: (line: string) => boolean): Promise<Buffer> => w.pack(lines.filter((l) => !drop(l)), true);
  add('missing-blob', bundle(await without((l) => pathOf(l) === 'README.md')));
  add('missing-tree', bundle(await without((l) => pathOf(l) === 'src')));
  add('missing-parent-commit', bundle(await without((l) => idOf(l) === c1)));
  add('missing-tag-target', bundle(await w.pack([tag!], true), [[tag!, 'refs/tags/v1']]));
  add('ref-to-absent-object', bundle(ofsPack, [...refs, ['5f1e0d2c3b4a59687766554433221100ffeeddcc', 'refs/heads/ghost']]));
  add('no-objects-for-refs', bundle(rebuildPack(ofsPack, { ...ofs, entries: [] }, { count: 0 })));
  const thin = await w.pack([c2!, `^${c1}`], false, ['--revs', '--thin']);
  const thinWalked = walkPack(thin);
  const thinResolved = resolvePack(thin, thinWalked);
  if (!thinResolved.some((r) => r === undefined)) throw new Error('corpus: the thin pack has no delta against a missing base');
  add('missing-delta-base', bundle(thin, [[c2!, 'refs/heads/dev']]));
  add('prerequisite-thin-pack', bundleBytes({ prerequisites: [`${c1} First commit`], refs: [[c2!, 'refs/heads/dev']], pack: thin }));
  add('prerequisite-on-full-pack', bundleBytes({ prerequisites: [c1!], refs, pack: ofsPack }));

  // Bundle headers.
  const replaceFirstLine = (line: string): Buffer => Buffer.concat([Buffer.from(`${line}\n`), bundle(ofsPack).subarray('# v2 git bundle\n'.length)]);
  add('header-bad-signature', replaceFirstLine('# v4 git bundle'));
  add('header-no-signature', bundle(ofsPack).subarray('# v2 git bundle\n'.length));
  add('header-v3-unknown-capability', bundleBytes({ version: 3, capabilities: ['object-format=sha1', 'frobnicate=yes'], refs, pack: ofsPack }));
  add('header-v3-unknown-object-format', bundleBytes({ version: 3, capabilities: ['object-format=sha3'], refs, pack: ofsPack }));
  add('header-v2-capability-line', bundleBytes({ version: 2, capabilities: ['object-format=sha1'], refs, pack: ofsPack }));
  add('header-short-oid', bundle(ofsPack, [[c3!.slice(0, 39), 'refs/heads/main']]));
  add('header-ref-without-name', Buffer.concat([Buffer.from(`# v2 git bundle\n${c3}\n\n`), ofsPack]));
  add('header-invalid-ref-name', bundle(ofsPack, [...refs, [c1!, 'refs/heads/a..b']]));
  add('header-ref-name-with-space', bundle(ofsPack, [...refs, [c1!, 'refs/heads/two words']]));
  add('header-uppercase-oid', bundle(ofsPack, refs.map(([oid, name]) => [name === 'refs/heads/dev' ? oid.toUpperCase() : oid, name] as const)));
  add('header-missing-blank-line', Buffer.concat([header.subarray(0, header.length - 1), ofsPack]));
  add('header-sha256-format-sha1-refs', bundleBytes({ version: 3, capabilities: ['object-format=sha256'], refs, pack: ofsPack }));
}

/** Malformed commits, trees and tags, each in an otherwise whole bundle; and INFO-only clean ones. */
async function objectCases(work: string, add: Add): Promise<void> {
  const w = await Workshop.create(path.join(work, 'objects.git'));
  const blob = await w.raw('blob', 'hello\n');
  const tree = await w.mktree(`100644 blob ${blob}\thello.txt\n`);
  const commitText = (treeId: string, extra = ''): string => `tree ${treeId}\n${extra}author ${IDENT}\ncommitter ${COMMITTER}\n\nA commit\n`;
  const goodCommit = await w.raw('commit', commitText(tree));

  const commitBundle = async (name: string, commit: string, objects: string[], intends?: string[]): Promise<void> => {
    const pack = await w.pack([commit, ...objects], true);
    add(name, bundleBytes({ refs: [[commit, 'refs/heads/main'], [commit, 'HEAD']], pack }), intends);
  };
  const badCommit = async (name: string, text: string | Buffer, intends: string[]): Promise<void> =>
    commitBundle(name, await w.raw('commit', text), [tree, blob], intends);
  const badTree = async (name: string, entries: [mode: string, name: string, oid: string][], intends: string[]): Promise<void> => {
    const treeBytes = Buffer.concat(entries.map(([mode, n, oid]) => Buffer.concat([Buffer.from(`${mode} ${n}\0`, 'latin1'), Buffer.from(oid, 'hex')])));
    const t = await w.raw('tree', treeBytes);
    const blobs = [...new Set(entries.filter(([mode]) => !mode.endsWith('160000')).map(([, , oid]) => oid))].filter((oid) => !/^0+$/.test(oid));
    await commitBundle(name, await w.raw('commit', commitText(t)), [t, ...blobs], intends);
  };
  // index-pack cannot parse most broken tags ("fatal: invalid tag") and so never runs fsck on them;
  // `git mktag` runs git's fsck_tag on the text and names the problem.
  const tagBundle = async (name: string, text: string, intends?: string[]): Promise<void> => {
    const t = await w.raw('tag', text);
    const pack = await w.pack([t, goodCommit, tree, blob], true);
    const mktag = await runGit(['mktag'], w.dir, text);
    const ids = fsckIdsIn(mktag.stderr);
    const extra = ids.length > 0 ? { says: `git mktag: ${mktag.stderr.trim()}`, ids } : undefined;
    add(name, bundleBytes({ refs: [[goodCommit, 'refs/heads/main'], [t, 'refs/tags/t']], pack }), intends, extra);
  };
  const tagText = (fields: { object?: string; type?: string; tag?: string; tagger?: string }): string =>
    [
      fields.object === undefined ? '' : `object ${fields.object}\n`,
      fields.type === undefined ? '' : `type ${fields.type}\n`,
      fields.tag === undefined ? '' : `tag ${fields.tag}\n`,
      fields.tagger === undefined ? '' : `tagger ${fields.tagger}\n`,
      '\nA tag\n',
    ].join('');
  const gitmodules = await w.raw('blob', '[submodule "lib"]\n\tpath = lib\n\turl = -u./payload\n');

  await Promise.all([
    // Clean, and clean with INFO findings only.
    commitBundle('clean-single-commit', goodCommit, [tree, blob]),
    (async () => {
      const t = await w.mktree(`100664 blob ${blob}\thello.txt\n`);
      await commitBundle('clean-info-bad-filemode', await w.raw('commit', commitText(t)), [t, blob], ['badFilemode']);
    })(),
    tagBundle('clean-info-tag-without-tagger', tagText({ object: goodCommit, type: 'commit', tag: 't' }), ['missingTaggerEntry']),
    tagBundle('clean-info-bad-tag-name', tagText({ object: goodCommit, type: 'commit', tag: 'bad..name', tagger: TAGGER }), ['badTagName']),
    // The empty tree is built into git: a commit of it needs no tree object in the pack.
    commitBundle('commit-of-empty-tree-not-in-pack', await w.raw('commit', commitText('4b825dc642cb6eb9a060e54bf8d69288fbee4904')), []),

    // Commits.
    badCommit('commit-missing-tree', `author ${IDENT}\ncommitter ${COMMITTER}\n\nNo tree\n`, ['missingTree']),
    badCommit('commit-bad-tree-sha1', commitText('not-a-tree-id'), ['badTreeSha1']),
    badCommit('commit-bad-parent', commitText(tree, 'parent 1234567\n'), ['badParentSha1']),
    badCommit('commit-missing-author', `tree ${tree}\ncommitter ${COMMITTER}\n\nNo author\n`, ['missingAuthor']),
    badCommit('commit-missing-committer', `tree ${tree}\nauthor ${IDENT}\n\nNo committer\n`, ['missingCommitter']),
    badCommit('commit-missing-email', `tree ${tree}\nauthor Fixture Author 1700000000 +0000\ncommitter ${COMMITTER}\n\nNo email\n`, ['missingEmail']),
    badCommit('commit-bad-date', `tree ${tree}\nauthor Fixture Author <author@example.com> yesterday +0000\ncommitter ${COMMITTER}\n\nBad date\n`, ['badDate']),
    badCommit('commit-bad-timezone', `tree ${tree}\nauthor Fixture Author <author@example.com> 1700000000 +00x0\ncommitter ${COMMITTER}\n\nBad zone\n`, ['badTimezone']),
    badCommit('commit-zero-padded-date', `tree ${tree}\nauthor Fixture Author <author@example.com> 01700000000 +0000\ncommitter ${COMMITTER}\n\nPadded\n`, ['zeroPaddedDate']),
    badCommit('commit-nul-in-header', Buffer.from(`tree ${tree}\nauthor ${IDENT}\ncommitter Fixture\0Committer <c@example.com> 1700000000 +0000\n\nNUL\n`, 'latin1'), ['nulInHeader']),
    badCommit('commit-unterminated-header', `tree ${tree}\nauthor ${IDENT}\ncommitter ${COMMITTER}`, ['unterminatedHeader']),

    // Trees.
    badTree('tree-not-sorted', [['100644', 'b.txt', blob], ['100644', 'a.txt', blob]], ['treeNotSorted']),
    badTree('tree-duplicate-entries', [['100644', 'a.txt', blob], ['100644', 'a.txt', blob]], ['duplicateEntries']),
    badTree('tree-zero-padded-mode', [['0100644', 'a.txt', blob]], ['zeroPaddedFilemode']),
    badTree('tree-dotgit-entry', [['100644', '.git', blob]], ['hasDotgit']),
    badTree('tree-dotdot-entry', [['100644', '..', blob]], ['hasDotdot']),
    badTree('tree-dot-entry', [['100644', '.', blob]], ['hasDot']),
    badTree('tree-empty-name', [['100644', '', blob]], ['emptyName']),
    badTree('tree-full-pathname', [['100644', 'a/b.txt', blob]], ['fullPathname']),
    badTree('tree-null-sha1-gitlink', [['160000', 'lib', '0'.repeat(40)]], ['nullSha1']),
    badTree('tree-gitmodules-bad-url', [['100644', '.gitmodules', gitmodules]], ['gitmodulesUrl']),
    badTree('tree-gitmodules-symlink', [['120000', '.gitmodules', blob]], ['gitmodulesSymlink']),
    (async () => {
      const truncated = Buffer.concat([Buffer.from('100644 a.txt\0', 'latin1'), Buffer.from(blob, 'hex').subarray(0, 12)]);
      const t = await w.raw('tree', truncated);
      await commitBundle('tree-truncated-entry', await w.raw('commit', commitText(t)), [t, blob], ['badTree']);
    })(),

    // Tags.
    tagBundle('tag-missing-object', tagText({ type: 'commit', tag: 't', tagger: TAGGER }), ['missingObject']),
    tagBundle('tag-bad-object-sha1', tagText({ object: 'zz', type: 'commit', tag: 't', tagger: TAGGER }), ['badObjectSha1']),
    tagBundle('tag-missing-type', tagText({ object: goodCommit, tag: 't', tagger: TAGGER }), ['missingTypeEntry']),
    tagBundle('tag-bad-type', tagText({ object: goodCommit, type: 'commitx', tag: 't', tagger: TAGGER }), ['badType']),
    tagBundle('tag-missing-tag-name', tagText({ object: goodCommit, type: 'commit', tagger: TAGGER }), ['missingTagEntry']),
    tagBundle('tag-bad-tagger-date', tagText({ object: goodCommit, type: 'commit', tag: 't', tagger: 'Fixture Tagger <tagger@example.com> soon +0000' }), ['badDate']),
    tagBundle('tag-type-mismatch', tagText({ object: goodCommit, type: 'blob', tag: 't', tagger: TAGGER })),
  ]);
}

/** A 40-deep delta chain, clean (OFS and REF) and with one delta in the middle of the chain broken. */
async function deepCases(work: string, add: Add): Promise<void> {
  const w = await Workshop.create(path.join(work, 'deep.git'));
  await w.fastImport(deepHistory());
  const main = await w.rev('main');
  const lines = await w.objectLines([main]);
  const [ofsPack, refPack] = await Promise.all([w.pack(lines, true), w.pack(lines, false)]);
  const refs: Ref[] = [
    [main, 'refs/heads/main'],
    [main, 'HEAD'],
  ];
  const ofs = walkPack(ofsPack);
  const resolved = resolvePack(ofsPack, ofs);
  const maxDepth = Math.max(...resolved.map((r) => r?.depth ?? 0));
  if (maxDepth < 30) throw new Error(`corpus: the deep pack's longest delta chain is only ${maxDepth}`);
  const refDepth = Math.max(...resolvePack(refPack, walkPack(refPack)).map((r) => r?.depth ?? 0));
  if (refDepth < 30) throw new Error(`corpus: the deep REF_DELTA pack's longest delta chain is only ${refDepth}`);
  add('clean-deep-delta-chain-ofs', bundleBytes({ refs, pack: ofsPack }));
  add('clean-deep-delta-chain-ref', bundleBytes({ refs, pack: refPack }));
  // The delta halfway down the longest chain.
  const deepest = ofs.entries[resolved.findIndex((r) => r?.depth === maxDepth)]!;
  let entry = deepest;
  for (let i = 0; i < Math.floor(maxDepth / 2); i++) entry = ofs.entries.find((e) => e.offset === entry.baseOffset)!;
  const mid = entry.dataStart + Math.floor((entry.dataEnd - entry.dataStart) / 2);
  add('deep-delta-chain-middle-corrupted', bundleBytes({ refs, pack: fixTrailer(flipBit(ofsPack, mid, 5)) }));
  const inflated = inflateEntry(ofsPack, entry);
  const at = firstInsertByte(inflated);
  if (at === undefined) throw new Error('corpus: the middle delta has no insert instruction');
  add('deep-delta-chain-middle-rewritten', bundleBytes({ refs, pack: rebuildPack(ofsPack, ofs, { overrides: new Map([[entry.index, { inflated: flipBit(inflated, at, 1) }]]) }) }));
}

/** `git bundle create --all` of the rich fixture, and SHA-256 bundles good and bad. */
async function richAndSha256Cases(work: string, add: Add): Promise<void> {
  const rich = await createRichRepo(work, 'rich.git');
  const richBundle = await gitBuffer(['-c', 'pack.threads=1', 'bundle', 'create', '-q', '-', '--all'], { cwd: rich });
  add('clean-rich-fixture', richBundle);

  const sha = await createSha256Repo(work, 'sha256.git');
  const shaBundle = await gitBuffer(['-c', 'pack.threads=1', 'bundle', 'create', '-q', '-', '--all'], { cwd: sha });
  add('clean-sha256-fixture', shaBundle);
  const split = splitBundle(shaBundle)!;
  const shaHeader = split.header.toString('utf8');
  const shaRefs: Ref[] = shaHeader
    .split('\n')
    .filter((l) => /^[0-9a-f]{64} /.test(l))
    .map((l) => [l.slice(0, 64), l.slice(65)] as const);
  const lines = (await git(['rev-list', '--objects', '--all'], { cwd: sha })).split('\n').filter(Boolean);
  const pack = (objectLines: string[], ofs: boolean): Promise<Buffer> =>
    gitBuffer(['pack-objects', '--stdout', '-q', '--threads=1', '--no-reuse-delta', ...(ofs ? ['--delta-base-offset'] : [])], { cwd: sha, input: `${objectLines.join('\n')}\n` });
  const v3 = (p: Buffer, refs: readonly Ref[] = shaRefs): Buffer => bundleBytes({ version: 3, capabilities: ['object-format=sha256'], refs, pack: p });
  add('clean-sha256-ref-delta', v3(await pack(lines, false)));
  const shaPack = split.pack;
  const walked = walkPack(shaPack, 'sha256');
  const blob = [...walked.entries].filter((e) => e.type === OBJ_BLOB).sort((a, b) => b.dataEnd - b.dataStart - (a.dataEnd - a.dataStart))[0]!;
  add('sha256-flip-compressed-data', v3(fixTrailer(flipBit(shaPack, blob.dataStart + Math.floor((blob.dataEnd - blob.dataStart) / 2), 6), 'sha256')));
  add('sha256-flip-trailer', v3(flipBit(shaPack, shaPack.length - 1, 0)));
  add('sha256-missing-blob', v3(await pack(lines.filter((l) => !l.endsWith(' README.md')), true)));
  add('sha256-ref-to-absent-object', v3(shaPack, [...shaRefs, ['ab'.repeat(32), 'refs/heads/ghost']]));
  add('sha256-pack-with-sha1-trailer', v3(withTrailer(shaPack.subarray(0, shaPack.length - 32), 'sha1')));
  add('header-sha256-format-sha1-pack', v3(splitBundle(richBundle)!.pack));
  add('header-v2-sha256-refs', bundleBytes({ refs: shaRefs, pack: shaPack }));
  add('header-v3-sha1-format-sha256-pack', bundleBytes({ version: 3, capabilities: ['object-format=sha1'], refs: shaRefs, pack: shaPack }));
}
