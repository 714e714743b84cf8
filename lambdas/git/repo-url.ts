import type { GitCredentials } from './credentials.js';

export type { GitCredentials } from './credentials.js';

/** Where an ssh:// or scp-style repository lives, as the SSH transport needs it. */
export interface SshLocation {
  /** Host name or IP address, without brackets. */
  hostname: string;
  port: number;
  user: string;
  /** The path git-upload-pack is asked for, as git sends it ('/org/repo.git', 'org/repo.git', '~user/repo.git'). */
  path: string;
}

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
  /** Set for ssh:// and scp-style (`git@host:org/repo.git`) URLs; http(s) URLs have none. */
  readonly ssh?: SshLocation;
}

export class RepoUrlError extends Error {}

const SUPPORTED = 'give an https://, http://, ssh:// or scp-style (git@host:org/repo.git) Git repository URL';

/**
 * Parses an http(s), ssh:// or scp-style repository URL. The store key of an SSH URL is the one of
 * the https URL of the same host and path, so one repository is one bundle however it is reached.
 */
export function parseRepoUrl(input: string): RepoUrl {
  const scp = scpStyle(input);
  if (scp) return sshRepoUrl(input, scp);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new RepoUrlError(`"${redactUserInfo(input)}" is not a URL; ${SUPPORTED}`);
  }
  if (url.protocol === 'ssh:' || url.protocol === 'git+ssh:' || url.protocol === 'ssh+git:') {
    if (url.password) throw new RepoUrlError(`${redactUserInfo(input)}: SSH URLs cannot carry a password; remove it and give an SSH private key instead`);
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    // git sends '/~user/x' as '~user/x': the path is then relative to that user's home.
    const path = decodeURIComponent(url.pathname).replace(/^\/~/, '~');
    return sshRepoUrl(input, { user: decodeURIComponent(url.username) || 'git', hostname, port: url.port ? Number(url.port) : 22, path });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RepoUrlError(`${redactUserInfo(input)}: unsupported scheme ${url.protocol.replace(/:$/, '')}; ${SUPPORTED}`);
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

/** `[user@]host:path` with no slash before the colon and no `//` after it, as git reads it. */
function scpStyle(input: string): SshLocation | undefined {
  const match = /^(?:([^@/\s]+)@)?(\[[^\]/]+\]|[^:/\s[\]]+):(?!\/\/)([^\s]+)$/.exec(input.trim());
  if (!match?.[2] || !match[3] || /^[a-z][a-z0-9+.-]*$/i.test(match[2]) && !match[1] && match[3].startsWith('/')) return undefined;
  return { user: match[1] ?? 'git', hostname: match[2].replace(/^\[|\]$/g, ''), port: 22, path: match[3] };
}

function sshRepoUrl(input: string, location: SshLocation): RepoUrl {
  const display = input.trim();
  const repoPath = location.path.replace(/^\/+/, '').replace(/\/+$/, '').replace(/\.git$/, '');
  const segments = repoPath.split('/');
  if (repoPath === '' || segments.some((s) => s === '' || s === '.' || s === '..') || location.hostname === '') {
    throw new RepoUrlError(`${display}: the URL has no usable repository path (expected e.g. git@host:org/repo.git or ssh://git@host/org/repo.git)`);
  }
  if (!Number.isInteger(location.port) || location.port < 1 || location.port > 65535) throw new RepoUrlError(`${display}: invalid port`);
  const hostname = location.hostname.toLowerCase();
  const hostPart = hostname.includes(':') ? `[${hostname}]` : hostname;
  // Port 22 is SSH's default and says nothing about the repository: the https URL's key has none.
  const host = location.port === 22 ? hostPart : `${hostPart}:${location.port}`;
  return { display, base: display, host, path: repoPath, ssh: { ...location, hostname: location.hostname } };
}

/** The store keys of a repository's bundle and its sidecar: `git/<host>/<repo-path>.bundle|.json`. */
export function repoStoreKeys(repo: RepoUrl): { bundle: string; sidecar: string } {
  // Keys keep the URL's (percent-encoded) path characters; ':' of a port is fine in S3 and on Linux.
  const stem = `git/${repo.host}/${repo.path}`;
  return { bundle: `${stem}.bundle`, sidecar: `${stem}.json` };
}

/**
 * Removes `user:password@` from anything that looks like a URL, for messages and records built from input. An SSH
 * URL keeps a login name without a password: it is no secret, and without it the URL names another account (and
 * no longer matches the repository Secret written for it).
 */
export function redactUserInfo(text: string): string {
  // Greedy to the last '@' before the path: a password may contain '@' (URL parsers split there too).
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/\s]*)@/gi, (whole, scheme: string, userInfo: string) =>
    (/^(?:ssh|git\+ssh|ssh\+git):\/\/$/i.test(scheme) && !userInfo.includes(':') ? whole : scheme));
}
