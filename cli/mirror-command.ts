import type { Command } from 'commander';
import { mirrorRepos, type MirrorProgress, type MirrorResult } from '../lambdas/git/mirror.js';
import { refPatternProblem } from '../lambdas/git/ref-advertisement.js';
import { parseRepoUrl, RepoUrlError } from '../lambdas/git/repo-url.js';
import { openStore } from '../lambdas/store/open-store.js';
import { formatBytes, formatSeconds, formatTable } from './format.js';
import { addGitConnectionOptions, connectionContextFrom, credentialsFrom, type GitConnectionOptions } from './git-connection-options.js';
import { ProgressBars } from './progress.js';
import { collect, positiveInteger, UsageError } from './usage-error.js';

interface MirrorCommandOptions extends GitConnectionOptions {
  store: string;
  refs: string[];
  concurrency: number;
  json?: boolean;
  timeout: number;
  kmsKeyId?: string;
}

export const DEFAULT_STORE = './argocd-dr-backups';

export function registerMirrorCommand(program: Command): void {
  const command = program
    .command('mirror')
    .summary('mirror Git repositories into verified bundles in the store')
    .description(
      'Mirrors each repository over smart HTTP or SSH into git/<host>/<repo-path>.bundle with a .json sidecar\n'
      + '(an SSH URL and the https URL of the same repository share one bundle).\n'
      + 'Repos whose refs did not change since the last run are skipped after one ref listing.\n'
      + 'Credentials: --username/--password or --token, --bearer-token, --ssh-key, --client-cert/--client-key, or\n'
      + 'ARGOCD_DR_GIT_USERNAME, ARGOCD_DR_GIT_PASSWORD, ARGOCD_DR_GIT_TOKEN, ARGOCD_DR_GIT_BEARER_TOKEN,\n'
      + 'ARGOCD_DR_GIT_SSH_KEY (key text), ARGOCD_DR_GIT_CLIENT_KEY (key text). HTTPS_PROXY / NO_PROXY apply.\n'
      + 'Exit codes: 0 every repo mirrored, unchanged or empty; 1 a repo failed; 2 usage error.',
    )
    .argument('<repo-url...>', 'https://, ssh:// or git@host:org/repo.git URLs of the repositories')
    .option('--store <dir|s3://bucket/prefix>', 'where bundles are stored', DEFAULT_STORE)
    .option('--refs <pattern>', 'also mirror refs matching this pattern, e.g. refs/notes/* (repeatable)', collect, [])
    .option('--concurrency <n>', 'repositories mirrored at once', positiveInteger('--concurrency', 256), 4);
  addGitConnectionOptions(command)
    .option('--timeout <seconds>', 'fail a repo when its server sends nothing for this long', positiveInteger('--timeout', 3600), 120)
    .option('--kms-key-id <key>', 'SSE-KMS key for an s3:// store')
    .option('--json', 'print one JSON document on stdout instead of progress and a table')
    .action(async (urls: string[], options: MirrorCommandOptions) => {
      process.exitCode = await runMirror(urls, options);
    });
}

async function runMirror(urls: string[], options: MirrorCommandOptions): Promise<number> {
  for (const pattern of options.refs) {
    const problem = refPatternProblem(pattern);
    if (problem) throw new UsageError(problem);
  }
  for (const url of urls) {
    try {
      parseRepoUrl(url);
    } catch (error) {
      if (error instanceof RepoUrlError) throw new UsageError(error.message);
      throw error;
    }
  }
  const credentials = credentialsFrom(options);
  const context = connectionContextFrom(options, urls);
  let store;
  try {
    store = openStore(options.store, options.kmsKeyId ? { kmsKeyId: options.kmsKeyId } : {});
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }

  const view = options.json ? undefined : await mirrorProgressView();
  const results = await mirrorRepos(urls, {
    store,
    concurrency: options.concurrency,
    extraRefPatterns: options.refs,
    idleTimeoutMs: options.timeout * 1000,
    ...(credentials ? { credentials } : {}),
    context,
    onProgress: (progress: MirrorProgress) => view?.update(progress),
  });
  view?.stop();

  if (options.json) {
    process.stdout.write(`${JSON.stringify({ repos: results }, null, 2)}\n`);
  } else {
    process.stdout.write(`${summaryTable(results)}\n`);
  }
  return results.some((result) => result.status === 'failed') ? 1 : 0;
}

/** Bytes and rate per repo on a terminal; a plain line per finished repo elsewhere. */
async function mirrorProgressView() {
  const bars = await ProgressBars.open(process.stderr, '{phase} {repo}  {size}  {rate}');
  const started = new Map<string, number>();
  return {
    update(progress: MirrorProgress): void {
      if (!bars) {
        const result = progress.result;
        if (result) process.stdout.write(`${result.status} ${result.url}${result.error ? `: ${result.error.replace(`${result.url}: `, '')}` : ''}\n`);
        return;
      }
      if (!started.has(progress.url)) started.set(progress.url, performance.now());
      const elapsed = (performance.now() - started.get(progress.url)!) / 1000;
      bars.update(progress.url, {
        phase: (progress.result?.status ?? progress.phase).padEnd(9),
        repo: progress.url,
        size: formatBytes(progress.bytes),
        rate: elapsed > 0.5 && progress.bytes > 0 ? `${formatBytes(progress.bytes / elapsed)}/s` : '',
      });
      if (progress.phase === 'done') bars.done(progress.url);
    },
    stop: () => bars?.stop(),
  };
}

function summaryTable(results: MirrorResult[]): string {
  const rows = results.map((result) => [
    result.status,
    result.url,
    result.refs === undefined ? '' : String(result.refs),
    formatBytes(result.bytes),
    formatSeconds(result.seconds),
    // The REPOSITORY column already names the repo the error is about.
    result.error?.replace(`${result.url}: `, '') ?? result.bundle ?? '',
  ]);
  const counts = (['mirrored', 'unchanged', 'empty', 'failed'] as const)
    .map((status) => `${results.filter((result) => result.status === status).length} ${status}`)
    .join(', ');
  return `${formatTable(['STATUS', 'REPOSITORY', 'REFS', 'SIZE', 'TIME', 'BUNDLE / ERROR'], rows)}\n${counts}`;
}
