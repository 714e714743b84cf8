import { buffer } from 'node:stream/consumers';
import type { Store } from '../lambdas/store/store.js';

/** What damageBundle did to a stored bundle. */
export interface BundleDamage {
  /** Store key of the damaged bundle. */
  bundle: string;
  /** Byte offset in the bundle file of the flipped bit. */
  offset: number;
  /** The byte there before and after. */
  before: number;
  after: number;
}

// A pack starts with a 12-byte header ("PACK", version, object count) and ends with its 20-byte (or 32-byte) checksum.
const PACK_HEADER = 12;
const PACK_TRAILER = 32;

/**
 * Flips one bit in the middle of a stored bundle's pack, in place: the bit rot (or tampering) a
 * verify run exists to catch. The bundle's header and the pack's own header and checksum stay
 * intact, so what is wrong is the object data itself.
 */
export async function damageBundle(store: Store, key: string): Promise<BundleDamage> {
  const body = await store.get(key);
  if (!body) throw new Error(`cannot damage ${key}: it is not in ${store.location}`);
  const bytes = await buffer(body);
  const headerEnd = bytes.indexOf('\n\n');
  const packStart = headerEnd + 2;
  const dataStart = packStart + PACK_HEADER;
  const dataEnd = bytes.length - PACK_TRAILER;
  if (headerEnd < 0 || bytes.toString('latin1', packStart, packStart + 4) !== 'PACK' || dataEnd <= dataStart) {
    throw new Error(`cannot damage ${key}: it is not a bundle with object data`);
  }
  const offset = dataStart + Math.floor((dataEnd - dataStart) / 2);
  const before = bytes[offset]!;
  const after = before ^ 0x01;
  bytes[offset] = after;
  await store.put(key, bytes);
  return { bundle: key, offset, before, after };
}
