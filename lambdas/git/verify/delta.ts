/**
 * Git's delta format (gitformat-pack): source size, target size, then copy and insert
 * instructions. Every bound is checked: a damaged delta is an error, never a crash or a huge
 * allocation.
 */
export class DeltaError extends Error {}

/** Reads the two size headers without applying the delta. */
export function deltaSizes(delta: Uint8Array): { source: number; target: number; start: number } {
  let position = 0;
  const read = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (position >= delta.length) throw new DeltaError('delta ends inside its size header');
      const byte = delta[position++]!;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) return value;
      if (shift > 63) throw new DeltaError('delta size header is too long');
    }
  };
  const source = read();
  const target = read();
  return { source, target, start: position };
}

export function applyDelta(base: Buffer, delta: Uint8Array): Buffer {
  const { source, target, start } = deltaSizes(delta);
  if (source !== base.length) throw new DeltaError(`delta expects a base of ${source} bytes, the base has ${base.length}`);
  // Check every instruction before allocating, so a lying header cannot make us allocate gigabytes.
  if (checkInstructions(base.length, delta, start) !== target) throw new DeltaError(`delta instructions do not produce the ${target} bytes its header says`);
  const out = Buffer.allocUnsafe(target);
  let written = 0;
  let position = start;
  while (position < delta.length) {
    const op = delta[position]!;
    if (op & 0x80) {
      position = decodeCopy(delta, position);
      const offset = copyOffset;
      const size = copySize;
      // Native copy for runs; a loop is cheaper than a call for the few-byte copies deltas are full of.
      if (size > 32) base.copy(out, written, offset, offset + size);
      else for (let i = 0; i < size; i++) out[written + i] = base[offset + i]!;
      written += size;
    } else {
      position++;
      for (let i = 0; i < op; i++) out[written + i] = delta[position + i]!;
      position += op;
      written += op;
    }
  }
  return out;
}

/** Walks the instructions, checking each against the base and the data; returns the bytes they produce. */
function checkInstructions(baseLength: number, delta: Uint8Array, start: number): number {
  let produced = 0;
  let position = start;
  while (position < delta.length) {
    const op = delta[position]!;
    if (op & 0x80) {
      position = decodeCopy(delta, position);
      if (position > delta.length) throw new DeltaError('delta ends inside a copy instruction');
      if (copyOffset + copySize > baseLength) throw new DeltaError('delta copies bytes from outside its base');
      produced += copySize;
    } else if (op !== 0) {
      position += 1 + op;
      if (position > delta.length) throw new DeltaError('delta inserts past its end');
      produced += op;
    } else {
      throw new DeltaError('delta has a reserved zero instruction');
    }
    if (produced > 0x7fffffff) throw new DeltaError('delta produces more than 2 GiB');
  }
  return produced;
}

// decodeCopy's results: module variables rather than an object, as this runs for every instruction.
let copyOffset = 0;
let copySize = 0;

/** Decodes the copy instruction at `position` into copyOffset/copySize; returns the next position. */
function decodeCopy(delta: Uint8Array, position: number): number {
  const op = delta[position++]!;
  let offset = 0;
  let size = 0;
  if (op & 0x01) offset = delta[position++]!;
  if (op & 0x02) offset |= delta[position++]! << 8;
  if (op & 0x04) offset |= delta[position++]! << 16;
  if (op & 0x08) offset += delta[position++]! * 0x1000000;
  if (op & 0x10) size = delta[position++]!;
  if (op & 0x20) size |= delta[position++]! << 8;
  if (op & 0x40) size |= delta[position++]! << 16;
  copyOffset = offset;
  copySize = size === 0 ? 0x10000 : size;
  return position;
}
