import { open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { git, gitRefs, reachableObjects, tempDir } from '../../demo/git.js';

async function objectsOfHeadsAndTags(repoDir: string): Promise<Set<string>> {
  const out = await git(['rev-list', '--objects', '--branches', '--tags', 'HEAD'], { cwd: repoDir });
  return new Set(out.split('\n').filter(Boolean).map((line) => line.split(' ')[0]!));
}

/** The pack inside a bundle file: everything after the blank line that ends the header. */
export async function packOfBundle(bundlePath: string): Promise<Buffer> {
  const bytes = await readFile(bundlePath);
  const end = bytes.indexOf('\n\n');
  if (end < 0) throw new Error(`${bundlePath}: no end of bundle header`);
  return bytes.subarray(end + 2);
}

export async function bundleHeaderLines(bundlePath: string): Promise<string[]> {
  const handle = await open(bundlePath, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, 0);
    const text = buffer.subarray(0, bytesRead).toString('latin1');
    return text.slice(0, text.indexOf('\n\n')).split('\n');
  } finally {
    await handle.close();
  }
}

/**
 * Real git is the oracle: the bundle verifies in an empty repository, clones with --mirror, the
 * clone has the origin's heads and tags and its full reachable object set, and
 * `git index-pack --strict` accepts the pack.
 */
export async function expectBundleMatchesOrigin(bundlePath: string, originDir: string, objectFormat: 'sha1' | 'sha256' = 'sha1'): Promise<void> {
  const scratch = await tempDir('oracle');
  const empty = path.join(scratch, 'empty');
  await git(['init', '-q', `--object-format=${objectFormat}`, empty]);
  await git(['bundle', 'verify', bundlePath], { cwd: empty });

  const clone = path.join(scratch, 'clone.git');
  await git(['clone', '-q', '--mirror', bundlePath, clone]);
  const originRefs = headsAndTags(await gitRefs(originDir));
  expect(headsAndTags(await gitRefs(clone))).toEqual(originRefs);
  // The origin may hold refs the mirror does not take by default (notes): compare heads and tags.
  const [originObjects, cloneObjects] = await Promise.all([objectsOfHeadsAndTags(originDir), reachableObjects(clone)]);
  expect(cloneObjects.size).toBe(originObjects.size);
  expect([...cloneObjects].filter((id) => !originObjects.has(id))).toEqual([]);

  const packPath = path.join(scratch, 'bundle.pack');
  await writeFile(packPath, await packOfBundle(bundlePath));
  await git(['index-pack', '--strict', `--object-format=${objectFormat}`, packPath], { cwd: empty });
}

function headsAndTags(refs: Map<string, string>): Record<string, string> {
  return Object.fromEntries([...refs].filter(([name]) => name.startsWith('refs/heads/') || name.startsWith('refs/tags/')).sort());
}
