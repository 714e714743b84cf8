import type { Command } from 'commander';
import { openStore } from '../lambdas/store/open-store.js';
import { formatTable } from './format.js';
import { DEFAULT_STORE } from './mirror-command.js';
import { UsageError } from './usage-error.js';

interface HistoryCommandOptions {
  store: string;
  cluster?: string;
  json?: boolean;
}

export function registerHistoryCommand(program: Command): void {
  program
    .command('history')
    .summary('list the points in time a restore can bring back')
    .description(
      'Lists, per cluster, every stored version of its Argo CD export (when it was stored, what it holds), and every\n'
      + 'backup run with its result. `argocd-dr restore --at <stored time>` or `--run <run-id>` restores one of them.\n'
      + 'Exit codes: 0 listed; 1 the store holds no backup; 2 usage error.',
    )
    .option('--store <dir|s3://bucket/prefix>', 'where the backups are', DEFAULT_STORE)
    .option('--cluster <name>', 'only this cluster')
    .option('--json', 'print one JSON document on stdout')
    .action(async (options: HistoryCommandOptions) => {
      process.exitCode = await runHistory(options);
    });
}

async function runHistory(options: HistoryCommandOptions): Promise<number> {
  let store;
  try {
    store = openStore(options.store);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { backupHistory } = await import('../lambdas/restore/history.js');
  let history;
  try {
    history = await backupHistory(store, options.cluster);
  } catch (error) {
    process.stderr.write(`argocd-dr: history failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const empty = history.clusters.every((cluster) => cluster.points.length === 0) && history.runs.length === 0;
  if (options.json) {
    process.stdout.write(`${JSON.stringify(history, null, 2)}\n`);
  } else {
    const lines: string[] = [];
    for (const cluster of history.clusters) {
      lines.push(`cluster ${cluster.cluster} (${history.store}):`);
      if (cluster.warning) lines.push(`  warning: ${cluster.warning}`);
      const count = (counts: Record<string, number>, kind: string) => String(counts[kind] ?? 0);
      lines.push(formatTable(
        ['STORED', 'EXPORTED', 'ARGO CD', 'APPS', 'APPSETS', 'PROJECTS', 'SECRETS', 'SHA256', ''],
        cluster.points.map((p) => [
          p.writtenAt, p.exportedAt, p.argocdVersion, count(p.counts, 'Application'), count(p.counts, 'ApplicationSet'), count(p.counts, 'AppProject'),
          p.secretsIncluded ? count(p.counts, 'Secret') : 'excluded', p.exportSha256.slice(0, 12), [p.latest ? 'latest' : '', p.complete ? '' : 'partial'].filter(Boolean).join(', '),
        ]),
      ).replace(/^/gm, '  '));
    }
    if (history.runs.length > 0) {
      lines.push('runs:');
      lines.push(formatTable(['RUN', 'KIND', 'RESULT', 'FINISHED', 'CLUSTERS'], history.runs.map((run) => [
        run.runId, run.kind, run.result, run.finishedAt, run.clusters.map((c) => `${c.cluster}:${c.status}`).join(' '),
      ])).replace(/^/gm, '  '));
    }
    if (empty) lines.push(`${history.store} holds no Argo CD backup (argocd/<cluster>/manifest.json) and no run report`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return empty ? 1 : 0;
}
