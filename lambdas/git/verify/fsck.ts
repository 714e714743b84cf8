/**
 * git's fsck object checks (git 2.39.5's fsck.c) for commits, trees and tags, plus the checks of
 * the `.gitmodules` and `.gitattributes` blobs that trees point at, over raw object bytes.
 *
 * Findings carry git's message ids, so a report reads like `git fsck --strict` line by line.
 * Checking follows git's own rules for when to stop: a commit or tag is abandoned at its first
 * finding that fails (as git's report() returning an error makes fsck_commit/fsck_tag return),
 * while a tree is always walked to the end and reports each kind of finding once.
 *
 * Connectivity is the caller's: checkers name every object an object points at through
 * `reference`, and the blobs a tree calls `.gitmodules`/`.gitattributes` through callbacks, so
 * the caller can check them once all objects are known (git's fsck_finish).
 */
import type { ObjectFormat } from '../ref-advertisement.js';
import { HEX_DIGIT_VALUE, display, scanGitmodules } from './fsck-gitmodules.js';

export type { ObjectFormat };

export type FsckSeverity = 'FATAL' | 'ERROR' | 'WARN' | 'INFO' | 'IGNORE';

/** Every message id git 2.39 has (fsck.h), with its default severity. */
export const FSCK_MESSAGES = {
  // Fatal: the object cannot be parsed safely at all.
  nulInHeader: { severity: 'FATAL', description: 'A commit or tag header contains a NUL byte.' },
  unterminatedHeader: { severity: 'FATAL', description: 'A commit or tag header does not end with a newline.' },
  // Errors.
  badDate: { severity: 'ERROR', description: 'An author, committer or tagger line has a malformed date.' },
  badDateOverflow: { severity: 'ERROR', description: 'An author, committer or tagger date does not fit a 64-bit time.' },
  badEmail: { severity: 'ERROR', description: 'An author, committer or tagger email is not closed by ">".' },
  badName: { severity: 'ERROR', description: 'An author, committer or tagger line has ">" before any "<".' },
  badObjectSha1: { severity: 'ERROR', description: 'A tag\'s "object" line does not hold a valid object id.' },
  badParentSha1: { severity: 'ERROR', description: 'A commit\'s "parent" line does not hold a valid object id.' },
  badTimezone: { severity: 'ERROR', description: 'An author, committer or tagger line has a malformed time zone.' },
  badTree: { severity: 'ERROR', description: 'A tree cannot be parsed.' },
  badTreeSha1: { severity: 'ERROR', description: 'A commit\'s "tree" line does not hold a valid object id.' },
  badType: { severity: 'ERROR', description: 'A tag\'s "type" line names no object type.' },
  duplicateEntries: { severity: 'ERROR', description: 'A tree has two entries with the same name.' },
  missingAuthor: { severity: 'ERROR', description: 'A commit has no "author" line.' },
  missingCommitter: { severity: 'ERROR', description: 'A commit has no "committer" line after its author.' },
  missingEmail: { severity: 'ERROR', description: 'An author, committer or tagger line has no email.' },
  missingNameBeforeEmail: { severity: 'ERROR', description: 'An author, committer or tagger line starts with its email.' },
  missingObject: { severity: 'ERROR', description: 'A tag has no "object" line.' },
  missingSpaceBeforeDate: { severity: 'ERROR', description: 'An author, committer or tagger line has no space before its date.' },
  missingSpaceBeforeEmail: { severity: 'ERROR', description: 'An author, committer or tagger line has no space before its email.' },
  missingTag: { severity: 'ERROR', description: 'A tag ends right after its "tag" line without a newline.' },
  missingTagEntry: { severity: 'ERROR', description: 'A tag has no "tag" line.' },
  missingTree: { severity: 'ERROR', description: 'A commit does not start with a "tree" line.' },
  missingType: { severity: 'ERROR', description: 'A tag ends right after its "type" line without a newline.' },
  missingTypeEntry: { severity: 'ERROR', description: 'A tag has no "type" line.' },
  multipleAuthors: { severity: 'ERROR', description: 'A commit has more than one "author" line.' },
  treeNotSorted: { severity: 'ERROR', description: 'A tree\'s entries are not in git\'s order.' },
  unknownType: { severity: 'ERROR', description: 'An object has an unknown type.' },
  zeroPaddedDate: { severity: 'ERROR', description: 'An author, committer or tagger date has a leading zero.' },
  gitmodulesMissing: { severity: 'ERROR', description: 'A tree\'s .gitmodules object is not in the repository.' },
  gitmodulesBlob: { severity: 'ERROR', description: 'A tree\'s .gitmodules entry is not a blob.' },
  gitmodulesLarge: { severity: 'ERROR', description: 'A .gitmodules blob is too large to check.' },
  gitmodulesName: { severity: 'ERROR', description: 'A .gitmodules blob names a submodule with a ".." path component or no name.' },
  gitmodulesSymlink: { severity: 'ERROR', description: 'A tree\'s .gitmodules entry is a symbolic link.' },
  gitmodulesUrl: { severity: 'ERROR', description: 'A .gitmodules blob has a submodule url git refuses.' },
  gitmodulesPath: { severity: 'ERROR', description: 'A .gitmodules blob has a submodule path that looks like an option.' },
  gitmodulesUpdate: { severity: 'ERROR', description: 'A .gitmodules blob has a submodule update setting that runs a command.' },
  gitattributesMissing: { severity: 'ERROR', description: 'A tree\'s .gitattributes object is not in the repository.' },
  gitattributesLarge: { severity: 'ERROR', description: 'A .gitattributes blob is larger than git will read.' },
  gitattributesLineLength: { severity: 'ERROR', description: 'A .gitattributes blob has a line longer than git will read.' },
  gitattributesBlob: { severity: 'ERROR', description: 'A tree\'s .gitattributes entry is not a blob.' },
  // Warnings: errors under --strict, which index-pack and argocd-dr always use.
  emptyName: { severity: 'WARN', description: 'A tree entry has an empty name.' },
  fullPathname: { severity: 'WARN', description: 'A tree entry name contains "/".' },
  hasDot: { severity: 'WARN', description: 'A tree has an entry named ".".' },
  hasDotdot: { severity: 'WARN', description: 'A tree has an entry named "..".' },
  hasDotgit: { severity: 'WARN', description: 'A tree has an entry that a filesystem may take for ".git".' },
  nullSha1: { severity: 'WARN', description: 'A tree entry points at the all-zero object id.' },
  zeroPaddedFilemode: { severity: 'WARN', description: 'A tree entry mode has a leading zero.' },
  nulInCommit: { severity: 'WARN', description: 'A commit contains a NUL byte.' },
  // Infos: reported as warnings, never a failure.
  badFilemode: { severity: 'INFO', description: 'A tree entry has a mode git does not write.' },
  gitmodulesParse: { severity: 'INFO', description: 'A .gitmodules blob is not valid git config syntax.' },
  gitignoreSymlink: { severity: 'INFO', description: 'A tree\'s .gitignore entry is a symbolic link.' },
  gitattributesSymlink: { severity: 'INFO', description: 'A tree\'s .gitattributes entry is a symbolic link.' },
  mailmapSymlink: { severity: 'INFO', description: 'A tree\'s .mailmap entry is a symbolic link.' },
  badTagName: { severity: 'INFO', description: 'A tag\'s name is not a valid ref name.' },
  missingTaggerEntry: { severity: 'INFO', description: 'A tag has no "tagger" line.' },
  // Ignored unless configured.
  extraHeaderEntry: { severity: 'IGNORE', description: 'A tag has header lines after its tagger.' },
} as const satisfies Record<string, { severity: FsckSeverity; description: string }>;

export type FsckMessageId = keyof typeof FSCK_MESSAGES;

/** Ids whose severity git refuses to change. */
type FatalMessageId = { [K in FsckMessageId]: (typeof FSCK_MESSAGES)[K]['severity'] extends 'FATAL' ? K : never }[FsckMessageId];

export interface FsckOptions {
  /** Per-id settings, as git's `fsck.<msgId>=error|warn|ignore`; fatal ids cannot be changed. */
  severity?: Partial<Record<Exclude<FsckMessageId, FatalMessageId>, 'error' | 'warn' | 'ignore'>>;
}

export type FsckOutcome = 'error' | 'warning' | 'ignored';

/** What a finding means in strict mode: FATAL, ERROR and WARN fail, INFO warns, IGNORE is dropped. */
export function fsckOutcome(id: FsckMessageId, options?: FsckOptions): FsckOutcome {
  const { severity } = FSCK_MESSAGES[id];
  const setting = severity === 'FATAL' ? undefined : options?.severity?.[id as Exclude<FsckMessageId, FatalMessageId>];
  if (setting) return setting === 'error' ? 'error' : setting === 'warn' ? 'warning' : 'ignored';
  if (severity === 'INFO') return 'warning';
  return severity === 'IGNORE' ? 'ignored' : 'error';
}

/** Whether a finding with this id makes the bundle fail verification. */
export function failsBundle(id: FsckMessageId, options?: FsckOptions): boolean {
  return fsckOutcome(id, options) === 'error';
}

/** Pack object type numbers: 1 commit, 2 tree, 3 blob, 4 tag. */
export type ObjectTypeCode = 1 | 2 | 3 | 4;
/** Receives each finding; ignored ids never arrive. */
export type FsckReport = (id: FsckMessageId, message: string) => void;
/** An object this one points at: raw id bytes `id.subarray(offset, offset + hashLength)`, valid only during the call. */
export type FsckReference = (type: ObjectTypeCode, id: Uint8Array, offset: number) => void;
/**
 * A tree entry git will check as a `.gitmodules` or `.gitattributes` file (id bytes as for
 * FsckReference). Its mode is anything but a symlink, so it may also be a tree or a gitlink: the
 * caller reports gitmodulesMissing/gitmodulesBlob (or the gitattributes ones) when the object is
 * absent or no blob, and checks a blob with checkGitmodules/checkGitattributes, once per id.
 */
export type SpecialBlobCallback = (id: Uint8Array, offset: number) => void;

export interface TreeCheckOptions extends FsckOptions {
  gitattributes?: SpecialBlobCallback;
}

function hashLength(format: ObjectFormat): number {
  return format === 'sha256' ? 32 : 20;
}

/** Reports unless ignored; true when the finding fails, which is where git stops a commit or tag. */
function emit(report: FsckReport, options: FsckOptions | undefined, what: string, id: FsckMessageId, detail: string): boolean {
  const outcome = fsckOutcome(id, options);
  if (outcome === 'ignored') return false;
  report(id, `${what}: ${detail}`);
  return outcome === 'error';
}

const LF = 0x0a;
const SP = 0x20;
const DOT = 0x2e;
const SLASH = 0x2f;
const BACKSLASH = 0x5c;

/** git's buffers end in a NUL; reading past the end as 0 keeps its C-string semantics. */
function byteAt(buf: Uint8Array, i: number): number {
  return i < buf.length ? buf[i]! : 0;
}

function startsWith(buf: Uint8Array, pos: number, prefix: string): boolean {
  if (pos + prefix.length > buf.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[pos + i] !== prefix.charCodeAt(i)) return false;
  return true;
}

function indexOfByte(buf: Uint8Array, byte: number, from: number): number {
  return from >= buf.length ? -1 : buf.indexOf(byte, from);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Ids decoded from hex headers land here; FsckReference callees copy what they keep. */
const scratchId = new Uint8Array(32);

/** parse_oid_hex: exactly hashLength*2 hex digits, either case. */
function parseHexId(buf: Uint8Array, pos: number, length: number): boolean {
  for (let i = 0; i < length; i++) {
    const hi = HEX_DIGIT_VALUE[byteAt(buf, pos + 2 * i)]!;
    const lo = HEX_DIGIT_VALUE[byteAt(buf, pos + 2 * i + 1)]!;
    if (hi < 0 || lo < 0) return false;
    scratchId[i] = (hi << 4) | lo;
  }
  return true;
}

/**
 * verify_headers: the header (up to the first blank line, or the whole object) must be free of
 * NULs and end with a newline, which also keeps every later line scan inside the object.
 */
function headersAreSound(content: Uint8Array, report: FsckReport, options: FsckOptions | undefined, what: string): boolean {
  for (let i = 0; i < content.length; i++) {
    const c = content[i];
    if (c === 0) {
      emit(report, options, what, 'nulInHeader', `NUL byte in the header at offset ${i}`);
      return false;
    }
    if (c === LF && content[i + 1] === LF) return true;
  }
  if (content.length && content[content.length - 1] === LF) return true;
  emit(report, options, what, 'unterminatedHeader', 'the header does not end with a newline');
  return false;
}

const UINTMAX = (1n << 64n) - 1n;

/**
 * strtoumax(p, &end, 10) as glibc does it: leading whitespace (newlines too) and a sign are
 * accepted, a negative number wraps, an overflow saturates. `end` is `p` when nothing converts.
 */
function parseTimestamp(buf: Uint8Array, p: number): { value: bigint; end: number } {
  let i = p;
  for (let c = byteAt(buf, i); c === SP || (c >= 0x09 && c <= 0x0d); c = byteAt(buf, ++i));
  const sign = byteAt(buf, i);
  if (sign === 0x2b || sign === 0x2d) i++;
  if (!isDigit(byteAt(buf, i))) return { value: 0n, end: p };
  let value = 0n;
  for (; isDigit(byteAt(buf, i)); i++) if (value <= UINTMAX) value = value * 10n + BigInt(byteAt(buf, i) - 0x30);
  if (value > UINTMAX) value = UINTMAX;
  else if (sign === 0x2d) value = (UINTMAX + 1n - value) & UINTMAX;
  return { value, end: i };
}

/** date_overflows: git's timestamps must also fit a signed 64-bit time_t. */
function dateOverflows(value: bigint): boolean {
  return value >= 1n << 63n;
}

/** Skips over a span like strcspn(p, "<>\n"), stopping at NUL too. */
function skipToAngleOrEol(buf: Uint8Array, p: number): number {
  for (let c = byteAt(buf, p); c !== 0x3c && c !== 0x3e && c !== LF && c !== 0; c = byteAt(buf, ++p));
  return p;
}

/**
 * fsck_ident on the "Name <email> date tz" after "author ", "committer " or "tagger ".
 * Returns where the next line starts and whether a failing finding stopped the check.
 */
function checkIdent(
  buf: Uint8Array,
  start: number,
  report: FsckReport,
  options: FsckOptions | undefined,
  what: string,
): { next: number; stop: boolean } {
  const eol = indexOfByte(buf, LF, start);
  const next = eol < 0 ? buf.length : eol + 1;
  const fail = (id: FsckMessageId, detail: string) => ({ next, stop: emit(report, options, what, id, detail) });
  let p = start;
  if (byteAt(buf, p) === 0x3c) return fail('missingNameBeforeEmail', 'invalid author/committer line - no name before the email');
  p = skipToAngleOrEol(buf, p);
  if (byteAt(buf, p) === 0x3e) return fail('badName', 'invalid author/committer line - ">" before the email');
  if (byteAt(buf, p) !== 0x3c) return fail('missingEmail', 'invalid author/committer line - no email');
  if (byteAt(buf, p - 1) !== SP) return fail('missingSpaceBeforeEmail', 'invalid author/committer line - no space before the email');
  p = skipToAngleOrEol(buf, p + 1);
  if (byteAt(buf, p) !== 0x3e) return fail('badEmail', 'invalid author/committer line - the email is not closed by ">"');
  p++;
  if (byteAt(buf, p) !== SP) return fail('missingSpaceBeforeDate', 'invalid author/committer line - no space before the date');
  p++;
  if (byteAt(buf, p) === 0x30 && byteAt(buf, p + 1) !== SP) return fail('zeroPaddedDate', 'invalid author/committer line - zero-padded date');
  const { value, end } = parseTimestamp(buf, p);
  if (dateOverflows(value)) return fail('badDateOverflow', 'invalid author/committer line - the date overflows');
  if (end === p || byteAt(buf, end) !== SP) return fail('badDate', 'invalid author/committer line - bad date');
  p = end + 1;
  const sign = byteAt(buf, p);
  const zoneOk =
    (sign === 0x2b || sign === 0x2d) &&
    isDigit(byteAt(buf, p + 1)) &&
    isDigit(byteAt(buf, p + 2)) &&
    isDigit(byteAt(buf, p + 3)) &&
    isDigit(byteAt(buf, p + 4)) &&
    byteAt(buf, p + 5) === LF;
  if (!zoneOk) return fail('badTimezone', 'invalid author/committer line - bad time zone');
  return { next, stop: false };
}

/** Where parsing resumes after a bad id line that a setting let through: the next line. */
function nextLine(buf: Uint8Array, pos: number): number {
  const eol = indexOfByte(buf, LF, pos);
  return eol < 0 ? buf.length : eol + 1;
}

/** fsck_commit: the header lines git requires, in git's order, and no NUL anywhere. */
export function checkCommit(
  content: Uint8Array,
  id: string,
  format: ObjectFormat,
  report: FsckReport,
  reference: FsckReference,
  options?: FsckOptions,
): void {
  const what = `commit ${id}`;
  if (!headersAreSound(content, report, options, what)) return;
  const idLength = hashLength(format);
  const hexLength = 2 * idLength;
  let pos = 0;
  if (!startsWith(content, pos, 'tree ')) {
    emit(report, options, what, 'missingTree', 'invalid format - no "tree" line first');
    return;
  }
  pos += 5;
  if (parseHexId(content, pos, idLength) && byteAt(content, pos + hexLength) === LF) {
    reference(2, scratchId, 0);
    pos += hexLength + 1;
  } else {
    if (emit(report, options, what, 'badTreeSha1', 'invalid "tree" line - bad object id')) return;
    pos = nextLine(content, pos);
  }
  while (startsWith(content, pos, 'parent ')) {
    pos += 7;
    if (parseHexId(content, pos, idLength) && byteAt(content, pos + hexLength) === LF) {
      reference(1, scratchId, 0);
      pos += hexLength + 1;
    } else {
      if (emit(report, options, what, 'badParentSha1', 'invalid "parent" line - bad object id')) return;
      pos = nextLine(content, pos);
    }
  }
  let authors = 0;
  while (startsWith(content, pos, 'author ')) {
    authors++;
    const ident = checkIdent(content, pos + 7, report, options, what);
    if (ident.stop) return;
    pos = ident.next;
  }
  if (authors === 0 && emit(report, options, what, 'missingAuthor', 'invalid format - no "author" line')) return;
  if (authors > 1 && emit(report, options, what, 'multipleAuthors', 'invalid format - more than one "author" line')) return;
  if (!startsWith(content, pos, 'committer ')) {
    emit(report, options, what, 'missingCommitter', 'invalid format - no "committer" line after the author');
    return;
  }
  if (checkIdent(content, pos + 10, report, options, what).stop) return;
  if (content.includes(0)) emit(report, options, what, 'nulInCommit', 'NUL byte in the commit');
}

const TAGGED_TYPES: Record<string, ObjectTypeCode> = { commit: 1, tree: 2, blob: 3, tag: 4 };

/** check_refname_format(name, 0) for a full ref name such as "refs/tags/v1.0". */
export function isValidRefName(name: string): boolean {
  if (name === '@') return false;
  const components = name.split('/');
  for (const component of components) {
    if (component === '' || component.startsWith('.') || component.endsWith('.lock')) return false;
    for (let i = 0; i < component.length; i++) {
      const c = component.charCodeAt(i);
      const previous = i > 0 ? component.charCodeAt(i - 1) : 0;
      // Control characters, DEL, space and : ? [ \ ^ ~ *; and the sequences ".." and "@{".
      if (c < 0x20 || c === 0x7f || ' :?[\\^~*'.includes(component[i]!)) return false;
      if ((c === DOT && previous === DOT) || (c === 0x7b && previous === 0x40)) return false;
    }
  }
  return components.length >= 2 && !name.endsWith('.');
}

/** fsck_tag (fsck_tag_standalone): object, type, tag and tagger lines, and nothing after them. */
export function checkTag(
  content: Uint8Array,
  id: string,
  format: ObjectFormat,
  report: FsckReport,
  reference: FsckReference,
  options?: FsckOptions,
): void {
  const what = `tag ${id}`;
  if (!headersAreSound(content, report, options, what)) return;
  const idLength = hashLength(format);
  const hexLength = 2 * idLength;
  let pos = 0;
  if (!startsWith(content, pos, 'object ')) {
    emit(report, options, what, 'missingObject', 'invalid format - no "object" line first');
    return;
  }
  pos += 7;
  const objectOk = parseHexId(content, pos, idLength) && byteAt(content, pos + hexLength) === LF;
  if (objectOk) {
    pos += hexLength + 1;
  } else {
    if (emit(report, options, what, 'badObjectSha1', 'invalid "object" line - bad object id')) return;
    pos = nextLine(content, pos);
  }
  if (!startsWith(content, pos, 'type ')) {
    emit(report, options, what, 'missingTypeEntry', 'invalid format - no "type" line after the object');
    return;
  }
  pos += 5;
  let eol = indexOfByte(content, LF, pos);
  if (eol < 0) {
    emit(report, options, what, 'missingType', 'invalid format - the object ends in the "type" line');
    return;
  }
  const typeName = Buffer.from(content.buffer, content.byteOffset + pos, eol - pos).toString('latin1');
  const type = Object.hasOwn(TAGGED_TYPES, typeName) ? TAGGED_TYPES[typeName] : undefined;
  if (type === undefined) {
    if (emit(report, options, what, 'badType', `invalid "type" value: ${display(typeName)}`)) return;
  } else if (objectOk) {
    // scratchId still holds the object id: nothing has parsed a hex id since.
    reference(type, scratchId, 0);
  }
  pos = eol + 1;
  if (!startsWith(content, pos, 'tag ')) {
    emit(report, options, what, 'missingTagEntry', 'invalid format - no "tag" line after the type');
    return;
  }
  pos += 4;
  eol = indexOfByte(content, LF, pos);
  if (eol < 0) {
    emit(report, options, what, 'missingTag', 'invalid format - the object ends in the "tag" line');
    return;
  }
  const tagName = Buffer.from(content.buffer, content.byteOffset + pos, eol - pos).toString('latin1');
  if (!isValidRefName(`refs/tags/${tagName}`) && emit(report, options, what, 'badTagName', `invalid tag name: ${display(tagName)}`)) return;
  pos = eol + 1;
  if (!startsWith(content, pos, 'tagger ')) {
    // Early tags have no tagger line.
    if (emit(report, options, what, 'missingTaggerEntry', 'invalid format - no "tagger" line')) return;
  } else {
    // git goes on to look for extra headers even after a bad tagger line.
    pos = checkIdent(content, pos + 7, report, options, what).next;
  }
  if (pos < content.length && content[pos] !== LF) {
    emit(report, options, what, 'extraHeaderEntry', 'invalid format - header lines after the tagger');
  }
}

// Tree entry modes, as git's S_IF* values.
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFGITLINK = 0o160000;

/** A byte of a tree entry name that ends at `end`, where git sees the name's NUL. */
function nameByte(buf: Uint8Array, i: number, end: number): number {
  return i < end ? buf[i]! : 0;
}

/** Unicode code points HFS+ ignores in names, so that ".g\u200cit" is ".git" there. */
function isHfsIgnorable(cp: number): boolean {
  return (cp >= 0x200c && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x206a && cp <= 0x206f) || cp === 0xfeff;
}

/**
 * The next character HFS+ would compare, from `cursor.at` (advanced past it), as git's
 * next_hfs_char: 0 at the end of the name and for invalid UTF-8.
 */
function nextHfsChar(buf: Uint8Array, end: number, cursor: { at: number }): number {
  for (;;) {
    const i = cursor.at;
    const s0 = nameByte(buf, i, end);
    let cp: number;
    let length: number;
    if (s0 < 0x80) {
      cp = s0;
      length = 1;
    } else {
      const s1 = nameByte(buf, i + 1, end);
      const s2 = nameByte(buf, i + 2, end);
      const s3 = nameByte(buf, i + 3, end);
      if ((s0 & 0xe0) === 0xc0) {
        if ((s1 & 0xc0) !== 0x80 || (s0 & 0xfe) === 0xc0) return 0;
        cp = ((s0 & 0x1f) << 6) | (s1 & 0x3f);
        length = 2;
      } else if ((s0 & 0xf0) === 0xe0) {
        const overlong = s0 === 0xe0 && (s1 & 0xe0) === 0x80;
        const surrogate = s0 === 0xed && (s1 & 0xe0) === 0xa0;
        const nonCharacter = s0 === 0xef && s1 === 0xbf && (s2 & 0xfe) === 0xbe;
        if ((s1 & 0xc0) !== 0x80 || (s2 & 0xc0) !== 0x80 || overlong || surrogate || nonCharacter) return 0;
        cp = ((s0 & 0x0f) << 12) | ((s1 & 0x3f) << 6) | (s2 & 0x3f);
        length = 3;
      } else if ((s0 & 0xf8) === 0xf0) {
        const overlong = s0 === 0xf0 && (s1 & 0xf0) === 0x80;
        const tooLarge = (s0 === 0xf4 && s1 > 0x8f) || s0 > 0xf4;
        if ((s1 & 0xc0) !== 0x80 || (s2 & 0xc0) !== 0x80 || (s3 & 0xc0) !== 0x80 || overlong || tooLarge) return 0;
        cp = ((s0 & 0x07) << 18) | ((s1 & 0x3f) << 12) | ((s2 & 0x3f) << 6) | (s3 & 0x3f);
        length = 4;
      } else {
        return 0;
      }
    }
    cursor.at = i + length;
    if (!isHfsIgnorable(cp)) return cp;
  }
}

/** is_hfs_dot_generic: "." + needle (ASCII, any case) + end or "/", ignoring HFS+ ignorables. */
function isHfsDot(buf: Uint8Array, start: number, end: number, needle: string): boolean {
  const cursor = { at: start };
  if (nextHfsChar(buf, end, cursor) !== DOT) return false;
  for (let i = 0; i < needle.length; i++) {
    const c = nextHfsChar(buf, end, cursor);
    if (c > 127 || (c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== needle.charCodeAt(i)) return false;
  }
  const c = nextHfsChar(buf, end, cursor);
  return c === 0 || c === SLASH;
}

function lowerAscii(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** Case-insensitive match of `length` chars of `lower` at `start` (strncasecmp). */
function matchesIgnoringCase(buf: Uint8Array, start: number, end: number, lower: string, length: number): boolean {
  for (let i = 0; i < length; i++) if (lowerAscii(nameByte(buf, start + i, end)) !== lower.charCodeAt(i)) return false;
  return true;
}

/** NTFS drops trailing spaces and periods, and ":" starts an alternate data stream. */
function onlySpacesAndPeriods(buf: Uint8Array, at: number, end: number): boolean {
  for (;;) {
    const c = nameByte(buf, at++, end);
    if (c === 0 || c === 0x3a) return true;
    if (c !== SP && c !== DOT) return false;
  }
}

/** is_ntfs_dotgit: ".git" or its 8.3 short name "git~1", then only spaces/periods up to a separator or ":". */
function isNtfsDotgit(buf: Uint8Array, start: number, end: number): boolean {
  let at = start;
  if (nameByte(buf, at, end) === DOT) {
    if (!matchesIgnoringCase(buf, at + 1, end, 'git', 3)) return false;
    at += 4;
  } else {
    if (!matchesIgnoringCase(buf, at, end, 'git~1', 5)) return false;
    at += 5;
  }
  for (;;) {
    const c = nameByte(buf, at++, end);
    if (c === 0 || c === BACKSLASH || c === SLASH || c === 0x3a) return true;
    if (c !== DOT && c !== SP) return false;
  }
}

/**
 * is_ntfs_dot_generic: ".<name>", its short name "<first 6>~1".."~4", or a fallback short
 * name "<hash prefix>~<digits>" (up to 8 chars), each then only spaces/periods.
 */
function isNtfsDot(buf: Uint8Array, start: number, end: number, name: string, shortPrefix: string): boolean {
  if (nameByte(buf, start, end) === DOT && matchesIgnoringCase(buf, start + 1, end, name, name.length)) {
    return onlySpacesAndPeriods(buf, start + name.length + 1, end);
  }
  const digit7 = nameByte(buf, start + 7, end);
  if (matchesIgnoringCase(buf, start, end, name, 6) && nameByte(buf, start + 6, end) === 0x7e && digit7 >= 0x31 && digit7 <= 0x34) {
    return onlySpacesAndPeriods(buf, start + 8, end);
  }
  let i = 0;
  for (let sawTilde = false; i < 8; i++) {
    const c = nameByte(buf, start + i, end);
    if (c === 0) return false;
    if (sawTilde) {
      if (!isDigit(c)) return false;
    } else if (c === 0x7e) {
      const d = nameByte(buf, start + ++i, end);
      if (d < 0x31 || d > 0x39) return false;
      sawTilde = true;
    } else if (i >= 6 || c & 0x80 || lowerAscii(c) !== shortPrefix.charCodeAt(i)) {
      return false;
    }
  }
  return onlySpacesAndPeriods(buf, start + i, end);
}

function isDotgitmodules(buf: Uint8Array, start: number, end: number, hfsToo: boolean): boolean {
  return (hfsToo && isHfsDot(buf, start, end, 'gitmodules')) || isNtfsDot(buf, start, end, 'gitmodules', 'gi7eba');
}

// Per-tree findings, reported once each after the walk, in git's order.
const HAS_NULL_SHA1 = 1 << 0;
const HAS_FULL_PATH = 1 << 1;
const HAS_DOT = 1 << 2;
const HAS_DOTDOT = 1 << 3;
const HAS_DOTGIT = 1 << 4;
const HAS_ZERO_PAD = 1 << 5;
const HAS_BAD_MODES = 1 << 6;
const HAS_DUP_ENTRIES = 1 << 7;
const NOT_SORTED = 1 << 8;

const TREE_FLAG_REPORTS: readonly [number, FsckMessageId, string][] = [
  [HAS_NULL_SHA1, 'nullSha1', 'contains entries pointing to the null object id'],
  [HAS_FULL_PATH, 'fullPathname', 'contains entry names with "/"'],
  [HAS_DOT, 'hasDot', "contains '.'"],
  [HAS_DOTDOT, 'hasDotdot', "contains '..'"],
  [HAS_DOTGIT, 'hasDotgit', "contains '.git' or a name a filesystem may take for it"],
  [HAS_ZERO_PAD, 'zeroPaddedFilemode', 'contains zero-padded file modes'],
  [HAS_BAD_MODES, 'badFilemode', 'contains bad file modes'],
  [HAS_DUP_ENTRIES, 'duplicateEntries', 'contains duplicate entries'],
  [NOT_SORTED, 'treeNotSorted', 'is not properly sorted'],
];

/** What a tree's special names need to know, built only when a name needs a closer look. */
interface TreeContext {
  content: Uint8Array;
  what: string;
  report: FsckReport;
  options: TreeCheckOptions | undefined;
  gitmodules: SpecialBlobCallback | undefined;
}

/**
 * The slow path for names that may be ".git" or a special dotfile on some filesystem (HFS+
 * ignorables, NTFS short names and trailing dots): reports symlinked dotfiles, hands
 * .gitmodules/.gitattributes entries to the caller, and returns whether the name is ".git".
 */
function inspectSpecialName(ctx: TreeContext, start: number, end: number, idStart: number, symlink: boolean, backslash: boolean): boolean {
  const { content, report, options, what } = ctx;
  let dotgit = isHfsDot(content, start, end, 'git') || isNtfsDotgit(content, start, end);
  const gitmodulesEntry = () => {
    if (!symlink) ctx.gitmodules?.(content, idStart);
    else emit(report, options, what, 'gitmodulesSymlink', '.gitmodules is a symbolic link');
  };
  if (isDotgitmodules(content, start, end, true)) gitmodulesEntry();
  if (isHfsDot(content, start, end, 'gitattributes') || isNtfsDot(content, start, end, 'gitattributes', 'gi7d29')) {
    if (!symlink) options?.gitattributes?.(content, idStart);
    else emit(report, options, what, 'gitattributesSymlink', '.gitattributes is a symbolic link');
  }
  if (symlink) {
    if (isHfsDot(content, start, end, 'gitignore') || isNtfsDot(content, start, end, 'gitignore', 'gi250a')) {
      emit(report, options, what, 'gitignoreSymlink', '.gitignore is a symbolic link');
    }
    if (isHfsDot(content, start, end, 'mailmap') || isNtfsDot(content, start, end, 'mailmap', 'maba30')) {
      emit(report, options, what, 'mailmapSymlink', '.mailmap is a symbolic link');
    }
  }
  // NTFS also reads a backslash as a directory separator: each part after one is a name too.
  if (backslash) {
    for (let b = content.indexOf(BACKSLASH, start); b >= 0 && b < end; b = content.indexOf(BACKSLASH, b + 1)) {
      dotgit ||= isNtfsDotgit(content, b + 1, end);
      if (isDotgitmodules(content, b + 1, end, false)) gitmodulesEntry();
    }
  }
  return dotgit;
}

/** Whether a name starting with this byte can be any special name: ".x", "git~1", "gi7eba~1", "~1234567", HFS+ ignorables. */
function mayBeSpecialName(first: number, symlink: boolean): boolean {
  const lower = first | 0x20;
  return first === DOT || first >= 0x80 || lower === 0x67 || first === 0x7e || (symlink && lower === 0x6d);
}

/**
 * fsck_tree: parses every entry as git's tree walker does, flags each kind of finding once, and
 * checks order and duplicates with git's rule that a directory sorts as if its name ended in "/".
 */
export function checkTree(
  content: Uint8Array,
  id: string,
  format: ObjectFormat,
  report: FsckReport,
  reference: FsckReference,
  gitmodules?: SpecialBlobCallback,
  options?: TreeCheckOptions,
): void {
  const size = content.length;
  if (size === 0) return;
  const idLength = hashLength(format);
  const entryMinimum = idLength + 3;
  // git decodes an entry only if the byte before the last id is NUL (so every name ends) and
  // at least a mode digit, space, name byte, NUL and id remain.
  if (size < entryMinimum || content[size - idLength - 1] !== 0) {
    emit(report, options, `tree ${id}`, 'badTree', 'cannot be parsed as a tree');
    return;
  }
  let flags = 0;
  let ctx: TreeContext | undefined;
  // The previous entry: its mode and order are checked once the next one decodes, as in git.
  let previousStart = -1;
  let previousEnd = 0;
  let previousMode = 0;
  // Names not yet ruled out as duplicates of a later directory (see verifyOrder).
  const candidates: number[] = [];
  let pendingStart = -1;
  let pendingEnd = 0;
  let pendingMode = 0;
  let pendingId = 0;
  let pos = 0;
  for (;;) {
    // Decode the entry at pos: "<octal mode> <name>\0<id>".
    let mode = 0;
    let nameStart = pos;
    let broken = size - pos < entryMinimum || content[pos] === SP;
    if (!broken) {
      for (let c = content[nameStart++]!; c !== SP; c = content[nameStart++]!) {
        if (c < 0x30 || c > 0x37) {
          broken = true;
          break;
        }
        // git keeps the mode in an unsigned short: higher digits fall off.
        mode = ((mode << 3) | (c - 0x30)) & 0xffff;
      }
      // An empty name fails here, so git 2.39 never gets to report emptyName.
      broken ||= content[nameStart] === 0;
    }
    if (broken) {
      emit(report, options, `tree ${id}`, 'badTree', 'cannot be parsed as a tree');
      break;
    }
    let nameEnd = nameStart;
    let slash = false;
    let backslash = false;
    for (let c = content[nameEnd]!; c !== 0; c = content[++nameEnd]!) {
      if (c === SLASH) slash = true;
      else if (c === BACKSLASH) backslash = true;
    }
    const idStart = nameEnd + 1;

    if (pendingStart >= 0) {
      flags |= finishEntry(content, pendingStart, pendingEnd, pendingMode, pendingId, previousStart, previousEnd, previousMode, candidates, reference);
      previousStart = pendingStart;
      previousEnd = pendingEnd;
      previousMode = pendingMode;
    }

    let zeroId = true;
    for (let i = idStart; i < idStart + idLength; i++) {
      if (content[i] !== 0) {
        zeroId = false;
        break;
      }
    }
    if (zeroId) flags |= HAS_NULL_SHA1;
    if (slash) flags |= HAS_FULL_PATH;
    const first = content[nameStart]!;
    const nameLength = nameEnd - nameStart;
    if (first === DOT && nameLength === 1) flags |= HAS_DOT;
    if (first === DOT && nameLength === 2 && content[nameStart + 1] === DOT) flags |= HAS_DOTDOT;
    if (content[pos] === 0x30) flags |= HAS_ZERO_PAD;
    const symlink = (mode & S_IFMT) === S_IFLNK;
    if (backslash || mayBeSpecialName(first, symlink)) {
      ctx ??= { content, what: `tree ${id}`, report, options, gitmodules };
      if (inspectSpecialName(ctx, nameStart, nameEnd, idStart, symlink, backslash)) flags |= HAS_DOTGIT;
    }

    pendingStart = nameStart;
    pendingEnd = nameEnd;
    pendingMode = mode;
    pendingId = idStart;
    pos = idStart + idLength;
    if (pos === size) {
      flags |= finishEntry(content, pendingStart, pendingEnd, pendingMode, pendingId, previousStart, previousEnd, previousMode, candidates, reference);
      break;
    }
  }
  if (flags === 0) return;
  for (const [flag, findingId, detail] of TREE_FLAG_REPORTS) {
    if (flags & flag) emit(report, options, `tree ${id}`, findingId, detail);
  }
}

/** Mode, order and connectivity of an entry whose successor parsed (or that is the last). */
function finishEntry(
  content: Uint8Array,
  start: number,
  end: number,
  mode: number,
  idStart: number,
  previousStart: number,
  previousEnd: number,
  previousMode: number,
  candidates: number[],
  reference: FsckReference,
): number {
  let flags = 0;
  const type = mode & S_IFMT;
  // 100664 is what early git wrote; strict mode counts it as bad, like every other odd mode.
  if (mode !== (S_IFREG | 0o755) && mode !== (S_IFREG | 0o644) && mode !== S_IFLNK && mode !== S_IFDIR && mode !== S_IFGITLINK) {
    flags |= HAS_BAD_MODES;
  }
  if (previousStart >= 0) flags |= verifyOrder(content, previousStart, previousEnd, previousMode, start, end, mode, candidates);
  // git's walker canonicalises modes: anything not a file, symlink or directory is a gitlink,
  // which names a commit in another repository.
  if (type === S_IFDIR) reference(2, content, idStart);
  else if (type === S_IFREG || type === S_IFLNK) reference(3, content, idStart);
  return flags;
}

/** A byte that sorts before "/" (git's is_less_than_slash). */
function isLessThanSlash(c: number): boolean {
  return c > 0 && c < SLASH;
}

/**
 * verify_ordered: entry 2 must sort after entry 1, comparing a directory's name as if it ended in
 * "/". A file and a directory of the same name need not be adjacent ("foo", "foo.bar", "foo/"),
 * so names that a later directory could duplicate wait on the `candidates` stack.
 */
function verifyOrder(
  content: Uint8Array,
  start1: number,
  end1: number,
  mode1: number,
  start2: number,
  end2: number,
  mode2: number,
  candidates: number[],
): number {
  const length1 = end1 - start1;
  const length2 = end2 - start2;
  const common = length1 < length2 ? length1 : length2;
  for (let i = 0; i < common; i++) {
    const a = content[start1 + i]!;
    const b = content[start2 + i]!;
    if (a !== b) return a < b ? 0 : NOT_SORTED;
  }
  let c1 = common < length1 ? content[start1 + common]! : 0;
  let c2 = common < length2 ? content[start2 + common]! : 0;
  if (c1 === 0 && c2 === 0) return HAS_DUP_ENTRIES;
  if (c1 === 0 && (mode1 & S_IFMT) === S_IFDIR) c1 = SLASH;
  if (c2 === 0 && (mode2 & S_IFMT) === S_IFDIR) c2 = SLASH;
  if (c1 === 0 && isLessThanSlash(c2)) {
    candidates.push(start1, end1);
  } else if (c2 === SLASH && isLessThanSlash(c1)) {
    while (candidates.length) {
      const candidateEnd = candidates.pop()!;
      const candidateStart = candidates.pop()!;
      const candidateLength = candidateEnd - candidateStart;
      if (candidateLength > length2 || !sameBytes(content, candidateStart, start2, candidateLength)) continue;
      if (candidateLength === length2) return HAS_DUP_ENTRIES;
      if (isLessThanSlash(content[start2 + candidateLength]!)) {
        candidates.push(candidateStart, candidateEnd);
        break;
      }
    }
  }
  return c1 < c2 ? 0 : NOT_SORTED;
}

function sameBytes(buf: Uint8Array, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

/**
 * fsck_blob for a blob some tree calls `.gitmodules`: git config syntax, and submodule names,
 * urls, paths and update settings that could make a clone run or overwrite something.
 * `content` null means the caller could not load the blob (git's gitmodulesLarge).
 */
export function checkGitmodules(content: Uint8Array | null, id: string, report: FsckReport, options?: FsckOptions): void {
  const what = `blob ${id}`;
  if (content === null) {
    emit(report, options, what, 'gitmodulesLarge', '.gitmodules is too large to parse');
    return;
  }
  scanGitmodules(content, (findingId, detail) => emit(report, options, what, findingId, detail));
}

/** git's attribute parser refuses files over 100 MiB and lines of 2048 bytes or more (attr.h). */
export const ATTR_MAX_FILE_SIZE = 100 * 1024 * 1024;
export const ATTR_MAX_LINE_LENGTH = 2048;

/**
 * fsck_blob for a blob some tree calls `.gitattributes`: its size and line lengths. Like git,
 * looks only at the text before a first NUL. `content` null means too large to load.
 */
export function checkGitattributes(content: Uint8Array | null, id: string, report: FsckReport, options?: FsckOptions): void {
  const what = `blob ${id}`;
  if (content === null || content.length > ATTR_MAX_FILE_SIZE) {
    emit(report, options, what, 'gitattributesLarge', '.gitattributes is too large to parse');
    return;
  }
  const nul = content.indexOf(0);
  const end = nul < 0 ? content.length : nul;
  for (let line = 0; line < end; ) {
    const eol = indexOfByte(content, LF, line);
    const lineEnd = eol < 0 || eol > end ? end : eol;
    if (lineEnd - line >= ATTR_MAX_LINE_LENGTH) {
      emit(report, options, what, 'gitattributesLineLength', '.gitattributes has lines too long to parse');
      return;
    }
    line = lineEnd + 1;
  }
}
