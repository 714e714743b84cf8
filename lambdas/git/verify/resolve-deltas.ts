import { createHash } from 'node:crypto';
import { applyDelta, DeltaError } from './delta.js';
import type { ObjectChecker } from './object-checker.js';
import { forEachRefChild, idHex, TYPE_NAMES, UNRESOLVABLE, type PackTable } from './object-table.js';
import { EntryError, type PackFile } from './pack-file.js';

// Real packs stay under git's pack.depth limit of 4095; deeper means damage, and recursion must stop.
const MAX_DELTA_DEPTH = 10_000;

/** Object id: hash of `<type> <size>\0<content>`, written into the table. */
export function hashObject(table: PackTable, index: number, type: number, content: Uint8Array): void {
  const hash = createHash(table.objectFormat === 'sha256' ? 'sha256' : 'sha1');
  hash.update(`${TYPE_NAMES[type]} ${content.length}\0`);
  hash.update(content);
  table.ids.set(hash.digest(), index * table.hashLength);
}

/**
 * The second pass of indexing: from each whole object (a root), re-inflate it and apply its
 * deltas depth-first, giving every delta its type, content and id, and checking each object.
 * Roots are taken from a shared counter, so several workers can share one list.
 */
export function resolveDeltaTrees(table: PackTable, file: PackFile, roots: Int32Array, nextRoot: Int32Array, checker: ObjectChecker): void {
  for (;;) {
    const next = Atomics.add(nextRoot, 0, 1);
    if (next >= roots.length) return;
    const root = roots[next]!;
    let content: Buffer;
    try {
      content = file.inflate(root);
    } catch (error) {
      entryProblem(table, checker, root, error);
      continue;
    }
    resolveChildren(table, file, checker, root, content, 1);
  }
}

function resolveChildren(table: PackTable, file: PackFile, checker: ObjectChecker, parent: number, content: Buffer, depth: number): void {
  const { childStart, childIndex, hashLength } = table;
  const hasOfsChildren = childStart[parent + 1]! > childStart[parent]!;
  if (!hasOfsChildren && table.refOrder.length === 0) return;
  if (depth > MAX_DELTA_DEPTH) {
    checker.findings.error('deltaChainTooDeep', `delta chain deeper than ${MAX_DELTA_DEPTH} at offset ${table.offset[parent]}`, idHex(table.ids, parent, hashLength));
    return;
  }
  // This runs for every object: walk the shared arrays, no per-object list of children.
  for (let i = childStart[parent]!; i < childStart[parent + 1]!; i++) resolveChild(table, file, checker, parent, content, childIndex[i]!, depth);
  if (table.refOrder.length > 0) {
    forEachRefChild(table, table.ids, parent * hashLength, (child) => resolveChild(table, file, checker, parent, content, child, depth));
  }
}

function resolveChild(table: PackTable, file: PackFile, checker: ObjectChecker, parent: number, content: Buffer, child: number, depth: number): void {
  const type = table.type[parent]!;
  // Claim the child once: objects with the same id (a damaged or hostile pack) would otherwise
  // resolve the same REF deltas again and again, without end.
  if (Atomics.compareExchange(table.type, child, 0, type) !== 0) return;
  let result: Buffer;
  try {
    result = applyDelta(content, file.inflate(child));
  } catch (error) {
    Atomics.store(table.type, child, UNRESOLVABLE);
    entryProblem(table, checker, child, error);
    return;
  }
  table.base[child] = parent;
  hashObject(table, child, type, result);
  Atomics.add(table.resolved, 0, 1);
  checker.check(child, type, result, idHex(table.ids, child, table.hashLength));
  resolveChildren(table, file, checker, child, result, depth + 1);
}

function entryProblem(table: PackTable, checker: ObjectChecker, index: number, error: unknown): void {
  if (!(error instanceof EntryError) && !(error instanceof DeltaError)) throw error;
  const id = error instanceof DeltaError ? 'deltaCorrupt' : 'packEntryCorrupt';
  checker.findings.error(id, `pack entry ${index} at offset ${table.offset[index]}: ${error.message}`);
}
