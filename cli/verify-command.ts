import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import type { BundleReport } from '../lambdas/git/verify/findings.js';
import { verifyBundleFile } from '../lambdas/git/verify/verify.js';
import { verifyStore } from '../lambdas/git/verify/verify-store.js';
import { openStore } from '../lambdas/store/open-store.js';
import { formatSeconds, formatTable } from './format.js';
import { ProgressBars } from './progress.js';
import { UsageError } from './usage-error.js';

interface VerifyCommandOptions {
  json?: boolean;
}

// Enough to see what is wrong with a bundle in the terminal; --json lists everything.
const FINDINGS_SHOWN = 5;

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .summary('prove stored bundles are whole: git fsck for bundles')
    .description(
      'Checks each bundle as `git index-pack --strict` plus a connectivity check would: the header, every pack\n'
      + 'entry and delta, the trailer, every object id, git\'s fsck checks (ERROR and WARN fail, INFO warns),\n'
      + 'that everything reachable from every ref is present, and agreement with the sidecar mirror wrote.\n'
      + 'A directory or s3:// prefix means every bundle of that store. Exit codes: 0 every bundle passed;\n'
      + '1 a bundle failed (or none was found); 2 usage error.',
    )
    .argument('<bundle-file|store-dir|s3://bucket/prefix...>', 'what to verify')
    .option('--json', 'print one JSON document on stdout instead of progress and a table')
    .action(async (targets: string[], options: VerifyCommandOptions) => {
      process.exitCode = await runVerify(targets, options);
    });
}

async function runVerify(targets: string[], options: VerifyCommandOptions): Promise<number> {
  const kinds = await Promise.all(targets.map(targetKind));
  const bars = options.json ? undefined : await ProgressBars.open(process.stderr, '{bundle} {bar} {percentage}%');
  const progress = (bundle: string, fraction: number) => bars?.update(bundle, { bundle }, Math.round(fraction * 100), 100);
  const reports: BundleReport[] = [];
  const notFound: string[] = [];
  for (const [i, target] of targets.entries()) {
    const found = kinds[i] === 'file'
      ? [await verifyBundleFile(target, { onProgress: (fraction) => progress(target, fraction) })]
      : await verifyStore(openStore(target), { onProgress: progress });
    if (found.length === 0) notFound.push(target);
    for (const report of found) {
      bars?.done(report.bundle);
      if (!bars && !options.json) process.stdout.write(`${report.ok ? 'ok' : 'FAILED'} ${report.bundle}\n`);
    }
    reports.push(...found);
  }
  bars?.stop();
  if (options.json) process.stdout.write(`${JSON.stringify({ bundles: reports }, null, 2)}\n`);
  else process.stdout.write(`${formatVerifySummary(reports)}\n`);
  for (const target of notFound) process.stderr.write(`argocd-dr: no bundles found in ${target}\n`);
  return reports.every((report) => report.ok) && notFound.length === 0 ? 0 : 1;
}

async function targetKind(target: string): Promise<'file' | 'store'> {
  if (target.startsWith('s3://')) {
    try {
      openStore(target);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    return 'store';
  }
  const info = await stat(target).catch(() => undefined);
  if (!info) throw new UsageError(`${target}: no such file or directory; give a bundle file, a store directory or s3://bucket/prefix`);
  return info.isDirectory() ? 'store' : 'file';
}

/** The table, the first findings of each failed bundle and the pass count, as `verify` prints them. */
export function formatVerifySummary(reports: BundleReport[]): string {
  const rows = reports.map((report) => [
    report.ok ? 'ok' : 'FAILED',
    report.bundle,
    String(report.objects),
    String(report.errors.length),
    String(report.warnings.length),
    formatSeconds(report.seconds),
  ]);
  const lines = [formatTable(['STATUS', 'BUNDLE', 'OBJECTS', 'ERRORS', 'WARNINGS', 'TIME'], rows)];
  for (const report of reports) {
    const findings = [...report.errors.map((f) => ({ ...f, level: 'error' })), ...report.warnings.map((f) => ({ ...f, level: 'warning' }))];
    if (findings.length === 0) continue;
    lines.push('', `${report.bundle}:`);
    for (const finding of findings.slice(0, FINDINGS_SHOWN)) lines.push(`  ${finding.level} ${finding.id}: ${finding.message}`);
    if (findings.length > FINDINGS_SHOWN) lines.push(`  …and ${findings.length - FINDINGS_SHOWN} more (see --json)`);
  }
  const failed = reports.filter((report) => !report.ok).length;
  lines.push('', `${reports.length - failed} of ${reports.length} bundles passed verification`);
  return lines.join('\n');
}
