/** One entry of a tree object: mode (as octal digits read in base 8), name, and where its id is. */
export interface TreeEntry {
  mode: number;
  name: string;
  /** Offset of the raw id inside the tree's content. */
  idOffset: number;
}

export const MODE_TREE = 0o40000;
export const MODE_GITLINK = 0o160000;

/** Lists a (verified) tree's entries. */
export function treeEntries(content: Uint8Array, hashLength: number): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let p = 0;
  while (p < content.length) {
    let mode = 0;
    while (p < content.length && content[p] !== 0x20) mode = mode * 8 + (content[p++]! - 0x30);
    const nameStart = ++p;
    while (p < content.length && content[p] !== 0) p++;
    const name = Buffer.from(content.buffer, content.byteOffset + nameStart, p - nameStart).toString('utf8');
    entries.push({ mode, name, idOffset: p + 1 });
    p += 1 + hashLength;
  }
  return entries;
}
