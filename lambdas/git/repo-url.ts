/** A Git repository address as argocd-dr uses it: where to fetch from, and where it is stored. */
export interface RepoUrl {
  /** The URL without credentials, as written in reports and sidecars. */
  readonly display: string;
  /** Base URL for smart HTTP requests, without credentials and without a trailing slash. */
  readonly base: string;
  /** Lower-case host, with the port when one is given. */
  readonly host: string;
  /** Repository path without leading slash, trailing slash or `.git`. */
  readonly path: string;
  /** Credentials written into the URL itself (`https://user:token@host/...`), if any. */
  readonly credentials?: GitCredentials;
}

export interface GitCredentials {
  username: string;
  password: string;
}

export class RepoUrlError extends Error {}

/** Parses an http(s) repository URL. Other schemes get a message saying what is supported. */
export function parseRepoUrl(input: string): RepoUrl {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new RepoUrlError(`"${redactUserInfo(input)}" is not a URL; give an https:// (or http://) Git repository URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RepoUrlError(`${redactUserInfo(input)}: only http(s) Git URLs can be mirrored by this command (got ${url.protocol.replace(/:$/, '')})`);
  }
  const credentials = url.username || url.password
    ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }
    : undefined;
  url.username = '';
  url.password = '';
  url.hash = '';
  url.search = '';
  const pathname = url.pathname.replace(/\/+$/, '');
  const path = pathname.replace(/^\/+/, '').replace(/\.git$/, '');
  const segments = path.split('/');
  if (path === '' || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new RepoUrlError(`${url.href}: the URL has no usable repository path (expected e.g. https://host/org/repo.git)`);
  }
  const base = `${url.protocol}//${url.host}${pathname}`;
  return { display: base, base, host: url.host.toLowerCase(), path, ...(credentials ? { credentials } : {}) };
}

/** The store keys of a repository's bundle and its sidecar: `git/<host>/<repo-path>.bundle|.json`. */
export function repoStoreKeys(repo: RepoUrl): { bundle: string; sidecar: string } {
  // Keys keep the URL's (percent-encoded) path characters; ':' of a port is fine in S3 and on Linux.
  const stem = `git/${repo.host}/${repo.path}`;
  return { bundle: `${stem}.bundle`, sidecar: `${stem}.json` };
}

/** Removes `user:password@` from anything that looks like a URL, for messages built from input. */
export function redactUserInfo(text: string): string {
  // Greedy to the last '@' before the path: a password may contain '@' (URL parsers split there too).
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s]*@/gi, '$1');
}
