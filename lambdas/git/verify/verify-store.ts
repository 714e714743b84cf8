import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Store } from '../../store/store.js';
import { parseSidecar } from '../sidecar.js';
import type { BundleReport } from './findings.js';
import { verifyBundleFile, type VerifyOptions } from './verify.js';

export interface VerifyStoreOptions extends Omit<VerifyOptions, 'label' | 'sidecar' | 'onProgress'> {
  /** Called as each bundle starts, with its store key. */
  onBundle?: (key: string) => void;
  onProgress?: (key: string, fraction: number) => void;
}

/**
 * Verifies every bundle in a store against its sidecar, one at a time (each already uses every
 * core). A sidecar that says a repo was mirrored but whose bundle is gone is a failure too.
 * Bundles in S3 are downloaded to a temporary file first, as the verifier reads them twice.
 */
export async function verifyStore(store: Store, options: VerifyStoreOptions = {}): Promise<BundleReport[]> {
  const keys = new Set<string>();
  for await (const key of store.list('git/')) keys.add(key);
  const reports: BundleReport[] = [];
  for (const key of [...keys].sort()) {
    try {
      await verifyKey(key);
    } catch (error) {
      // One unreadable object (network, permissions, a full /tmp) fails that bundle, not the sweep.
      const message = error instanceof Error ? error.message : String(error);
      reports.push({ bundle: key, ok: false, objects: 0, seconds: 0, warnings: [], errors: [{ id: 'bundleUnreadable', message: `${key} could not be read from ${store.location}: ${message}` }] });
    }
  }
  return reports;

  async function verifyKey(key: string): Promise<void> {
    if (key.endsWith('.json')) {
      const sidecar = parseSidecar(await store.getText(key));
      if (sidecar?.status === 'mirrored' && sidecar.bundle && !keys.has(sidecar.bundle)) {
        reports.push({
          bundle: sidecar.bundle, ok: false, objects: 0, seconds: 0, warnings: [],
          errors: [{ id: 'bundleMissing', message: `${key} records a mirrored bundle, but ${sidecar.bundle} is not in the store` }],
        });
      }
      return;
    }
    if (!key.endsWith('.bundle')) return;
    options.onBundle?.(key);
    reports.push(await verifyStoredBundle(store, key, options));
  }
}

/** Verifies one bundle of a store against its sidecar (downloaded first unless the store is local). */
export async function verifyStoredBundle(store: Store, key: string, options: VerifyStoreOptions = {}): Promise<BundleReport> {
  const sidecar = parseSidecar(await store.getText(`${key.slice(0, -'.bundle'.length)}.json`));
  const missing = (): BundleReport => ({ bundle: key, ok: false, objects: 0, seconds: 0, warnings: [], errors: [{ id: 'bundleMissing', message: `${key} disappeared from ${store.location} while being verified` }] });
  const report = await withBundleFile(store, key, (file) => verifyBundleFile(file, {
    ...options,
    label: key,
    sidecar: sidecar ?? null,
    onProgress: (fraction) => options.onProgress?.(key, fraction),
  }));
  return report ?? missing();
}

/**
 * Runs `use` on a file holding the bundle: the store's own file when it has one, else a temporary download
 * (the verifier reads a bundle twice) removed afterwards. Undefined when there is no object at `key`.
 */
export async function withBundleFile<T>(store: Store, key: string, use: (file: string) => Promise<T>): Promise<T | undefined> {
  const local = store.localPath?.(key);
  if (local) return use(local);
  const dir = await mkdtemp(path.join(tmpdir(), 'argocd-dr-verify-'));
  try {
    const file = path.join(dir, 'bundle');
    const body = await store.get(key);
    if (!body) return undefined;
    await pipeline(body, createWriteStream(file));
    return await use(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
