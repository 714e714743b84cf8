import type { Command } from 'commander';
import { mirrorRepos, type MirrorProgress, type MirrorResult } from '../lambdas/git/mirror.js';
import { refPatternProblem } from '../lambdas/git/ref-advertisement.js';
import type { GitCredentials } from '../lambdas/git/repo-url.js';
import { parseRepoUrl, RepoUrlError } from '../lambdas/git/repo-url.js';
import { openStore } from '../lambdas/store/open-store.js';
import { formatBytes, formatSeconds, formatTable } from './format.js';
import { ProgressBars } from './progress.js';
import { collect, positiveInteger, UsageError } from './usage-error.js';

interface MirrorCommandOptions {
  store: string;
  refs: string[];
  concurrency: number;
  json?: boolean;
  username?: string;
  password?: string;
  token?: string;
  timeout: number;
  kmsKeyId?: string;
}

export const DEFAULT_STORE = './argocd-dr-backups';

export function registerMirrorCommand(program: Command): void {
  program
    .command('mirror')
    .summary('mirror Git repositories into verified bundles in the store')
    .description(
      'Mirrors each repository over smart HTTP into git/<host>/<repo-path>.bundle with a .json sidecar.\n'
      + 'Repos whose refs did not change since the last run are skipped after one ref listing.\n'
      + 'Credentials: --username/--password or --token, or ARGOCD_DR_GIT_USERNAME, ARGOCD_DR_GIT_PASSWORD,\n'
      + 'ARGOCD_DR_GIT_TOKEN. Exit codes: 0 every repo mirrored, unchanged or empty; 1 a repo failed; 2 usage error.',
    )
    .argument('<repo-url...>', 'https:// URLs of the repositories')
    .option('--store <dir|s3://bucket/prefix>', 'where bundles are stored', DEFAULT_STORE)
    .option('--refs <pattern>', 'also mirror refs matching this pattern, e.g. refs/notes/* (repeatable)', collect, [])
    .option('--concurrency <n>', 'repositories mirrored at once', positiveInteger('--concurrency', 256), 4)
    .option('--username <name>', 'HTTPS username')
    .option('--password <password>', 'HTTPS password (prefer ARGOCD_DR_GIT_PASSWORD: arguments are visible to other users)')
    .option('--token <token>', 'HTTPS access token (prefer ARGOCD_DR_GIT_TOKEN)')
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

/** HTTPS credentials from --username/--password/--token or ARGOCD_DR_GIT_*; shared by every command that talks to a Git host. */
export function credentialsFrom(options: { username?: string; password?: string; token?: string }): GitCredentials | undefined {
  const env = process.env;
  const username = options.username ?? env.ARGOCD_DR_GIT_USERNAME;
  const password = options.password ?? env.ARGOCD_DR_GIT_PASSWORD;
  const token = options.token ?? env.ARGOCD_DR_GIT_TOKEN;
  if (password !== undefined && token !== undefined) throw new UsageError('give either a password or a token, not both');
  // Hosts that take a token over Basic auth accept any username; x-access-token is GitHub's.
  if (token !== undefined) return { username: username ?? 'x-access-token', password: token };
  if (password !== undefined) {
    if (username === undefined) throw new UsageError('a password needs a username: pass --username or set ARGOCD_DR_GIT_USERNAME');
    return { username, password };
  }
  if (username !== undefined) throw new UsageError('a username needs a password or token: pass --password/--token or set ARGOCD_DR_GIT_PASSWORD/ARGOCD_DR_GIT_TOKEN');
  return undefined;
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
