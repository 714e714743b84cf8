import type { ObjectFormat } from '../ref-advertisement.js';
import type { Finding } from './findings.js';
import { checkCommit, checkTag, checkTree, failsBundle, type FsckMessageId } from './fsck.js';
import { BLOB, COMMIT, TAG, TREE } from './object-table.js';

/** Findings of one kind beyond this many are counted, not listed: a report stays readable. */
const MAX_PER_ID = 20;

/** Errors and warnings, at most MAX_PER_ID of each id, with a count of the rest. */
export class FindingSink {
  readonly errors: Finding[] = [];
  readonly warnings: Finding[] = [];
  readonly dropped = new Map<string, { count: number; error: boolean }>();
  private readonly perId = new Map<string, number>();

  add(finding: Finding, error: boolean): void {
    const seen = this.perId.get(finding.id) ?? 0;
    this.perId.set(finding.id, seen + 1);
    if (seen < MAX_PER_ID) {
      (error ? this.errors : this.warnings).push(finding);
    } else {
      const dropped = this.dropped.get(finding.id) ?? { count: 0, error };
      dropped.count++;
      this.dropped.set(finding.id, dropped);
    }
  }

  error(id: string, message: string, object?: string): void {
    this.add(object ? { id, message, object } : { id, message }, true);
  }

  warning(id: string, message: string, object?: string): void {
    this.add(object ? { id, message, object } : { id, message }, false);
  }

  /** Takes in another sink's findings (a worker's), keeping the caps. */
  merge(other: { errors: Finding[]; warnings: Finding[]; dropped: Iterable<[string, { count: number; error: boolean }]> }): void {
    for (const finding of other.errors) this.add(finding, true);
    for (const finding of other.warnings) this.add(finding, false);
    for (const [id, { count, error }] of other.dropped) {
      const dropped = this.dropped.get(id) ?? { count: 0, error };
      dropped.count += count;
      this.dropped.set(id, dropped);
    }
  }

  /** Adds one summary finding per id that had more than MAX_PER_ID. */
  summarizeDropped(): void {
    for (const [id, { count, error }] of this.dropped) {
      (error ? this.errors : this.warnings).push({ id, message: `…and ${count} more ${id} findings` });
    }
    this.dropped.clear();
  }
}

/**
 * The distinct (referenced id, expected type) pairs objects name, with the first object that
 * named each, for the connectivity check. Trees repeat the ids of unchanged entries in every
 * version, so keeping each pair once cuts millions of references to a few hundred thousand.
 */
export class ReferenceList {
  ids: Uint8Array;
  types: Uint8Array;
  from: Int32Array;
  length = 0;
  private slots: Int32Array;

  constructor(private readonly hashLength: number, capacity = 4096) {
    this.ids = new Uint8Array(capacity * hashLength);
    this.types = new Uint8Array(capacity);
    this.from = new Int32Array(capacity);
    this.slots = new Int32Array(capacity * 2);
  }

  add(from: number, type: number, id: Uint8Array, offset: number): void {
    const h = this.hashLength;
    const mask = this.slots.length - 1;
    let slot = ((id[offset]! << 24) | (id[offset + 1]! << 16) | (id[offset + 2]! << 8) | id[offset + 3]!) & mask;
    for (;;) {
      const occupant = this.slots[slot]!;
      if (occupant === 0) break;
      if (this.types[occupant - 1] === type && sameId(this.ids, (occupant - 1) * h, id, offset, h)) return;
      slot = (slot + 1) & mask;
    }
    if (this.length === this.types.length) {
      this.grow();
      this.add(from, type, id, offset);
      return;
    }
    this.ids.set(id.subarray(offset, offset + h), this.length * h);
    this.types[this.length] = type;
    this.from[this.length] = from;
    this.slots[slot] = ++this.length;
  }

  private grow(): void {
    const capacity = this.types.length * 2;
    const ids = new Uint8Array(capacity * this.hashLength);
    ids.set(this.ids);
    const types = new Uint8Array(capacity);
    types.set(this.types);
    const from = new Int32Array(capacity);
    from.set(this.from);
    this.ids = ids;
    this.types = types;
    this.from = from;
    // Rehash into a table twice the capacity, keeping it at most half full.
    const h = this.hashLength;
    const slots = new Int32Array(capacity * 2);
    const mask = slots.length - 1;
    for (let i = 0; i < this.length; i++) {
      const o = i * h;
      let slot = ((ids[o]! << 24) | (ids[o + 1]! << 16) | (ids[o + 2]! << 8) | ids[o + 3]!) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = i + 1;
    }
    this.slots = slots;
  }
}

function sameId(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}

const LFS_POINTER = Buffer.from('version https://git-lfs.github.com/spec/v1');
// LFS pointer files are small by specification; anything larger is content.
const LFS_POINTER_MAX = 1024;

/**
 * Runs git's fsck checks on each object as its content becomes known, and collects what the
 * later steps need: references for connectivity, .gitmodules blobs to check, LFS pointers.
 */
export class ObjectChecker {
  readonly findings = new FindingSink();
  readonly references: ReferenceList;
  /** Ids of entries that trees name .gitmodules, and .gitattributes: git checks those blobs' content. */
  readonly gitmodules: ReferenceList;
  readonly gitattributes: ReferenceList;
  /** Entry index → pointed-to size, for blobs that are LFS pointers. */
  readonly lfsPointers = new Map<number, number>();
  private current = -1;
  private currentId = '';

  constructor(private readonly objectFormat: ObjectFormat) {
    const hashLength = objectFormat === 'sha256' ? 32 : 20;
    this.references = new ReferenceList(hashLength);
    this.gitmodules = new ReferenceList(hashLength, 16);
    this.gitattributes = new ReferenceList(hashLength, 16);
  }

  private readonly report = (id: FsckMessageId, message: string): void => {
    this.findings.add({ id, message, object: this.currentId }, failsBundle(id));
  };

  private readonly reference = (type: 1 | 2 | 3 | 4, id: Uint8Array, offset: number): void => {
    this.references.add(this.current, type, id, offset);
  };

  private readonly gitmodulesEntry = (id: Uint8Array, offset: number): void => {
    this.gitmodules.add(this.current, BLOB, id, offset);
  };

  private readonly treeOptions = {
    gitattributes: (id: Uint8Array, offset: number): void => {
      this.gitattributes.add(this.current, BLOB, id, offset);
    },
  };

  check(index: number, type: number, content: Buffer, idHex: string): void {
    this.current = index;
    this.currentId = idHex;
    switch (type) {
      case COMMIT:
        checkCommit(content, idHex, this.objectFormat, this.report, this.reference);
        break;
      case TREE:
        checkTree(content, idHex, this.objectFormat, this.report, this.reference, this.gitmodulesEntry, this.treeOptions);
        break;
      case TAG:
        // git's tag parser refuses a tag this short before fsck looks at it (index-pack: "invalid tag").
        if (content.length < (this.objectFormat === 'sha256' ? 64 : 40) + 24) {
          this.findings.error('badTagObject', `tag ${idHex}: too short (${content.length} bytes) for git to parse`, idHex);
        }
        checkTag(content, idHex, this.objectFormat, this.report, this.reference);
        break;
      case BLOB:
        if (content.length <= LFS_POINTER_MAX && content.subarray(0, LFS_POINTER.length).equals(LFS_POINTER)) {
          const size = /\nsize (\d+)/.exec(content.toString('latin1'));
          this.lfsPointers.set(index, size ? Number(size[1]) : 0);
        }
        break;
    }
  }
}
