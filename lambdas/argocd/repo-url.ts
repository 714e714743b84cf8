/**
 * Repository URLs as Argo CD compares them.
 *
 * `normalizeRepoUrl` reproduces Argo CD's `git.NormalizeGitURL` (util/git/git.go) exactly, including the parts
 * that come from Go's `net/url` (`url.Parse` followed by `URL.String()`), so that credential matching built on it
 * picks the same secret Argo CD picks. `repoIdentity` goes one step further and is what the source inventory
 * groups by: two spellings with the same identity are one repository to mirror.
 */
import { isIPv6 } from 'node:net';

export type RepoKind = 'git' | 'helm' | 'oci';

/** True when the URL contains a template expression (`{{…}}`, fasttemplate or Go template), as ApplicationSets use. */
export function isTemplated(url: unknown): boolean {
  return typeof url === 'string' && url.includes('{{');
}

/**
 * How Argo CD's repo-server fetches a source (reposerver/repository/repository.go, runRepoOperation):
 * an `oci://` repoURL is an OCI artifact (tested first, so `chart` is then ignored), a non-empty `chart` is a Helm
 * chart (from a Helm repository, or from an OCI registry when the repoURL has no scheme), anything else is Git.
 * The `oci://` test is case-sensitive, as Argo CD's `strings.HasPrefix` is.
 */
export function repoKind(source: unknown): RepoKind {
  const record = typeof source === 'object' && source !== null ? (source as Record<string, unknown>) : {};
  const repoURL = typeof record.repoURL === 'string' ? record.repoURL : '';
  if (repoURL.startsWith('oci://')) return 'oci';
  if (typeof record.chart === 'string' && record.chart !== '') return 'helm';
  return 'git';
}

/**
 * Argo CD's `git.IsSSHURL`: `ssh://` or scp-style URLs with a user part (`git@host:org/repo`); returns the user.
 * An `ssh://host/repo` URL without a user is not an SSH URL to Argo CD.
 */
export function sshUser(url: string): string | undefined {
  const match = SSH_URL.exec(url);
  return match ? (match[2] ?? '') : undefined;
}

const SSH_URL = /^(ssh:\/\/)?([^/:]*?)@[^@]+$/;

/**
 * Argo CD's `git.NormalizeGitURL`: whitespace trimmed, the whole URL lower-cased (path included), a scp-style
 * `user@host:path` rewritten to `ssh://user@host/path`, one `.git` suffix removed, then parsed and printed by Go's
 * `net/url`, and a leading `ssh://` removed. Ports are kept as written (`:443` is not dropped) and so is a trailing
 * slash. Returns `''` where Go's parser fails, as Argo CD does.
 *
 *   git@GitHub.com:Org/Repo.git        → git@github.com/org/repo
 *   ssh://git@github.com/org/repo      → git@github.com/org/repo
 *   https://GitHub.com/Org/Repo.git    → https://github.com/org/repo
 *   https://github.com/org/repo/       → https://github.com/org/repo/
 */
export function normalizeRepoUrl(url: string): string {
  const parsed = parseNormalized(url);
  return parsed ? stripSshScheme(formatGoUrl(parsed)) : '';
}

/** Argo CD's `git.SameURL`: equal normalised URLs; a URL Go cannot parse is compared as written. */
export function sameRepoUrl(left: string, right: string): boolean {
  const l = normalizeRepoUrl(left) || left;
  const r = normalizeRepoUrl(right) || right;
  return l !== '' && r !== '' && l === r;
}

/**
 * The repository a URL designates, for grouping sources into repositories to mirror: `normalizeRepoUrl`, then
 * trailing slashes and one more `.git` removed (`repo.git/`), the scheme's default port dropped (https 443, http 80,
 * ssh 22, git 9418) and, for http(s), the user part dropped (`https://org@dev.azure.com/…` is the same repository;
 * a password never ends up in the identity). Returns `''` where `normalizeRepoUrl` does.
 */
export function repoIdentity(url: string): string {
  const parsed = parseNormalized(url);
  if (!parsed) return '';
  if (parsed.opaque !== '') return stripSshScheme(formatGoUrl(parsed));
  const defaultPort = DEFAULT_PORTS[parsed.scheme];
  let host = parsed.host;
  if (host.endsWith(':')) host = host.slice(0, -1);
  else if (defaultPort && host.endsWith(`:${defaultPort}`)) host = host.slice(0, -(defaultPort.length + 1));
  let path = escapedPath(parsed).replace(/\/+$/, '');
  if (path.endsWith('.git')) path = path.slice(0, -'.git'.length);
  const dropUser = parsed.scheme === 'http' || parsed.scheme === 'https';
  const identity: GoUrl = {
    ...parsed,
    host,
    user: dropUser ? undefined : parsed.user,
    path: unescapeOrSelf(path),
    rawPath: path,
  };
  return stripSshScheme(formatGoUrl(identity));
}

const DEFAULT_PORTS: Record<string, string> = { https: '443', http: '80', ssh: '22', git: '9418' };

/**
 * Why a Git repoURL cannot be fetched by a Git client, or undefined when it can: a URL Go cannot parse, one with no
 * scheme that is not scp-style (git would read it as a local path; Argo CD documents `registry-1.docker.io`-style
 * URLs for Helm OCI registries, which only work with `chart`), or a scheme other than https, http, ssh and git.
 */
export function gitUrlProblem(url: string): string | undefined {
  const trimmed = goTrimSpace(url);
  if (trimmed === '') return 'repoURL is empty';
  if (normalizeRepoUrl(url) === '') return 'repoURL is not a valid URL (Argo CD cannot normalise it either)';
  const lower = trimmed.toLowerCase();
  if (sshUser(lower) !== undefined) return undefined;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(lower)?.[1];
  if (scheme === undefined) return 'repoURL has no scheme and is not scp-style (user@host:path); a Git client would read it as a local path';
  if (GIT_SCHEMES.has(scheme)) {
    const parsed = goParse(toBytes(trimmed));
    if (parsed && parsed.host === '') return 'repoURL has no host';
    return undefined;
  }
  if (scheme === 'file') return 'repoURL is a local path (file://), which exists only inside the repo-server';
  return `repoURL scheme "${scheme}" is not a Git transport (https, http, ssh, git)`;
}

const GIT_SCHEMES = new Set(['https', 'http', 'ssh', 'git', 'git+ssh', 'ssh+git']);

/**
 * Argo CD's `helm.IsHelmOciRepo`: a Helm repoURL Go parses without a host (no scheme, e.g. `registry-1.docker.io/x`)
 * is an OCI registry; with `chart` set Argo CD pulls `oci://<repoURL>/<chart>`.
 */
export function isHelmOciRepo(url: string): boolean {
  if (url === '') return false;
  const parsed = goParse(toBytes(url));
  return parsed !== undefined && parsed.host === '';
}

// ---------------------------------------------------------------------------------------------------------------
// NormalizeGitURL's steps before Go's parser.

function parseNormalized(url: string): GoUrl | undefined {
  let repo = goTrimSpace(String(url)).toLowerCase();
  if (sshUser(repo) !== undefined && !repo.startsWith('ssh://')) {
    // Argo CD replaces the first colon so that net/url does not take `org` for a port.
    repo = 'ssh://' + repo.replace(':', '/');
  }
  if (repo.endsWith('.git')) repo = repo.slice(0, -'.git'.length);
  return goParse(toBytes(repo));
}

function stripSshScheme(url: string): string {
  return url.startsWith('ssh://') ? url.slice('ssh://'.length) : url;
}

/** Go's strings.TrimSpace: Unicode White_Space (which JavaScript's trim() does not match exactly: U+0085, U+FEFF). */
function goTrimSpace(s: string): string {
  return s.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/, '')
    .replace(/[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/, '');
}

// ---------------------------------------------------------------------------------------------------------------
// A port of the parts of Go's net/url that NormalizeGitURL depends on: Parse and URL.String. Go works on bytes;
// here every string below is a "byte string" (one char per byte, from UTF-8), converted back at the end.

interface GoUrl {
  scheme: string;
  opaque: string;
  user: { username: string; password: string | undefined } | undefined;
  host: string;
  path: string;
  rawPath: string;
  omitHost: boolean;
  forceQuery: boolean;
  rawQuery: string;
  fragment: string;
  rawFragment: string;
}

type Mode = 'path' | 'host' | 'zone' | 'userPassword' | 'fragment';

function toBytes(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

function fromBytes(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

function formatGoUrl(url: GoUrl): string {
  return fromBytes(goString(url));
}

function isAlnum(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

function shouldEscape(c: string, mode: Mode): boolean {
  if (isAlnum(c)) return false;
  if ((mode === 'host' || mode === 'zone') && `!$&'()*+,;=:[]<>"`.includes(c)) return false;
  switch (c) {
    case '-': case '_': case '.': case '~':
      return false;
    case '$': case '&': case '+': case ',': case '/': case ':': case ';': case '=': case '?': case '@':
      if (mode === 'path') return c === '?';
      if (mode === 'userPassword') return c === '@' || c === '/' || c === '?' || c === ':';
      if (mode === 'fragment') return false;
      break;
  }
  if (mode === 'fragment' && '!()*'.includes(c)) return false;
  return true;
}

function escape(s: string, mode: Mode): string {
  let out = '';
  for (const c of s) {
    out += shouldEscape(c, mode) ? '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0') : c;
  }
  return out;
}

/** Go's unescape; undefined where Go returns an error. */
function unescape(s: string, mode: Mode): string | undefined {
  let out = '';
  for (let i = 0; i < s.length;) {
    const c = s[i] as string;
    if (c === '%') {
      const h1 = s[i + 1];
      const h2 = s[i + 2];
      if (i + 2 >= s.length || !isHex(h1) || !isHex(h2)) return undefined;
      const seq = s.slice(i, i + 3);
      const value = parseInt(seq.slice(1), 16);
      if (mode === 'host' && parseInt(h1 as string, 16) < 8 && seq !== '%25') return undefined;
      if (mode === 'zone' && seq !== '%25' && value !== 0x20 && shouldEscape(String.fromCharCode(value), 'host')) return undefined;
      out += String.fromCharCode(value);
      i += 3;
      continue;
    }
    if ((mode === 'host' || mode === 'zone') && c.charCodeAt(0) < 0x80 && shouldEscape(c, mode)) return undefined;
    out += c;
    i += 1;
  }
  return out;
}

function unescapeOrSelf(s: string): string {
  return unescape(s, 'path') ?? s;
}

function validEncoded(s: string, mode: Mode): boolean {
  for (const c of s) {
    if (`!$&'()*+,;=:@[]%`.includes(c)) continue;
    if (shouldEscape(c, mode)) return false;
  }
  return true;
}

function validOptionalPort(port: string): boolean {
  if (port === '') return true;
  if (port[0] !== ':') return false;
  return /^[0-9]*$/.test(port.slice(1));
}

function hasControlByte(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function goParse(raw: string): GoUrl | undefined {
  const hash = raw.indexOf('#');
  const url = parseWithoutFragment(hash >= 0 ? raw.slice(0, hash) : raw);
  if (!url || hash < 0) return url;
  const frag = raw.slice(hash + 1);
  const fragment = unescape(frag, 'fragment');
  if (fragment === undefined) return undefined;
  url.fragment = fragment;
  url.rawFragment = escape(fragment, 'fragment') === frag ? '' : frag;
  return url;
}

function parseWithoutFragment(raw: string): GoUrl | undefined {
  if (hasControlByte(raw)) return undefined;
  const url: GoUrl = {
    scheme: '', opaque: '', user: undefined, host: '', path: '', rawPath: '',
    omitHost: false, forceQuery: false, rawQuery: '', fragment: '', rawFragment: '',
  };
  if (raw === '*') {
    url.path = '*';
    return url;
  }
  const scheme = getScheme(raw);
  if (scheme === undefined) return undefined;
  url.scheme = scheme.scheme.toLowerCase();
  let rest = scheme.rest;
  if (rest.endsWith('?') && rest.indexOf('?') === rest.length - 1) {
    url.forceQuery = true;
    rest = rest.slice(0, -1);
  } else {
    const q = rest.indexOf('?');
    if (q >= 0) {
      url.rawQuery = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
  }
  if (!rest.startsWith('/')) {
    if (url.scheme !== '') {
      url.opaque = rest;
      return url;
    }
    const firstSegment = rest.split('/', 1)[0] ?? '';
    if (firstSegment.includes(':')) return undefined;
  }
  if ((url.scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    rest = '';
    const slash = authority.indexOf('/');
    if (slash >= 0) {
      rest = authority.slice(slash);
      authority = authority.slice(0, slash);
    }
    const parsed = parseAuthority(authority);
    if (!parsed) return undefined;
    url.user = parsed.user;
    url.host = parsed.host;
  } else if (url.scheme !== '' && rest.startsWith('/')) {
    url.omitHost = true;
  }
  const path = unescape(rest, 'path');
  if (path === undefined) return undefined;
  url.path = path;
  url.rawPath = escape(path, 'path') === rest ? '' : rest;
  return url;
}

function getScheme(raw: string): { scheme: string; rest: string } | undefined {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) continue;
    if ((c >= '0' && c <= '9') || c === '+' || c === '-' || c === '.') {
      if (i === 0) return { scheme: '', rest: raw };
      continue;
    }
    if (c === ':') {
      if (i === 0) return undefined; // "missing protocol scheme"
      return { scheme: raw.slice(0, i), rest: raw.slice(i + 1) };
    }
    return { scheme: '', rest: raw };
  }
  return { scheme: '', rest: raw };
}

function parseAuthority(authority: string): { user: GoUrl['user']; host: string } | undefined {
  const at = authority.lastIndexOf('@');
  const host = parseHost(at < 0 ? authority : authority.slice(at + 1));
  if (host === undefined) return undefined;
  if (at < 0) return { user: undefined, host };
  const userinfo = authority.slice(0, at);
  if (!/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo)) return undefined;
  const colon = userinfo.indexOf(':');
  const username = unescape(colon < 0 ? userinfo : userinfo.slice(0, colon), 'userPassword');
  const password = colon < 0 ? undefined : unescape(userinfo.slice(colon + 1), 'userPassword');
  if (username === undefined || (colon >= 0 && password === undefined)) return undefined;
  return { user: { username, password }, host };
}

function parseHost(host: string): string | undefined {
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) return undefined;
    if (!validOptionalPort(host.slice(close + 1))) return undefined;
    const zone = host.slice(0, close).indexOf('%25');
    // Since Go 1.24.8/1.25.2 (CVE-2025-47912) only an IPv6 literal may stand between the brackets.
    if (!isIPv6(host.slice(1, zone >= 0 ? zone : close))) return undefined;
    if (zone >= 0) {
      const h1 = unescape(host.slice(0, zone), 'host');
      const h2 = unescape(host.slice(zone, close), 'zone');
      const h3 = unescape(host.slice(close), 'host');
      return h1 === undefined || h2 === undefined || h3 === undefined ? undefined : h1 + h2 + h3;
    }
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      if (!validOptionalPort(host.slice(colon))) return undefined;
      // Newer Go also rejects a second colon outside brackets (`host:80:80`); Argo CD 3.x builds with it.
      if (host.slice(0, colon).includes(':')) return undefined;
    }
  }
  return unescape(host, 'host');
}

function escapedPath(url: GoUrl): string {
  if (url.rawPath !== '' && validEncoded(url.rawPath, 'path') && unescape(url.rawPath, 'path') === url.path) {
    return url.rawPath;
  }
  if (url.path === '*') return '*';
  return escape(url.path, 'path');
}

function escapedFragment(url: GoUrl): string {
  if (url.rawFragment !== '' && validEncoded(url.rawFragment, 'fragment') && unescape(url.rawFragment, 'fragment') === url.fragment) {
    return url.rawFragment;
  }
  return escape(url.fragment, 'fragment');
}

function goString(url: GoUrl): string {
  let out = '';
  if (url.scheme !== '') out += url.scheme + ':';
  if (url.opaque !== '') {
    out += url.opaque;
  } else {
    if (url.scheme !== '' || url.host !== '' || url.user !== undefined) {
      if (!(url.omitHost && url.host === '' && url.user === undefined)) {
        if (url.host !== '' || url.path !== '' || url.user !== undefined) out += '//';
        if (url.user !== undefined) {
          out += escape(url.user.username, 'userPassword');
          if (url.user.password !== undefined) out += ':' + escape(url.user.password, 'userPassword');
          out += '@';
        }
        if (url.host !== '') out += escape(url.host, 'host');
      }
    }
    const path = escapedPath(url);
    if (path !== '' && path[0] !== '/' && url.host !== '') out += '/';
    if (out === '' && (path.split('/', 1)[0] ?? '').includes(':')) out += './';
    out += path;
  }
  if (url.forceQuery || url.rawQuery !== '') out += '?' + url.rawQuery;
  if (url.fragment !== '') out += '#' + escapedFragment(url);
  return out;
}
