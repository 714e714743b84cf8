import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Options for one git invocation. */
export interface GitOptions {
  cwd?: string;
  /** Written to git's stdin, which is then closed. */
  input?: string | Buffer;
  /** Added on top of the deterministic base environment (see gitEnv). */
  env?: Record<string, string>;
}

/** Seconds since the epoch that every fixture commit date starts from (2023-11-14T22:13:20Z). */
export const BASE_EPOCH = 1_700_000_000;

/**
 * Date variables for the step-th commit: one minute apart, so fixtures are byte-for-byte the same on
 * every run while commits still sort in the order they were made.
 */
export function commitDateEnv(step: number): Record<string, string> {
  const date = `${BASE_EPOCH + step * 60} +0000`;
  return { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
}

/**
 * The environment every git child runs with: the caller's PATH and locale-free basics, none of the
 * caller's GIT_* variables (a test started from a hook would otherwise inherit GIT_DIR), no system
 * or user config, no prompts, fixed identities and dates.
 */
export function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.startsWith('GIT_') || key === 'SSH_ASKPASS') continue;
    env[key] = value;
  }
  return {
    ...env,
    LC_ALL: 'C',
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Fixture Author',
    GIT_AUTHOR_EMAIL: 'author@example.com',
    GIT_COMMITTER_NAME: 'Fixture Committer',
    GIT_COMMITTER_EMAIL: 'committer@example.com',
    ...commitDateEnv(0),
    ...extra,
  };
}

// Packs of big fixture repos come back through stdout; 1 GiB keeps execFile-style limits out of the way.
const MAX_BUFFER = 1024 * 1024 * 1024;

/** Error from a git run that exited non-zero; the message carries git's stderr. */
export class GitError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
    readonly stdout: Buffer,
  ) {
    super(`git ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`);
    this.name = 'GitError';
  }
}

/** Runs git and resolves with its stdout as raw bytes. */
export function gitBuffer(args: string[], opts: GitOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: opts.cwd,
      env: gitEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > MAX_BUFFER) child.kill('SIGKILL');
      else out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    // git may exit before reading all of stdin (e.g. on a usage error); that is not our failure.
    child.stdin.on('error', () => undefined);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out);
      if (code === 0) resolve(stdout);
      else reject(new GitError(args, code, signal, Buffer.concat(err).toString('utf8'), stdout));
    });
    child.stdin.end(opts.input);
  });
}

/** Runs git and resolves with its stdout as UTF-8 text (not trimmed). */
export async function git(args: string[], opts: GitOptions = {}): Promise<string> {
  return (await gitBuffer(args, opts)).toString('utf8');
}

/** Synchronous git for setup code that cannot await; throws with stderr in the message. */
export function gitSync(args: string[], opts: GitOptions = {}): string {
  try {
    return execFileSync('git', args, {
      cwd: opts.cwd,
      env: gitEnv(opts.env),
      input: opts.input,
      maxBuffer: MAX_BUFFER,
      stdio: ['pipe', 'pipe', 'pipe'],
    }).toString('utf8');
  } catch (error) {
    const e = error as { status?: number | null; signal?: NodeJS.Signals | null; stderr?: Buffer; stdout?: Buffer };
    throw new GitError(args, e.status ?? null, e.signal ?? null, e.stderr?.toString('utf8') ?? String(error), e.stdout ?? Buffer.alloc(0));
  }
}

/** Every ref of the repository (not HEAD): refname → object id it points at (tag objects unpeeled). */
export async function gitRefs(repoDir: string): Promise<Map<string, string>> {
  const out = await git(['for-each-ref', '--format=%(objectname) %(refname)'], { cwd: repoDir });
  const refs = new Map<string, string>();
  for (const line of out.split('\n')) {
    if (line === '') continue;
    const space = line.indexOf(' ');
    refs.set(line.slice(space + 1), line.slice(0, space));
  }
  return refs;
}

/** The ref HEAD points at (e.g. refs/heads/main), or undefined when HEAD is detached. */
export async function gitHead(repoDir: string): Promise<string | undefined> {
  try {
    return (await git(['symbolic-ref', '-q', 'HEAD'], { cwd: repoDir })).trim();
  } catch {
    return undefined;
  }
}

/** Ids of every object reachable from any ref or HEAD (commits, trees, blobs, tags; not gitlink targets). */
export async function reachableObjects(repoDir: string): Promise<Set<string>> {
  const out = await git(['rev-list', '--objects', '--all'], { cwd: repoDir });
  const ids = new Set<string>();
  for (const line of out.split('\n')) {
    if (line === '') continue;
    const space = line.indexOf(' ');
    ids.add(space < 0 ? line : line.slice(0, space));
  }
  return ids;
}

const tempDirs = new Set<string>();

/** A new empty directory under the OS temp dir (symlinks resolved), removed by removeTempDirs(). */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), `argocd-dr-${prefix}-`)));
  tempDirs.add(dir);
  return dir;
}

/** Removes one directory made by tempDir() now, rather than at removeTempDirs(). */
export async function removeTempDir(dir: string): Promise<void> {
  tempDirs.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

/** Removes every directory tempDir() made so far (call it from afterAll). */
export async function removeTempDirs(): Promise<void> {
  const dirs = [...tempDirs];
  tempDirs.clear();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}
