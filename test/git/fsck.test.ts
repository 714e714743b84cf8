import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FSCK_MESSAGES, checkCommit, checkGitattributes, checkGitmodules, checkTag, checkTree, failsBundle, fsckOutcome,
  isValidRefName, type FsckMessageId, type FsckOptions, type ObjectFormat, type ObjectTypeCode,
} from '../../lambdas/git/verify/fsck.js';
import { isValidSubmoduleUrl, parseGitConfig } from '../../lambdas/git/verify/fsck-gitmodules.js';
import { gitEnv, gitSync, removeTempDirs, tempDir } from '../../demo/git.js';

// git itself is the oracle: every object below is written with `git hash-object --literally`,
// and what `git fsck --strict` (or, for tags, `git mktag`) says about it is what the checkers
// must say too.

type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';
const TYPE_CODES: Record<ObjectType, ObjectTypeCode> = { commit: 1, tree: 2, blob: 3, tag: 4 };

/** git run to completion whatever its exit code: fsck and mktag exit non-zero on findings. */
function gitRun(dir: string, args: string[], input?: Buffer | string): { stdout: Buffer; stderr: string; status: number | null } {
  const result = spawnSync('git', args, { cwd: dir, env: gitEnv(), input, maxBuffer: 1 << 30 });
  return { stdout: result.stdout, stderr: result.stderr.toString('utf8'), status: result.status };
}

function objectId(format: ObjectFormat, type: ObjectType, content: Buffer): string {
  return createHash(format).update(`${type} ${content.length}\0`).update(content).digest('hex');
}

class Repo {
  /** Every object this test wrote, by id. */
  readonly objects = new Map<string, { type: ObjectType; content: Buffer }>();
  private constructor(readonly dir: string, readonly format: ObjectFormat) {}

  static async create(format: ObjectFormat): Promise<Repo> {
    const dir = await tempDir(`fsck-${format}`);
    gitSync(['init', '--quiet', `--object-format=${format}`, dir]);
    return new Repo(dir, format);
  }

  write(type: ObjectType, content: Buffer | string): string {
    const bytes = Buffer.from(content);
    const id = gitSync(['hash-object', '--literally', '-t', type, '-w', '--stdin'], { cwd: this.dir, input: bytes }).trim();
    expect(id).toBe(objectId(this.format, type, bytes));
    this.objects.set(id, { type, content: bytes });
    return id;
  }

  /** `git fsck --strict`: message ids per object, and the objects git could not even parse. */
  fsck(config: readonly string[] = []): { findings: Map<string, string[]>; unparsable: Set<string> } {
    const { stderr } = gitRun(this.dir, [...config.flatMap((c) => ['-c', c]), 'fsck', '--strict', '--no-dangling']);
    const findings = new Map<string, string[]>();
    const unparsable = new Set<string>();
    for (const line of stderr.split('\n')) {
      const finding = /^(?:error|warning) in (?:commit|tree|blob|tag) ([0-9a-f]{40,64}): ([A-Za-z0-9]+): /.exec(line);
      if (finding) findings.set(finding[1]!, [...(findings.get(finding[1]!) ?? []), finding[2]!]);
      const broken = /^error: ([0-9a-f]{40,64}): object could not be parsed/.exec(line);
      if (broken) unparsable.add(broken[1]!);
    }
    return { findings, unparsable };
  }

  /** `git mktag --no-strict`: runs fsck's tag checks on any input, parseable or not, in order. */
  mktag(content: Buffer, config: readonly string[] = ['fsck.extraHeaderEntry=ignore']): string[] {
    const { stderr } = gitRun(this.dir, [...config.flatMap((c) => ['-c', c]), 'mktag', '--no-strict'], content);
    return [...stderr.matchAll(/^(?:error|warning): tag input does not pass fsck: ([A-Za-z0-9]+): /gm)].map((m) => m[1]!);
  }

  /** Every object in the repository, as git reads it back. */
  allObjects(): { id: string; type: ObjectType; content: Buffer }[] {
    const out = gitRun(this.dir, ['cat-file', '--batch-all-objects', '--batch']).stdout;
    const objects: { id: string; type: ObjectType; content: Buffer }[] = [];
    for (let pos = 0; pos < out.length; ) {
      const eol = out.indexOf(10, pos);
      const [id, type, size] = out.toString('latin1', pos, eol).split(' ') as [string, ObjectType, string];
      objects.push({ id, type, content: out.subarray(eol + 1, eol + 1 + Number(size)) });
      pos = eol + 1 + Number(size) + 1;
    }
    return objects;
  }
}

interface Checked {
  ids: FsckMessageId[];
  references: [ObjectTypeCode, string][];
  gitmodules: string[];
  gitattributes: string[];
}

/** Runs the checker for one object and records everything it says. */
function check(format: ObjectFormat, type: ObjectType, content: Buffer, options?: FsckOptions): Checked {
  const length = format === 'sha256' ? 32 : 20;
  const hex = (bytes: Uint8Array, offset: number) => Buffer.from(bytes.subarray(offset, offset + length)).toString('hex');
  const result: Checked = { ids: [], references: [], gitmodules: [], gitattributes: [] };
  const id = objectId(format, type, content);
  const report = (msgId: FsckMessageId, message: string) => {
    expect(message).toContain(id);
    result.ids.push(msgId);
  };
  const reference = (code: ObjectTypeCode, bytes: Uint8Array, offset: number) => result.references.push([code, hex(bytes, offset)]);
  if (type === 'commit') checkCommit(content, id, format, report, reference, options);
  if (type === 'tag') checkTag(content, id, format, report, reference, options);
  if (type === 'tree') {
    checkTree(content, id, format, report, reference, (bytes, offset) => result.gitmodules.push(hex(bytes, offset)), {
      ...options,
      gitattributes: (bytes, offset) => result.gitattributes.push(hex(bytes, offset)),
    });
  }
  return result;
}

/**
 * What argocd-dr reports for a whole repository: every object's own checks, then, as git's
 * fsck_finish does, the .gitmodules and .gitattributes objects the trees named.
 */
function checkRepository(repo: Repo, options?: FsckOptions): Map<string, FsckMessageId[]> {
  const objects = new Map(repo.allObjects().map((o) => [o.id, o]));
  const findings = new Map<string, FsckMessageId[]>();
  const add = (id: string, msgId: FsckMessageId) => findings.set(id, [...(findings.get(id) ?? []), msgId]);
  const gitmodules = new Set<string>();
  const gitattributes = new Set<string>();
  for (const { id, type, content } of objects.values()) {
    const checked = check(repo.format, type, content, options);
    for (const msgId of checked.ids) add(id, msgId);
    checked.gitmodules.forEach((blob) => gitmodules.add(blob));
    checked.gitattributes.forEach((blob) => gitattributes.add(blob));
  }
  for (const [found, missing, notBlob, checker] of [
    [gitmodules, 'gitmodulesMissing', 'gitmodulesBlob', checkGitmodules],
    [gitattributes, 'gitattributesMissing', 'gitattributesBlob', checkGitattributes],
  ] as const) {
    for (const id of found) {
      const object = objects.get(id);
      if (!object) add(id, missing);
      else if (object.type !== 'blob') add(id, notBlob);
      else checker(object.content, id, (msgId) => add(id, msgId), options);
    }
  }
  return findings;
}

// Raw tree bytes: entries of [mode, name, hex id], written exactly as given (no sorting).
function tree(...entries: [string, string | Buffer, string][]): Buffer {
  return Buffer.concat(entries.flatMap(([mode, name, id]) => [Buffer.from(`${mode} `), Buffer.from(name), Buffer.from([0]), Buffer.from(id, 'hex')]));
}

function commit(...headers: (string | Buffer)[]): Buffer {
  return Buffer.concat([...headers.flatMap((h) => [Buffer.from(h), Buffer.from('\n')]), Buffer.from('\nmessage\n')]);
}

function gitmodulesOf(...lines: (string | Buffer)[]): Buffer {
  return Buffer.concat(lines.map((l) => Buffer.from(l)));
}

const SHA1_EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
const BLOB_CONTENT = Buffer.from('hello\n');
const BLOB = objectId('sha1', 'blob', BLOB_CONTENT);
const DIR_CONTENT = tree(['100644', 'f', BLOB]);
const DIR = objectId('sha1', 'tree', DIR_CONTENT);
const NULL_ID = '0'.repeat(40);
const OTHER_COMMIT = '1234567890abcdef1234567890abcdef12345678';

const AUTHOR = 'author A U Thor <author@example.com> 1700000000 +0100';
const COMMITTER = 'committer C O Mitter <committer@example.com> 1700000060 -0530';
const TREE_LINE = `tree ${SHA1_EMPTY_TREE}`;
const author = (ident: string) => `author ${ident}`;

interface Case {
  title: string;
  content: Buffer;
  /** What git 2.39 reports for the object, in its order. */
  expected: FsckMessageId[];
  /** git's object parser rejects it before fsck runs, so git names no id: ours come from fsck.c. */
  gitCannotParse?: boolean;
}

const commitCases: Case[] = [
  { title: 'a clean commit with a parent', content: commit(TREE_LINE, `parent ${OTHER_COMMIT}`, AUTHOR, COMMITTER), expected: [] },
  {
    title: 'a merge with encoding and gpgsig headers',
    content: commit(TREE_LINE, `parent ${OTHER_COMMIT}`, `parent ${'fe'.repeat(20)}`, AUTHOR, COMMITTER, 'encoding ISO-8859-1', 'gpgsig -----BEGIN PGP SIGNATURE-----', ' abc', ' -----END PGP SIGNATURE-----'),
    expected: [],
  },
  { title: 'upper-case hex ids', content: commit(TREE_LINE.toUpperCase().replace('TREE', 'tree'), AUTHOR, COMMITTER), expected: [] },
  { title: 'an empty name', content: commit(TREE_LINE, 'author  <a@example.com> 1 +0000', COMMITTER), expected: [] },
  { title: 'date 0', content: commit(TREE_LINE, author('A <a> 0 +0000'), COMMITTER), expected: [] },
  { title: 'the largest date', content: commit(TREE_LINE, author('A <a> 9223372036854775807 +0000'), COMMITTER), expected: [] },
  { title: 'a signed date (strtoumax takes "+")', content: commit(TREE_LINE, author('A <a> +5 +0000'), COMMITTER), expected: [] },
  { title: 'a negative date that wraps to 1', content: commit(TREE_LINE, author('A <a> -18446744073709551615 +0000'), COMMITTER), expected: [] },
  { title: 'two spaces before the date', content: commit(TREE_LINE, author('A <a>  1 +0000'), COMMITTER), expected: [] },
  { title: 'no tree line', content: commit(AUTHOR, COMMITTER), expected: ['missingTree'], gitCannotParse: true },
  { title: 'a short tree id', content: commit('tree 4b825dc6', AUTHOR, COMMITTER), expected: ['badTreeSha1'], gitCannotParse: true },
  { title: 'junk after the tree id', content: commit(`${TREE_LINE}x`, AUTHOR, COMMITTER), expected: ['badTreeSha1'], gitCannotParse: true },
  { title: 'a bad parent id', content: commit(TREE_LINE, 'parent 12345678', AUTHOR, COMMITTER), expected: ['badParentSha1'], gitCannotParse: true },
  { title: 'no author', content: commit(TREE_LINE, COMMITTER), expected: ['missingAuthor'] },
  { title: 'two authors', content: commit(TREE_LINE, AUTHOR, AUTHOR, COMMITTER), expected: ['multipleAuthors'] },
  { title: 'no committer', content: commit(TREE_LINE, AUTHOR), expected: ['missingCommitter'] },
  { title: 'committer before author', content: commit(TREE_LINE, COMMITTER, AUTHOR), expected: ['missingAuthor'] },
  { title: 'an ident starting with its email', content: commit(TREE_LINE, author('<a@example.com> 1 +0000'), COMMITTER), expected: ['missingNameBeforeEmail'] },
  { title: '">" before "<"', content: commit(TREE_LINE, author('A> <a> 1 +0000'), COMMITTER), expected: ['badName'] },
  { title: 'no email', content: commit(TREE_LINE, author('A 1 +0000'), COMMITTER), expected: ['missingEmail'] },
  { title: 'no space before the email', content: commit(TREE_LINE, author('A<a> 1 +0000'), COMMITTER), expected: ['missingSpaceBeforeEmail'] },
  { title: 'an unclosed email', content: commit(TREE_LINE, author('A <a 1 +0000'), COMMITTER), expected: ['badEmail'] },
  { title: '"<" inside the email', content: commit(TREE_LINE, author('A <a<b> 1 +0000'), COMMITTER), expected: ['badEmail'] },
  { title: 'no space before the date', content: commit(TREE_LINE, author('A <a>1 +0000'), COMMITTER), expected: ['missingSpaceBeforeDate'] },
  { title: 'a zero-padded date', content: commit(TREE_LINE, author('A <a> 01 +0000'), COMMITTER), expected: ['zeroPaddedDate'] },
  { title: 'a date past 2^63', content: commit(TREE_LINE, author('A <a> 9223372036854775808 +0000'), COMMITTER), expected: ['badDateOverflow'] },
  { title: 'a date past 2^64', content: commit(TREE_LINE, author('A <a> 99999999999999999999999 +0000'), COMMITTER), expected: ['badDateOverflow'] },
  { title: 'a negative date', content: commit(TREE_LINE, author('A <a> -1 +0000'), COMMITTER), expected: ['badDateOverflow'] },
  { title: 'a date that is no number', content: commit(TREE_LINE, author('A <a> x +0000'), COMMITTER), expected: ['badDate'] },
  { title: 'no space after the date', content: commit(TREE_LINE, author('A <a> 1+0000'), COMMITTER), expected: ['badDate'] },
  { title: 'a three-digit zone', content: commit(TREE_LINE, author('A <a> 1 +000'), COMMITTER), expected: ['badTimezone'] },
  { title: 'a zone without sign', content: commit(TREE_LINE, author('A <a> 1 0100'), COMMITTER), expected: ['badTimezone'] },
  { title: 'a five-digit zone', content: commit(TREE_LINE, author('A <a> 1 +01000'), COMMITTER), expected: ['badTimezone'] },
  { title: 'a bad committer zone', content: commit(TREE_LINE, AUTHOR, 'committer C <c> 1 +01x0'), expected: ['badTimezone'] },
  {
    // strtoumax skips the newline: the date is read from the next line, which then is no committer.
    title: 'a date on the next line',
    content: commit(TREE_LINE, author('A <a> '), '1 +0000', COMMITTER),
    expected: ['missingCommitter'],
  },
  { title: 'a NUL in the header', content: commit(TREE_LINE, author('A\0B <a> 1 +0000'), COMMITTER), expected: ['nulInHeader'] },
  { title: 'no newline at the end of the header', content: Buffer.from(`${TREE_LINE}\n${AUTHOR}\n${COMMITTER}`), expected: ['unterminatedHeader'] },
  { title: 'an empty object', content: Buffer.alloc(0), expected: ['unterminatedHeader'], gitCannotParse: true },
  { title: 'a NUL in the message', content: Buffer.concat([commit(TREE_LINE, AUTHOR, COMMITTER), Buffer.from('a\0b\n')]), expected: ['nulInCommit'] },
];

const TAG_OBJECT = `object ${OTHER_COMMIT}`;
const TAGGER = 'tagger T A Gger <tagger@example.com> 1700000000 +0000';
const tag = (...headers: (string | Buffer)[]) => commit(...headers);

const tagCases: Case[] = [
  { title: 'a clean tag', content: tag(TAG_OBJECT, 'type commit', 'tag v1.0', TAGGER), expected: [] },
  { title: 'a tag of a tree, signed', content: Buffer.concat([tag(`object ${SHA1_EMPTY_TREE}`, 'type tree', 'tag t', TAGGER), Buffer.from('-----BEGIN PGP SIGNATURE-----\n')]), expected: [] },
  { title: 'a non-ASCII tag name', content: tag(TAG_OBJECT, 'type commit', 'tag ümlaut', TAGGER), expected: [] },
  { title: 'an early tag without tagger', content: tag(TAG_OBJECT, 'type commit', 'tag v0.99'), expected: ['missingTaggerEntry'] },
  { title: 'no object line', content: tag('type commit', 'tag v1', TAGGER), expected: ['missingObject'] },
  { title: 'a bad object id', content: tag('object 1234', 'type commit', 'tag v1', TAGGER), expected: ['badObjectSha1'] },
  { title: 'no type line', content: tag(TAG_OBJECT, 'tag v1', TAGGER), expected: ['missingTypeEntry'] },
  { title: 'an unknown type', content: tag(TAG_OBJECT, 'type commits', 'tag v1', TAGGER), expected: ['badType'] },
  { title: 'no tag line', content: tag(TAG_OBJECT, 'type commit', TAGGER), expected: ['missingTagEntry'] },
  { title: 'a tag name with ".."', content: tag(TAG_OBJECT, 'type commit', 'tag a..b', TAGGER), expected: ['badTagName'] },
  { title: 'an empty tag name, no tagger', content: tag(TAG_OBJECT, 'type commit', 'tag ', 'x'), expected: ['badTagName', 'missingTaggerEntry'] },
  { title: 'a tag name ending in .lock', content: tag(TAG_OBJECT, 'type commit', 'tag v1.lock', TAGGER), expected: ['badTagName'] },
  { title: 'a tag name with "@{"', content: tag(TAG_OBJECT, 'type commit', 'tag a@{1}', TAGGER), expected: ['badTagName'] },
  { title: 'a tag name with a space', content: tag(TAG_OBJECT, 'type commit', 'tag a b', TAGGER), expected: ['badTagName'] },
  { title: 'a tag name with "*"', content: tag(TAG_OBJECT, 'type commit', 'tag a*', TAGGER), expected: ['badTagName'] },
  { title: 'a hidden tag name component', content: tag(TAG_OBJECT, 'type commit', 'tag a/.b', TAGGER), expected: ['badTagName'] },
  { title: 'a tag name ending in "/"', content: tag(TAG_OBJECT, 'type commit', 'tag a/', TAGGER), expected: ['badTagName'] },
  { title: 'a tag name ending in "."', content: tag(TAG_OBJECT, 'type commit', 'tag a.', TAGGER), expected: ['badTagName'] },
  { title: 'a tagger without email', content: tag(TAG_OBJECT, 'type commit', 'tag v1', 'tagger T 1 +0000'), expected: ['missingEmail'] },
  { title: 'a zero-padded tagger date', content: tag(TAG_OBJECT, 'type commit', 'tag v1', 'tagger T <t> 007 +0000'), expected: ['zeroPaddedDate'] },
  { title: 'an extra header (ignored by default)', content: tag(TAG_OBJECT, 'type commit', 'tag v1', TAGGER, 'extra x'), expected: [] },
  { title: 'a NUL in the header', content: tag(TAG_OBJECT, 'type commit', 'tag v\0', TAGGER), expected: ['nulInHeader'] },
  { title: 'no newline at the end of the header', content: Buffer.from(`${TAG_OBJECT}\ntype commit\ntag v1\n${TAGGER}`), expected: ['unterminatedHeader'] },
];

const treeCases: Case[] = [
  {
    // "a-b" < "a.b" < "a/" (directory a) < "a0": a directory sorts as if its name ended in "/".
    title: 'a clean tree with every kind of entry',
    content: tree(['100644', 'a-b', BLOB], ['100644', 'a.b', BLOB], ['40000', 'a', DIR], ['100755', 'a0', BLOB], ['120000', 'link', BLOB], ['160000', 'sub', OTHER_COMMIT]),
    expected: [],
  },
  { title: 'an empty tree', content: Buffer.alloc(0), expected: [] },
  { title: 'a .mailmap file that is no symlink', content: tree(['100644', '.mailmap', BLOB]), expected: [] },
  { title: 'a name merely starting with .git', content: tree(['100644', '.gitx', BLOB], ['100644', 'git~2', BLOB]), expected: [] },
  { title: 'mode 100664', content: tree(['100664', 'a', BLOB]), expected: ['badFilemode'] },
  { title: 'mode 100600', content: tree(['100600', 'a', BLOB]), expected: ['badFilemode'] },
  { title: 'an unknown file type', content: tree(['150000', 'a', BLOB]), expected: ['badFilemode'] },
  { title: 'a zero-padded directory mode', content: tree(['040000', 'a', DIR]), expected: ['zeroPaddedFilemode'] },
  { title: 'mode 0', content: tree(['0', 'a', BLOB]), expected: ['zeroPaddedFilemode', 'badFilemode'] },
  { title: 'a mode wider than 16 bits (git truncates it)', content: tree(['1100644', 'a', BLOB]), expected: [] },
  { title: 'an empty name', content: tree(['100644', '', BLOB]), expected: ['badTree'] },
  { title: 'a mode with a non-octal digit', content: tree(['10064a', 'a', BLOB]), expected: ['badTree'] },
  { title: 'an empty mode', content: tree(['', 'a', BLOB]), expected: ['badTree'] },
  { title: 'a truncated id', content: tree(['100644', 'a', BLOB]).subarray(0, -1), expected: ['badTree'] },
  {
    // git checks the names of an entry before decoding the next, then stops.
    title: 'a broken entry after ".": the first entry is still flagged',
    content: tree(['100644', '.', BLOB], ['10x644', 'b', BLOB]),
    expected: ['badTree', 'hasDot'],
  },
  { title: '"."', content: tree(['40000', '.', DIR]), expected: ['hasDot'] },
  { title: '".."', content: tree(['40000', '..', DIR]), expected: ['hasDotdot'] },
  { title: '".git"', content: tree(['40000', '.git', DIR]), expected: ['hasDotgit'] },
  { title: '".GIT" (case-insensitive filesystems)', content: tree(['100644', '.GIT', BLOB]), expected: ['hasDotgit'] },
  { title: '".git. ." (NTFS drops trailing dots and spaces)', content: tree(['100644', '.git. .', BLOB]), expected: ['hasDotgit'] },
  { title: '"GIT~1" (NTFS short name)', content: tree(['100644', 'GIT~1', BLOB]), expected: ['hasDotgit'] },
  { title: '".git::$INDEX_ALLOCATION" (NTFS stream)', content: tree(['100644', '.git::$INDEX_ALLOCATION', BLOB]), expected: ['hasDotgit'] },
  { title: '".g\\u200cit" (HFS+ ignores the joiner)', content: tree(['100644', '.g\u200cit', BLOB]), expected: ['hasDotgit'] },
  { title: '"\\ufeff.git" (HFS+ ignores the BOM)', content: tree(['100644', '\ufeff.git', BLOB]), expected: ['hasDotgit'] },
  { title: '".git" then invalid UTF-8', content: tree(['100644', Buffer.from('.git\xff', 'latin1'), BLOB]), expected: ['hasDotgit'] },
  { title: '"a\\.git" (NTFS separator)', content: tree(['100644', 'a\\.git', BLOB]), expected: ['hasDotgit'] },
  { title: '".git/x"', content: tree(['100644', '.git/x', BLOB]), expected: ['fullPathname', 'hasDotgit'] },
  { title: 'a name with "/"', content: tree(['100644', 'a/b', BLOB]), expected: ['fullPathname'] },
  { title: 'the null id', content: tree(['100644', 'a', NULL_ID]), expected: ['nullSha1'] },
  { title: 'entries out of order', content: tree(['100644', 'b', BLOB], ['100644', 'a', BLOB]), expected: ['treeNotSorted'] },
  { title: 'a directory before a file that sorts first', content: tree(['40000', 'a', DIR], ['100644', 'a.b', BLOB]), expected: ['treeNotSorted'] },
  { title: 'the same name twice', content: tree(['100644', 'a', BLOB], ['100644', 'a', BLOB]), expected: ['duplicateEntries'] },
  { title: 'a file and a directory of the same name', content: tree(['100644', 'a', BLOB], ['40000', 'a', DIR]), expected: ['duplicateEntries'] },
  {
    title: 'a file and a directory of the same name, apart',
    content: tree(['100644', 'a', BLOB], ['100644', 'a.b', BLOB], ['100644', 'a.b.c', BLOB], ['40000', 'a.b', DIR], ['40000', 'a', DIR]),
    expected: ['duplicateEntries'],
  },
  { title: 'a symlinked .gitmodules', content: tree(['120000', '.gitmodules', BLOB]), expected: ['gitmodulesSymlink'] },
  { title: 'a symlinked ".gitmodules ." (NTFS)', content: tree(['120000', '.gitmodules .', BLOB]), expected: ['gitmodulesSymlink'] },
  { title: 'a symlinked "GITMOD~1" (NTFS short name)', content: tree(['120000', 'GITMOD~1', BLOB]), expected: ['gitmodulesSymlink'] },
  { title: 'a symlinked "gi7eba~9" (NTFS fallback short name)', content: tree(['120000', 'gi7eba~9', BLOB]), expected: ['gitmodulesSymlink'] },
  { title: 'a symlinked "x\\.gitmodules"', content: tree(['120000', 'x\\.gitmodules', BLOB]), expected: ['gitmodulesSymlink'] },
  { title: 'a symlinked .gitattributes', content: tree(['120000', '.gitattributes', BLOB]), expected: ['gitattributesSymlink'] },
  { title: 'a symlinked .gitignore', content: tree(['120000', '.gitignore', BLOB]), expected: ['gitignoreSymlink'] },
  { title: 'a symlinked .mailmap', content: tree(['120000', '.mailmap', BLOB]), expected: ['mailmapSymlink'] },
  { title: 'a symlinked "MAILMA~1"', content: tree(['120000', 'MAILMA~1', BLOB]), expected: ['mailmapSymlink'] },
  {
    // An 8.3 fallback short name can be all tilde and digits, and then matches every dotfile.
    title: 'a symlinked "~1234567"',
    content: tree(['120000', '~1234567', BLOB]),
    expected: ['gitmodulesSymlink', 'gitattributesSymlink', 'gitignoreSymlink', 'mailmapSymlink'],
  },
  {
    title: 'one of each kind of tree warning, each reported once',
    content: tree(['100644', '.', BLOB], ['100644', '..', BLOB], ['100644', '.git', BLOB], ['100644', 'a/b', NULL_ID], ['100644', 'a/c', NULL_ID], ['0100664', 'z', BLOB]),
    expected: ['nullSha1', 'fullPathname', 'hasDot', 'hasDotdot', 'hasDotgit', 'zeroPaddedFilemode', 'badFilemode'],
  },
];

const gitmodulesCases: Case[] = [
  { title: 'a valid .gitmodules', content: gitmodulesOf('[submodule "lib"]\n\tpath = lib\n\turl = https://example.com/lib.git\n\tupdate = rebase\n'), expected: [] },
  { title: 'CRLF lines, comments, quotes, old-style section', content: gitmodulesOf('# top\r\n[submodule.Lib] ; c\r\n\tURL = "./x" # c\r\n\tpath\r\n'), expected: [] },
  { title: 'variables outside submodule sections', content: gitmodulesOf('[core]\n\turl = -x\n[submodule]\n\turl = -y\n'), expected: [] },
  { title: 'a url that is an option', content: gitmodulesOf('[submodule "a"]\n\turl = -x\n'), expected: ['gitmodulesUrl'] },
  { title: 'a quoted url that is an option', content: gitmodulesOf('[submodule "a"]\n\tURL = "-x"\n'), expected: ['gitmodulesUrl'] },
  { title: 'an escaped newline in a relative url', content: gitmodulesOf('[submodule "a"]\n\turl = ./a\\nb\n'), expected: ['gitmodulesUrl'] },
  { title: 'an encoded newline in a relative url', content: gitmodulesOf('[submodule "a"]\n\turl = ./a%0ab\n'), expected: ['gitmodulesUrl'] },
  { title: 'an encoded newline in a git:// url', content: gitmodulesOf('[submodule "a"]\n\turl = git://host/%0a\n'), expected: ['gitmodulesUrl'] },
  { title: '"../" climbing into the host', content: gitmodulesOf('[submodule "a"]\n\turl = ./../../:x\n'), expected: ['gitmodulesUrl'] },
  { title: '"../" staying in the path', content: gitmodulesOf('[submodule "a"]\n\turl = ../../x\n'), expected: [] },
  { title: 'an https url without host', content: gitmodulesOf('[submodule "a"]\n\turl = https:///x\n'), expected: ['gitmodulesUrl'] },
  { title: 'a curl transport url without "://"', content: gitmodulesOf('[submodule "a"]\n\turl = https::example.com/x\n'), expected: ['gitmodulesUrl'] },
  { title: 'an encoded newline in a curl host', content: gitmodulesOf('[submodule "a"]\n\turl = http::https://h%0a/x\n'), expected: ['gitmodulesUrl'] },
  { title: 'an encoded newline in a user name', content: gitmodulesOf('[submodule "a"]\n\turl = https://u%0a@h/x\n'), expected: ['gitmodulesUrl'] },
  { title: 'an encoded newline in a query', content: gitmodulesOf('[submodule "a"]\n\turl = https://h?%0a\n'), expected: ['gitmodulesUrl'] },
  { title: 'an ssh url', content: gitmodulesOf('[submodule "a"]\n\turl = ssh://h/%0a\n'), expected: [] },
  { title: 'a ".." submodule name, once per variable', content: gitmodulesOf('[submodule ".."]\n\tpath = p\n\turl = ./u\n'), expected: ['gitmodulesName', 'gitmodulesName'] },
  { title: 'a name climbing with "\\"', content: gitmodulesOf('[submodule "a\\\\..\\\\b"]\n\tpath = p\n'), expected: ['gitmodulesName'] },
  { title: 'an empty name', content: gitmodulesOf('[submodule ""]\n\tpath = p\n'), expected: ['gitmodulesName'] },
  { title: 'a name merely starting with ".."', content: gitmodulesOf('[submodule "..a"]\n\tpath = p\n'), expected: [] },
  { title: 'a path that is an option', content: gitmodulesOf('[submodule "a"]\n\tpath = -p\n'), expected: ['gitmodulesPath'] },
  { title: 'an update command', content: gitmodulesOf('[submodule "a"]\n\tupdate = !rm -rf .\n'), expected: ['gitmodulesUpdate'] },
  { title: 'every finding of one submodule', content: gitmodulesOf('[submodule "../x"]\n\tpath = -p\n\turl = -u\n\tupdate = !x\n'), expected: ['gitmodulesName', 'gitmodulesPath', 'gitmodulesName', 'gitmodulesUrl', 'gitmodulesName', 'gitmodulesUpdate'] },
  { title: 'an unterminated section', content: gitmodulesOf('[submodule "a"\n'), expected: ['gitmodulesParse'] },
  { title: 'an unknown escape', content: gitmodulesOf('[submodule "a"]\n\turl = a\\q\n'), expected: ['gitmodulesParse'] },
  { title: 'an unterminated quote', content: gitmodulesOf('[submodule "a"]\n\turl = "a\n'), expected: ['gitmodulesParse'] },
  { title: 'findings, then a syntax error', content: gitmodulesOf('[submodule "a"]\n\turl = -x\n=\n'), expected: ['gitmodulesUrl', 'gitmodulesParse'] },
  { title: 'a UTF-8 byte-order mark (git on x86-64 never skips it)', content: gitmodulesOf(Buffer.from([0xef, 0xbb, 0xbf]), '[submodule "a"]\n'), expected: ['gitmodulesParse'] },
  { title: 'a 0xff byte (git on x86-64 reads it as the end)', content: gitmodulesOf('[submodule "a"]\n\turl = ./a\n', Buffer.from([0xff]), '\n[submodule "b"]\n\turl = -x\n'), expected: [] },
];

const LONG_LINE = 'a'.repeat(2047);
const gitattributesCases: Case[] = [
  { title: 'a valid .gitattributes', content: Buffer.from('*.bin binary\n*.sh text eol=lf\n'), expected: [] },
  { title: 'a 2047-byte line', content: Buffer.from(`${LONG_LINE}\nx\n`), expected: [] },
  { title: 'a 2048-byte line', content: Buffer.from(`x\n${LONG_LINE}b`), expected: ['gitattributesLineLength'] },
  { title: 'a long line after a NUL', content: Buffer.from(`x\0\n${LONG_LINE}bc\n`), expected: [] },
];

let repo: Repo;
let gitFsck: ReturnType<Repo['fsck']>;
/** The tree that names each .gitmodules / .gitattributes case blob, so that git checks it. */
const carriers = new Map<string, string>();

beforeAll(async () => {
  repo = await Repo.create('sha1');
  repo.write('blob', BLOB_CONTENT);
  repo.write('tree', DIR_CONTENT);
  repo.write('tree', Buffer.alloc(0));
  for (const c of [...commitCases]) repo.write('commit', c.content);
  for (const c of [...tagCases]) repo.write('tag', c.content);
  for (const c of [...treeCases]) repo.write('tree', c.content);
  for (const [cases, name] of [[gitmodulesCases, '.gitmodules'], [gitattributesCases, '.gitattributes']] as const) {
    for (const c of cases) {
      const blob = repo.write('blob', c.content);
      carriers.set(blob, repo.write('tree', tree(['100644', name, blob])));
    }
  }
  gitFsck = repo.fsck();
});

afterAll(removeTempDirs);

describe('FSCK_MESSAGES', () => {
  it('has exactly the message ids git 2.39 accepts as fsck.<msgId>', () => {
    const git = gitRun('.', ['help', '--config']).stdout.toString('utf8');
    const ids = [...git.matchAll(/^fsck\.([A-Za-z0-9]+)$/gm)].map((m) => m[1]!).filter((id) => id !== 'skipList');
    expect(Object.keys(FSCK_MESSAGES).sort()).toEqual(ids.sort());
  });

  it('fails a bundle on FATAL, ERROR and WARN; warns on INFO; drops IGNORE; honours settings', () => {
    expect(failsBundle('nulInHeader')).toBe(true);
    expect(failsBundle('badTimezone')).toBe(true);
    expect(failsBundle('hasDotgit')).toBe(true);
    expect(failsBundle('badFilemode')).toBe(false);
    expect(fsckOutcome('badFilemode')).toBe('warning');
    expect(fsckOutcome('extraHeaderEntry')).toBe('ignored');
    expect(fsckOutcome('extraHeaderEntry', { severity: { extraHeaderEntry: 'error' } })).toBe('error');
    expect(fsckOutcome('hasDot', { severity: { hasDot: 'warn' } })).toBe('warning');
    // As in git, a fatal id cannot be turned down.
    expect(fsckOutcome('nulInHeader', { severity: { nulInHeader: 'ignore' } } as unknown as FsckOptions)).toBe('error');
  });
});

describe.each([
  ['commit', commitCases],
  ['tree', treeCases],
] as const)('%s checks agree with git fsck --strict', (type, cases) => {
  it.each(cases)('$title', ({ content, expected, gitCannotParse }) => {
    const id = objectId('sha1', type, content);
    expect(check('sha1', type, content).ids).toEqual(expected);
    if (gitCannotParse) {
      expect(gitFsck.unparsable).toContain(id);
    } else {
      expect(gitFsck.unparsable).not.toContain(id);
      expect(gitFsck.findings.get(id) ?? []).toEqual(expected);
    }
  });
});

describe('tag checks agree with git mktag and git fsck --strict', () => {
  it.each(tagCases)('$title', ({ content, expected }) => {
    const id = objectId('sha1', 'tag', content);
    expect(check('sha1', 'tag', content).ids).toEqual(expected);
    expect(repo.mktag(content)).toEqual(expected);
    // git fsck gets to the fsck checks only for tags its object parser accepts.
    if (!gitFsck.unparsable.has(id)) expect(gitFsck.findings.get(id) ?? []).toEqual(expected);
  });
});

describe.each([
  ['.gitmodules', gitmodulesCases, checkGitmodules],
  ['.gitattributes', gitattributesCases, checkGitattributes],
] as const)('%s blob checks agree with git fsck --strict', (name, cases, checker) => {
  it.each(cases)('$title', ({ content, expected }) => {
    const id = objectId('sha1', 'blob', content);
    const ids: FsckMessageId[] = [];
    checker(content, id, (msgId) => ids.push(msgId));
    expect(ids).toEqual(expected);
    expect(gitFsck.findings.get(id) ?? []).toEqual(expected);
    // The carrier tree itself is clean, and hands the blob over for checking.
    const carrier = repo.objects.get(carriers.get(id)!)!;
    const checked = check('sha1', 'tree', carrier.content);
    expect(checked.ids).toEqual([]);
    expect(name === '.gitmodules' ? checked.gitmodules : checked.gitattributes).toEqual([id]);
  });
});

describe('a whole repository of broken objects', () => {
  it('gets the same findings, object by object, from argocd-dr as from git fsck', () => {
    const ours = checkRepository(repo);
    for (const id of gitFsck.unparsable) ours.delete(id);
    expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(gitFsck.findings));
  });
});

describe('what the checkers hand to their caller', () => {
  it('reports .gitmodules and .gitattributes entries that are missing or no blob, as fsck_finish does', async () => {
    const r = await Repo.create('sha1');
    const notABlob = r.write('tree', tree(['100644', 'x', BLOB]));
    const alsoNotABlob = r.write('tree', tree(['100644', 'y', BLOB]));
    const missing = 'dead'.repeat(10);
    const missingToo = 'beef'.repeat(10);
    r.write('tree', tree(['100644', '.gitattributes', missing], ['40000', '.gitmodules', notABlob]));
    // Any mode but a symlink counts, a gitlink included.
    r.write('tree', tree(['40000', '.gitattributes', alsoNotABlob], ['160000', '.gitmodules', missingToo]));
    const git = r.fsck();
    expect(Object.fromEntries(git.findings)).toEqual({
      [notABlob]: ['gitmodulesBlob'],
      [missingToo]: ['gitmodulesMissing'],
      [missing]: ['gitattributesMissing'],
      [alsoNotABlob]: ['gitattributesBlob'],
    });
    expect(Object.fromEntries(checkRepository(r))).toEqual(Object.fromEntries(git.findings));
  });

  it('reports blobs too large to load', () => {
    const ids: FsckMessageId[] = [];
    checkGitmodules(null, BLOB, (id) => ids.push(id));
    checkGitattributes(null, BLOB, (id) => ids.push(id));
    checkGitattributes(new Uint8Array(100 * 1024 * 1024 + 1), BLOB, (id) => ids.push(id));
    expect(ids).toEqual(['gitmodulesLarge', 'gitattributesLarge', 'gitattributesLarge']);
  });

  it('names what a real commit, tree and tag point at, and never a gitlink', async () => {
    const r = await Repo.create('sha1');
    const work = r.dir;
    const run = (...args: string[]) => gitSync(args, { cwd: work }).trim();
    gitSync(['update-index', '--add', '--cacheinfo', `160000,${OTHER_COMMIT},sub`], { cwd: work });
    r.write('blob', 'text\n');
    run('update-index', '--add', '--cacheinfo', `100644,${objectId('sha1', 'blob', Buffer.from('text\n'))},dir/file`);
    run('update-index', '--add', '--cacheinfo', `120000,${objectId('sha1', 'blob', Buffer.from('text\n'))},link`);
    const rootTree = run('write-tree');
    const first = run('commit-tree', rootTree, '-m', 'first');
    const second = run('commit-tree', SHA1_EMPTY_TREE, '-m', 'second');
    const merge = run('commit-tree', rootTree, '-p', first, '-p', second, '-m', 'merge');
    run('tag', '-a', '-m', 'annotated', 'v1', merge);
    run('tag', '-a', '-m', 'tag of a tag', 'outer', 'v1');
    const v1 = run('rev-parse', 'v1');
    const outer = run('rev-parse', 'outer');
    const read = (id: string, type: ObjectType) => gitSync(['cat-file', type, id], { cwd: work, env: {} });

    expect(check('sha1', 'commit', Buffer.from(read(merge, 'commit'))).references).toEqual([[2, rootTree], [1, first], [1, second]]);
    expect(check('sha1', 'tag', Buffer.from(read(v1, 'tag'))).references).toEqual([[1, merge]]);
    expect(check('sha1', 'tag', Buffer.from(read(outer, 'tag'))).references).toEqual([[4, v1]]);
    // git ls-tree lists the entries: every one but the gitlink ("commit") is a reference.
    const rootContent = gitRun(work, ['cat-file', 'tree', rootTree]).stdout;
    const listed = run('ls-tree', rootTree).split('\n').map((line) => line.split(/\s+/));
    expect(listed.map((l) => l[1])).toContain('commit');
    const expectedRefs = listed.filter((l) => l[1] !== 'commit').map((l) => [TYPE_CODES[l[1] as ObjectType], l[2]]);
    const checked = check('sha1', 'tree', rootContent);
    expect(checked.ids).toEqual([]);
    expect(checked.references).toEqual(expectedRefs);
    expect(checked.references).toHaveLength(2);
  });
});

describe('a repository made with git porcelain', () => {
  let real: Repo;
  beforeAll(async () => {
    real = await Repo.create('sha1');
    const work = real.dir;
    const write = (text: string) => gitSync(['hash-object', '-w', '--stdin'], { cwd: work, input: text }).trim();
    const add = (mode: string, id: string, path: string) => gitSync(['update-index', '--add', '--cacheinfo', `${mode},${id},${path}`], { cwd: work });
    add('100644', write('# demo\n'), 'README.md');
    add('100644', write('[submodule "lib"]\n\tpath = lib\n\turl = https://example.com/lib.git\n'), '.gitmodules');
    add('100644', write('*.bin binary\n'), '.gitattributes');
    add('160000', OTHER_COMMIT, 'lib');
    for (const name of ['a-b', 'a.b', 'a/x', 'a/y/z', 'a0', 'über.txt', 'deploy/values.yaml', 'deploy/base/kustomization.yaml']) {
      add('100644', write(`${name}\n`), name);
    }
    add('100755', write('#!/bin/sh\n'), 'run.sh');
    add('120000', write('README.md'), 'link');
    const run = (...args: string[]) => gitSync(args, { cwd: work }).trim();
    const first = run('commit-tree', run('write-tree'), '-m', 'first');
    add('100644', write('# demo 2\n'), 'README.md');
    const second = run('commit-tree', run('write-tree'), '-p', first, '-m', 'second\n\nwith a body');
    run('update-ref', 'refs/heads/main', second);
    run('tag', '-a', '-m', 'release', 'v1.0', second);
    run('tag', '-a', '-m', 'of a tag', 'v1.0-outer', 'v1.0');
    run('tag', '-a', '-m', 'of a tree', 'tree-tag', `${second}^{tree}`);
    run('tag', '-a', '-m', 'of a blob', 'blob-tag', `${second}:README.md`);
    // A tree git itself reports only as INFO: mode 100664, as early git wrote.
    const info = real.write('tree', tree(['100664', 'old', write('old\n')]));
    run('update-ref', 'refs/heads/old', run('commit-tree', info, '-p', second, '-m', 'old mode'));
  });

  it('is clean for argocd-dr as for git, but for the INFO finding', () => {
    const git = real.fsck();
    expect(git.unparsable.size).toBe(0);
    const infoTree = [...git.findings.keys()];
    expect([...git.findings.values()]).toEqual([['badFilemode']]);
    const ours = checkRepository(real);
    expect(Object.fromEntries(ours)).toEqual({ [infoTree[0]!]: ['badFilemode'] });
    expect(failsBundle('badFilemode')).toBe(false);
    expect(real.allObjects().length).toBeGreaterThan(25);
  });
});

describe('settings change severity and where git stops, as fsck.<msgId> does', () => {
  const twoFindings = commit(TREE_LINE, author('A <a> x +0000'), 'committer C <c> 1 +01x0');
  const dotted = tree(['100644', '.', BLOB], ['100644', 'a/b', BLOB]);
  const extra = tag(TAG_OBJECT, 'type commit', 'tag v1', 'tagger T <t> 1 +0000', 'extra x');
  const badTaggerAndExtra = tag(TAG_OBJECT, 'type commit', 'tag v1', 'tagger T <t 1 +0000', 'extra x');

  it.each([
    ['a commit stops at its first error, or goes on past a warning', 'commit', twoFindings, ['fsck.badDate=warn'], ['badDate', 'badTimezone']],
    ['an ignored tree finding', 'tree', dotted, ['fsck.hasDot=ignore'], ['fullPathname']],
    ['a tag with an extra header, when that is an error', 'tag', extra, ['fsck.extraHeaderEntry=error'], ['extraHeaderEntry']],
    ['a bad tagger does not stop the extra-header check', 'tag', badTaggerAndExtra, ['fsck.extraHeaderEntry=error'], ['badEmail', 'extraHeaderEntry']],
  ] as const)('%s', async (_title, type, content, config, expected) => {
    const r = await Repo.create('sha1');
    const id = r.write(type, content);
    const severity = Object.fromEntries(config.map((c) => c.slice('fsck.'.length).split('='))) as FsckOptions['severity'];
    expect(check('sha1', type, content, { severity }).ids).toEqual(expected);
    expect(r.fsck(config).findings.get(id) ?? []).toEqual(expected);
    if (type === 'tag') expect(r.mktag(content, config)).toEqual(expected);
  });
});

describe('SHA-256 repositories', () => {
  const EMPTY_TREE = objectId('sha256', 'tree', Buffer.alloc(0));
  const BLOB256 = objectId('sha256', 'blob', BLOB_CONTENT);
  const COMMIT256 = 'ab'.repeat(32);
  const cases: (Case & { type: 'commit' | 'tree' | 'tag' })[] = [
    { type: 'commit', title: 'a clean commit', content: commit(`tree ${EMPTY_TREE}`, `parent ${COMMIT256}`, AUTHOR, COMMITTER), expected: [] },
    { type: 'commit', title: 'a SHA-1 tree id', content: commit(TREE_LINE, AUTHOR, COMMITTER), expected: ['badTreeSha1'], gitCannotParse: true },
    { type: 'tree', title: 'a clean tree', content: tree(['100644', 'a', BLOB256], ['40000', 'd', EMPTY_TREE], ['160000', 's', COMMIT256]), expected: [] },
    { type: 'tree', title: 'the null id', content: tree(['100644', 'a', '0'.repeat(64)]), expected: ['nullSha1'] },
    { type: 'tree', title: 'a SHA-1 sized entry', content: tree(['100644', 'a', BLOB]), expected: ['badTree'] },
    { type: 'tag', title: 'a clean tag', content: tag(`object ${EMPTY_TREE}`, 'type tree', 'tag t', TAGGER), expected: [] },
    { type: 'tag', title: 'a SHA-1 object id', content: tag(`object ${SHA1_EMPTY_TREE}`, 'type tree', 'tag t', TAGGER), expected: ['badObjectSha1'] },
  ];
  let r: Repo;
  let git: ReturnType<Repo['fsck']>;
  beforeAll(async () => {
    r = await Repo.create('sha256');
    r.write('tree', Buffer.alloc(0));
    for (const c of cases) r.write(c.type, c.content);
    git = r.fsck();
  });

  it.each(cases)('$type: $title', ({ type, content, expected, gitCannotParse }) => {
    const id = objectId('sha256', type, content);
    const checked = check('sha256', type, content);
    expect(checked.ids).toEqual(expected);
    if (type === 'tag') expect(r.mktag(content)).toEqual(expected);
    else if (gitCannotParse) expect(git.unparsable).toContain(id);
    else expect(git.findings.get(id) ?? []).toEqual(expected);
    if (expected.length === 0) expect(checked.references.every(([, ref]) => ref.length === 64)).toBe(true);
  });
});

describe('coverage of git\'s message ids', () => {
  // A single object cannot make git 2.39 report these: an empty tree entry name is already a
  // badTree, verify_headers leaves no way to end inside a "type"/"tag" line, and unknownType is
  // about objects of no known type at all. The *Large ids need blobs too big to load (tested above).
  const unreachable: FsckMessageId[] = ['emptyName', 'missingTag', 'missingType', 'unknownType', 'gitmodulesLarge', 'gitattributesLarge'];
  // Shown by the fsck_finish and settings tests above rather than the case tables.
  const elsewhere: FsckMessageId[] = ['gitmodulesMissing', 'gitmodulesBlob', 'gitattributesMissing', 'gitattributesBlob', 'extraHeaderEntry'];

  it('has a git-checked case for every other id', () => {
    const covered = new Set([...commitCases, ...tagCases, ...treeCases, ...gitmodulesCases, ...gitattributesCases].flatMap((c) => c.expected));
    const missing = (Object.keys(FSCK_MESSAGES) as FsckMessageId[]).filter((id) => !covered.has(id) && !unreachable.includes(id) && !elsewhere.includes(id));
    expect(missing).toEqual([]);
    expect(commitCases.length + tagCases.length + treeCases.length + gitmodulesCases.length + gitattributesCases.length).toBeGreaterThan(100);
  });
});

describe('helpers', () => {
  it('checks ref names like git check-ref-format', () => {
    for (const name of ['refs/tags/v1', 'refs/tags/a.b', 'refs/tags/ü', 'refs/tags/a..b', 'refs/tags/a.lock', 'refs/tags/@', 'refs/tags/a@{', 'refs/tags/-x', 'refs/x', 'x', 'refs//x', 'refs/tags/a\x7f']) {
      const git = gitRun('.', ['check-ref-format', name]).status === 0;
      expect([name, isValidRefName(name)]).toEqual([name, git]);
    }
  });

  it('parses git config like git config --blob does', async () => {
    const r = await Repo.create('sha1');
    const text = '[a "B c"]\n\tk = v1 "  x  " ; c\n\tflag\n[a.D]\n\tmulti = x \\\n y\n';
    const blob = r.write('blob', text);
    const entries: string[] = [];
    expect(parseGitConfig(Buffer.from(text), (name, value) => entries.push(`${name}=${value ?? '(bool)'}`))).toBe(true);
    const git = gitSync(['config', '--blob', blob, '--list'], { cwd: r.dir }).trim().split('\n');
    expect(entries).toEqual(git.map((line) => (line.includes('=') ? line : `${line}=(bool)`)));
  });

  it('accepts the submodule urls people use', () => {
    for (const url of ['https://github.com/argoproj/argo-cd.git', 'git@github.com:org/repo.git', 'ssh://git@host:22/x', '../sibling.git', './child', 'file:///srv/x', 'http::https://h/x']) {
      expect([url, isValidSubmoduleUrl(url)]).toEqual([url, true]);
    }
  });
});
