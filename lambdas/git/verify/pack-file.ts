import { closeSync, openSync, readSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import type { PackTable } from './object-table.js';

export class EntryError extends Error {}

/**
 * Random access to a pack's entries: from memory when the pack was preloaded, else read from the
 * bundle file; inflated and checked against the declared size.
 */
export class PackFile {
  private readonly fd: number;
  private scratch = Buffer.allocUnsafe(64 * 1024);

  constructor(path: string, private readonly packOffset: number, private readonly table: PackTable) {
    this.fd = openSync(path, 'r');
  }

  close(): void {
    closeSync(this.fd);
  }

  /** The inflated data of entry `index`: a whole object, or the delta for a delta entry. */
  inflate(index: number): Buffer {
    const { dataOffset, offset, size } = this.table;
    const start = dataOffset[index]!;
    const length = offset[index + 1]! - start;
    if (this.table.pack) return inflateEntry(Buffer.from(this.table.pack, start, length), size[index]!).data;
    if (length > this.scratch.length) this.scratch = Buffer.allocUnsafe(Math.max(length, this.scratch.length * 2));
    const read = readSync(this.fd, this.scratch, 0, length, this.packOffset + start);
    if (read !== length) throw new EntryError(`could only read ${read} of ${length} bytes of the entry at offset ${offset[index]}`);
    return inflateEntry(this.scratch.subarray(0, length), size[index]!).data;
  }
}

/**
 * Inflates one entry's zlib stream from `input` (which may run past the stream's end), checking
 * that it inflates to exactly `declaredSize` bytes. Returns the data and the compressed length.
 */
export function inflateEntry(input: Buffer, declaredSize: number): { data: Buffer; consumed: number } {
  let result: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    // The output cap keeps a damaged or hostile entry from inflating without bound.
    result = inflateSync(input, { info: true, maxOutputLength: Math.max(1, declaredSize + 1) }) as unknown as typeof result;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw new EntryError(`inflates to more than its declared ${declaredSize} bytes`);
    if (code === 'Z_BUF_ERROR') throw new EntryError('its compressed data ends early (truncated)');
    throw new EntryError(`its compressed data is damaged (${(error as Error).message})`);
  }
  if (result.buffer.length !== declaredSize) {
    throw new EntryError(`inflates to ${result.buffer.length} bytes, its header declares ${declaredSize}`);
  }
  return { data: result.buffer, consumed: result.engine.bytesWritten };
}
