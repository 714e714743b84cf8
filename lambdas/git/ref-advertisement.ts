import { DELIM, FLUSH, PktLineReader, ProtocolError, pktLine, pktText, type Pkt } from './pkt-line.js';
import type { UploadPackConnection } from './transport.js';
import { isValidRefName } from './verify/fsck.js';

export type ObjectFormat = 'sha1' | 'sha256';
export type ProtocolVersion = 0 | 2;

/** What a server says it has: refs with their ids, where HEAD points, and how to talk to it. */
export interface RefAdvertisement {
  protocol: ProtocolVersion;
  objectFormat: ObjectFormat;
  /** Ref name → object id, HEAD included when the server advertises it. Never peeled `^{}` entries. */
  refs: Map<string, string>;
  /** The ref HEAD points at (e.g. refs/heads/main), when the server says. */
  headTarget?: string;
  /** v0: the capabilities of the first ref line; v2: the capability advertisement. */
  capabilities: Map<string, string | true>;
  /** The server's repository is shallow: a bundle of it would be missing history. */
  shallow: boolean;
}

export const DEFAULT_REF_PATTERNS = ['HEAD', 'refs/heads/*', 'refs/tags/*'] as const;

/** Lists the server's refs: protocol v2 `ls-refs` when it speaks v2, else the v0 advertisement. */
export async function discoverRefs(connection: UploadPackConnection, patterns: readonly string[]): Promise<RefAdvertisement> {
  const reader = await connection.advertise();
  try {
    let first: Pkt | undefined = await readFirstLine(reader);
    const firstText = pktText(first);
    if (firstText === 'version 2') {
      const capabilities = await readCapabilityAdvertisement(reader);
      return await listRefsV2(connection, capabilities, patterns);
    }
    if (firstText === 'version 1') first = await reader.read();
    return await parseV0Advertisement(first, reader);
  } finally {
    await connection.release(reader);
  }
}

/**
 * Reads a v0 advertisement to its flush: the one receive-pack sends (it speaks no v2), with refs
 * it would update and the capabilities it accepts (report-status, side-band-64k, atomic...).
 */
export async function readV0Advertisement(reader: PktLineReader): Promise<RefAdvertisement> {
  let first: Pkt | undefined = await readFirstLine(reader);
  if (pktText(first) === 'version 1') first = await reader.read();
  return parseV0Advertisement(first, reader);
}

/** The advertisement's first pkt after the service line smart HTTP puts before it (v0, some v2 servers). */
async function readFirstLine(reader: PktLineReader): Promise<Pkt> {
  let first = await reader.read();
  if (first && pktText(first)?.startsWith('# service=')) {
    const flush = await reader.read();
    if (flush?.kind !== 'flush') throw new ProtocolError('expected a flush after the service line');
    first = await reader.read();
  }
  if (!first) throw new ProtocolError('empty ref advertisement');
  return first;
}

async function readCapabilityAdvertisement(reader: PktLineReader): Promise<Map<string, string | true>> {
  const capabilities = new Map<string, string | true>();
  for (;;) {
    const pkt = await reader.read();
    if (!pkt) throw new ProtocolError('capability advertisement ended without a flush');
    if (pkt.kind === 'flush') return capabilities;
    const line = pktText(pkt) ?? '';
    const eq = line.indexOf('=');
    if (eq < 0) capabilities.set(line, true);
    else capabilities.set(line.slice(0, eq), line.slice(eq + 1));
  }
}

async function listRefsV2(
  connection: UploadPackConnection,
  capabilities: Map<string, string | true>,
  patterns: readonly string[],
): Promise<RefAdvertisement> {
  if (!capabilities.has('ls-refs')) throw new ProtocolError('the server speaks protocol v2 but does not offer ls-refs');
  const objectFormat = parseObjectFormat(capabilities.get('object-format'));
  const lines = [pktLine('command=ls-refs\n'), pktLine(`agent=${connection.userAgent}\n`)];
  if (capabilities.has('object-format')) lines.push(pktLine(`object-format=${objectFormat}\n`));
  lines.push(Buffer.from(DELIM), pktLine('peel\n'), pktLine('symrefs\n'));
  for (const prefix of refPrefixes(patterns)) lines.push(pktLine(`ref-prefix ${prefix}\n`));
  lines.push(Buffer.from(FLUSH));

  const reader = await connection.request(Buffer.concat(lines), true);
  const refs = new Map<string, string>();
  let headTarget: string | undefined;
  try {
    for (;;) {
      const pkt = await reader.read();
      if (!pkt) throw new ProtocolError('ls-refs response ended without a flush');
      if (pkt.kind === 'flush') break;
      const line = pktText(pkt) ?? '';
      if (line.startsWith('ERR ')) throw new ProtocolError(`the server refused ls-refs: ${line.slice(4)}`);
      const [id, name, ...attributes] = line.split(' ');
      if (!id || !name || !isObjectId(id, objectFormat)) throw new ProtocolError(`malformed ls-refs line ${JSON.stringify(line)}`);
      checkRefName(name);
      refs.set(name, id);
      for (const attribute of attributes) {
        if (name === 'HEAD' && attribute.startsWith('symref-target:')) headTarget = attribute.slice('symref-target:'.length);
      }
    }
  } finally {
    await connection.release(reader);
  }
  return { protocol: 2, objectFormat, refs, ...(headTarget ? { headTarget } : {}), capabilities, shallow: false };
}

async function parseV0Advertisement(first: Pkt | undefined, reader: PktLineReader): Promise<RefAdvertisement> {
  const refs = new Map<string, string>();
  const capabilities = new Map<string, string | true>();
  let headTarget: string | undefined;
  let shallow = false;
  let objectFormat: ObjectFormat = 'sha1';
  let pkt = first;
  let isFirst = true;
  for (; pkt && pkt.kind !== 'flush'; pkt = await reader.read(), isFirst = false) {
    if (pkt.kind !== 'data') throw new ProtocolError('unexpected special packet in the ref advertisement');
    let line = pktText(pkt) ?? '';
    if (line.startsWith('ERR ')) throw new ProtocolError(`the server refused the request: ${line.slice(4)}`);
    if (isFirst) {
      const nul = line.indexOf('\0');
      if (nul >= 0) {
        for (const capability of line.slice(nul + 1).split(' ').filter(Boolean)) {
          const eq = capability.indexOf('=');
          const key = eq < 0 ? capability : capability.slice(0, eq);
          const value = eq < 0 ? true : capability.slice(eq + 1);
          // symref= may repeat; only HEAD's matters for a mirror.
          if (key === 'symref' && typeof value === 'string' && value.startsWith('HEAD:')) headTarget = value.slice(5);
          else capabilities.set(key, value);
        }
        line = line.slice(0, nul);
      }
      objectFormat = parseObjectFormat(capabilities.get('object-format'));
    }
    if (line.startsWith('shallow ')) {
      shallow = true;
      continue;
    }
    const [id, name] = line.split(' ');
    if (!id || !name || !isObjectId(id, objectFormat)) throw new ProtocolError(`malformed ref advertisement line ${JSON.stringify(line)}`);
    // An empty repository advertises only its capabilities, on a zero id named capabilities^{}.
    // receive-pack names objects of alternate repositories (a fork's network) `.have`: not refs.
    if (name === 'capabilities^{}' || name.endsWith('^{}') || name === '.have') continue;
    checkRefName(name);
    refs.set(name, id);
  }
  if (!pkt) throw new ProtocolError('ref advertisement ended without a flush');
  return { protocol: 0, objectFormat, refs, ...(headTarget ? { headTarget } : {}), capabilities, shallow };
}

/** A name git would refuse cannot go into a bundle: the repo fails rather than store one git rejects. */
function checkRefName(name: string): void {
  if (name !== 'HEAD' && !isValidRefName(name)) {
    throw new ProtocolError(`the server advertises a ref named ${JSON.stringify(name)}, which is not a valid git ref name`);
  }
}

function parseObjectFormat(value: string | true | undefined): ObjectFormat {
  if (value === undefined || value === 'sha1') return 'sha1';
  if (value === 'sha256') return 'sha256';
  throw new ProtocolError(`the server uses object format ${String(value)}, which argocd-dr does not know`);
}

export function isObjectId(id: string, format: ObjectFormat): boolean {
  return format === 'sha1' ? /^[0-9a-f]{40}$/.test(id) : /^[0-9a-f]{64}$/.test(id);
}

/** ls-refs prefixes that cover the patterns: the text before the first '*'. */
function refPrefixes(patterns: readonly string[]): string[] {
  return [...new Set(patterns.map((pattern) => pattern.split('*')[0] ?? pattern))];
}

/**
 * The refs a mirror keeps: names matching one of the patterns, where '*' matches any characters
 * including '/', as in a refspec (refs/heads/* takes refs/heads/feature/x too).
 */
export function selectRefs(refs: ReadonlyMap<string, string>, patterns: readonly string[]): Map<string, string> {
  const matchers = patterns.map(patternToRegExp);
  const selected = new Map<string, string>();
  for (const [name, id] of refs) {
    if (matchers.some((matcher) => matcher.test(name))) selected.set(name, id);
  }
  return selected;
}

function patternToRegExp(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${escaped}$`);
}

/** Checks a --refs pattern; returns a message saying what is wrong, or undefined when it is fine. */
export function refPatternProblem(pattern: string): string | undefined {
  if (pattern === 'HEAD') return undefined;
  if (!pattern.startsWith('refs/')) return `ref pattern "${pattern}" must be HEAD or start with refs/ (e.g. refs/notes/* or refs/pull/*)`;
  if (/\s|\.\.|[~^:?[\\]/.test(pattern)) return `ref pattern "${pattern}" contains characters a ref name cannot have`;
  return undefined;
}
