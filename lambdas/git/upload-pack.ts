import { DELIM, FLUSH, PktLineReader, ProtocolError, pktLine, pktText, type Pkt } from './pkt-line.js';
import type { RefAdvertisement } from './ref-advertisement.js';
import type { UploadPackConnection } from './transport.js';

/** The server reported a failure in-band (side-band 3 or an ERR line). */
export class RemoteError extends Error {}

/**
 * Asks for a full, self-contained pack of `wants` — no haves, no thin pack, no shallow — and
 * yields the pack bytes as they arrive, demultiplexed from side-band-64k.
 */
export async function* fetchPack(
  connection: UploadPackConnection,
  advertisement: RefAdvertisement,
  wants: readonly string[],
): AsyncGenerator<Buffer> {
  const v2 = advertisement.protocol === 2;
  const request: FetchRequest = v2 ? fetchRequestV2(advertisement, wants, connection.userAgent) : fetchRequestV0(advertisement, wants, connection.userAgent);
  const reader = await connection.request(request.body, v2);
  const progress = new ProgressTail();
  try {
    if (v2) yield* readFetchResponseV2(reader, progress);
    else yield* readFetchResponseV0(reader, request.sideBand, progress);
  } catch (error) {
    if (error instanceof RemoteError || error instanceof ProtocolError) {
      const said = progress.text();
      if (said && !error.message.includes(said)) error.message += ` (server progress: ${said})`;
      throw error;
    }
    throw connection.describeError(error);
  } finally {
    await connection.release(reader);
  }
}

type SideBand = 'side-band-64k' | 'side-band' | 'none';
interface FetchRequest {
  body: Buffer;
  sideBand: SideBand;
}

function fetchRequestV2(advertisement: RefAdvertisement, wants: readonly string[], userAgent: string): FetchRequest {
  if (!advertisement.capabilities.has('fetch')) throw new ProtocolError('the server speaks protocol v2 but does not offer fetch');
  const lines = [pktLine('command=fetch\n'), pktLine(`agent=${userAgent}\n`)];
  if (advertisement.capabilities.has('object-format')) lines.push(pktLine(`object-format=${advertisement.objectFormat}\n`));
  lines.push(Buffer.from(DELIM), pktLine('ofs-delta\n'));
  for (const want of wants) lines.push(pktLine(`want ${want}\n`));
  lines.push(pktLine('done\n'), Buffer.from(FLUSH));
  // v2 always side-bands the packfile section.
  return { body: Buffer.concat(lines), sideBand: 'side-band-64k' };
}

function fetchRequestV0(advertisement: RefAdvertisement, wants: readonly string[], userAgent: string): FetchRequest {
  const offered = advertisement.capabilities;
  const sideBand: SideBand = offered.has('side-band-64k') ? 'side-band-64k' : offered.has('side-band') ? 'side-band' : 'none';
  // Only capabilities the server offered may be requested; no multi_ack, so one NAK comes back.
  const capabilities = [sideBand === 'none' ? undefined : sideBand, offered.has('ofs-delta') ? 'ofs-delta' : undefined, `agent=${userAgent}`];
  if (offered.has('object-format')) capabilities.push(`object-format=${advertisement.objectFormat}`);
  const lines = wants.map((want, index) => pktLine(index === 0 ? `want ${want} ${capabilities.filter(Boolean).join(' ')}\n` : `want ${want}\n`));
  lines.push(Buffer.from(FLUSH), pktLine('done\n'));
  return { body: Buffer.concat(lines), sideBand };
}

async function* readFetchResponseV2(reader: PktLineReader, progress: ProgressTail): AsyncGenerator<Buffer> {
  for (;;) {
    const header = await reader.read();
    if (!header) throw new ProtocolError('the fetch response ended before the packfile section');
    const section = pktText(header);
    if (section?.startsWith('ERR ')) throw new RemoteError(`the server refused the fetch: ${section.slice(4)}`);
    switch (section) {
      case 'packfile':
        yield* readSideBand(reader, progress);
        return;
      case 'shallow-info':
        throw new ProtocolError('the server repository is shallow (it sent shallow-info), so a bundle of it would be missing history; mirror from a complete copy');
      case 'packfile-uris':
        throw new ProtocolError('the server offloads part of the pack to packfile URIs, which a self-contained bundle cannot use; ask for a server without uploadpack.blobPackfileUri');
      case 'acknowledgments':
      case 'wanted-refs':
        await skipSection(reader);
        break;
      default:
        throw new ProtocolError(`unexpected fetch response section ${JSON.stringify(section ?? header.kind)}`);
    }
  }
}

async function skipSection(reader: PktLineReader): Promise<void> {
  for (;;) {
    const pkt = await reader.read();
    if (!pkt) throw new ProtocolError('the fetch response ended inside a section');
    if (pkt.kind === 'delim') return;
    if (pkt.kind === 'flush') throw new ProtocolError('the fetch response ended without a packfile');
    const line = pktText(pkt);
    if (line?.startsWith('ERR ')) throw new RemoteError(`the server refused the fetch: ${line.slice(4)}`);
  }
}

async function* readFetchResponseV0(reader: PktLineReader, sideBand: SideBand, progress: ProgressTail): AsyncGenerator<Buffer> {
  const first = await reader.read();
  const text = first && pktText(first);
  if (text?.startsWith('ERR ')) throw new RemoteError(`the server refused the fetch: ${text.slice(4)}`);
  if (text !== 'NAK') throw new ProtocolError(`expected NAK before the pack, got ${JSON.stringify(text ?? first?.kind ?? 'end of stream')}`);
  if (sideBand === 'none') {
    yield* reader.rest();
    return;
  }
  yield* readSideBand(reader, progress);
}

/** How side-band failures are worded for the exchange at hand (fetching a pack, or a push's report). */
export interface SideBandWording {
  /** "the connection ended before …" */
  complete: string;
  /** "the server failed while …" */
  doing: string;
  /** "the server refused …" */
  request: string;
}

const FETCH_WORDING: SideBandWording = { complete: 'the pack was complete', doing: 'sending the pack', request: 'the fetch' };

/**
 * Yields band 1's bytes until the closing flush; band 2 (progress) goes to `progress`, band 3 is
 * the server's fatal error. side-band and side-band-64k frame the same way; only the size differs.
 */
export async function* readSideBand(reader: PktLineReader, progress: ProgressTail, wording: SideBandWording = FETCH_WORDING): AsyncGenerator<Buffer> {
  for (;;) {
    const pkt: Pkt | undefined = await reader.read();
    if (!pkt) throw new ProtocolError(`the connection ended before ${wording.complete} (after ${reader.bytesRead} bytes)`);
    if (pkt.kind === 'flush') return;
    if (pkt.kind !== 'data' || pkt.data.length === 0) throw new ProtocolError('unexpected packet in the side-band stream');
    const band = pkt.data[0];
    const payload = pkt.data.subarray(1);
    if (band === 1) {
      // Empty band-1 packets are keepalives (receive.keepAlive) while the server works.
      if (payload.length > 0) yield payload;
    } else if (band === 2) {
      progress.add(payload);
    } else if (band === 3) {
      throw new RemoteError(`the server failed while ${wording.doing}: ${payload.toString('utf8').trim()}`);
    } else {
      // A server that sent a pkt without a band byte (e.g. ERR) lands here.
      const line = pkt.data.toString('utf8').trim();
      if (line.startsWith('ERR ')) throw new RemoteError(`the server refused ${wording.request}: ${line.slice(4)}`);
      throw new ProtocolError(`unknown side-band channel ${band}`);
    }
  }
}

/** Keeps the last lines the server printed on band 2, to explain a failure that follows. */
export class ProgressTail {
  private lines: string[] = [];
  add(payload: Buffer): void {
    for (const line of payload.toString('utf8').split(/[\r\n]+/)) {
      const trimmed = line.trim();
      if (trimmed) this.lines.push(trimmed);
    }
    if (this.lines.length > 3) this.lines = this.lines.slice(-3);
  }
  text(): string {
    return this.lines.filter((line) => /error|fatal|fail|missing|unable/i.test(line)).join('; ');
  }
}
