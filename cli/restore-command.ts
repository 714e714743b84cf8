import path from 'node:path';
import type { Command } from 'commander';
import type { KubeAccess } from '../lambdas/argocd/kube-access.js';
import { redactUserInfo } from '../lambdas/git/repo-url.js';
import type { RestoreReport } from '../lambdas/restore/restore.js';
import { openStore } from '../lambdas/store/open-store.js';
import { DEFAULT_STORE } from './mirror-command.js';
import { addPointInTimeOptions, pointInTimeFrom, type PointInTimeOptions } from './point-in-time-options.js';
import { UsageError } from './usage-error.js';

interface RestoreCommandOptions extends PointInTimeOptions {
  store: string;
  kubeconfig?: string;
  context?: string;
  cluster?: string;
  dryRun?: boolean;
  namespace: string;
  mapRepo: string[];
  mapCluster: string[];
  pauseSync?: boolean;
  prune?: boolean;
  yes?: boolean;
  json?: boolean;
}

const repeat = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerRestoreCommand(program: Command): void {
  const command = program
    .command('restore')
    .summary("restore Argo CD's state from the store into a cluster")
    .description(
      'Applies a backup of Argo CD (argocd/<cluster>/export.yaml, checked against the sha256 in manifest.json) to the\n'
      + 'cluster of a kubeconfig: missing namespaces, ConfigMaps and Secrets, AppProjects, Applications, ApplicationSets,\n'
      + 'by server-side apply with field manager argocd-dr; never an operation. Fields of an existing object that the\n'
      + 'backup lacks (set by others, e.g. in the UI) are then removed by a merge patch, so it equals the backup; the\n'
      + 'output names them. --at or --run picks an earlier backup\n'
      + '(argocd-dr history lists them). Install Argo CD in the cluster first.\n'
      + 'Exit codes: 0 restored (or dry run); 1 refused or failed (the output says what was applied); 2 usage error.',
    )
    .option('--store <dir|s3://bucket/prefix>', 'where the backups are', DEFAULT_STORE)
    .option('--kubeconfig <file>', 'kubeconfig of the cluster to restore into (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('--cluster <name>', 'which cluster\'s backup (default: the only one in the store)');
  addPointInTimeOptions(command)
    .option('--dry-run', 'print per object create / update / unchanged and a diff (Secret values masked); change nothing')
    .option('--namespace <namespace>', "Argo CD's namespace in the target cluster", 'argocd')
    .option('--map-repo <old=new>', 'rewrite repository URLs, compared as Argo CD compares them (the URL or everything below it; the longest match wins; repeatable)', repeat, [])
    .option('--map-cluster <old=new>', 'rewrite destination servers (Applications, ApplicationSets, AppProject destinations and destinationServiceAccounts) and cluster secrets (repeatable)', repeat, [])
    .option('--pause-sync', 'turn off automated sync on restored Applications and ApplicationSets, and print how to turn it on')
    .option('--prune', 'delete Argo CD objects absent from the backup (Application finalizers removed first)')
    .option('--yes', 'do not ask before --prune deletes')
    .option('--json', 'print one JSON document on stdout')
    .action(async (options: RestoreCommandOptions) => {
      process.exitCode = await runRestore(options);
    });
}

async function runRestore(options: RestoreCommandOptions): Promise<number> {
  const when = pointInTimeFrom(options);
  if (options.prune && !options.yes && !options.dryRun && !process.stdin.isTTY) {
    throw new UsageError('--prune deletes objects: pass --yes to confirm when not on a terminal (or --dry-run to see what it would delete)');
  }
  const { parseMapping, MappingError } = await import('../lambdas/restore/remap.js');
  let repoMaps;
  let clusterMaps;
  try {
    repoMaps = options.mapRepo.map((value) => parseMapping('--map-repo', value));
    clusterMaps = options.mapCluster.map((value) => parseMapping('--map-cluster', value));
  } catch (error) {
    if (error instanceof MappingError) throw new UsageError(error.message);
    throw error;
  }
  let store;
  try {
    store = openStore(options.store);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  // @kubernetes/client-node is heavy: loaded only once the arguments are known to be right.
  const { KubeConfigError, kubeconfigAccess } = await import('../lambdas/argocd/kube-access.js');
  let access;
  try {
    access = kubeconfigAccess(options.kubeconfig, options.context);
  } catch (error) {
    if (error instanceof KubeConfigError) throw new UsageError(error.message);
    throw error;
  }
  const { restoreFromStore } = await import('../lambdas/restore/restore.js');
  const kubectlArgs = await resumeTarget(options.kubeconfig, access);
  let report: RestoreReport;
  try {
    report = await restoreFromStore(store, access, {
      ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
      when,
      namespace: options.namespace,
      dryRun: options.dryRun ?? false,
      pauseSync: options.pauseSync ?? false,
      prune: options.prune ?? false,
      repoMaps,
      clusterMaps,
      kubectlArgs,
      confirmPrune: async (objects) => options.yes === true || confirm(`--prune will delete ${objects.length} object(s) absent from the backup:\n${objects.map((o) => `  ${o}`).join('\n')}\nDelete them? [y/N] `),
    });
  } catch (error) {
    // A refusal may quote a repository URL from the backup, with its token.
    const message = redactUserInfo(error instanceof Error ? error.message : String(error));
    if (options.json) process.stdout.write(`${JSON.stringify({ status: 'refused', error: message }, null, 2)}\n`);
    else process.stderr.write(`argocd-dr: restore refused: ${message}\n`);
    return 1;
  }
  for (const warning of report.warnings) process.stderr.write(`argocd-dr: warning: ${redactUserInfo(warning)}\n`);
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatReport(report, store.location));
  return report.status === 'failed' ? 1 : 0;
}

/**
 * kubectl arguments naming the cluster restored into, for the printed resume commands: the context the
 * kubeconfig resolved to and the kubeconfig file, so running them later (with another current context or
 * $KUBECONFIG) cannot patch another cluster. A $KUBECONFIG of several files cannot be one --kubeconfig: the
 * context alone names the cluster then.
 */
async function resumeTarget(kubeconfig: string | undefined, access: KubeAccess): Promise<string[]> {
  const context = (await access.kubeConfig()).getCurrentContext();
  const { homedir } = await import('node:os');
  const file = kubeconfig ?? (process.env.KUBECONFIG ? process.env.KUBECONFIG : path.join(homedir(), '.kube', 'config'));
  const single = !file.includes(path.delimiter);
  return [...(single ? ['--kubeconfig', path.resolve(file)] : []), ...(context ? ['--context', context] : [])];
}

const DONE = { create: 'created', update: 'updated', unchanged: 'unchanged', delete: 'deleted' } as const;

function formatReport(report: RestoreReport, location: string): string {
  const lines: string[] = [];
  const { backup } = report;
  lines.push(`${report.dryRun ? 'dry run: ' : ''}restore of ${report.cluster} from ${location}: backup exported ${backup.exportedAt} (Argo CD ${backup.argocdVersion}, sha256 ${backup.exportSha256.slice(0, 12)})`
    + (backup.version ? `, stored ${backup.version.writtenAt}, chosen for ${backup.at}` : ''));
  for (const change of report.remapped) lines.push(`remap ${change.object} ${change.field}: ${change.from} -> ${change.to}`);
  for (const name of report.namespacesCreated) lines.push(`${report.dryRun ? 'create' : 'created'} Namespace ${name}`);
  const name = (o: { kind: string; namespace: string; name: string }) => `${o.kind} ${o.namespace}/${o.name}`;
  for (const outcome of [...report.objects, ...report.pruned]) {
    lines.push(`${report.dryRun ? outcome.action : DONE[outcome.action]} ${name(outcome)}${outcome.note ? ` (${outcome.note})` : ''}`);
    if (outcome.diff) lines.push(outcome.diff.trimEnd());
  }
  const count = (action: string) => report.objects.filter((o) => o.action === action).length;
  const summary = `${count('create')} to create, ${count('update')} to update, ${count('unchanged')} unchanged, ${report.pruned.length} to delete`;
  if (report.failed) {
    lines.push(`FAILED at ${report.failed.object}: ${report.failed.error}`);
    lines.push(`applied before the failure: ${report.namespacesCreated.length} namespace(s), ${report.objects.filter((o) => o.action !== 'unchanged').length} object(s) written (listed above), ${report.pruned.length} deleted`);
    lines.push(`not attempted: ${report.notAttempted.length}${report.notAttempted.length ? ` (${report.notAttempted.slice(0, 20).join(', ')}${report.notAttempted.length > 20 ? ', …' : ''})` : ''}`);
    lines.push('fix the cause and run the same restore again: server-side apply makes it safe to repeat');
  } else {
    lines.push(report.dryRun ? `dry run: ${summary}; nothing was changed` : `restored: ${summary.replace(/to (create|update|delete)/g, (_, verb: 'create' | 'update' | 'delete') => DONE[verb])}`);
  }
  if (report.paused.length > 0) {
    lines.push(`${report.dryRun ? 'would pause' : 'paused'} automated sync of ${report.paused.length} Application(s)/ApplicationSet(s); when ready, turn it back on with:`);
    for (const paused of report.paused) lines.push(`  ${paused.resume}`);
  }
  return `${lines.join('\n')}\n`;
}

async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}
