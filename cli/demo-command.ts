import type { Command } from 'commander';
import { DEFAULT_DEMO_STORE, DemoAbortedError, DemoStoreError, runDemo, type DemoEvent, type DemoResult } from '../demo/demo.js';
import { DemoPrerequisiteError } from '../demo/environment.js';
import { openStore } from '../lambdas/store/open-store.js';
import { backupKubeconfigCluster, summary as backupSummary } from './backup-command.js';
import { UsageError } from './usage-error.js';
import { formatVerifySummary } from './verify-command.js';

interface DemoCommandOptions {
  dir: string;
  json?: boolean;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .summary('back up a local Argo CD installation for real, then catch a damaged bundle')
    .description(
      'Starts, on loopback, a Git server (git http-backend behind basic auth) with generated repositories and a\n'
      + 'Kubernetes API server holding an Argo CD installation that deploys from them; runs the real backup into\n'
      + 'the store directory and prints its report; flips one bit in one stored bundle and runs verify over the\n'
      + 'store, which must catch it; then stops the servers. Needs git (with http-backend) and openssl.\n'
      + 'Exit codes: 0 the backup succeeded and verify caught the damage; 1 either did not happen; 2 usage error\n'
      + '(e.g. --dir holds files an earlier demo did not write, or git or openssl is missing).',
    )
    .option('--dir <dir>', 'the demo store (an earlier demo store there is replaced)', DEFAULT_DEMO_STORE)
    .option('--json', 'print one JSON document on stdout instead of the running commentary')
    .action(async (options: DemoCommandOptions) => {
      process.exitCode = await runDemoCommand(options);
    });
}

async function runDemoCommand(options: DemoCommandOptions): Promise<number> {
  const write = (text: string) => {
    if (!options.json) process.stdout.write(`${text}\n`);
  };
  // Ctrl-C stops the servers and removes their files before the process ends.
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let result: DemoResult;
  try {
    result = await runDemo({ storeDir: options.dir, signal: controller.signal, backup: (input) => backupKubeconfigCluster(input), onEvent: (event) => write(describe(event, options.dir)) });
  } catch (error) {
    if (error instanceof DemoStoreError || error instanceof DemoPrerequisiteError) throw new UsageError(error.message);
    if (error instanceof DemoAbortedError) {
      process.stderr.write(`argocd-dr: ${error.message}; its servers are stopped\n`);
      return 130;
    }
    throw error;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    write(conclusion(result, options.dir));
  }
  return result.ok ? 0 : 1;
}

function describe(event: DemoEvent, dir: string): string {
  switch (event.stage) {
    case 'started': {
      const s = event.servers;
      return [
        `Local Git server ${s.gitBaseUrl} (git http-backend, basic auth): ${s.repoUrls.map((url) => url.slice(s.gitBaseUrl.length + 1)).join(', ')}`,
        `Local cluster ${s.kubeServer} (context ${s.context}): Argo CD ${s.argocdVersion} in namespace ${s.namespace}, ${s.applications} Applications, ${s.applicationSets} ApplicationSet${s.applicationSets === 1 ? '' : 's'}`,
        '',
        `1. Backup into ${dir}: export Argo CD, mirror every Git repository its Applications use, verify, report`,
      ].join('\n');
    }
    case 'backedUp':
      return backupSummary(event.report, openStore(dir));
    case 'damaged':
      return [
        '',
        `2. Damage: flipped one bit at byte ${event.damage.offset} of ${event.damage.bundle} (inside its pack), as bit rot or tampering would`,
        '',
        `3. Verify the store: argocd-dr verify ${dir}`,
      ].join('\n');
    case 'verified':
      return formatVerifySummary(event.reports);
    case 'stopped':
      return '\nLocal servers stopped.';
  }
}

function conclusion(result: DemoResult, dir: string): string {
  const report = `${dir.replace(/\/+$/, '')}/runs/${result.backup.runId}.json`;
  if (result.ok) {
    return [
      `Demo passed: the backup ${result.backup.result.toLowerCase()} and verify caught the damaged bundle.`,
      `Look at the store in ${dir} (run report: ${report}); the README says how to back up a real cluster.`,
    ].join('\n');
  }
  const why = result.backup.result !== 'Succeeded'
    ? `the backup did not succeed (${result.backup.result}; see ${report})`
    : 'verify did not catch the damaged bundle alone';
  return `Demo FAILED: ${why}.`;
}
