/**
 * Git's pkt-line framing (gitprotocol-common): four hex digits of length, then the payload.
 * 0000 is a flush, 0001 a delimiter and 0002 a response-end (protocol v2).
 */

export type Pkt =
  | { kind: 'data'; data: Buffer }
  | { kind: 'flush' }
  | { kind: 'delim' }
  | { kind: 'response-end' };

const MAX_PKT_LENGTH = 65520;

export const FLUSH = '0000';
export const DELIM = '0001';

/** Encodes one data pkt-line; text lines should end with '\n' as git sends them. */
export function pktLine(payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.length + 4 > MAX_PKT_LENGTH) throw new Error(`pkt-line too long: ${body.length} bytes`);
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0'), 'ascii'), body]);
}

/** The text of a data pkt without its trailing newline. */
export function pktText(pkt: Pkt): string | undefined {
  if (pkt.kind !== 'data') return undefined;
  const end = pkt.data.length > 0 && pkt.data[pkt.data.length - 1] === 0x0a ? pkt.data.length - 1 : pkt.data.length;
  return pkt.data.toString('utf8', 0, end);
}

export class ProtocolError extends Error {}

/**
 * Reads pkt-lines from a byte stream without copying payloads that sit inside one chunk, which
 * is nearly every 64 KiB side-band packet of a pack: the relay stays cheap whatever the size.
 */
export class PktLineReader {
  private readonly chunks: AsyncIterator<Buffer>;
  /** Unread bytes, as slices of the chunks they arrived in. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private ended = false;
  /** Bytes taken from the underlying stream so far; used in messages about cut connections. */
  bytesRead = 0;

  constructor(source: AsyncIterable<Buffer | Uint8Array | string>) {
    const iterator = source[Symbol.asyncIterator]();
    this.chunks = {
      next: async () => {
        const result = await iterator.next();
        if (result.done) return { done: true, value: undefined };
        const value = result.value;
        return { done: false, value: typeof value === 'string' ? Buffer.from(value) : Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength) };
      },
      return: async () => {
        await iterator.return?.();
        return { done: true, value: undefined };
      },
    };
  }

  /** Next pkt, or undefined at a clean end of stream (no partial pkt pending). */
  async read(): Promise<Pkt | undefined> {
    if (!(await this.fill(4))) {
      if (this.pendingBytes === 0) return undefined;
      throw new ProtocolError(`stream ended inside a pkt-line length after ${this.bytesRead} bytes`);
    }
    const lengthText = this.take(4).toString('latin1');
    if (!/^[0-9a-f]{4}$/i.test(lengthText)) {
      throw new ProtocolError(`malformed pkt-line length ${JSON.stringify(lengthText)} after ${this.bytesRead - this.pendingBytes - 4} bytes`);
    }
    const length = parseInt(lengthText, 16);
    if (length < 4) {
      if (length === 0) return { kind: 'flush' };
      if (length === 1) return { kind: 'delim' };
      if (length === 2) return { kind: 'response-end' };
      throw new ProtocolError(`invalid pkt-line length ${lengthText}`);
    }
    if (!(await this.fill(length - 4))) {
      throw new ProtocolError(`stream ended inside a pkt-line (wanted ${length - 4} bytes, ${this.pendingBytes} arrived) after ${this.bytesRead} bytes`);
    }
    return { kind: 'data', data: this.take(length - 4) };
  }

  /** The bytes after the last pkt read, unframed: for a v0 pack sent without side-band. */
  async *rest(): AsyncGenerator<Buffer> {
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    yield* pending;
    for (;;) {
      const next = await this.chunks.next();
      if (next.done) return;
      this.bytesRead += next.value.length;
      yield next.value;
    }
  }

  /** Stops reading the source (closes the response). */
  async close(): Promise<void> {
    this.ended = true;
    await this.chunks.return?.();
  }

  /**
   * Removes `n` buffered bytes: a slice of one chunk when they sit in one (nearly always), else
   * one copy of exactly those bytes, so chunk boundaries never cost more than the packet itself.
   */
  private take(n: number): Buffer {
    const first = this.pending[0]!;
    this.pendingBytes -= n;
    if (first.length >= n) {
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    while (copied < n) {
      const chunk = this.pending[0]!;
      const used = Math.min(chunk.length, n - copied);
      chunk.copy(out, copied, 0, used);
      copied += used;
      if (used === chunk.length) this.pending.shift();
      else this.pending[0] = chunk.subarray(used);
    }
    return out;
  }

  private async fill(wanted: number): Promise<boolean> {
    while (this.pendingBytes < wanted) {
      if (this.ended) return false;
      const next = await this.chunks.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.bytesRead += next.value.length;
      if (next.value.length > 0) {
        this.pending.push(next.value);
        this.pendingBytes += next.value.length;
      }
    }
    return true;
  }
}
