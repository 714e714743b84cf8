import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { BackupCluster, BackupEvent } from '../lambdas/backup/backup-run.js';
import { notReadyReasons } from '../lambdas/backup/readiness.js';
import type { RunReport } from '../lambdas/backup/steps.js';
import type { KubeAccess } from '../lambdas/argocd/kube-access.js';
import type { ExtraRepoCredentials } from '../lambdas/git/secrets-manager-credentials.js';
import { refPatternProblem } from '../lambdas/git/ref-advertisement.js';
import { parseRepoUrl, redactUserInfo, RepoUrlError } from '../lambdas/git/repo-url.js';
import { openStore } from '../lambdas/store/open-store.js';
import type { Store } from '../lambdas/store/store.js';
import { accessFrom, addClusterAccessOptions, type ClusterAccessOptions } from './cluster-access-options.js';
import { formatBytes, formatSeconds, formatTable } from './format.js';
import { DEFAULT_STORE } from './mirror-command.js';
import { ProgressBars } from './progress.js';
import { collect, positiveInteger, UsageError } from './usage-error.js';

export interface BackupCommandOptions extends ClusterAccessOptions {
  /** Argo CD's namespace (default argocd). */
  namespace?: string;
  /** A directory or s3://bucket/prefix (default ./argocd-dr-backups). */
  store?: string;
  kmsKeyId?: string;
  concurrency?: number;
  extraRepo?: string[];
  /** Secrets Manager secret (name or ARN) with the extra repos' credentials, as config extraReposSecret. */
  extraReposSecret?: string;
  /** A local JSON file of the same shape as that secret. */
  extraReposCredentials?: string;
  refs?: string[];
  /** One JSON document (the run report) on stdout, nothing else. */
  json?: boolean;
}

/** Where the command writes: stdout for results, stderr for progress (a terminal gets bars). */
export interface BackupOutput {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
}

export function registerBackupCommand(program: Command): void {
  const command = program
    .command('backup')
    .summary("back up a cluster's Argo CD and every Git repository it deploys from, and check they could be restored")
    .description(
      'Exports Argo CD\'s state (as `argocd-dr export`), mirrors every Git repository its Applications use with\n'
      + 'the credentials Argo CD would use (its repository and repo-creds Secrets, its SSH known hosts and TLS\n'
      + 'certificates ConfigMaps), verifies each new bundle and checks that every Application could be restored\n'
      + 'from the store: its targetRevision resolves, its path exists there, and its deployed revisions are\n'
      + 'present. Writes runs/<run-id>.json.\n'
      + 'Exit codes: 0 Succeeded; 1 PartiallyFailed or Failed (the summary says why); 2 usage or configuration error.',
    );
  addClusterAccessOptions(command)
    .option('--store <dir|s3://bucket/prefix>', 'where the backup is stored', DEFAULT_STORE)
    .option('--kms-key-id <key>', 'SSE-KMS key for an s3:// store')
    .option('--concurrency <n>', 'repositories listed and mirrored at once', positiveInteger('--concurrency', 256), 4)
    .option('--extra-repo <url>', 'also mirror this repository (repeatable)', collect, [])
    .option('--extra-repos-secret <name|arn>', "credentials for extra repos no Argo CD Secret covers, from this AWS Secrets Manager secret (AWS credentials and region from the environment)")
    .option('--extra-repos-credentials <file>', 'the same credentials from a local JSON file (the secret\'s format)')
    .option('--refs <pattern>', 'also mirror refs matching this pattern, e.g. refs/notes/* (repeatable)', collect, [])
    .option('--json', 'print the run report as one JSON document on stdout instead of progress and tables')
    .action(async (options: BackupCommandOptions) => {
      process.exitCode = await runBackupCommand(options);
    });
}

/**
 * `argocd-dr backup` as a function: validates the options (UsageError on a mistake), runs the backup with
 * progress and prints the summary (or the JSON report). Returns the exit code: 0 only when the run Succeeded.
 */
export async function runBackupCommand(options: BackupCommandOptions, output: BackupOutput = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const { report, store } = await backupWithProgress(options, output);
  if (options.json) output.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else output.stdout.write(`${summary(report, store)}\n`);
  return report.result === 'Succeeded' ? 0 : 1;
}

/**
 * One backup of a kubeconfig cluster into a store, as the demo runs it: progress on stderr (bars on a terminal,
 * plain lines otherwise), nothing on stdout; returns the run report.
 */
export async function backupKubeconfigCluster(input: { kubeconfig: string; context: string; namespace: string; store: string }, output: BackupOutput = { stdout: process.stdout, stderr: process.stderr }): Promise<RunReport> {
  return (await backupWithProgress({ kubeconfig: input.kubeconfig, context: input.context, namespace: input.namespace, store: input.store }, { stdout: output.stderr, stderr: output.stderr })).report;
}

async function backupWithProgress(options: BackupCommandOptions, output: BackupOutput): Promise<{ report: RunReport; store: Store }> {
  for (const pattern of options.refs ?? []) {
    const problem = refPatternProblem(pattern);
    if (problem) throw new UsageError(problem);
  }
  for (const url of options.extraRepo ?? []) {
    let repo;
    try {
      repo = parseRepoUrl(url);
    } catch (error) {
      if (error instanceof RepoUrlError) throw new UsageError(`--extra-repo: ${error.message}`);
      throw error;
    }
    // As config extraRepos: a URL's user info would travel into plan items, progress and reports.
    if (repo.credentials) throw new UsageError(`--extra-repo: ${redactUserInfo(url)} must not contain credentials (user@ or user:token@); give them in --extra-repos-credentials or --extra-repos-secret`);
  }
  const extra = await extraCredentialsFrom(options);
  const cluster = await clusterFrom(options);
  let store: Store;
  try {
    store = openStore(options.store ?? DEFAULT_STORE, options.kmsKeyId ? { kmsKeyId: options.kmsKeyId } : {});
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { runBackup } = await import('../lambdas/backup/backup-run.js');
  const view = options.json ? undefined : await progressView(output);
  let report: RunReport;
  try {
    report = await runBackup({
      store,
      clusters: [cluster],
      concurrency: options.concurrency ?? 4,
      extraRepos: options.extraRepo ?? [],
      refs: options.refs ?? [],
      ...(extra ? { extraCredentials: () => Promise.resolve(extra) } : {}),
      onEvent: (event) => view?.update(event),
    });
  } finally {
    view?.stop();
  }
  if (!store.location.startsWith('s3://') && report.clusters.some((c) => c.status === 'written')) {
    output.stderr.write(`argocd-dr: warning: argocd/${cluster.name}/export.yaml in ${store.location} holds Argo CD's Secrets (repository credentials, cluster tokens) unencrypted; protect that directory\n`);
  }
  return { report, store };
}

/** The extra repos' credentials, read before anything else: a secret or file that cannot be read is a configuration error. */
async function extraCredentialsFrom(options: BackupCommandOptions): Promise<ExtraRepoCredentials | undefined> {
  if (options.extraReposSecret && options.extraReposCredentials) throw new UsageError('give either --extra-repos-secret or --extra-repos-credentials, not both');
  if (!options.extraReposSecret && !options.extraReposCredentials) return undefined;
  const { ExtraReposSecretError, parseExtraRepoCredentials, readExtraRepoCredentials } = await import('../lambdas/git/secrets-manager-credentials.js');
  try {
    if (options.extraReposSecret) {
      const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
      return await readExtraRepoCredentials(options.extraReposSecret, new SecretsManagerClient(options.region ? { region: options.region } : {}));
    }
    if (options.extraReposCredentials) {
      let text: string;
      try {
        text = await readFile(options.extraReposCredentials, 'utf8');
      } catch (error) {
        throw new UsageError(`--extra-repos-credentials: cannot read ${options.extraReposCredentials} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      return parseExtraRepoCredentials(text, options.extraReposCredentials);
    }
  } catch (error) {
    if (error instanceof ExtraReposSecretError) throw new UsageError(error.message);
    throw error;
  }
  return undefined;
}

async function clusterFrom(options: BackupCommandOptions): Promise<BackupCluster> {
  const namespace = options.namespace ?? 'argocd';
  const { ClusterNameError, exportKeys } = await import('../lambdas/argocd/export-store.js');
  const checkName = (name: string) => {
    try {
      exportKeys(name);
    } catch (error) {
      if (error instanceof ClusterNameError) throw new UsageError(error.message);
      throw error;
    }
  };
  if (options.eksCluster) {
    if (options.kubeconfig || options.context) throw new UsageError('give either --eks-cluster or --kubeconfig/--context, not both');
    const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (!region) throw new UsageError('--eks-cluster needs --region (or AWS_REGION)');
    const name = options.clusterName ?? options.eksCluster;
    checkName(name);
    // DescribeCluster happens in the export step: a cluster that cannot be reached is a Failed run, not a usage error.
    return { name, namespace, connect: async () => (await accessFrom({ ...options, region })).access };
  }
  const { access, clusterName } = await accessFrom(options);
  checkName(clusterName);
  return { name: clusterName, namespace, connect: (): Promise<KubeAccess> => Promise.resolve(access) };
}

/** Bars per step and per repo on a terminal (bytes, rate, ETA); one plain line per finished item elsewhere. */
async function progressView(output: BackupOutput) {
  // Numbers before the item: a long repository URL is cut at the terminal's edge, not the rate and ETA.
  const bars = await ProgressBars.open(output.stderr, '{step} {bar} {stats}  {item}');
  const line = (text: string) => (bars ? bars.log(text) : output.stderr.write(`${text}\n`));
  const stats = (...parts: string[]) => parts.filter(Boolean).join('  ');
  const started = new Map<string, number>();
  let listed = 0;
  const elapsed = (key: string) => {
    if (!started.has(key)) started.set(key, performance.now());
    return (performance.now() - started.get(key)!) / 1000;
  };
  return {
    update(event: BackupEvent): void {
      switch (event.step) {
        case 'export':
          if (!event.result) bars?.update(`export ${event.cluster}`, { step: 'export ', item: event.cluster, stats: '' });
          else {
            bars?.done(`export ${event.cluster}`);
            line(`export  ${event.cluster}: ${event.result.status}${event.result.error ? `: ${event.result.error}` : ''}`);
          }
          return;
        case 'plan':
          if (event.result) {
            bars?.done('plan');
            line(`plan    ${event.result.changed} changed, ${event.result.unchanged} unchanged, ${event.result.failed} failed`);
          } else if (event.progress?.phase === 'done') {
            listed++;
            bars?.update('plan', { step: 'plan   ', item: `${listed} repositories listed`, stats: '' });
          } else if (!event.progress) {
            bars?.update('plan', { step: 'plan   ', item: 'listing refs', stats: '' });
          }
          return;
        case 'mirror': {
          const key = `mirror ${event.url}`;
          if (event.result) {
            bars?.done(key);
            const r = event.result;
            line(`mirror  ${r.url}: ${r.status}${r.bytes !== undefined ? ` ${formatBytes(r.bytes)}` : ''}${r.seconds !== undefined ? ` in ${formatSeconds(r.seconds)}` : ''}${r.error ? `: ${r.error.replace(`${r.url}: `, '')}` : ''}`);
            return;
          }
          if (!bars) return;
          const bytes = event.progress?.bytes ?? 0;
          const seconds = elapsed(key);
          const rate = seconds > 0.5 && bytes > 0 ? bytes / seconds : 0;
          const total = event.expectedBytes && event.expectedBytes > bytes ? event.expectedBytes : 0;
          bars.update(key, {
            step: 'mirror ',
            item: event.url,
            stats: stats(
              total ? `${formatBytes(bytes)} / ~${formatBytes(total)}` : formatBytes(bytes),
              rate ? `${formatBytes(rate)}/s` : '',
              total && rate ? `ETA ${formatSeconds((total - bytes) / rate)}` : '',
            ),
          }, total ? bytes : 0, total || 1);
          return;
        }
        case 'verify': {
          const key = `verify ${event.bundle}`;
          if (event.report) {
            bars?.done(key);
            const r = event.report;
            line(`verify  ${r.bundle}: ${r.ok ? 'ok' : 'FAILED'} (${r.objects} objects, ${formatSeconds(r.seconds)})${r.ok ? '' : `: ${r.errors[0]?.message ?? ''}`}`);
            return;
          }
          const fraction = event.fraction ?? 0;
          const seconds = elapsed(key);
          bars?.update(key, { step: 'verify ', item: event.bundle, stats: stats(`${Math.round(fraction * 100)}%`, fraction > 0.05 ? `ETA ${formatSeconds(seconds * (1 - fraction) / fraction)}` : '') }, fraction, 1);
          return;
        }
        case 'report':
          return;
      }
    },
    stop: () => bars?.stop(),
  };
}

/** The run at a glance: result, clusters, repositories, and every Application that could not be restored. */
export function summary(report: RunReport, store: Store): string {
  const parts: string[] = [];
  parts.push(formatTable(['CLUSTER', 'EXPORT', 'ARGO CD', 'APPS', 'READY', 'NOT READY', 'NOT COVERED', 'ERROR'], report.clusters.map((c) => [
    c.cluster, c.status, c.argocdVersion ?? '', String(c.applications), String(c.ready), String(c.notReady), String(c.notCovered), c.error ?? '',
  ])));
  if (report.repos.length > 0) {
    parts.push(formatTable(['STATUS', 'REPOSITORY', 'SIZE', 'VERIFIED', 'CREDENTIALS', 'ERROR'], report.repos.map((r) => [
      r.status, r.url, formatBytes(r.bytes), r.verified === undefined ? '' : r.verified ? 'ok' : 'FAILED', r.credentialsFrom ?? '', r.error?.replace(`${r.url}: `, '') ?? '',
    ])));
  }
  const notReady = report.readiness?.applications.filter((app) => app.verdict === 'not-ready') ?? [];
  if (notReady.length > 0) {
    parts.push(['Not restore-ready:', ...notReady.map((app) => `  ${app.cluster} ${app.application}: ${notReadyReasons(app).join('; ')}`)].join('\n'));
  }
  const notCovered = report.readiness?.applications.filter((app) => app.verdict === 'not-covered') ?? [];
  if (notCovered.length > 0) {
    parts.push(['Not covered (Helm or OCI sources are not Git; back them up separately):', ...notCovered.map((app) => `  ${app.cluster} ${app.application}: ${app.sources.filter((s) => s.verdict === 'not-covered').map((s) => s.repoURL).join(', ')}`)].join('\n'));
  }
  const t = report.totals;
  parts.push([
    `${t.reposMirrored} mirrored, ${t.reposUnchanged} unchanged, ${t.reposFailed} failed; ${t.bundlesVerified} bundles verified, ${t.bundlesFailedVerification} failed verification; `
      + `${report.readiness?.ready ?? 0} Applications restore-ready, ${report.readiness?.notReady ?? 0} not ready, ${report.readiness?.notCovered ?? 0} not covered`,
    `Backup ${report.result}: run ${report.runId}, report ${store.location}/runs/${report.runId}.json`,
    ...(report.planError ? [`  ${report.planError}`] : []),
  ].join('\n'));
  return parts.join('\n\n');
}
