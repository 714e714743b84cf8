import type { ObjectFormat, ProtocolVersion } from './ref-advertisement.js';

/**
 * `git/<host>/<repo-path>.json`: what the bundle beside it holds and where it came from. The
 * `refs` are exactly the bundle's ref lines (HEAD included), so a later run or a verifier can
 * compare the two; a bundle cannot say which branch HEAD points at, so `head` does.
 */
export interface RepoSidecar {
  schema: 1;
  /** Source URL, never with credentials. */
  url: string;
  status: 'mirrored' | 'empty';
  objectFormat: ObjectFormat;
  /** The branch HEAD points at, when the server said. */
  head: string | null;
  refs: Record<string, string>;
  /** Store key of the bundle; absent for an empty repository, which git cannot bundle. */
  bundle?: string;
  bundleSha256?: string;
  bundleBytes?: number;
  /** The pack's trailing checksum (SHA-1; SHA-256 in a SHA-256 repository). */
  packChecksum?: string;
  objects?: number;
  seconds: number;
  mirroredAt: string;
  protocol: ProtocolVersion;
  tool: string;
}

export function parseSidecar(text: string | undefined): RepoSidecar | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as RepoSidecar;
    return value && value.schema === 1 && typeof value.refs === 'object' && value.refs !== null ? value : undefined;
  } catch {
    // An unreadable sidecar only means the repo is mirrored again.
    return undefined;
  }
}

export function sameRefs(sidecar: RepoSidecar, refs: ReadonlyMap<string, string>, head: string | null, objectFormat: ObjectFormat): boolean {
  const recorded = Object.entries(sidecar.refs);
  return sidecar.objectFormat === objectFormat
    && sidecar.head === head
    && recorded.length === refs.size
    && recorded.every(([name, id]) => refs.get(name) === id);
}
