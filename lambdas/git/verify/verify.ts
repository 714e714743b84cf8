import { readFile } from 'node:fs/promises';
import { parseSidecar, type RepoSidecar } from '../sidecar.js';
import { readBundleHeader, type BundleHeader } from './bundle-file.js';
import type { BundleReport, Finding } from './findings.js';
import { ATTR_MAX_FILE_SIZE, checkGitattributes, checkGitmodules, failsBundle, type FsckMessageId } from './fsck.js';
import { indexPack, type IndexedPack, type IndexPackOptions } from './index-pack.js';
import { FindingSink } from './object-checker.js';
import { ObjectReader } from './object-reader.js';
import { BLOB, COMMIT, idHex, TAG, TREE, TYPE_NAMES } from './object-table.js';
import { MODE_GITLINK, MODE_TREE, treeEntries } from './tree-entries.js';

export interface VerifyOptions extends IndexPackOptions {
  /** How the report names the bundle (a store key); default: the path. */
  label?: string;
  /**
   * The sidecar `mirror` wrote for this bundle. Default: `<name>.json` beside the file. null: the
   * caller looked and there is none. Without a sidecar the report warns that nothing was compared.
   */
  sidecar?: RepoSidecar | null;
}

/** A verified bundle kept open for lookups (see revision.ts). */
export interface OpenedBundle {
  path: string;
  header: BundleHeader;
  pack: IndexedPack;
}

/**
 * Proves a bundle file is whole: header, pack, every object (git's fsck checks, strict),
 * connectivity from every ref, agreement with its sidecar. Never throws for bad input: whatever
 * the bytes, the answer is a report.
 */
export async function verifyBundleFile(path: string, options: VerifyOptions = {}): Promise<BundleReport> {
  return (await verifyAndOpen(path, options)).report;
}

export async function verifyAndOpen(path: string, options: VerifyOptions = {}): Promise<{ report: BundleReport; opened?: OpenedBundle }> {
  const started = performance.now();
  const findings = new FindingSink();
  let header: BundleHeader | undefined;
  let pack: IndexedPack | undefined;
  try {
    const headerProblems: Finding[] = [];
    header = await readBundleHeader(path, headerProblems);
    for (const problem of headerProblems) findings.add(problem, true);
    if (header) pack = await indexPack(path, header, findings, options);
    // Reading contents back needs a sound pack; a broken one has failed already.
    if (header && pack && findings.errors.length === 0) {
      await checkSpecialBlobs(path, header, pack, findings);
      await reportLfsPointers(path, header, pack, findings);
    }
    if (header && pack) {
      const sidecar = options.sidecar === undefined ? await siblingSidecar(path) : options.sidecar;
      if (sidecar) compareWithSidecar(header, pack, sidecar, findings);
      else findings.warning('sidecarMissing', 'no sidecar (.json) beside the bundle: its refs and sha256 could not be compared with what mirror recorded');
    }
  } catch (error) {
    // A verifier that crashes on bad bytes proves nothing: an unexpected failure is a finding too.
    findings.error('verifyFailed', `verification stopped: ${error instanceof Error ? error.message : String(error)}`);
  }
  findings.summarizeDropped();
  const report: BundleReport = {
    bundle: options.label ?? path,
    ok: findings.errors.length === 0,
    objects: pack?.table.count ?? 0,
    errors: findings.errors,
    warnings: findings.warnings,
    seconds: Math.round((performance.now() - started) / 10) / 100,
  };
  return header && pack ? { report, opened: { path, header, pack } } : { report };
}

async function siblingSidecar(path: string): Promise<RepoSidecar | undefined> {
  if (!path.endsWith('.bundle')) return undefined;
  try {
    return parseSidecar(await readFile(`${path.slice(0, -'.bundle'.length)}.json`, 'utf8'));
  } catch {
    return undefined;
  }
}

function compareWithSidecar(header: BundleHeader, pack: IndexedPack, sidecar: RepoSidecar, findings: FindingSink): void {
  if (sidecar.bundleSha256 && sidecar.bundleSha256 !== pack.bundleSha256) {
    findings.error('sidecarSha256', `the bundle's sha256 ${pack.bundleSha256} differs from the ${sidecar.bundleSha256} its sidecar recorded: the file changed after mirror wrote it`);
  }
  const bundleRefs = new Map(header.refs.map((ref) => [ref.name, ref.id]));
  const recorded = Object.entries(sidecar.refs);
  const differing = recorded.filter(([name, id]) => bundleRefs.get(name) !== id).map(([name]) => name);
  const extra = [...bundleRefs.keys()].filter((name) => !(name in sidecar.refs));
  if (differing.length > 0 || extra.length > 0) {
    findings.error('sidecarRefs', `the bundle's refs differ from its sidecar's: ${[...differing, ...extra].slice(0, 10).join(', ')}${differing.length + extra.length > 10 ? ', …' : ''}`);
  }
  if (sidecar.objectFormat !== header.objectFormat) {
    findings.error('sidecarObjectFormat', `the sidecar says ${sidecar.objectFormat}, the bundle is ${header.objectFormat}`);
  }
}

/**
 * git's fsck_finish: every entry a tree names .gitmodules or .gitattributes must be a blob that
 * passes git's checks of those files.
 */
async function checkSpecialBlobs(path: string, header: BundleHeader, pack: IndexedPack, findings: FindingSink): Promise<void> {
  const { table, index } = pack;
  const h = table.hashLength;
  let reader: ObjectReader | undefined;
  const kinds = [
    { lists: pack.gitmodules, name: '.gitmodules', missing: 'gitmodulesMissing', notBlob: 'gitmodulesBlob', check: checkGitmodules, maxBytes: Infinity },
    { lists: pack.gitattributes, name: '.gitattributes', missing: 'gitattributesMissing', notBlob: 'gitattributesBlob', check: checkGitattributes, maxBytes: ATTR_MAX_FILE_SIZE },
  ] as const;
  try {
    for (const kind of kinds) {
      const seen = new Set<string>();
      for (const list of kind.lists) {
        for (let r = 0; r < list.length; r++) {
          const id = idHex(list.ids, r, h);
          if (seen.has(id)) continue;
          seen.add(id);
          const report = (messageId: FsckMessageId, message: string) => findings.add({ id: messageId, message, object: id }, failsBundle(messageId));
          const found = index.find(list.ids, r * h);
          if (found < 0) report(kind.missing, `blob ${id}: the ${kind.name} it names is not in the bundle`);
          else if (table.type[found] !== BLOB) report(kind.notBlob, `blob ${id}: ${kind.name} is a ${TYPE_NAMES[table.type[found]!]}, not a blob`);
          else {
            reader ??= new ObjectReader(path, header.packOffset, table);
            const { content } = reader.read(found);
            kind.check(content.length > kind.maxBytes ? null : content, id, report);
          }
        }
      }
    }
  } finally {
    reader?.close();
  }
}

/** Counts LFS pointer files in the trees at the ref tips: the bundle has the pointers, not the files. */
async function reportLfsPointers(path: string, header: BundleHeader, pack: IndexedPack, findings: FindingSink): Promise<void> {
  if (pack.lfsPointers.size === 0) return;
  const { table, index } = pack;
  const h = table.hashLength;
  const reader = new ObjectReader(path, header.packOffset, table);
  const seenTrees = new Set<number>();
  const pointers = new Set<number>();
  try {
    const walk = (tree: number): void => {
      if (seenTrees.has(tree)) return;
      seenTrees.add(tree);
      const { content } = reader.read(tree);
      for (const entry of treeEntries(content, h)) {
        if (entry.mode === MODE_GITLINK) continue;
        const child = index.find(content, entry.idOffset);
        if (child < 0) continue;
        if (entry.mode === MODE_TREE) walk(child);
        else if (pack.lfsPointers.has(child)) pointers.add(child);
      }
    };
    for (const ref of header.refs) {
      let at = index.findHex(ref.id);
      // Peel tags down to what they tag.
      for (let hops = 0; at >= 0 && table.type[at] === TAG && hops < 100; hops++) {
        const target = /^object ([0-9a-f]+)/.exec(reader.read(at).content.toString('latin1'));
        at = target ? index.findHex(target[1]!) : -1;
      }
      if (at >= 0 && table.type[at] === COMMIT) {
        const tree = /^tree ([0-9a-f]+)/.exec(reader.read(at).content.toString('latin1'));
        at = tree ? index.findHex(tree[1]!) : -1;
      }
      if (at >= 0 && table.type[at] === TREE) walk(at);
    }
  } finally {
    reader.close();
  }
  if (pointers.size > 0) {
    const total = [...pointers].reduce((sum, pointer) => sum + (pack.lfsPointers.get(pointer) ?? 0), 0);
    findings.warning('lfsPointers', `${pointers.size} Git LFS pointer files at the ref tips (${total} bytes of LFS content): the bundle holds the pointers only; back up the LFS objects separately`);
  }
}
