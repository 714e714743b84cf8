import type { ObjectFormat } from '../ref-advertisement.js';

/** Pack entry kinds (gitformat-pack); 1-4 are also the object types. */
export const COMMIT = 1;
export const TREE = 2;
export const BLOB = 3;
export const TAG = 4;
export const OFS_DELTA = 6;
export const REF_DELTA = 7;
export const TYPE_NAMES = ['', 'commit', 'tree', 'blob', 'tag'] as const;
/** In `type`: a delta some resolver claimed and could not apply (0 means not reached at all). */
export const UNRESOLVABLE = 255;

/** Whether the entry's object is known: a whole object, or a delta that was applied. */
export function isResolved(table: PackTable, index: number): boolean {
  const type = table.type[index]!;
  return type >= COMMIT && type <= TAG;
}

/**
 * Everything known about a pack's entries, in typed arrays over SharedArrayBuffers so the delta
 * resolver workers read and fill the same memory: a few dozen bytes per object, nothing per
 * object on the JS heap.
 */
export interface PackTable {
  objectFormat: ObjectFormat;
  hashLength: number;
  /** Entries found by the first pass. */
  count: number;
  /** Offset of each entry's header in the pack; [count] is where the trailer starts. */
  offset: Float64Array;
  /** Offset of each entry's compressed data. */
  dataOffset: Float64Array;
  /** Pack entry kind: 1-4 objects, 6 OFS_DELTA, 7 REF_DELTA. */
  kind: Uint8Array;
  /** Declared inflated size (for deltas: of the delta data). */
  size: Float64Array;
  /** Object type once known (0 while a delta is unresolved). */
  type: Uint8Array;
  /** Index of the entry a delta applies to (-1 for whole objects or unknown yet). */
  base: Int32Array;
  /** REF_DELTA base ids, hashLength bytes per entry. */
  refBase: Uint8Array;
  /** Object ids, hashLength bytes per entry. */
  ids: Uint8Array;
  /** OFS_DELTA children of each entry: childIndex[childStart[i] .. childStart[i+1]). */
  childStart: Int32Array;
  childIndex: Int32Array;
  /** REF_DELTA entries sorted by base id, for finding the children of a resolved object. */
  refOrder: Int32Array;
  /** The pack's bytes, when it was small enough to keep in memory. */
  pack?: SharedArrayBuffer;
  /** Deltas resolved so far, counted by every resolver thread, for progress. */
  resolved: Int32Array;
}

function shared<T extends Float64Array | Uint8Array | Int32Array>(Kind: new (buffer: SharedArrayBuffer) => T, bytesPerElement: number, length: number): T {
  return new Kind(new SharedArrayBuffer(Math.max(1, length) * bytesPerElement));
}

export function createPackTable(objectFormat: ObjectFormat, capacity: number): PackTable {
  const hashLength = objectFormat === 'sha256' ? 32 : 20;
  const base = shared(Int32Array, 4, capacity);
  base.fill(-1);
  return {
    objectFormat,
    hashLength,
    count: 0,
    offset: shared(Float64Array, 8, capacity + 1),
    dataOffset: shared(Float64Array, 8, capacity),
    kind: shared(Uint8Array, 1, capacity),
    size: shared(Float64Array, 8, capacity),
    type: shared(Uint8Array, 1, capacity),
    base,
    refBase: shared(Uint8Array, 1, capacity * hashLength),
    ids: shared(Uint8Array, 1, capacity * hashLength),
    childStart: shared(Int32Array, 4, capacity + 1),
    childIndex: shared(Int32Array, 4, 0),
    refOrder: shared(Int32Array, 4, 0),
    resolved: shared(Int32Array, 4, 1),
  };
}

/** Links deltas to their bases: OFS children by base index, REF deltas sorted by base id. */
export function linkDeltas(table: PackTable): void {
  const { count, kind, base, childStart } = table;
  let refCount = 0;
  for (let i = 0; i < count; i++) {
    if (kind[i] === OFS_DELTA) childStart[base[i]! + 1]!++;
    else if (kind[i] === REF_DELTA) refCount++;
  }
  for (let i = 0; i < count; i++) childStart[i + 1]! += childStart[i]!;
  const childIndex = shared(Int32Array, 4, childStart[count]!);
  const fill = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    if (kind[i] === OFS_DELTA) {
      const parent = base[i]!;
      childIndex[childStart[parent]! + fill[parent]!++] = i;
    }
  }
  const refOrder = shared(Int32Array, 4, refCount);
  let next = 0;
  for (let i = 0; i < count; i++) if (kind[i] === REF_DELTA) refOrder[next++] = i;
  const h = table.hashLength;
  const refBase = table.refBase;
  refOrder.sort((a, b) => compareIds(refBase, a * h, refBase, b * h, h));
  table.childIndex = childIndex;
  table.refOrder = refOrder;
}

export function compareIds(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number, length: number): number {
  for (let i = 0; i < length; i++) {
    const d = a[aOffset + i]! - b[bOffset + i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Calls `visit` for each REF_DELTA whose base id is `id` (at `offset`). */
export function forEachRefChild(table: PackTable, id: Uint8Array, offset: number, visit: (child: number) => void): void {
  const { refOrder, refBase, hashLength: h } = table;
  let low = 0;
  let high = refOrder.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareIds(refBase, refOrder[middle]! * h, id, offset, h) < 0) low = middle + 1;
    else high = middle;
  }
  for (let i = low; i < refOrder.length && compareIds(refBase, refOrder[i]! * h, id, offset, h) === 0; i++) visit(refOrder[i]!);
}

export function idHex(ids: Uint8Array, index: number, hashLength: number): string {
  return Buffer.from(ids.buffer, ids.byteOffset + index * hashLength, hashLength).toString('hex');
}

/**
 * Object id → entry index, by open addressing over the ids themselves (they are uniformly
 * random, so their first four bytes make a perfect hash). Reports duplicates as it builds.
 */
export class ObjectIndex {
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(private readonly table: PackTable, onDuplicate: (first: number, second: number) => void) {
    let capacity = 1024;
    while (capacity < table.count * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.mask = capacity - 1;
    const { ids, hashLength: h } = table;
    for (let i = 0; i < table.count; i++) {
      if (!isResolved(table, i)) continue;
      let slot = this.hash(ids, i * h);
      for (;;) {
        const occupant = this.slots[slot]!;
        if (occupant === 0) {
          this.slots[slot] = i + 1;
          break;
        }
        if (compareIds(ids, (occupant - 1) * h, ids, i * h, h) === 0) {
          onDuplicate(occupant - 1, i);
          break;
        }
        slot = (slot + 1) & this.mask;
      }
    }
  }

  /** Entry index of the object, or -1. */
  find(id: Uint8Array, offset = 0): number {
    const { ids, hashLength: h } = this.table;
    let slot = this.hash(id, offset);
    for (;;) {
      const occupant = this.slots[slot]!;
      if (occupant === 0) return -1;
      if (compareIds(ids, (occupant - 1) * h, id, offset, h) === 0) return occupant - 1;
      slot = (slot + 1) & this.mask;
    }
  }

  findHex(hex: string): number {
    const bytes = Buffer.from(hex, 'hex');
    return bytes.length === this.table.hashLength ? this.find(bytes) : -1;
  }

  private hash(id: Uint8Array, offset: number): number {
    return ((id[offset]! << 24) | (id[offset + 1]! << 16) | (id[offset + 2]! << 8) | id[offset + 3]!) & this.mask;
  }
}
