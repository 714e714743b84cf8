import { applyDelta } from './delta.js';
import { OFS_DELTA, type PackTable } from './object-table.js';
import { PackFile } from './pack-file.js';

// Trees along a walk share their delta bases; keeping recent objects avoids re-inflating chains.
const CACHE_BYTES = 64 * 1024 * 1024;

/**
 * Reads any object of an indexed pack by entry index, rebuilding deltas from their bases, with a
 * small cache of recent objects (as git's delta base cache).
 */
export class ObjectReader {
  private readonly file: PackFile;
  private readonly cache = new Map<number, Buffer>();
  private cachedBytes = 0;

  constructor(path: string, packOffset: number, private readonly table: PackTable) {
    this.file = new PackFile(path, packOffset, table);
  }

  close(): void {
    this.file.close();
  }

  read(index: number): { type: number; content: Buffer } {
    const type = this.table.type[index]!;
    return { type, content: this.content(index) };
  }

  private content(index: number): Buffer {
    const cached = this.cache.get(index);
    if (cached) {
      this.cache.delete(index);
      this.cache.set(index, cached);
      return cached;
    }
    // Walk down to the nearest whole or cached object, then apply deltas back up.
    const chain: number[] = [];
    let at = index;
    let content: Buffer | undefined;
    while (!content) {
      const hit = this.cache.get(at);
      if (hit) content = hit;
      else if (this.table.kind[at]! < OFS_DELTA) content = this.remember(at, this.file.inflate(at));
      else {
        chain.push(at);
        at = this.table.base[at]!;
        if (at < 0) throw new Error(`object at entry ${chain.at(-1)} has no resolved base`);
        if (chain.length > this.table.count) throw new Error(`the delta chain of entry ${index} loops`);
      }
    }
    for (let i = chain.length - 1; i >= 0; i--) content = this.remember(chain[i]!, applyDelta(content, this.file.inflate(chain[i]!)));
    return content;
  }

  private remember(index: number, content: Buffer): Buffer {
    if (content.length > CACHE_BYTES / 4) return content;
    this.cache.set(index, content);
    this.cachedBytes += content.length;
    for (const [key, value] of this.cache) {
      if (this.cachedBytes <= CACHE_BYTES) break;
      this.cache.delete(key);
      this.cachedBytes -= value.length;
    }
    return content;
  }
}
