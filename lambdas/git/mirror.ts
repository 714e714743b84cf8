import { Readable } from 'node:stream';
import pLimit from 'p-limit';
import type { PutResult, Store } from '../store/store.js';
import { redactSecrets } from '../shared/redact.js';
import { TOOL_NAME } from '../shared/version.js';
import { bundleHeader } from './bundle-header.js';
import { PackChecker, PackError, type PackSummary } from './pack-checker.js';
import { DEFAULT_REF_PATTERNS, discoverRefs, selectRefs, type RefAdvertisement } from './ref-advertisement.js';
import { credentialSecrets, type GitConnectionContext, type GitCredentials } from './credentials.js';
import { parseRepoUrl, redactUserInfo, repoStoreKeys, type RepoUrl } from './repo-url.js';
import { parseSidecar, sameRefs, type RepoSidecar } from './sidecar.js';
import { openHttpConnection } from './smart-http.js';
import type { UploadPackConnection } from './transport.js';
import { fetchPack } from './upload-pack.js';

export type MirrorStatus = 'mirrored' | 'unchanged' | 'empty' | 'failed' | 'changed';

/** One repository's outcome, as the CLI prints it and run reports record it. */
export interface MirrorResult {
  url: string;
  status: MirrorStatus;
  /** Store key of the bundle. */
  bundle?: string;
  refs?: number;
  bytes?: number;
  seconds?: number;
  error?: string;
}

export interface MirrorProgress {
  url: string;
  phase: 'listing' | 'fetching' | 'done';
  /** Pack bytes received so far. */
  bytes: number;
  result?: MirrorResult;
}

export interface MirrorOptions {
  store: Store;
  /** Patterns added to HEAD, refs/heads/* and refs/tags/* (e.g. refs/notes/*). */
  extraRefPatterns?: readonly string[];
  /** Used for every repo whose URL carries no credentials of its own. */
  credentials?: GitCredentials;
  /** Known SSH hosts and extra CAs per host (from argocd-ssh-known-hosts-cm and argocd-tls-certs-cm). */
  context?: GitConnectionContext;
  /** A server silent for this long fails the repo. */
  idleTimeoutMs?: number;
  onProgress?: (progress: MirrorProgress) => void;
  /** Stop after the ref listing: a repo that would be fetched is reported `changed` (a backup run's plan step). */
  listOnly?: boolean;
}

// No spaces: the agent capability's value may not contain any.
export const USER_AGENT = `git/2.39-${TOOL_NAME.replace(' ', '/')}`;
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

/** Mirrors many repositories, at most `concurrency` at a time; one failing never stops the others. */
export async function mirrorRepos(urls: readonly string[], options: MirrorOptions & { concurrency: number }): Promise<MirrorResult[]> {
  const limit = pLimit(options.concurrency);
  return Promise.all(urls.map((url) => limit(() => mirrorRepo(url, options))));
}

/**
 * A URL's `user:password@` are credentials of their own; a user name alone (`https://myorg@dev.azure.com/…`) names
 * who to be, and replaces nothing of the given credentials: it only fills in a user name they lack.
 */
function urlCredentials(repo: RepoUrl, given: GitCredentials | undefined): GitCredentials | undefined {
  if (!repo.credentials) return given;
  if (repo.credentials.password !== '' || !given) return repo.credentials;
  return given.username ? given : { ...given, username: repo.credentials.username };
}

/**
 * Mirrors one repository into `git/<host>/<path>.bundle` and its sidecar. The bundle is streamed
 * from the server's pack and only replaces the previous one once the pack proved complete.
 */
export async function mirrorRepo(url: string, options: MirrorOptions): Promise<MirrorResult> {
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 10) / 100;
  let repo: RepoUrl | undefined;
  let credentials = options.credentials;
  let connection: UploadPackConnection | undefined;
  const report = (result: MirrorResult): MirrorResult => {
    options.onProgress?.({ url: result.url, phase: 'done', bytes: result.bytes ?? 0, result });
    return result;
  };
  try {
    repo = parseRepoUrl(url);
    credentials = urlCredentials(repo, options.credentials);
    const transport = {
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      userAgent: USER_AGENT,
      ...(credentials ? { credentials } : {}),
      ...(options.context ? { context: options.context } : {}),
    };
    // ssh2 is loaded only for SSH repositories: it costs ~40 ms and several MB that HTTPS-only runs never need.
    connection = repo.ssh ? (await import('./ssh-transport.js')).openSshConnection(repo, transport) : openHttpConnection(repo, transport);
    const keys = repoStoreKeys(repo);
    const patterns = [...DEFAULT_REF_PATTERNS, ...(options.extraRefPatterns ?? [])];
    options.onProgress?.({ url: repo.display, phase: 'listing', bytes: 0 });

    const advertisement = await discoverRefs(connection, patterns);
    if (advertisement.shallow) {
      throw new PackError('the server repository is shallow, so a bundle of it would be missing history; mirror from a complete copy');
    }
    const refs = selectRefs(advertisement.refs, patterns);
    const head = advertisement.headTarget ?? null;
    const previous = parseSidecar(await options.store.getText(keys.sidecar));
    const recorded = {
      schema: 1, url: repo.display, objectFormat: advertisement.objectFormat, head, protocol: advertisement.protocol, tool: TOOL_NAME,
    } as const;

    if (refs.size === 0 && previous?.status === 'mirrored') {
      // A repo that had refs and now shows none is more likely a glitch than an emptying: keep the backup.
      throw new PackError(`the server now advertises no refs, but the last backup holds ${Object.keys(previous.refs).length}; the backup is kept — if the repository was emptied on purpose, delete ${keys.sidecar} and ${keys.bundle} from the store`);
    }
    if (refs.size === 0) {
      // git cannot bundle an empty repository: record the state instead of a 0-byte bundle.
      if (previous?.status !== 'empty' || !sameRefs(previous, refs, head, advertisement.objectFormat)) {
        await putSidecar(options.store, keys.sidecar, { ...recorded, status: 'empty', refs: {}, seconds: seconds(), mirroredAt: new Date().toISOString() });
      }
      return report({ url: repo.display, status: 'empty', refs: 0, seconds: seconds() });
    }

    if (previous?.status === 'mirrored' && previous.bundle === keys.bundle
      && sameRefs(previous, refs, head, advertisement.objectFormat)
      && (await options.store.head(keys.bundle)) !== undefined) {
      return report({ url: repo.display, status: 'unchanged', bundle: keys.bundle, refs: refs.size, seconds: seconds() });
    }
    if (options.listOnly) return report({ url: repo.display, status: 'changed', bundle: keys.bundle, refs: refs.size, seconds: seconds() });

    const onBytes = (bytes: number) => options.onProgress?.({ url: recorded.url, phase: 'fetching', bytes });
    const { written, pack } = await streamBundle(connection, advertisement, refs, keys.bundle, options.store, onBytes);
    const sidecar: RepoSidecar = {
      ...recorded,
      status: 'mirrored',
      refs: Object.fromEntries([...refs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      bundle: keys.bundle,
      bundleSha256: written.sha256,
      bundleBytes: written.bytes,
      packChecksum: pack.checksum,
      objects: pack.objects,
      seconds: seconds(),
      mirroredAt: new Date().toISOString(),
    };
    await putSidecar(options.store, keys.sidecar, sidecar);
    return report({ url: repo.display, status: 'mirrored', bundle: keys.bundle, refs: refs.size, bytes: written.bytes, seconds: sidecar.seconds });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const where = repo?.display ?? redactUserInfo(url);
    const text = message.startsWith(where) ? message : `${where}: ${message}`;
    return report({
      url: where,
      status: 'failed',
      seconds: seconds(),
      error: redactSecrets(redactUserInfo(text), credentialSecrets(credentials)),
    });
  } finally {
    await connection?.close();
  }
}

/**
 * Fetches the pack of every ref tip and writes `bundle header + pack` to the store as it arrives.
 * The pack's checks run before the stream ends, so a short or corrupt pack errors the body and
 * the store keeps what it had.
 */
async function streamBundle(
  connection: UploadPackConnection,
  advertisement: RefAdvertisement,
  refs: ReadonlyMap<string, string>,
  key: string,
  store: Store,
  onBytes: (bytes: number) => void,
): Promise<{ written: PutResult; pack: PackSummary }> {
  const wants = [...new Set(refs.values())];
  const checker = new PackChecker(advertisement.objectFormat);
  let pack: PackSummary | undefined;
  async function* bundleBytes(): AsyncGenerator<Buffer> {
    yield bundleHeader(refs, advertisement.objectFormat);
    for await (const chunk of fetchPack(connection, advertisement, wants)) {
      checker.update(chunk);
      onBytes(checker.bytes);
      yield chunk;
    }
    const checked = checker.finish();
    if (checked.objects < wants.length) {
      throw new PackError(`the pack holds ${checked.objects} objects but ${wants.length} distinct ref tips were asked for`);
    }
    pack = checked;
  }
  const written = await store.put(key, Readable.from(bundleBytes(), { objectMode: false }), { contentType: 'application/x-git-bundle' });
  if (!pack) throw new PackError('the bundle was stored before its pack was checked');
  return { written, pack };
}

async function putSidecar(store: Store, key: string, sidecar: RepoSidecar): Promise<void> {
  await store.put(key, `${JSON.stringify(sidecar, null, 2)}\n`, { contentType: 'application/json' });
}
