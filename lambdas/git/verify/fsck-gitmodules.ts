/**
 * The `.gitmodules` half of git 2.39's fsck: git's config-file syntax, read from a blob the way
 * git_config_from_mem does, and the submodule name, url, path and update rules from
 * submodule-config.c, fsck.c, url.c and credential.c. fsck.ts turns the findings into reports.
 *
 * Strings here are "binary" strings (one char per byte, latin1), because git compares bytes.
 */

export type GitmodulesFindingId = 'gitmodulesName' | 'gitmodulesUrl' | 'gitmodulesPath' | 'gitmodulesUpdate' | 'gitmodulesParse';

const LF = 0x0a;
const CR = 0x0d;
const EOF = -1;

/** git's own ctype: only ASCII counts, and space is just TAB, LF, CR and SP. */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === LF || c === CR;
}
function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
function isKeyChar(c: number): boolean {
  return isAlpha(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d;
}
/** Lower-cases ASCII letters; every other char comes back as its byte value. */
function toLower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c & 0xff;
}

/**
 * Parses git config syntax and calls `entry` with each variable (section, optional subsection
 * and key, lower-cased as git does) and its value (null for a bare boolean). Returns false where
 * git reports "bad config line".
 *
 * git reads blob bytes as plain `char`, which is signed on x86-64: a 0xff byte reads as EOF and
 * a UTF-8 byte-order mark is never skipped. The oracle is git on x86-64, so this does the same.
 */
export function parseGitConfig(bytes: Uint8Array, entry: (name: string, value: string | null) => void): boolean {
  let pos = 0;
  let eof = false;

  const readChar = (): number => {
    if (pos >= bytes.length) return EOF;
    const b = bytes[pos++]!;
    return b >= 0x80 ? b - 256 : b;
  };
  // Like git's get_next_char: CRLF reads as LF, and the end reads as LF (and sets eof).
  const next = (): number => {
    let c = readChar();
    if (c === CR) {
      c = readChar();
      if (c !== LF) {
        if (c !== EOF) pos--;
        c = CR;
      }
    }
    if (c === EOF) {
      eof = true;
      c = LF;
    }
    return c;
  };

  const parseValue = (): number[] | null => {
    const value: number[] = [];
    let quote = false;
    let comment = false;
    let spaces = 0;
    for (;;) {
      let c = next();
      if (c === LF) return quote ? null : value;
      if (comment) continue;
      if (isSpace(c) && !quote) {
        // Inner runs of whitespace collapse later; leading and trailing ones vanish.
        if (value.length) spaces++;
        continue;
      }
      if (!quote && (c === 0x3b || c === 0x23)) {
        comment = true;
        continue;
      }
      for (; spaces; spaces--) value.push(0x20);
      if (c === 0x5c) {
        c = next();
        switch (c) {
          case LF:
            continue;
          case 0x74:
            c = 0x09;
            break;
          case 0x62:
            c = 0x08;
            break;
          case 0x6e:
            c = LF;
            break;
          case 0x5c:
          case 0x22:
            break;
          default:
            return null;
        }
        value.push(c);
        continue;
      }
      if (c === 0x22) {
        quote = !quote;
        continue;
      }
      value.push(c & 0xff);
    }
  };

  // `[section "subsection"]`: the subsection keeps its case and takes backslash escapes.
  const readSubsection = (name: number[], first: number): boolean => {
    let c = first;
    do {
      if (c === LF) return false;
      c = next();
    } while (isSpace(c));
    if (c !== 0x22) return false;
    name.push(0x2e);
    for (;;) {
      c = next();
      if (c === LF) return false;
      if (c === 0x22) break;
      if (c === 0x5c) {
        c = next();
        if (c === LF) return false;
      }
      name.push(c & 0xff);
    }
    return next() === 0x5d;
  };

  const readSection = (name: number[]): boolean => {
    for (;;) {
      const c = next();
      if (eof) return false;
      if (c === 0x5d) return true;
      if (isSpace(c)) return readSubsection(name, c);
      if (!isKeyChar(c) && c !== 0x2e) return false;
      name.push(toLower(c));
    }
  };

  const readEntry = (name: number[]): boolean => {
    let c: number;
    for (;;) {
      c = next();
      if (eof || !isKeyChar(c)) break;
      name.push(toLower(c));
    }
    while (c === 0x20 || c === 0x09) c = next();
    let value: number[] | null = null;
    if (c !== LF) {
      if (c !== 0x3d) return false;
      value = parseValue();
      if (value === null) return false;
    }
    entry(binary(name), value === null ? null : binary(value));
    return true;
  };

  // git means to skip a UTF-8 byte-order mark here, but compares a signed char with 0xef: on
  // x86-64 the mark is never skipped, and its first byte is the syntax error below.
  let comment = false;
  let name: number[] = [];
  let sectionLength = 0;
  for (;;) {
    const c = next();
    if (c === LF) {
      if (eof) return true;
      comment = false;
      continue;
    }
    if (comment || isSpace(c)) continue;
    if (c === 0x23 || c === 0x3b) {
      comment = true;
      continue;
    }
    if (c === 0x5b) {
      name = [];
      if (!readSection(name) || name.length < 1) break;
      name.push(0x2e);
      sectionLength = name.length;
      continue;
    }
    if (!isAlpha(c)) break;
    name.length = sectionLength;
    name.push(toLower(c));
    if (!readEntry(name)) break;
  }
  return false;
}

function binary(bytes: number[]): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** git hands config names and values on as C strings: anything after a NUL is lost. */
function cString(s: string): string {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

function isDirSeparator(c: string | undefined): boolean {
  return c === '/' || c === '\\';
}

/** check_submodule_name: no empty name, and no ".." path component with either separator. */
export function isValidSubmoduleName(name: string): boolean {
  if (name === '') return false;
  for (let i = 0; i <= name.length; i++) {
    const componentStart = i === 0 || isDirSeparator(name[i - 1]);
    if (componentStart && name[i] === '.' && name[i + 1] === '.' && (i + 2 === name.length || isDirSeparator(name[i + 2]))) {
      return false;
    }
  }
  return true;
}

export function looksLikeCommandLineOption(value: string): boolean {
  return value.startsWith('-');
}

/** parse_submodule_update_type: "!command" runs a shell command on update. */
export function isSubmoduleUpdateCommand(value: string): boolean {
  return value.startsWith('!');
}

/** Value of a hex digit byte, either case; -1 for any other byte. */
export const HEX_DIGIT_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_DIGIT_VALUE['0123456789abcdef'.charCodeAt(i)] = i;
  HEX_DIGIT_VALUE['0123456789ABCDEF'.charCodeAt(i)] = i;
}

function hexValue(code: number): number {
  return code < 256 ? HEX_DIGIT_VALUE[code]! : -1;
}

/** url_decode_mem: %XX escapes (not %00), except in a leading "scheme:" part, which stays verbatim. */
function urlDecode(s: string): string {
  const colon = s.indexOf(':');
  let out = colon > 0 ? s.slice(0, colon) : '';
  let i = colon > 0 ? colon : 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0) break;
    if (c === 0x25 && s.length - i >= 3) {
      const hi = hexValue(s.charCodeAt(i + 1));
      const lo = hexValue(s.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0 && (hi | lo) !== 0) {
        out += String.fromCharCode((hi << 4) | lo);
        i += 3;
        continue;
      }
    }
    out += s[i];
    i++;
  }
  return out;
}

function startsWithDotSlash(s: string, at: number): boolean {
  return s[at] === '.' && isDirSeparator(s[at + 1]);
}
function startsWithDotDotSlash(s: string, at: number): boolean {
  return s[at] === '.' && startsWithDotSlash(s, at + 1);
}

/** For the http(s)/ftp(s) transports git-remote-curl serves: the URL curl would be given. */
function curlUrl(url: string): string | null {
  for (const scheme of ['http::', 'https::', 'ftp::', 'ftps::']) if (url.startsWith(scheme)) return url.slice(scheme.length);
  for (const scheme of ['http://', 'https://', 'ftp://', 'ftps://']) if (url.startsWith(scheme)) return url;
  return null;
}

/**
 * credential_from_url_gently on a full URL: null when it has no scheme or a component that
 * decodes to a newline (CVE-2020-5260); otherwise its decoded host.
 */
function credentialHost(url: string): string | null {
  const protoEnd = url.indexOf('://');
  if (protoEnd <= 0) return null;
  const cp = protoEnd + 3;
  const at = url.indexOf('@', cp);
  const colon = url.indexOf(':', cp);
  // A query or fragment marker before the first slash also ends the host.
  let slash = cp;
  while (slash < url.length && url[slash] !== '/' && url[slash] !== '?' && url[slash] !== '#') slash++;
  const components = [url.slice(0, protoEnd)];
  let host = cp;
  if (at >= 0 && at < slash) {
    if (colon < 0 || at <= colon) {
      components.push(urlDecode(url.slice(cp, at)));
    } else {
      components.push(urlDecode(url.slice(cp, colon)), urlDecode(url.slice(colon + 1, at)));
    }
    host = at + 1;
  }
  const decodedHost = urlDecode(url.slice(host, slash));
  components.push(decodedHost);
  let path = slash;
  while (url[path] === '/') path++;
  if (path < url.length) components.push(urlDecode(url.slice(path)));
  return components.some((c) => c.includes('\n')) ? null : decodedHost;
}

/** check_submodule_url as of git 2.39. */
export function isValidSubmoduleUrl(url: string): boolean {
  if (looksLikeCommandLineOption(url)) return false;
  const relative = startsWithDotSlash(url, 0) || startsWithDotDotSlash(url, 0);
  if (relative || url.startsWith('git://')) {
    // Such a URL may end up appended to an http one and url-decoded: no newlines.
    if (urlDecode(url).includes('\n')) return false;
    // "../" that climbs out of the remote's path could replace its host (CVE-2020-11008).
    let next = 0;
    let dotdots = 0;
    for (;;) {
      if (startsWithDotDotSlash(url, next)) {
        dotdots++;
        next += 3;
      } else if (startsWithDotSlash(url, next)) {
        next += 2;
      } else {
        break;
      }
    }
    return !(dotdots > 0 && (url[next] === ':' || url[next] === '/'));
  }
  const curl = curlUrl(url);
  if (curl !== null) {
    const host = credentialHost(curl);
    return host !== null && host !== '';
  }
  return true;
}

/**
 * Checks a `.gitmodules` blob as git's fsck_blob does, calling `found` for each finding in git's
 * order: per variable of a `[submodule "<name>"]` section its name, then url, path and update;
 * a syntax error last (git keeps what it parsed before the bad line).
 */
export function scanGitmodules(content: Uint8Array, found: (id: GitmodulesFindingId, detail: string) => void): void {
  const parsed = parseGitConfig(content, (rawName, rawValue) => {
    const name = cString(rawName);
    if (!name.startsWith('submodule.')) return;
    const lastDot = name.lastIndexOf('.');
    // "submodule.<key>" has no subsection and is not about any one submodule.
    if (lastDot === 'submodule'.length) return;
    const submodule = name.slice('submodule.'.length, lastDot);
    const key = name.slice(lastDot + 1);
    const value = rawValue === null ? null : cString(rawValue);
    if (!isValidSubmoduleName(submodule)) found('gitmodulesName', `disallowed submodule name: ${display(submodule)}`);
    if (value === null) return;
    if (key === 'url' && !isValidSubmoduleUrl(value)) found('gitmodulesUrl', `disallowed submodule url: ${display(value)}`);
    if (key === 'path' && looksLikeCommandLineOption(value)) found('gitmodulesPath', `disallowed submodule path: ${display(value)}`);
    if (key === 'update' && isSubmoduleUpdateCommand(value)) {
      found('gitmodulesUpdate', `disallowed submodule update setting: ${display(value)}`);
    }
  });
  if (!parsed) found('gitmodulesParse', 'could not parse the blob as a git config file');
}

/** Shows a binary string as the UTF-8 text it most likely is. */
export function display(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}
