import { createHash, type Hash } from 'node:crypto';
import type { ObjectFormat } from './ref-advertisement.js';

export interface PackSummary {
  /** Object count from the pack header. */
  objects: number;
  /** The pack's trailing checksum (SHA-1, or SHA-256 in a SHA-256 repository), hex. */
  checksum: string;
  bytes: number;
}

export class PackError extends Error {}

const HEADER_LENGTH = 12;

/**
 * Checks a pack as its bytes stream past, without indexing it: the `PACK` signature, version 2
 * or 3, the object count, and the trailing checksum over everything before it. Holding back the
 * last hash-length bytes is all the state it needs, so memory is flat for any pack size.
 */
export class PackChecker {
  private readonly hash: Hash;
  private readonly trailerLength: number;
  private header: Buffer = Buffer.alloc(0);
  private tail: Buffer = Buffer.alloc(0);
  private objectCount: number | undefined;
  bytes = 0;

  constructor(objectFormat: ObjectFormat) {
    this.hash = createHash(objectFormat === 'sha256' ? 'sha256' : 'sha1');
    this.trailerLength = objectFormat === 'sha256' ? 32 : 20;
  }

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.objectCount === undefined) this.readHeader(chunk);
    if (chunk.length >= this.trailerLength) {
      if (this.tail.length > 0) this.hash.update(this.tail);
      this.hash.update(chunk.subarray(0, chunk.length - this.trailerLength));
      this.tail = chunk.subarray(chunk.length - this.trailerLength);
    } else {
      const combined = Buffer.concat([this.tail, chunk]);
      const keep = Math.min(combined.length, this.trailerLength);
      if (combined.length > keep) this.hash.update(combined.subarray(0, combined.length - keep));
      this.tail = combined.subarray(combined.length - keep);
    }
  }

  /** Call after the last byte; throws a PackError when the pack is short or its checksum wrong. */
  finish(): PackSummary {
    if (this.objectCount === undefined || this.bytes < HEADER_LENGTH + this.trailerLength) {
      throw new PackError(`the pack ended after ${this.bytes} bytes, before its header and trailer were complete`);
    }
    const expected = this.hash.digest('hex');
    const trailer = this.tail.toString('hex');
    if (trailer !== expected) {
      throw new PackError(`the pack's trailing checksum ${trailer} does not match its content (${expected}); the transfer was cut or corrupted`);
    }
    return { objects: this.objectCount, checksum: trailer, bytes: this.bytes };
  }

  private readHeader(chunk: Buffer): void {
    this.header = Buffer.concat([this.header, chunk.subarray(0, HEADER_LENGTH - this.header.length)]);
    if (this.header.length < HEADER_LENGTH) return;
    if (this.header.toString('latin1', 0, 4) !== 'PACK') {
      throw new PackError(`the server sent data that is not a pack (starts with ${JSON.stringify(this.header.toString('latin1', 0, 4))})`);
    }
    const version = this.header.readUInt32BE(4);
    if (version !== 2 && version !== 3) throw new PackError(`unsupported pack version ${version}`);
    this.objectCount = this.header.readUInt32BE(8);
  }
}
