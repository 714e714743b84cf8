import { Readable } from 'node:stream';
import pLimit from 'p-limit';
import { redactSecrets } from '../shared/redact.js';
import { DEFAULT_IDLE_TIMEOUT_MS, USER_AGENT } from '../git/mirror.js';
import { credentialSecrets, type GitConnectionContext, type GitCredentials } from '../git/credentials.js';
import { describeRefDifference, discoverPushRefs, pushRefsToEmptyRemote, type PushOutcome } from '../git/receive-pack.js';
import { discoverRefs } from '../git/ref-advertisement.js';
import { parseRepoUrl, redactUserInfo, RepoUrlError, type RepoUrl } from '../git/repo-url.js';
import { parseSidecar, type RepoSidecar } from '../git/sidecar.js';
import { openHttpConnection, type SmartHttpOptions } from '../git/smart-http.js';
import type { Finding } from '../git/verify/findings.js';
import { splitBundleStream } from '../git/verify/bundle-file.js';
import type { Store } from '../store/store.js';

/**
 * Restores the store's bundles into a new Git host: each bundle's refs are pushed into an empty
 * repository at a URL made from a template, then the new repository's refs are listed and
 * compared with the bundle's. One repository failing never stops the others.
 */

/** `planned`: a dry run read the repository from the store and sent nothing. */
export type RestoreGitStatus = 'restored' | 'already-restored' | 'empty' | 'planned' | 'failed';

export interface RestoreGitResult {
  /** The original repository URL, as mirror recorded it. */
  url: string;
  /** The new repository URL, without credentials. */
  target: string;
  status: RestoreGitStatus;
  /** Store key of the bundle. */
  bundle?: string;
  /** Refs the new repository holds (HEAD not counted). */
  refs?: number;
  /** The branch HEAD pointed at in the original (e.g. refs/heads/main), when known. */
  head?: string | null;
  /** What the user has to do about HEAD, which a push cannot set. */
  headNote?: string;
  seconds: number;
  error?: string;
}

export interface RestoreGitReport {
  repos: RestoreGitResult[];
  /** `OLD=NEW` values for `argocd-dr restore --map-repo`, for every repository not failed. */
  mapRepo: string[];
}

export interface RestoreGitOptions {
  store: Store;
  /** Target URL template; `{path}` is the repository path without `.git`, `{host}` the original host. */
  to: string;
  /** Only these repositories: original URLs, or store keys (`git/<host>/<path>[.bundle|.json]`). */
  only?: readonly string[];
  /** For every target URL that carries no credentials of its own (basic auth, bearer token, client certificate, proxy...). */
  credentials?: GitCredentials;
  /** Extra CAs per host name, as argocd-tls-certs-cm keys them: for a new host whose certificate a private CA signed. */
  context?: GitConnectionContext;
  idleTimeoutMs?: number;
  concurrency?: number;
  /**
   * Read the store and work out every new URL and the --map-repo values, but contact no Git host:
   * so that `argocd-dr restore` can point Argo CD at the new repositories before they are pushed.
   */
  dryRun?: boolean;
  /** Called as each repository finishes. */
  onResult?: (result: RestoreGitResult) => void;
}

/** A template or selection that cannot work: nothing was attempted. */
export class RestoreGitUsageError extends Error {}

const PLACEHOLDERS = ['{path}', '{host}'] as const;

/** One repository of the store, named by its sidecar's key: `git/<host>/<path>.json`. */
interface StoredRepo {
  sidecarKey: string;
  host: string;
  path: string;
}

export async function restoreGit(options: RestoreGitOptions): Promise<RestoreGitReport> {
  checkTemplate(options.to);
  const stored = await listStoredRepos(options.store);
  const selected = selectRepos(stored, options.only ?? [], options.store.location);
  const targets = new Map<StoredRepo, string>();
  const seen = new Map<string, StoredRepo>();
  for (const repo of selected) {
    const target = parseRepoUrl(targetUrl(options.to, repo));
    const key = `${target.host}/${target.path}`;
    const clash = seen.get(key);
    if (clash) {
      throw new RestoreGitUsageError(`--to ${redactUserInfo(options.to)} sends both ${clash.host}/${clash.path} and ${repo.host}/${repo.path} to ${target.display}; use {host} and {path} so that every repository gets its own URL`);
    }
    seen.set(key, repo);
    targets.set(repo, targetUrl(options.to, repo));
  }
  const limit = pLimit(options.concurrency ?? 4);
  const repos = await Promise.all(selected.map((repo) => limit(async () => {
    const result = await restoreRepo(repo, targets.get(repo)!, options);
    options.onResult?.(result);
    return result;
  })));
  const mapRepo = repos.filter((result) => result.status !== 'failed').map((result) => `${result.url}=${result.target}`);
  return { repos, mapRepo };
}

/** Checks a --to template before anything runs: http(s), known placeholders, a usable URL. */
export function checkTemplate(template: string): void {
  const unknown = (template.match(/\{[^}]*\}/g) ?? []).filter((token) => !(PLACEHOLDERS as readonly string[]).includes(token));
  if (unknown.length > 0) {
    throw new RestoreGitUsageError(`--to ${redactUserInfo(template)}: unknown placeholder ${unknown[0]}; use {path} (the repository path without .git) and {host} (the original host)`);
  }
  try {
    const sample = parseRepoUrl(targetUrl(template, { host: 'example.com', path: 'org/repo' }));
    if (sample.ssh) {
      throw new RestoreGitUsageError(`--to ${redactUserInfo(template)}: restore-git pushes over HTTPS only; give the new host's https:// URL template, e.g. https://git.dr.example/{path}.git`);
    }
  } catch (error) {
    if (error instanceof RepoUrlError) throw new RestoreGitUsageError(`--to: ${error.message}; e.g. https://git.dr.example/{path}.git`);
    throw error;
  }
}

/** The new repository's URL: `{path}` → e.g. org/repo (no .git), `{host}` → e.g. github.com. */
export function targetUrl(template: string, repo: { host: string; path: string }): string {
  return template.replaceAll('{path}', repo.path).replaceAll('{host}', repo.host);
}

async function listStoredRepos(store: Store): Promise<StoredRepo[]> {
  const keys = new Set<string>();
  for await (const key of store.list('git/')) keys.add(key);
  const repos: StoredRepo[] = [];
  for (const key of keys) {
    // A bundle without its sidecar still counts: its restore fails and says why.
    const sidecarKey = key.endsWith('.json') ? key : key.endsWith('.bundle') ? `${key.slice(0, -'.bundle'.length)}.json` : undefined;
    if (!sidecarKey || (key.endsWith('.bundle') && keys.has(sidecarKey))) continue;
    const [, host, ...path] = sidecarKey.slice(0, -'.json'.length).split('/');
    if (!host || path.length === 0) continue;
    repos.push({ sidecarKey, host, path: path.join('/') });
  }
  return repos.sort((a, b) => (a.sidecarKey < b.sidecarKey ? -1 : a.sidecarKey > b.sidecarKey ? 1 : 0));
}

function selectRepos(stored: StoredRepo[], only: readonly string[], location: string): StoredRepo[] {
  if (only.length === 0) {
    if (stored.length === 0) throw new RestoreGitUsageError(`${location} holds no mirrored repositories (nothing under git/); check --store`);
    return stored;
  }
  const byKey = new Map(stored.map((repo) => [repo.sidecarKey, repo]));
  const picked = new Set<StoredRepo>();
  for (const value of only) {
    const repo = byKey.get(sidecarKeyOf(value));
    if (!repo) {
      const known = stored.slice(0, 5).map((r) => `${r.host}/${r.path}`).join(', ');
      throw new RestoreGitUsageError(`--only ${redactUserInfo(value)} matches no repository in ${location}${known ? ` (it holds ${known}${stored.length > 5 ? ', …' : ''})` : ''}; give an original repository URL or a store key such as git/<host>/<path>.bundle`);
    }
    picked.add(repo);
  }
  return stored.filter((repo) => picked.has(repo));
}

function sidecarKeyOf(value: string): string {
  if (value.startsWith('git/')) return `${value.replace(/\.(bundle|json)$/, '')}.json`;
  try {
    const repo = parseRepoUrl(value);
    return `git/${repo.host}/${repo.path}.json`;
  } catch {
    return value;
  }
}

async function restoreRepo(stored: StoredRepo, target: string, options: RestoreGitOptions): Promise<RestoreGitResult> {
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 10) / 100;
  const targetRepo = parseRepoUrl(target);
  const credentials = targetRepo.credentials ?? options.credentials;
  const base = { url: `https://${stored.host}/${stored.path}`, target: targetRepo.display };
  let sidecar: RepoSidecar | undefined;
  try {
    sidecar = parseSidecar(await options.store.getText(stored.sidecarKey));
    if (!sidecar) {
      throw new Error(`${stored.sidecarKey} is missing or unreadable in ${options.store.location}, so the repository's URL and HEAD are unknown; run argocd-dr mirror for it again`);
    }
    base.url = sidecar.url;
    if (options.dryRun) {
      const refs = Object.keys(sidecar.refs).filter((name) => name !== 'HEAD').length;
      return { ...base, status: 'planned', ...(sidecar.bundle ? { bundle: sidecar.bundle } : {}), refs, head: sidecar.head, seconds: seconds() };
    }
    const http: SmartHttpOptions = {
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      userAgent: USER_AGENT,
      ...(credentials ? { credentials } : {}),
      ...(options.context ? { context: options.context } : {}),
    };
    if (sidecar.status === 'empty') return { ...base, ...(await restoreEmpty(targetRepo, http)), head: sidecar.head, seconds: seconds() };

    const bundleKey = sidecar.bundle ?? `${stored.sidecarKey.slice(0, -'.json'.length)}.bundle`;
    const bundle = await openStoredBundle(options.store, bundleKey);
    let outcome: PushOutcome;
    try {
      outcome = await pushRefsToEmptyRemote(targetRepo, {
        refs: bundle.refs,
        objectFormat: bundle.objectFormat,
        openPack: async () => ({ stream: bundle.pack, bytes: bundle.packBytes }),
      }, http);
    } finally {
      bundle.pack.destroy();
    }

    // Read back as a clone would (upload-pack), not from the push's own report.
    const listed = await discoverRefs(openHttpConnection(targetRepo, http), ['HEAD', 'refs/*']);
    const remoteRefs = new Map([...listed.refs].filter(([name]) => name !== 'HEAD'));
    const difference = describeRefDifference(bundle.refs, remoteRefs);
    if (difference) {
      throw new Error(`after the push the new repository's refs differ from the bundle's (${difference}); something else is writing to it, or the host rewrites refs — check it, empty it and run restore-git again`);
    }
    const headNote = describeHead(sidecar.head, listed.headTarget, bundle.detachedHead);
    return {
      ...base,
      status: outcome === 'pushed' ? 'restored' : 'already-restored',
      bundle: bundleKey,
      refs: remoteRefs.size,
      head: sidecar.head,
      ...(headNote ? { headNote } : {}),
      seconds: seconds(),
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const text = message.startsWith(base.target) ? message.slice(base.target.length).replace(/^: /, '') : message;
    return {
      ...base,
      status: 'failed',
      ...(sidecar ? { head: sidecar.head } : {}),
      seconds: seconds(),
      error: redactSecrets(redactUserInfo(`${base.target}: ${advice(error, text)}`), credentialSecrets(credentials)),
    };
  }
}

/** A 404 when pushing means the repository was not created: restore-git does not create repositories. */
function advice(error: unknown, text: string): string {
  const status = (error as { status?: number }).status;
  if (status === 404) return `${text}; restore-git does not create repositories: create an empty one there first`;
  return text;
}

/** An originally empty repository: nothing to push, but the new one must exist and be empty too. */
async function restoreEmpty(target: RepoUrl, http: SmartHttpOptions): Promise<{ status: 'empty'; refs: 0 }> {
  const advertisement = await discoverPushRefs(target, http);
  const refs = [...advertisement.refs.keys()].filter((name) => name !== 'HEAD');
  if (refs.length > 0) {
    throw new Error(`the original repository was empty but this one has ${refs.length} refs (${refs.slice(0, 5).join(', ')}); point --to at an empty repository`);
  }
  return { status: 'empty', refs: 0 };
}

function describeHead(original: string | null, remote: string | undefined, detached: string | undefined): string | undefined {
  if (!original) {
    return detached ? `HEAD was detached at ${detached} in the original; the new repository's default branch is up to you` : undefined;
  }
  if (remote === original) return undefined;
  const branch = original.replace(/^refs\/heads\//, '');
  return `the original's default branch is ${branch} but the new repository's HEAD ${remote ? `points at ${remote.replace(/^refs\/heads\//, '')}` : 'is unset'}; `
    + `a push cannot set HEAD: set the default branch to ${branch} in the Git host's repository settings (or git symbolic-ref HEAD ${original} on the server)`;
}

interface StoredBundle {
  /** The bundle's refs without HEAD: what a push creates. */
  refs: Map<string, string>;
  objectFormat: RepoSidecar['objectFormat'];
  /** The id of the bundle's HEAD line, kept to report a detached HEAD. */
  detachedHead?: string;
  pack: Readable;
  packBytes: number;
}

/** Reads a stored bundle's header and leaves its pack as a paused stream, unread until a push needs it. */
async function openStoredBundle(store: Store, key: string): Promise<StoredBundle> {
  const size = (await store.head(key))?.size;
  const body = size === undefined ? undefined : await store.get(key);
  if (size === undefined || !body) {
    throw new Error(`the bundle ${key} is not in ${store.location} although its sidecar says it was mirrored; run argocd-dr mirror for the repository again`);
  }
  const problems: Finding[] = [];
  const { header, pack } = await splitBundleStream(body as AsyncIterable<Buffer>, problems);
  if (!header || problems.length > 0) {
    body.destroy();
    const first = problems[0]?.message ?? 'no pack found';
    throw new Error(`the bundle ${key} is damaged (${first}); run argocd-dr verify on the store, and mirror the repository again`);
  }
  const packStream = Readable.from(pack, { objectMode: false });
  packStream.once('close', () => body.destroy());
  const refs = new Map(header.refs.filter((ref) => ref.name !== 'HEAD').map((ref) => [ref.name, ref.id]));
  const head = header.refs.find((ref) => ref.name === 'HEAD')?.id;
  return { refs, objectFormat: header.objectFormat, ...(head ? { detachedHead: head } : {}), pack: packStream, packBytes: size - header.packOffset };
}
