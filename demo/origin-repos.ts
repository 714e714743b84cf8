import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { commitDateEnv, git, removeTempDir, tempDir } from './git.js';

/**
 * Origin repositories for the tests, built with real git. Everything is deterministic: fixed
 * identities and one-minute-apart dates (see commitDateEnv), so object ids are the same on every run.
 */

/** A gitlink target that exists nowhere: submodule commits are never part of the superproject's pack. */
export const SUBMODULE_COMMIT = '0123456789abcdef0123456789abcdef01234567';

/** A scratch work tree for building an origin; commits in it take dates from a running step. */
export class WorkTree {
  private step = 0;

  private constructor(readonly dir: string) {}

  static async create(objectFormat: 'sha1' | 'sha256' = 'sha1'): Promise<WorkTree> {
    const dir = await tempDir('work');
    await git(['init', '-q', '--initial-branch=main', `--object-format=${objectFormat}`, dir]);
    const work = new WorkTree(dir);
    // Nested tags are what we want here; git's hint about them only adds noise.
    await work.git(['config', 'advice.nestedTag', 'false']);
    return work;
  }

  /** Runs git in the work tree with the current fixture date. */
  git(args: string[], input?: string): Promise<string> {
    return git(args, { cwd: this.dir, env: commitDateEnv(this.step), ...(input === undefined ? {} : { input }) });
  }

  async write(file: string, content: string | Buffer, mode?: number): Promise<void> {
    const full = path.join(this.dir, file);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, content);
    if (mode !== undefined) await chmod(full, mode);
  }

  /** Stages everything and commits; returns the new commit id. */
  async commit(message: string, extraArgs: string[] = []): Promise<string> {
    this.step += 1;
    await this.git(['add', '-A']);
    await this.git(['commit', '-q', '-m', message, ...extraArgs]);
    return (await this.git(['rev-parse', 'HEAD'])).trim();
  }

  /** Advances the clock for commands that create objects without commit() (merge, tag). */
  tick(): void {
    this.step += 1;
  }

  /**
   * Copies every ref into a new bare repository at root/relPath, points its HEAD at headRef and
   * removes the work tree.
   */
  async publish(root: string, relPath: string, headRef: string, objectFormat: 'sha1' | 'sha256' = 'sha1'): Promise<string> {
    const bare = path.join(root, relPath);
    await mkdir(path.dirname(bare), { recursive: true });
    await git(['init', '-q', '--bare', `--object-format=${objectFormat}`, bare]);
    await this.git(['push', '-q', '--mirror', bare]);
    await git(['symbolic-ref', 'HEAD', headRef], { cwd: bare });
    await this.dispose();
    return bare;
  }

  dispose(): Promise<void> {
    return removeTempDir(this.dir);
  }
}

/**
 * A repository with most of what a real origin carries:
 * - branches main, master, feature/login, release/1.x/hotfix; HEAD → main (not master);
 * - files in subdirectories, an executable, a symlink, a gitlink (vendor/lib → SUBMODULE_COMMIT);
 * - a merge commit and an empty commit;
 * - tags: lightweight v0.1, annotated v1.0, v1.0-signed-off (annotated tag of the v1.0 tag object),
 *   tree-tag (annotated, points at a tree) and blob-tag (lightweight, points at a blob).
 */
export async function createRichRepo(root: string, relPath: string): Promise<string> {
  const w = await WorkTree.create();
  await w.write('README.md', '# rich\n\nAn origin for tests.\n');
  await w.write('apps/guestbook/deployment.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: guestbook\n');
  await w.write('apps/guestbook/service.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: guestbook\n');
  await w.commit('Initial commit');
  await w.git(['branch', 'master']);
  await w.git(['tag', 'v0.1']);

  await w.write('scripts/deploy.sh', '#!/bin/sh\necho deploying\n', 0o755);
  await symlink('../apps/guestbook/deployment.yaml', path.join(w.dir, 'scripts/current.yaml'));
  await w.commit('Add deploy script and a symlink');

  // A submodule entry: .gitmodules plus a gitlink whose commit lives in another repository.
  await w.write('.gitmodules', '[submodule "vendor/lib"]\n\tpath = vendor/lib\n\turl = https://git.example.com/vendor/lib.git\n');
  await w.git(['add', '.gitmodules']);
  await w.git(['update-index', '--add', '--cacheinfo', `160000,${SUBMODULE_COMMIT},vendor/lib`]);
  // An empty directory is an unpopulated submodule; without it `add -A` would stage a deletion.
  await mkdir(path.join(w.dir, 'vendor/lib'), { recursive: true });
  await w.commit('Add vendor/lib as a submodule');

  w.tick();
  await w.git(['tag', '-a', 'v1.0', '-m', 'Release 1.0']);
  w.tick();
  await w.git(['tag', '-a', 'v1.0-signed-off', 'v1.0', '-m', 'Signed off 1.0']);

  await w.git(['checkout', '-q', '-b', 'feature/login']);
  await w.write('apps/login/config/settings.yaml', 'login:\n  enabled: true\n');
  await w.commit('Add login settings');
  await w.write('apps/login/config/settings.yaml', 'login:\n  enabled: true\n  provider: oidc\n');
  await w.commit('Use OIDC for login');

  await w.git(['checkout', '-q', 'main']);
  await w.write('apps/guestbook/service.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: guestbook\nspec:\n  type: ClusterIP\n');
  await w.commit('Make the guestbook service ClusterIP');
  w.tick();
  await w.git(['merge', '-q', '--no-ff', '-m', 'Merge feature/login', 'feature/login']);
  await w.commit('Empty commit: trigger a sync', ['--allow-empty']);

  await w.git(['checkout', '-q', '-b', 'release/1.x/hotfix', 'v1.0']);
  await w.write('apps/guestbook/deployment.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: guestbook\n  labels:\n    hotfix: "1"\n');
  await w.commit('Hotfix the guestbook labels');
  await w.git(['checkout', '-q', 'main']);

  w.tick();
  const tree = (await w.git(['rev-parse', 'main^{tree}'])).trim();
  await w.git(['tag', '-a', 'tree-tag', tree, '-m', 'A tag of a tree']);
  const blob = (await w.git(['rev-parse', 'main:README.md'])).trim();
  await w.git(['tag', 'blob-tag', blob]);

  return w.publish(root, relPath, 'refs/heads/main');
}

/** `git init --bare` and nothing else: no refs, HEAD → refs/heads/main which does not exist. */
export async function createEmptyRepo(root: string, relPath: string): Promise<string> {
  const bare = path.join(root, relPath);
  await mkdir(path.dirname(bare), { recursive: true });
  await git(['init', '-q', '--bare', '--initial-branch=main', bare]);
  return bare;
}

/** A SHA-256 repository: three commits on main, a branch `dev` and an annotated tag `v1`. */
export async function createSha256Repo(root: string, relPath: string): Promise<string> {
  const w = await WorkTree.create('sha256');
  await w.write('README.md', '# sha256\n');
  await w.commit('Initial commit');
  await w.write('config/app.yaml', 'replicas: 1\n');
  await w.commit('Add config');
  w.tick();
  await w.git(['tag', '-a', 'v1', '-m', 'Version 1']);
  await w.git(['checkout', '-q', '-b', 'dev']);
  await w.write('config/app.yaml', 'replicas: 2\n');
  await w.commit('Scale up on dev');
  await w.git(['checkout', '-q', 'main']);
  await w.write('config/app.yaml', 'replicas: 3\n');
  await w.commit('Scale up on main');
  return w.publish(root, relPath, 'refs/heads/main', 'sha256');
}

/**
 * A bare repository that is itself shallow (cloned with --depth 1 from a 3-commit history): upload-pack
 * advertises `shallow <oid>` lines in v0 and sends a `shallow-info` section in v2.
 */
export async function createShallowRepo(root: string, relPath: string): Promise<string> {
  const w = await WorkTree.create();
  for (let i = 1; i <= 3; i++) {
    await w.write('history.txt', `line ${i}\n`);
    await w.commit(`Commit ${i}`);
  }
  await w.git(['branch', 'other', 'HEAD~1']);
  const bare = path.join(root, relPath);
  await mkdir(path.dirname(bare), { recursive: true });
  await git(['clone', '-q', '--bare', '--depth', '1', '--no-single-branch', `file://${w.dir}`, bare]);
  await w.dispose();
  return bare;
}

/**
 * A repository whose upload-pack fails part-way: its objects are loose and the blob data/broken.bin
 * is deleted ('missing') or cut short after its header ('corrupt'). Either way pack-objects only
 * notices when it comes to write that blob, after about 500 KiB of pack bytes (data/a.bin) went out;
 * its "fatal: ..." arrives on side-band 2 and upload-pack then sends, on band 3,
 * "aborting due to possible repository corruption on the remote side." (with a trailing NUL) and
 * ends the response without a flush packet.
 */
export async function createBrokenRepo(root: string, relPath: string, mode: 'missing' | 'corrupt' = 'missing'): Promise<string> {
  const w = await WorkTree.create();
  // Incompressible, deterministic content: enough pack bytes go out before the broken blob does.
  await w.write('data/a.bin', pseudoRandom('a', 512 * 1024));
  await w.write('docs/readme.txt', 'readme\n');
  await w.commit('Add data');
  await w.write('data/broken.bin', pseudoRandom('broken', 256 * 1024));
  await w.commit('Add the blob that will break');
  const broken = (await w.git(['rev-parse', 'HEAD:data/broken.bin'])).trim();

  const bare = path.join(root, relPath);
  await mkdir(path.dirname(bare), { recursive: true });
  await git(['init', '-q', '--bare', '--initial-branch=main', bare]);
  // Few objects arrive in a push, so receive-pack unpacks them as loose files (receive.unpackLimit).
  await w.git(['push', '-q', bare, 'main']);
  const objectFile = path.join(bare, 'objects', broken.slice(0, 2), broken.slice(2));
  await stat(objectFile);
  if (mode === 'missing') await rm(objectFile, { force: true });
  else await truncate(objectFile, 64);
  await w.dispose();
  return bare;
}

/** Deterministic incompressible bytes. */
function pseudoRandom(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * Rewrites a branch of a bare origin to a new root commit unrelated to its history (what a force push
 * of a rewritten history does); returns the new commit id. The old commits stay in the object store
 * until gc, as on a real server.
 */
export async function forcePushBranch(repoDir: string, branch: string, message = 'Rewritten history'): Promise<string> {
  const env = commitDateEnv(10_000);
  const blob = (await git(['hash-object', '-w', '--stdin'], { cwd: repoDir, input: `${message}\n` })).trim();
  const tree = (await git(['mktree'], { cwd: repoDir, input: `100644 blob ${blob}\tREADME.md\n` })).trim();
  const commit = (await git(['commit-tree', tree, '-m', message], { cwd: repoDir, env })).trim();
  await git(['update-ref', `refs/heads/${branch}`, commit], { cwd: repoDir });
  return commit;
}

/** Adds a commit on top of a branch of a bare origin (an ordinary push); returns the new commit id. */
export async function pushCommit(repoDir: string, branch: string, file: string, content: string, step = 20_000): Promise<string> {
  const env = commitDateEnv(step);
  const ref = `refs/heads/${branch}`;
  const parent = (await git(['rev-parse', '--verify', ref], { cwd: repoDir })).trim();
  // A throwaway index lets a bare repository build the next tree without a work tree.
  const indexDir = await tempDir('index');
  const indexEnv = { ...env, GIT_INDEX_FILE: path.join(indexDir, 'index') };
  await git(['read-tree', parent], { cwd: repoDir, env: indexEnv });
  const blob = (await git(['hash-object', '-w', '--stdin'], { cwd: repoDir, input: content })).trim();
  await git(['update-index', '--add', '--cacheinfo', `100644,${blob},${file}`], { cwd: repoDir, env: indexEnv });
  const tree = (await git(['write-tree'], { cwd: repoDir, env: indexEnv })).trim();
  await removeTempDir(indexDir);
  const commit = (await git(['commit-tree', tree, '-p', parent, '-m', `Update ${file}`], { cwd: repoDir, env })).trim();
  await git(['update-ref', ref, commit, parent], { cwd: repoDir });
  return commit;
}

/**
 * Adds count lightweight tags refs/tags/<prefix><i> on target (many refs make big ref
 * advertisements and want lists: gzip-encoded or chunked requests). They go straight into
 * packed-refs: `update-ref` writes one loose file per ref, which takes seconds for thousands.
 */
export async function addTags(repoDir: string, count: number, target = 'HEAD', prefix = 'bulk-'): Promise<void> {
  const oid = (await git(['rev-parse', '--verify', `${target}^{commit}`], { cwd: repoDir })).trim();
  await git(['pack-refs', '--all'], { cwd: repoDir });
  const file = path.join(repoDir, 'packed-refs');
  const existing = (await readFile(file, 'utf8')).split('\n');
  const header = existing[0]?.startsWith('#') ? existing.shift() : undefined;
  // Records are "<oid> <ref>" lines, each optionally followed by its "^<peeled>" line.
  const records: { ref: string; text: string }[] = [];
  for (const line of existing) {
    if (line === '') continue;
    const last = records.at(-1);
    if (line.startsWith('^') && last) last.text += `\n${line}`;
    else records.push({ ref: line.slice(line.indexOf(' ') + 1), text: line });
  }
  const taken = new Set(records.map((r) => r.ref));
  for (let i = 0; i < count; i++) {
    const ref = `refs/tags/${prefix}${i}`;
    if (taken.has(ref)) throw new Error(`addTags: ${ref} already exists`);
    records.push({ ref, text: `${oid} ${ref}` });
  }
  // The "sorted" trait promises byte order of refnames; git reads the file with a binary search.
  records.sort((a, b) => Buffer.compare(Buffer.from(a.ref), Buffer.from(b.ref)));
  const head = header ?? '# pack-refs with: peeled fully-peeled sorted ';
  await writeFile(file, `${[head, ...records.map((r) => r.text)].join('\n')}\n`);
}

/** Deletes a tag from a bare origin. */
export async function deleteTag(repoDir: string, tag: string): Promise<void> {
  await git(['update-ref', '-d', `refs/tags/${tag}`], { cwd: repoDir });
}
