import type { BundleReport } from './findings.js';
import { ObjectReader } from './object-reader.js';
import { COMMIT, idHex, TAG, TREE } from './object-table.js';
import { MODE_TREE, treeEntries } from './tree-entries.js';
import { verifyAndOpen, type OpenedBundle, type VerifyOptions } from './verify.js';

export type RevisionLookup = { commit: string; ref?: string } | { error: string };

/**
 * Lookups in a verified bundle, for telling whether an Argo CD Application could be restored
 * from it: does its targetRevision resolve, and does its path exist there?
 */
export class BundleRevisions {
  private readonly reader: ObjectReader;

  private constructor(private readonly bundle: OpenedBundle) {
    this.reader = new ObjectReader(bundle.path, bundle.header.packOffset, bundle.pack.table);
  }

  /** Verifies the bundle; lookups are only offered for a bundle that passed. */
  static async open(path: string, options: VerifyOptions = {}): Promise<{ report: BundleReport; revisions?: BundleRevisions }> {
    const { report, opened } = await verifyAndOpen(path, options);
    return report.ok && opened ? { report, revisions: new BundleRevisions(opened) } : { report };
  }

  close(): void {
    this.reader.close();
  }

  /**
   * Resolves a revision as Argo CD's targetRevision names it: HEAD, a branch, a tag, a full ref
   * name, or a full or abbreviated commit id of at least 7 digits (Argo CD's IsTruncatedCommitSHA: fewer is
   * not taken for a commit). Tags are peeled to their commit.
   */
  resolve(revision: string): RevisionLookup {
    const refs = new Map(this.bundle.header.refs.map((ref) => [ref.name, ref.id]));
    const wanted = revision.trim() === '' ? 'HEAD' : revision.trim();
    for (const name of [wanted, `refs/${wanted}`, `refs/tags/${wanted}`, `refs/heads/${wanted}`]) {
      const id = refs.get(name);
      if (id) return this.peelToCommit(id, name);
    }
    if (/^[0-9a-f]{7,64}$/i.test(wanted)) return this.resolveCommitId(wanted.toLowerCase());
    return { error: `${revision} is neither a branch, a tag nor a commit id in the bundle` };
  }

  /** Whether `path` (e.g. apps/guestbook, or a file) exists in the commit's tree. */
  pathExists(commit: string, path: string): boolean {
    const { index, table } = this.bundle.pack;
    const h = table.hashLength;
    const at = index.findHex(commit);
    if (at < 0 || table.type[at] !== COMMIT) return false;
    let current = this.treeOf(at);
    const parts = path.split('/').filter((part) => part !== '' && part !== '.');
    for (let i = 0; i < parts.length; i++) {
      if (current < 0 || table.type[current] !== TREE) return false;
      const content = this.reader.read(current).content;
      const entry = treeEntries(content, h).find((candidate) => candidate.name === parts[i]);
      if (!entry) return false;
      if (i === parts.length - 1) return true;
      current = entry.mode === MODE_TREE ? index.find(content, entry.idOffset) : -1;
    }
    return current >= 0;
  }

  private treeOf(commit: number): number {
    const match = /^tree ([0-9a-f]+)/.exec(this.reader.read(commit).content.toString('latin1'));
    return match ? this.bundle.pack.index.findHex(match[1]!) : -1;
  }

  private peelToCommit(id: string, ref: string): RevisionLookup {
    const { index, table } = this.bundle.pack;
    let at = index.findHex(id);
    for (let hops = 0; at >= 0 && table.type[at] === TAG && hops < 100; hops++) {
      const target = /^object ([0-9a-f]+)/.exec(this.reader.read(at).content.toString('latin1'));
      at = target ? index.findHex(target[1]!) : -1;
    }
    if (at < 0 || table.type[at] !== COMMIT) return { error: `${ref} does not point at a commit` };
    return { commit: this.idOf(at), ref };
  }

  private resolveCommitId(prefix: string): RevisionLookup {
    const { index, table } = this.bundle.pack;
    if (prefix.length === table.hashLength * 2) {
      // A full id (what Argo CD records as deployed) is one index lookup, not a scan of every object.
      const at = index.findHex(prefix);
      return at >= 0 && table.type[at] === COMMIT ? { commit: prefix } : { error: `no commit ${prefix} in the bundle` };
    }
    const matches: number[] = [];
    for (let i = 0; i < table.count && matches.length < 2; i++) {
      if (table.type[i] === COMMIT && this.idOf(i).startsWith(prefix)) matches.push(i);
    }
    if (matches.length === 0) return { error: `no commit ${prefix} in the bundle` };
    if (matches.length > 1) return { error: `${prefix} is ambiguous: more than one commit starts with it` };
    return { commit: this.idOf(matches[0]!) };
  }

  private idOf(index: number): string {
    return idHex(this.bundle.pack.table.ids, index, this.bundle.pack.table.hashLength);
  }
}
