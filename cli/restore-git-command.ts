import type { Command } from 'commander';
import { checkTemplate, restoreGit, RestoreGitUsageError, targetUrl, type RestoreGitReport, type RestoreGitResult } from '../lambdas/restore/restore-git.js';
import { redactUserInfo } from '../lambdas/git/repo-url.js';
import { openStore } from '../lambdas/store/open-store.js';
import { storeAsOf } from '../lambdas/store/store-as-of.js';
import { formatSeconds, formatTable } from './format.js';
import { addGitConnectionOptions, connectionContextFrom, credentialsFrom, type GitConnectionOptions } from './git-connection-options.js';
import { DEFAULT_STORE } from './mirror-command.js';
import { addPointInTimeOptions, pointInTimeFrom, type PointInTimeOptions } from './point-in-time-options.js';
import { collect, positiveInteger, UsageError } from './usage-error.js';

interface RestoreGitCommandOptions extends GitConnectionOptions, PointInTimeOptions {
  store: string;
  to: string;
  only: string[];
  concurrency: number;
  json?: boolean;
  dryRun?: boolean;
  timeout: number;
}

export function registerRestoreGitCommand(program: Command): void {
  const command = program
    .command('restore-git')
    .summary('push the stored bundles into empty repositories on a new Git host')
    .description(
      'Pushes every bundle\'s refs into an empty repository at the --to URL (receive-pack over HTTPS, the\n'
      + 'bundle\'s pack sent as it is), then lists the new repository\'s refs and compares them with the bundle.\n'
      + 'In --to, {path} is the repository path without .git (org/repo) and {host} the original host.\n'
      + 'A repository that already holds exactly the bundle\'s refs is "already-restored"; any other\n'
      + 'non-empty repository is refused. Prints the --map-repo OLD=NEW values for argocd-dr restore;\n'
      + '--dry-run prints them (and each new URL) from the store alone, before any repository is pushed.\n'
      + '--at or --run pushes each bundle as it was at that point in time (as argocd-dr restore picks the export).\n'
      + 'Credentials for the new host: --username/--password or --token, --bearer-token, --client-cert/--client-key,\n'
      + 'or ARGOCD_DR_GIT_USERNAME, ARGOCD_DR_GIT_PASSWORD, ARGOCD_DR_GIT_TOKEN, ARGOCD_DR_GIT_BEARER_TOKEN,\n'
      + 'ARGOCD_DR_GIT_CLIENT_KEY (key text); --ca-cert for a host whose certificate a private CA signed.\n'
      + 'HTTPS_PROXY / NO_PROXY apply. Exit codes: 0 every repo restored, already restored or empty;\n'
      + '1 a repo failed; 2 usage error.',
    )
    .requiredOption('--to <url-template>', 'URL of each new repository, e.g. https://git.dr.example/{path}.git')
    .option('--store <dir|s3://bucket/prefix>', 'where the bundles are', DEFAULT_STORE)
    .option('--only <repo>', 'only this repository: its original URL or store key git/<host>/<path>.bundle (repeatable)', collect, [])
    .option('--concurrency <n>', 'repositories pushed at once', positiveInteger('--concurrency', 64), 4);
  // The same point in time as `argocd-dr restore --at/--run`: each bundle as it was then.
  addPointInTimeOptions(command);
  // Pushes go over HTTPS only: the SSH options would do nothing here.
  addGitConnectionOptions(command, { ssh: false })
    .option('--timeout <seconds>', 'fail a repo when its server sends nothing for this long', positiveInteger('--timeout', 3600), 120)
    .option('--dry-run', 'read the store and print each new URL and the --map-repo values; contact no Git host')
    .option('--json', 'print one JSON document on stdout instead of lines and a table')
    .action(async (options: RestoreGitCommandOptions) => {
      process.exitCode = await runRestoreGit(options);
    });
}

async function runRestoreGit(options: RestoreGitCommandOptions): Promise<number> {
  const credentials = credentialsFrom(options);
  const context = connectionContextFor(options);
  const when = pointInTimeFrom(options);
  let store;
  try {
    store = openStore(options.store);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (when.at !== undefined || when.runId !== undefined) {
    // Loaded only when asked for: the export code behind it would double the command's memory.
    const { BackupNotFoundError, timeOf } = await import('../lambdas/restore/point-in-time.js');
    try {
      store = storeAsOf(store, (await timeOf(store, when))!);
    } catch (error) {
      if (error instanceof BackupNotFoundError) throw new UsageError(error.message);
      throw error;
    }
  }
  let report: RestoreGitReport;
  try {
    report = await restoreGit({
      store,
      to: options.to,
      only: options.only,
      concurrency: options.concurrency,
      ...(options.dryRun ? { dryRun: true } : {}),
      idleTimeoutMs: options.timeout * 1000,
      ...(credentials ? { credentials } : {}),
      context,
      onResult: options.json ? undefined : (result) => process.stderr.write(`${result.status} ${result.url} → ${result.target}\n`),
    });
  } catch (error) {
    if (error instanceof RestoreGitUsageError) throw new UsageError(error.message);
    throw error;
  }
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(`${summary(report, options.dryRun === true)}\n`);
  return report.repos.some((result) => result.status === 'failed') ? 1 : 0;
}

/** --ca-cert trusts the new host's name; a {host} placeholder in that name would make it many hosts. */
function connectionContextFor(options: RestoreGitCommandOptions) {
  try {
    checkTemplate(options.to);
  } catch (error) {
    if (error instanceof RestoreGitUsageError) throw new UsageError(error.message);
    throw error;
  }
  const authority = /^[a-z+]+:\/\/([^/]*)/i.exec(options.to)?.[1] ?? '';
  if (options.caCert !== undefined && authority.includes('{host}')) {
    throw new UsageError(`--ca-cert with --to ${redactUserInfo(options.to)}: the new host's name contains {host}, so which host the CA is for is unknown; put {host} in the path instead, e.g. https://git.dr.example/{host}/{path}.git`);
  }
  return connectionContextFrom(options, [targetUrl(options.to, { host: 'example.com', path: 'org/repo' })]);
}

function summary(report: RestoreGitReport, dryRun: boolean): string {
  const rows = report.repos.map((result: RestoreGitResult) => [
    result.status,
    result.url,
    result.target,
    result.refs === undefined ? '' : String(result.refs),
    formatSeconds(result.seconds),
    result.error?.replace(`${result.target}: `, '') ?? '',
  ]);
  const lines = [formatTable(['STATUS', 'REPOSITORY', 'NEW URL', 'REFS', 'TIME', 'ERROR'], rows)];
  const notes = report.repos.filter((result) => result.headNote);
  if (notes.length > 0) {
    lines.push('', 'Default branch (HEAD) to set on the new host:');
    for (const result of notes) lines.push(`  ${result.target}: ${result.headNote}`);
  }
  const statuses = dryRun ? (['planned', 'failed'] as const) : (['restored', 'already-restored', 'empty', 'failed'] as const);
  const counts = statuses
    .map((status) => `${report.repos.filter((result) => result.status === status).length} ${status}`)
    .join(', ');
  lines.push('', counts);
  if (dryRun) lines.push('', 'Nothing was sent. Create an empty repository (no README or license) at each NEW URL, then run this without --dry-run.');
  if (report.mapRepo.length > 0) {
    lines.push('', 'Point Argo CD at the new repositories with argocd-dr restore:');
    for (const pair of report.mapRepo) lines.push(`  --map-repo ${pair}`);
  }
  return lines.join('\n');
}
