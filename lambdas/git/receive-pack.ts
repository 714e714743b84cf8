import { Readable } from 'node:stream';
import { PackChecker, PackError } from './pack-checker.js';
import { FLUSH, PktLineReader, ProtocolError, pktLine, pktText } from './pkt-line.js';
import { readV0Advertisement, type ObjectFormat } from './ref-advertisement.js';
import type { RepoUrl } from './repo-url.js';
import { describeNetworkError, getReceivePackAdvertisement, postReceivePack, type SmartHttpOptions } from './smart-http.js';
import { ProgressTail, readSideBand, RemoteError, type SideBandWording } from './upload-pack.js';

/**
 * The push half of Git's smart protocol (gitprotocol-pack, "Pushing Data To a Server"): create
 * refs in an empty repository and send one pack that holds everything they reach. The pack is
 * sent as it is, streamed: nothing is re-packed or held in memory.
 */

/** The remote already holds refs that are not the ones to push: nothing was sent. */
export class PushRefusedError extends Error {}

/** The server took the request but did not apply it (unpack failed, refs rejected). */
export class PushFailedError extends Error {}

export interface PackSource {
  stream: Readable;
  /** Exact length in bytes: sent as Content-Length. */
  bytes: number;
}

export interface PushRequest {
  /** Ref name → object id, every one created from nothing; HEAD is not a ref a push can create. */
  refs: ReadonlyMap<string, string>;
  objectFormat: ObjectFormat;
  /** Opened only when a push is needed: an idempotent re-run never reads the pack. */
  openPack: () => Promise<PackSource>;
}

/**
 * What a push starts from: receive-pack's (v0) advertisement of the refs it would update and the
 * capabilities it accepts, and where and how to send the push (the base URL and options that
 * redirects left: no identity carried to another host).
 */
export interface PushAdvertisement {
  objectFormat: ObjectFormat;
  /** Ref name → object id; `.have` and peeled entries are not refs and are left out. */
  refs: Map<string, string>;
  capabilities: Map<string, string | true>;
  /** Base URL after redirects: the push's POST goes here. */
  base: string;
  /** Options for that POST. */
  http: SmartHttpOptions;
}

/** Asks the repository's git-receive-pack for its advertisement over smart HTTP. */
export async function discoverPushRefs(repo: RepoUrl, options: SmartHttpOptions): Promise<PushAdvertisement> {
  const { base, body, options: http } = await getReceivePackAdvertisement(repo, options);
  const reader = new PktLineReader(body);
  try {
    const { objectFormat, refs, capabilities } = await readV0Advertisement(reader);
    return { objectFormat, refs, capabilities, base, http };
  } finally {
    await reader.close();
  }
}

/** `pushed`: the server reported every ref created; `already-present`: the remote had exactly these refs. */
export type PushOutcome = 'pushed' | 'already-present';

export interface PushReport {
  /** `ok`, or the server's reason it could not unpack the pack. */
  unpack: string;
  /** Per ref: undefined when created, else the server's reason (`ng`). */
  refs: Map<string, string | undefined>;
}

const PUSH_WORDING: SideBandWording = { complete: 'it reported the push result', doing: 'receiving the push', request: 'the push' };

/**
 * Creates `request.refs` in the repository at `repo`, which must be empty. A remote whose refs are
 * already exactly these is left alone (a re-run after a successful push); any other non-empty
 * remote is refused before a byte of the pack is sent.
 */
export async function pushRefsToEmptyRemote(repo: RepoUrl, request: PushRequest, options: SmartHttpOptions): Promise<PushOutcome> {
  const advertisement = await discoverPushRefs(repo, options);
  if (advertisement.objectFormat !== request.objectFormat) {
    throw new PushRefusedError(
      `the repository uses ${advertisement.objectFormat} object ids but the bundle is ${request.objectFormat}; create the repository with the bundle's object format`
      + (request.objectFormat === 'sha256' ? ' (git init --bare --object-format=sha256; many Git hosts cannot host SHA-256 repositories yet)' : ''),
    );
  }
  const existing = new Map([...advertisement.refs].filter(([name]) => name !== 'HEAD'));
  if (existing.size > 0) {
    const difference = describeRefDifference(request.refs, existing);
    if (!difference) return 'already-present';
    throw new PushRefusedError(
      `the repository is not empty and its refs differ from the bundle's (${difference}); restore-git only pushes into an empty repository: `
      + 'point --to at a new, empty repository (created without a README or license), or empty this one first',
    );
  }
  const pack = await request.openPack();
  try {
    const report = await sendPush(repo, advertisement, request, pack, options);
    checkReport(report, request.refs);
    return 'pushed';
  } finally {
    pack.stream.destroy();
  }
}

/**
 * "missing refs/heads/x, different refs/tags/y, extra refs/heads/z" (at most a few of each), or
 * undefined when both hold exactly the same refs. `expected` is what should be there.
 */
export function describeRefDifference(expected: ReadonlyMap<string, string>, actual: ReadonlyMap<string, string>): string | undefined {
  const missing = [...expected.keys()].filter((name) => !actual.has(name));
  const different = [...expected].filter(([name, id]) => actual.has(name) && actual.get(name) !== id).map(([name]) => name);
  const extra = [...actual.keys()].filter((name) => !expected.has(name));
  const parts = [
    list('missing', missing),
    list('different', different),
    list('extra', extra),
  ].filter(Boolean);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

function list(label: string, names: string[]): string | undefined {
  if (names.length === 0) return undefined;
  const shown = names.sort().slice(0, 5).join(', ');
  return `${names.length} ${label}: ${shown}${names.length > 5 ? ', …' : ''}`;
}

async function sendPush(repo: RepoUrl, advertisement: PushAdvertisement, request: PushRequest, pack: PackSource, options: SmartHttpOptions): Promise<PushReport> {
  const offered = advertisement.capabilities;
  // Without report-status the server says nothing about the outcome, and a pack with offset
  // deltas (what mirror asks for) cannot be sent to a server that does not take them.
  if (!offered.has('report-status')) throw new ProtocolError('the server does not offer report-status, so the outcome of a push could not be known');
  if (!offered.has('ofs-delta')) throw new ProtocolError('the server does not accept ofs-delta packs, which the stored pack may contain');
  const sideBand = offered.has('side-band-64k');
  // All refs or none: a failed push never leaves a half-restored repository behind.
  const capabilities = ['report-status', sideBand ? 'side-band-64k' : undefined, offered.has('atomic') ? 'atomic' : undefined, `agent=${options.userAgent}`];
  if (offered.has('object-format')) capabilities.push(`object-format=${request.objectFormat}`);
  const zero = '0'.repeat(request.objectFormat === 'sha256' ? 64 : 40);
  const names = [...request.refs.keys()].sort();
  const lines = names.map((name, index) => pktLine(`${zero} ${request.refs.get(name)} ${name}${index === 0 ? `\0${capabilities.filter(Boolean).join(' ')}` : ''}\n`));
  lines.push(Buffer.from(FLUSH));

  const progress = new ProgressTail();
  const body = { stream: checkedPack(pack.stream, request.objectFormat), bytes: pack.bytes };
  const response = await postReceivePack(repo, advertisement.base, Buffer.concat(lines), body, advertisement.http);
  const outer = new PktLineReader(response);
  try {
    const reader = sideBand ? new PktLineReader(readSideBand(outer, progress, PUSH_WORDING)) : outer;
    return await readReport(reader);
  } catch (error) {
    if (error instanceof RemoteError || error instanceof ProtocolError) {
      const said = progress.text();
      if (said && !error.message.includes(said)) error.message += ` (server said: ${said})`;
      throw error;
    }
    throw describeNetworkError(error, repo, options.credentials);
  } finally {
    await outer.close();
  }
}

/** report-status (gitprotocol-pack): `unpack ok|<reason>`, then `ok <ref>` or `ng <ref> <reason>` per command, then a flush. */
async function readReport(reader: PktLineReader): Promise<PushReport> {
  const first = await reader.read();
  const text = first && pktText(first);
  if (text?.startsWith('ERR ')) throw new RemoteError(`the server refused the push: ${text.slice(4)}`);
  if (!text?.startsWith('unpack ')) {
    throw new ProtocolError(`the server ended the push without reporting its result (got ${JSON.stringify(text ?? first?.kind ?? 'end of stream')}); run restore-git again, it checks what the repository holds`);
  }
  const report: PushReport = { unpack: text.slice('unpack '.length), refs: new Map() };
  for (;;) {
    const pkt = await reader.read();
    if (!pkt) throw new ProtocolError('the push report ended early; run restore-git again, it checks what the repository holds');
    if (pkt.kind === 'flush') return report;
    const line = pktText(pkt) ?? '';
    const match = /^(ok|ng) (\S+)(?: (.*))?$/.exec(line);
    if (!match) throw new ProtocolError(`malformed push report line ${JSON.stringify(line)}`);
    report.refs.set(match[2]!, match[1] === 'ok' ? undefined : match[3] ?? 'rejected');
  }
}

function checkReport(report: PushReport, refs: ReadonlyMap<string, string>): void {
  if (report.unpack !== 'ok') {
    throw new PushFailedError(`the server could not store the pack (unpack ${report.unpack}); no ref was created — check the server's logs and disk space, then run restore-git again`);
  }
  const rejected = [...report.refs].filter((entry): entry is [string, string] => entry[1] !== undefined);
  const unreported = [...refs.keys()].filter((name) => !report.refs.has(name));
  if (rejected.length === 0 && unreported.length === 0) return;
  // In an atomic push one refusal fails every other ref too; the refusal is what the user must see.
  const causes = rejected.filter(([, reason]) => !/^atomic push fail/.test(reason));
  const shown = (causes.length > 0 ? causes : rejected).slice(0, 5).map(([name, reason]) => `${name} (${reason})`);
  const more = (causes.length > 0 ? causes : rejected).length - shown.length;
  if (more > 0) shown.push(`and ${more} more`);
  if (unreported.length > 0) shown.push(`${unreported.length} not reported: ${unreported.slice(0, 5).join(', ')}`);
  const atomic = causes.length > 0 && causes.length < rejected.length ? `; the push is atomic, so none of its ${refs.size} refs was created` : '';
  throw new PushFailedError(`the server rejected the push: ${shown.join(', ')}${atomic}; a branch or tag protection rule or a server hook may forbid creating these refs`);
}

/**
 * The pack as it streams to the server, with its checksum checked on the way. The last chunk is
 * held back until the check passed, so a damaged pack never reaches the server whole.
 */
function checkedPack(stream: Readable, objectFormat: ObjectFormat): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    const checker = new PackChecker(objectFormat);
    let held: Buffer | undefined;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        checker.update(chunk);
        if (held) yield held;
        held = chunk;
      }
      checker.finish();
    } catch (error) {
      if (!(error instanceof PackError)) throw error;
      throw new PackError(`the stored bundle's pack is damaged (${error.message}), so the push was stopped before it completed and no ref was created; run argocd-dr verify on the store and mirror the repository again`);
    }
    if (held) yield held;
  }
  return Readable.from(chunks(), { objectMode: false });
}
