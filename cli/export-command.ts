import type { Command } from 'commander';
import type { StoredExport } from '../lambdas/argocd/export-store.js';
import type { KubeAccess } from '../lambdas/argocd/kube-access.js';
import { openStore } from '../lambdas/store/open-store.js';
import { DEFAULT_STORE } from './mirror-command.js';
import { accessFrom, addClusterAccessOptions, type ClusterAccessOptions } from './cluster-access-options.js';
import { UsageError } from './usage-error.js';

interface ExportCommandOptions extends ClusterAccessOptions {
  namespace: string;
  store: string;
  excludeSecrets?: boolean;
  keepStatus?: boolean;
  allowPartial?: boolean;
  json?: boolean;
}

export function registerExportCommand(program: Command): void {
  const command = program
    .command('export')
    .summary("export Argo CD's state from a cluster into the store")
    .description(
      'Reads Argo CD\'s ConfigMaps and Secrets, AppProjects, Applications and ApplicationSets (in every namespace\n'
      + 'Argo CD watches), its CRDs and version, from a kubeconfig context or an EKS cluster, and writes\n'
      + 'argocd/<cluster>/export.yaml (readable by `argocd admin export`\'s import), crds.yaml and manifest.json\n'
      + '(counts, versions, sha256, the inventory of Git sources). Nothing is rewritten when nothing changed.\n'
      + 'Exit codes: 0 exported (or unchanged); 1 the export failed or is partial; 2 usage or configuration error.',
    );
  addClusterAccessOptions(command)
    .option('--store <dir|s3://bucket/prefix>', 'where the export is stored', DEFAULT_STORE)
    .option('--exclude-secrets', "leave Argo CD's Secrets out (a restore then needs its credentials from elsewhere)")
    .option('--keep-status', 'keep the status of Applications and ApplicationSets')
    .option('--allow-partial', 'record kinds that cannot be read as gaps in manifest.json instead of failing')
    .option('--json', 'print one JSON document on stdout')
    .action(async (options: ExportCommandOptions) => {
      process.exitCode = await runExport(options);
    });
}

async function runExport(options: ExportCommandOptions): Promise<number> {
  // @kubernetes/client-node costs ~90 MB to load: only the export command pays for it.
  const { exportArgoCd } = await import('../lambdas/argocd/export.js');
  const { ClusterNameError, exportKeys, storeExport } = await import('../lambdas/argocd/export-store.js');
  let connected: { access: KubeAccess; clusterName: string };
  try {
    connected = await accessFrom(options);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // DescribeCluster or credentials failed: the message says which and what to do.
    const message = error instanceof Error ? error.message : String(error);
    if (options.json) process.stdout.write(`${JSON.stringify({ cluster: options.clusterName ?? options.eksCluster, status: 'failed', error: message }, null, 2)}\n`);
    else process.stderr.write(`argocd-dr: export failed: ${message}\n`);
    return 1;
  }
  const { access, clusterName } = connected;
  try {
    exportKeys(clusterName);
  } catch (error) {
    if (error instanceof ClusterNameError) throw new UsageError(error.message);
    throw error;
  }
  let store;
  try {
    store = openStore(options.store);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  let stored: StoredExport;
  try {
    const exported = await exportArgoCd(access, {
      namespace: options.namespace,
      excludeSecrets: options.excludeSecrets ?? false,
      keepStatus: options.keepStatus ?? false,
      allowPartial: options.allowPartial ?? false,
    });
    stored = await storeExport(store, clusterName, exported);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (options.json) process.stdout.write(`${JSON.stringify({ cluster: clusterName, status: 'failed', error: message }, null, 2)}\n`);
    else process.stderr.write(`argocd-dr: export of ${clusterName} failed: ${message}\n`);
    return 1;
  }
  const { manifest } = stored;
  if (manifest.secretsIncluded && !store.location.startsWith('s3://')) {
    process.stderr.write(`argocd-dr: warning: ${stored.keys.export} in ${store.location} holds Argo CD's Secrets (repository credentials, cluster tokens) unencrypted; protect that directory, or pass --exclude-secrets\n`);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify({
      cluster: clusterName,
      status: stored.status,
      complete: manifest.complete,
      export: stored.keys.export,
      manifest: stored.keys.manifest,
      argocdVersion: manifest.argocdVersion,
      counts: manifest.counts,
      gitSources: manifest.sources.git.length,
      gaps: manifest.gaps,
    }, null, 2)}\n`);
  } else {
    const counts = Object.entries(manifest.counts).map(([kind, count]) => `${count} ${kind}`).join(', ');
    process.stdout.write(`${stored.status === 'unchanged' ? 'unchanged' : 'exported'} ${clusterName} (Argo CD ${manifest.argocdVersion}, namespace ${manifest.namespace}) to ${store.location}/${stored.keys.export}\n`);
    process.stdout.write(`  ${counts}\n`);
    process.stdout.write(`  ${manifest.sources.git.length} Git sources to mirror, ${manifest.sources.notMirrored.length} Helm/OCI sources not mirrored, ${manifest.sources.unresolved.length} unresolved\n`);
    for (const gap of manifest.gaps) process.stdout.write(`  GAP ${gap.resource}: ${gap.error}\n`);
  }
  return manifest.complete ? 0 : 1;
}
