import { mkdir, mkdtemp, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RunReport } from '../lambdas/backup/steps.js';
import type { BundleReport } from '../lambdas/git/verify/findings.js';
import { verifyStore } from '../lambdas/git/verify/verify-store.js';
import { openStore } from '../lambdas/store/open-store.js';
import { ARGOCD_VERSION } from './argocd-installation.js';
import { damageBundle, type BundleDamage } from './damage.js';
import { checkPrerequisites, startDemoEnvironment, type DemoEnvironment } from './environment.js';

/**
 * `argocd-dr demo`: the real backup, end to end, on any machine. Starts the demo environment
 * (local Git server and cluster), backs it up into a local store, damages one stored bundle and
 * verifies the store, which must catch it; then stops the servers and removes their files.
 */

export const DEFAULT_DEMO_STORE = './argocd-dr-demo';
/** Marks a directory as a demo store, which the next demo run may replace. */
export const DEMO_MARKER = '.argocd-dr-demo';

export interface DemoBackupInput {
  kubeconfig: string;
  context: string;
  namespace: string;
  /** The store: a local directory. */
  store: string;
}

/** Runs one backup of a cluster into a store, as `argocd-dr backup` does, and returns its run report. */
export type BackupRun = (input: DemoBackupInput) => Promise<RunReport>;

export interface DemoOptions {
  /** The demo store: created, or replaced when it holds an earlier demo; any other non-empty directory is refused. */
  storeDir: string;
  backup: BackupRun;
  /** Each stage as it completes, for a person watching. */
  onEvent?: (event: DemoEvent) => void;
  /** Stops the demo early (Ctrl-C): the servers stop, their files go, the demo throws. */
  signal?: AbortSignal;
}

/** What the demo started, as a person needs to see it (no credentials). */
export interface DemoServers {
  gitBaseUrl: string;
  repoUrls: string[];
  kubeServer: string;
  context: string;
  namespace: string;
  argocdVersion: string;
  applications: number;
  applicationSets: number;
}

export type DemoEvent =
  | { stage: 'started'; servers: DemoServers }
  | { stage: 'backedUp'; report: RunReport }
  | { stage: 'damaged'; damage: BundleDamage }
  | { stage: 'verified'; reports: BundleReport[] }
  | { stage: 'stopped' };

export interface DemoResult {
  /** Absolute path of the store. */
  store: string;
  servers: DemoServers;
  backup: RunReport;
  damage: BundleDamage;
  verification: BundleReport[];
  /** Verify failed the damaged bundle, and only it. */
  caught: boolean;
  /** The backup succeeded and verify caught the damage. */
  ok: boolean;
}

/** The store directory is in use by something else; nothing was touched. */
export class DemoStoreError extends Error {}

/** The demo stopped before it finished (its servers stopped, their files removed). */
export class DemoAbortedError extends Error {}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  // Before anything is written: a machine without git or openssl gets told so, and nothing else happens.
  await checkPrerequisites();
  const storeDir = await prepareDemoStore(options.storeDir);
  const emit = options.onEvent ?? (() => undefined);
  const dataDir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'argocd-dr-demo-servers-')));
  let env: DemoEnvironment | undefined;
  const abort = () => void env?.stop();
  options.signal?.addEventListener('abort', abort);
  const checkAborted = () => {
    if (options.signal?.aborted) throw new DemoAbortedError('the demo was stopped before it finished');
  };
  try {
    checkAborted();
    env = await startDemoEnvironment({ dir: dataDir });
    checkAborted();
    const servers = describeServers(env);
    emit({ stage: 'started', servers });

    const backup = await options.backup({ kubeconfig: env.kubeconfig, context: env.context, namespace: env.namespace, store: storeDir });
    checkAborted();
    emit({ stage: 'backedUp', report: backup });

    const store = openStore(storeDir);
    const bundle = bundleToDamage(backup, env);
    if (!bundle) throw new Error(`the backup stored no bundle to damage (run ${backup.runId}: ${backup.result}); see ${path.join(storeDir, 'runs', `${backup.runId}.json`)}`);
    const damage = await damageBundle(store, bundle);
    emit({ stage: 'damaged', damage });

    const verification = await verifyStore(store);
    checkAborted();
    emit({ stage: 'verified', reports: verification });
    const caught = verification.some((report) => report.bundle === damage.bundle && !report.ok)
      && verification.every((report) => report.bundle === damage.bundle || report.ok);
    return { store: storeDir, servers, backup, damage, verification, caught, ok: backup.result === 'Succeeded' && caught };
  } finally {
    options.signal?.removeEventListener('abort', abort);
    await env?.stop();
    await rm(dataDir, { recursive: true, force: true });
    emit({ stage: 'stopped' });
  }
}

function describeServers(env: DemoEnvironment): DemoServers {
  return {
    gitBaseUrl: env.gitBaseUrl,
    repoUrls: Object.values(env.repoUrls),
    kubeServer: env.kube.url,
    context: env.context,
    namespace: env.namespace,
    argocdVersion: ARGOCD_VERSION,
    applications: env.objects.filter((object) => object.kind === 'Application').length,
    applicationSets: env.objects.filter((object) => object.kind === 'ApplicationSet').length,
  };
}

/** The guestbook's bundle (the app everyone knows), or else the first bundle the backup stored. */
function bundleToDamage(report: RunReport, env: DemoEnvironment): string | undefined {
  const stored = report.repos.filter((repo) => repo.status === 'mirrored' && repo.bundle).map((repo) => ({ url: repo.url, bundle: repo.bundle! }));
  return (stored.find((repo) => repo.url === env.repoUrls.guestbook) ?? stored[0])?.bundle;
}

/**
 * Makes storeDir ready for a demo run: creates it, or empties it when an earlier demo made it.
 * A directory with anything else in it is refused, so a mistyped --dir never loses data.
 */
export async function prepareDemoStore(storeDir: string): Promise<string> {
  const dir = path.resolve(storeDir);
  const info = await stat(dir).catch(() => undefined);
  if (info && !info.isDirectory()) throw new DemoStoreError(`${storeDir} is not a directory; pass --dir with a new or empty directory for the demo store`);
  const entries = info ? await readdir(dir) : [];
  if (entries.length > 0 && !entries.includes(DEMO_MARKER)) {
    throw new DemoStoreError(`${storeDir} already holds files that an earlier demo did not write; pass --dir with a new or empty directory for the demo store`);
  }
  // An earlier demo's store: its bundles name that run's server ports, so start afresh.
  for (const entry of entries) await rm(path.join(dir, entry), { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, DEMO_MARKER), 'Made by `argocd-dr demo`; the next demo run with this --dir replaces everything here.\n');
  return dir;
}
